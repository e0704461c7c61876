#include "agent/scrape_service.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "collector/scraper.h"
#include "common/duration.h"
#include "common/host_paths.h"
#include "common/logging.h"

namespace tidemark::agent {

namespace {

// "2026-01-02T03:04:05.678Z".
std::string Rfc3339Millis(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf, n) + "." + std::to_string(1000 + (ms - secs * 1000)).substr(1) + "Z";
}

class DbScrapeAppender final : public collector::ScrapeAppender {
 public:
  explicit DbScrapeAppender(tsdb::Db& db) : app_(db.NewAppender()) {}
  uint64_t Add(const Labels& labels, int64_t t_ms, double v) override {
    return app_.Add(labels, t_ms, v);
  }
  bool AddRef(uint64_t ref, int64_t t_ms, double v) override { return app_.AddRef(ref, t_ms, v); }
  void AddStale(uint64_t ref, int64_t t_ms) override { app_.AddRef(ref, t_ms, tsdb::StaleNaN()); }
  Status Commit() override {
    auto r = app_.Commit();
    return r.ok() ? Status::Ok() : r.status();
  }

 private:
  tsdb::Db::Appender app_;
};

class ScrapeService final : public Service {
 public:
  ScrapeService(const ServiceContext& ctx, std::vector<collector::ScrapeTarget> static_targets)
      : config_(ctx.config.scrape),
        agent_interval_(ctx.config.interval),
        clock_(ctx.clock),
        store_(*ctx.db),
        static_targets_(std::move(static_targets)),
        scraper_(ctx.clock, store_, fetcher_,
                 collector::ScraperOptions{.workers = ctx.config.scrape.max_concurrency}),
        limiter_(ctx.clock, std::chrono::minutes(5)) {
    const HostPaths paths = HostPaths::Under(ctx.config.host_root);
    docker_socket_ = (ctx.config.host_root == "/" ? "" : paths.root) + ctx.config.docker.socket;
    for (const auto& job : ctx.config.scrape.jobs) known_jobs_.insert(job.job_name);
  }
  ~ScrapeService() override { Stop(); }

  std::string_view Name() const override { return "scrape"; }

  Status Start() override {
    scraper_.SetTargets(static_targets_);
    scraper_.Start();
    if (config_.docker_sd.enabled) {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = false;
      discovery_ = std::thread([this] { DiscoveryLoop(); });
    }
    spdlog::info("scrape: {} static targets{}", static_targets_.size(),
                 config_.docker_sd.enabled ? ", Docker discovery on " + docker_socket_ : "");
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (discovery_.joinable()) discovery_.join();
    scraper_.Stop();
  }

  // Prometheus' GET /api/v1/targets (active targets; nothing is dropped by relabeling here).
  bool Handles(std::string_view path) const override { return path == "/api/v1/targets"; }
  void HandleHttp(const HttpRequest& /*req*/, HttpResponse* resp) override {
    nlohmann::json active = nlohmann::json::array();
    for (const auto& t : scraper_.Targets()) {
      nlohmann::json labels = nlohmann::json::object();
      for (const Label& l : t.labels) labels[l.name] = l.value;
      active.push_back({
          {"discoveredLabels", nlohmann::json::object()},
          {"labels", std::move(labels)},
          {"scrapePool", t.job},
          {"scrapeUrl", t.scrape_url},
          {"globalUrl", t.scrape_url},
          {"lastError", t.last_error},
          {"lastScrape", t.scraped ? Rfc3339Millis(t.last_scrape_ms) : "0001-01-01T00:00:00Z"},
          {"lastScrapeDuration", t.last_duration_seconds},
          {"health", !t.scraped ? "unknown"
                     : t.up     ? "up"
                                : "down"},
          {"scrapeInterval", FormatDuration(t.interval)},
          {"scrapeTimeout", FormatDuration(t.timeout)},
      });
    }
    nlohmann::json body = {
        {"status", "success"},
        {"data",
         {{"activeTargets", std::move(active)}, {"droppedTargets", nlohmann::json::array()}}}};
    resp->content_type = "application/json";
    // lastError may quote a target's raw bytes: replace invalid UTF-8 rather than throw.
    resp->body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  void AddMetrics(SampleBatch* batch) override {
    std::map<std::string, JobCounters> jobs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const std::string& job : known_jobs_) jobs[job];  // Jobs stay listed once seen.
    }
    for (const auto& t : scraper_.Targets()) {
      JobCounters& c = jobs[t.job];
      c.targets += 1;
      c.up += t.up ? 1 : 0;
    }
    for (const auto& [job, t] : scraper_.Totals()) {
      jobs[job].scrapes = static_cast<double>(t.scrapes);
      jobs[job].failures = static_cast<double>(t.failures);
    }
    std::lock_guard<std::mutex> lock(mu_);
    const size_t targets = batch->Family("tidemark_scrape_targets",
                                         "Application targets being scraped.", MetricType::kGauge);
    const size_t up = batch->Family("tidemark_scrape_targets_up",
                                    "Targets whose last scrape succeeded.", MetricType::kGauge);
    const size_t scrapes = batch->Family("tidemark_scrapes_total",
                                         "Scrapes of application targets.", MetricType::kCounter);
    const size_t failures = batch->Family(
        "tidemark_scrape_failures_total",
        "Failed scrapes (unreachable, timeout, bad body, limits).", MetricType::kCounter);
    for (const auto& [job, c] : jobs) {
      batch->Add(targets, nullptr, Labels{{"job", job}}, c.targets);
      batch->Add(up, nullptr, Labels{{"job", job}}, c.up);
      batch->Add(scrapes, nullptr, Labels{{"job", job}}, c.scrapes);
      batch->Add(failures, nullptr, Labels{{"job", job}}, c.failures);
    }
    batch->Add(batch->Family("tidemark_scrape_stale_markers_total",
                             "Staleness markers written for vanished series and targets.",
                             MetricType::kCounter),
               nullptr, static_cast<double>(scraper_.stale_markers()));
    if (config_.docker_sd.enabled) {
      batch->Add(batch->Family("tidemark_scrape_discovery_errors_total",
                               "Failed Docker target discovery refreshes.", MetricType::kCounter),
                 nullptr, discovery_errors_);
    }
  }

 private:
  struct JobCounters {
    double targets = 0, up = 0, scrapes = 0, failures = 0;
  };

  void DiscoveryLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      auto containers = collector::ListDockerContainers(docker_socket_, std::chrono::seconds(2));
      lock.lock();
      if (!containers.ok()) {
        discovery_errors_ += 1;
        if (limiter_.Allow("docker")) {
          spdlog::warn("scrape: Docker discovery failed (keeping the last targets): {}",
                       containers.status().ToString());
        }
      } else {
        collector::DockerTargets found =
            collector::BuildDockerTargets(*containers, config_.docker_sd, agent_interval_);
        for (const std::string& why : found.skipped) {
          if (limiter_.Allow(why)) spdlog::warn("scrape: Docker discovery skips {}", why);
        }
        for (const auto& t : found.targets) known_jobs_.insert(t.job);
        std::vector<collector::ScrapeTarget> all = static_targets_;
        all.insert(all.end(), found.targets.begin(), found.targets.end());
        lock.unlock();
        scraper_.SetTargets(std::move(all));
        lock.lock();
      }
      cv_.wait_for(lock, config_.docker_sd.refresh_interval, [&] { return stopping_; });
    }
  }

  const collector::ScrapeConfig config_;
  const std::chrono::milliseconds agent_interval_;
  const Clock& clock_;
  DbScrapeStore store_;
  collector::HttpScrapeFetcher fetcher_;
  const std::vector<collector::ScrapeTarget> static_targets_;
  collector::Scraper scraper_;
  std::string docker_socket_;
  RateLimiter limiter_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;             // Guarded by mu_.
  std::set<std::string> known_jobs_;  // Guarded by mu_: configured or discovered.
  double discovery_errors_ = 0;       // Guarded by mu_.
  std::thread discovery_;
};

}  // namespace

std::unique_ptr<collector::ScrapeAppender> DbScrapeStore::NewAppender() {
  return std::make_unique<DbScrapeAppender>(db_);
}

Result<std::unique_ptr<Service>> MakeScrapeService(const ServiceContext& ctx) {
  const collector::ScrapeConfig& c = ctx.config.scrape;
  if (c.empty()) return std::unique_ptr<Service>();
  if (ctx.db == nullptr) {
    spdlog::warn("scrape: the local store is disabled or failed to open: not scraping targets");
    return std::unique_ptr<Service>();
  }
  return std::unique_ptr<Service>(
      std::make_unique<ScrapeService>(ctx, collector::BuildStaticTargets(c, ctx.config.interval)));
}

}  // namespace tidemark::agent
