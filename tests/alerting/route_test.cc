#include "alerting/route.h"

#include <gtest/gtest.h>

namespace tidemark::alerting {
namespace {

constexpr int64_t kT0 = 1700000000000;

Alert MakeAlert(std::string name, std::string owner, std::string pod, int64_t ends_at = 0) {
  Alert a;
  a.labels = {{"alertname", std::move(name)}, {"owner", std::move(owner)}, {"pod", std::move(pod)}};
  a.starts_at_ms = kT0;
  a.ends_at_ms = ends_at;
  return a;
}

TEST(RouterTest, FirstMatchContinueAndFallback) {
  RouteConfig a;
  a.owner = "checkout";
  a.receivers = {"chat"};
  a.continue_matching = true;
  RouteConfig b;
  b.owner = "check.*|pay";
  b.receivers = {"pager"};
  RouteConfig c;
  c.owner = "";  // any
  c.receivers = {"never-reached-for-checkout"};
  RouteConfig fallback;
  fallback.receivers = {"default"};
  auto r = Router::Create({a, b, c}, fallback);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->Match("checkout"), (std::vector<size_t>{0, 1}));
  EXPECT_EQ((*r)->Match("pay"), (std::vector<size_t>{1}));
  EXPECT_EQ((*r)->Match("other"), (std::vector<size_t>{2}));
  // Anchored: "xcheckout" is not "checkout".
  EXPECT_EQ((*r)->Match("xpay"), (std::vector<size_t>{2}));

  auto no_any = Router::Create({b}, fallback);
  ASSERT_TRUE(no_any.ok());
  EXPECT_EQ((*no_any)->Match("nobody"), (std::vector<size_t>{1}));  // the fallback index
  EXPECT_EQ((*no_any)->route(1).receivers, fallback.receivers);
}

TEST(RouterTest, BadRoutesAreRejected) {
  RouteConfig bad;
  bad.owner = "(";
  bad.receivers = {"x"};
  auto r = Router::Create({bad}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("routes[0].owner"), std::string::npos);
  RouteConfig empty;
  EXPECT_FALSE(Router::Create({empty}, {}).ok());
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() {
    route_.receivers = {"hook"};
    route_.group_wait = std::chrono::seconds(1);
    route_.group_interval = std::chrono::seconds(60);
    route_.repeat_interval = std::chrono::hours(4);
  }
  Dispatcher Make(bool send_resolved = true, uint32_t per_minute = 0, size_t max_alerts = 0) {
    DispatcherOptions o;
    o.external_url = "http://node-1:9920";
    o.max_per_minute = per_minute;
    o.resolve_timeout = std::chrono::minutes(4);
    return Dispatcher(o, {GroupedReceiver{"hook", send_resolved, max_alerts}});
  }
  RouteConfig route_;
};

TEST_F(DispatcherTest, GroupWaitBatchesAlertsOfOneGroup) {
  Dispatcher d = Make();
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", kT0);
  d.Add(MakeAlert("OOM", "checkout", "b"), 0, route_, "hook", kT0 + 500);
  d.Add(MakeAlert("OOM", "search", "c"), 0, route_, "hook", kT0 + 500);
  EXPECT_EQ(d.NextFlushMs(), kT0 + 1000);
  EXPECT_TRUE(d.Flush(kT0 + 999).empty());
  auto msgs = d.Flush(kT0 + 1000);
  ASSERT_EQ(msgs.size(), 1u);  // search's group started 500 ms later
  EXPECT_EQ(msgs[0].message.alerts.size(), 2u);
  EXPECT_EQ(msgs[0].message.group_labels, (Labels{{"alertname", "OOM"}, {"owner", "checkout"}}));
  EXPECT_EQ(msgs[0].message.group_key, "{route=0}:{alertname=\"OOM\", owner=\"checkout\"}");
  EXPECT_EQ(msgs[0].message.external_url, "http://node-1:9920");
  msgs = d.Flush(kT0 + 1500);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(GetLabel(msgs[0].message.group_labels, "owner"), "search");
}

TEST_F(DispatcherTest, UnchangedGroupIsDeduplicatedUntilRepeatInterval) {
  Dispatcher d = Make();
  int64_t t = kT0;
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", t);
  auto first = d.Flush(t + 1000);
  ASSERT_EQ(first.size(), 1u);
  size_t sent = 1;
  // The rules re-send the same alert every 15 s for 5 hours.
  for (t = kT0 + 15000; t <= kT0 + 5 * 3600 * 1000; t += 15000) {
    d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", t);
    for (auto& m : d.Flush(t)) {
      EXPECT_EQ(m.idempotency_key, first[0].idempotency_key);
      ++sent;
    }
  }
  // One notification at 1 s and one repeat after 4 h (at the first group_interval tick past it).
  EXPECT_EQ(sent, 2u);
}

TEST_F(DispatcherTest, NewAlertInNotifiedGroupWaitsForGroupInterval) {
  Dispatcher d = Make();
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", kT0);
  ASSERT_EQ(d.Flush(kT0 + 1000).size(), 1u);
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", kT0 + 5000);
  d.Add(MakeAlert("OOM", "checkout", "b"), 0, route_, "hook", kT0 + 5000);
  EXPECT_TRUE(d.Flush(kT0 + 60999).empty());
  auto msgs = d.Flush(kT0 + 61000);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].message.alerts.size(), 2u);
}

TEST_F(DispatcherTest, ResolvedNotificationSentOnceAndGroupRemoved) {
  Dispatcher d = Make();
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", kT0);
  ASSERT_EQ(d.Flush(kT0 + 1000).size(), 1u);
  // Resolved at +30 s; the rules keep re-sending the resolution for 15 minutes.
  for (int64_t t = kT0 + 30000; t < kT0 + 30000 + 15 * 60000; t += 15000) {
    d.Add(MakeAlert("OOM", "checkout", "a", kT0 + 30000), 0, route_, "hook", t);
  }
  auto msgs = d.Flush(kT0 + 61000);
  ASSERT_EQ(msgs.size(), 1u);
  ASSERT_EQ(msgs[0].message.alerts.size(), 1u);
  EXPECT_TRUE(msgs[0].message.alerts[0].resolved());
  EXPECT_FALSE(msgs[0].message.firing());
  EXPECT_NE(msgs[0].idempotency_key.find("/resolved/"), std::string::npos);
  EXPECT_EQ(d.group_count(), 0u);
  d.Add(MakeAlert("OOM", "checkout", "a", kT0 + 30000), 0, route_, "hook", kT0 + 70000);
  EXPECT_TRUE(d.Flush(kT0 + 200000).empty());
  EXPECT_EQ(d.group_count(), 0u);
}

TEST_F(DispatcherTest, SendResolvedFalseSuppressesResolution) {
  Dispatcher d = Make(/*send_resolved=*/false);
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", kT0);
  d.Add(MakeAlert("OOM", "checkout", "b"), 0, route_, "hook", kT0);
  ASSERT_EQ(d.Flush(kT0 + 1000).size(), 1u);
  d.Add(MakeAlert("OOM", "checkout", "a", kT0 + 2000), 0, route_, "hook", kT0 + 2000);
  d.Add(MakeAlert("OOM", "checkout", "b"), 0, route_, "hook", kT0 + 2000);
  EXPECT_TRUE(d.Flush(kT0 + 61000).empty());  // a resolved, b unchanged: nothing to say
  d.Add(MakeAlert("OOM", "checkout", "b", kT0 + 62000), 0, route_, "hook", kT0 + 62000);
  EXPECT_TRUE(d.Flush(kT0 + 121000).empty());
  EXPECT_EQ(d.group_count(), 0u);
}

TEST_F(DispatcherTest, AlertNotRefreshedResolvesAfterTimeout) {
  Dispatcher d = Make();
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", kT0);
  ASSERT_EQ(d.Flush(kT0 + 1000).size(), 1u);
  // Nobody re-sends it: still firing at 4 min - 1 ms, resolved at the next tick after 4 min.
  for (int64_t t = kT0 + 61000; t < kT0 + 240000; t += 60000) EXPECT_TRUE(d.Flush(t).empty());
  auto msgs = d.Flush(kT0 + 241000);
  ASSERT_EQ(msgs.size(), 1u);
  ASSERT_EQ(msgs[0].message.alerts.size(), 1u);
  EXPECT_EQ(msgs[0].message.alerts[0].ends_at_ms, kT0 + 240000);
}

// A rule group evaluated every 5 min vouches for its alerts for 20 min: the alert must not be
// read as gone silent after the default 4 min (a false resolved, then firing, every cycle).
TEST_F(DispatcherTest, AlertsOwnValidityWindowOverridesTheDefault) {
  Dispatcher d = Make();
  Alert a = MakeAlert("Slow", "checkout", "a");
  a.valid_until_ms = kT0 + 20 * 60000;
  d.Add(a, 0, route_, "hook", kT0);
  ASSERT_EQ(d.Flush(kT0 + 1000).size(), 1u);
  for (int64_t t = kT0 + 61000; t < kT0 + 20 * 60000; t += 60000) {
    EXPECT_TRUE(d.Flush(t).empty()) << "at +" << (t - kT0) / 1000 << "s";
  }
  auto msgs = d.Flush(kT0 + 20 * 60000 + 1000);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].message.alerts[0].ends_at_ms, kT0 + 20 * 60000);
}

TEST_F(DispatcherTest, RateLimitDefersGroupsAndAggregates) {
  Dispatcher d = Make(true, /*per_minute=*/2);
  for (std::string owner : {"a", "b", "c", "d", "e"}) {
    d.Add(MakeAlert("OOM", owner, "p1"), 0, route_, "hook", kT0);
  }
  EXPECT_EQ(d.Flush(kT0 + 1000).size(), 2u);
  EXPECT_EQ(d.rate_limited().at("hook"), 3u);
  // More alerts of a deferred group pile into it while it waits.
  d.Add(MakeAlert("OOM", "e", "p2"), 0, route_, "hook", kT0 + 2000);
  d.Add(MakeAlert("OOM", "e", "p3"), 0, route_, "hook", kT0 + 3000);
  EXPECT_EQ(d.NextFlushMs(), kT0 + 61000);
  EXPECT_TRUE(d.Flush(kT0 + 60999).empty());
  auto msgs = d.Flush(kT0 + 61000);
  ASSERT_EQ(msgs.size(), 2u);
  size_t total = 0;
  for (auto& m : msgs) total += m.message.alerts.size();
  EXPECT_GE(total, 2u);
  EXPECT_EQ(d.rate_limited().at("hook"), 4u);  // the fifth group waits another minute
  msgs = d.Flush(kT0 + 121000);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(GetLabel(msgs[0].message.group_labels, "owner"), "e");
  EXPECT_EQ(msgs[0].message.alerts.size(), 3u);
}

TEST_F(DispatcherTest, MaxAlertsTruncatesAndCounts) {
  Dispatcher d = Make(true, 0, /*max_alerts=*/2);
  for (std::string pod : {"a", "b", "c", "d"}) {
    d.Add(MakeAlert("OOM", "checkout", pod), 0, route_, "hook", kT0);
  }
  auto msgs = d.Flush(kT0 + 1000);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].message.alerts.size(), 2u);
  EXPECT_EQ(msgs[0].message.truncated_alerts, 2u);
}

TEST_F(DispatcherTest, GroupByAllLabelsGivesOneGroupPerAlert) {
  route_.group_by = {"..."};
  Dispatcher d = Make();
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", kT0);
  d.Add(MakeAlert("OOM", "checkout", "b"), 0, route_, "hook", kT0);
  auto msgs = d.Flush(kT0 + 1000);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_NE(msgs[0].idempotency_key, msgs[1].idempotency_key);
}

TEST_F(DispatcherTest, ZeroGroupWaitFlushesAtOnce) {
  route_.group_wait = std::chrono::milliseconds(0);
  Dispatcher d = Make();
  d.Add(MakeAlert("OOM", "checkout", "a"), 0, route_, "hook", kT0);
  EXPECT_EQ(d.Flush(kT0).size(), 1u);
}

}  // namespace
}  // namespace tidemark::alerting
