#include "autoscaler/simulate.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/testing/testing.h"

namespace tidemark::autoscaler {
namespace {

constexpr char kPolicy[] = R"(name: web
target: {service: web}
min_replicas: 1
max_replicas: 10
sync_period: 1s
metrics:
  - {type: cpu, target_utilization: 50}
panic: false
behavior:
  scale_up: {stabilization_window: 0s}
  scale_down:
    stabilization_window: 5s
)";

// Load doubles at t=1: 2 replicas at 100 % of a 50 % target → 4; idle from t=3: the recommendation
// of 1 waits until the last 4 (t=2) leaves the 5 s window (strictly newer than now − 5 s
// counts) and happens at t=7.
constexpr char kCsv[] = R"(# t, replicas, cpu %
timestamp,replicas,cpu
0,2,50
1,,100
2,,50
3,,10
4,,10
5,,
6,,10
7,,10
8,,10
9,,10
)";

TEST(SimulateTest, CsvDecisions) {
  auto policy = ParsePolicyText(kPolicy, "p.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  auto samples = ParseSimCsv(kCsv, *policy, "m.csv");
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  ASSERT_EQ(samples->size(), 10u);
  auto decisions = Simulate(*policy, *samples, SimOptions{});
  ASSERT_TRUE(decisions.ok());
  std::vector<int32_t> desired, recommendation;
  for (const Decision& d : *decisions) {
    desired.push_back(d.desired);
    recommendation.push_back(d.recommendation);
  }
  EXPECT_EQ(desired, (std::vector<int32_t>{2, 4, 4, 4, 4, 4, 4, 1, 1, 1}));
  EXPECT_EQ(recommendation, (std::vector<int32_t>{2, 4, 4, 1, 1, 0, 1, 1, 1, 1}));
  EXPECT_EQ((*decisions)[3].Find("AbleToScale")->reason, "ScaleDownStabilized");
  EXPECT_EQ((*decisions)[5].Find("ScalingActive")->reason, "FailedGetResourceMetric");
  EXPECT_EQ((*decisions)[7].current, 4);
  EXPECT_EQ((*decisions)[8].current, 1);
}

// kPolicy with tidemark's defaults (15 s scale-up window, panic on) and a 5 s sync period.
Result<Policy> DefaultsPolicy() {
  std::string text = kPolicy;
  text.replace(text.find("sync_period: 1s"), 15, "sync_period: 5s");
  text.replace(text.find("panic: false\n"), 13, "");
  text.replace(text.find("  scale_up: {stabilization_window: 0s}\n"), 39, "");
  return ParsePolicyText(text, "p.yaml");
}

TEST(SimulateTest, ASaturatedRowScalesAtOnceBetweenSyncsAsFarAsTheRatePoliciesAllow) {
  // The row at t=1 shows the replicas at 100 % of their limit (throttling unknown), so the
  // decision is not left for the sync at t=5.
  auto policy = DefaultsPolicy();
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  auto samples = ParseSimCsv(kCsv, *policy, "m.csv");
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  auto decisions = Simulate(*policy, *samples, SimOptions{});
  ASSERT_TRUE(decisions.ok());
  ASSERT_GE(decisions->size(), 3u);
  const Decision& d = (*decisions)[1];
  EXPECT_EQ(d.time_ms, 1000);
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.desired, 6);  // max(2 + 4 Pods, 2 × 100 %) per 15 s.
  EXPECT_EQ(d.reason, "panic: cpu saturated: 100% of the CPU limit over the last interval");
  // The panic reconcile restarted the sync period: the next decision is at t=6, and the panic
  // recommendation (6) holds the scale-down.
  EXPECT_EQ((*decisions)[2].time_ms, 6000);
  EXPECT_EQ((*decisions)[2].desired, 6);
}

// With a cpu_throttled column, a row at 95 % of the limit that was barely throttled is busy, not
// saturated: no panic (1.9× the target waits for the scale-up window); throttled 30 %, it is.
TEST(SimulateTest, AThrottledColumnTellsBusyFromSaturated) {
  auto policy = DefaultsPolicy();
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  auto samples = ParseSimCsv("timestamp,replicas,cpu,cpu_throttled\n0,2,50,0\n1,,95,1\n2,,95,30\n",
                             *policy, "m.csv");
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  auto json = ParseSimJson(R"([{"timestamp": 0, "replicas": 2, "cpu": 50, "cpu_throttled": 0},
                               {"timestamp": 1, "cpu": 95, "cpu_throttled": 1},
                               {"timestamp": 2, "cpu": 95, "cpu_throttled": 30}])",
                           *policy, "m.json");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  for (size_t i = 0; i < samples->size(); ++i) {
    EXPECT_EQ((*samples)[i].throttled, (*json)[i].throttled);
  }
  auto decisions = Simulate(*policy, *samples, SimOptions{});
  ASSERT_TRUE(decisions.ok());
  ASSERT_EQ(decisions->size(), 2u);  // t=0 (the first row) and the panic at t=2; not t=1.
  EXPECT_EQ((*decisions)[1].time_ms, 2000);
  EXPECT_TRUE((*decisions)[1].panic);
  EXPECT_EQ((*decisions)[1].desired, 6);
  // A throttled column for a name that is not a metric: named in the error.
  auto bad = ParseSimCsv("timestamp,cpu,mem_throttled\n0,50,1\n", *policy, "m.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"mem_throttled\" is not a metric"), std::string::npos)
      << bad.status().ToString();
  // A query metric that happens to be called cpu_throttled keeps its column; and the throttled
  // column of a query metric is not a thing.
  MetricSpec q;
  q.type = MetricType::kQuery;
  q.name = "cpu_throttled";
  q.query = "up";
  q.target_value = 1;
  Policy two = *policy;
  two.metrics.push_back(q);
  auto ok = ParseSimCsv("timestamp,cpu,cpu_throttled\n0,50,7\n", two, "m.csv");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].values[1], 7);
  EXPECT_FALSE((*ok)[0].throttled[0]);
  bad =
      ParseSimCsv("timestamp,cpu,cpu_throttled,cpu_throttled_throttled\n0,50,7,1\n", two, "m.csv");
  ASSERT_FALSE(bad.ok());
}

TEST(SimulateTest, JsonEqualsCsv) {
  auto policy = ParsePolicyText(kPolicy, "p.yaml");
  ASSERT_TRUE(policy.ok());
  auto csv = ParseSimCsv("timestamp,cpu\n0,80\n1,\n", *policy, "m.csv");
  auto json =
      ParseSimJson(R"({"samples": [{"timestamp": 0, "cpu": 80}, {"timestamp": 1, "cpu": null}]})",
                   *policy, "m.json");
  ASSERT_TRUE(csv.ok() && json.ok());
  ASSERT_EQ(csv->size(), json->size());
  for (size_t i = 0; i < csv->size(); ++i) {
    EXPECT_EQ((*csv)[i].timestamp_s, (*json)[i].timestamp_s);
    EXPECT_EQ((*csv)[i].values, (*json)[i].values);
  }
}

TEST(SimulateTest, BadFilesNameTheLine) {
  auto policy = ParsePolicyText(kPolicy, "p.yaml");
  ASSERT_TRUE(policy.ok());
  EXPECT_NE(ParseSimCsv("timestamp,mem\n", *policy, "m.csv")
                .status()
                .message()
                .find("m.csv:1: column \"mem\" is not a metric"),
            std::string::npos);
  EXPECT_NE(ParseSimCsv("timestamp,cpu\n0,x\n", *policy, "m.csv")
                .status()
                .message()
                .find("m.csv:2: \"x\" is not a number"),
            std::string::npos);
  EXPECT_NE(ParseSimCsv("timestamp,cpu\n1,1\n1,1\n", *policy, "m.csv")
                .status()
                .message()
                .find("m.csv:3: timestamps must increase"),
            std::string::npos);
  EXPECT_NE(ParseSimCsv("timestamp\n", *policy, "m.csv")
                .status()
                .message()
                .find("no column for metric \"cpu\""),
            std::string::npos);
}

TEST(SimulateTest, CommandPrintsDecisions) {
  testing::TempDir dir;
  dir.WriteFile("p.yaml", kPolicy);
  dir.WriteFile("m.csv", kCsv);
  std::ostringstream out, err;
  int rc = RunSimulateCommand(
      {"--policy", dir.path() + "/p.yaml", "--metrics", dir.path() + "/m.csv", "--json"}, out, err);
  ASSERT_EQ(rc, 0) << err.str();
  std::istringstream lines(out.str());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (n == 1) {
      EXPECT_EQ(j["desired"], 4);
      EXPECT_EQ(j["reason"], "cpu above target");
    }
    ++n;
  }
  EXPECT_EQ(n, 10);
  std::ostringstream table, err2;
  ASSERT_EQ(RunSimulateCommand({"--policy", dir.path() + "/p.yaml", "--metrics",
                                dir.path() + "/m.csv", "--start-replicas", "3"},
                               table, err2),
            0);
  EXPECT_NE(table.str().find("cpu above target"), std::string::npos);
  EXPECT_NE(table.str().find("time"), std::string::npos);
}

TEST(SimulateTest, CommandUsageErrors) {
  std::ostringstream out, err;
  EXPECT_EQ(RunSimulateCommand({"--help"}, out, err), 0);
  EXPECT_NE(out.str().find("--metrics FILE"), std::string::npos);
  EXPECT_EQ(RunSimulateCommand({"--policy", "/nonexistent.yaml", "--metrics", "x"}, out, err), 2);
  EXPECT_NE(err.str().find("/nonexistent.yaml"), std::string::npos);
  EXPECT_EQ(RunSimulateCommand({"--bogus"}, out, err), 2);
  EXPECT_EQ(RunAutoscalerCli({"nope"}, out, err), 2);
}

}  // namespace
}  // namespace tidemark::autoscaler
