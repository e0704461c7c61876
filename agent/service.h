// A subsystem the agent runs beside collection and the HTTP API (alerting, the autoscaler,
// application scraping). The agent builds them with MakeServices, starts them before serving,
// routes their HTTP paths, adds their self-metrics to every cycle and stops them at shutdown.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "common/clock.h"
#include "common/http_server.h"
#include "common/oom_event.h"
#include "common/sample_batch.h"
#include "common/status.h"

namespace tidemark::tsdb {
class Db;
}  // namespace tidemark::tsdb
namespace tidemark::promql {
class Engine;
}  // namespace tidemark::promql

namespace tidemark::agent {

// What a service may use; everything outlives the services.
struct ServiceContext {
  const AgentConfig& config;
  const Clock& clock;
  tsdb::Db* db = nullptr;                  // Null when storage is disabled or failed to open.
  const promql::Engine* engine = nullptr;  // Null exactly when db is.
  OomEventHub* oom_events = nullptr;       // Never null: OOM kills from eBPF or cgroup counters.
};

class Service {
 public:
  virtual ~Service() = default;
  virtual std::string_view Name() const = 0;
  // Starts background work; called once, before the agent serves HTTP. A failure stops the agent.
  virtual Status Start() { return Status::Ok(); }
  // Stops and joins background work. Called at shutdown and again by the agent's destructor,
  // also when Start was not called: must be idempotent.
  virtual void Stop() {}
  // Whether `path` is one of this service's HTTP routes. Routes are answered on the query pool
  // (HandleHttp must be thread-safe) and take precedence over the Prometheus API's.
  virtual bool Handles(std::string_view /*path*/) const { return false; }
  virtual void HandleHttp(const HttpRequest& /*req*/, HttpResponse* /*resp*/) {}
  // Adds self-metrics to a cycle's batch; called on the collection thread. They reach /metrics
  // and the store like the collectors' samples.
  virtual void AddMetrics(SampleBatch* /*batch*/) {}
  // Called on the collection thread after a cycle's samples are in the store (fresh data for
  // rules and policies). Must return quickly: hand real work to the service's own thread.
  virtual void OnCycle(int64_t /*timestamp_ms*/) {}
  // Re-reads the service's own files (rule files) on SIGHUP or POST /-/reload, from a query pool
  // thread. What fails to load keeps its previous version; the error says which file and why.
  virtual Status Reload() { return Status::Ok(); }
};

// The services `ctx.config` turns on. InvalidArgument/IoError with a one-line reason when one
// cannot be built (bad rule file, unreadable policy).
Result<std::vector<std::unique_ptr<Service>>> MakeServices(const ServiceContext& ctx);

}  // namespace tidemark::agent
