#include "agent/api_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tidemark::agent {
namespace {

std::string Value(double v) {
  std::string out;
  AppendSampleValue(v, &out);
  return out;
}
std::string Ts(int64_t ms) {
  std::string out;
  AppendSampleTimestamp(ms, &out);
  return out;
}
std::string JsonNum(double v) {
  std::string out;
  AppendJsonNumber(v, &out);
  return out;
}
std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}
int64_t EngineMs(std::string_view s) {
  auto t = ParseApiTime(s);
  EXPECT_TRUE(t.ok()) << s;
  return t.ok() ? ApiTimeToEngineMillis(*t) : 0;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(ApiFormatTest, SampleValuesUseShortestFixedOrExponentForm) {
  EXPECT_EQ(Value(1), "\"1\"");
  EXPECT_EQ(Value(2.5), "\"2.5\"");
  EXPECT_EQ(Value(0.1 + 0.2), "\"0.30000000000000004\"");
  EXPECT_EQ(Value(1e-7), "\"1e-07\"");
  EXPECT_EQ(Value(-5e-7), "\"-5e-07\"");
  EXPECT_EQ(Value(1e-6), "\"0.000001\"");
  EXPECT_EQ(Value(1e21), "\"1e+21\"");
  EXPECT_EQ(Value(1e20), "\"100000000000000000000\"");
  // strconv's 'f': shortest digits padded with zeros, not the double's exact decimal expansion.
  EXPECT_EQ(Value(123456789012345678901.0), "\"123456789012345680000\"");
  EXPECT_EQ(Value(1.2345678901234569e+23), "\"1.2345678901234569e+23\"");
  EXPECT_EQ(Value(0), "\"0\"");
  EXPECT_EQ(Value(-0.0), "\"-0\"");
  EXPECT_EQ(Value(std::nan("")), "\"NaN\"");
  EXPECT_EQ(Value(kInf), "\"+Inf\"");
  EXPECT_EQ(Value(-kInf), "\"-Inf\"");
}

TEST(ApiFormatTest, SampleTimestampsHaveThreeFractionDigitsOrNone) {
  EXPECT_EQ(Ts(1435781451781), "1435781451.781");
  EXPECT_EQ(Ts(1435781451050), "1435781451.050");
  EXPECT_EQ(Ts(1700000000500), "1700000000.500");
  EXPECT_EQ(Ts(1435781451001), "1435781451.001");
  EXPECT_EQ(Ts(-1500), "-1.500");
  EXPECT_EQ(Ts(4000), "4");
  EXPECT_EQ(Ts(0), "0");
}

TEST(ApiFormatTest, ScalarTimestampsAreGoJsonFloats) {
  EXPECT_EQ(JsonNum(4), "4");
  EXPECT_EQ(JsonNum(4.123), "4.123");
  EXPECT_EQ(JsonNum(0.001), "0.001");
  EXPECT_EQ(JsonNum(1435781451050 / 1000.0), "1435781451.05");
  EXPECT_EQ(JsonNum(1e-7), "1e-7");
  EXPECT_EQ(JsonNum(1e21), "1e+21");
  EXPECT_EQ(JsonNum(-1.5), "-1.5");
}

TEST(ApiFormatTest, StringsAreEscapedAsGoEncodingJson) {
  EXPECT_EQ(Json("a<b>&c"), "\"a\\u003cb\\u003e\\u0026c\"");
  EXPECT_EQ(Json("q\"\\"), "\"q\\\"\\\\\"");
  EXPECT_EQ(Json("\n\r\t\b\f"), "\"\\n\\r\\t\\u0008\\u000c\"");
  EXPECT_EQ(Json(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\x7f\"");
  EXPECT_EQ(Json("é✓"), "\"é✓\"");
  EXPECT_EQ(Json("\xe2\x80\xa8"), "\"\\u2028\"");
  EXPECT_EQ(Json("a\xff"
                 "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // A surrogate is invalid.
}

TEST(ApiFormatTest, EscapesBetweenRunsOfPlainBytesKeepTheRuns) {
  EXPECT_EQ(Json(""), "\"\"");
  EXPECT_EQ(Json("container_cpu_usage_seconds_total"), "\"container_cpu_usage_seconds_total\"");
  EXPECT_EQ(Json("<abc"), "\"\\u003cabc\"");
  EXPECT_EQ(Json("abc>"), "\"abc\\u003e\"");
  EXPECT_EQ(Json("ab\"cd\\ef\ngh"), "\"ab\\\"cd\\\\ef\\ngh\"");
  EXPECT_EQ(Json("x\xc3\xa9y\xffz&"), "\"x\xc3\xa9y\\ufffdz\\u0026\"");
  EXPECT_EQ(Json(std::string("a\0b", 3)), "\"a\\u0000b\"");
  std::string prefixed = "keep";
  AppendJsonString("a<b", &prefixed);
  EXPECT_EQ(prefixed, "keep\"a\\u003cb\"");
}

TEST(ApiFormatTest, QueryDataForEachResultType) {
  promql::Value scalar;
  scalar.type = promql::ValueType::kScalar;
  scalar.scalar = {1435781451050, 1e-7};
  EXPECT_EQ(FormatQueryData(scalar),
            "{\"resultType\":\"scalar\",\"result\":[1435781451.05,\"0.0000001\"]}");
  scalar.scalar = {4000, 1e21};
  EXPECT_EQ(FormatQueryData(scalar),
            "{\"resultType\":\"scalar\",\"result\":[4,\"1000000000000000000000\"]}");

  promql::Value str;
  str.type = promql::ValueType::kString;
  str.scalar.t = 1500;
  str.str = "a<";
  EXPECT_EQ(FormatQueryData(str), "{\"resultType\":\"string\",\"result\":[1.5,\"a\\u003c\"]}");

  promql::Value vec;
  vec.type = promql::ValueType::kVector;
  EXPECT_EQ(FormatQueryData(vec), "{\"resultType\":\"vector\",\"result\":[]}");
  vec.vector.push_back(promql::Sample{{{"__name__", "up"}, {"job", "a"}}, 1435781451050, 1e-7});
  vec.vector.push_back(promql::Sample{{}, 2000, 1});
  EXPECT_EQ(
      FormatQueryData(vec),
      "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\",\"job\":\"a\"},"
      "\"value\":[1435781451.050,\"1e-07\"]},{\"metric\":{},\"value\":[2,\"1\"]}]}");

  promql::Value mat;
  mat.type = promql::ValueType::kMatrix;
  EXPECT_EQ(FormatQueryData(mat), "{\"resultType\":\"matrix\",\"result\":[]}");
  mat.matrix.push_back(promql::Series{{{"a", "b"}}, {{-1500, -1.5}, {0, 0}}});
  EXPECT_EQ(FormatQueryData(mat),
            "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"a\":\"b\"},\"values\":[[-1.500,"
            "\"-1.5\"],[0,\"0\"]]}]}");
}

TEST(ApiFormatTest, EnvelopesCarryWarningsOnlyWhenPresent) {
  EXPECT_EQ(SuccessBody("[]"), "{\"status\":\"success\",\"data\":[]}");
  EXPECT_EQ(SuccessBody("[]", {"w"}), "{\"status\":\"success\",\"data\":[],\"warnings\":[\"w\"]}");
  EXPECT_EQ(SuccessBodyInPlace(std::string("[]")), SuccessBody("[]"));
  std::string data(1000, 'x');
  EXPECT_EQ(SuccessBodyInPlace(std::string(data), {"w", "v"}), SuccessBody(data, {"w", "v"}));
  EXPECT_EQ(ErrorBody("bad_data", "invalid parameter \"query\": x"),
            "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
            "\\\"query\\\": x\"}");
}

TEST(ApiTimeTest, FloatsRoundToMillisecondsAsPrometheusDoes) {
  EXPECT_EQ(EngineMs("4"), 4000);
  EXPECT_EQ(EngineMs("1700000000.5"), 1700000000500);
  EXPECT_EQ(EngineMs("1435781451.0504"), 1435781451050);
  EXPECT_EQ(EngineMs("1435781451.05"), 1435781451050);
  EXPECT_EQ(EngineMs("0.0005"), 1);
  // 1.0005 is 1.000499999… in binary: Go rounds it down (measured on 2.42).
  EXPECT_EQ(EngineMs("1.0005"), 1000);
  EXPECT_EQ(EngineMs("-1.0005"), -1000);
  EXPECT_EQ(EngineMs("-1.5"), -1500);
  EXPECT_EQ(EngineMs("1e3"), 1000000);
  EXPECT_EQ(EngineMs("+.5"), 500);
  // Far outside int64 nanoseconds Go's conversions wrap (measured: 1e19 → 0, Inf →
  // -9223372036.854).
  EXPECT_EQ(EngineMs("1e19"), 0);
  EXPECT_EQ(EngineMs("Inf"), -9223372036854);
  EXPECT_EQ(EngineMs("NaN"), -9223372036854);
}

TEST(ApiTimeTest, ParsesRfc3339NanoAndGoBoundaryStrings) {
  EXPECT_EQ(EngineMs("2023-11-14T22:13:20.5Z"), 1700000000500);
  EXPECT_EQ(EngineMs("2023-11-14T22:13:20.123456789+01:00"), 1699996400123);
  EXPECT_EQ(EngineMs("2023-11-14T22:13:20Z"), 1700000000000);
  EXPECT_EQ(EngineMs("2024-02-29T00:00:00Z"), 1709164800000);
  // Year 1 and Go's MinTime overflow UnixNano (measured values of 2.42's /query).
  EXPECT_EQ(EngineMs("0001-01-01T00:00:00Z"), -6795364578871);
  EXPECT_EQ(EngineMs("-292273086-05-16T16:47:06Z"), 6795364580679);
  auto max = ParseApiTime("292277026596-12-04T15:30:07.999999999Z");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(ApiTimeToMillis(*max), ApiTimeToMillis(ApiMaxTime()));
  EXPECT_LT(ApiTimeToMillis(ApiMinTime()), -9'000'000'000'000'000'000);
}

TEST(ApiTimeTest, RejectsWhatPrometheusRejects) {
  for (const char* bad :
       {"", "abc", "0x10", " 1", "1 ", "2023-02-29T00:00:00Z", "2023-11-14T22:13:20",
        "2023-11-14 22:13:20Z", "1e400", "292277026596-12-04T15:30:07Z", "-nan"}) {
    auto t = ParseApiTime(bad);
    EXPECT_FALSE(t.ok()) << bad;
  }
  EXPECT_EQ(ParseApiTime("abc").status().message(), "cannot parse \"abc\" to a valid timestamp");
}

TEST(ApiDurationTest, FloatSecondsOrPrometheusDurations) {
  EXPECT_EQ(*ParseApiDuration("15"), 15'000'000'000);
  EXPECT_EQ(*ParseApiDuration("0.5"), 500'000'000);
  EXPECT_EQ(*ParseApiDuration("1.5"), 1'500'000'000);
  // Prometheus durations past int64 nanoseconds are refused, not wrapped.
  EXPECT_FALSE(ParseApiDuration("1000000y").ok());
  EXPECT_EQ(*ParseApiDuration("1h"), 3600'000'000'000);
  EXPECT_EQ(*ParseApiDuration("15s"), 15'000'000'000);
  EXPECT_EQ(*ParseApiDuration("1m30s"), 90'000'000'000);
  EXPECT_EQ(*ParseApiDuration("0"), 0);
  EXPECT_EQ(*ParseApiDuration("-1"), -1'000'000'000);
  EXPECT_EQ(ParseApiDuration("").status().message(), "cannot parse \"\" to a valid duration");
  EXPECT_EQ(ParseApiDuration("-1s").status().message(), "cannot parse \"-1s\" to a valid duration");
  EXPECT_EQ(ParseApiDuration("1e10").status().message(),
            "cannot parse \"1e10\" to a valid duration. It overflows int64");
}

}  // namespace
}  // namespace tidemark::agent
