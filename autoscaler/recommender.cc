#include "autoscaler/recommender.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>

namespace tidemark::autoscaler {

namespace {

constexpr int64_t kLegacyDownscaleWindowMs = 300000;  // --horizontal-pod-autoscaler-downscale-...

struct Tolerances {
  double up;
  double down;
  bool Within(double r) const { return (1 - down) <= r && r <= (1 + up); }
};

int32_t CeilToInt32(double v) {
  double c = std::ceil(v);
  if (!(c < static_cast<double>(INT32_MAX))) return INT32_MAX;
  if (c < 0) return 0;
  return static_cast<int32_t>(c);
}

MetricProposal Invalid(const MetricSpec& m, std::string error) {
  MetricProposal p;
  p.metric = m.name;
  p.error = std::move(error);
  return p;
}

// utilization = int32(Σusage×100 / Σrequest) in millicores (metrics/utilization.go).
int32_t Utilization(int64_t usage_milli, int64_t request_milli) {
  if (request_milli <= 0) return 0;
  return static_cast<int32_t>((usage_milli * 100) / request_milli);
}

// A replica's CPU basis in cores: its own request or limit when the orchestrator gave either,
// else the state-wide value (recorded metrics). 0 when it lacks that basis.
double BasisCores(const Replica& r, const ScaleState& state, CpuBasis against) {
  if (r.cpu_limit_cores <= 0 && r.cpu_request_cores <= 0) return state.cpu_cores_per_replica;
  return against == CpuBasis::kLimit ? r.cpu_limit_cores : r.cpu_request_cores;
}

// GetResourceReplicas with pod classification (§3.1–§3.3).
MetricProposal CpuReplicas(const Policy& policy, const MetricSpec& m, int64_t now_ms,
                           const ScaleState& state, const MetricInput& in) {
  if (!in.status.ok()) return Invalid(m, "cpu metric: " + in.status.message());
  const char* basis_name = m.against == CpuBasis::kLimit ? "limit" : "request";
  // The basis of each replica in millicores: its own request/limit when the orchestrator gave
  // them, else the state-wide value (recorded metrics). HPA sums requests over the pods counted.
  std::map<std::string, int64_t> basis;
  for (const Replica& r : state.replicas) {
    basis[r.name] = std::llround(std::max(0.0, BasisCores(r, state, m.against)) * 1000);
  }
  auto total_basis = [&](const std::map<std::string, int64_t>& counted, std::string* missing_on) {
    int64_t sum = 0;
    for (const auto& [name, _] : counted) {
      const int64_t b = basis[name];
      if (b <= 0 && missing_on->empty()) *missing_on = name;
      sum += b;
    }
    return sum;
  };
  const Tolerances tol{policy.scale_up.tolerance, policy.scale_down.tolerance};
  const int32_t current = state.desired;
  std::map<std::string, int64_t> metrics;  // Ready replicas' usage, millicores.
  std::vector<std::string> unready, missing;
  int32_t ready_count = 0;
  const int64_t init_ms = policy.cpu_initialization_period.count();
  const int64_t delay_ms = policy.initial_readiness_delay.count();
  for (const Replica& r : state.replicas) {
    if (r.failed) continue;
    if (!r.running) {
      unready.push_back(r.name);
      continue;
    }
    auto it = in.cpu.find(r.name);
    if (it == in.cpu.end() || !std::isfinite(it->second.cores)) {
      missing.push_back(r.name);
      continue;
    }
    bool is_unready;
    if (r.started_ms == 0) {
      is_unready = true;
    } else if (r.started_ms + init_ms > now_ms) {
      is_unready = !r.ready || it->second.timestamp_ms < r.ready_changed_ms + it->second.window_ms;
    } else {
      // Never ready since shortly after start; an unknown transition counts as never ready.
      is_unready =
          !r.ready && (r.ready_changed_ms == 0 || r.started_ms + delay_ms > r.ready_changed_ms);
    }
    if (is_unready) {
      unready.push_back(r.name);
      continue;
    }
    metrics[r.name] = std::llround(std::max(0.0, it->second.cores) * 1000);
    ++ready_count;
  }
  if (metrics.empty()) {
    return Invalid(m,
                   "did not receive CPU samples for any ready replica (replicas might be unready)");
  }
  std::string no_basis;
  const int64_t request_sum = total_basis(metrics, &no_basis);
  if (!no_basis.empty()) {
    return Invalid(m, std::string("missing CPU ") + basis_name + " on replica " + no_basis +
                          " (needed for cpu utilisation against the " + basis_name + ")");
  }
  int64_t usage = 0;
  for (const auto& [_, v] : metrics) usage += v;
  const int32_t util = Utilization(usage, request_sum);
  const double ratio = static_cast<double>(util) / m.target_utilization;
  MetricProposal p;
  p.metric = m.name;
  p.valid = true;
  p.utilization = util;
  p.ratio = ratio;
  p.value = util;
  const bool up_with_unready = !unready.empty() && ratio > 1.0;
  if (!up_with_unready && missing.empty()) {
    p.replicas = tol.Within(ratio) ? current : CeilToInt32(ratio * ready_count);
    return p;
  }
  if (!missing.empty()) {
    if (ratio < 1.0) {
      const int64_t fallback = std::max<int64_t>(100, m.target_utilization);
      for (const auto& name : missing) metrics[name] = basis[name] * fallback / 100;
    } else if (ratio > 1.0) {
      for (const auto& name : missing) metrics[name] = 0;
    }
  }
  if (up_with_unready) {
    for (const auto& name : unready) metrics[name] = 0;
  }
  usage = 0;
  for (const auto& [_, v] : metrics) usage += v;
  // Replicas added by the conservative path count with their own basis (0 when unknown).
  std::string ignored;
  const double new_ratio = static_cast<double>(Utilization(usage, total_basis(metrics, &ignored))) /
                           m.target_utilization;
  if (tol.Within(new_ratio) || (ratio < 1.0 && new_ratio > 1.0) ||
      (ratio > 1.0 && new_ratio < 1.0)) {
    p.replicas = current;
    return p;
  }
  const int32_t n = CeilToInt32(new_ratio * static_cast<double>(metrics.size()));
  if ((new_ratio < 1.0 && n > current) || (new_ratio > 1.0 && n < current)) {
    p.replicas = current;
  } else {
    p.replicas = n;
  }
  return p;
}

// External metric, Value or AverageValue target (§3.4).
MetricProposal QueryReplicas(const Policy& policy, const MetricSpec& m, const ScaleState& state,
                             const MetricInput& in) {
  if (!in.status.ok()) return Invalid(m, "query " + m.name + ": " + in.status.message());
  if (!in.value.has_value() || !std::isfinite(*in.value)) {
    return Invalid(m, "query " + m.name + " returned no usable value (no data is not zero load)");
  }
  const Tolerances tol{policy.scale_up.tolerance, policy.scale_down.tolerance};
  const int32_t current = state.desired;
  const double v = *in.value;
  MetricProposal p;
  p.metric = m.name;
  p.value = v;
  if (m.target_type == QueryTargetType::kValue) {
    p.ratio = v / m.target_value;
    if (current == 0) {
      p.replicas = CeilToInt32(p.ratio);
    } else if (tol.Within(p.ratio)) {
      p.replicas = current;
    } else {
      int32_t ready = 0;
      for (const Replica& r : state.replicas) ready += (r.running && r.ready && !r.failed) ? 1 : 0;
      if (ready == 0) {
        return Invalid(m, "query " + m.name + ": no ready replica to scale the value against");
      }
      p.replicas = CeilToInt32(p.ratio * ready);
    }
  } else {
    int32_t status_replicas = 0;
    for (const Replica& r : state.replicas) status_replicas += r.failed ? 0 : 1;
    if (state.replicas.empty()) status_replicas = current;
    p.ratio =
        status_replicas > 0 ? v / (m.target_value * status_replicas) : (v > 0 ? INFINITY : 1.0);
    p.replicas = tol.Within(p.ratio) ? status_replicas : CeilToInt32(v / m.target_value);
  }
  p.valid = true;
  return p;
}

void SetCondition(Decision* d, const std::string& type, bool status, std::string reason,
                  std::string message) {
  for (Condition& c : d->conditions) {
    if (c.type == type) {
      c = {type, status, std::move(reason), std::move(message)};
      return;
    }
  }
  d->conditions.push_back({type, status, std::move(reason), std::move(message)});
}

int32_t ChangeInPeriod(const std::vector<ScaleEvent>& events, int64_t now_ms, int64_t period_ms) {
  int32_t n = 0;
  for (const ScaleEvent& e : events) {
    if (e.time_ms > now_ms - period_ms) n += e.change;
  }
  return n;
}

// calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors: the furthest the
// policies allow from the replica count at the start of each period. "Max" is the largest change.
int32_t RateLimit(bool up, int32_t current, const History& h, const ScalingRules& r,
                  int64_t now_ms) {
  if (r.select == SelectPolicy::kDisabled) return current;
  // Up: Max picks the highest proposal; down: Max picks the lowest. Min the other way round.
  const bool take_higher = up == (r.select == SelectPolicy::kMax);
  int32_t result = take_higher ? INT32_MIN : INT32_MAX;
  for (const RatePolicy& p : r.policies) {
    const int64_t period = p.period.count();
    const int32_t start = current - ChangeInPeriod(h.scale_up_events, now_ms, period) +
                          ChangeInPeriod(h.scale_down_events, now_ms, period);
    int32_t proposed;
    if (p.type == RatePolicyType::kPods) {
      proposed = up ? start + p.value : start - p.value;
    } else {
      proposed = up ? CeilToInt32(start * (1 + p.value / 100.0))
                    : static_cast<int32_t>(start * (1 - p.value / 100.0));
    }
    result = take_higher ? std::max(result, proposed) : std::min(result, proposed);
  }
  return result;
}

// Records the raw recommendation (reusing an expired slot, as the HPA does) and the result.
void Stabilized(int old_index, int64_t now_ms, int32_t desired, int32_t rec, History* h,
                Decision* d) {
  if (old_index >= 0) {
    h->recommendations[old_index] = {now_ms, desired};
  } else {
    h->recommendations.push_back({now_ms, desired});
  }
  d->stabilized = rec;
}

void SetStabilizedCondition(Decision* d, int32_t rec, int32_t desired, bool up) {
  if (rec == desired) {
    SetCondition(d, "AbleToScale", true, "ReadyForNewScale",
                 "recommended size matches current size");
  } else if (up) {
    SetCondition(d, "AbleToScale", true, "ScaleUpStabilized",
                 "recent recommendations were lower than current one, applying the lowest "
                 "recent recommendation");
  } else {
    SetCondition(d, "AbleToScale", true, "ScaleDownStabilized",
                 "recent recommendations were higher than current one, applying the highest "
                 "recent recommendation");
  }
}

// How long recommendations are kept: the longer window, twice a direction's with its min_step.
int64_t RecommendationRetentionMs(const Policy& policy) {
  if (policy.legacy_behavior) return kLegacyDownscaleWindowMs;
  int64_t keep = 0;
  for (const ScalingRules* r : {&policy.scale_up, &policy.scale_down}) {
    keep = std::max(keep, (r->min_step > 0 ? 2 : 1) * r->stabilization_window.count());
  }
  return keep;
}

// scale_up/scale_down.min_step: a step to `stabilized` by less than that fraction of current waits
// a second window of its direction, until no recommendation of twice the window is on current's
// side of it; then it goes all the way in one step. Judged before the rate limits (a policy that
// adds or removes a few replicas per period must still get to scale); a step to min_replicas or
// max_replicas never waits.
bool SmallStepHeld(const Policy& policy, int64_t now_ms, int32_t current, int32_t stabilized,
                   const History& h) {
  const bool up = stabilized > current;
  const ScalingRules& rules = up ? policy.scale_up : policy.scale_down;
  const int32_t step = up ? stabilized - current : current - stabilized;
  if (stabilized == current || step >= current * rules.min_step ||
      (up ? stabilized >= policy.max_replicas : stabilized <= policy.min_replicas)) {
    return false;
  }
  const int64_t cut = now_ms - 2 * rules.stabilization_window.count();
  for (const TimedRecommendation& r : h.recommendations) {
    if (r.time_ms > cut && (up ? r.replicas <= current : r.replicas >= current)) return true;
  }
  return false;
}

// §6b: stabilization windows, then rate limits.
int32_t NormalizeWithBehavior(const Policy& policy, int64_t now_ms, int32_t current,
                              int32_t desired, History* h, Decision* d) {
  // A panic scale-up does not wait for the up window (its recommendation is still recorded).
  const int64_t up_cut = d->panic ? now_ms : now_ms - policy.scale_up.stabilization_window.count();
  const int64_t down_cut = now_ms - policy.scale_down.stabilization_window.count();
  const int64_t keep_cut = now_ms - RecommendationRetentionMs(policy);
  int32_t up_rec = desired, down_rec = desired;
  int old_index = -1;
  for (size_t i = 0; i < h->recommendations.size(); ++i) {
    const TimedRecommendation& r = h->recommendations[i];
    if (r.time_ms > up_cut) up_rec = std::min(up_rec, r.replicas);
    if (r.time_ms > down_cut) down_rec = std::max(down_rec, r.replicas);
    if (r.time_ms < up_cut && r.time_ms < keep_cut) old_index = static_cast<int>(i);
  }
  int32_t rec = current;
  if (rec < up_rec) rec = up_rec;
  if (rec > down_rec) rec = down_rec;
  Stabilized(old_index, now_ms, desired, rec, h, d);
  SetStabilizedCondition(d, rec, desired, desired >= current);
  std::string reason = "DesiredWithinRange",
              message = "the desired count is within the acceptable range";
  int32_t out = rec;
  if (rec > current) {
    int32_t limit = std::max(RateLimit(true, current, *h, policy.scale_up, now_ms), current);
    int32_t allowed = policy.max_replicas;
    std::string r, msg;
    if (allowed > limit) {
      allowed = limit;
      r = "ScaleUpLimit";
      msg = "the desired replica count is increasing faster than the maximum scale rate";
    } else {
      r = "TooManyReplicas";
      msg = "the desired replica count is more than the maximum replica count";
    }
    if (rec > allowed) {
      out = allowed;
      reason = r;
      message = msg;
    }
  } else if (rec < current) {
    int32_t limit = std::min(RateLimit(false, current, *h, policy.scale_down, now_ms), current);
    int32_t allowed = policy.min_replicas;
    std::string r, msg;
    if (allowed < limit) {
      allowed = limit;
      r = "ScaleDownLimit";
      msg = "the desired replica count is decreasing faster than the maximum scale rate";
    } else {
      r = "TooFewReplicas";
      msg = "the desired replica count is less than the minimum replica count";
    }
    if (rec < allowed) {
      out = allowed;
      reason = r;
      message = msg;
    }
  }
  SetCondition(d, "ScalingLimited", out != rec, reason, message);
  return out;
}

// §6a: max of the recommendations of the last 5 minutes, then max(2×current, 4).
int32_t NormalizeLegacy(const Policy& policy, int64_t now_ms, int32_t current, int32_t desired,
                        History* h, Decision* d) {
  const int64_t cut = now_ms - kLegacyDownscaleWindowMs;
  int32_t rec = desired;
  int old_index = -1;
  for (size_t i = 0; i < h->recommendations.size(); ++i) {
    const TimedRecommendation& r = h->recommendations[i];
    if (r.time_ms < cut) {
      old_index = static_cast<int>(i);
    } else {
      rec = std::max(rec, r.replicas);
    }
  }
  Stabilized(old_index, now_ms, desired, rec, h, d);
  SetStabilizedCondition(d, rec, desired, false);
  const int32_t up_limit = static_cast<int32_t>(
      std::min<int64_t>(std::max<int64_t>(2 * static_cast<int64_t>(current), 4), INT32_MAX));
  int32_t max_allowed;
  std::string reason, message;
  if (policy.max_replicas > up_limit) {
    max_allowed = up_limit;
    reason = "ScaleUpLimit";
    message = "the desired replica count is increasing faster than the maximum scale rate";
  } else {
    max_allowed = policy.max_replicas;
    reason = "TooManyReplicas";
    message = "the desired replica count is more than the maximum replica count";
  }
  int32_t out = rec;
  if (rec < policy.min_replicas) {
    out = policy.min_replicas;
    reason = "TooFewReplicas";
    message = "the desired replica count is less than the minimum replica count";
  } else if (rec > max_allowed) {
    out = max_allowed;
  } else {
    reason = "DesiredWithinRange";
    message = "the desired count is within the acceptable range";
  }
  SetCondition(d, "ScalingLimited", out != rec, reason, message);
  return out;
}

// The furthest a scale-up may go now: the rate policies' limit (or the legacy max(2×current, 4)),
// capped by max_replicas.
int32_t ScaleUpCeiling(const Policy& policy, int64_t now_ms, int32_t current, const History& h) {
  const int64_t limit =
      policy.legacy_behavior
          ? std::max<int64_t>(2 * static_cast<int64_t>(current), 4)
          : std::max(RateLimit(true, current, h, policy.scale_up, now_ms), current);
  return static_cast<int32_t>(std::min<int64_t>(limit, policy.max_replicas));
}

// Throttled time, as a fraction of the CPU limit, up to which busy replicas got the CPU they
// asked for (their demand is known); above it the demand may be anything.
constexpr double kDemandKnownThrottling = 0.05;

struct PanicProposal {
  int32_t replicas = 0;
  std::string metric;
  std::string reason;
};

// Policy::panic on the most recent data: saturation of a CPU metric's limit, or a metric's ratio
// at or above the threshold. Returns the highest replica count it calls for (0 = none).
PanicProposal PanicCheck(const Policy& policy, int64_t now_ms, const ScaleState& state,
                         const std::vector<MetricInput>& inputs, const Decision& d,
                         const History& h) {
  PanicProposal best;
  auto offer = [&](int32_t replicas, const std::string& metric, std::string reason) {
    if (replicas > best.replicas) best = {replicas, metric, std::move(reason)};
  };
  char buf[160];
  for (size_t i = 0; i < policy.metrics.size() && i < inputs.size() && i < d.metrics.size(); ++i) {
    const MetricSpec& m = policy.metrics[i];
    const MetricInput& in = inputs[i];
    if (m.type == MetricType::kQuery) {
      const MetricProposal& p = d.metrics[i];
      if (p.valid && p.ratio >= policy.panic.threshold) {
        std::snprintf(buf, sizeof buf, "%s at %.2fx its target", m.name.c_str(), p.ratio);
        offer(p.replicas, m.name, buf);
      }
      continue;
    }
    if (!in.status.ok() || in.cpu_recent.empty() || !d.metrics[i].valid) continue;
    // Usage against the limit (saturation) and against the metric's basis (threshold), as
    // CpuReplicas measures the basis. Replicas that are not ready, or have no recent sample, count
    // with no usage (the HPA's conservative scale-up): replicas still starting after a scale-up
    // keep the old ones from looking saturated again.
    double used = 0, limit_used = 0, limit = 0, basis = 0, throttled = 0;
    int32_t counted = 0, measured = 0, limited_measured = 0, throttle_known = 0;
    for (const Replica& r : state.replicas) {
      if (r.failed) continue;
      auto it = in.cpu_recent.find(r.name);
      const bool has_sample =
          r.running && r.ready && it != in.cpu_recent.end() && std::isfinite(it->second.cores);
      const double cores = has_sample ? std::max(0.0, it->second.cores) : 0.0;
      const bool none = r.cpu_limit_cores <= 0 && r.cpu_request_cores <= 0;
      // Without per-replica figures the state-wide basis is a limit only for a limit metric.
      const double lim =
          r.cpu_limit_cores > 0
              ? r.cpu_limit_cores
              : (none && m.against == CpuBasis::kLimit ? state.cpu_cores_per_replica : 0);
      const double b = BasisCores(r, state, m.against);
      if (b <= 0) continue;  // No basis: the metric is invalid (caught above) or it is unknown.
      used += cores;
      basis += b;
      if (lim > 0) {
        limit_used += cores;
        limit += lim;
        // Only replicas with a limit (a CFS quota) can be throttled.
        if (has_sample) {
          ++limited_measured;
          auto th = in.cpu_throttled_recent.find(r.name);
          if (th != in.cpu_throttled_recent.end() && std::isfinite(th->second.cores)) {
            throttled += std::max(0.0, th->second.cores);
            ++throttle_known;
          }
        }
      }
      ++counted;
      measured += has_sample ? 1 : 0;
    }
    if (measured == 0) continue;
    // Saturated replicas hide their demand: the scale-up goes as far as the rate policies allow.
    // Busy replicas that were barely throttled did get what they asked for: their demand is
    // known, and only the threshold below hurries its scale-up.
    const bool demand_known =
        throttle_known == limited_measured && throttled <= kDemandKnownThrottling * limit;
    if (limit > 0 && limit_used / limit >= policy.panic.saturation && !demand_known) {
      std::snprintf(buf, sizeof buf, "%s saturated: %.0f%% of the CPU limit over the last interval",
                    m.name.c_str(), 100 * limit_used / limit);
      offer(ScaleUpCeiling(policy, now_ms, state.desired, h), m.name, buf);
    }
    // Twice the target must show on the rate window as well as the last interval: one noisy
    // interval against a small request is no reason to skip the scale-up window.
    const double ratio = std::min((100 * used / basis) / m.target_utilization, d.metrics[i].ratio);
    if (ratio >= policy.panic.threshold) {
      std::snprintf(buf, sizeof buf, "%s at %.2fx its target over the last interval",
                    m.name.c_str(), ratio);
      offer(CeilToInt32(ratio * counted), m.name, buf);
    }
  }
  return best;
}

}  // namespace

const Condition* Decision::Find(std::string_view type) const {
  for (const Condition& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

Decision Recommend(const Policy& policy, int64_t now_ms, const ScaleState& state,
                   const std::vector<MetricInput>& inputs, History* history) {
  Decision d;
  d.time_ms = now_ms;
  d.current = state.desired;
  const int32_t current = state.desired;
  SetCondition(&d, "AbleToScale", true, "SucceededGetScale",
               "the autoscaler was able to get the target's current scale");
  if (!history->initialized) {
    history->initialized = true;
    history->recommendations.push_back({now_ms, current});
  }
  d.desired = current;
  d.stabilized = current;
  if (current == 0 && policy.min_replicas != 0) {
    SetCondition(&d, "ScalingActive", false, "ScalingDisabled",
                 "scaling is disabled since the replica count of the target is zero");
    return d;
  }
  if (current > policy.max_replicas) {
    d.desired = d.stabilized = policy.max_replicas;
    d.reason = "Current number of replicas above Spec.MaxReplicas";
    SetCondition(&d, "ScalingLimited", true, "TooManyReplicas",
                 "the desired replica count is more than the maximum replica count");
  } else if (current < policy.min_replicas) {
    d.desired = d.stabilized = policy.min_replicas;
    d.reason = "Current number of replicas below Spec.MinReplicas";
    SetCondition(&d, "ScalingLimited", true, "TooFewReplicas",
                 "the desired replica count is less than the minimum replica count");
  } else {
    // §5: each metric proposes, the max wins; invalid metrics never read as zero load.
    int32_t best = 0;
    std::string best_metric;
    int invalid = 0;
    std::string first_error, first_reason;
    for (size_t i = 0; i < policy.metrics.size(); ++i) {
      const MetricSpec& m = policy.metrics[i];
      static const MetricInput kNoInput{
          Status::Unavailable("no input given"), {}, std::nullopt, {}, {}};
      const MetricInput& in = i < inputs.size() ? inputs[i] : kNoInput;
      MetricProposal p = m.type == MetricType::kCpu ? CpuReplicas(policy, m, now_ms, state, in)
                                                    : QueryReplicas(policy, m, state, in);
      if (!p.valid) {
        if (invalid++ == 0) {
          first_error = p.error;
          first_reason =
              m.type == MetricType::kCpu ? "FailedGetResourceMetric" : "FailedGetExternalMetric";
        }
      } else if (p.replicas > best || best_metric.empty()) {
        best = p.replicas;
        best_metric = m.name;
      }
      d.metrics.push_back(std::move(p));
    }
    d.recommendation = best;
    if (invalid > 0 && (invalid == static_cast<int>(policy.metrics.size()) || best < current)) {
      SetCondition(&d, "ScalingActive", false, first_reason,
                   "the autoscaler was unable to compute the replica count: " + first_error);
      return d;
    }
    SetCondition(&d, "ScalingActive", true, "ValidMetricFound",
                 invalid == 0 ? "the autoscaler was able to successfully calculate a replica count "
                                "from " +
                                    best_metric
                              : "scaling on the valid metrics; invalid: " + first_error);
    if (policy.panic.enabled) {
      PanicProposal panic = PanicCheck(policy, now_ms, state, inputs, d, *history);
      if (panic.replicas > current) {
        d.panic = true;
        d.panic_reason = panic.reason;
        if (panic.replicas > best) {
          best = panic.replicas;
          best_metric = panic.metric;
        }
        d.recommendation = best;
      }
    }
    d.reason = best > current ? best_metric + " above target" : "All metrics below target";
    if (d.panic) d.reason = "panic: " + d.panic_reason;
    d.desired = policy.legacy_behavior
                    ? NormalizeLegacy(policy, now_ms, current, best, history, &d)
                    : NormalizeWithBehavior(policy, now_ms, current, best, history, &d);
    if (d.desired < current && !ScaleInAllowed(policy.scale_in, now_ms)) {
      d.desired = current;
      SetCondition(&d, "ScalingLimited", true, "ScaleInWindowClosed",
                   "scale-in is allowed only inside the policy's scale_in_window");
    } else if (!policy.legacy_behavior && !d.panic && d.desired != current &&
               SmallStepHeld(policy, now_ms, current, d.stabilized, *history)) {
      const bool up = d.desired > current;
      d.desired = current;
      SetCondition(&d, "ScalingLimited", true, up ? "ScaleUpBelowMinStep" : "ScaleDownBelowMinStep",
                   up ? "a scale-up by less than scale_up.min_step of the current replicas waits "
                        "until twice the scale-up window recommends more"
                      : "a scale-in by less than scale_down.min_step of the current replicas "
                        "waits until twice the stabilization window recommends fewer");
    }
  }
  const Condition* lim = d.Find("ScalingLimited");
  if (lim && lim->status) d.limited_reason = lim->reason;
  d.rescale = d.desired != current;
  if (d.desired <= current) {
    d.panic = false;
    d.panic_reason.clear();
  }
  d.call_orchestrator = d.rescale && !policy.dry_run;
  if (!d.rescale) d.reason.clear();
  return d;
}

void RecordRescale(const Policy& policy, int64_t now_ms, int32_t from, int32_t to,
                   History* history) {
  if (policy.legacy_behavior || from == to) return;
  auto& events = to > from ? history->scale_up_events : history->scale_down_events;
  const ScalingRules& rules = to > from ? policy.scale_up : policy.scale_down;
  int64_t longest = 0;
  for (const RatePolicy& p : rules.policies) longest = std::max<int64_t>(longest, p.period.count());
  ScaleEvent e{now_ms, to > from ? to - from : from - to};
  for (ScaleEvent& old : events) {
    if (old.time_ms <= now_ms - longest) {
      old = e;
      return;
    }
  }
  events.push_back(e);
}

void RecordDecision(const Decision& d, size_t keep, History* history) {
  history->decisions.push_back(d);
  while (history->decisions.size() > keep) history->decisions.pop_front();
}

void PruneHistory(const Policy& policy, int64_t now_ms, History* history) {
  const int64_t window = RecommendationRetentionMs(policy);
  auto& recs = history->recommendations;
  recs.erase(
      std::remove_if(recs.begin(), recs.end(),
                     [&](const TimedRecommendation& r) { return r.time_ms < now_ms - window; }),
      recs.end());
  for (auto [events, rules] : {std::pair{&history->scale_up_events, &policy.scale_up},
                               std::pair{&history->scale_down_events, &policy.scale_down}}) {
    int64_t longest = 0;
    for (const RatePolicy& p : rules->policies) {
      longest = std::max<int64_t>(longest, p.period.count());
    }
    events->erase(
        std::remove_if(events->begin(), events->end(),
                       [&](const ScaleEvent& e) { return e.time_ms <= now_ms - longest; }),
        events->end());
  }
}

}  // namespace tidemark::autoscaler
