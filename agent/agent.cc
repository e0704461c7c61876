#include "agent/agent.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <filesystem>

#include "agent/self_metrics.h"
#include "agent/wiring.h"

#ifndef TIDEMARK_VERSION
#define TIDEMARK_VERSION "dev"
#endif

namespace tidemark::agent {

const std::string& Snapshot::Rendered(ExpositionFormat format) const {
  int i = format == ExpositionFormat::kText004 ? 0 : 1;
  std::call_once(once_[i], [&] {
    const SampleBatch* batches[] = {&batch_};
    rendered_[i].reserve(batch_.SampleCount() * 160);
    RenderExposition(batches, format, &rendered_[i]);
  });
  return rendered_[i];
}

Agent::Agent(const AgentConfig& config, const Clock& clock, CollectorSet collectors)
    : config_(config),
      clock_(clock),
      metadata_(std::move(collectors.metadata)),
      warn_limiter_(clock, std::chrono::minutes(1)),
      registry_(std::make_shared<prometheus::Registry>()) {
  for (auto& c : collectors.collectors) collectors_.push_back(CollectorState{std::move(c), 0});
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
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::unique_ptr<Agent> Agent::CreateForTest(const AgentConfig& config, const Clock& clock,
                                            CollectorSet collectors) {
  return std::unique_ptr<Agent>(new Agent(config, clock, std::move(collectors)));
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
  auto collectors = MakeCollectors(config, clock);
  if (!collectors.ok()) {
    ::close(fd);
    return collectors.status();
  }
  std::unique_ptr<Agent> agent(new Agent(config, clock, std::move(*collectors)));
  agent->lock_fd_ = fd;
  return agent;
}

void Agent::CollectOnce() {
  SampleBatch batch;
  batch.set_timestamp_ms(ToUnixMillis(clock_.Now()));
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

  auto snap = std::make_shared<const Snapshot>(std::move(batch));
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = std::move(snap);
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
  const std::string& body = snap->Rendered(format);
  resp->body.reserve(body.size() + 4096);
  resp->body = body;
  const SampleBatch* batches[] = {&self};
  RenderExposition(batches, format, &resp->body);
  FinishExposition(format, &resp->body);
  resp->content_type = std::string(format == ExpositionFormat::kText004 ? kText004ContentType
                                                                        : kOpenMetricsContentType);
}

void Agent::HandleHttp(const HttpRequest& req, HttpResponse* resp) {
  auto start = clock_.MonotonicNow();
  std::string handler = req.path;
  if (req.method != "GET" && req.method != "HEAD") {
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
  auto server = HttpServer::Create(
      io, config_.listen,
      [this](const HttpRequest& req, HttpResponse* resp) { HandleHttp(req, resp); },
      HttpServerOptions{.max_connections = config_.max_connections});
  if (!server.ok()) return server.status();
  port_ = (*server)->port();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (!ec) spdlog::info("received signal {}, shutting down", sig);
    Stop();
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Ok();
    stop_io_ = [&io] { io.stop(); };
  }
  CollectOnce();
  std::thread collector([this] { CollectionLoop(); });
  spdlog::info("tidemark {} listening on {} (port {}), collecting every {} ms with {} collectors",
               TIDEMARK_VERSION, config_.listen, port_.load(), config_.interval.count(),
               collectors_.size());
  io.run();
  (*server)->Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    stop_io_ = nullptr;
  }
  cv_.notify_all();
  collector.join();
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
