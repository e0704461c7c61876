// The Prometheus remote_write 1.0 receiver: decodes a snappy-compressed WriteRequest and appends
// its samples to the local store, answering as Prometheus 2.42 does (204, 400 for requests that
// can never succeed, 5xx when the store fails transiently so the sender retries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_server.h"
#include "common/labels.h"
#include "common/status.h"
#include "tsdb/db.h"

namespace tidemark::agent {

struct RemoteWriteOptions {
  // Largest decompressed WriteRequest accepted, checked before allocating; larger → 400.
  // Default: 32 MiB.
  size_t max_decompressed_bytes = 32u << 20;
};

// One series of a decoded WriteRequest: labels as sent (not yet sorted or validated) and samples
// in the order sent. Values keep their exact bit patterns (stale NaN included).
struct RemoteWriteSeries {
  Labels labels;
  std::vector<int64_t> timestamps_ms;
  std::vector<double> values;
};

// Parses an uncompressed WriteRequest protobuf. Skips fields it does not know (metadata,
// exemplars, histograms); InvalidArgument on any malformed or truncated input, or when the
// decoded series would hold more than `max_decoded_bytes` (default 128 MiB).
Result<std::vector<RemoteWriteSeries>> DecodeWriteRequest(std::string_view proto,
                                                          size_t max_decoded_bytes = 128u << 20);

// Decompresses a snappy block-format body (not the framed format) of at most `max_bytes`
// uncompressed bytes; InvalidArgument when corrupt or too large.
Result<std::string> SnappyUncompress(std::string_view body, size_t max_bytes);

// Sorts labels by name and drops empty values (Prometheus' form). InvalidArgument for an empty
// set, a duplicate or invalid label name, or an invalid metric name (2.42 stores invalid names
// and answers 500, so senders retry forever, for empty sets and duplicates; the spec forbids all).
Status NormalizeLabels(Labels* labels);

struct RemoteWriteResponse {
  int status = 204;     // HTTP status: 204, 400, 404, 405, 415, 500 or 503.
  std::string message;  // Plain-text body on errors; empty on success.
  uint64_t samples_received = 0;
  uint64_t samples_accepted = 0;  // Stored.
  uint64_t samples_rejected = 0;  // Out of order, out of bounds, duplicate, or series refused.
  bool retryable() const { return status >= 500; }
  // Writes status, body and (for 405) the Allow header into *resp.
  void ToHttp(HttpResponse* resp) const;
};

// Handles `POST /api/v1/write` with `body` (the request body) into `db` (null: storage disabled,
// answered 404). Samples the store accepts are kept even when others in the request are rejected
// (2.42 rolls the whole request back): the answer is then 400 naming the counts. Thread-safe.
RemoteWriteResponse HandleRemoteWrite(std::string_view body, const HttpRequest& req, tsdb::Db* db,
                                      const RemoteWriteOptions& options = {});

}  // namespace tidemark::agent
