#include "common/duration.h"

#include <gtest/gtest.h>

namespace tidemark {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesPrometheusDurations) {
  EXPECT_EQ(*ParseDuration("1s"), milliseconds(1000));
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("1m30s"), milliseconds(90000));
  EXPECT_EQ(*ParseDuration("2h"), milliseconds(7200000));
  EXPECT_EQ(*ParseDuration("15d"), milliseconds(15LL * 86400000));
  EXPECT_EQ(*ParseDuration("1w"), milliseconds(7LL * 86400000));
  EXPECT_EQ(*ParseDuration("1y"), milliseconds(365LL * 86400000));
  EXPECT_EQ(*ParseDuration("1h1m1s1ms"), milliseconds(3661001));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
}

TEST(DurationTest, RejectsMalformedDurations) {
  for (const char* bad :
       {"", "1", "s", "1x", "1s1m", "1s1s", "-1s", "1.5s", "99999999999999999999y", "1 s", "ms"}) {
    auto r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(DurationTest, FormatRoundTrips) {
  for (int64_t ms : {0LL, 1LL, 999LL, 1000LL, 90000LL, 3661001LL, 86400000LL * 15}) {
    std::string s = FormatDuration(milliseconds(ms));
    auto back = ParseDuration(s);
    ASSERT_TRUE(back.ok()) << s;
    EXPECT_EQ(back->count(), ms) << s;
  }
  EXPECT_EQ(FormatDuration(milliseconds(90000)), "1m30s");
}

}  // namespace
}  // namespace tidemark
