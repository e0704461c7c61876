#include "autoscaler/metric_source.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <future>
#include <nlohmann/json.hpp>

#include "autoscaler/kube_config.h"
#include "common/duration.h"
#include "tsdb/promql/engine.h"

namespace tidemark::autoscaler {
namespace {

bool PlainId(const std::string& id) {
  if (id.empty()) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

Result<double> ParseSampleValue(const nlohmann::json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) {
    return Status::InvalidArgument("expected [time, \"value\"], got " + pair.dump());
  }
  const std::string& s = pair[1].get_ref<const std::string&>();
  if (s == "NaN") return std::nan("");
  if (s == "+Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') return Status::InvalidArgument("bad value \"" + s + "\"");
  return v;
}

}  // namespace

std::string ContainerCpuQuery(const std::vector<std::string>& container_ids,
                              std::chrono::milliseconds window, CpuRate rate) {
  std::string alternatives;
  for (const std::string& id : container_ids) {
    if (!PlainId(id)) continue;
    if (!alternatives.empty()) alternatives += '|';
    alternatives += id;
  }
  const bool throttled = rate == CpuRate::kThrottledLastInterval;
  return std::string(rate == CpuRate::kAverage ? "rate" : "irate") +
         (throttled ? "(container_cpu_cfs_throttled_seconds_total"
                    : "(container_cpu_usage_seconds_total") +
         "{id=~\".*(" + alternatives + ").*\"}[" + FormatDuration(window) + "])";
}

std::map<std::string, ReplicaSample> MatchContainerCpu(
    const std::vector<std::string>& container_ids, const std::vector<QuerySample>& samples,
    int64_t now_ms, std::chrono::milliseconds window) {
  std::map<std::string, ReplicaSample> out;
  std::map<std::string, size_t> best_path_len;
  for (const QuerySample& s : samples) {
    auto id_label = s.labels.find("id");
    if (id_label == s.labels.end() || !std::isfinite(s.value)) continue;
    const std::string& path = id_label->second;
    for (const std::string& id : container_ids) {
      if (!PlainId(id) || path.find(id) == std::string::npos) continue;
      auto best = best_path_len.find(id);
      if (best != best_path_len.end() && best->second <= path.size()) continue;
      best_path_len[id] = path.size();
      out[id] = ReplicaSample{s.value, now_ms, window.count()};
    }
  }
  return out;
}

std::optional<ReplicaSample> SumReplicaCpu(
    const Replica& replica, const std::map<std::string, ReplicaSample>& by_container) {
  if (replica.container_ids.empty()) return std::nullopt;
  ReplicaSample sum;
  sum.timestamp_ms = INT64_MAX;
  for (const std::string& id : replica.container_ids) {
    auto it = by_container.find(id);
    if (it == by_container.end()) return std::nullopt;
    sum.cores += it->second.cores;
    // The oldest sample and widest window: what the sum as a whole covers for certain.
    sum.timestamp_ms = std::min(sum.timestamp_ms, it->second.timestamp_ms);
    sum.window_ms = std::max(sum.window_ms, it->second.window_ms);
  }
  return sum;
}

std::optional<double> ServiceValue(const std::vector<QuerySample>& samples) {
  if (samples.empty()) return std::nullopt;
  double sum = 0;
  for (const QuerySample& s : samples) {
    if (std::isnan(s.value)) return std::nullopt;
    sum += s.value;
  }
  return sum;
}

Result<std::map<std::string, ReplicaSample>> MetricSource::ContainerCpu(
    const std::vector<std::string>& container_ids, int64_t now_ms, std::chrono::milliseconds window,
    CpuRate rate) {
  std::map<std::string, ReplicaSample> none;
  if (container_ids.empty()) return none;
  auto samples = Query(ContainerCpuQuery(container_ids, window, rate), now_ms);
  if (!samples.ok()) return samples.status();
  return MatchContainerCpu(container_ids, *samples, now_ms, window);
}

Result<std::vector<QuerySample>> EngineMetricSource::Query(const std::string& query,
                                                           int64_t now_ms) {
  if (engine_ == nullptr) return Status::Unavailable("the local store is disabled");
  promql::QueryResult r = engine_->Instant(query, now_ms, timeout_);
  if (!r.ok()) {
    return Status::InvalidArgument("query " + query + ": " +
                                   std::string(promql::ErrorTypeName(r.error_type)) + ": " +
                                   r.error);
  }
  std::vector<QuerySample> out;
  if (r.value.type == promql::ValueType::kScalar) {
    out.push_back({{}, r.value.scalar.v});
  } else if (r.value.type == promql::ValueType::kVector) {
    for (const promql::Sample& s : r.value.vector) {
      QuerySample q;
      for (const Label& l : s.metric) q.labels[l.name] = l.value;
      q.value = s.v;
      out.push_back(std::move(q));
    }
  } else {
    return Status::InvalidArgument("query " + query +
                                   ": expected an instant vector or a scalar result");
  }
  return out;
}

Result<std::vector<QuerySample>> ParseQueryResponse(std::string_view body, int http_status) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("HTTP " + std::to_string(http_status) +
                                   ", body is not JSON: " + std::string(body.substr(0, 200)));
  }
  if (j.value("status", "") != "success") {
    return Status::InvalidArgument("HTTP " + std::to_string(http_status) + ", " +
                                   j.value("errorType", "error") + ": " + j.value("error", ""));
  }
  const nlohmann::json& data = j["data"];
  std::string type = data.is_object() ? data.value("resultType", "") : "";
  std::vector<QuerySample> out;
  if (type == "scalar") {
    auto v = ParseSampleValue(data["result"]);
    if (!v.ok()) return v.status();
    out.push_back({{}, *v});
    return out;
  }
  if (type != "vector" || !data["result"].is_array()) {
    return Status::InvalidArgument("expected a vector or scalar result, got \"" + type + "\"");
  }
  for (const nlohmann::json& e : data["result"]) {
    QuerySample q;
    if (!e.is_object()) return Status::InvalidArgument("malformed sample " + e.dump());
    if (e.contains("metric") && e["metric"].is_object()) {
      for (const auto& [k, v] : e["metric"].items()) {
        if (v.is_string()) q.labels[k] = v.get<std::string>();
      }
    }
    auto v = ParseSampleValue(e.contains("value") ? e["value"] : nlohmann::json());
    if (!v.ok()) return v.status();
    q.value = *v;
    out.push_back(std::move(q));
  }
  return out;
}

Result<std::unique_ptr<PrometheusMetricSource>> PrometheusMetricSource::Create(
    const std::vector<std::string>& endpoints, PrometheusSourceOptions options) {
  if (endpoints.empty()) return Status::InvalidArgument("no metric source endpoints");
  std::vector<Endpoint> eps;
  for (const std::string& url : endpoints) {
    KubeConfig parsed;  // ParseServerUrl's host/port/scheme split is what is needed here too.
    Status st = ParseServerUrl(url, &parsed);
    if (!st.ok()) {
      return Status::InvalidArgument("metric source \"" + url +
                                     "\": expected http://host:port[/prefix] or https://...");
    }
    const std::string& prefix = parsed.path_prefix;
    if (parsed.https) {
      auto client = HttpClient::Https(parsed.host, parsed.port, HttpTlsOptions{});
      if (!client.ok()) return client.status();
      eps.push_back({url, prefix, std::move(*client)});
    } else {
      eps.push_back({url, prefix, HttpClient::Tcp(parsed.host, parsed.port)});
    }
  }
  return std::unique_ptr<PrometheusMetricSource>(
      new PrometheusMetricSource(std::move(eps), options));
}

std::string PrometheusMetricSource::Describe() const {
  std::string s;
  for (const Endpoint& e : endpoints_) s += (s.empty() ? "" : ", ") + e.url;
  return s;
}

std::vector<Result<std::vector<QuerySample>>> PrometheusMetricSource::QueryAll(
    const std::string& query, int64_t now_ms) const {
  char time_param[32];
  std::snprintf(time_param, sizeof(time_param), "%.3f", static_cast<double>(now_ms) / 1000.0);
  const std::string target_suffix = "/api/v1/query?query=" + PercentEncode(query) +
                                    "&time=" + time_param +
                                    "&timeout=" + FormatDuration(options_.timeout);
  std::vector<std::future<Result<std::vector<QuerySample>>>> futures;
  for (const Endpoint& e : endpoints_) {
    futures.push_back(std::async(
        std::launch::async, [&e, &target_suffix, this]() -> Result<std::vector<QuerySample>> {
          auto resp = e.client.Get(e.path_prefix + target_suffix, options_.timeout);
          if (!resp.ok()) {
            return Status::Unavailable("metric source " + e.url + ": " + resp.status().message());
          }
          auto samples = ParseQueryResponse(resp->body, resp->status);
          if (!samples.ok()) {
            StatusCode code =
                resp->status >= 500 ? StatusCode::kUnavailable : StatusCode::kInvalidArgument;
            return Status(code, "metric source " + e.url + ": " + samples.status().message());
          }
          return samples;
        }));
  }
  std::vector<Result<std::vector<QuerySample>>> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

Result<std::vector<QuerySample>> PrometheusMetricSource::Query(const std::string& query,
                                                               int64_t now_ms) {
  std::vector<QuerySample> all;
  for (auto& r : QueryAll(query, now_ms)) {
    if (!r.ok()) return r.status();
    for (QuerySample& s : *r) all.push_back(std::move(s));
  }
  return all;
}

Result<std::map<std::string, ReplicaSample>> PrometheusMetricSource::ContainerCpu(
    const std::vector<std::string>& container_ids, int64_t now_ms, std::chrono::milliseconds window,
    CpuRate rate) {
  std::map<std::string, ReplicaSample> merged;
  if (container_ids.empty()) return merged;
  Status last_error;
  size_t failed = 0;
  for (auto& r : QueryAll(ContainerCpuQuery(container_ids, window, rate), now_ms)) {
    if (!r.ok()) {
      ++failed;
      last_error = r.status();
      continue;
    }
    for (auto& [id, sample] : MatchContainerCpu(container_ids, *r, now_ms, window)) {
      merged.emplace(id, sample);  // The first endpoint that has a container wins.
    }
  }
  if (failed == endpoints_.size()) return last_error;
  return merged;
}

}  // namespace tidemark::autoscaler
