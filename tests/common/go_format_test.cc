#include "common/go_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace tidemark {
namespace {

TEST(GoFormatTest, FormatsFloatsLikeGoPercentV) {
  // Expected strings are what Prometheus 2.42 (Go's fmt %v) prints for these literals.
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0"},
      {1, "1"},
      {-3, "-3"},
      {1.5, "1.5"},
      {0.1, "0.1"},
      {123456, "123456"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {1e20, "1e+20"},
      {1e21, "1e+21"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1e-7, "1e-07"},
      {4e-320, "4e-320"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const auto& [v, want] : cases) EXPECT_EQ(FormatGoFloat(v), want) << v;
  EXPECT_EQ(FormatGoFloat(-0.0), "-0");
}

TEST(GoFormatTest, FormatsFloatsLikeStrconvFAndE) {
  // strconv.FormatFloat(v, 'f'|'e', -1, 64): the engine's count_values labels, the API's values.
  EXPECT_EQ(FormatGoFloat(0, 'f'), "0");
  EXPECT_EQ(FormatGoFloat(-0.0, 'f'), "-0");
  EXPECT_EQ(FormatGoFloat(1e21, 'f'), "1000000000000000000000");
  // Shortest digits padded with zeros (std::to_chars' fixed form would print the exact value).
  EXPECT_EQ(FormatGoFloat(123456789012345678901.0, 'f'), "123456789012345680000");
  EXPECT_EQ(FormatGoFloat(1e300, 'f'), "1" + std::string(300, '0'));
  EXPECT_EQ(FormatGoFloat(1e-7, 'f'), "0.0000001");
  EXPECT_EQ(FormatGoFloat(123.25, 'f'), "123.25");
  EXPECT_EQ(FormatGoFloat(1e-7, 'e'), "1e-07");
  EXPECT_EQ(FormatGoFloat(1.5e21, 'e'), "1.5e+21");
  EXPECT_EQ(FormatGoFloat(std::numeric_limits<double>::infinity(), 'f'), "+Inf");
  EXPECT_EQ(FormatGoFloat(-std::numeric_limits<double>::infinity(), 'e'), "-Inf");
  EXPECT_EQ(FormatGoFloat(std::nan(""), 'f'), "NaN");
  std::string out = "v=";
  AppendGoFloat(2.5, 'f', &out);
  EXPECT_EQ(out, "v=2.5");
}

TEST(GoFormatTest, FormatsFixedPointLikeGo) {
  EXPECT_EQ(FormatGoFixed(100, 3), "100.000");
  EXPECT_EQ(FormatGoFixed(-1.5, 3), "-1.500");
  EXPECT_EQ(FormatGoFixed(1e20, 6), "100000000000000000000.000000");
  EXPECT_EQ(FormatGoFixed(std::numeric_limits<double>::infinity(), 6), "+Inf");
  EXPECT_EQ(FormatGoFixed(std::nan(""), 6), "NaN");
}

TEST(GoFormatTest, QuotesLikeGoStrconvQuote) {
  EXPECT_EQ(GoQuote("abc"), "\"abc\"");
  EXPECT_EQ(GoQuote("a\"b\\c'd"), "\"a\\\"b\\\\c'd\"");
  EXPECT_EQ(GoQuote("\a\b\f\n\r\t\v"), "\"\\a\\b\\f\\n\\r\\t\\v\"");
  EXPECT_EQ(GoQuote(std::string("\x00\x1f\x7f", 3)), "\"\\x00\\x1f\\x7f\"");
  EXPECT_EQ(GoQuote("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"),
            "\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\"");
  EXPECT_EQ(GoQuote("\xff\xc3"), "\"\\xff\\xc3\"");                  // Invalid UTF-8, byte by byte.
  EXPECT_EQ(GoQuote("\xc2\xad\xe2\x80\xa8"), "\"\\u00ad\\u2028\"");  // Not printable.
  EXPECT_EQ(GoQuote("\xef\xbf\xbd"), "\"\xef\xbf\xbd\"");  // U+FFFD itself, as Go writes it.
  EXPECT_EQ(GoQuote("\xef\xbf\xbd", RuneErrorQuoting::kEscaped), "\"\\ufffd\"");
  EXPECT_EQ(GoQuote("\xef\xbb\xbf\xf3\xa0\x80\x81"), "\"\\ufeff\\U000e0001\"");  // Format chars.
  // From the API's copy: label names and parameters in error messages.
  EXPECT_EQ(GoQuote("x-y"), "\"x-y\"");
  EXPECT_EQ(GoQuote(std::string("a\xc3\xa9\x00", 4)), "\"a\xc3\xa9\\x00\"");
  std::string appended = "x=";
  AppendGoQuoted("a\tb", &appended);
  EXPECT_EQ(appended, "x=\"a\\tb\"");
}

TEST(GoFormatTest, QuotesRunesLikeGo) {
  EXPECT_EQ(GoQuoteRune('a'), "'a'");
  EXPECT_EQ(GoQuoteRune('\''), "'\\''");
  EXPECT_EQ(GoQuoteRune('"'), "'\"'");
  EXPECT_EQ(GoQuoteRune('\n'), "'\\n'");
  EXPECT_EQ(GoQuoteRune(0), "'\\x00'");
  EXPECT_EQ(GoQuoteRune(0xE9), "'\xc3\xa9'");
  EXPECT_EQ(GoQuoteRune(-1), "'\xef\xbf\xbd'");
  EXPECT_EQ(GoUnicodeRune('q'), "U+0071 'q'");
  EXPECT_EQ(GoUnicodeRune('\n'), "U+000A");
}

TEST(GoFormatTest, DecodesUtf8LikeGo) {
  int w = 0;
  EXPECT_EQ(DecodeRune("\xc3\xa9", 0, &w), 0xE9);
  EXPECT_EQ(w, 2);
  EXPECT_EQ(DecodeRune("\xed\xa0\x80", 0, &w), 0xFFFD);  // Surrogate.
  EXPECT_EQ(w, 1);
  EXPECT_EQ(DecodeRune("\xc0\xaf", 0, &w), 0xFFFD);  // Overlong.
  EXPECT_EQ(w, 1);
  EXPECT_EQ(DecodeRune("\xf0\x9f\x98", 0, &w), 0xFFFD);  // Truncated.
  EXPECT_EQ(DecodeRune("", 0, &w), -1);
  EXPECT_EQ(w, 0);
}

TEST(GoFormatTest, ConvertsToInt64LikeGoOnAmd64) {
  EXPECT_EQ(GoFloatToInt64(1.9), 1);
  EXPECT_EQ(GoFloatToInt64(-1.9), -1);
  EXPECT_EQ(GoFloatToInt64(9.2e18), 9200000000000000000);
  EXPECT_EQ(GoFloatToInt64(9.3e18), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(GoFloatToInt64(std::nan("")), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(GoFloatToInt64(-std::numeric_limits<double>::infinity()),
            std::numeric_limits<int64_t>::min());
}

TEST(GoFormatTest, ParsesFloatsLikeStrconvParseFloat) {
  const std::vector<std::pair<std::string, double>> ok = {
      {"1", 1},           {"-2.5e-3", -0.0025}, {"+.5", 0.5},       {"5.", 5},       {"1E3", 1000},
      {"0x1p3", 8},       {"0X1.8P1", 3},       {"-0x1p-2", -0.25}, {"1_000", 1000}, {"0x_1p0", 1},
      {"1_0.2_5", 10.25}, {"1e-400", 0},        {"4e-320", 4e-320}, {"00012", 12},
  };
  for (const auto& [s, want] : ok) {
    double v = -1;
    EXPECT_TRUE(ParseGoFloat(s, &v)) << s;
    EXPECT_EQ(v, want) << s;
  }
  double v = 0;
  for (const char* s : {"inf", "+Inf", "INFINITY", "-infinity"}) {
    EXPECT_TRUE(ParseGoFloat(s, &v) && std::isinf(v)) << s;
  }
  EXPECT_TRUE(ParseGoFloat("-Inf", &v) && v < 0);
  EXPECT_TRUE(ParseGoFloat("nAn", &v) && std::isnan(v));
  // Go rejects a signed NaN, hex without a p exponent, misplaced '_', overflow and spaces.
  for (const char* s :
       {"",     "-nan",  "+NaN",   "nan(1)",   "0x10", "0x1.8", "_1",    "1_",  "1__0", "1_e5",
        "1e_5", "1._5",  "-_1",    "1e",       "1e+",  ".",     "-",     "e5",  "1x",   "--1",
        "+-1",  "1e309", "-1e309", "0x1p2000", " 1",   "1 ",    "infin", "0b1", "1.2.3"}) {
    EXPECT_FALSE(ParseGoFloat(s, &v)) << s;
  }
}

}  // namespace
}  // namespace tidemark
