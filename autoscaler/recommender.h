// The HPA's decision algorithm (Kubernetes horizontal.go + replica_calculator.go, reference
// autoscaling.md §2–§7) as pure functions: policy + time + scale state + metric values + history
// in, a Decision out. No clock, threads or I/O; the caller owns History (one per policy) and
// persists it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autoscaler/orchestrator.h"
#include "autoscaler/policy.h"
#include "common/status.h"

namespace tidemark::autoscaler {

// CPU used by one replica, in cores, averaged over [timestamp - window, timestamp] (ms).
struct ReplicaSample {
  double cores = 0;
  int64_t timestamp_ms = 0;
  int64_t window_ms = 0;
};

// The value of one policy metric at decision time, parallel to Policy::metrics.
struct MetricInput {
  Status status;                             // Non-OK: the source failed; the metric is invalid.
  std::map<std::string, ReplicaSample> cpu;  // cpu: by Replica::name; absent = missing metric.
  std::optional<double> value;               // query: the whole service's value; none = no data.
  // cpu: the same replicas over the last collection interval only, for the panic check
  // (Policy::panic); empty = no such check for this metric.
  std::map<std::string, ReplicaSample> cpu_recent;
  // cpu: the same replicas' CFS throttled time over the last collection interval, per second
  // (irate of container_cpu_cfs_throttled_seconds_total: summed over the CPUs it was throttled
  // on), for the saturation check; empty = unknown.
  std::map<std::string, ReplicaSample> cpu_throttled_recent;
};

struct TimedRecommendation {
  int64_t time_ms = 0;
  int32_t replicas = 0;
};
struct ScaleEvent {
  int64_t time_ms = 0;
  int32_t change = 0;  // Replicas added (scale-up events) or removed (scale-down events), > 0.
};

struct Condition {
  std::string type;  // "AbleToScale", "ScalingActive", "ScalingLimited".
  bool status = false;
  std::string reason;  // e.g. "ScaleDownStabilized", "TooManyReplicas", "ScaleInWindowClosed".
  std::string message;
};

struct MetricProposal {
  std::string metric;  // MetricSpec::name.
  bool valid = false;
  int32_t replicas = 0;     // Proposed replicas when valid.
  double ratio = 0;         // Usage / target (the unadjusted one, as the HPA's status reports).
  int32_t utilization = 0;  // cpu: truncated percent over ready replicas.
  double value = 0;         // query: the value used.
  std::string error;        // Why it is invalid, when it is.
};

struct Decision {
  int64_t time_ms = 0;
  int32_t current = 0;             // Spec replicas when the decision was made.
  int32_t recommendation = 0;      // Max of the metric proposals (0 when no metric was valid).
  int32_t stabilized = 0;          // After the stabilization windows.
  int32_t desired = 0;             // After rate limits, min/max and the scale-in window.
  bool rescale = false;            // desired != current.
  bool call_orchestrator = false;  // rescale && !dry_run.
  std::string reason;              // "cpu above target", "All metrics below target", ... or "".
  std::string limited_reason;      // ScalingLimited's reason when True, else "".
  // The overload fast path raised the recommendation above `current` (Policy::panic): the
  // scale-up skips the up window, and the caller acts on it between sync periods.
  bool panic = false;
  std::string panic_reason;  // e.g. "cpu saturated: 98% of the CPU limit over the last interval".
  std::vector<MetricProposal> metrics;
  std::vector<Condition> conditions;  // AbleToScale, ScalingActive, ScalingLimited (when known).
  const Condition* Find(std::string_view type) const;
};

// What a policy's windows need: recommendations, scale events, plus recent decisions for the API.
struct History {
  bool initialized = false;  // The first decision seeds the recommendations with `current`.
  std::vector<TimedRecommendation> recommendations;
  std::vector<ScaleEvent> scale_up_events;
  std::vector<ScaleEvent> scale_down_events;
  std::deque<Decision> decisions;  // Oldest first.
};

// One reconcile at now_ms (Unix ms). `state.desired` is the current spec replica count. Records
// the raw recommendation in *history (not scale events: call RecordRescale once the orchestrator
// accepted the new count, or at once when simulating).
Decision Recommend(const Policy& policy, int64_t now_ms, const ScaleState& state,
                   const std::vector<MetricInput>& inputs, History* history);
// Whether a decision taken between sync periods should be acted on now: a panic scale-up that
// calls the orchestrator (not a dry run). Everything else waits for the policy's sync period.
inline bool ActBetweenSyncs(const Decision& d) {
  return d.panic && d.desired > d.current && d.call_orchestrator;
}
// Stores a scale event (from → to) for the rate-limit policies.
void RecordRescale(const Policy& policy, int64_t now_ms, int32_t from, int32_t to,
                   History* history);
// Appends the decision and keeps the last `keep`.
void RecordDecision(const Decision& d, size_t keep, History* history);
// Drops recommendations and events older than every window/period of the policy needs.
void PruneHistory(const Policy& policy, int64_t now_ms, History* history);

}  // namespace tidemark::autoscaler
