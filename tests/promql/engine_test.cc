// Tests of the PromQL engine against Prometheus 2.42. Expected numbers come from the reference's
// golden vectors (promql.md §9) or from the real peer: the scripts in tests/promql/testdata/*.test
// are checked against promtool 2.42 with tests/promql/testdata/peer_check.py.
#include "tsdb/promql/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/promql/engine_test_util.h"

namespace tidemark::promql {
namespace {

using testutil::TestStore;

constexpr int64_t kSec = 1000;

class EngineTest : public ::testing::Test {
 protected:
  QueryResult Instant(std::string_view q, int64_t t) { return engine_.Instant(q, t); }
  // The single value of an instant query that must return exactly one sample (or a scalar).
  double One(std::string_view q, int64_t t) {
    QueryResult r = Instant(q, t);
    EXPECT_TRUE(r.ok()) << q << ": " << r.error;
    if (r.value.type == ValueType::kScalar) return r.value.scalar.v;
    EXPECT_EQ(r.value.type, ValueType::kVector) << q;
    EXPECT_EQ(r.value.vector.size(), 1u) << q;
    return r.value.vector.empty() ? std::nan("") : r.value.vector[0].v;
  }
  TestStore store_;
  Engine engine_{store_.db(), EngineOptions{}};
};

// promql.md §9.1.
TEST_F(EngineTest, CounterAndGaugeGoldenVectors) {
  store_.Load("a_total", "_ _ _ 0+3x6", 15 * kSec);
  store_.Load("b_total", "1 2 _ _ _ _ _", 15 * kSec);
  store_.Load("c_total", "10 20 5 15", 15 * kSec);
  store_.Load("g", "1 5 3 9", 15 * kSec);
  EXPECT_EQ(One("rate(a_total[1m])", 100 * kSec), 0.18333333333333335);
  EXPECT_EQ(One("increase(a_total[1m])", 100 * kSec), 11);
  EXPECT_EQ(One("rate(a_total[1m])", 120 * kSec), 0.2);
  EXPECT_EQ(One("increase(b_total[1m])", 60 * kSec), 1.5);
  EXPECT_EQ(One("increase(c_total[1m])", 45 * kSec), 33.33333333333333);
  EXPECT_EQ(One("irate(c_total[1m])", 45 * kSec), 0.6666666666666666);
  EXPECT_EQ(One("delta(g[1m])", 45 * kSec), 10.666666666666666);
  QueryResult r = Instant("rate(a_total[1m])", 100 * kSec);
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_TRUE(r.value.vector[0].metric.empty());  // rate drops __name__.
  EXPECT_EQ(r.value.vector[0].t, 100 * kSec);
}

// promql.md §9.2.
TEST_F(EngineTest, RangeWindowAndLookbackGoldenVectors) {
  store_.Load("x", "0 10 20 30 40", 15 * kSec);
  EXPECT_EQ(One("count_over_time(x[1m])", 60 * kSec), 5);  // Closed window [0, 60].
  QueryResult r = Instant("x", 360 * kSec);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_EQ(r.value.vector[0].v, 40);
  EXPECT_EQ(r.value.vector[0].t, 360 * kSec);
  EXPECT_EQ(r.value.vector[0].metric, (Labels{{"__name__", "x"}}));
  r = Instant("x", 361 * kSec);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value.vector.empty());
  EXPECT_EQ(r.value.type, ValueType::kVector);
  EXPECT_EQ(One("sum_over_time(x[1m]) / count_over_time(x[1m])", 60 * kSec), 20);
}

// promql.md §9.3.
TEST_F(EngineTest, HistogramQuantileGoldenVectors) {
  store_.Load(R"(h_bucket{le="0.1"})", "10", 15 * kSec);
  store_.Load(R"(h_bucket{le="0.5"})", "30", 15 * kSec);
  store_.Load(R"(h_bucket{le="1"})", "40", 15 * kSec);
  store_.Load(R"(h_bucket{le="+Inf"})", "50", 15 * kSec);
  EXPECT_EQ(One("histogram_quantile(0.5, h_bucket)", 0), 0.4);
  EXPECT_EQ(One("histogram_quantile(0.95, h_bucket)", 0), 1);
  EXPECT_EQ(One("histogram_quantile(0.05, h_bucket)", 0), 0.025);
  QueryResult r = Instant("histogram_quantile(0.5, h_bucket)", 0);
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_TRUE(r.value.vector[0].metric.empty());
}

// promql.md §9.4, engine level.
TEST_F(EngineTest, ScalarQueryReturnsScalarAtEvaluationTime) {
  QueryResult r = Instant("1+1", 4 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.type, ValueType::kScalar);
  EXPECT_EQ(r.value.scalar.t, 4 * kSec);
  EXPECT_EQ(r.value.scalar.v, 2);
  r = Instant("1e-7", 1435781451050);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value.scalar.v, 1e-7);
  EXPECT_EQ(r.value.scalar.t, 1435781451050);
  r = Instant("vector(1e-7)", 1435781451050);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value.type, ValueType::kVector);
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_TRUE(r.value.vector[0].metric.empty());
  EXPECT_EQ(r.value.vector[0].t, 1435781451050);
  EXPECT_EQ(r.value.vector[0].v, 1e-7);
}

TEST_F(EngineTest, StringQueryReturnsString) {
  QueryResult r = Instant(R"("hello")", 7 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.type, ValueType::kString);
  EXPECT_EQ(r.value.str, "hello");
  EXPECT_EQ(r.value.scalar.t, 7 * kSec);
}

TEST_F(EngineTest, ParseErrorsAreBadData) {
  QueryResult r = Instant("sum(rate(", 0);
  EXPECT_EQ(r.error_type, ErrorType::kBadData);
  EXPECT_EQ(r.error, "1:10: parse error: unclosed left parenthesis");
  r = Instant(R"({a=""})", 0);
  EXPECT_EQ(r.error_type, ErrorType::kBadData);
  EXPECT_EQ(r.error,
            "1:1: parse error: vector selector must contain at least one non-empty matcher");
}

TEST_F(EngineTest, EmptySelectorGivesEmptyVector) {
  QueryResult r = Instant("nothing_here", 100 * kSec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value.type, ValueType::kVector);
  EXPECT_TRUE(r.value.vector.empty());
  r = engine_.Range("nothing_here", 0, 100 * kSec, 10 * kSec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value.type, ValueType::kMatrix);
  EXPECT_TRUE(r.value.matrix.empty());
}

TEST_F(EngineTest, ManyToOneWithoutGroupModifierFails) {
  store_.Load(R"(x{job="a",instance="1"})", "1", 15 * kSec);
  store_.Load(R"(x{job="a",instance="2"})", "2", 15 * kSec);
  store_.Load(R"(y{job="a"})", "10", 15 * kSec);
  QueryResult r = Instant("x + on(job) y", 0);
  EXPECT_EQ(r.error_type, ErrorType::kExecution);
  EXPECT_EQ(r.error,
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
  r = Instant("x + on(job) group_left y", 0);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.vector.size(), 2u);
}

TEST_F(EngineTest, ManyToManyMatchFailsWithBothSeries) {
  store_.Load(R"(x{job="self"})", "1", 15 * kSec);
  store_.Load(R"(y{job="self",instance="1"})", "1", 15 * kSec);
  store_.Load(R"(y{job="self",instance="2"})", "2", 15 * kSec);
  QueryResult r = Instant("x + on(job) y", 0);
  EXPECT_EQ(r.error_type, ErrorType::kExecution);
  EXPECT_EQ(r.error,
            "found duplicate series for the match group {job=\"self\"} on the right hand-side of "
            "the operation: [{__name__=\"y\", instance=\"2\", job=\"self\"}, {__name__=\"y\", "
            "instance=\"1\", job=\"self\"}];many-to-many matching not allowed: matching labels "
            "must be unique on one side");
}

TEST_F(EngineTest, FunctionDroppingNameCannotMergeSeries) {
  store_.Load("a", "0+1x10", 15 * kSec);
  store_.Load("b", "0+1x10", 15 * kSec);
  QueryResult r = Instant(R"(rate({__name__=~"a|b"}[1m]))", 100 * kSec);
  EXPECT_EQ(r.error_type, ErrorType::kExecution);
  EXPECT_EQ(r.error, "vector cannot contain metrics with the same labelset");
  r = Instant(R"(abs({__name__=~"a|b"}))", 100 * kSec);
  EXPECT_EQ(r.error, "vector cannot contain metrics with the same labelset");
  r = Instant(R"(-{__name__=~"a|b"})", 100 * kSec);
  EXPECT_EQ(r.error, "vector cannot contain metrics with the same labelset");
}

TEST_F(EngineTest, RangeQueryHasOnePointPerStep) {
  store_.Load("x", "0+1x100", 1 * kSec);
  QueryResult r = engine_.Range("x", 96 * kSec, 100 * kSec, 2 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.matrix.size(), 1u);
  EXPECT_EQ(r.value.matrix[0].points,
            (std::vector<Point>{{96000, 96}, {98000, 98}, {100000, 100}}));
  r = engine_.Range("1+1", 0, 4 * kSec, 2 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.matrix.size(), 1u);
  EXPECT_TRUE(r.value.matrix[0].metric.empty());
  EXPECT_EQ(r.value.matrix[0].points, (std::vector<Point>{{0, 2}, {2000, 2}, {4000, 2}}));
}

TEST_F(EngineTest, RangeQueryRejectsRangeVectors) {
  QueryResult r = engine_.Range("x[5m]", 0, 10 * kSec, kSec);
  EXPECT_EQ(r.error_type, ErrorType::kBadData);
  EXPECT_EQ(r.error,
            "invalid expression type \"range vector\" for range query, must be Scalar or instant "
            "Vector");
}

TEST_F(EngineTest, InstantRangeSelectorReturnsMatrixWithSampleTimes) {
  store_.Load(R"(x{a="1"})", "1 2 stale 4 5", 15 * kSec);
  QueryResult r = Instant("x[45s]", 60 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.type, ValueType::kMatrix);
  ASSERT_EQ(r.value.matrix.size(), 1u);
  EXPECT_EQ(r.value.matrix[0].metric, (Labels{{"__name__", "x"}, {"a", "1"}}));
  // Closed window [15 s, 60 s]; the stale marker at 30 s is not a point.
  EXPECT_EQ(r.value.matrix[0].points, (std::vector<Point>{{15000, 2}, {45000, 4}, {60000, 5}}));
  r = Instant("(x[45s] @ 60)", 100 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.matrix.size(), 1u);
  EXPECT_EQ(r.value.matrix[0].points.size(), 3u);
  r = Instant("x[1m] offset 30s", 60 * kSec);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value.matrix.size(), 1u);
  EXPECT_EQ(r.value.matrix[0].points, (std::vector<Point>{{0, 1}, {15000, 2}}));
}

TEST_F(EngineTest, InstantSubqueryReturnsMatrixAlignedToStep) {
  store_.Load("x", "0+1x100", 1 * kSec);
  QueryResult r = Instant("x[10s:4s]", 21 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.type, ValueType::kMatrix);
  ASSERT_EQ(r.value.matrix.size(), 1u);
  // Steps at absolute multiples of 4 s within [11 s, 21 s].
  EXPECT_EQ(r.value.matrix[0].points, (std::vector<Point>{{12000, 12}, {16000, 16}, {20000, 20}}));
}

TEST_F(EngineTest, TooManySamplesIsExecutionError) {
  store_.Load("x", "0+1x100", 1 * kSec);
  EngineOptions o;
  o.max_samples = 50;
  Engine small(store_.db(), o);
  QueryResult r = small.Range("x", 0, 100 * kSec, kSec);
  EXPECT_EQ(r.error_type, ErrorType::kExecution);
  EXPECT_EQ(r.error, "query processing would load too many samples into memory in query execution");
  r = small.Range("x", 0, 40 * kSec, kSec);
  EXPECT_TRUE(r.ok()) << r.error;
  // A range function holds its window: 61 samples in x[1m] at 100 s.
  r = small.Instant("sum_over_time(x[1m])", 100 * kSec);
  EXPECT_EQ(r.error_type, ErrorType::kExecution);
  r = small.Instant("sum_over_time(x[40s])", 100 * kSec);
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST_F(EngineTest, DeadlineStopsQuery) {
  store_.Load("x", "0+1x100", 1 * kSec);
  QueryResult r =
      engine_.Range("sum(rate(x[1m]))", 0, 100000 * kSec, kSec, std::chrono::milliseconds(1));
  EXPECT_EQ(r.error_type, ErrorType::kTimeout);
  EXPECT_EQ(r.error, "query timed out in expression evaluation");
}

TEST_F(EngineTest, ErrorTypeNames) {
  EXPECT_EQ(ErrorTypeName(ErrorType::kBadData), "bad_data");
  EXPECT_EQ(ErrorTypeName(ErrorType::kExecution), "execution");
  EXPECT_EQ(ErrorTypeName(ErrorType::kTimeout), "timeout");
  EXPECT_EQ(ErrorTypeName(ErrorType::kCanceled), "canceled");
  EXPECT_EQ(ErrorTypeName(ErrorType::kInternal), "internal");
}

// Every step of a range query equals an instant query at that time, for a mix of node types.
TEST_F(EngineTest, RangeQueryStepsEqualInstantQueries) {
  store_.Load(R"(m{job="a",i="1"})", "1 3 _ 8 stale 2 4 9 _ _ 12 1 5 7", 7 * kSec);
  store_.Load(R"(m{job="a",i="2"})", "5 -1 2 NaN 3 3 3 8 1 0 0 2", 11 * kSec);
  store_.Load(R"(m{job="b",i="1"})", "0+2.5x30", 5 * kSec);
  store_.Load(R"(n{job="a"})", "1+1x20", 9 * kSec);
  store_.Load(R"(n{job="b"})", "10-1x20", 9 * kSec);
  const char* queries[] = {
      "m",
      "rate(m[30s])",
      "sum by (job) (m)",
      "avg without (i) (m)",
      "topk(1, m)",
      "bottomk(2, m) by (job)",
      "quantile(0.3, m)",
      "count_values(\"v\", m)",
      "m * on(job) group_left n",
      "n / on(job) group_right m",
      "m > bool 3",
      "m > 3",
      "m and on(job) n > 5",
      "m or n",
      "m unless on(job) n < 5",
      "max_over_time(m[20s:3s])",
      "rate(m[30s] offset 10s)",
      "m @ 50",
      "timestamp(m)",
      "timestamp(m @ 40)",
      "absent(nothing)",
      "absent_over_time(m[5s])",
      "scalar(n{job=\"a\"}) * m",
      "time() - m",
      "histogram_quantile(0.5, label_replace(m, \"le\", \"$1\", \"i\", \"(.*)\"))",
      "label_join(m, \"x\", \"-\", \"job\", \"i\")",
      "predict_linear(m[40s], 30)",
      "holt_winters(n[1m], 0.5, 0.5)",
      "stddev(m)",
      "sort_desc(m)",
      "clamp(m, 2, 4)",
      "round(m, 0.7)",
      "changes(m[1m])",
      "resets(m[1m])",
      "deriv(m[1m])",
  };
  for (const char* q : queries) {
    SCOPED_TRACE(q);
    const int64_t start = 3 * kSec, end = 130 * kSec, step = 4 * kSec;
    QueryResult range = engine_.Range(q, start, end, step);
    ASSERT_TRUE(range.ok()) << range.error;
    std::map<std::string, std::vector<Point>> by_series;
    for (const Series& s : range.value.matrix) {
      by_series[internal::LabelsString(s.metric)] = s.points;
    }
    std::map<std::string, std::vector<Point>> from_instants;
    for (int64_t t = start; t <= end; t += step) {
      QueryResult in = engine_.Instant(q, t);
      ASSERT_TRUE(in.ok()) << in.error;
      if (in.value.type == ValueType::kScalar) {
        from_instants["{}"].push_back(Point{t, in.value.scalar.v});
        continue;
      }
      for (const Sample& s : in.value.vector) {
        from_instants[internal::LabelsString(s.metric)].push_back(Point{t, s.v});
      }
    }
    ASSERT_EQ(by_series.size(), from_instants.size());
    for (auto& [k, pts] : from_instants) {
      ASSERT_TRUE(by_series.contains(k)) << k;
      const auto& rp = by_series[k];
      ASSERT_EQ(rp.size(), pts.size()) << k;
      for (size_t i = 0; i < pts.size(); ++i) {
        EXPECT_EQ(rp[i].t, pts[i].t) << k;
        EXPECT_TRUE(testutil::SameFloat(rp[i].v, pts[i].v))
            << k << " at " << pts[i].t << ": " << rp[i].v << " vs " << pts[i].v;
      }
    }
  }
}

std::vector<std::string> VectorOrder(const QueryResult& r) {
  std::vector<std::string> out;
  for (const Sample& s : r.value.vector) {
    out.push_back(internal::LabelsString(s.metric) + "=" + FormatGoFloat(s.v));
  }
  return out;
}

// sort()/sort_desc() and topk/bottomk define the order of an instant vector (NaN last). The
// orders below were observed on a Prometheus 2.42 server over the same five series (blocks made
// with promtool tsdb create-blocks-from openmetrics), including how ties come out.
TEST_F(EngineTest, SortAndTopkOrderInstantVectors) {
  store_.Load(R"(v{i="1"})", "3", 15 * kSec);
  store_.Load(R"(v{i="2"})", "NaN", 15 * kSec);
  store_.Load(R"(v{i="3"})", "-1", 15 * kSec);
  store_.Load(R"(v{i="4"})", "10", 15 * kSec);
  store_.Load(R"(v{i="5"})", "3", 15 * kSec);
  using V = std::vector<std::string>;
  EXPECT_EQ(
      VectorOrder(Instant("sort(v)", 0)),
      (V{R"({__name__="v", i="3"}=-1)", R"({__name__="v", i="1"}=3)", R"({__name__="v", i="5"}=3)",
         R"({__name__="v", i="4"}=10)", R"({__name__="v", i="2"}=NaN)"}));
  EXPECT_EQ(
      VectorOrder(Instant("sort_desc(v)", 0)),
      (V{R"({__name__="v", i="4"}=10)", R"({__name__="v", i="1"}=3)", R"({__name__="v", i="5"}=3)",
         R"({__name__="v", i="3"}=-1)", R"({__name__="v", i="2"}=NaN)"}));
  EXPECT_EQ(VectorOrder(Instant("topk(3, v)", 0)),
            (V{R"({__name__="v", i="4"}=10)", R"({__name__="v", i="1"}=3)",
               R"({__name__="v", i="5"}=3)"}));
  EXPECT_EQ(
      VectorOrder(Instant("topk(5, v)", 0)),
      (V{R"({__name__="v", i="4"}=10)", R"({__name__="v", i="1"}=3)", R"({__name__="v", i="5"}=3)",
         R"({__name__="v", i="3"}=-1)", R"({__name__="v", i="2"}=NaN)"}));
  EXPECT_EQ(
      VectorOrder(Instant("bottomk(5, v)", 0)),
      (V{R"({__name__="v", i="3"}=-1)", R"({__name__="v", i="1"}=3)", R"({__name__="v", i="5"}=3)",
         R"({__name__="v", i="4"}=10)", R"({__name__="v", i="2"}=NaN)"}));
  EXPECT_EQ(VectorOrder(Instant("bottomk(2, v)", 0)),
            (V{R"({__name__="v", i="3"}=-1)", R"({__name__="v", i="1"}=3)"}));
  // Plain selectors and functions keep the store's label order.
  EXPECT_EQ(VectorOrder(Instant("abs(v)", 0)),
            (V{R"({i="1"}=3)", R"({i="2"}=NaN)", R"({i="3"}=1)", R"({i="4"}=10)", R"({i="5"}=3)"}));
}

TEST_F(EngineTest, CountValuesFormatsValuesAsGo) {
  store_.Load(R"(v{i="1"})", "1e-7", 15 * kSec);
  store_.Load(R"(v{i="2"})", "1e21", 15 * kSec);
  store_.Load(R"(v{i="3"})", "-0.5", 15 * kSec);
  store_.Load(R"(v{i="4"})", "Inf", 15 * kSec);
  store_.Load(R"(v{i="5"})", "NaN", 15 * kSec);
  store_.Load(R"(v{i="6"})", "123456789.25", 15 * kSec);
  QueryResult r = Instant(R"(count_values("val", v))", 0);
  ASSERT_TRUE(r.ok()) << r.error;
  std::set<std::string> vals;
  for (const Sample& s : r.value.vector) vals.insert(std::string(GetLabel(s.metric, "val")));
  EXPECT_EQ(vals, (std::set<std::string>{"0.0000001", "1000000000000000000000", "-0.5", "+Inf",
                                         "NaN", "123456789.25"}));
}

TEST_F(EngineTest, MalformedHandBuiltTreesAreBadData) {
  auto call = std::make_unique<Call>();
  call->func = LookupFunction("rate");
  ASSERT_NE(call->func, nullptr);
  QueryResult r = engine_.InstantExpr(*call, 0);  // rate() without its argument.
  EXPECT_EQ(r.error_type, ErrorType::kBadData);
  BinaryExpr bin;
  r = engine_.InstantExpr(bin, 0);
  EXPECT_EQ(r.error_type, ErrorType::kBadData);
}

TEST_F(EngineTest, HandBuiltTreeEvaluatesWithoutParser) {
  store_.Load(R"(x{a="1"})", "1 2 3", 15 * kSec);
  auto sel = std::make_unique<VectorSelector>();
  sel->name = "x";
  sel->matchers.push_back(*tsdb::Matcher::Create(tsdb::MatchType::kEqual, "__name__", "x"));
  auto lit = std::make_unique<NumberLiteral>();
  lit->value = 10;
  BinaryExpr mul;
  mul.op = BinaryOp::kMul;
  mul.lhs = std::move(sel);
  mul.rhs = std::move(lit);
  QueryResult r = engine_.InstantExpr(mul, 30 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_EQ(r.value.vector[0].v, 30);
  EXPECT_EQ(r.value.vector[0].metric, (Labels{{"a", "1"}}));
}

TEST_F(EngineTest, ConcurrentQueriesAgree) {
  for (int i = 0; i < 20; ++i) {
    store_.Load("c_total{i=\"" + std::to_string(i) + "\"}", "0+" + std::to_string(i + 1) + "x100",
                15 * kSec);
  }
  const char* q = "sum by (i) (rate(c_total[1m])) / on() group_left sum(rate(c_total[5m]))";
  QueryResult want = engine_.Range(q, 300 * kSec, 1500 * kSec, 15 * kSec);
  ASSERT_TRUE(want.ok()) << want.error;
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 5; ++k) {
        QueryResult got = engine_.Range(q, 300 * kSec, 1500 * kSec, 15 * kSec);
        bool same = got.ok() && got.value.matrix.size() == want.value.matrix.size();
        for (size_t i = 0; same && i < got.value.matrix.size(); ++i) {
          same = got.value.matrix[i].metric == want.value.matrix[i].metric &&
                 got.value.matrix[i].points == want.value.matrix[i].points;
        }
        if (!same) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(want.value.matrix.size(), 20u);
}

// Scripts whose expected values were produced by promtool 2.42 (see peer_check.py).
TEST(EngineScriptTest, GoldenVectors) {
  testutil::RunScript(testutil::TestdataPath("golden.test"));
}
TEST(EngineScriptTest, Functions) { testutil::RunScript(testutil::TestdataPath("functions.test")); }
TEST(EngineScriptTest, Aggregations) {
  testutil::RunScript(testutil::TestdataPath("aggregations.test"));
}
TEST(EngineScriptTest, Operators) { testutil::RunScript(testutil::TestdataPath("operators.test")); }
TEST(EngineScriptTest, Selectors) { testutil::RunScript(testutil::TestdataPath("selectors.test")); }
TEST(EngineScriptTest, Histograms) {
  testutil::RunScript(testutil::TestdataPath("histograms.test"));
}
TEST(EngineScriptTest, GoMathBitForBit) {
  testutil::RunScript(testutil::TestdataPath("math.test"));
}
TEST(EngineScriptTest, NanAndInfEdges) { testutil::RunScript(testutil::TestdataPath("edge.test")); }
TEST(EngineScriptTest, DateFunctionsAtGoTimeEdges) {
  testutil::RunScript(testutil::TestdataPath("dates.test"));
}
TEST(EngineScriptTest, Staleness) { testutil::RunScript(testutil::TestdataPath("staleness.test")); }

// Range queries checked against a real Prometheus 2.42 server (testdata/range_peer.py made
// range_peer.txt): @ with start()/end(), step-invariant subtrees, subquery alignment in range
// queries, and 2.42's quirks (predict_linear over an @-pinned range slides with the step).
TEST(EngineRangePeerTest, MatchesPrometheusRangeQueries) {
  TestStore store;
  for (int k = 0; k <= 200; ++k) {
    store.Add(R"(x{a="1"})", k * 15 * kSec, k);
    store.Add(R"(x{a="2"})", k * 15 * kSec, (k * k) % 17);
  }
  Engine engine(store.db(), EngineOptions{});
  std::ifstream f(testutil::TestdataPath("range_peer.txt"));
  ASSERT_TRUE(f.good());
  std::string line;
  std::getline(f, line);
  int queries = 0;
  while (!line.empty() || f) {
    if (line.rfind("query ", 0) != 0) {
      if (!std::getline(f, line)) break;
      continue;
    }
    std::istringstream head(line.substr(6));
    int64_t start, end, step;
    head >> start >> end >> step;
    std::string expr;
    std::getline(head >> std::ws, expr);
    std::map<std::string, std::vector<Point>> want;
    while (std::getline(f, line) && line.rfind("    ", 0) == 0) {
      size_t close = line.find("} ");
      std::string labels = line.substr(4, close - 3);
      std::istringstream pts(line.substr(close + 2));
      std::string tok;
      auto& v = want[internal::LabelsString(testutil::ParseLabels(labels))];
      while (pts >> tok) {
        size_t c = tok.find(':');
        double val = 0;
        ASSERT_TRUE(testutil::ParseNumber(tok.substr(c + 1), &val)) << tok;
        v.push_back(Point{std::stoll(tok.substr(0, c)), val});
      }
    }
    SCOPED_TRACE(expr);
    ++queries;
    QueryResult r = engine.Range(expr, start * kSec, end * kSec, step * kSec);
    ASSERT_TRUE(r.ok()) << r.error;
    std::map<std::string, std::vector<Point>> got;
    for (const Series& s : r.value.matrix) got[internal::LabelsString(s.metric)] = s.points;
    ASSERT_EQ(got.size(), want.size());
    for (auto& [k, pts] : want) {
      ASSERT_TRUE(got.contains(k)) << k;
      ASSERT_EQ(got[k].size(), pts.size()) << k;
      for (size_t i = 0; i < pts.size(); ++i) {
        EXPECT_EQ(got[k][i].t, pts[i].t) << k;
        EXPECT_TRUE(testutil::SameFloat(got[k][i].v, pts[i].v))
            << k << " at " << pts[i].t << ": got " << got[k][i].v << " want " << pts[i].v;
      }
    }
  }
  EXPECT_GT(queries, 20);
}

}  // namespace
}  // namespace tidemark::promql
