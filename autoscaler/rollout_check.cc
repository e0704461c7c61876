#include "autoscaler/rollout_check.h"

#include <algorithm>

namespace tidemark::autoscaler {

std::string RolloutReport::Summary() const {
  std::string s = std::to_string(ready) + "/" + std::to_string(desired) + " ready";
  if (!not_ready.empty()) {
    s += "; not ready:";
    for (size_t i = 0; i < not_ready.size(); ++i) {
      const Replica& r = not_ready[i];
      s += (i ? ", " : " ") + r.name + " (" + (r.message.empty() ? "not ready" : r.message) + ")";
    }
  }
  if (!complete && !last_error.empty()) s += "; last error: " + last_error;
  return s;
}

RolloutTracker::RolloutTracker(const std::vector<Replica>& before, int32_t desired) {
  for (const Replica& r : before) before_.insert(r.name);
  report_.desired = desired;
}

bool RolloutTracker::Observe(const ScaleState& state) {
  report_.ready = 0;
  report_.became_ready.clear();
  report_.not_ready.clear();
  for (const Replica& r : state.replicas) {
    if (r.ready && !r.failed) ++report_.ready;
    if (before_.count(r.name)) continue;
    if (r.ready && !r.failed) {
      report_.became_ready.push_back(r);
    } else if (!r.failed) {
      report_.not_ready.push_back(r);
    }
  }
  // Fewer new replicas than asked for (e.g. Kubernetes has not created the pods yet) are not
  // listed by name; `ready` < `desired` tells.
  report_.complete = report_.ready >= report_.desired;
  return report_.complete;
}

Result<RolloutReport> CheckRollout(Orchestrator& orchestrator, const ScaleTarget& target,
                                   const std::vector<Replica>& before, int32_t desired,
                                   std::chrono::steady_clock::time_point deadline,
                                   const Clock& clock, const WaitFunction& wait,
                                   std::chrono::milliseconds poll_interval) {
  RolloutTracker tracker(before, desired);
  bool any_ok = false;
  Status last;
  for (;;) {
    Result<ScaleState> st = orchestrator.GetScale(target);
    if (st.ok()) {
      any_ok = true;
      if (tracker.Observe(*st)) break;
    } else {
      last = st.status();
      tracker.ObserveError(last);
    }
    auto now = clock.MonotonicNow();
    if (now >= deadline) break;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    wait(std::min(poll_interval, left));
  }
  if (!any_ok) {
    return Status(last.code(), target.Describe() + ": rollout check: " + last.message());
  }
  return tracker.report();
}

}  // namespace tidemark::autoscaler
