// The notify half of alerting: Send(alerts) → owner → routes → (Alertmanager: Prometheus' resend
// cadence | others: grouping) → durable outbox → delivery threads. Construct with Create, call
// Start; Send never blocks on the network (a RocksDB write at most).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "alerting/alert.h"
#include "alerting/notify_config.h"
#include "alerting/outbox.h"
#include "alerting/owners.h"
#include "alerting/route.h"
#include "common/clock.h"
#include "common/logging.h"

namespace tidemark::alerting {

// Per-receiver self-metrics (tidemark_alerting_notifications_{sent,failed,dropped}_total{receiver},
// tidemark_alerting_rate_limited_total{receiver}, tidemark_alerting_outbox_pending{receiver}).
struct NotifierReceiverStats {
  std::string type;            // alertmanager, webhook, ...
  uint64_t notifications = 0;  // Written to the outbox.
  uint64_t sent = 0;           // Delivered (2xx).
  uint64_t failed = 0;         // Failed attempts (retried).
  uint64_t dropped = 0;        // Given up (4xx, outbox full, too old, write error).
  uint64_t rate_limited = 0;   // Group notifications deferred by rate_limit.
  uint64_t pending = 0;        // In the outbox now.
  std::string last_error;      // "" = none yet.
  int64_t last_error_ms = 0;   // Unix ms; 0 = never.
};

struct NotifierStats {
  uint64_t alerts_received = 0;  // Alerts passed to Send.
  uint64_t alerts_unrouted = 0;  // Matched no route and no receiver exists.
  size_t outbox_length = 0;      // Pending notifications, all receivers.
  size_t groups = 0;             // Active alert groups.
  std::map<std::string, NotifierReceiverStats> receivers;  // By receiver name.
};

// Thread-safe.
class Notifier final : public AlertSink {
 public:
  // `config` must have passed ValidateNotifyConfig (bad regexes/URLs still fail here with
  // InvalidArgument); `outbox_dir` is its own RocksDB directory (IoError when it cannot open).
  // `deliver` replaces HTTP delivery (tests); default: Deliver() per receiver type.
  static Result<std::unique_ptr<Notifier>> Create(const NotifyConfig& config,
                                                  const std::string& outbox_dir, const Clock& clock,
                                                  ServiceLabelsLookup service_labels = {},
                                                  OutboxDeliverer deliver = {});
  ~Notifier() override;  // Stops; pending notifications stay in the outbox directory.

  // Resolves owners, routes and queues; returns without network I/O.
  void Send(std::vector<Alert> alerts) override;
  // Starts the grouping thread and the delivery threads (idempotent).
  void Start();
  // Stops them; waits for attempts in progress (at most one receiver timeout).
  void Stop();

  // Flushes due groups into the outbox at clock.Now() (the grouping thread calls this; tests
  // without Start call it directly).
  void Tick();
  // Tick, then delivers every due outbox entry on the calling thread (tests without Start).
  size_t RunOnce();

  NotifierStats Stats() const;
  const OwnerResolver& owners() const { return *owners_; }

 private:
  struct AmState {
    int64_t last_sent_ms = 0;
    int64_t sent_ends_at_ms = 0;  // ends_at of the last sent version (0 = sent firing).
    int64_t last_seen_ms = 0;
  };
  Notifier(const NotifyConfig& config, const Clock& clock) : config_(config), clock_(clock) {}
  void EnqueueLocked(OutboxEntry entry);
  void Loop();

  const NotifyConfig config_;
  const Clock& clock_;
  std::unique_ptr<OwnerResolver> owners_;
  std::unique_ptr<Router> router_;
  std::map<std::string, const ReceiverConfig*> receivers_;  // Into config_.receivers.
  std::unique_ptr<Outbox> outbox_;
  RateLimiter log_limiter_{clock_, std::chrono::seconds(60)};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<Dispatcher> dispatcher_;                           // Guarded by mu_.
  std::map<std::string, std::unordered_map<uint64_t, AmState>> am_;  // Guarded by mu_.
  std::map<std::string, NotifierReceiverStats> stats_;               // Guarded by mu_.
  uint64_t alerts_received_ = 0;                                     // Guarded by mu_.
  uint64_t alerts_unrouted_ = 0;                                     // Guarded by mu_.
  bool running_ = false;                                             // Guarded by mu_.
  std::thread thread_;
};

}  // namespace tidemark::alerting
