// Durable, bounded outbox of notifications in its own RocksDB directory. Every notification is
// written before it is sent and deleted after the receiver accepted it; failures are retried with
// exponential backoff and jitter, also after a restart (pending entries are reloaded on open).
// At-least-once: receivers may see a notification twice (after a crash between the 2xx and the
// delete); each carries a stable idempotency key.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "alerting/receivers.h"
#include "common/clock.h"
#include "common/status.h"

namespace rocksdb {
class DB;
}

namespace tidemark::alerting {

struct OutboxEntry {
  // Supersede key: enqueuing a key that is already pending replaces the pending entry (a group's
  // or an alert's newer state wins, so a receiver never gets states out of order).
  std::string key;
  // Sent as the Idempotency-Key header: receiver + group key + status + hash of the fingerprints,
  // stable across retries and restarts. Default: "" = `key`.
  std::string idempotency_key;
  std::string receiver;  // Receiver name; one delivery thread per receiver.
  std::string url;       // Full URL to POST to.
  std::string body;      // JSON payload.
  int64_t created_ms = 0;
  int64_t next_attempt_ms = 0;  // Wall-clock ms of the next attempt.
  uint32_t attempts = 0;        // Failed attempts so far.
  std::string last_error;
};

struct OutboxOptions {
  std::string dir;  // RocksDB directory, created if missing (e.g. <data_dir>/alerting/outbox).
  // Pending entries kept; past it the oldest is dropped and counted. Default: 10000.
  size_t max_entries = 10000;
  std::chrono::milliseconds initial_backoff{1000};  // First retry delay. Default: 1 s.
  std::chrono::milliseconds max_backoff{300000};    // Cap of the doubling delay. Default: 5 m.
  // Each delay is shortened by up to this fraction at random (0 = none). Default: 0.2.
  double jitter = 0.2;
  // Entries still undelivered after this long are dropped and counted. Default: 24 h.
  std::chrono::milliseconds max_age{24 * 3600 * 1000};
};

// Per-receiver counters for self-metrics (tidemark_alerting_notifications_*).
struct OutboxReceiverStats {
  uint64_t sent = 0;     // Notifications delivered (2xx).
  uint64_t failed = 0;   // Failed attempts (each retry counts).
  uint64_t dropped = 0;  // Given up: 4xx, overflow, too old, receiver gone.
  uint64_t pending = 0;  // Entries waiting now.
  std::string last_error;
  int64_t last_error_ms = 0;  // 0 = never.
};

// Sends one entry; called on the receiver's delivery thread (or in ProcessDue).
using OutboxDeliverer = std::function<DeliveryResult(const OutboxEntry&)>;

// Thread-safe. Delivery runs on one thread per receiver URL after Start(), so a slow receiver
// holds up only itself; after a retryable failure a URL is probed with one entry per backoff step
// rather than all of its entries. Enqueue never waits for the network (one RocksDB write).
class Outbox {
 public:
  // IoError/Corruption naming the directory when RocksDB cannot open it.
  static Result<std::unique_ptr<Outbox>> Open(OutboxOptions options, const Clock& clock,
                                              OutboxDeliverer deliver);
  ~Outbox();  // Stops the threads; pending entries stay on disk.

  // Persists and schedules `entry` for an immediate attempt. IoError when the write fails.
  Status Enqueue(OutboxEntry entry);
  // Starts the delivery threads (idempotent).
  void Start();
  // Stops them, waiting for attempts in progress (at most one receiver timeout).
  void Stop();
  // Delivers every entry due at clock.Now(), on the calling thread; for tests without Start().
  // Returns the number of attempts made.
  size_t ProcessDue();

  size_t size() const;
  std::map<std::string, OutboxReceiverStats> Stats() const;
  // Copies of the pending entries, oldest first (tests, status pages).
  std::vector<OutboxEntry> Pending() const;

 private:
  struct Lane;
  Outbox(OutboxOptions options, const Clock& clock, OutboxDeliverer deliver);
  int64_t NowMs() const;
  Status Persist(uint64_t seq, const OutboxEntry& e);
  void Erase(uint64_t seq);  // mu_ held.
  void DropLocked(uint64_t seq, const std::string& why);
  // Picks the due entry of lane `lane` (any lane when empty) with the earliest attempt time;
  // false when none is due, setting *next_ms to the earliest future attempt (or INT64_MAX).
  bool PickLocked(const std::string& lane, uint64_t* seq, int64_t* next_ms);
  void Attempt(uint64_t seq, std::unique_lock<std::mutex>& lock);
  void EnsureLaneLocked(const std::string& key);
  void LaneLoop(Lane* lane);
  std::chrono::milliseconds Backoff(uint32_t attempts);

  const OutboxOptions options_;
  const Clock& clock_;
  const OutboxDeliverer deliver_;
  std::unique_ptr<rocksdb::DB> db_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, OutboxEntry> entries_;             // By sequence. Guarded by mu_.
  std::unordered_map<std::string, uint64_t> by_key_;    // Guarded by mu_.
  std::map<std::string, OutboxReceiverStats> stats_;    // Guarded by mu_.
  std::map<std::string, std::unique_ptr<Lane>> lanes_;  // By LaneKey. Guarded by mu_.
  // A lane whose last attempt failed is not tried again before this. Guarded by mu_.
  std::map<std::string, int64_t> blocked_until_;
  uint64_t next_seq_ = 1;                        // Guarded by mu_.
  bool running_ = false;                         // Guarded by mu_.
  std::mt19937_64 rng_{std::random_device{}()};  // Guarded by mu_.
};

}  // namespace tidemark::alerting
