#include "agent/autoscaler_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <set>

#include "tests/testing/testing.h"

namespace tidemark::agent {
namespace {

using autoscaler::MetricSource;
using autoscaler::Orchestrator;
using autoscaler::Policy;
using autoscaler::QuerySample;
using autoscaler::ReplicaSample;
using autoscaler::ScaleState;
using autoscaler::ScaleTarget;

constexpr int64_t kT0 = 1'700'000'000'000;

// Records SetReplicas calls; replicas are ready containers c0, c1, ... with a 0.5 core limit.
class FakeOrchestrator final : public Orchestrator {
 public:
  struct Shared {
    int32_t desired = 2;
    int32_t ready_limit = 1000;  // Replicas past this stay pending.
    int containers = 1;          // Per replica: "c<i>", then "c<i>-side<k>".
    std::vector<int32_t> calls;
    Status set_error;
    Status get_error;
  };
  explicit FakeOrchestrator(Shared* s) : s_(s) {}
  std::string Name() const override { return "fake"; }
  Result<ScaleState> GetScale(const ScaleTarget&) override {
    if (!s_->get_error.ok()) return s_->get_error;
    ScaleState st;
    st.desired = s_->desired;
    st.cpu_cores_per_replica = 0.5;
    for (int i = 0; i < s_->desired; ++i) {
      autoscaler::Replica r;
      r.name = "task" + std::to_string(i);
      r.container_ids = {"c" + std::to_string(i)};
      for (int k = 1; k < s_->containers; ++k) {
        r.container_ids.push_back("c" + std::to_string(i) + "-side" + std::to_string(k));
      }
      r.running = r.ready = i < s_->ready_limit;
      r.started_ms = kT0 - 600'000;  // Past the CPU initialization period.
      r.ready_changed_ms = kT0 - 595'000;
      if (!r.ready) r.message = "pending: no suitable node (insufficient resources on 1 node)";
      st.replicas.push_back(r);
    }
    return st;
  }
  Status SetReplicas(const ScaleTarget&, int32_t replicas) override {
    s_->calls.push_back(replicas);
    if (!s_->set_error.ok()) return s_->set_error;
    s_->desired = replicas;
    return Status::Ok();
  }

 private:
  Shared* s_;
};

// Every container uses `cores`; `fail` makes the source unreachable.
class FakeSource final : public MetricSource {
 public:
  struct Shared {
    double cores = 0.1;
    std::optional<double> recent;     // The last interval (irate); default: `cores`.
    std::optional<double> throttled;  // Throttled over the last interval; default: no samples.
    std::set<std::string> no_data;    // Containers the source has no sample for.
    bool fail = false;
    int queries = 0;
    int throttled_queries = 0;  // Of them, for kThrottledLastInterval.
    int64_t last_at_ms = 0;     // The time the last query was evaluated at.
  };
  explicit FakeSource(Shared* s) : s_(s) {}
  std::string Describe() const override { return "fake"; }
  Result<std::vector<QuerySample>> Query(const std::string&, int64_t) override {
    return Status::Internal("not used");
  }
  Result<std::map<std::string, ReplicaSample>> ContainerCpu(const std::vector<std::string>& ids,
                                                            int64_t now_ms,
                                                            std::chrono::milliseconds w,
                                                            autoscaler::CpuRate rate) override {
    ++s_->queries;
    s_->last_at_ms = now_ms;
    if (s_->fail) return Status::Unavailable("metric source down");
    std::map<std::string, ReplicaSample> out;
    if (rate == autoscaler::CpuRate::kThrottledLastInterval) {
      ++s_->throttled_queries;
      if (!s_->throttled) return out;
      for (const auto& id : ids) out[id] = ReplicaSample{*s_->throttled, now_ms, w.count()};
      return out;
    }
    const double cores = rate == autoscaler::CpuRate::kLastInterval && s_->recent.has_value()
                             ? *s_->recent
                             : s_->cores;
    for (const auto& id : ids) {
      if (!s_->no_data.count(id)) out[id] = ReplicaSample{cores, now_ms, w.count()};
    }
    return out;
  }

 private:
  Shared* s_;
};

// `behavior` (and any top-level keys after it) as a test wants it. Default: the HPA's scale-up
// window (0) and no panic, for the tests of everything else.
Policy CpuPolicy(std::string behavior = "  scale_up: {stabilization_window: 0s}\npanic: false\n") {
  auto p = autoscaler::ParsePolicyText(R"(
name: web
target: {service: web}
min_replicas: 1
max_replicas: 10
metrics: [{type: cpu, target_utilization: 50}]
behavior:
  scale_down: {stabilization_window: 20s}
)" + behavior,
                                       "test.yaml");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return *p;
}

class AutoscalerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { clock_.Set(std::chrono::system_clock::time_point(Ms(kT0))); }
  static std::chrono::milliseconds Ms(int64_t ms) { return std::chrono::milliseconds(ms); }

  std::unique_ptr<AutoscalerService> Make(Policy p = CpuPolicy()) {
    AutoscalerServiceOptions o;
    o.state_dir = dir_.path() + "/autoscaler";
    o.rollout_timeout = std::chrono::seconds(30);
    auto s = AutoscalerService::Create(
        {p}, o, clock_,
        [this](const Policy&) -> Result<std::unique_ptr<Orchestrator>> {
          return std::unique_ptr<Orchestrator>(std::make_unique<FakeOrchestrator>(&orch_));
        },
        [this](const Policy&) -> Result<std::unique_ptr<MetricSource>> {
          return std::unique_ptr<MetricSource>(std::make_unique<FakeSource>(&src_));
        });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(*s);
  }
  nlohmann::json Policy0(const AutoscalerService& s) {
    return s.DecisionsJson("", 100)["data"]["policies"][0];
  }
  std::string MetricsText(AutoscalerService& s) {
    SampleBatch b;
    s.AddMetrics(&b);
    std::string out;
    for (const auto& f : b.families()) {
      for (const auto& smp : f.samples) {
        out += f.name;
        for (const auto& l : smp.extra) out += " " + l.name + "=" + l.value;
        out += " " + std::to_string(smp.value) + "\n";
      }
    }
    return out;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  FakeOrchestrator::Shared orch_;
  FakeSource::Shared src_;
};

TEST_F(AutoscalerServiceTest, ScalesOutOnHighCpuAndPersistsTheDecision) {
  auto s = Make();
  src_.cores = 0.45;  // 90 % of the 0.5 core limit against a 50 % target: 2 → 4.
  s->RunOnce(false);
  ASSERT_EQ(orch_.calls, std::vector<int32_t>{4});
  nlohmann::json p = Policy0(*s);
  EXPECT_EQ(p["current_replicas"], 2);
  EXPECT_EQ(p["desired_replicas"], 4);
  ASSERT_EQ(p["decisions"].size(), 1u);
  EXPECT_EQ(p["decisions"][0]["metrics"][0]["utilization"], 90);
  EXPECT_EQ(p["decisions"][0]["recommendation"], 4);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/autoscaler/web.json"));
  const std::string m = MetricsText(*s);
  EXPECT_NE(m.find("tidemark_autoscaler_scale_events_total policy=web 1.0"), std::string::npos)
      << m;
  EXPECT_NE(m.find("tidemark_autoscaler_metric_value metric=cpu policy=web 90.0"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("tidemark_autoscaler_desired_replicas policy=web 4.0"), std::string::npos);

  // A restart keeps the decisions (and the windows) from the state dir.
  s.reset();
  auto again = Make();
  EXPECT_EQ(Policy0(*again)["decisions"].size(), 1u);
}

TEST_F(AutoscalerServiceTest, BetweenSyncsOnlyASaturatedTargetScalesAtOnce) {
  auto s = Make(CpuPolicy("  scale_up: {stabilization_window: 0s}\n"));  // Panic on.
  s->RunOnce(false);  // 2 replicas at 20 %: scale-in is stabilized (20 s window), no call.
  EXPECT_TRUE(orch_.calls.empty());
  clock_.Advance(std::chrono::seconds(1));
  s->RunOnce(true);  // Fresh data, still in tolerance of the stabilized count: nothing.
  EXPECT_TRUE(orch_.calls.empty());
  src_.cores = 0.4;  // 80 % of the limit against a 50 % target: 4 replicas, at the next sync.
  clock_.Advance(std::chrono::seconds(1));
  s->RunOnce(false);  // Not due for 3 more seconds and no fresh data.
  s->RunOnce(true);   // Fresh data, but not saturated: waits for the sync.
  EXPECT_TRUE(orch_.calls.empty());
  src_.recent = 0.49;  // The last interval at 98 % of the limit: throttled, demand unknown.
  clock_.Advance(std::chrono::seconds(1));
  s->RunOnce(true);  // Panic: at once, as far as the rate policies allow, max(2 + 4, 2 × 2).
  EXPECT_EQ(orch_.calls, std::vector<int32_t>{6});
  const nlohmann::json d = Policy0(*s)["decisions"][0];
  EXPECT_TRUE(d["panic"].get<bool>()) << d.dump();
  EXPECT_NE(d["panic_reason"].get<std::string>().find("saturated: 98% of the CPU limit"),
            std::string::npos)
      << d.dump();
}

// Busy but barely throttled, the replicas got what they asked for: no panic between syncs. The
// source is asked for the throttled time; throttled more, they are saturated.
TEST_F(AutoscalerServiceTest, OnlyThrottledReplicasAreSaturated) {
  auto s = Make(CpuPolicy("  scale_up: {stabilization_window: 0s}\n"));  // Panic on.
  orch_.desired = 3;
  src_.cores = 0.25;  // 50 %: 3 replicas are right.
  s->RunOnce(false);
  EXPECT_TRUE(orch_.calls.empty());
  src_.recent = 0.46;     // 92 % of the 0.5 core limit over the last interval...
  src_.throttled = 0.01;  // ...throttled 2 % of it.
  clock_.Advance(std::chrono::seconds(1));
  s->RunOnce(true);
  EXPECT_GT(src_.throttled_queries, 0);
  EXPECT_TRUE(orch_.calls.empty());  // 1.84× the target: waits for the sync.
  src_.throttled = 0.1;              // 20 %: the demand is unknown.
  clock_.Advance(std::chrono::seconds(1));
  s->RunOnce(true);
  EXPECT_EQ(orch_.calls, std::vector<int32_t>{7});  // max(3 + 4, 2 × 3).
  const nlohmann::json d = Policy0(*s)["decisions"][0];
  EXPECT_TRUE(d["panic"].get<bool>()) << d.dump();
}

// Samples are stamped on the interval's grid, up to half a second after the clock: the metrics
// are read at the newest cycle's timestamp, or a cycle would only be seen one interval later.
TEST_F(AutoscalerServiceTest, MetricsAreReadAtTheNewestCyclesTimestamp) {
  auto s = Make();
  s->OnCycle(kT0 + 400);  // Collected at kT0, stamped on the next whole second's grid.
  s->RunOnce(true);
  EXPECT_EQ(src_.last_at_ms, kT0 + 400);
  clock_.Advance(std::chrono::seconds(5));  // The next sync; the last cycle is behind the clock.
  s->RunOnce(false);
  EXPECT_EQ(src_.last_at_ms, kT0 + 5000);
  s->OnCycle(kT0 + 3600 * 1000);  // A stamp far ahead (a clock step): at most a second ahead.
  clock_.Advance(std::chrono::seconds(5));
  s->RunOnce(true);
  EXPECT_EQ(src_.last_at_ms, kT0 + 11000);
  s->OnCycle(kT0 + 10000);  // The clock stepped back: the next cycle's stamp counts, not the max.
  clock_.Advance(std::chrono::seconds(5));
  s->RunOnce(true);
  EXPECT_EQ(src_.last_at_ms, kT0 + 15000);
}

TEST_F(AutoscalerServiceTest, TheDefaultScaleUpWindowHoldsAnUnsaturatedRiseFor15s) {
  auto s = Make(CpuPolicy(""));  // tidemark's defaults: 15 s scale-up window, panic on.
  src_.cores = 0.4;              // 80 % of the limit (not saturated), every cycle from the first.
  int first_call_s = -1;
  for (int t = 0; t <= 20 && first_call_s < 0; ++t) {
    s->RunOnce(t > 0);
    if (!orch_.calls.empty()) first_call_s = t;
    clock_.Advance(std::chrono::seconds(1));
  }
  // The first recommendation (the seed, 2) leaves the window after 15 s; the sync at +15 s acts.
  EXPECT_EQ(first_call_s, 15);
  EXPECT_EQ(orch_.calls, std::vector<int32_t>{4});
}

TEST_F(AutoscalerServiceTest, ScalesInOnlyAfterTheStabilizationWindow) {
  orch_.desired = 4;
  src_.cores = 0.05;  // 10 %: one replica would do.
  auto s = Make();
  for (int t = 0; t < 20; t += 5) {
    s->RunOnce(true);
    EXPECT_TRUE(orch_.calls.empty()) << "scaled in at +" << t << "s";
    clock_.Advance(std::chrono::seconds(5));
  }
  s->RunOnce(true);  // +20 s: the window has passed.
  EXPECT_EQ(orch_.calls, std::vector<int32_t>{1});
}

TEST_F(AutoscalerServiceTest, TheScaleInWindowCountsEveryCycleNotJustSyncs) {
  orch_.desired = 4;
  src_.cores = 0.25;  // 50 %: 4 replicas are right.
  auto s = Make();
  s->RunOnce(false);  // The sync at +0 s; the next is at +5 s.
  int64_t first_call_s = -1;
  for (int t = 1; t <= 30 && first_call_s < 0; ++t) {
    if (t == 5) src_.cores = 0.05;  // The load drops after the fresh-data check at +4 s.
    clock_.Advance(std::chrono::seconds(1));
    s->RunOnce(true);
    if (!orch_.calls.empty()) first_call_s = t;
  }
  // The last recommendation of 4 came from the cycle at +4 s, between syncs: the 20 s window
  // runs from there, not from the sync at +0 s.
  EXPECT_GE(first_call_s, 24);
  EXPECT_LE(first_call_s, 25);
  EXPECT_EQ(orch_.calls, std::vector<int32_t>{1});
}

// A pod with a sidecar: its CPU is the sum of both containers, and with one of them unmeasured
// the replica is missing, never read as the lower partial sum.
TEST_F(AutoscalerServiceTest, AReplicasCpuIsTheSumOfItsContainers) {
  orch_.containers = 2;
  src_.cores = 0.1;  // Each container: 0.2 of the 0.5 core basis per replica = 40 %.
  auto s = Make();
  s->RunOnce(false);
  nlohmann::json d = Policy0(*s)["decisions"][0];
  EXPECT_EQ(d["metrics"][0]["utilization"], 40) << d.dump();
  src_.no_data = {"c1-side1"};
  clock_.Advance(std::chrono::seconds(5));
  s->RunOnce(false);
  d = Policy0(*s)["decisions"][0];
  // c0 alone is measured: 40 % against c0's basis, not (0.2 + 0.1) / 1.0 = 30 %.
  EXPECT_EQ(d["metrics"][0]["utilization"], 40) << d.dump();
  EXPECT_TRUE(orch_.calls.empty());
}

TEST_F(AutoscalerServiceTest, MissingMetricsNeverScale) {
  orch_.desired = 4;
  src_.fail = true;
  auto s = Make();
  for (int i = 0; i < 10; ++i) {
    s->RunOnce(false);
    clock_.Advance(std::chrono::seconds(5));
  }
  EXPECT_TRUE(orch_.calls.empty());
  nlohmann::json p = Policy0(*s);
  bool inactive = false;
  for (const auto& c : p["conditions"]) {
    if (c["type"] == "ScalingActive") inactive = c["status"] == "False";
  }
  EXPECT_TRUE(inactive) << p.dump();
  EXPECT_NE(p["decisions"][0]["metrics"][0]["error"].get<std::string>().find("metric source down"),
            std::string::npos);
}

TEST_F(AutoscalerServiceTest, ReportsOrchestratorErrorsInConditionsAndMetrics) {
  orch_.set_error = Status::Internal(
      "403 Forbidden: missing RBAC permission: patch deployments/scale in API group \"apps\"");
  src_.cores = 0.45;
  auto s = Make();
  s->RunOnce(false);
  ASSERT_EQ(orch_.calls.size(), 1u);
  nlohmann::json p = Policy0(*s);
  EXPECT_NE(p["last_error"].get<std::string>().find("patch deployments/scale"), std::string::npos);
  bool found = false;
  for (const auto& c : p["conditions"]) {
    if (c["type"] == "AbleToScale") {
      found = true;
      EXPECT_EQ(c["status"], "False");
      EXPECT_EQ(c["reason"], "FailedUpdateScale");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_NE(MetricsText(*s).find("tidemark_autoscaler_errors_total policy=web 1.0"),
            std::string::npos);

  orch_.get_error = Status::Unavailable("engine unreachable");
  clock_.Advance(std::chrono::seconds(5));
  s->RunOnce(false);
  p = Policy0(*s);
  EXPECT_NE(p["last_error"].get<std::string>().find("FailedGetScale"), std::string::npos);
}

TEST_F(AutoscalerServiceTest, ReportsNewReplicasThatDoNotBecomeReady) {
  orch_.ready_limit = 3;  // Only 3 of the 4 replicas ever get a node.
  src_.cores = 0.45;
  auto s = Make();
  s->RunOnce(false);
  ASSERT_EQ(orch_.calls, std::vector<int32_t>{4});
  src_.cores = 0.25;  // At target, so no further scaling muddles the rollout.
  for (int i = 0; i < 31; ++i) {
    clock_.Advance(std::chrono::seconds(1));
    s->RunOnce(false);
  }
  nlohmann::json p = Policy0(*s);
  bool found = false;
  for (const auto& c : p["conditions"]) {
    if (c["type"] == "ReplicasReady") {
      found = true;
      EXPECT_EQ(c["status"], "False");
      EXPECT_NE(c["message"].get<std::string>().find("no suitable node"), std::string::npos)
          << c.dump();
    }
  }
  EXPECT_TRUE(found) << p.dump();
  EXPECT_NE(MetricsText(*s).find("tidemark_autoscaler_rollout_not_ready_replicas policy=web 1.0"),
            std::string::npos);
}

TEST_F(AutoscalerServiceTest, DryRunDecidesButNeverCallsTheOrchestrator) {
  Policy p = CpuPolicy();
  p.dry_run = true;
  src_.cores = 0.45;
  auto s = Make(p);
  s->RunOnce(false);
  EXPECT_TRUE(orch_.calls.empty());
  EXPECT_EQ(Policy0(*s)["decisions"][0]["desired"], 4);
}

TEST_F(AutoscalerServiceTest, ServesTheDecisionsApi) {
  auto s = Make();
  s->RunOnce(false);
  HttpRequest req;
  req.path = kAutoscalerDecisionsPath;
  req.query = {{"policy", "web"}, {"limit", "1"}};
  ASSERT_TRUE(s->Handles(req.path));
  HttpResponse resp;
  s->HandleHttp(req, &resp);
  EXPECT_EQ(resp.status, 200);
  auto j = nlohmann::json::parse(resp.body);
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(j["data"]["policies"][0]["name"], "web");
  req.query = {{"limit", "x"}};
  HttpResponse bad;
  s->HandleHttp(req, &bad);
  EXPECT_EQ(bad.status, 400);
  req.query = {{"policy", "other"}};
  HttpResponse none;
  s->HandleHttp(req, &none);
  EXPECT_TRUE(nlohmann::json::parse(none.body)["data"]["policies"].empty());
}

TEST(AutoscalerConfigTest, AgentConfigParsesPoliciesAndRejectsBadOnes) {
  auto c = ParseConfig(R"(
autoscaler:
  policies:
    - name: web
      target: {service: web}
      max_replicas: 5
      metric_sources: ["http://node1:9920"]
)",
                       "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->autoscaler.policies.size(), 1u);
  EXPECT_EQ(c->autoscaler.policies[0].metric_sources,
            std::vector<std::string>{"http://node1:9920"});
  EXPECT_NE(ConfigToYaml(*c).find("swarm service web"), std::string::npos);
  auto bad = ParseConfig(
      "autoscaler:\n  policies:\n    - name: web\n      target: {service: web}\n", "agent.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("agent.yaml"), std::string::npos);
  auto bad_source = ParseConfig(
      "autoscaler:\n  policies:\n    - {name: web, target: {service: web}, max_replicas: 2,\n"
      "       metric_sources: [node1]}\n",
      "agent.yaml");
  ASSERT_FALSE(bad_source.ok());
  EXPECT_NE(bad_source.status().message().find("metric_sources: expected http(s)://"),
            std::string::npos)
      << bad_source.status().ToString();
}

}  // namespace
}  // namespace tidemark::agent
