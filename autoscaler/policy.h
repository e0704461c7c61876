// Autoscaling policies: what to scale, between which bounds, on which metrics and how fast. Parsed
// strictly from YAML (the agent's `autoscaler:` section or a standalone policy file) with
// "<file>:<line>: <key>: <reason>" errors; Kubernetes' HPA defaults fill what is not given.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "autoscaler/orchestrator.h"
#include "common/status.h"
#include "common/yaml_walker.h"

namespace tidemark::autoscaler {

enum class MetricType { kCpu, kQuery };
enum class CpuBasis { kLimit, kRequest };
// kValue: ratio = value / target (latency: never divided by replicas), desired = ceil(ratio ×
// ready replicas). kAverage: the value is a service total, target is per replica; desired =
// ceil(value / target) (KEDA's default, HPA External AverageValue).
enum class QueryTargetType { kValue, kAverage };

struct MetricSpec {
  MetricType type = MetricType::kCpu;
  std::string name;                // "cpu", "query", or the `name:` key; CSV columns, messages.
  int32_t target_utilization = 0;  // cpu: percent of the basis (1..1000).
  // Default: request on Kubernetes (the HPA's basis), limit on Swarm.
  CpuBasis against = CpuBasis::kLimit;
  std::string query;  // query: PromQL, evaluated to one number for the whole service.
  double target_value = 0;
  QueryTargetType target_type = QueryTargetType::kValue;
};

enum class RatePolicyType { kPods, kPercent };
struct RatePolicy {
  RatePolicyType type = RatePolicyType::kPods;
  int32_t value = 0;                 // Pods: replicas; Percent: percent of the period start.
  std::chrono::milliseconds period;  // 1 ms .. 30 min (HPA: periodSeconds ≤ 1800).
};

enum class SelectPolicy { kMax, kMin, kDisabled };

// One direction of `behavior` (HPAScalingRules) plus that direction's tolerance.
struct ScalingRules {
  std::chrono::milliseconds stabilization_window{0};
  SelectPolicy select = SelectPolicy::kMax;
  std::vector<RatePolicy> policies;
  double tolerance = 0.1;  // Ratio band: within [1 - down.tolerance, 1 + up.tolerance] holds.
  // A step by fewer than this fraction of the current replicas waits a second window of its
  // direction (until no recommendation of twice the window is on current's side of it), unless
  // it reaches min/max_replicas or is a panic scale-up (0 = no such wait, the HPA; so does a
  // window of 0). Defaults: up 0.2, down 0.3. Trimming a target one replica at a time as the
  // windows slide, or taking back an overshoot in two steps, is churn, not savings. A load that
  // comes back to current's side at least once every two windows never gets such a step.
  double min_step = 0;
};

// Scale-in allowed only from `start` to `end` (minutes of the day; end < start wraps midnight)
// on `days` (bit d = weekday d, 0 = Sunday) of the day the window starts, local time or UTC.
struct ScaleInWindow {
  bool enabled = false;
  int start_minute = 0;
  int end_minute = 0;
  bool utc = false;
  uint8_t days = 0x7f;
};

// The overload fast path (Knative's "panic mode", adapted to CPU limits). When it triggers, a
// scale-up happens at once: between sync periods and past the scale-up stabilization window.
//   - Saturation: the ready replicas used at least `saturation` of their CPU limit over the last
//     collection interval and were throttled (more than 5 % of the limit, or not known), so the
//     real demand is unknown: the scale-up goes as far as the scale-up rate policies allow (HPA
//     defaults: max(+4, ×2) per 15 s). Busy but barely throttled, their demand is their usage.
//   - Threshold: a metric's ratio to its target reached `threshold` (CPU on the last interval,
//     queries on their value); the scale-up goes to the HPA count for that ratio.
// The recommendation it makes is recorded like any other, so the scale-down window holds it.
struct PanicRules {
  bool enabled = true;
  // Fraction of the CPU limit, (0, 1]. Below 1: usage is read on collection ticks, which jitter.
  double saturation = 0.9;
  double threshold = 2.0;  // Ratio to target, > 1 (Knative's default panic threshold, 200 %).
};

struct Policy {
  std::string name;
  std::string orchestrator;  // "swarm" or "kubernetes".
  std::string endpoint;      // Orchestrator API URL/socket; "" = the client's default.
  ScaleTarget target;
  int32_t min_replicas = 1;
  int32_t max_replicas = 0;
  bool allow_scale_to_zero = false;  // Lets min_replicas be 0.
  std::vector<MetricSpec> metrics;   // Empty in YAML → cpu 80 % of the limit.
  std::chrono::milliseconds sync_period{5000};
  std::chrono::milliseconds cpu_initialization_period{300000};
  std::chrono::milliseconds initial_readiness_delay{30000};
  // true: Kubernetes' behaviour-less HPA (§6a: 5 m max-of-recommendations, max(2×current, 4)).
  bool legacy_behavior = false;
  // Defaults: Kubernetes' (Max of Pods 4/15s and Percent 100/15s) but a 15 s window instead of
  // 0: tidemark decides on per-second data, which shows every burst the HPA's 15-30 s averages
  // hide. Saturation still scales up at once (panic).
  ScalingRules scale_up;
  ScalingRules scale_down;  // Defaults: window 5m, Max of Percent 100/15s.
  ScaleInWindow scale_in;
  PanicRules panic;
  bool dry_run = false;
  // Prometheus-compatible query APIs ("http://node1:9920", a central Prometheus) queried together
  // for this policy's metrics. Default: none = the agent's local store.
  std::vector<std::string> metric_sources;
  std::string source;  // "file:line" of the policy, for messages.

  Policy();  // Fills the Kubernetes defaults for both directions.
};

struct AutoscalerConfig {
  std::string state_dir;          // "" = <data_dir>/autoscaler (the agent decides).
  size_t decision_history = 100;  // Decisions kept per policy for the API and across restarts.
  std::vector<Policy> policies;
};

// Parses the agent's `autoscaler:` mapping (keys: state_dir, decision_history, policies,
// policy_files); `prefix` is its dotted key ("autoscaler"). Validates every policy.
Status ParseAutoscalerConfig(const YamlWalker& w, const YAML::Node& node, const std::string& prefix,
                             AutoscalerConfig* out);
// One policy mapping (the keys documented in ParsePolicy's .cc and the README), validated.
Status ParsePolicy(const YamlWalker& w, const YAML::Node& node, const std::string& prefix,
                   Policy* out);
// A standalone policy file (YAML or JSON): one policy mapping at the top level.
Result<Policy> LoadPolicyFile(const std::string& path);
Result<Policy> ParsePolicyText(std::string_view text, std::string_view source);
// Cross-field checks; InvalidArgument "<source>: policy <name>: <reason>".
Status ValidatePolicy(const Policy& p);

// True when scale-in is allowed at `now_ms` (always when the window is disabled).
bool ScaleInAllowed(const ScaleInWindow& w, int64_t now_ms);

std::string_view SelectPolicyName(SelectPolicy s);

}  // namespace tidemark::autoscaler
