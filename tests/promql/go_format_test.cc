#include "tsdb/promql/go_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace tidemark::promql {
namespace {

TEST(GoFormatTest, PromQLQuoteEscapesTheReplacementCharacter) {
  // Go's %q with one deviation so printed queries parse again (common's GoQuote covers the rest).
  EXPECT_EQ(PromQLQuote("a\"b\xff"), "\"a\\\"b\\xff\"");
  EXPECT_EQ(PromQLQuote("\xef\xbf\xbd"), "\"\\ufffd\"");
  std::string out;
  AppendPromQLQuoted("\xef\xbf\xbd\xc3\xa9", &out);
  EXPECT_EQ(out, "\"\\ufffd\xc3\xa9\"");
}

TEST(GoFormatTest, ConvertsSecondsToMillisecondsLikePrometheus) {
  EXPECT_EQ(PromMillisFromSeconds(1.5), 1500);
  EXPECT_EQ(PromMillisFromSeconds(-2.25), -2250);
  EXPECT_EQ(PromMillisFromSeconds(0.0004), 0);
  EXPECT_EQ(PromMillisFromSeconds(1e300), INT64_MIN);
  EXPECT_EQ(PromMillisFromSeconds(std::nan("")), INT64_MIN);
}

TEST(GoFormatTest, FormatsDurationsLikePrometheusModel) {
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {0, "0s"},           {1, "1ms"},
      {1000, "1s"},        {60000, "1m"},
      {5400000, "1h30m"},  {86400000, "1d"},
      {604800000, "1w"},   {691200000, "8d"},  // Weeks only when exact.
      {31536000000, "1y"}, {31536000000 + 86400000, "366d"},
      {86400001, "1d1ms"}, {9223372036854, "106751d23h47m16s854ms"},
  };
  for (const auto& [ms, want] : cases) EXPECT_EQ(FormatPromDuration(ms), want) << ms;
}

}  // namespace
}  // namespace tidemark::promql
