// The engine's resource limits: queries whose size or loop counts the user controls (step counts,
// ranges, offsets, k, label expansions) end with the documented error, or a correct result,
// quickly and without exhausting memory. Runs with a small max_samples and a short timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>

#include "tests/promql/engine_test_util.h"
#include "tsdb/promql/engine.h"

namespace tidemark::promql {
namespace {

using testutil::TestStore;

constexpr int64_t kSec = 1000;
constexpr char kTooMany[] =
    "query processing would load too many samples into memory in query execution";

class EngineLimitsTest : public ::testing::Test {
 protected:
  EngineLimitsTest() {
    store_.Load("x", "0+1x50 0+2x50", kSec);  // A counter with a reset at 51 s.
    store_.Load(R"(g{a="one"})", "1 5 3 9 stale", 15 * kSec);
    store_.Load(R"(g{a="two"})", "2 4 6 8 10", 15 * kSec);
    options_.max_samples = 10'000;
    options_.timeout = std::chrono::milliseconds(200);
  }
  Engine& engine() {
    if (!engine_) engine_ = std::make_unique<Engine>(store_.db(), options_);
    return *engine_;
  }
  QueryResult Instant(std::string_view q, int64_t t = 100 * kSec) { return engine().Instant(q, t); }
  // The query fails with the too-many-samples error.
  void ExpectTooMany(std::string_view q, int64_t t = 100 * kSec) {
    QueryResult r = Instant(q, t);
    EXPECT_EQ(r.error_type, ErrorType::kExecution) << q << ": " << r.error;
    EXPECT_EQ(r.error, kTooMany) << q;
  }
  // The query ends with an error or a result: what matters is that it returns at all.
  void ExpectWellFormed(const QueryResult& r, std::string_view q) {
    if (!r.ok()) {
      EXPECT_FALSE(r.error.empty()) << q;
      EXPECT_NE(r.error_type, ErrorType::kNone) << q;
    }
  }

  TestStore store_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineLimitsTest, HugeSubqueryStepCountHitsSampleLimit) {
  // The query that killed the agent: 3·10^10 steps. Samples are counted as produced.
  ExpectTooMany("max_over_time(x[1y:1ms])");
  // A year later the data is out of the subquery's reach: a quick, empty result.
  QueryResult r = Instant("max_over_time(x[1y:1ms])", 400 * 86400 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.value.vector.empty());
  ExpectTooMany("count_over_time(rate(x[1m])[1y:1ms])");
  ExpectTooMany("max_over_time(timestamp(x)[1y:1ms])");
}

TEST_F(EngineLimitsTest, HugeStepCountOfPerStepValuesFailsBeforeAllocating) {
  for (const char* q :
       {"max_over_time(vector(1)[1y:1ms])", "max_over_time(vector(time())[1y:1ms])",
        "max_over_time(vector(scalar(x))[1y:1ms])", "max_over_time(absent(nope)[1y:1ms])",
        "max_over_time(year()[1y:1ms])", "max_over_time((x @ 50)[1y:1ms])",
        "max_over_time((x * 2)[1y:1ms])", "max_over_time((nope > 1)[1y:1ms])",
        "max_over_time(absent_over_time(nope[1m])[1y:1ms])"}) {
    ExpectTooMany(q);
  }
}

TEST_F(EngineLimitsTest, HugeStepCountWithEmptyInputEndsByDeadline) {
  // Nothing is produced, so only the deadline can stop the 3·10^10 steps.
  for (const char* q :
       {"max_over_time(sum(nope)[1y:1ms])", "max_over_time(count(rate(nope[5m]))[1y:1ms])"}) {
    QueryResult r = Instant(q);
    EXPECT_EQ(r.error_type, ErrorType::kTimeout) << q << ": " << r.error;
  }
  // Selectors skip the steps where their data has nothing: these are quick and exact.
  QueryResult r = Instant("max_over_time(nope[1y:1ms])");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.value.vector.empty());
  r = Instant("count_over_time(x[1y:1d])");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_EQ(r.value.vector[0].v, 1);  // Only the step at 0 s sees x.
  r = Instant("count_over_time(rate(x[2s])[1y:1s])");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_EQ(r.value.vector[0].v, 100);  // 1 s … 100 s.
}

TEST_F(EngineLimitsTest, NestedSubqueriesHitSampleLimit) {
  ExpectTooMany("max_over_time(max_over_time(x[1d:1ms])[1d:1ms])");
  ExpectTooMany("max_over_time(max_over_time(max_over_time(x[1m:1s])[1y:1ms])[1y:1s])");
}

TEST_F(EngineLimitsTest, RangeQueryWithHugeStepCount) {
  QueryResult r = engine().Range("x", 0, int64_t{1} << 40, 1);
  EXPECT_EQ(r.error, kTooMany);
  r = engine().Range("vector(1)", 0, int64_t{1} << 40, 1);
  EXPECT_EQ(r.error, kTooMany);
  r = engine().Range("sum(nope)", 0, int64_t{1} << 40, 1);
  EXPECT_EQ(r.error_type, ErrorType::kTimeout) << r.error;
  r = engine().Range("x", -(int64_t{1} << 62), int64_t{1} << 62, 1);
  EXPECT_EQ(r.error_type, ErrorType::kBadData) << r.error;
  r = engine().Range("x", 0, 100 * kSec, INT64_MAX);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.matrix.size(), 1u);
  EXPECT_EQ(r.value.matrix[0].points, (std::vector<Point>{{0, 0}}));
}

TEST_F(EngineLimitsTest, TopkWithHugeOrNonFiniteK) {
  for (const char* q : {"topk(NaN, g)", "topk(Inf, g)", "bottomk(-Inf, g)", "topk(1e300, g)",
                        "topk(9223372036854775807, g)"}) {
    QueryResult r = Instant(q, 45 * kSec);
    EXPECT_EQ(r.error_type, ErrorType::kExecution) << q << ": " << r.error;
    EXPECT_NE(r.error.find("overflows int64"), std::string::npos) << q << ": " << r.error;
  }
  QueryResult r = Instant("topk(9223372036854774784, g)", 45 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.vector.size(), 2u);
  r = Instant("bottomk(1e18, g)", 45 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.vector.size(), 2u);
}

TEST_F(EngineLimitsTest, QuantileAndCountValuesWithExtremeInputs) {
  QueryResult r = Instant("quantile(NaN, g)", 45 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_TRUE(std::isnan(r.value.vector[0].v));
  r = Instant("quantile(1e308, g)", 45 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.vector[0].v, HUGE_VAL);
  r = Instant("count_values(\"v\", g * 1e300)", 45 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.vector.size(), 2u);
  ExpectTooMany("count_over_time(count_values(\"v\", x)[1y:1ms])");
}

TEST_F(EngineLimitsTest, NestedLabelExpansionsAreBounded) {
  store_.Add(R"(big{a="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})", 0, 1);
  std::string join = "big";
  std::string repl = "big";
  for (int i = 0; i < 6; ++i) {
    join = "label_join(" + join + R"(, "a", "", "a", "a", "a", "a", "a", "a", "a", "a"))";
    repl = "label_replace(" + repl + R"x(, "a", "$1$1$1$1$1$1$1$1", "a", "(.*)"))x";
  }
  // 64 bytes · 8^6 = 16 MiB: refused at 1 MiB.
  QueryResult r = Instant(join, 0);
  EXPECT_EQ(r.error_type, ErrorType::kExecution) << r.error;
  EXPECT_NE(r.error.find("label value longer than"), std::string::npos) << r.error;
  r = Instant(repl, 0);
  EXPECT_EQ(r.error_type, ErrorType::kExecution) << r.error;
  EXPECT_NE(r.error.find("label value longer than"), std::string::npos) << r.error;
  // Two levels (4 KiB) are fine and exact.
  r = Instant(R"(label_join(label_join(big, "a", "", "a", "a", "a", "a", "a", "a", "a", "a"),)"
              R"( "a", "", "a", "a", "a", "a", "a", "a", "a", "a"))",
              0);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_EQ(r.value.vector[0].metric[1].value, std::string(64 * 64, 'a'));
}

TEST_F(EngineLimitsTest, AtAndOffsetExtremesDoNotOverflow) {
  for (const char* q : {
           "x @ 9223372036854775.807",
           "x @ -9223372036854775.808",
           "x offset 292y",
           "x offset -292y",
           "rate(x[1m] @ 9223372036854775.807 offset -292y)",
           "rate(x[1m] @ -9223372036854775.808 offset 292y)",
           "max_over_time(x[1m:1s] @ 9223372036854775.807 offset -292y)",
           "max_over_time(x[292y:100y] offset -292y)",
           "max_over_time(max_over_time(x @ -9223372036854775.808 [292y:292y])[292y:292y])",
           "timestamp(x @ 9223372036854775.807 offset -292y)",
           "timestamp(x offset -292y)",
           "max_over_time(timestamp(x offset 292y)[292y:100y] @ end())",
       }) {
    QueryResult r = Instant(q);
    ExpectWellFormed(r, q);
  }
  // Far-out evaluation times are refused rather than overflowing.
  QueryResult r = engine().Instant("x", INT64_MAX);
  EXPECT_EQ(r.error_type, ErrorType::kBadData);
  r = engine().Instant("x", INT64_MIN);
  EXPECT_EQ(r.error_type, ErrorType::kBadData);
}

TEST_F(EngineLimitsTest, ExtremeFunctionParameters) {
  QueryResult r = Instant("predict_linear(x[10s], 1e308)", 40 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_EQ(r.value.vector[0].v, 1e308);  // Slope 1 (x grows by 1 a second).
  r = Instant("predict_linear(x[10s], NaN)", 40 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(std::isnan(r.value.vector[0].v));
  r = Instant("holt_winters(x[10s], 0.5, NaN)", 40 * kSec);
  ASSERT_TRUE(r.ok()) << r.error;
  r = Instant("holt_winters(x[10s], 1e308, 0.5)", 40 * kSec);
  EXPECT_EQ(r.error_type, ErrorType::kExecution);
  r = Instant("round(x, 1e-320)", 40 * kSec);
  ExpectWellFormed(r, "round");
  r = Instant("clamp(x, -Inf, NaN)", 40 * kSec);
  ExpectWellFormed(r, "clamp");
}

TEST_F(EngineLimitsTest, HugeRangeSelectorsAreBoundedByData) {
  QueryResult r = Instant("count_over_time(x[100000d])");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_EQ(r.value.vector[0].v, 101);  // 0 s … 100 s.
  r = Instant("count_over_time(x[100000d] offset -100000d)");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.vector.size(), 1u);
  // The window alone exceeds a tiny budget.
  options_.max_samples = 50;
  engine_.reset();
  ExpectTooMany("count_over_time(x[100000d])");
}

TEST_F(EngineLimitsTest, HistogramQuantileWithManyBuckets) {
  constexpr int kBuckets = 400;
  for (int i = 1; i <= kBuckets; ++i) {
    store_.Add("hb{le=\"" + std::to_string(i) + "\"}", 0, i);
  }
  store_.Add(R"(hb{le="+Inf"})", 0, kBuckets);
  QueryResult r = Instant("histogram_quantile(0.5, hb)", 0);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_EQ(r.value.vector[0].v, kBuckets / 2);
  r = Instant("histogram_quantile(NaN, hb)", 0);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(std::isnan(r.value.vector[0].v));
}

TEST_F(EngineLimitsTest, PathologicalRegexesStayLinear) {
  std::string long_value(5000, 'a');
  store_.Add("re{a=\"" + long_value + "\"}", 0, 1);
  for (const char* q :
       {R"x(re{a=~"(a*)*b"})x", R"x(re{a=~"(a|aa)*c"})x", R"x(re{a!~"(.*a){20}"})x",
        R"x(label_replace(re, "b", "$1", "a", "((a*)*)*b"))x", R"(re{a=~"a{1000}{1000}"})"}) {
    QueryResult r = Instant(q, 0);
    ExpectWellFormed(r, q);
    EXPECT_NE(r.error_type, ErrorType::kTimeout) << q;
  }
}

}  // namespace
}  // namespace tidemark::promql
