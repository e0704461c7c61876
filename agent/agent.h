// The node agent: runs the collectors every interval, publishes an immutable snapshot, and serves
// /metrics, /healthz, /-/ready and the Prometheus API (/api/v1/*) over HTTP until SIGINT/SIGTERM.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/api.h"
#include "agent/config.h"
#include "agent/exposition.h"
#include "agent/service.h"
#include "agent/store_writer.h"
#include "agent/wiring.h"
#include "collector/collector.h"
#include "common/clock.h"
#include "common/host_paths.h"
#include "common/http_server.h"
#include "common/logging.h"
#include "common/oom_event.h"
#include "common/sample_batch.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"

namespace boost::asio {
class thread_pool;
}

namespace tidemark::agent {

// One collection cycle's output. Immutable once published. /metrics renders it straight into
// each response: a rendered copy kept per snapshot would stay resident (MiBs at 1000 containers)
// for the whole interval.
class Snapshot {
 public:
  explicit Snapshot(SampleBatch batch) : batch_(std::move(batch)) {}
  const SampleBatch& batch() const { return batch_; }

 private:
  SampleBatch batch_;
};

class Agent {
 public:
  // Builds the collectors `config` asks for and checks the data dir (created when missing, must be
  // writable, locked against a second agent). Fails with a one-line reason.
  static Result<std::unique_ptr<Agent>> Create(const AgentConfig& config, const Clock& clock);
  // For tests: the given collectors instead of those the config names; no data dir checks and
  // no services (add them with AddService).
  static std::unique_ptr<Agent> CreateForTest(const AgentConfig& config, const Clock& clock,
                                              CollectorSet collectors,
                                              std::unique_ptr<tsdb::Db> db = nullptr);
  ~Agent();

  // Adds a service before Run(); the agent owns it from then on.
  void AddService(std::unique_ptr<Service> service);
  // The context services are built with (config, clock, store, engine, OOM events).
  ServiceContext service_context();
  // OOM kills from whichever source is up; collectors publish, services subscribe.
  OomEventHub& oom_events() { return *oom_events_; }

  // Binds the listen address, collects once, then runs until Stop() or SIGINT/SIGTERM. Returns
  // Unavailable when the address cannot be bound.
  Status Run();
  // Thread-safe; makes Run() return.
  void Stop();
  // The bound HTTP port once Run() has started serving (0 before).
  uint16_t port() const { return port_.load(); }

  // One collection cycle: runs every collector, records its duration and success, publishes the
  // snapshot. Called by the collection thread; tests call it directly.
  void CollectOnce();
  // The latest snapshot, or null before the first cycle. Thread-safe.
  std::shared_ptr<const Snapshot> snapshot() const;
  // The local store, or null when storage is disabled.
  tsdb::Db* db() const { return db_.get(); }
  // Routes one HTTP request and answers it on the calling thread. Thread-safe.
  void HandleHttp(const HttpRequest& req, HttpResponse* resp);
  // The server's entry point: API requests that evaluate PromQL or scan the store run on the
  // query pool (query.max_concurrency threads) so they never hold up /metrics or /healthz; the
  // rest are answered at once.
  void HandleHttpAsync(HttpRequest req, HttpRespond respond);

 private:
  Agent(const AgentConfig& config, const Clock& clock, CollectorSet collectors,
        std::unique_ptr<tsdb::Db> db);
  void AddStoreMetrics(SampleBatch* batch);
  void CollectionLoop();
  void ServeMetrics(const HttpRequest& req, HttpResponse* resp);
  // The service whose route `path` is, or null.
  Service* ServiceFor(std::string_view path) const;
  // Every service's Reload (SIGHUP, POST /-/reload); the errors of those that failed, joined.
  Status ReloadServices();

  struct CollectorState {
    std::unique_ptr<collector::Collector> collector;
    double errors_total = 0;
  };

  const AgentConfig config_;
  const Clock& clock_;
  std::unique_ptr<tsdb::Db> db_;                            // Outlives writer_.
  std::unique_ptr<StoreWriter> writer_;                     // Collection thread only.
  double store_write_errors_ = 0;                           // Collection thread only.
  bool store_open_failed_ = false;                          // Set once in Create().
  double stale_markers_ = 0;                                // Collection thread only.
  std::chrono::steady_clock::time_point last_retention_{};  // Collection thread only.
  std::unique_ptr<collector::MetadataProvider> metadata_;   // Outlives collectors_.
  std::vector<CollectorState> collectors_;                  // Used by the collection thread only.
  // Owned by collectors_; its OOM ring buffer is read by Run().
  ebpf::EbpfCollector* ebpf_ = nullptr;
  double cycles_total_ = 0;  // Collection thread only.
  RateLimiter warn_limiter_;
  int lock_fd_ = -1;

  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // Guarded by mu_.
  std::condition_variable cv_;
  bool stopping_ = false;  // Guarded by mu_.

  std::atomic<uint16_t> port_{0};
  // Size of the last /metrics body, to reserve the next one in one allocation.
  std::atomic<size_t> metrics_bytes_hint_{0};
  std::function<void()> stop_io_;  // Set while Run() serves; guarded by mu_.

  std::unique_ptr<promql::Engine> engine_;                // Null without a store; reads db_.
  std::unique_ptr<PrometheusApi> api_;                    // Always set; uses engine_.
  std::unique_ptr<boost::asio::thread_pool> query_pool_;  // Set while Run() serves.

  std::shared_ptr<OomEventHub> oom_events_;         // Never null; shared with the collectors.
  std::vector<std::unique_ptr<Service>> services_;  // Fixed once Run() starts.

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* http_requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* http_duration_ = nullptr;
};

}  // namespace tidemark::agent
