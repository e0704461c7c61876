// OOM-kill alerts raised from the OomEventHub's events, as the alerting service runs them: firing
// at once, re-sent while active, resolved `resolve_after` after the container's last kill, then
// re-sent as resolved for 15 m; optionally kept in a state file so a restart keeps them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "alerting/alert.h"
#include "alerting/owners.h"
#include "alerting/rules.h"
#include "common/clock.h"
#include "common/oom_event.h"

namespace tidemark::agent {

inline constexpr int64_t kResolvedRetentionMs = 15 * 60 * 1000;  // Prometheus' resolvedRetention.
inline constexpr char kOomGroup[] = "tidemark.oom";
inline constexpr char kOomAlertName[] = "ContainerOOMKilled";

// Thread-safe; shared with the hub's handler, which may outlive the service: Detach() cuts it
// off. With a `state_path`, the firing and recently resolved alerts survive a restart: the state
// is written after the tick that follows a change (outside the lock: event handlers and the API
// never wait for the disk) and at Detach, and read back at construction. A state file that
// cannot be read, or holds anything but well-formed OOM alerts, is logged and set aside as
// `<state_path>.bad`.
class OomAlerts {
 public:
  // `sink` null: alerting of OOM kills is off (events are ignored, nothing is persisted);
  // `owners` may be null; `state_path` "" = not persisted.
  OomAlerts(alerting::AlertSink* sink, const alerting::OwnerResolver* owners, const Clock& clock,
            std::chrono::milliseconds resolve_after, std::string generator_url,
            std::string state_path);

  // A kill: a new firing alert, or another kill of a firing one (same alert, newest details,
  // original start), sent to the sink at once.
  void OnEvent(const OomEvent& e);
  // Once a second: resolves the alerts whose last kill is `resolve_after` old (ending then, also
  // when the agent was down at that time), re-sends the firing and recently resolved ones, and
  // saves the state when it changed.
  void Tick();
  // Saves a changed state and stops sending; events after this are ignored.
  void Detach();

  uint64_t events() const;  // Events received since construction.
  // The firing OOM alerts as a rule group for /api/v1/rules and /api/v1/alerts.
  alerting::GroupSnapshot Snapshot() const;

 private:
  struct Active {
    alerting::Alert alert;
    uint64_t kills = 0;
    int64_t last_kill_ms = 0;
  };
  // The state as the file holds it, and a generation to write it under; "" when unchanged or
  // not persisted. mu_ held.
  std::string TakeStateLocked(uint64_t* generation);
  // Writes a state taken by TakeStateLocked unless a newer one was written. mu_ not held.
  void Write(const std::string& state, uint64_t generation);
  void Restore();

  mutable std::mutex mu_;
  alerting::AlertSink* sink_;  // Guarded by mu_; null once detached.
  const alerting::OwnerResolver* owners_;
  const Clock& clock_;
  const int64_t resolve_after_ms_;
  const std::string generator_url_;
  const std::string state_path_;
  std::map<uint64_t, Active> active_;             // Guarded by mu_.
  std::map<uint64_t, alerting::Alert> resolved_;  // Guarded by mu_.
  uint64_t events_ = 0;                           // Guarded by mu_.
  bool dirty_ = false;                            // Guarded by mu_: changed since last taken.
  uint64_t generation_ = 0;                       // Guarded by mu_: of the last state taken.

  std::mutex save_mu_;          // Serializes Write.
  uint64_t written_ = 0;        // Guarded by save_mu_: generation on disk.
  uint64_t failed_writes_ = 0;  // Guarded by save_mu_: in a row (logged once per run).
};

}  // namespace tidemark::agent
