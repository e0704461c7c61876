// After a scale-out: do the new replicas become ready? Polls the orchestrator until `desired`
// replicas are ready or a deadline passes, and reports the new replicas that did and did not,
// with the orchestrator's reasons (Swarm "no suitable node (...)", port conflicts; Kubernetes
// Unschedulable, CrashLoopBackOff, ...).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "autoscaler/orchestrator.h"
#include "common/clock.h"
#include "common/status.h"

namespace tidemark::autoscaler {

struct RolloutReport {
  int32_t desired = 0;
  int32_t ready = 0;                  // Ready replicas at the last observation.
  bool complete = false;              // ready >= desired before the deadline.
  std::vector<Replica> became_ready;  // New replicas (absent before the scale-out) now ready.
  std::vector<Replica> not_ready;     // New replicas not ready at the end, with their messages.
  std::string last_error;             // Last GetScale failure while polling, "" when none.
  // "3/3 ready" or "2/3 ready; not ready: task x1 (pending: no suitable node (...))".
  std::string Summary() const;
};

// Pure bookkeeping, for callers that poll on their own timer (the agent's event loop): feed it
// each observed ScaleState. Thread-compatible.
class RolloutTracker {
 public:
  // `before`: the replicas that existed before the scale-out (they are not "new").
  RolloutTracker(const std::vector<Replica>& before, int32_t desired);
  // Records an observation; returns true once `desired` replicas are ready.
  bool Observe(const ScaleState& state);
  void ObserveError(const Status& status) { report_.last_error = status.ToString(); }
  const RolloutReport& report() const { return report_; }

 private:
  std::set<std::string> before_;
  RolloutReport report_;
};

// Waits `duration` (real code: sleep or a condition variable; tests: advance a FakeClock).
using WaitFunction = std::function<void(std::chrono::milliseconds)>;

// Polls orchestrator.GetScale(target) every `poll_interval` until `desired` replicas are ready
// or clock.MonotonicNow() reaches `deadline`; a final poll happens at the deadline. Errors only
// when no GetScale succeeded at all (the last error); otherwise the report says what happened.
Result<RolloutReport> CheckRollout(
    Orchestrator& orchestrator, const ScaleTarget& target, const std::vector<Replica>& before,
    int32_t desired, std::chrono::steady_clock::time_point deadline, const Clock& clock,
    const WaitFunction& wait, std::chrono::milliseconds poll_interval = std::chrono::seconds(1));

}  // namespace tidemark::autoscaler
