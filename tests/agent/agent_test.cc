#include "agent/agent.h"

#include <gtest/gtest.h>

#include "agent/cli.h"
#include "tests/testing/testing.h"

namespace tidemark::agent {
namespace {

// Emits one gauge per call whose value counts the calls; fails when told to.
class FakeCollector final : public collector::Collector {
 public:
  explicit FakeCollector(bool* fail) : fail_(fail) {}
  std::string_view Name() const override { return "fake"; }
  Status Collect(SampleBatch* batch) override {
    ++calls_;
    batch->Add(batch->Family("fake_value", "Calls so far.", MetricType::kGauge), nullptr, calls_);
    if (*fail_) return Status::IoError("fake failure");
    return Status::Ok();
  }

 private:
  bool* fail_;
  double calls_ = 0;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CollectorSet cs;
    cs.collectors.push_back(std::make_unique<FakeCollector>(&fail_));
    agent_ = Agent::CreateForTest(AgentConfig{}, clock_, std::move(cs));
  }
  HttpResponse Get(const std::string& path, const std::string& accept = "") {
    HttpRequest req;
    req.method = "GET";
    req.path = path;
    req.target = path;
    if (!accept.empty()) req.headers.emplace_back("Accept", accept);
    HttpResponse resp;
    agent_->HandleHttp(req, &resp);
    return resp;
  }
  testing::FakeClock clock_;
  bool fail_ = false;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, NotReadyUntilTheFirstCycle) {
  EXPECT_EQ(Get("/-/ready").status, 503);
  EXPECT_EQ(Get("/metrics").status, 503);
  EXPECT_EQ(Get("/healthz").status, 200);
  agent_->CollectOnce();
  EXPECT_EQ(Get("/-/ready").status, 200);
}

TEST_F(AgentTest, MetricsCarryCollectorOutputAndSelfMetrics) {
  agent_->CollectOnce();
  agent_->CollectOnce();
  HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, kText004ContentType);
  EXPECT_NE(r.body.find("\nfake_value 2\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("tidemark_collector_success{collector=\"fake\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("tidemark_collector_errors_total{collector=\"fake\"} 0\n"),
            std::string::npos);
  EXPECT_NE(r.body.find("tidemark_collection_cycles_total 2\n"), std::string::npos);
  EXPECT_NE(r.body.find("tidemark_build_info{version="), std::string::npos);
  EXPECT_NE(r.body.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_TRUE(r.body.ends_with("\n"));
}

TEST_F(AgentTest, FailingCollectorIsCountedAndItsPartialDataKept) {
  fail_ = true;
  agent_->CollectOnce();
  agent_->CollectOnce();
  HttpResponse r = Get("/metrics");
  EXPECT_NE(r.body.find("tidemark_collector_success{collector=\"fake\"} 0\n"), std::string::npos);
  EXPECT_NE(r.body.find("tidemark_collector_errors_total{collector=\"fake\"} 2\n"),
            std::string::npos);
  EXPECT_NE(r.body.find("\nfake_value 2\n"), std::string::npos);
}

TEST_F(AgentTest, ServesOpenMetricsWhenAsked) {
  agent_->CollectOnce();
  HttpResponse r = Get("/metrics", "application/openmetrics-text;version=1.0.0");
  EXPECT_EQ(r.content_type, kOpenMetricsContentType);
  EXPECT_TRUE(r.body.ends_with("# EOF\n"));
  EXPECT_EQ(r.body.find("# EOF"), r.body.size() - 6) << "exactly one terminator";
}

TEST_F(AgentTest, CountsHttpRequestsByHandlerAndCode) {
  agent_->CollectOnce();
  Get("/nope");
  HttpResponse r = Get("/metrics");
  EXPECT_NE(r.body.find("tidemark_http_requests_total{code=\"404\",handler=\"other\"} 1"),
            std::string::npos)
      << r.body;
}

TEST_F(AgentTest, RejectsOtherMethods) {
  HttpRequest req;
  req.method = "DELETE";
  req.path = "/metrics";
  HttpResponse resp;
  agent_->HandleHttp(req, &resp);
  EXPECT_EQ(resp.status, 405);
}

TEST(AgentTimestampTest, SamplesSnapToTheIntervalGridButNeverFarIntoTheFuture) {
  // 08:52:00.4 UTC on some day, in ms.
  const int64_t base = 1795337520000;  // 08:52:00
  auto stamp = [&](std::chrono::milliseconds interval, int64_t now_ms) {
    testing::FakeClock clock;
    clock.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms)));
    bool fail = false;
    CollectorSet cs;
    cs.collectors.push_back(std::make_unique<FakeCollector>(&fail));
    AgentConfig config;
    config.interval = interval;
    auto agent = Agent::CreateForTest(config, clock, std::move(cs));
    agent->CollectOnce();
    return agent->snapshot()->batch().timestamp_ms();
  };
  // A wake-up a little early or late lands on the 1 s grid.
  EXPECT_EQ(stamp(std::chrono::seconds(1), base + 400), base);
  EXPECT_EQ(stamp(std::chrono::seconds(1), base - 300), base);
  // An hourly interval stamps 08:52 as 08:00, not as 09:00 (which queries at 08:52 would miss).
  EXPECT_EQ(stamp(std::chrono::hours(1), base), base - 52 * 60 * 1000);
  EXPECT_EQ(stamp(std::chrono::hours(1), base - 52 * 60 * 1000 - 200), base - 52 * 60 * 1000);
}

TEST(AgentCreateTest, LocksTheDataDir) {
  testing::TempDir dir;
  AgentConfig c;
  c.data_dir = dir.path() + "/data";
  c.cgroup.enabled = false;
  c.docker.enabled = false;
  c.node.enabled = false;
  auto a = Agent::Create(c, SystemClock::Instance());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Agent::Create(c, SystemClock::Instance());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("locked by another tidemark"), std::string::npos);
}

TEST(CliTest, ExitCodesAndMessages) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"--help"}, out, err), 0);
  EXPECT_NE(out.str().find("tidemark <command>"), std::string::npos);
  EXPECT_EQ(RunCli({"agent", "--help"}, out, err), 0);
  EXPECT_NE(out.str().find("--host-root"), std::string::npos);
  EXPECT_EQ(RunCli({"frobnicate"}, out, err), 2);
  err.str("");
  EXPECT_EQ(RunCli({"agent", "--interval", "0s"}, out, err), 2);
  EXPECT_NE(err.str().find("interval"), std::string::npos);
  err.str("");
  EXPECT_EQ(RunCli({"agent", "--bogus"}, out, err), 2);
  EXPECT_NE(err.str().find("unknown flag \"--bogus\""), std::string::npos);
  err.str("");
  EXPECT_EQ(RunCli({"agent", "--listen"}, out, err), 2);
  EXPECT_NE(err.str().find("--listen: missing value"), std::string::npos);
  err.str("");
  EXPECT_EQ(RunCli({"check", "config", "/nonexistent.yaml"}, out, err), 2);
  EXPECT_NE(err.str().find("/nonexistent.yaml"), std::string::npos);
}

TEST(CliTest, CheckConfigPrintsEffectiveConfig) {
  testing::TempDir dir;
  dir.WriteFile("a.yaml", "interval: 2s\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"check", "config", dir.path() + "/a.yaml"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("interval: 2s"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("listen: 127.0.0.1:9920"), std::string::npos);
  // An autoscaler policy shows its effective windows and steps.
  dir.WriteFile("b.yaml",
                "autoscaler:\n  policies:\n    - {name: web, target: {service: web}, "
                "max_replicas: 4}\n");
  out.str("");
  EXPECT_EQ(RunCli({"check", "config", dir.path() + "/b.yaml"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("min_step: {scale_up: 0.2, scale_down: 0.3}"), std::string::npos)
      << out.str();
}

TEST(CliTest, FlagsOverrideTheFile) {
  testing::TempDir dir;
  dir.WriteFile("a.yaml", "listen: 127.0.0.1:1111\ninterval: 2s\n");
  AgentConfig c;
  bool help = false;
  std::string path;
  ASSERT_TRUE(
      ApplyAgentFlags({"--listen=127.0.0.1:2222", "--config", dir.path() + "/a.yaml", "--no-ebpf"},
                      &c, &help, &path)
          .ok());
  EXPECT_EQ(c.listen, "127.0.0.1:2222");
  EXPECT_EQ(c.interval, std::chrono::seconds(2));
  EXPECT_FALSE(c.ebpf);
}

}  // namespace
}  // namespace tidemark::agent
