#include "agent/remote_write.h"

#include <snappy.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/strings.h"

namespace tidemark::agent {
namespace {

// Bounds-checked reader of the protobuf wire format.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }

  bool ReadVarint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      if (shift == 63 && b > 1) return false;  // More than 64 bits.
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool ReadFixed64(uint64_t* out) {
    if (data_.size() - pos_ < 8) return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
    pos_ += 8;
    *out = v;
    return true;
  }
  bool ReadBytes(std::string_view* out) {
    uint64_t n = 0;
    if (!ReadVarint(&n) || n > data_.size() - pos_) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Skip(int wire_type) {
    uint64_t ignored = 0;
    std::string_view bytes;
    switch (wire_type) {
      case 0:
        return ReadVarint(&ignored);
      case 1:
        return ReadFixed64(&ignored);
      case 2:
        return ReadBytes(&bytes);
      case 5:
        if (data_.size() - pos_ < 4) return false;
        pos_ += 4;
        return true;
      default:  // Groups (3, 4) are not used by any remote_write message; 6, 7 do not exist.
        return false;
    }
  }
  // Reads a field key; false at a malformed key (field number 0 or beyond 2^29 − 1).
  bool ReadKey(uint32_t* field, int* wire_type) {
    uint64_t k = 0;
    if (!ReadVarint(&k)) return false;
    if ((k >> 3) == 0 || (k >> 3) > 0x1fffffff) return false;
    *field = static_cast<uint32_t>(k >> 3);
    *wire_type = static_cast<int>(k & 7);
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Status Malformed(std::string_view what) {
  return Status::InvalidArgument("malformed WriteRequest: " + std::string(what));
}

Status DecodeLabel(std::string_view msg, Label* out) {
  WireReader r(msg);
  while (!r.done()) {
    uint32_t field = 0;
    int wt = 0;
    if (!r.ReadKey(&field, &wt)) return Malformed("bad field key in Label");
    if ((field == 1 || field == 2) && wt == 2) {
      std::string_view s;
      if (!r.ReadBytes(&s)) return Malformed("truncated Label");
      (field == 1 ? out->name : out->value).assign(s);
    } else if (field == 1 || field == 2) {
      return Malformed("wrong wire type in Label");
    } else if (!r.Skip(wt)) {
      return Malformed("truncated unknown field in Label");
    }
  }
  return Status::Ok();
}

Status DecodeSample(std::string_view msg, int64_t* t, double* v) {
  WireReader r(msg);
  while (!r.done()) {
    uint32_t field = 0;
    int wt = 0;
    if (!r.ReadKey(&field, &wt)) return Malformed("bad field key in Sample");
    if (field == 1 && wt == 1) {
      uint64_t bits = 0;
      if (!r.ReadFixed64(&bits)) return Malformed("truncated Sample value");
      std::memcpy(v, &bits, sizeof bits);  // Keeps the bit pattern: stale NaN survives.
    } else if (field == 2 && wt == 0) {
      uint64_t u = 0;
      if (!r.ReadVarint(&u)) return Malformed("truncated Sample timestamp");
      *t = static_cast<int64_t>(u);
    } else if (field == 1 || field == 2) {
      return Malformed("wrong wire type in Sample");
    } else if (!r.Skip(wt)) {
      return Malformed("truncated unknown field in Sample");
    }
  }
  return Status::Ok();
}

Status DecodeTimeSeries(std::string_view msg, RemoteWriteSeries* out) {
  WireReader r(msg);
  while (!r.done()) {
    uint32_t field = 0;
    int wt = 0;
    if (!r.ReadKey(&field, &wt)) return Malformed("bad field key in TimeSeries");
    if ((field == 1 || field == 2) && wt != 2) return Malformed("wrong wire type in TimeSeries");
    if (field == 1) {
      std::string_view sub;
      if (!r.ReadBytes(&sub)) return Malformed("truncated Label");
      Label l;
      TIDEMARK_RETURN_IF_ERROR(DecodeLabel(sub, &l));
      out->labels.push_back(std::move(l));
    } else if (field == 2) {
      std::string_view sub;
      if (!r.ReadBytes(&sub)) return Malformed("truncated Sample");
      int64_t t = 0;
      double v = 0;
      TIDEMARK_RETURN_IF_ERROR(DecodeSample(sub, &t, &v));
      out->timestamps_ms.push_back(t);
      out->values.push_back(v);
    } else if (!r.Skip(wt)) {  // exemplars = 3, histograms = 4
      return Malformed("truncated unknown field in TimeSeries");
    }
  }
  return Status::Ok();
}

// Prometheus' error names first, then what happened to the rest of the request.
std::string RejectionMessage(const tsdb::CommitResult& c, uint64_t received) {
  std::string first = c.out_of_order > 0 ? "out of order sample"
                      : c.too_old > 0    ? "out of bounds"
                      : c.duplicates > 0 ? "duplicate sample for timestamp"
                                         : "series limit reached";
  const uint64_t rejected = c.out_of_order + c.too_old + c.duplicates + c.refused;
  return first + ": " + std::to_string(rejected) + " of " + std::to_string(received) +
         " samples rejected (" + std::to_string(c.out_of_order) + " out of order, " +
         std::to_string(c.too_old) + " out of bounds, " + std::to_string(c.duplicates) +
         " duplicate timestamps with another value, " + std::to_string(c.refused) +
         " in series refused by max_series); " + std::to_string(c.accepted) + " stored\n";
}

RemoteWriteResponse Error(int status, std::string message) {
  RemoteWriteResponse r;
  r.status = status;
  r.message = std::move(message);
  if (r.message.empty() || r.message.back() != '\n') r.message += '\n';
  return r;
}

}  // namespace

Result<std::vector<RemoteWriteSeries>> DecodeWriteRequest(std::string_view proto,
                                                          size_t max_decoded_bytes) {
  std::vector<RemoteWriteSeries> out;
  size_t cost = 0;  // Estimated bytes the decoded request holds.

  WireReader r(proto);
  while (!r.done()) {
    uint32_t field = 0;
    int wt = 0;
    if (!r.ReadKey(&field, &wt)) return Malformed("bad field key");
    if (field == 1) {
      if (wt != 2) return Malformed("wrong wire type for timeseries");
      std::string_view sub;
      if (!r.ReadBytes(&sub)) return Malformed("truncated TimeSeries");
      RemoteWriteSeries s;
      TIDEMARK_RETURN_IF_ERROR(DecodeTimeSeries(sub, &s));
      // A few wire bytes can decode into much more memory (an empty series is 2 bytes on the
      // wire, ~100 in memory): bound the decoded size, not only the body's.
      cost += sizeof(RemoteWriteSeries) + s.labels.size() * sizeof(Label) +
              s.timestamps_ms.size() * (sizeof(int64_t) + sizeof(double));
      for (const Label& l : s.labels) cost += l.name.size() + l.value.size();
      if (cost > max_decoded_bytes) {
        return Status::InvalidArgument("request too large: decodes to more than " +
                                       std::to_string(max_decoded_bytes >> 20) + " MiB");
      }
      out.push_back(std::move(s));
    } else if (!r.Skip(wt)) {  // metadata = 3
      return Malformed("truncated unknown field");
    }
  }
  return out;
}

Result<std::string> SnappyUncompress(std::string_view body, size_t max_bytes) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &n)) {
    return Status::InvalidArgument("snappy: corrupt input");
  }
  if (n > max_bytes) {
    return Status::InvalidArgument("snappy: decompressed size " + std::to_string(n) +
                                   " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  std::string out;
  if (!snappy::Uncompress(body.data(), body.size(), &out)) {
    return Status::InvalidArgument("snappy: corrupt input");
  }
  return out;
}

Status NormalizeLabels(Labels* labels) {
  std::erase_if(*labels, [](const Label& l) { return l.value.empty(); });
  SortLabels(labels);
  if (labels->empty()) return Status::InvalidArgument("empty label set");
  for (size_t i = 0; i < labels->size(); ++i) {
    const Label& l = (*labels)[i];
    if (i > 0 && (*labels)[i - 1].name == l.name) {
      return Status::InvalidArgument("label name \"" + l.name + "\" is not unique");
    }
    if (l.name == "__name__" ? !IsValidMetricName(l.value) : !IsValidLabelName(l.name)) {
      return Status::InvalidArgument(l.name == "__name__"
                                         ? "invalid metric name \"" + l.value + "\""
                                         : "invalid label name \"" + l.name + "\"");
    }
  }
  return Status::Ok();
}

void RemoteWriteResponse::ToHttp(HttpResponse* resp) const {
  resp->status = status;
  resp->content_type = "text/plain; charset=utf-8";
  resp->body = message;
  if (status == 405) resp->headers.emplace_back("Allow", "POST");
}

RemoteWriteResponse HandleRemoteWrite(std::string_view body, const HttpRequest& req, tsdb::Db* db,
                                      const RemoteWriteOptions& options) {
  if (req.method != "POST") return Error(405, "Method Not Allowed");
  if (db == nullptr) {
    return Error(404, "remote write receiver needs the local store, which is disabled");
  }
  // Prometheus 2.42 ignores Content-Encoding and always decodes snappy; an explicit other coding
  // can never succeed, so it is refused with 415 (as later Prometheus versions do).
  const std::string_view encoding = req.Header("Content-Encoding");
  if (!encoding.empty() && !EqualsIgnoreCase(encoding, "snappy")) {
    return Error(415, "unsupported Content-Encoding \"" + std::string(encoding) +
                          "\"; remote_write 1.0 requires snappy");
  }
  auto raw = SnappyUncompress(body, options.max_decompressed_bytes);
  if (!raw.ok()) return Error(400, raw.status().message());
  auto decoded = DecodeWriteRequest(*raw);
  if (!decoded.ok()) return Error(400, decoded.status().message());

  // Validate every series before storing anything: a bad label set rejects the whole request.
  uint64_t received = 0;
  for (RemoteWriteSeries& s : *decoded) {
    Status st = NormalizeLabels(&s.labels);
    if (!st.ok()) return Error(400, st.message());
    received += s.values.size();
  }
  tsdb::Db::Appender app = db->NewAppender();
  for (const RemoteWriteSeries& s : *decoded) {
    tsdb::SeriesRef ref = 0;
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (ref == 0) {
        ref = app.Add(s.labels, s.timestamps_ms[i], s.values[i]);
        if (ref == 0) continue;  // Series refused (max_series); counted by Commit().
      } else {
        app.AddRef(ref, s.timestamps_ms[i], s.values[i]);
      }
    }
  }
  auto commit = app.Commit();
  if (!commit.ok()) {
    const StatusCode code = commit.status().code();
    const bool transient =
        code == StatusCode::kResourceExhausted || code == StatusCode::kUnavailable;
    return Error(transient ? 503 : 500, commit.status().ToString());
  }
  RemoteWriteResponse r;
  r.samples_received = received;
  r.samples_accepted = commit->accepted;
  r.samples_rejected =
      commit->out_of_order + commit->too_old + commit->duplicates + commit->refused;
  if (r.samples_rejected > 0) {
    r.status = 400;
    r.message = RejectionMessage(*commit, received);
  }
  return r;
}

}  // namespace tidemark::agent
