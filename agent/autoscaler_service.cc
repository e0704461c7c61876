#include "agent/autoscaler_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "autoscaler/kube_config.h"
#include "autoscaler/kubernetes_client.h"
#include "autoscaler/swarm_client.h"
#include "common/host_paths.h"
#include "common/logging.h"

namespace tidemark::agent {

using autoscaler::Condition;
using autoscaler::Decision;
using autoscaler::MetricInput;
using autoscaler::Policy;
using autoscaler::ScaleState;

namespace {

int64_t ToMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

void SetCondition(std::vector<Condition>* conds, Condition c) {
  for (Condition& existing : *conds) {
    if (existing.type == c.type) {
      existing = std::move(c);
      return;
    }
  }
  conds->push_back(std::move(c));
}

}  // namespace

// One policy's controller state. Worker-thread fields are touched only by RunOnce; `pub` only
// under mu_.
struct AutoscalerService::Runtime {
  Policy policy;
  std::unique_ptr<autoscaler::Orchestrator> orchestrator;
  std::unique_ptr<autoscaler::MetricSource> source;
  autoscaler::History history;
  int64_t next_sync_ms = 0;
  int64_t last_reconcile_ms = 0;
  std::optional<ScaleState> last_state;
  std::optional<autoscaler::RolloutTracker> rollout;
  int64_t rollout_deadline_ms = 0;

  struct Published {
    std::deque<Decision> decisions;
    int32_t current = -1;  // -1 until the scale was read once.
    int32_t desired = -1;
    int32_t recommendation = -1;
    std::string limited_reason;
    std::map<std::string, double> metric_values;
    double scale_events = 0;
    double errors = 0;
    std::string last_error;
    int64_t last_error_ms = 0;
    std::optional<Condition> able_to_scale_failure;  // Newer than the last decision.
    std::optional<Condition> rollout;                // ReplicasReady after the last scale-out.
    double not_ready_replicas = 0;
  } pub;
};

AutoscalerService::AutoscalerService(AutoscalerServiceOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      store_(options_.state_dir),
      log_limiter_(clock, std::chrono::seconds(30)) {}

AutoscalerService::~AutoscalerService() { Stop(); }

Result<std::unique_ptr<AutoscalerService>> AutoscalerService::Create(
    std::vector<Policy> policies, AutoscalerServiceOptions options, const Clock& clock,
    const OrchestratorFactory& orchestrators, const MetricSourceFactory& sources) {
  std::unique_ptr<AutoscalerService> s(new AutoscalerService(std::move(options), clock));
  TIDEMARK_RETURN_IF_ERROR(s->store_.Open());
  for (Policy& p : policies) {
    auto rt = std::make_unique<Runtime>();
    auto orch = orchestrators(p);
    if (!orch.ok()) {
      return Status(orch.status().code(),
                    "autoscaler policy " + p.name + ": " + orch.status().message());
    }
    auto src = sources(p);
    if (!src.ok()) {
      return Status(src.status().code(),
                    "autoscaler policy " + p.name + ": " + src.status().message());
    }
    rt->orchestrator = std::move(*orch);
    rt->source = std::move(*src);
    auto history = s->store_.Load(p.name);
    if (history.ok()) {
      rt->history = std::move(*history);
    } else {
      spdlog::warn("autoscaler: policy {}: starting with an empty history: {}", p.name,
                   history.status().ToString());
    }
    rt->pub.decisions = rt->history.decisions;
    spdlog::info("autoscaler: policy {} scales {} through {} between {} and {} replicas{}", p.name,
                 p.target.Describe(), rt->orchestrator->Name(), p.min_replicas, p.max_replicas,
                 p.dry_run ? " (dry run)" : "");
    rt->policy = std::move(p);
    s->policies_.push_back(std::move(rt));
  }
  return s;
}

Status AutoscalerService::Start() {
  if (thread_.joinable()) return Status::Ok();
  thread_ = std::thread([this] { RunGuarded("autoscaler", [this] { Loop(); }); });
  return Status::Ok();
}

void AutoscalerService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AutoscalerService::OnCycle(int64_t timestamp_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh_data_ = true;
    data_ts_ms_ = timestamp_ms;  // Cycles come in order from the one collection thread.
  }
  cv_.notify_all();
}

void AutoscalerService::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    int64_t now_ms = ToMs(clock_.Now());
    int64_t next_ms = now_ms + 1000;  // Rollouts are followed every second.
    for (const auto& rt : policies_) next_ms = std::min(next_ms, rt->next_sync_ms);
    if (next_ms > now_ms && !fresh_data_) {
      cv_.wait_for(lock, std::chrono::milliseconds(next_ms - now_ms),
                   [this] { return stop_ || fresh_data_; });
    }
    if (stop_) break;
    bool fresh = fresh_data_;
    fresh_data_ = false;
    lock.unlock();
    RunOnce(fresh);
    lock.lock();
  }
}

void AutoscalerService::RunOnce(bool fresh_data) {
  for (auto& rt_ptr : policies_) {
    Runtime& rt = *rt_ptr;
    const int64_t now_ms = ToMs(clock_.Now());
    if (rt.rollout) FollowRollout(rt, now_ms);
    bool due = now_ms >= rt.next_sync_ms;
    if (!due && fresh_data && now_ms - rt.last_reconcile_ms >= options_.fast_path_min_gap.count() &&
        PanicBetweenSyncs(rt, now_ms)) {
      due = true;
    }
    if (!due) continue;
    rt.next_sync_ms = now_ms + rt.policy.sync_period.count();
    rt.last_reconcile_ms = now_ms;
    Reconcile(rt, now_ms);
  }
}

std::vector<MetricInput> AutoscalerService::Measure(Runtime& rt, const ScaleState& state,
                                                    int64_t now_ms) {
  std::vector<MetricInput> inputs;
  // At the newest cycle's timestamp when it is ahead of the clock (the grid puts it up to half a
  // second ahead; a clock step is capped at one second): read at now, a cycle stamped after it
  // would wait for the next one.
  int64_t at_ms = now_ms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    at_ms = std::clamp(data_ts_ms_, now_ms, now_ms + 1000);
  }
  // Asked once per pass: the rate over the window; for the panic check, the last interval's
  // usage and throttled time.
  std::optional<Result<std::map<std::string, autoscaler::ReplicaSample>>> cpu, cpu_recent,
      throttled_recent;
  for (const autoscaler::MetricSpec& m : rt.policy.metrics) {
    MetricInput in;
    if (m.type == autoscaler::MetricType::kCpu) {
      if (!cpu) {
        std::vector<std::string> ids;
        for (const autoscaler::Replica& r : state.replicas) {
          if (r.failed) continue;
          ids.insert(ids.end(), r.container_ids.begin(), r.container_ids.end());
        }
        cpu =
            rt.source->ContainerCpu(ids, at_ms, options_.cpu_window, autoscaler::CpuRate::kAverage);
        if (rt.policy.panic.enabled && cpu->ok()) {
          cpu_recent = rt.source->ContainerCpu(ids, at_ms, options_.cpu_window,
                                               autoscaler::CpuRate::kLastInterval);
          // Without it (a failed query, no CFS quota) saturation scales up to the rate ceiling.
          throttled_recent = rt.source->ContainerCpu(ids, at_ms, options_.cpu_window,
                                                     autoscaler::CpuRate::kThrottledLastInterval);
        }
      }
      if (!cpu->ok()) {
        in.status = cpu->status();
      } else {
        for (const autoscaler::Replica& r : state.replicas) {
          if (auto sum = autoscaler::SumReplicaCpu(r, **cpu)) in.cpu[r.name] = *sum;
          if (cpu_recent && cpu_recent->ok()) {
            if (auto sum = autoscaler::SumReplicaCpu(r, **cpu_recent)) in.cpu_recent[r.name] = *sum;
          }
          if (throttled_recent && throttled_recent->ok()) {
            if (auto sum = autoscaler::SumReplicaCpu(r, **throttled_recent)) {
              in.cpu_throttled_recent[r.name] = *sum;
            }
          }
        }
      }
    } else {
      auto samples = rt.source->Query(m.query, at_ms);
      if (!samples.ok()) {
        in.status = samples.status();
      } else {
        in.value = autoscaler::ServiceValue(*samples);
      }
    }
    inputs.push_back(std::move(in));
  }
  return inputs;
}

bool AutoscalerService::PanicBetweenSyncs(Runtime& rt, int64_t now_ms) {
  if (!rt.last_state) return false;
  // Records the recommendation like a sync would, so the stabilization windows see every
  // per-cycle evaluation (a scale-in then waits the whole window after the load's last peak).
  Decision d = autoscaler::Recommend(rt.policy, now_ms, *rt.last_state,
                                     Measure(rt, *rt.last_state, now_ms), &rt.history);
  Publish(rt, &d);  // The metrics show every cycle's values, not only each sync's.
  return autoscaler::ActBetweenSyncs(d);
}

void AutoscalerService::Fail(Runtime& rt, int64_t now_ms, const std::string& reason,
                             const Status& st) {
  const std::string msg = st.ToString();
  if (log_limiter_.Allow(rt.policy.name + reason)) {
    spdlog::warn("autoscaler: policy {}: {}: {}", rt.policy.name, reason, msg);
  }
  std::lock_guard<std::mutex> lock(mu_);
  rt.pub.errors += 1;
  rt.pub.last_error = reason + ": " + msg;
  rt.pub.last_error_ms = now_ms;
  rt.pub.able_to_scale_failure = Condition{"AbleToScale", false, reason, msg};
}

void AutoscalerService::Reconcile(Runtime& rt, int64_t now_ms) {
  auto state = rt.orchestrator->GetScale(rt.policy.target);
  if (!state.ok()) {
    Fail(rt, now_ms, "FailedGetScale", state.status());
    return;
  }
  rt.last_state = *state;
  Decision d =
      autoscaler::Recommend(rt.policy, now_ms, *state, Measure(rt, *state, now_ms), &rt.history);
  for (const autoscaler::MetricProposal& p : d.metrics) {
    if (!p.valid && log_limiter_.Allow(rt.policy.name + "metric" + p.metric)) {
      spdlog::warn("autoscaler: policy {}: metric {}: {}", rt.policy.name, p.metric, p.error);
    }
  }
  bool scaled = false;
  if (d.call_orchestrator) {
    Status st = rt.orchestrator->SetReplicas(rt.policy.target, d.desired);
    if (!st.ok()) {
      SetCondition(&d.conditions,
                   Condition{"AbleToScale", false, "FailedUpdateScale",
                             "the orchestrator refused the new scale: " + st.ToString()});
      Fail(rt, now_ms, "FailedUpdateScale", st);
    } else {
      scaled = true;
      SetCondition(&d.conditions, Condition{"AbleToScale", true, "SucceededRescale",
                                            "the orchestrator accepted " +
                                                std::to_string(d.desired) + " replicas"});
      autoscaler::RecordRescale(rt.policy, now_ms, d.current, d.desired, &rt.history);
      rt.last_state->desired = d.desired;  // The fast path compares against the new count.
      spdlog::info("autoscaler: policy {}: scaled {} from {} to {} ({})", rt.policy.name,
                   rt.policy.target.Describe(), d.current, d.desired, d.reason);
      if (d.desired > d.current) {
        rt.rollout.emplace(state->replicas, d.desired);
        rt.rollout_deadline_ms = now_ms + options_.rollout_timeout.count();
      } else {
        rt.rollout.reset();
      }
    }
  } else if (d.rescale) {
    spdlog::info("autoscaler: policy {}: dry run: would scale {} from {} to {} ({})",
                 rt.policy.name, rt.policy.target.Describe(), d.current, d.desired, d.reason);
  }
  autoscaler::RecordDecision(d, options_.decision_history, &rt.history);
  autoscaler::PruneHistory(rt.policy, now_ms, &rt.history);
  Status saved = store_.Save(rt.policy, now_ms, options_.decision_history, rt.history);
  if (!saved.ok()) Fail(rt, now_ms, "FailedSaveState", saved);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (scaled) rt.pub.scale_events += 1;
    if (!d.call_orchestrator || scaled) rt.pub.able_to_scale_failure.reset();
    if (scaled && d.desired > d.current) rt.pub.rollout.reset();
  }
  Publish(rt, &d);
}

void AutoscalerService::FollowRollout(Runtime& rt, int64_t now_ms) {
  auto state = rt.orchestrator->GetScale(rt.policy.target);
  bool done = false;
  if (state.ok()) {
    done = rt.rollout->Observe(*state);
  } else {
    rt.rollout->ObserveError(state.status());
  }
  const autoscaler::RolloutReport& report = rt.rollout->report();
  if (!done && now_ms < rt.rollout_deadline_ms) return;
  Condition c{"ReplicasReady", done, done ? "RolloutComplete" : "ReplicasNotReady",
              report.Summary()};
  if (done) {
    spdlog::info("autoscaler: policy {}: rollout complete: {}", rt.policy.name, report.Summary());
  } else {
    spdlog::warn("autoscaler: policy {}: new replicas not ready after {} ms: {}", rt.policy.name,
                 options_.rollout_timeout.count(), report.Summary());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    rt.pub.rollout = c;
    rt.pub.not_ready_replicas = done ? 0 : static_cast<double>(report.not_ready.size());
    if (!done) {
      rt.pub.errors += 1;
      rt.pub.last_error = "ReplicasNotReady: " + report.Summary();
      rt.pub.last_error_ms = now_ms;
    }
  }
  rt.rollout.reset();
}

void AutoscalerService::Publish(Runtime& rt, const Decision* d) {
  std::lock_guard<std::mutex> lock(mu_);
  rt.pub.decisions = rt.history.decisions;
  if (d == nullptr) return;
  rt.pub.current = d->current;
  rt.pub.desired = d->desired;
  rt.pub.recommendation = d->recommendation;
  rt.pub.limited_reason = d->limited_reason;
  for (const autoscaler::MetricProposal& p : d->metrics) {
    if (!p.valid) {
      rt.pub.metric_values.erase(p.metric);
      continue;
    }
    bool cpu = false;
    for (const auto& m : rt.policy.metrics) {
      if (m.name == p.metric) cpu = m.type == autoscaler::MetricType::kCpu;
    }
    rt.pub.metric_values[p.metric] = cpu ? p.utilization : p.value;
  }
}

nlohmann::json AutoscalerService::DecisionsJson(const std::string& policy, size_t limit) const {
  nlohmann::json list = nlohmann::json::array();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& rt : policies_) {
    if (!policy.empty() && rt->policy.name != policy) continue;
    const Runtime::Published& pub = rt->pub;
    nlohmann::json decisions = nlohmann::json::array();
    size_t n = 0;
    for (auto it = pub.decisions.rbegin(); it != pub.decisions.rend() && n < limit; ++it, ++n) {
      decisions.push_back(autoscaler::DecisionToJson(*it));
    }
    // The last decision's conditions, updated by what happened since (failed calls, rollouts).
    Decision latest;
    if (!pub.decisions.empty()) latest.conditions = pub.decisions.back().conditions;
    if (pub.able_to_scale_failure) SetCondition(&latest.conditions, *pub.able_to_scale_failure);
    if (pub.rollout) SetCondition(&latest.conditions, *pub.rollout);
    nlohmann::json cj = autoscaler::DecisionToJson(latest)["conditions"];
    nlohmann::json p = {{"name", rt->policy.name},
                        {"target", rt->policy.target.Describe()},
                        {"orchestrator", rt->orchestrator->Name()},
                        {"metric_source", rt->source->Describe()},
                        {"dry_run", rt->policy.dry_run},
                        {"min_replicas", rt->policy.min_replicas},
                        {"max_replicas", rt->policy.max_replicas},
                        {"scale_events", pub.scale_events},
                        {"errors", pub.errors},
                        {"last_error", pub.last_error},
                        {"last_error_time_ms", pub.last_error_ms},
                        {"conditions", std::move(cj)},
                        {"decisions", std::move(decisions)}};
    if (pub.current >= 0) {
      p["current_replicas"] = pub.current;
      p["desired_replicas"] = pub.desired;
    }
    list.push_back(std::move(p));
  }
  return {{"status", "success"}, {"data", {{"policies", std::move(list)}}}};
}

void AutoscalerService::HandleHttp(const HttpRequest& req, HttpResponse* resp) {
  resp->content_type = "application/json";
  size_t limit = options_.decision_history;
  std::string limit_s(req.Param("limit"));
  if (!limit_s.empty()) {
    char* end = nullptr;
    unsigned long v = std::strtoul(limit_s.c_str(), &end, 10);
    if (*end != '\0') {
      resp->status = 400;
      resp->body = nlohmann::json{{"status", "error"},
                                  {"errorType", "bad_data"},
                                  {"error", "invalid parameter \"limit\": " + limit_s}}
                       .dump();
      return;
    }
    limit = v;
  }
  resp->body = DecisionsJson(std::string(req.Param("policy")), limit).dump();
}

void AutoscalerService::AddMetrics(SampleBatch* batch) {
  const size_t current =
      batch->Family("tidemark_autoscaler_current_replicas",
                    "Replicas in the target's spec at the last decision.", MetricType::kGauge);
  const size_t desired = batch->Family("tidemark_autoscaler_desired_replicas",
                                       "Replicas the last decision asked for.", MetricType::kGauge);
  const size_t rec = batch->Family("tidemark_autoscaler_recommendation",
                                   "Replicas the metrics propose before stabilization and limits.",
                                   MetricType::kGauge);
  const size_t events =
      batch->Family("tidemark_autoscaler_scale_events_total",
                    "Scale calls the orchestrator accepted.", MetricType::kCounter);
  const size_t limited =
      batch->Family("tidemark_autoscaler_limited",
                    "1 when the last decision was limited (reason: ScalingLimited's reason).",
                    MetricType::kGauge);
  const size_t errors = batch->Family(
      "tidemark_autoscaler_errors_total",
      "Failed orchestrator reads/updates, state writes and rollouts with replicas not ready.",
      MetricType::kCounter);
  const size_t value = batch->Family(
      "tidemark_autoscaler_metric_value",
      "The last value of each policy metric (cpu: utilisation percent; query: its value).",
      MetricType::kGauge);
  const size_t not_ready = batch->Family(
      "tidemark_autoscaler_rollout_not_ready_replicas",
      "New replicas that were not ready when the last scale-out's rollout check ended.",
      MetricType::kGauge);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& rt : policies_) {
    const Runtime::Published& pub = rt->pub;
    const std::string& name = rt->policy.name;
    batch->Add(events, nullptr, Labels{{"policy", name}}, pub.scale_events);
    batch->Add(errors, nullptr, Labels{{"policy", name}}, pub.errors);
    batch->Add(not_ready, nullptr, Labels{{"policy", name}}, pub.not_ready_replicas);
    if (pub.current < 0) continue;
    batch->Add(current, nullptr, Labels{{"policy", name}}, pub.current);
    batch->Add(desired, nullptr, Labels{{"policy", name}}, pub.desired);
    batch->Add(rec, nullptr, Labels{{"policy", name}}, pub.recommendation);
    batch->Add(limited, nullptr, Labels{{"policy", name}, {"reason", pub.limited_reason}},
               pub.limited_reason.empty() ? 0 : 1);
    for (const auto& [metric, v] : pub.metric_values) {
      batch->Add(value, nullptr, Labels{{"metric", metric}, {"policy", name}}, v);
    }
  }
}

namespace {

Result<std::unique_ptr<autoscaler::Orchestrator>> MakeOrchestrator(const AgentConfig& config,
                                                                   const Policy& p) {
  if (p.orchestrator == "swarm") {
    autoscaler::SwarmClientOptions o;
    if (!p.endpoint.empty()) {
      o.endpoint = p.endpoint;
    } else {
      const HostPaths paths = HostPaths::Under(config.host_root);
      o.endpoint = "unix://" + (config.host_root == "/" ? "" : paths.root) + config.docker.socket;
    }
    auto c = autoscaler::SwarmClient::Create(o);
    if (!c.ok()) return c.status();
    return std::unique_ptr<autoscaler::Orchestrator>(std::move(*c));
  }
  Result<autoscaler::KubeConfig> kc = Status::Internal("unset");
  if (p.endpoint.empty()) {
    kc = autoscaler::LoadInClusterConfig(autoscaler::GetEnv);
  } else if (p.endpoint.starts_with("http://") || p.endpoint.starts_with("https://")) {
    autoscaler::KubeConfig c;
    Status st = autoscaler::ParseServerUrl(p.endpoint, &c);
    if (!st.ok()) return st;
    c.source = "server " + p.endpoint;
    kc = std::move(c);
  } else {
    kc = autoscaler::LoadKubeConfigFile(p.endpoint);
  }
  if (!kc.ok()) return kc.status();
  auto c = autoscaler::KubernetesClient::Create(std::move(*kc));
  if (!c.ok()) return c.status();
  return std::unique_ptr<autoscaler::Orchestrator>(std::move(*c));
}

}  // namespace

Result<std::unique_ptr<Service>> MakeAutoscalerService(const ServiceContext& ctx) {
  const autoscaler::AutoscalerConfig& ac = ctx.config.autoscaler;
  if (ac.policies.empty()) return std::unique_ptr<Service>();
  AutoscalerServiceOptions o;
  o.state_dir = ac.state_dir.empty() ? ctx.config.data_dir + "/autoscaler" : ac.state_dir;
  o.decision_history = ac.decision_history;
  o.cpu_window =
      std::max<std::chrono::milliseconds>(3 * ctx.config.interval, std::chrono::milliseconds(2000));
  // Half an interval: one between-sync check per cycle, never a skipped cycle because this one's
  // data arrived a millisecond sooner after its tick than the last reconcile's.
  o.fast_path_min_gap = ctx.config.interval / 2;
  const promql::Engine* engine = ctx.engine;
  auto made = AutoscalerService::Create(
      ac.policies, o, ctx.clock,
      [&ctx](const Policy& p) { return MakeOrchestrator(ctx.config, p); },
      [engine](const Policy& p) -> Result<std::unique_ptr<autoscaler::MetricSource>> {
        if (!p.metric_sources.empty()) {
          auto s = autoscaler::PrometheusMetricSource::Create(p.metric_sources);
          if (!s.ok()) return s.status();
          return std::unique_ptr<autoscaler::MetricSource>(std::move(*s));
        }
        if (engine == nullptr) {
          return Status::InvalidArgument(
              "needs the local store (storage.enabled) or metric_sources");
        }
        return std::unique_ptr<autoscaler::MetricSource>(
            std::make_unique<autoscaler::EngineMetricSource>(engine));
      });
  if (!made.ok()) return made.status();
  return std::unique_ptr<Service>(std::move(*made));
}

}  // namespace tidemark::agent
