// The autoscaler controller: for each policy, every sync period (and at once when a collection
// cycle's fresh data calls for a panic scale-up, Policy::panic) reads the target's scale, measures
// its metrics, runs the HPA recommender, scales through the orchestrator, follows the rollout, and
// persists the decision under the state dir. Serves /api/v1/autoscaler/decisions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/service.h"
#include "autoscaler/metric_source.h"
#include "autoscaler/orchestrator.h"
#include "autoscaler/policy.h"
#include "autoscaler/recommender.h"
#include "autoscaler/rollout_check.h"
#include "autoscaler/state_store.h"
#include "common/logging.h"

namespace tidemark::agent {

inline constexpr char kAutoscalerDecisionsPath[] = "/api/v1/autoscaler/decisions";

// Builds a policy's orchestrator client / metric source; errors name the policy's problem.
using OrchestratorFactory =
    std::function<Result<std::unique_ptr<autoscaler::Orchestrator>>(const autoscaler::Policy&)>;
using MetricSourceFactory =
    std::function<Result<std::unique_ptr<autoscaler::MetricSource>>(const autoscaler::Policy&)>;

struct AutoscalerServiceOptions {
  std::string state_dir;          // Decisions and windows persist here. Required.
  size_t decision_history = 100;  // Decisions kept per policy. Default: 100
  // Window of the CPU rate (HPA: the metrics window). Default: 3 s (3 collections at 1 s).
  std::chrono::milliseconds cpu_window{3000};
  // How long new replicas get to become ready after a scale-out. Default: 60 s.
  std::chrono::milliseconds rollout_timeout{60000};
  // Minimum gap between fresh-data (OnCycle) reconciles of one policy: keep it below the
  // collection interval (the agent uses half of it). Default: 500 ms.
  std::chrono::milliseconds fast_path_min_gap{500};
};

// Thread-safe: RunOnce runs on the service's thread (or a test's), HandleHttp on the query pool,
// AddMetrics/OnCycle on the collection thread; what they share is guarded by mu_.
class AutoscalerService final : public Service {
 public:
  // Builds every policy's orchestrator and metric source and loads its persisted history (a
  // corrupt file is logged and replaced). Errors: the first policy that cannot be built.
  static Result<std::unique_ptr<AutoscalerService>> Create(std::vector<autoscaler::Policy> policies,
                                                           AutoscalerServiceOptions options,
                                                           const Clock& clock,
                                                           const OrchestratorFactory& orchestrators,
                                                           const MetricSourceFactory& sources);
  ~AutoscalerService() override;

  std::string_view Name() const override { return "autoscaler"; }
  Status Start() override;  // Starts the controller thread.
  void Stop() override;
  bool Handles(std::string_view path) const override { return path == kAutoscalerDecisionsPath; }
  void HandleHttp(const HttpRequest& req, HttpResponse* resp) override;
  void AddMetrics(SampleBatch* batch) override;
  void OnCycle(int64_t timestamp_ms) override;

  // One controller pass at clock.Now(): reconciles the policies whose sync period is due and,
  // when `fresh_data`, those whose metrics now call for a different replica count; follows
  // rollouts in progress. The thread calls it; tests call it directly with a FakeClock.
  void RunOnce(bool fresh_data);
  // The decisions API body for `policy` ("" = all) with at most `limit` decisions each.
  nlohmann::json DecisionsJson(const std::string& policy, size_t limit) const;

 private:
  struct Runtime;
  AutoscalerService(AutoscalerServiceOptions options, const Clock& clock);
  void Reconcile(Runtime& rt, int64_t now_ms);
  // Evaluates the cached scale state with fresh metrics between syncs (the recommendation is
  // recorded in the policy's history); true for a panic scale-up, which is not left to wait.
  bool PanicBetweenSyncs(Runtime& rt, int64_t now_ms);
  std::vector<autoscaler::MetricInput> Measure(Runtime& rt, const autoscaler::ScaleState& state,
                                               int64_t now_ms);
  void FollowRollout(Runtime& rt, int64_t now_ms);
  void Fail(Runtime& rt, int64_t now_ms, const std::string& reason, const Status& st);
  void Publish(Runtime& rt, const autoscaler::Decision* decision);
  void Loop();

  AutoscalerServiceOptions options_;
  const Clock& clock_;
  autoscaler::StateStore store_;
  std::vector<std::unique_ptr<Runtime>> policies_;
  RateLimiter log_limiter_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;        // Guarded by mu_.
  bool fresh_data_ = false;  // Guarded by mu_.
  // The newest cycle's sample timestamp (OnCycle). Samples are stamped on the interval's grid, up
  // to half a second after the clock; metrics are read at it so the newest cycle is seen.
  int64_t data_ts_ms_ = 0;  // Guarded by mu_.
  std::thread thread_;
};

// The autoscaler, or null when the config has no policies. Swarm policies use the policy's
// endpoint or the agent's Docker socket; Kubernetes ones in-cluster credentials, an http(s):// URL
// or a kubeconfig path as endpoint. Metrics come from the local store unless the policy names
// metric_sources.
Result<std::unique_ptr<Service>> MakeAutoscalerService(const ServiceContext& ctx);

}  // namespace tidemark::agent
