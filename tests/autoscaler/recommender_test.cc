#include "autoscaler/recommender.h"

#include <gtest/gtest.h>

namespace tidemark::autoscaler {
namespace {

constexpr int64_t kT0 = 1700000000000;  // ms
constexpr int64_t kS = 1000;

// The HPA's v2 defaults (scale-up window 0, no panic): the worked examples are the HPA's.
Policy CpuPolicy(int32_t target, int32_t min = 1, int32_t max = 100) {
  Policy p;
  p.scale_up.stabilization_window = std::chrono::milliseconds(0);
  p.scale_down.min_step = 0;
  p.panic.enabled = false;
  p.name = "web";
  p.target = {"SwarmService", "", "web"};
  p.orchestrator = "swarm";
  p.min_replicas = min;
  p.max_replicas = max;
  MetricSpec m;
  m.name = "cpu";
  m.target_utilization = target;
  p.metrics = {m};
  return p;
}

MetricSpec Query(std::string name, double target, QueryTargetType type) {
  MetricSpec m;
  m.type = MetricType::kQuery;
  m.name = std::move(name);
  m.query = "up";
  m.target_value = target;
  m.target_type = type;
  return m;
}

Policy QueryPolicy(double target, QueryTargetType type, int32_t min = 1, int32_t max = 100) {
  Policy p = CpuPolicy(50, min, max);
  p.metrics = {Query("q", target, type)};
  return p;
}

Replica Ready(const std::string& name) {
  Replica r;
  r.name = name;
  r.running = r.ready = true;
  r.started_ms = kT0 - 3600 * kS;
  r.ready_changed_ms = r.started_ms + 5 * kS;
  return r;
}

Replica Pending(const std::string& name) {
  Replica r;
  r.name = name;
  return r;
}

// n ready replicas "p0".."p<n-1>" with `cores` CPU request/limit each.
ScaleState State(int n, double cores = 1.0) {
  ScaleState s;
  s.desired = n;
  s.cpu_cores_per_replica = cores;
  for (int i = 0; i < n; ++i) s.replicas.push_back(Ready("p" + std::to_string(i)));
  return s;
}

MetricInput Cpu(const std::vector<double>& cores, int64_t now = kT0) {
  MetricInput in;
  for (size_t i = 0; i < cores.size(); ++i) {
    in.cpu["p" + std::to_string(i)] = {cores[i], now, 15 * kS};
  }
  return in;
}

MetricInput Value(double v) {
  MetricInput in;
  in.value = v;
  return in;
}

Decision Decide(const Policy& p, const ScaleState& s, std::vector<MetricInput> in,
                int64_t now = kT0, History* h = nullptr) {
  History local;
  return Recommend(p, now, s, in, h ? h : &local);
}

// §8 #1: util floor(1500×100/1500) = 100, ratio 1.667 → ceil(1.667×3) = 5, within the 7 allowed.
TEST(RecommenderTest, WorkedExample1ThreeReadyPods) {
  Decision d = Decide(CpuPolicy(60), State(3, 0.5), {Cpu({0.45, 0.45, 0.6})});
  ASSERT_EQ(d.metrics.size(), 1u);
  EXPECT_EQ(d.metrics[0].utilization, 100);
  EXPECT_EQ(d.metrics[0].replicas, 5);
  EXPECT_EQ(d.desired, 5);
  EXPECT_TRUE(d.call_orchestrator);
  EXPECT_EQ(d.reason, "cpu above target");
  EXPECT_EQ(d.limited_reason, "");
}

// §8 #2: a fourth pod Pending counts as 0 when scaling up: util 75, ratio 1.25 → 5.
TEST(RecommenderTest, WorkedExample2PendingPodCountsAsZero) {
  ScaleState s = State(3, 0.5);
  s.replicas.push_back(Pending("p3"));
  s.desired = 4;
  Decision d = Decide(CpuPolicy(60), s, {Cpu({0.45, 0.45, 0.6})});
  EXPECT_EQ(d.metrics[0].utilization, 100);  // Status reports the unadjusted utilisation.
  EXPECT_EQ(d.metrics[0].replicas, 5);
  EXPECT_EQ(d.desired, 5);
}

// §8 #3: util truncated to 33, ratio 0.66 (not 0.6667).
TEST(RecommenderTest, WorkedExample3UtilizationTruncates) {
  Decision d = Decide(CpuPolicy(50), State(3, 0.1), {Cpu({0.034, 0.033, 0.033})});
  EXPECT_EQ(d.metrics[0].utilization, 33);
  EXPECT_DOUBLE_EQ(d.metrics[0].ratio, 0.66);
  EXPECT_EQ(d.metrics[0].replicas, 2);
}

// §8 #4: util 49 (true 49.9), ratio 1.0889 → within tolerance, hold 3 (untruncated would be 4).
TEST(RecommenderTest, WorkedExample4TruncationKeepsWithinTolerance) {
  Decision d = Decide(CpuPolicy(45), State(3), {Cpu({0.499, 0.499, 0.499})});
  EXPECT_EQ(d.metrics[0].utilization, 49);
  EXPECT_EQ(d.metrics[0].replicas, 3);
  EXPECT_EQ(d.desired, 3);
  EXPECT_FALSE(d.rescale);
}

// §8 #5: util 65, ratio 1.083 → hold 2.
TEST(RecommenderTest, WorkedExample5WithinTolerance) {
  Decision d = Decide(CpuPolicy(60), State(2), {Cpu({0.65, 0.65})});
  EXPECT_EQ(d.metrics[0].utilization, 65);
  EXPECT_EQ(d.desired, 2);
}

// §8 #6: ratio 0.4, the missing pod counts as 100 % → newRatio 0.8 → ceil(3.2) = 4 → hold 4.
TEST(RecommenderTest, WorkedExample6MissingPodIsFullOnScaleDown) {
  ScaleState s = State(4);
  Decision d = Decide(CpuPolicy(50), s, {Cpu({0.2, 0.2, 0.2})});
  EXPECT_DOUBLE_EQ(d.metrics[0].ratio, 0.4);
  EXPECT_EQ(d.metrics[0].replicas, 4);
  EXPECT_EQ(d.desired, 4);
}

// §8 #7: ratio 1.4, the missing pod counts as 0 → util 52, newRatio 1.04 → hold 4.
TEST(RecommenderTest, WorkedExample7MissingPodIsIdleOnScaleUp) {
  Decision d = Decide(CpuPolicy(50), State(4), {Cpu({0.7, 0.7, 0.7})});
  EXPECT_DOUBLE_EQ(d.metrics[0].ratio, 1.4);
  EXPECT_EQ(d.metrics[0].replicas, 4);
  EXPECT_EQ(d.desired, 4);
}

// §8 #8: ratio 1.2, two Pending pods count as 0 → newRatio 0.6: direction flips → hold 4.
TEST(RecommenderTest, WorkedExample8DirectionFlipHolds) {
  ScaleState s = State(2);
  s.replicas.push_back(Pending("p2"));
  s.replicas.push_back(Pending("p3"));
  s.desired = 4;
  Decision d = Decide(CpuPolicy(50), s, {Cpu({0.6, 0.6})});
  EXPECT_DOUBLE_EQ(d.metrics[0].ratio, 1.2);
  EXPECT_EQ(d.desired, 4);
}

// §8 #9: down window 300 s, recs t=0:10, 100:8, 200:6; desired 5 at t=250 → 10; at t=300 → 8.
TEST(RecommenderTest, WorkedExample9ScaleDownStabilization) {
  Policy p = CpuPolicy(50);
  History h;
  h.initialized = true;
  h.recommendations = {{kT0, 10}, {kT0 + 100 * kS, 8}, {kT0 + 200 * kS, 6}};
  std::vector<double> quarter(10, 0.25);  // util 25 → ratio 0.5 → 5.
  Decision d = Decide(p, State(10), {Cpu(quarter, kT0 + 250 * kS)}, kT0 + 250 * kS, &h);
  EXPECT_EQ(d.recommendation, 5);
  EXPECT_EQ(d.desired, 10);
  EXPECT_EQ(d.Find("AbleToScale")->reason, "ScaleDownStabilized");
  d = Decide(p, State(10), {Cpu(quarter, kT0 + 300 * kS)}, kT0 + 300 * kS, &h);
  EXPECT_EQ(d.desired, 8);
}

// §8 #10: default up policies, 10 → 20 → 40 → 50 at 15 s; a sync < 15 s later stalls at 20.
TEST(RecommenderTest, WorkedExample10DefaultScaleUpRate) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage);
  History h;
  int32_t cur = 10;
  std::vector<int32_t> seen;
  for (int i = 0; i < 3; ++i) {
    int64_t now = kT0 + i * 15 * kS;
    Decision d = Decide(p, State(cur), {Value(50)}, now, &h);
    if (i < 2) {
      EXPECT_EQ(d.limited_reason, "ScaleUpLimit");
    }
    RecordRescale(p, now, cur, d.desired, &h);
    cur = d.desired;
    seen.push_back(cur);
  }
  EXPECT_EQ(seen, (std::vector<int32_t>{20, 40, 50}));

  History h2;
  Decision d = Decide(p, State(10), {Value(50)}, kT0, &h2);
  ASSERT_EQ(d.desired, 20);
  RecordRescale(p, kT0, 10, 20, &h2);
  d = Decide(p, State(20), {Value(50)}, kT0 + 10 * kS, &h2);
  EXPECT_EQ(d.desired, 20);  // periodStart = 20 - 10 = 10 → max(14, 20).
  EXPECT_EQ(d.limited_reason, "ScaleUpLimit");
}

// §8 #11: Pods 4/60s + Percent 10/60s, Max, current 80 → 72 → 64; at 30: proposals 26, 27 → 26.
TEST(RecommenderTest, WorkedExample11ScaleDownPolicies) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage);
  p.scale_down.stabilization_window = std::chrono::seconds(0);
  p.scale_down.policies = {{RatePolicyType::kPods, 4, std::chrono::seconds(60)},
                           {RatePolicyType::kPercent, 10, std::chrono::seconds(60)}};
  History h;
  int32_t cur = 80;
  for (int32_t want : {72, 64}) {
    int64_t now = kT0 + (80 - cur) / 8 * 60 * kS;
    Decision d = Decide(p, State(cur), {Value(1)}, now, &h);
    EXPECT_EQ(d.desired, want);
    EXPECT_EQ(d.limited_reason, "ScaleDownLimit");
    RecordRescale(p, now, cur, d.desired, &h);
    cur = d.desired;
  }
  History h30;
  EXPECT_EQ(Decide(p, State(30), {Value(1)}, kT0, &h30).desired, 26);
}

// §8 #12: legacy behaviour caps a scale-up at max(2×current, 4).
TEST(RecommenderTest, WorkedExample12LegacyScaleUpLimit) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage);
  p.legacy_behavior = true;
  Decision d = Decide(p, State(1), {Value(1000)});
  EXPECT_EQ(d.desired, 4);
  EXPECT_EQ(d.limited_reason, "ScaleUpLimit");
  EXPECT_EQ(Decide(p, State(3), {Value(1000)}).desired, 6);
}

// §8 #13: current 0 with min 1 → no action, ScalingDisabled.
TEST(RecommenderTest, WorkedExample13ZeroReplicasDisablesScaling) {
  Decision d = Decide(CpuPolicy(50), State(0), {Cpu({})});
  EXPECT_FALSE(d.rescale);
  EXPECT_FALSE(d.call_orchestrator);
  EXPECT_EQ(d.Find("ScalingActive")->reason, "ScalingDisabled");
  EXPECT_FALSE(d.Find("ScalingActive")->status);
}

// §8 #14: current 12, max 10 → 10 at once, no stabilization.
TEST(RecommenderTest, WorkedExample14AboveMaxGoesToMaxAtOnce) {
  History h;
  h.initialized = true;
  h.recommendations = {{kT0 - kS, 12}};
  Decision d =
      Decide(CpuPolicy(50, 1, 10), State(12), {Cpu(std::vector<double>(12, 0.9))}, kT0, &h);
  EXPECT_EQ(d.desired, 10);
  EXPECT_EQ(d.limited_reason, "TooManyReplicas");
}

// §8 #15: several metrics → the max (CPU 5, query 3 → 5).
TEST(RecommenderTest, WorkedExample15MaxOfMetrics) {
  Policy p = CpuPolicy(60);
  p.metrics.push_back(Query("mem", 1, QueryTargetType::kAverage));
  Decision d = Decide(p, State(3, 0.5), {Cpu({0.45, 0.45, 0.6}), Value(3)});
  EXPECT_EQ(d.metrics[0].replicas, 5);
  EXPECT_EQ(d.metrics[1].replicas, 3);
  EXPECT_EQ(d.desired, 5);
}

// §8 #16: CPU fails, the other proposes 3 with current 4 → no scaling; proposes 6 → 6 + error.
TEST(RecommenderTest, WorkedExample16FailedMetricBlocksScaleDownOnly) {
  Policy p = CpuPolicy(60);
  p.metrics.push_back(Query("mem", 1, QueryTargetType::kAverage));
  MetricInput failed;
  failed.status = Status::Unavailable("metrics source down");
  Decision d = Decide(p, State(4), {failed, Value(3)});
  EXPECT_FALSE(d.rescale);
  EXPECT_EQ(d.desired, 4);
  EXPECT_FALSE(d.Find("ScalingActive")->status);
  EXPECT_EQ(d.Find("ScalingActive")->reason, "FailedGetResourceMetric");
  d = Decide(p, State(4), {failed, Value(6)});
  EXPECT_EQ(d.desired, 6);
  EXPECT_FALSE(d.metrics[0].valid);
  EXPECT_NE(d.metrics[0].error.find("metrics source down"), std::string::npos);
}

// §8 #17: AverageValue: 250/100 with 2 → 3; 205 → ratio 1.025 → hold 2.
TEST(RecommenderTest, WorkedExample17AverageValueTarget) {
  Policy p = QueryPolicy(100, QueryTargetType::kAverage);
  EXPECT_EQ(Decide(p, State(2), {Value(250)}).desired, 3);
  EXPECT_EQ(Decide(p, State(2), {Value(205)}).desired, 2);
}

// §8 #18: Value: 300 against 100 with 2 ready → 6; from zero → ceil(3) = 3.
TEST(RecommenderTest, WorkedExample18ValueTarget) {
  Policy p = QueryPolicy(100, QueryTargetType::kValue, 0, 100);
  p.allow_scale_to_zero = true;
  EXPECT_EQ(Decide(p, State(2), {Value(300)}).metrics[0].replicas, 6);
  EXPECT_EQ(Decide(p, State(0), {Value(300)}).metrics[0].replicas, 3);
}

TEST(RecommenderTest, SeparateUpAndDownTolerance) {
  Policy p = QueryPolicy(100, QueryTargetType::kValue);
  p.scale_up.tolerance = 0.0;
  p.scale_down.tolerance = 0.5;
  p.scale_down.stabilization_window = std::chrono::seconds(0);
  EXPECT_EQ(Decide(p, State(4), {Value(101)}).desired, 5);  // ratio 1.01 > 1 + 0 → ceil(4.04).
  EXPECT_EQ(Decide(p, State(4), {Value(51)}).desired, 4);   // 0.51 ≥ 1 - 0.5: hold.
  EXPECT_EQ(Decide(p, State(4), {Value(49)}).desired, 2);   // 0.49: ceil(1.96).
}

TEST(RecommenderTest, AllMetricsMissingNeverScalesDown) {
  Policy p = CpuPolicy(50);
  p.scale_down.stabilization_window = std::chrono::seconds(0);
  Decision d = Decide(p, State(4), {Cpu({})});
  EXPECT_FALSE(d.rescale);
  EXPECT_EQ(d.Find("ScalingActive")->reason, "FailedGetResourceMetric");
  Policy q = QueryPolicy(100, QueryTargetType::kValue);
  d = Decide(q, State(4), {MetricInput{}});  // No value at all (empty query result).
  EXPECT_FALSE(d.rescale);
  EXPECT_EQ(d.Find("ScalingActive")->reason, "FailedGetExternalMetric");
  d = Decide(q, State(4), {Value(std::nan(""))});
  EXPECT_FALSE(d.rescale);
}

TEST(RecommenderTest, MissingCpuLimitFailsTheMetric) {
  Decision d = Decide(CpuPolicy(50), State(2, 0.0), {Cpu({0.9, 0.9})});
  EXPECT_FALSE(d.rescale);
  EXPECT_NE(d.Find("ScalingActive")->message.find("missing CPU limit"), std::string::npos);
}

TEST(RecommenderTest, CpuUnreadyWithinInitializationPeriod) {
  // p2 started 60 s ago and became ready 10 s ago: its 15 s sample was not taken entirely while
  // ready, so it is unready and counts as 0 when scaling up.
  ScaleState s = State(2);
  Replica young = Ready("p2");
  young.started_ms = kT0 - 60 * kS;
  young.ready_changed_ms = kT0 - 10 * kS;
  s.replicas.push_back(young);
  s.desired = 3;
  // Ready pods at 100 % of a 50 % target: ratio 2; with p2 at 0: util 66, ratio 1.32 → ceil(3.96).
  Decision d = Decide(CpuPolicy(50), s, {Cpu({1.0, 1.0, 1.0})});
  EXPECT_EQ(d.metrics[0].utilization, 100);
  EXPECT_EQ(d.desired, 4);
  // After the initialization period it is ready: 3 × ratio 2 = 6.
  young.started_ms = kT0 - 400 * kS;
  s.replicas[2] = young;
  EXPECT_EQ(Decide(CpuPolicy(50), s, {Cpu({1.0, 1.0, 1.0})}).desired, 6);
}

TEST(RecommenderTest, CpuNeverReadyAfterStartIsUnready) {
  ScaleState s = State(2);
  Replica r = Ready("p2");
  r.ready = false;
  r.ready_changed_ms = r.started_ms + 10 * kS;  // Within the 30 s initial readiness delay.
  s.replicas.push_back(r);
  s.desired = 3;
  Decision d = Decide(CpuPolicy(50), s, {Cpu({0.25, 0.25, 0.9})});  // p2's 0.9 is ignored.
  EXPECT_EQ(d.metrics[0].utilization, 25);
  // Scaling down: unready replicas are left out, ceil(0.5 × 2) = 1 after the window.
  EXPECT_EQ(d.metrics[0].replicas, 1);
  // One that became unready later (crashed after 1 min) keeps counting with its sample.
  s.replicas[2].ready_changed_ms = s.replicas[2].started_ms + 60 * kS;
  d = Decide(CpuPolicy(50), s, {Cpu({0.25, 0.25, 0.9})});
  EXPECT_EQ(d.metrics[0].utilization, 46);
}

TEST(RecommenderTest, FailedReplicasAreIgnored) {
  ScaleState s = State(2);
  Replica f = Pending("p2");
  f.failed = true;
  s.replicas.push_back(f);
  s.desired = 2;
  EXPECT_EQ(Decide(CpuPolicy(50), s, {Cpu({1.0, 1.0})}).desired, 4);  // Not the conservative path.
}

TEST(RecommenderTest, SelectPolicyMinAndDisabled) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage);
  p.scale_up.select = SelectPolicy::kMin;  // min(10 + 4, 20) = 14.
  EXPECT_EQ(Decide(p, State(10), {Value(50)}).desired, 14);
  p.scale_up.select = SelectPolicy::kDisabled;
  Decision d = Decide(p, State(10), {Value(50)});
  EXPECT_EQ(d.desired, 10);
  EXPECT_EQ(d.limited_reason, "ScaleUpLimit");
  p.scale_down.select = SelectPolicy::kDisabled;
  p.scale_down.stabilization_window = std::chrono::seconds(0);
  EXPECT_EQ(Decide(p, State(10), {Value(1)}).desired, 10);
}

TEST(RecommenderTest, PercentScaleDownTruncates) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage);
  p.scale_down.stabilization_window = std::chrono::seconds(0);
  p.scale_down.policies = {{RatePolicyType::kPercent, 50, std::chrono::seconds(60)}};
  EXPECT_EQ(Decide(p, State(5), {Value(1)}).desired, 2);  // int32(5 × 0.5) = 2.
}

TEST(RecommenderTest, ScaleUpStabilizationTakesLowestRecent) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage);
  p.scale_up.stabilization_window = std::chrono::seconds(3);
  History h;
  EXPECT_EQ(Decide(p, State(2), {Value(8)}, kT0, &h).desired, 2);  // Seeded with current 2.
  EXPECT_EQ(Decide(p, State(2), {Value(8)}, kT0 + 2 * kS, &h).desired, 2);
  Decision d = Decide(p, State(2), {Value(8)}, kT0 + 4 * kS, &h);  // The seed left the window.
  EXPECT_EQ(d.recommendation, 8);
  EXPECT_EQ(d.desired, 6);  // Rate limit from 2: Max(Pods 2 + 4, Percent 2 × 2) = 6.
}

TEST(RecommenderTest, MinMaxClamp) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage, 2, 5);
  p.scale_down.stabilization_window = std::chrono::seconds(0);
  Decision d = Decide(p, State(4), {Value(50)});
  EXPECT_EQ(d.desired, 5);
  EXPECT_EQ(d.limited_reason, "TooManyReplicas");
  d = Decide(p, State(4), {Value(0)});
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.limited_reason, "TooFewReplicas");
  d = Decide(p, State(1), {Value(1)});  // Below min: straight to min.
  EXPECT_EQ(d.desired, 2);
}

TEST(RecommenderTest, ScaleInWindowHoldsScaleDownOutside) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage);
  p.scale_down.stabilization_window = std::chrono::seconds(0);
  p.scale_in = {true, 22 * 60, 6 * 60, /*utc=*/true, 0x7f};
  const int64_t noon = 1700049600000;  // 2023-11-15 12:00 UTC (a Wednesday).
  Decision d = Decide(p, State(6), {Value(2)}, noon);
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.limited_reason, "ScaleInWindowClosed");
  EXPECT_EQ(Decide(p, State(6), {Value(20)}, noon).desired, 12);  // Scale-out is never held.
  EXPECT_EQ(Decide(p, State(6), {Value(2)}, noon + 11 * 3600 * kS).desired, 2);  // 23:00.
  EXPECT_EQ(Decide(p, State(6), {Value(2)}, noon + 17 * 3600 * kS).desired, 2);  // 05:00 next day.
  p.scale_in.days = 1u << 3;  // Wednesday's window only: Thursday 23:00 is closed.
  EXPECT_EQ(Decide(p, State(6), {Value(2)}, noon + 35 * 3600 * kS).desired, 6);
  EXPECT_EQ(Decide(p, State(6), {Value(2)}, noon + 17 * 3600 * kS).desired, 2);  // Wed's window.
}

TEST(RecommenderTest, DryRunDecidesButDoesNotCall) {
  Policy p = CpuPolicy(60);
  p.dry_run = true;
  Decision d = Decide(p, State(3, 0.5), {Cpu({0.45, 0.45, 0.6})});
  EXPECT_TRUE(d.rescale);
  EXPECT_EQ(d.desired, 5);
  EXPECT_FALSE(d.call_orchestrator);
}

TEST(RecommenderTest, PruneKeepsOnlyWhatWindowsNeed) {
  Policy p = QueryPolicy(1, QueryTargetType::kAverage);
  History h;
  h.initialized = true;
  h.recommendations = {{kT0 - 400 * kS, 9}, {kT0 - 100 * kS, 7}};
  h.scale_up_events = {{kT0 - 20 * kS, 3}, {kT0 - 5 * kS, 1}};
  PruneHistory(p, kT0, &h);
  ASSERT_EQ(h.recommendations.size(), 1u);
  EXPECT_EQ(h.recommendations[0].replicas, 7);
  ASSERT_EQ(h.scale_up_events.size(), 1u);
  EXPECT_EQ(h.scale_up_events[0].change, 1);
  for (int i = 0; i < 5; ++i) RecordDecision(Decision{}, 3, &h);
  EXPECT_EQ(h.decisions.size(), 3u);
}

// HPA sums each counted pod's own request: during a rollout from 500m to 1000m requests the
// utilisation is Σusage / Σrequests, not usage over the largest request times the count.
TEST(RecommenderTest, CpuBasisIsSummedOverEachReplicasOwnRequest) {
  Policy p = CpuPolicy(50);
  p.metrics[0].against = CpuBasis::kRequest;
  ScaleState s = State(2);
  s.cpu_cores_per_replica = 0;
  s.replicas[0].cpu_request_cores = 0.5;
  s.replicas[1].cpu_request_cores = 1.0;
  s.replicas[0].cpu_limit_cores = s.replicas[1].cpu_limit_cores = 2.0;
  Decision d = Decide(p, s, {Cpu({0.5, 0.4})});
  ASSERT_TRUE(d.metrics[0].valid) << d.metrics[0].error;
  EXPECT_EQ(d.metrics[0].utilization, 60);  // 900m / 1500m.
  EXPECT_EQ(d.metrics[0].replicas, 3);      // ceil(1.2 × 2).
  p.metrics[0].against = CpuBasis::kLimit;  // 900m / 4000m = 22 %.
  d = Decide(p, s, {Cpu({0.5, 0.4})});
  EXPECT_EQ(d.metrics[0].utilization, 22);
}

// Measuring against a basis a replica lacks is an invalid metric (HPA: missing request), never a
// silent switch to the other basis.
TEST(RecommenderTest, MissingBasisOnAReplicaIsAnInvalidMetric) {
  Policy p = CpuPolicy(50);
  p.metrics[0].against = CpuBasis::kRequest;
  ScaleState s = State(2);
  s.cpu_cores_per_replica = 0;
  s.replicas[0].cpu_limit_cores = s.replicas[1].cpu_limit_cores = 0.5;  // Limits, no request.
  Decision d = Decide(p, s, {Cpu({0.5, 0.4})});
  ASSERT_FALSE(d.metrics[0].valid);
  EXPECT_NE(d.metrics[0].error.find("missing CPU request on replica p0"), std::string::npos)
      << d.metrics[0].error;
  EXPECT_FALSE(d.call_orchestrator);
}

// tidemark's defaults: the 15 s scale-up window, and the panic fast path on.
Policy PanicPolicy(int32_t target) {
  Policy p = CpuPolicy(target, 1, 20);
  p.scale_up.stabilization_window = std::chrono::seconds(15);
  p.panic = PanicRules{};
  return p;
}

// One-interval samples for replicas p0.. into `field` of the input.
MetricInput WithLastInterval(MetricInput in,
                             std::map<std::string, ReplicaSample> MetricInput::*field,
                             const std::vector<double>& cores, int64_t now) {
  for (size_t i = 0; i < cores.size(); ++i) {
    (in.*field)["p" + std::to_string(i)] = {cores[i], now, kS};
  }
  return in;
}
MetricInput WithRecent(MetricInput in, const std::vector<double>& cores, int64_t now = kT0) {
  return WithLastInterval(std::move(in), &MetricInput::cpu_recent, cores, now);
}
MetricInput WithThrottled(MetricInput in, const std::vector<double>& cores, int64_t now = kT0) {
  return WithLastInterval(std::move(in), &MetricInput::cpu_throttled_recent, cores, now);
}

// Saturated replicas: their demand is unknown, so the scale-up goes as far as the rate policies
// allow, at once (past the up window), and its recommendation holds the scale-down window.
TEST(RecommenderTest, SaturationScalesUpToTheRateLimitPastTheUpWindow) {
  Policy p = PanicPolicy(50);
  History h;
  Decision d = Decide(p, State(2), {WithRecent(Cpu({0.3, 0.3}), {0.3, 0.3})}, kT0, &h);
  EXPECT_FALSE(d.rescale);  // In tolerance.
  // The 3 s mean shows 70 % (ratio 1.4: 3 replicas, held by the up window); the last interval
  // shows 97.5 % of the 1-core limits.
  d = Decide(p, State(2), {WithRecent(Cpu({0.7, 0.7}), {0.97, 0.98})}, kT0 + kS, &h);
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.panic_reason, "cpu saturated: 98% of the CPU limit over the last interval");
  EXPECT_EQ(d.recommendation, 6);  // max(2 + 4 Pods, 2 × 100 %) per 15 s.
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.reason, "panic: cpu saturated: 98% of the CPU limit over the last interval");
  EXPECT_TRUE(ActBetweenSyncs(d));
  RecordRescale(p, kT0 + kS, 2, 6, &h);
  // Still saturated a second later: the rate policies allow nothing more in this period.
  d = Decide(p, State(6), {WithRecent(Cpu({1, 1, 1, 1, 1, 1}), {1, 1, 1, 1, 1, 1})}, kT0 + 2 * kS,
             &h);
  EXPECT_FALSE(d.panic);
  EXPECT_FALSE(ActBetweenSyncs(d));
  EXPECT_EQ(d.desired, 6);
  // Load gone: the recorded 6 holds the 5 minute scale-down window.
  d = Decide(p, State(6),
             {WithRecent(Cpu(std::vector<double>(6, 0.1)), std::vector<double>(6, 0.1))},
             kT0 + 60 * kS, &h);
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.Find("AbleToScale")->reason, "ScaleDownStabilized");
}

// Busy replicas that were barely throttled got what they asked for: their demand is known, so
// saturation does not apply and only the threshold hurries the scale-up. Throttled more, or
// not known for every measured replica, the demand is unknown: the rate ceiling, as above.
TEST(RecommenderTest, BusyReplicasThatWereNotThrottledAreNotSaturated) {
  Policy p = PanicPolicy(80);
  const std::vector<double> busy(6, 0.92);
  auto input = [&](const std::vector<double>& throttled, double mean = 0.7) {
    MetricInput in = WithRecent(Cpu(std::vector<double>(6, mean)), busy);
    return std::vector<MetricInput>{WithThrottled(in, throttled)};
  };
  History h;
  Decide(p, State(6), input(std::vector<double>(6, 0)), kT0, &h);
  // 92 % of the limit, throttled 3 %: no panic; the up window holds the rise (0.92 / 0.8 = 1.15).
  Decision d = Decide(p, State(6), input(std::vector<double>(6, 0.03), 0.92), kT0 + kS, &h);
  EXPECT_FALSE(d.panic);
  EXPECT_EQ(d.recommendation, 7);  // ceil(1.15 × 6).
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.Find("AbleToScale")->reason, "ScaleUpStabilized");
  // Throttled 4 % of the limit: still known; 6 %: not.
  d = Decide(p, State(6), input(std::vector<double>(6, 0.04)));
  EXPECT_FALSE(d.panic);
  d = Decide(p, State(6), input(std::vector<double>(6, 0.06)));
  EXPECT_TRUE(d.panic);
  // Throttled 10 % of the limit: saturated, as far as the rate policies allow.
  d = Decide(p, State(6), input(std::vector<double>(6, 0.1)));
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.desired, 12);  // max(6 + 4, 2 × 6).
  EXPECT_EQ(d.panic_reason, "cpu saturated: 92% of the CPU limit over the last interval");
  // One measured replica without a throttled sample: unknown, saturated.
  MetricInput partial = input(std::vector<double>(6, 0.03))[0];
  partial.cpu_throttled_recent.erase("p5");
  d = Decide(p, State(6), {partial});
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.desired, 12);
  // A replica without a limit (measured against requests) cannot be throttled: it has no
  // throttled sample, and that leaves the others' demand known.
  Policy req = PanicPolicy(80);
  req.metrics[0].against = CpuBasis::kRequest;
  ScaleState mixed = State(4);
  mixed.cpu_cores_per_replica = 0;
  for (Replica& r : mixed.replicas) r.cpu_request_cores = 1;
  for (int i = 0; i < 3; ++i) mixed.replicas[i].cpu_limit_cores = 1;
  MetricInput in = WithRecent(Cpu(std::vector<double>(4, 0.7)), std::vector<double>(4, 0.95));
  in.cpu_throttled_recent = WithThrottled(MetricInput{}, {0, 0, 0}).cpu_throttled_recent;
  d = Decide(req, mixed, {in});
  EXPECT_FALSE(d.panic) << d.panic_reason;
  in.cpu_throttled_recent.erase("p2");  // A limited replica without one: unknown.
  d = Decide(req, mixed, {in});
  EXPECT_TRUE(d.panic);
  // Not throttled, at twice a 40 % target on both windows: the threshold, to the HPA count.
  p.metrics[0].target_utilization = 40;
  d = Decide(p, State(2),
             {WithThrottled(WithRecent(Cpu({0.9, 0.9}), {0.92, 0.92}), std::vector<double>(2, 0))});
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.desired, 5);  // ceil(min(0.92, 0.9) / 0.4 × 2) = ceil(4.5); the ceiling is 6.
  EXPECT_EQ(d.panic_reason, "cpu at 2.25x its target over the last interval");
}

TEST(RecommenderTest, BelowSaturationAndThresholdTheUpWindowHolds) {
  Policy p = PanicPolicy(50);
  History h;
  Decide(p, State(2), {WithRecent(Cpu({0.3, 0.3}), {0.3, 0.3})}, kT0, &h);
  // 90 % over 3 s (ratio 1.8 < 2), 85 % over the last interval (not saturated): 4 replicas, after
  // the 15 s window.
  Decision d = Decide(p, State(2), {WithRecent(Cpu({0.9, 0.9}), {0.85, 0.85})}, kT0 + kS, &h);
  EXPECT_FALSE(d.panic);
  EXPECT_EQ(d.recommendation, 4);
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.Find("AbleToScale")->reason, "ScaleUpStabilized");
  EXPECT_FALSE(ActBetweenSyncs(d));
  for (int t = 2; t <= 14; ++t) {
    d = Decide(p, State(2), {WithRecent(Cpu({0.9, 0.9}), {0.85, 0.85})}, kT0 + t * kS, &h);
  }
  EXPECT_EQ(d.desired, 2);  // The 2 recorded at +0 s is inside the window until +15 s.
  d = Decide(p, State(2), {WithRecent(Cpu({0.9, 0.9}), {0.85, 0.85})}, kT0 + 15 * kS, &h);
  EXPECT_EQ(d.desired, 4);
  EXPECT_FALSE(d.panic);
}

// Against the request, usage can exceed the target many times over without touching the limit:
// twice the target (Knative's panic threshold) is enough.
TEST(RecommenderTest, TwiceTheTargetOnTheLastIntervalScalesUpAtOnce) {
  Policy p = PanicPolicy(50);
  p.metrics[0].against = CpuBasis::kRequest;
  ScaleState s = State(2);
  s.cpu_cores_per_replica = 0;
  for (Replica& r : s.replicas) {
    r.cpu_request_cores = 0.5;
    r.cpu_limit_cores = 4;
  }
  History h;
  Decide(p, s, {WithRecent(Cpu({0.2, 0.2}), {0.2, 0.2})}, kT0, &h);
  // One noisy interval at 2.4× while the rate window shows 1.2×: the up window holds.
  Decision d = Decide(p, s, {WithRecent(Cpu({0.3, 0.3}), {0.6, 0.6})}, kT0 + kS, &h);
  EXPECT_FALSE(d.panic);
  EXPECT_EQ(d.desired, 2);
  // Both at least twice the target (2.2× and 2.4×): the lower counts, ceil(2.2 × 2) = 5.
  d = Decide(p, s, {WithRecent(Cpu({0.55, 0.55}), {0.6, 0.6})}, kT0 + 2 * kS, &h);
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.panic_reason, "cpu at 2.20x its target over the last interval");
  EXPECT_EQ(d.desired, 5);
  // 1.9× on the last interval is below the threshold.
  d = Decide(p, s, {WithRecent(Cpu({0.55, 0.55}), {0.475, 0.475})}, kT0 + 3 * kS, &h);
  EXPECT_FALSE(d.panic);
}

// After a panic scale-up the new replicas are still starting and the old ones still throttled:
// the new ones count as using nothing, so the old ones do not trigger a second doubling.
TEST(RecommenderTest, StartingReplicasKeepSaturationFromCompounding) {
  Policy p = PanicPolicy(50);
  p.max_replicas = 64;
  ScaleState s = State(8);
  for (int i = 4; i < 8; ++i) s.replicas[i].running = s.replicas[i].ready = false;  // Pending.
  History h;
  RecordRescale(p, kT0 - 20 * kS, 4, 8, &h);  // The panic 20 s ago, outside the 15 s periods.
  const std::vector<double> busy = {1, 1, 1, 1};
  Decision d = Decide(p, s, {WithRecent(Cpu(busy), busy)}, kT0, &h);
  EXPECT_FALSE(d.panic) << d.panic_reason;  // 4 of 8 cores: 50 %.
  EXPECT_EQ(d.desired, 8);
  // Once they run, are ready and measured, saturation counts them in.
  for (Replica& r : s.replicas) r.running = r.ready = true;
  const std::vector<double> all_busy(8, 1.0);
  d = Decide(p, s, {WithRecent(Cpu(all_busy), all_busy)}, kT0 + kS, &h);
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.desired, 16);
}

TEST(RecommenderTest, AnInvalidCpuMetricNeverPanics) {
  Policy p = PanicPolicy(50);
  p.metrics[0].against = CpuBasis::kRequest;
  ScaleState s = State(2);
  s.cpu_cores_per_replica = 0;
  s.replicas[0].cpu_request_cores = 0.5;  // p1 has no request: the metric is invalid.
  s.replicas[0].cpu_limit_cores = s.replicas[1].cpu_limit_cores = 1;
  Decision d = Decide(p, s, {WithRecent(Cpu({1, 1}), {1, 1})});
  ASSERT_FALSE(d.metrics[0].valid);
  EXPECT_FALSE(d.panic);
  EXPECT_FALSE(d.rescale);
}

TEST(RecommenderTest, ADryRunPanicWaitsForTheSync) {
  Policy p = PanicPolicy(50);
  p.dry_run = true;
  Decision d = Decide(p, State(2), {WithRecent(Cpu({1, 1}), {1, 1})});
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.desired, 6);
  EXPECT_FALSE(ActBetweenSyncs(d));  // No orchestrator call to hurry for.
}

// tidemark's scale_down.min_step: a scale-in by less than that share of the current replicas
// waits a second stabilization window, so a target is not trimmed one replica at a time as the
// window slides past old peaks; a larger one, or one to min_replicas, waits the window only.
TEST(RecommenderTest, ScaleInsSmallerThanTheMinStepWaitASecondWindow) {
  Policy p = CpuPolicy(50, 10, 100);
  p.scale_down.min_step = 0.3;
  p.scale_down.stabilization_window = std::chrono::seconds(60);
  History h;
  Decision d = Decide(p, State(12), {Cpu(std::vector<double>(12, 0.5))}, kT0, &h);
  EXPECT_EQ(d.recommendation, 12);
  // 12 replicas at 44 %: ceil(0.88 × 12) = 11, one twelfth less. The window (60 s) has passed,
  // but the 12 of kT0 is within two of them: held.
  d = Decide(p, State(12), {Cpu(std::vector<double>(12, 0.44))}, kT0 + 61 * kS, &h);
  EXPECT_EQ(d.recommendation, 11);
  EXPECT_EQ(d.stabilized, 11);
  EXPECT_EQ(d.desired, 12);
  EXPECT_EQ(d.limited_reason, "ScaleDownBelowMinStep");
  EXPECT_FALSE(d.rescale);
  d = Decide(p, State(12), {Cpu(std::vector<double>(12, 0.44))}, kT0 + 119 * kS, &h);
  EXPECT_EQ(d.desired, 12);
  d = Decide(p, State(12), {Cpu(std::vector<double>(12, 0.44))}, kT0 + 121 * kS, &h);
  EXPECT_EQ(d.desired, 11);  // Two windows without a 12.
  EXPECT_EQ(d.limited_reason, "");

  // A third of the replicas or more: after one window.
  History big;
  Decide(p, State(12), {Cpu(std::vector<double>(12, 0.5))}, kT0, &big);
  d = Decide(p, State(12), {Cpu(std::vector<double>(12, 0.3))}, kT0 + 61 * kS, &big);
  EXPECT_EQ(d.desired, 10);  // ceil(0.6 × 12) = 8, min_replicas 10: never held.
  p.min_replicas = 1;
  History big2;
  Decide(p, State(12), {Cpu(std::vector<double>(12, 0.5))}, kT0, &big2);
  d = Decide(p, State(12), {Cpu(std::vector<double>(12, 0.3))}, kT0 + 61 * kS, &big2);
  EXPECT_EQ(d.desired, 8);  // 4 of 12 ≥ 0.3 × 12.

  // The HPA (min_step 0): any step after one window.
  p.scale_down.min_step = 0;
  History hpa;
  Decide(p, State(12), {Cpu(std::vector<double>(12, 0.5))}, kT0, &hpa);
  d = Decide(p, State(12), {Cpu(std::vector<double>(12, 0.44))}, kT0 + 61 * kS, &hpa);
  EXPECT_EQ(d.desired, 11);
}

// Load falling over a minute, 30 → 22 replicas' worth: the HPA (min_step 0) follows it in
// several scale-ins as the window slides; with min_step the target waits and scales in once.
TEST(RecommenderTest, AFallingLoadIsOneScaleInWithTheMinStep) {
  for (double min_step : {0.0, 0.3}) {
    Policy p = CpuPolicy(50);
    p.scale_down.min_step = min_step;
    p.scale_down.stabilization_window = std::chrono::seconds(60);
    History h;
    int32_t current = 30;
    int events = 0;
    for (int t = 0; t <= 300; t += 10) {
      const int32_t need = std::max(22, 30 - 2 * (t / 10));  // Replicas' worth at 50 %.
      const double per_replica = need * 0.5 / current;
      Decision d = Decide(p, State(current), {Cpu(std::vector<double>(current, per_replica))},
                          kT0 + t * kS, &h);
      ASSERT_LE(d.desired, current);
      if (d.rescale) {
        ++events;
        RecordRescale(p, kT0 + t * kS, current, d.desired, &h);
        current = d.desired;
      }
      PruneHistory(p, kT0 + t * kS, &h);
    }
    if (min_step > 0) {
      EXPECT_EQ(current, 22);
      EXPECT_EQ(events, 1);
    } else {
      EXPECT_EQ(current, 24);  // 22 / 24 is within the tolerance.
      EXPECT_GE(events, 2);
    }
  }
}

// scale_up.min_step: a small scale-up (not a panic) waits a second scale-up window, so a ramp is
// followed in fewer, larger steps; one to max_replicas does not wait.
TEST(RecommenderTest, ScaleUpsSmallerThanTheMinStepWaitASecondWindow) {
  Policy p = CpuPolicy(50, 1, 100);
  p.scale_up.stabilization_window = std::chrono::seconds(15);
  p.scale_up.min_step = 0.2;
  History h;
  Decide(p, State(20), {Cpu(std::vector<double>(20, 0.5))}, kT0, &h);
  // 112 %: ceil(1.12 × 20) = 23, three more (15 %). One window later: held by the 20 of kT0.
  Decision d = Decide(p, State(20), {Cpu(std::vector<double>(20, 0.56))}, kT0 + 16 * kS, &h);
  EXPECT_EQ(d.stabilized, 23);
  EXPECT_EQ(d.desired, 20);
  EXPECT_EQ(d.limited_reason, "ScaleUpBelowMinStep");
  d = Decide(p, State(20), {Cpu(std::vector<double>(20, 0.56))}, kT0 + 31 * kS, &h);
  EXPECT_EQ(d.desired, 23);  // Two windows without a recommendation of 20 or less.
  // To max_replicas: at once after one window.
  p.max_replicas = 22;
  History capped;
  Decide(p, State(20), {Cpu(std::vector<double>(20, 0.5))}, kT0, &capped);
  d = Decide(p, State(20), {Cpu(std::vector<double>(20, 0.56))}, kT0 + 16 * kS, &capped);
  EXPECT_EQ(d.desired, 22);
}

// Recommendations are kept for the second window; only as long as that.
TEST(RecommenderTest, PruneKeepsTwoScaleDownWindowsForTheMinStep) {
  Policy p = CpuPolicy(50);
  p.scale_down.min_step = 0.3;
  History h;
  h.initialized = true;
  h.recommendations = {{kT0 - 700 * kS, 9}, {kT0 - 400 * kS, 8}, {kT0 - 100 * kS, 7}};
  PruneHistory(p, kT0, &h);
  ASSERT_EQ(h.recommendations.size(), 2u);
  EXPECT_EQ(h.recommendations[0].replicas, 8);
}

// The step is judged before the rate limits: one pod per minute still scales in from 20 to 4.
TEST(RecommenderTest, MinStepDoesNotBlockARateLimitedScaleIn) {
  Policy p = CpuPolicy(50, 2, 100);
  p.scale_down.min_step = 0.1;
  p.scale_down.stabilization_window = std::chrono::seconds(0);
  p.scale_down.policies = {{RatePolicyType::kPods, 1, std::chrono::seconds(60)}};
  History h;
  Decision d = Decide(p, State(20), {Cpu(std::vector<double>(20, 0.1))}, kT0, &h);
  EXPECT_EQ(d.stabilized, 4);
  EXPECT_EQ(d.desired, 19);
  EXPECT_EQ(d.limited_reason, "ScaleDownLimit");
  // Outside the scale-in window the window's reason shows, not the step's.
  p.scale_in = {true, 120, 180, true, 0x7f};  // 02:00-03:00 UTC; kT0 is 22:13 UTC.
  d = Decide(p, State(20), {Cpu(std::vector<double>(20, 0.1))}, kT0, &h);
  EXPECT_EQ(d.desired, 20);
  EXPECT_EQ(d.limited_reason, "ScaleInWindowClosed");
}

TEST(RecommenderTest, AQueryAtTwiceItsTargetScalesUpAtOnce) {
  Policy p = PanicPolicy(50);
  p.metrics = {Query("p95", 0.3, QueryTargetType::kValue)};
  History h;
  Decide(p, State(2), {Value(0.1)}, kT0, &h);
  Decision d = Decide(p, State(2), {Value(0.45)}, kT0 + kS, &h);  // 1.5×: held by the window.
  EXPECT_FALSE(d.panic);
  EXPECT_EQ(d.desired, 2);
  d = Decide(p, State(2), {Value(0.9)}, kT0 + 2 * kS, &h);  // 3×: ceil(3 × 2) = 6 at once.
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.panic_reason, "p95 at 3.00x its target");
  EXPECT_EQ(d.desired, 6);
}

TEST(RecommenderTest, PanicOffOrNoRecentDataLeavesTheHpaAlgorithm) {
  Policy p = PanicPolicy(50);
  p.panic.enabled = false;
  History h;
  Decide(p, State(2), {Cpu({0.3, 0.3})}, kT0, &h);
  Decision d = Decide(p, State(2), {WithRecent(Cpu({1, 1}), {1, 1})}, kT0 + kS, &h);
  EXPECT_FALSE(d.panic);
  EXPECT_EQ(d.desired, 2);  // The up window holds 4.
  p.panic.enabled = true;
  d = Decide(p, State(2), {Cpu({1, 1})}, kT0 + 2 * kS, &h);  // No last-interval samples.
  EXPECT_FALSE(d.panic);
  EXPECT_EQ(d.desired, 2);
  // Behaviour-less HPA with panic asked for: its own ceiling, max(2 × current, 4).
  p.legacy_behavior = true;
  d = Decide(p, State(3), {WithRecent(Cpu({1, 1, 1}), {1, 1, 1})}, kT0 + 3 * kS, &h);
  EXPECT_TRUE(d.panic);
  EXPECT_EQ(d.desired, 6);
}

}  // namespace
}  // namespace tidemark::autoscaler
