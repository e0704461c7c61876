// The Prometheus HTTP API v1 subset Grafana's Prometheus data source uses (/api/v1/query,
// query_range, series, labels, label/<name>/values, metadata, status/buildinfo, rules,
// query_exemplars, format_query), answering byte for byte as Prometheus 2.42 does.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/http_server.h"
#include "common/sample_batch.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"

namespace tidemark::agent {

// The families /api/v1/metadata describes: the latest collection's batch, or null before one.
using MetadataSource = std::function<std::shared_ptr<const SampleBatch>()>;

class PrometheusApi {
 public:
  // `db` and `engine` may be null (store disabled or damaged): the query and store endpoints then
  // answer 500 "unavailable". All pointers must outlive the API. `version` is tidemark's, reported
  // as buildinfo's revision ("tidemark-<version>") beside a Prometheus-like version.
  PrometheusApi(const tsdb::Db* db, const promql::Engine* engine, MetadataSource metadata,
                const Clock& clock, std::string version);

  // Whether `path` is the API's to answer (everything under /api/v1/).
  static bool Handles(std::string_view path);
  // The route of `path` for metric labels ("/api/v1/query", "/api/v1/label/:name/values"), or
  // "other" for paths the API does not know. Never the raw path.
  static std::string RouteLabel(std::string_view path);
  // Whether answering may take long (PromQL or a store scan), so it belongs off the I/O thread.
  static bool IsSlow(std::string_view path);

  // Answers one request (methods, parameters and errors as Prometheus does). Thread-safe.
  void Serve(const HttpRequest& req, HttpResponse* resp) const;

 private:
  struct Reply;
  Reply Query(const HttpRequest& req) const;
  Reply QueryRange(const HttpRequest& req) const;
  Reply Series(const HttpRequest& req) const;
  Reply LabelNames(const HttpRequest& req) const;
  Reply LabelValues(const HttpRequest& req, std::string_view name) const;
  // /labels and /label/<name>/values: checks start and end, then answers the sorted, unique
  // strings `list` gives for each match[] set (nullptr: no match[] given, the whole store).
  using MatcherListFn = std::function<std::vector<std::string>(const std::vector<tsdb::Matcher>*)>;
  Reply LabelStrings(const HttpRequest& req, const MatcherListFn& list) const;
  Reply Metadata(const HttpRequest& req) const;
  Reply BuildInfo() const;
  Reply FormatQuery(const HttpRequest& req) const;
  Reply RunQuery(const promql::QueryResult& result) const;
  int64_t Timeout(const HttpRequest& req, Reply* error) const;

  const tsdb::Db* db_;
  const promql::Engine* engine_;
  MetadataSource metadata_;
  const Clock& clock_;
  std::string version_;
};

}  // namespace tidemark::agent
