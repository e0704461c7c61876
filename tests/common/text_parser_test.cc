#include "common/text_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace tidemark {
namespace {

std::vector<ParsedSample> ParseAll(std::string_view text, TextFormat f, Status* st) {
  std::vector<ParsedSample> out;
  *st = ParseExposition(text, f, [&](ParsedSample& s) {
    out.push_back(s);
    return Status::Ok();
  });
  return out;
}

TEST(TextParserTest, ParsesText004) {
  Status st;
  auto got = ParseAll(
      "# HELP x_total A counter.\n# TYPE x_total counter\n"
      "x_total{b=\"2\",a=\"q\\\"\\n\\\\\",} 1.5e3 1700000000123\n"
      "up 1\n\nnan_metric NaN\ninf_metric -Inf\n",
      TextFormat::kText004, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].labels, (Labels{{"__name__", "x_total"}, {"a", "q\"\n\\"}, {"b", "2"}}));
  EXPECT_EQ(got[0].value, 1500);
  EXPECT_EQ(got[0].timestamp_ms, 1700000000123);
  EXPECT_FALSE(got[1].timestamp_ms.has_value());
  EXPECT_TRUE(std::isnan(got[2].value));
  EXPECT_EQ(got[3].value, -INFINITY);
}

TEST(TextParserTest, ParsesOpenMetricsSecondsTimestamps) {
  Status st;
  auto got = ParseAll(
      "# TYPE c counter\nc_total{x=\"1\"} 3 1767225600.250\nc_total{x=\"1\"} 4 1767225601 # "
      "{t=\"1\"} 1\n# EOF\n",
      TextFormat::kOpenMetrics, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].timestamp_ms, 1767225600250);
  EXPECT_EQ(got[1].timestamp_ms, 1767225601000);
}

TEST(TextParserTest, RejectsMalformedLinesWithLineNumbers) {
  struct Case {
    const char* text;
    TextFormat format;
    const char* want;
  } cases[] = {
      {"a 1\nb-c 2\n", TextFormat::kText004, "line 2"},
      {"a{x=\"1\",x=\"2\"} 1\n", TextFormat::kText004, "not unique"},
      {"a{x=\"1} 1\n", TextFormat::kText004, "unterminated"},
      {"a 1 1700000000.5\n", TextFormat::kText004, "integer ms"},
      {"a abc\n", TextFormat::kText004, "invalid value"},
      {"# TYPE a gauge\r\na 1\r\n", TextFormat::kText004, "carriage return"},
      {"a 1\n", TextFormat::kOpenMetrics, "# EOF"},
      {"a 1\n\n# EOF\n", TextFormat::kOpenMetrics, "blank line"},
      {"# TYPE a histo\n", TextFormat::kText004, "invalid metric type"},
      {"a{1x=\"1\"} 1\n", TextFormat::kText004, "label name"},
  };
  for (const Case& c : cases) {
    Status st;
    ParseAll(c.text, c.format, &st);
    ASSERT_FALSE(st.ok()) << c.text;
    EXPECT_NE(st.message().find(c.want), std::string::npos) << c.text << " -> " << st.message();
  }
}

TEST(TextParserTest, GoFloatForms) {
  EXPECT_EQ(*ParseExpositionFloat("1"), 1);
  EXPECT_EQ(*ParseExpositionFloat("-2.5e-3"), -0.0025);
  EXPECT_EQ(*ParseExpositionFloat("+Inf"), INFINITY);
  EXPECT_EQ(*ParseExpositionFloat("inf"), INFINITY);
  EXPECT_TRUE(std::isnan(*ParseExpositionFloat("NaN")));
  EXPECT_FALSE(ParseExpositionFloat("").has_value());
  EXPECT_FALSE(ParseExpositionFloat("1x").has_value());
  EXPECT_FALSE(ParseExpositionFloat("--1").has_value());
  EXPECT_FALSE(ParseExpositionFloat("1e999").has_value());
}

TEST(TextParserTest, ExpositionFloatsKeepPrometheusTextRestrictions) {
  // Go's ParseFloat takes these; Prometheus' text parsers refuse hex floats and '_'.
  EXPECT_FALSE(ParseExpositionFloat("0x1p3").has_value());
  EXPECT_FALSE(ParseExpositionFloat("1_000").has_value());
  // The parser's own leniency and strictness next to Go's.
  EXPECT_TRUE(std::isnan(*ParseExpositionFloat("-NaN")));
  EXPECT_FALSE(ParseExpositionFloat("1e-400").has_value());
  EXPECT_EQ(*ParseExpositionFloat("0e-400"), 0);
  EXPECT_EQ(*ParseExpositionFloat("4e-320"), 4e-320);
  EXPECT_FALSE(ParseExpositionFloat("nan(1)").has_value());
}

}  // namespace
}  // namespace tidemark
