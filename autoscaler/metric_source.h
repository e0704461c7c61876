// Where a policy's metric values come from: the agent's own store (PromQL engine) or
// Prometheus-compatible query APIs (the tidemark agents of the nodes a service runs on, or a
// central Prometheus) queried together. A source that fails yields missing metrics, never zeros.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autoscaler/recommender.h"
#include "common/http_client.h"
#include "common/status.h"

namespace tidemark::promql {
class Engine;
}  // namespace tidemark::promql

namespace tidemark::autoscaler {

// One element of a query's instant vector (a scalar result is one sample without labels).
struct QuerySample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

// How a container's CPU is averaged over the window: rate() over all of it (the HPA-like metric),
// or irate(), the last collection interval in it (the panic check, Policy::panic); or the CPU
// time it was throttled (CFS bandwidth) over that last interval, in cores.
enum class CpuRate { kAverage, kLastInterval, kThrottledLastInterval };

// Implementations are thread-safe.
class MetricSource {
 public:
  virtual ~MetricSource() = default;
  virtual std::string Describe() const = 0;
  // The instant vector of `query` evaluated at now_ms (Unix ms). Errors: InvalidArgument for a
  // query the source rejects, Unavailable when it cannot be reached or timed out.
  virtual Result<std::vector<QuerySample>> Query(const std::string& query, int64_t now_ms) = 0;
  // CPU used per container, in cores, over `window` ending at now_ms (`rate` of
  // container_cpu_usage_seconds_total), keyed by the given full container ids; containers without
  // data are absent. Errors only when no data could be asked for at all.
  virtual Result<std::map<std::string, ReplicaSample>> ContainerCpu(
      const std::vector<std::string>& container_ids, int64_t now_ms,
      std::chrono::milliseconds window, CpuRate rate);
};

// `rate(container_cpu_usage_seconds_total{id=~".*(<ids>).*"}[<window>])` (irate for
// kLastInterval; irate of container_cpu_cfs_throttled_seconds_total for kThrottledLastInterval);
// ids that are not plain [0-9A-Za-z_.-] are left out.
std::string ContainerCpuQuery(const std::vector<std::string>& container_ids,
                              std::chrono::milliseconds window, CpuRate rate = CpuRate::kAverage);
// Joins a CPU query's samples back to container ids by their `id` label (the cgroup path holding
// the id; the shortest path wins when a container has sub-cgroups).
std::map<std::string, ReplicaSample> MatchContainerCpu(
    const std::vector<std::string>& container_ids, const std::vector<QuerySample>& samples,
    int64_t now_ms, std::chrono::milliseconds window);
// A replica's CPU: the sum over all its containers; nullopt when it has none or any of them has
// no sample (a pod measured without its sidecar would read low: missing, never partial).
std::optional<ReplicaSample> SumReplicaCpu(
    const Replica& replica, const std::map<std::string, ReplicaSample>& by_container);
// A whole service's value: the sum of the samples; nullopt when there are none (no data) or a
// value is NaN.
std::optional<double> ServiceValue(const std::vector<QuerySample>& samples);

// The agent's local store. `engine` must outlive the source.
class EngineMetricSource final : public MetricSource {
 public:
  explicit EngineMetricSource(const promql::Engine* engine,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : engine_(engine), timeout_(timeout) {}
  std::string Describe() const override { return "local store"; }
  Result<std::vector<QuerySample>> Query(const std::string& query, int64_t now_ms) override;

 private:
  const promql::Engine* engine_;
  std::chrono::milliseconds timeout_;
};

struct PrometheusSourceOptions {
  std::chrono::milliseconds timeout{2000};  // Per endpoint and query. Default: 2 s.
};

// GET <endpoint>/api/v1/query on every endpoint at once. Query: the samples of all endpoints,
// concatenated; any endpoint failing fails the query (a service total would be too low).
// ContainerCpu: each container from whichever endpoint has it; failing endpoints only make their
// containers missing, and it errors only when every endpoint failed.
class PrometheusMetricSource final : public MetricSource {
 public:
  // Endpoints "http://host:port[/prefix]" or https://…; InvalidArgument for a bad one.
  static Result<std::unique_ptr<PrometheusMetricSource>> Create(
      const std::vector<std::string>& endpoints, PrometheusSourceOptions options = {});

  std::string Describe() const override;
  Result<std::vector<QuerySample>> Query(const std::string& query, int64_t now_ms) override;
  Result<std::map<std::string, ReplicaSample>> ContainerCpu(
      const std::vector<std::string>& container_ids, int64_t now_ms,
      std::chrono::milliseconds window, CpuRate rate) override;

 private:
  struct Endpoint {
    std::string url;
    std::string path_prefix;
    HttpClient client;
  };
  PrometheusMetricSource(std::vector<Endpoint> endpoints, PrometheusSourceOptions options)
      : endpoints_(std::move(endpoints)), options_(options) {}
  // One result per endpoint, asked concurrently.
  std::vector<Result<std::vector<QuerySample>>> QueryAll(const std::string& query,
                                                         int64_t now_ms) const;

  std::vector<Endpoint> endpoints_;
  PrometheusSourceOptions options_;
};

// Parses a /api/v1/query response body (vector or scalar). Errors carry the API's error message.
Result<std::vector<QuerySample>> ParseQueryResponse(std::string_view body, int http_status);

}  // namespace tidemark::autoscaler
