#include "agent/agent.h"

#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <functional>

#include "agent/remote_write.h"
#include "agent/self_metrics.h"
#include "agent/wiring.h"
#if TIDEMARK_HAVE_EBPF
#include "ebpf/ebpf_collector.h"
#endif

#ifndef TIDEMARK_VERSION
#define TIDEMARK_VERSION "dev"
#endif

namespace tidemark::agent {

Agent::Agent(const AgentConfig& config, const Clock& clock, CollectorSet collectors,
             std::unique_ptr<tsdb::Db> db)
    : config_(config),
      clock_(clock),
      db_(std::move(db)),
      metadata_(std::move(collectors.metadata)),
      warn_limiter_(clock, std::chrono::minutes(1)),
      registry_(std::make_shared<prometheus::Registry>()) {
  if (db_) {
    writer_ = std::make_unique<StoreWriter>(*db_);
    promql::EngineOptions eo;
    eo.lookback_delta = config_.query.lookback_delta;
    eo.timeout = config_.query.timeout;
    eo.max_samples = static_cast<int64_t>(config_.query.max_samples);
    engine_ = std::make_unique<promql::Engine>(db_.get(), eo);
  }
  api_ = std::make_unique<PrometheusApi>(
      db_.get(), engine_.get(),
      [this]() -> std::shared_ptr<const SampleBatch> {
        auto snap = snapshot();
        if (snap == nullptr) return nullptr;
        return std::shared_ptr<const SampleBatch>(snap, &snap->batch());
      },
      clock_, TIDEMARK_VERSION);
  for (auto& c : collectors.collectors) collectors_.push_back(CollectorState{std::move(c), 0});
  ebpf_ = collectors.ebpf;
  oom_events_ = collectors.oom_events ? collectors.oom_events : std::make_shared<OomEventHub>();
  http_requests_ = &prometheus::BuildCounter()
                        .Name("tidemark_http_requests_total")
                        .Help("HTTP requests served, by handler and status code.")
                        .Register(*registry_);
  http_duration_ = &prometheus::BuildHistogram()
                        .Name("tidemark_http_request_duration_seconds")
                        .Help("Time to serve an HTTP request, by handler.")
                        .Register(*registry_);
}

Agent::~Agent() {
  Stop();
  for (auto& s : services_) s->Stop();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::unique_ptr<Agent> Agent::CreateForTest(const AgentConfig& config, const Clock& clock,
                                            CollectorSet collectors, std::unique_ptr<tsdb::Db> db) {
  return std::unique_ptr<Agent>(new Agent(config, clock, std::move(collectors), std::move(db)));
}

void Agent::AddService(std::unique_ptr<Service> service) {
  services_.push_back(std::move(service));
}

ServiceContext Agent::service_context() {
  return ServiceContext{config_, clock_, db_.get(), engine_.get(), oom_events_.get()};
}

Result<std::unique_ptr<Agent>> Agent::Create(const AgentConfig& config, const Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return Status::InvalidArgument("data dir " + config.data_dir +
                                   ": cannot create: " + ec.message());
  }
  std::string lock_path = config.data_dir + "/LOCK";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::InvalidArgument("data dir " + config.data_dir +
                                   ": not writable: " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::Unavailable("data dir " + config.data_dir +
                               ": locked by another tidemark process");
  }
  {
    // Fail on an unusable listen address before the store and collectors start (Run() binds it
    // again; SO_REUSEADDR makes that immediate).
    boost::asio::io_context probe_io(1);
    auto probe =
        HttpServer::Create(probe_io, config.listen, [](const HttpRequest&, HttpResponse*) {});
    if (!probe.ok()) {
      ::close(fd);
      return probe.status();
    }
    (*probe)->Stop();
  }
#ifdef __GLIBC__
  // The store (write batches, memtable arenas) and /metrics make multi-megabyte transient buffers.
  // Once one is freed glibc raises its mmap threshold to its size, so later ones come from the
  // heap and leave it fragmented (+25 MiB RSS measured at 1000 containers); a fixed threshold
  // keeps returning them to the kernel when freed.
  ::mallopt(M_MMAP_THRESHOLD, 128 << 10);
#endif
  std::unique_ptr<tsdb::Db> db;
  bool store_open_failed = false;
  if (config.storage.enabled) {
    tsdb::DbOptions o;
    o.dir = config.data_dir + "/tsdb";
    o.retention = config.storage.retention;
    o.retention_bytes = config.storage.retention_size;
    o.max_series = config.storage.max_series;
    o.sync = config.storage.sync == "always" ? tsdb::SyncMode::kEveryCommit : tsdb::SyncMode::kNone;
    o.min_free_bytes = config.storage.min_free_bytes;
    auto opened = tsdb::Db::Open(o, clock);
    if (!opened.ok() && opened.status().code() == StatusCode::kCorruption) {
      // A damaged store must not turn into a crash loop: keep collecting and serving /metrics,
      // say so loudly, and leave the data as it is for `tidemark tsdb verify`.
      spdlog::error(
          "store: {}. The agent runs WITHOUT its store until it is repaired (README: "
          "\"Recovering a damaged store\"); tidemark_tsdb_open_failed is 1.",
          opened.status().message());
      store_open_failed = true;
    } else if (!opened.ok()) {
      ::close(fd);
      return Status(opened.status().code(), "store: " + opened.status().message());
    } else {
      db = std::move(*opened);
      tsdb::DbStats st = db->Stats();
      spdlog::info("store {}: {} series, replayed {} samples, open took {:.3f} s", o.dir, st.series,
                   st.replayed_samples, st.replay_seconds);
    }
  }
  auto collectors = MakeCollectors(config, clock);
  if (!collectors.ok()) {
    ::close(fd);
    return collectors.status();
  }
  std::unique_ptr<Agent> agent(new Agent(config, clock, std::move(*collectors), std::move(db)));
  agent->store_open_failed_ = store_open_failed;
  agent->lock_fd_ = fd;
  auto services = MakeServices(agent->service_context());
  if (!services.ok()) return services.status();
  for (auto& s : *services) agent->AddService(std::move(s));
  return agent;
}

void Agent::AddStoreMetrics(SampleBatch* b) {
  if (config_.storage.enabled) {
    b->Add(b->Family("tidemark_tsdb_open_failed",
                     "1 when the local store could not be opened (damaged); the agent then runs "
                     "without it.",
                     MetricType::kGauge),
           nullptr, store_open_failed_ ? 1 : 0);
  }
  if (!db_) return;
  tsdb::DbStats st = db_->Stats();
  auto add = [&](std::string_view name, std::string_view help, MetricType type, double v) {
    b->Add(b->Family(name, help, type), nullptr, v);
  };
  add("tidemark_tsdb_head_series", "Active series in the local store.", MetricType::kGauge,
      static_cast<double>(st.series));
  add("tidemark_tsdb_samples_appended_total", "Samples the local store accepted.",
      MetricType::kCounter, static_cast<double>(st.samples_appended));
  add("tidemark_tsdb_out_of_order_samples_total", "Samples rejected as out of order.",
      MetricType::kCounter, static_cast<double>(st.out_of_order));
  add("tidemark_tsdb_duplicate_samples_total",
      "Samples rejected for a timestamp already stored with another value.", MetricType::kCounter,
      static_cast<double>(st.duplicates));
  add("tidemark_tsdb_too_old_samples_total", "Samples rejected as too old.", MetricType::kCounter,
      static_cast<double>(st.too_old));
  add("tidemark_tsdb_series_refused_total", "New series refused by storage.max_series.",
      MetricType::kCounter, static_cast<double>(st.series_refused));
  add("tidemark_tsdb_commits_refused_total",
      "Commits refused for lack of disk space or a write error.", MetricType::kCounter,
      static_cast<double>(st.commits_refused_disk));
  add("tidemark_tsdb_chunks_sealed_total", "Chunks sealed and written to RocksDB.",
      MetricType::kCounter, static_cast<double>(st.chunks_sealed));
  add("tidemark_tsdb_retention_partitions_deleted_total", "Partitions deleted by retention.",
      MetricType::kCounter, static_cast<double>(st.partitions_deleted));
  add("tidemark_tsdb_stale_markers_total", "Staleness markers written for vanished series.",
      MetricType::kCounter, stale_markers_);
  add("tidemark_tsdb_write_errors_total", "Collection cycles the store could not write.",
      MetricType::kCounter, store_write_errors_);
  const size_t mem = b->Family("tidemark_tsdb_memory_bytes",
                               "Memory of the local store by component: RocksDB's memtables, "
                               "block cache and table readers, the head's open chunks.",
                               MetricType::kGauge);
  b->Add(mem, nullptr, {{"component", "memtables"}}, static_cast<double>(st.memtable_bytes));
  b->Add(mem, nullptr, {{"component", "block_cache"}}, static_cast<double>(st.block_cache_bytes));
  b->Add(mem, nullptr, {{"component", "table_readers"}},
         static_cast<double>(st.table_reader_bytes));
  b->Add(mem, nullptr, {{"component", "head_chunks"}}, static_cast<double>(st.head_chunk_bytes));
}

void Agent::CollectOnce() {
  SampleBatch batch;
  // Stamp samples on the scheduled tick, not on now(): jitter costs ~1.7 B/sample on disk.
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  const int64_t step = std::max<int64_t>(1, config_.interval.count());
  // Snap to the interval's grid so jitter of the wake-up does not move samples off it, but never
  // more than half a second into the future (an hourly interval must not stamp 08:52 as 09:00).
  const int64_t slack = std::min<int64_t>(step / 2, 500);
  batch.set_timestamp_ms((now_ms + slack) / step * step);
  auto cycle_start = clock_.MonotonicNow();
  struct Outcome {
    std::string_view name;
    double seconds;
    bool ok;
  };
  std::vector<Outcome> outcomes;
  outcomes.reserve(collectors_.size());
  for (CollectorState& cs : collectors_) {
    auto start = clock_.MonotonicNow();
    Status st;
    try {
      st = cs.collector->Collect(&batch);
    } catch (const std::exception& e) {
      st = Status::Internal(std::string("collector threw: ") + e.what());
    }
    double secs = std::chrono::duration<double>(clock_.MonotonicNow() - start).count();
    if (!st.ok()) {
      cs.errors_total += 1;
      uint64_t suppressed = 0;
      if (warn_limiter_.Allow(cs.collector->Name(), &suppressed)) {
        spdlog::warn("collector {} failed: {} ({} similar warnings suppressed)",
                     cs.collector->Name(), st.ToString(), suppressed);
      }
    }
    outcomes.push_back(Outcome{cs.collector->Name(), secs, st.ok()});
  }
  ++cycles_total_;
  size_t series = batch.SampleCount();

  size_t dur = batch.Family("tidemark_collector_duration_seconds",
                            "Time the collector took in the last cycle.", MetricType::kGauge);
  size_t ok = batch.Family("tidemark_collector_success",
                           "Whether the collector succeeded in the last cycle (1) or not (0).",
                           MetricType::kGauge);
  size_t err =
      batch.Family("tidemark_collector_errors_total",
                   "Collection cycles in which the collector failed.", MetricType::kCounter);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    Labels l = {Label{"collector", std::string(outcomes[i].name)}};
    batch.Add(dur, nullptr, l, outcomes[i].seconds);
    batch.Add(ok, nullptr, l, outcomes[i].ok ? 1 : 0);
    batch.Add(err, nullptr, l, collectors_[i].errors_total);
  }
  batch.Add(batch.Family("tidemark_collection_cycles_total", "Collection cycles run.",
                         MetricType::kCounter),
            nullptr, cycles_total_);
  batch.Add(
      batch.Family("tidemark_collection_duration_seconds",
                   "Time the last collection cycle took, all collectors.", MetricType::kGauge),
      nullptr, std::chrono::duration<double>(clock_.MonotonicNow() - cycle_start).count());
  batch.Add(
      batch.Family("tidemark_collection_series",
                   "Series produced by the collectors in the last cycle.", MetricType::kGauge),
      nullptr, static_cast<double>(series));
  batch.Add(batch.Family("tidemark_build_info",
                         "A metric with a constant 1 value labelled by the tidemark version.",
                         MetricType::kGauge),
            nullptr, {Label{"version", TIDEMARK_VERSION}}, 1);

  for (auto& s : services_) s->AddMetrics(&batch);
  AddStoreMetrics(&batch);
  if (writer_) {
    auto written = writer_->Write(batch);
    if (!written.ok()) {
      store_write_errors_ += 1;
      uint64_t suppressed = 0;
      if (warn_limiter_.Allow("tsdb", &suppressed)) {
        spdlog::warn("store: cycle not written: {} ({} similar warnings suppressed)",
                     written.status().ToString(), suppressed);
      }
    } else {
      stale_markers_ += static_cast<double>(written->stale_markers);
    }
    auto now = clock_.MonotonicNow();
    if (now - last_retention_ >= std::chrono::minutes(1)) {
      last_retention_ = now;
      Status rs = db_->ApplyRetention();
      if (!rs.ok() && warn_limiter_.Allow("tsdb-retention")) {
        spdlog::warn("store: retention failed: {}", rs.ToString());
      }
    }
  }

  const int64_t cycle_ts = batch.timestamp_ms();
  auto snap = std::make_shared<const Snapshot>(std::move(batch));
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snap);
  }
  for (auto& s : services_) s->OnCycle(cycle_ts);
}

std::shared_ptr<const Snapshot> Agent::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

void Agent::ServeMetrics(const HttpRequest& req, HttpResponse* resp) {
  auto snap = snapshot();
  if (snap == nullptr) {
    resp->status = 503;
    resp->body = "no collection has completed yet\n";
    return;
  }
  ExpositionFormat format = NegotiateFormat(req.Header("Accept"));
  SampleBatch self;
  auto stats = ReadSelfStats("/proc");
  if (stats.ok()) AddProcessMetrics(*stats, &self);
  AddRegistryMetrics(*registry_, &self);
  // Reserved from the last body (a little over, series come and go): growing a MiB-sized string
  // by doubling would copy it and briefly hold both.
  const size_t hint = metrics_bytes_hint_.load(std::memory_order_relaxed);
  resp->body.reserve(hint != 0 ? hint + hint / 16 : snap->batch().SampleCount() * 200 + 4096);
  const SampleBatch* collected[] = {&snap->batch()};
  RenderExposition(collected, format, &resp->body);
  const SampleBatch* batches[] = {&self};
  RenderExposition(batches, format, &resp->body);
  FinishExposition(format, &resp->body);
  metrics_bytes_hint_.store(resp->body.size(), std::memory_order_relaxed);
  resp->content_type = std::string(format == ExpositionFormat::kText004 ? kText004ContentType
                                                                        : kOpenMetricsContentType);
}

Service* Agent::ServiceFor(std::string_view path) const {
  for (const auto& s : services_) {
    if (s->Handles(path)) return s.get();
  }
  return nullptr;
}

Status Agent::ReloadServices() {
  std::string errors;
  for (const auto& s : services_) {
    if (Status st = s->Reload(); !st.ok()) {
      errors += (errors.empty() ? "" : "; ") + std::string(s->Name()) + ": " + st.message();
    }
  }
  if (!errors.empty()) return Status::InvalidArgument(errors);
  return Status::Ok();
}

void Agent::HandleHttpAsync(HttpRequest req, HttpRespond respond) {
  bool slow = req.path == "/api/v1/write" || req.path == "/-/reload" ||
              ServiceFor(req.path) != nullptr ||
              (PrometheusApi::Handles(req.path) && PrometheusApi::IsSlow(req.path));
  if (query_pool_ != nullptr && slow) {
    boost::asio::post(*query_pool_, [this, req = std::move(req), respond = std::move(respond)] {
      // An exception escaping a pool thread would terminate the agent: answer it instead.
      HttpResponse resp;
      try {
        HandleHttp(req, &resp);
      } catch (const std::bad_alloc&) {
        resp = HttpResponse{};
        resp.status = 503;
        resp.body = "out of memory handling the request\n";
      } catch (const std::exception& e) {
        resp = HttpResponse{};
        resp.status = 500;
        resp.body = std::string("internal error: ") + e.what() + "\n";
      }
      respond(std::move(resp));
    });
    return;
  }
  HttpResponse resp;
  HandleHttp(req, &resp);
  respond(std::move(resp));
}

void Agent::HandleHttp(const HttpRequest& req, HttpResponse* resp) {
  auto start = clock_.MonotonicNow();
  std::string handler = req.path;
  if (req.path == "/api/v1/write") {
    HandleRemoteWrite(req.body, req, db_.get()).ToHttp(resp);
  } else if (Service* service = ServiceFor(req.path); service != nullptr) {
    handler = PrometheusApi::Handles(req.path) ? PrometheusApi::RouteLabel(req.path) : req.path;
    service->HandleHttp(req, resp);
  } else if (PrometheusApi::Handles(req.path)) {
    // Label by route, never by raw path (label values would be unbounded).
    handler = PrometheusApi::RouteLabel(req.path);
    api_->Serve(req, resp);
  } else if (req.path == "/-/reload") {
    // Prometheus' lifecycle endpoint: POST or PUT re-reads the rule files.
    if (req.method != "POST" && req.method != "PUT") {
      resp->status = 405;
      resp->headers.emplace_back("Allow", "POST, PUT");
      resp->body = "method not allowed: POST or PUT /-/reload\n";
    } else if (Status st = ReloadServices(); !st.ok()) {
      resp->status = 500;
      resp->body = "failed to reload: " + st.message() + "\n";
    }
  } else if (req.method != "GET" && req.method != "HEAD") {
    resp->status = 405;
    resp->headers.emplace_back("Allow", "GET, HEAD");
    resp->body = "method not allowed\n";
  } else if (req.path == "/metrics") {
    ServeMetrics(req, resp);
  } else if (req.path == "/healthz" || req.path == "/-/healthy") {
    resp->body = "ok\n";
  } else if (req.path == "/-/ready") {
    if (snapshot() == nullptr) {
      resp->status = 503;
      resp->body = "not ready: no collection has completed yet\n";
    } else {
      resp->body = "ready\n";
    }
  } else if (req.path == "/") {
    resp->content_type = "text/html; charset=utf-8";
    resp->body =
        "<html><head><title>tidemark</title></head><body><h1>tidemark " TIDEMARK_VERSION
        "</h1><ul><li><a href=\"/metrics\">/metrics</a></li><li><a href=\"/healthz\">/healthz"
        "</a></li><li><a href=\"/-/ready\">/-/ready</a></li></ul></body></html>\n";
  } else {
    handler = "other";
    resp->status = 404;
    resp->body = "not found: " + req.path + "\n";
  }
  if (req.method == "HEAD") resp->body.clear();
  double secs = std::chrono::duration<double>(clock_.MonotonicNow() - start).count();
  http_requests_->Add({{"handler", handler}, {"code", std::to_string(resp->status)}}).Increment();
  http_duration_
      ->Add({{"handler", handler}},
            prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                    1, 2.5})
      .Observe(secs);
}

void Agent::CollectionLoop() {
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    next += config_.interval;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_until(lock, next, [&] { return stopping_; })) return;
    }
    CollectOnce();
    auto now = std::chrono::steady_clock::now();
    if (now > next + config_.interval) {
      // Fell behind by more than a cycle (slow collectors): skip the missed ticks.
      next = now;
    }
  }
}

Status Agent::Run() {
  boost::asio::io_context io(1);
  query_pool_ = std::make_unique<boost::asio::thread_pool>(config_.query.max_concurrency);
  auto server = HttpServer::CreateAsync(
      io, config_.listen,
      [this](HttpRequest req, HttpRespond respond) {
        HandleHttpAsync(std::move(req), std::move(respond));
      },
      HttpServerOptions{.max_connections = config_.max_connections});
  if (!server.ok()) {
    query_pool_->join();
    query_pool_.reset();
    return server.status();
  }
  port_ = (*server)->port();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (!ec) spdlog::info("received signal {}, shutting down", sig);
    Stop();
  });
  // SIGHUP re-reads the rule files, as Prometheus does; on the query pool (a reload waits for a
  // rule evaluation in progress), never on this loop.
  boost::asio::signal_set hangup(io, SIGHUP);
  std::function<void()> wait_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      spdlog::info("received SIGHUP, reloading rule files");
      boost::asio::post(*query_pool_, [this] {
        if (Status st = ReloadServices(); !st.ok()) {
          spdlog::error("reload failed: {}", st.message());
        }
      });
      wait_hangup();
    });
  };
  wait_hangup();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      (*server)->Stop();
      query_pool_->join();
      query_pool_.reset();
      return Status::Ok();
    }
    stop_io_ = [&io] { io.stop(); };
  }
#if TIDEMARK_HAVE_EBPF
  // OOM kills are read from the eBPF ring buffer as they happen, on this loop (its epoll fd).
  std::unique_ptr<boost::asio::posix::stream_descriptor> oom_events;
  std::function<void()> wait_oom;
  if (ebpf_ != nullptr && ebpf_->oom_fd() >= 0) {
    int fd = ::dup(ebpf_->oom_fd());
    if (fd >= 0) {
      oom_events = std::make_unique<boost::asio::posix::stream_descriptor>(io, fd);
      wait_oom = [&] {
        oom_events->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                               [&](const boost::system::error_code& ec) {
                                 if (ec) return;
                                 // Re-arm before draining: the fd is edge-triggered, so an event
                                 // landing after the drain must find the wait registered.
                                 wait_oom();
                                 auto polled = ebpf_->PollOom(0);
                                 if (!polled.ok() && warn_limiter_.Allow("ebpf-oom")) {
                                   spdlog::warn("ebpf: reading OOM events: {}",
                                                polled.status().ToString());
                                 }
                               });
      };
      wait_oom();
    }
  }
#endif
  size_t started = 0;
  for (; started < services_.size(); ++started) {
    Status st = services_[started]->Start();
    if (!st.ok()) {
      spdlog::error("{}: cannot start: {}", services_[started]->Name(), st.ToString());
      for (auto& s : services_) s->Stop();
      (*server)->Stop();
      query_pool_->join();
      query_pool_.reset();
      return st;
    }
  }
  CollectOnce();
  std::thread collector([this] { CollectionLoop(); });
  spdlog::info("tidemark {} listening on {} (port {}), collecting every {} ms with {} collectors",
               TIDEMARK_VERSION, config_.listen, port_.load(), config_.interval.count(),
               collectors_.size());
  io.run();
  (*server)->Stop();
  // Queued requests are dropped; queries in flight finish (bounded by query.timeout).
  query_pool_->stop();
  query_pool_->join();
  query_pool_.reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    stop_io_ = nullptr;
  }
  cv_.notify_all();
  collector.join();
  for (auto& s : services_) s->Stop();
  spdlog::info("tidemark stopped");
  return Status::Ok();
}

void Agent::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  if (stop_io_) stop_io_();
  cv_.notify_all();
}

}  // namespace tidemark::agent
