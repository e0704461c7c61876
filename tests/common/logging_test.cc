#include "common/logging.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace tidemark {
namespace {

TEST(RateLimiterTest, LetsOnePerIntervalThroughAndCountsTheRest) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, std::chrono::seconds(60));
  uint64_t suppressed = 99;
  EXPECT_TRUE(limiter.Allow("cgroup", &suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(limiter.Allow("cgroup"));
  EXPECT_FALSE(limiter.Allow("cgroup"));
  EXPECT_TRUE(limiter.Allow("meminfo"));
  clock.Advance(std::chrono::seconds(61));
  EXPECT_TRUE(limiter.Allow("cgroup", &suppressed));
  EXPECT_EQ(suppressed, 2u);
}

TEST(LoggingTest, ValidatesLevels) {
  EXPECT_TRUE(ValidateLogLevel("debug").ok());
  EXPECT_FALSE(ValidateLogLevel("verbose").ok());
  EXPECT_FALSE(SetupLogging("loud", LogFormat::kText).ok());
}

}  // namespace
}  // namespace tidemark
