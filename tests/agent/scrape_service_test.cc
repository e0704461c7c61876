#include "agent/scrape_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <thread>

#include "agent/config.h"
#include "collector/scrape.h"
#include "common/go_format.h"
#include "common/http_server.h"
#include "tests/testing/testing.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"

namespace tidemark::agent {
namespace {

using std::chrono::seconds;

constexpr int64_t kT0 = 1700000000000;

TEST(ScrapeConfigSectionTest, ParsesChecksAndPrintsTheScrapeSection) {
  auto c = ParseConfig(R"(
interval: 2s
scrape:
  jobs:
    - job_name: web
      static_configs: [{targets: ['127.0.0.1:8080']}]
  docker_sd: {enabled: true}
)",
                       "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->scrape.jobs.size(), 1u);
  EXPECT_TRUE(c->scrape.docker_sd.enabled);
  auto targets = collector::BuildStaticTargets(c->scrape, c->interval);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].options.interval, seconds(2));
  const std::string yaml = ConfigToYaml(*c);
  EXPECT_NE(yaml.find("scrape:"), std::string::npos);
  auto again = ParseConfig(yaml, "printed");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << yaml;
  EXPECT_EQ(collector::BuildStaticTargets(again->scrape, again->interval)[0].Key(),
            targets[0].Key());

  auto bad = ParseConfig("scrape:\n  jobs:\n    - job_name: web\n      interval: 1s\n", "a.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("a.yaml:4: scrape.jobs[0].interval: unknown key"),
            std::string::npos)
      << bad.status().message();
  auto timeout = ParseConfig("interval: 1s\nscrape: {scrape_timeout: 5s}\n", "a.yaml");
  ASSERT_FALSE(timeout.ok());
  EXPECT_NE(timeout.status().message().find("a.yaml: scrape: scrape_timeout (5s) is greater"),
            std::string::npos)
      << timeout.status().message();
}

TEST(ScrapeConfigSectionTest, NoScrapeSectionMeansNoService) {
  auto c = ParseConfig("{}", "x");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->scrape.empty());
  testing::FakeClock clock;
  OomEventHub hub;
  ServiceContext ctx{*c, clock, nullptr, nullptr, &hub};
  auto s = MakeScrapeService(ctx);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, nullptr);
}

// A latency histogram whose buckets grow by fixed steps per scrape: per step 50 requests
// ≤ 50 ms, 30 more ≤ 100 ms, 16 more ≤ 250 ms, 4 more ≤ 500 ms. p95 of the rate is then
// 0.1 + 0.15 * (95 - 80) / 16 = 0.240625 s (histogram_quantile's linear interpolation).
std::string Histogram(int step, bool openmetrics, bool with_extra) {
  const double le[] = {0.05, 0.1, 0.25, 0.5};
  const int per_step[] = {50, 80, 96, 100};
  std::string out =
      "# HELP http_request_duration_seconds Request latency.\n"
      "# TYPE http_request_duration_seconds histogram\n";
  for (int i = 0; i < 4; ++i) {
    out += "http_request_duration_seconds_bucket{le=\"" + FormatGoFloat(le[i]) + "\"} " +
           std::to_string(per_step[i] * step) + "\n";
  }
  out += "http_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(100 * step) + "\n";
  out += "http_request_duration_seconds_sum " + std::to_string(10 * step) + "\n";
  out += "http_request_duration_seconds_count " + std::to_string(100 * step) + "\n";
  if (with_extra) out += "temporary_gauge 7\n";
  if (openmetrics) out += "# EOF\n";
  return out;
}

// A real store, the real engine and a real HTTP target serving the histogram as text 0.0.4 on
// /text and as OpenMetrics on /om (when the Accept header asks for it, as Prometheus' does).
class ScrapeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tsdb::DbOptions o;
    o.dir = dir_.path() + "/tsdb";
    o.min_free_bytes = 0;
    auto db = tsdb::Db::Open(o, clock_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    engine_ = std::make_unique<promql::Engine>(db_.get(), promql::EngineOptions{});
    auto server =
        HttpServer::Create(io_, "127.0.0.1:0", [this](const HttpRequest& req, HttpResponse* resp) {
          if (req.path != "/text" && req.path != "/om") {
            resp->status = 404;
            return;
          }
          const bool om =
              req.path == "/om" && req.Header("Accept").find("application/openmetrics-text") == 0;
          resp->content_type =
              om ? "application/openmetrics-text; version=1.0.0; charset=utf-8" : "text/plain";
          resp->body = Histogram(step_.load(), om, extra_.load());
        });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }

  collector::ScrapeTarget Target(const std::string& job, const std::string& path,
                                 uint16_t port = 0) {
    collector::ScrapeConfig c;
    collector::ScrapeJob j;
    j.job_name = job;
    j.metrics_path = path;
    j.static_configs.push_back(
        {{"127.0.0.1:" + std::to_string(port == 0 ? server_->port() : port)}, {}});
    c.jobs.push_back(j);
    return collector::BuildStaticTargets(c, seconds(1)).at(0);
  }

  promql::Vector Query(const std::string& q, int64_t t) {
    promql::QueryResult r = engine_->Instant(q, t);
    EXPECT_TRUE(r.ok()) << q << ": " << r.error;
    return r.value.vector;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<tsdb::Db> db_;
  std::unique_ptr<promql::Engine> engine_;
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread io_thread_;
  std::atomic<int> step_{0};
  std::atomic<bool> extra_{true};
};

TEST_F(ScrapeStoreTest, HistogramQuantileOverScrapedTextAndOpenMetrics) {
  DbScrapeStore store(*db_);
  collector::HttpScrapeFetcher fetcher;
  collector::TargetScraper text(Target("text", "/text"));
  collector::TargetScraper om(Target("om", "/om"));
  for (int i = 0; i <= 60; ++i) {
    step_ = i;
    const int64_t t = kT0 + i * 1000;
    for (collector::TargetScraper* ts : {&text, &om}) {
      collector::ScrapeReport r = ts->Write(fetcher.Fetch(ts->target()), t, 0.001, store);
      ASSERT_TRUE(r.up) << r.error.ToString();
      EXPECT_EQ(r.samples_scraped, 8u);
    }
  }
  const int64_t now = kT0 + 60'000;
  for (const std::string job : {"text", "om"}) {
    promql::Vector v =
        Query("histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{job=\"" + job +
                  "\"}[1m]))",
              now);
    ASSERT_EQ(v.size(), 1u) << job;
    EXPECT_NEAR(v[0].v, 0.240625, 1e-9) << job;
    v = Query("scrape_samples_scraped{job=\"" + job + "\"}", now);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].v, 8);
    v = Query("up{job=\"" + job + "\"}", now);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].v, 1);
  }

  // The gauge goes away: a staleness marker hides it from the next instant query at once.
  extra_ = false;
  step_ = 61;
  collector::ScrapeReport r = text.Write(fetcher.Fetch(text.target()), now + 1000, 0.001, store);
  ASSERT_TRUE(r.up);
  EXPECT_EQ(r.stale_markers, 1u);
  EXPECT_EQ(Query("temporary_gauge{job=\"text\"}", now).size(), 1u);
  EXPECT_TRUE(Query("temporary_gauge{job=\"text\"}", now + 1000).empty());
  EXPECT_EQ(Query("temporary_gauge{job=\"om\"}", now + 1000).size(), 1u);
}

TEST_F(ScrapeStoreTest, TargetThatIsDownIsUpZero) {
  uint16_t closed = 0;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(
        ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    closed = a.local_endpoint().port();
  }
  DbScrapeStore store(*db_);
  collector::HttpScrapeFetcher fetcher;
  collector::TargetScraper down(Target("down", "/metrics", closed));
  collector::ScrapeReport r = down.Write(fetcher.Fetch(down.target()), kT0, 0.001, store);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error.code(), StatusCode::kUnavailable) << r.error.ToString();
  promql::Vector v = Query("up{job=\"down\"}", kT0);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].v, 0);
  EXPECT_EQ(GetLabel(v[0].metric, "instance"), "127.0.0.1:" + std::to_string(closed));

  // A 404 and an oversized body fail too, with Prometheus' reasons.
  collector::TargetScraper missing(Target("missing", "/nope"));
  r = missing.Write(fetcher.Fetch(missing.target()), kT0, 0.001, store);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error.message(), "server returned HTTP status 404");
  collector::ScrapeTarget small = Target("small", "/text");
  small.options.body_size_limit = 64;
  collector::TargetScraper limited(small);
  step_ = 1;
  r = limited.Write(fetcher.Fetch(limited.target()), kT0, 0.001, store);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error.message(), "body size limit exceeded");
}

}  // namespace
}  // namespace tidemark::agent
