#include "alerting/rules.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>

#include "tests/testing/testing.h"
#include "tsdb/promql/parser.h"

namespace tidemark::alerting {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kT0 = 1'700'000'040'000;  // A multiple of a minute.

promql::QueryResult VectorResult(promql::Vector v) {
  promql::QueryResult r;
  r.value.type = promql::ValueType::kVector;
  r.value.vector = std::move(v);
  return r;
}

// Answers by the canonical text of the expression; unknown expressions give an empty vector.
struct FakeQuery {
  std::map<std::string, std::function<promql::QueryResult(int64_t)>> by_expr;
  QueryFunc Func() {
    return [this](const promql::Expr& e, int64_t t) {
      auto it = by_expr.find(e.ToString());
      return it == by_expr.end() ? VectorResult({}) : it->second(t);
    };
  }
};

struct RecordingSink : AlertSink {
  std::vector<std::vector<Alert>> sends;
  void Send(std::vector<Alert> alerts) override { sends.push_back(std::move(alerts)); }
  std::vector<Alert> TakeAll() {
    std::vector<Alert> all;
    for (auto& s : sends) all.insert(all.end(), s.begin(), s.end());
    sends.clear();
    return all;
  }
};

struct Harness {
  FakeQuery q;
  RecordingSink sink;
  std::vector<promql::Sample> appended;
  testing::FakeClock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(kT0))};
  std::unique_ptr<RuleManager> mgr;

  explicit Harness(RuleOptions ro = {}) {
    RuleManagerOptions o;
    o.rules = ro;
    o.query = q.Func();
    o.append = [this](const std::vector<promql::Sample>& s) {
      appended.insert(appended.end(), s.begin(), s.end());
      return Status::Ok();
    };
    o.sink = &sink;
    mgr = std::make_unique<RuleManager>(std::move(o), clock);
  }
  std::vector<std::string> Load(const std::string& yaml) {
    return mgr->Reload({RuleSource::Text("t.yml", yaml)});
  }
  RuleSnapshot Rule(size_t g, size_t r) { return mgr->Snapshot().at(g).rules.at(r); }
  void At(int64_t minutes) { mgr->EvalAllAt(kT0 + minutes * kMin); }
};

std::string Get(const Labels& ls, std::string_view n) { return std::string(GetLabel(ls, n)); }

constexpr char kForRule[] = R"(groups:
- name: g
  interval: 1m
  rules:
  - alert: High
    expr: load > 1
    for: 5m
    KEEP
    labels:
      severity: "{{ if gt $value 10.0 }}critical{{ else }}warning{{ end }}"
    annotations:
      summary: "{{ $labels.instance }} load {{ $value }}"
)";

std::string ForRule(const std::string& keep) {
  std::string s = kForRule;
  s.replace(s.find("KEEP"), 4, keep);
  return s;
}

// The reference's checks: pending 0…4 m, firing at 5 m, resolved at 7 m; resend every resend
// delay; resolutions repeated for 15 m.
TEST(RuleEvalTest, PendingFiringResolvedAndResends) {
  Harness h;
  int64_t until = kT0 + 7 * kMin;
  h.q.by_expr["load > 1"] = [&](int64_t t) {
    if (t >= until) return VectorResult({});
    return VectorResult({{{{"__name__", "load"}, {"instance", "a:1"}}, t, 2}});
  };
  ASSERT_TRUE(h.Load(ForRule("")).empty());
  for (int m = 0; m <= 4; ++m) {
    h.At(m);
    RuleSnapshot r = h.Rule(0, 0);
    ASSERT_EQ(r.alerts.size(), 1u);
    EXPECT_EQ(r.alerts[0].state, AlertState::kPending) << m;
    EXPECT_EQ(r.state, AlertState::kPending);
    EXPECT_EQ(r.alerts[0].active_at_ms, kT0);
    EXPECT_EQ(r.health, RuleHealth::kGood);
  }
  EXPECT_TRUE(h.sink.sends.empty());
  h.At(5);
  RuleSnapshot r = h.Rule(0, 0);
  ASSERT_EQ(r.alerts.size(), 1u);
  EXPECT_EQ(r.alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(r.alerts[0].labels,
            (Labels{{"alertname", "High"}, {"instance", "a:1"}, {"severity", "warning"}}));
  EXPECT_EQ(r.alerts[0].annotations, (Labels{{"summary", "a:1 load 2"}}));
  std::vector<Alert> sent = h.sink.TakeAll();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].starts_at_ms, kT0 + 5 * kMin);
  EXPECT_EQ(sent[0].ends_at_ms, 0);
  EXPECT_FALSE(sent[0].resolved());
  EXPECT_EQ(sent[0].generator_url, "/graph?g0.expr=load+%3E+1&g0.tab=1");
  EXPECT_EQ(r.alerts[0].valid_until_ms, kT0 + 5 * kMin + 4 * kMin);
  EXPECT_EQ(sent[0].valid_until_ms, kT0 + 5 * kMin + 4 * kMin);  // What receivers use as endsAt.
  h.At(6);  // Sent at 5 m; 5 m + 1 m is not before 6 m.
  EXPECT_TRUE(h.sink.TakeAll().empty());
  h.At(7);
  r = h.Rule(0, 0);
  EXPECT_TRUE(r.alerts.empty());
  EXPECT_EQ(r.state, AlertState::kInactive);
  sent = h.sink.TakeAll();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].ends_at_ms, kT0 + 7 * kMin);
  EXPECT_EQ(sent[0].valid_until_ms, 0);
  EXPECT_EQ(sent[0].starts_at_ms, kT0 + 5 * kMin);
  // The resolution is re-sent every resend delay while within the 15 m retention.
  std::vector<int64_t> resend_minutes;
  for (int m = 8; m <= 30; ++m) {
    h.At(m);
    for (const Alert& a : h.sink.TakeAll()) {
      EXPECT_TRUE(a.resolved());
      resend_minutes.push_back(m);
    }
  }
  EXPECT_EQ(resend_minutes, (std::vector<int64_t>{9, 11, 13, 15, 17, 19, 21}));
}

TEST(RuleEvalTest, KeepFiringForHoldsTheAlert) {
  Harness h;
  int64_t until = kT0 + 7 * kMin;
  h.q.by_expr["load > 1"] = [&](int64_t t) {
    if (t >= until) return VectorResult({});
    return VectorResult({{{{"__name__", "load"}, {"instance", "a:1"}}, t, 20}});
  };
  ASSERT_TRUE(h.Load(ForRule("keep_firing_for: 3m")).empty());
  for (int m = 0; m <= 6; ++m) h.At(m);
  for (int m = 7; m <= 9; ++m) {
    h.At(m);
    RuleSnapshot r = h.Rule(0, 0);
    ASSERT_EQ(r.alerts.size(), 1u) << m;
    EXPECT_EQ(r.alerts[0].state, AlertState::kFiring) << m;
    EXPECT_EQ(r.alerts[0].keep_firing_since_ms, kT0 + 7 * kMin);
    EXPECT_EQ(Get(r.alerts[0].labels, "severity"), "critical");
  }
  h.At(10);
  EXPECT_TRUE(h.Rule(0, 0).alerts.empty());
  EXPECT_EQ(h.Rule(0, 0).state, AlertState::kInactive);
}

TEST(RuleEvalTest, PendingAlertThatVanishesIsNeverSent) {
  Harness h;
  h.q.by_expr["load > 1"] = [&](int64_t t) {
    if (t > kT0) return VectorResult({});
    return VectorResult({{{{"instance", "a"}}, t, 2}});
  };
  ASSERT_TRUE(h.Load(ForRule("")).empty());
  for (int m = 0; m <= 10; ++m) h.At(m);
  EXPECT_TRUE(h.sink.sends.empty());
  EXPECT_TRUE(h.Rule(0, 0).alerts.empty());
}

TEST(RuleEvalTest, WritesAlertsSeriesAndStalenessMarkers) {
  Harness h;
  h.q.by_expr["load > 1"] = [&](int64_t t) {
    return VectorResult({{{{"__name__", "load"}, {"instance", "a:1"}}, t, 2}});
  };
  ASSERT_TRUE(h.Load(ForRule("")).empty());
  h.At(0);
  Labels pending{{"__name__", "ALERTS"},
                 {"alertname", "High"},
                 {"alertstate", "pending"},
                 {"instance", "a:1"},
                 {"severity", "warning"}};
  Labels for_state{{"__name__", "ALERTS_FOR_STATE"},
                   {"alertname", "High"},
                   {"instance", "a:1"},
                   {"severity", "warning"}};
  ASSERT_EQ(h.appended.size(), 2u);
  EXPECT_EQ(h.appended[0].metric, pending);
  EXPECT_EQ(h.appended[0].v, 1);
  EXPECT_EQ(h.appended[0].t, kT0);
  EXPECT_EQ(h.appended[1].metric, for_state);
  EXPECT_EQ(h.appended[1].v, static_cast<double>(kT0 / 1000));
  h.appended.clear();
  h.At(5);
  Labels firing = pending;
  firing[2].value = "firing";
  ASSERT_EQ(h.appended.size(), 3u);
  EXPECT_EQ(h.appended[0].metric, firing);
  EXPECT_EQ(h.appended[1].metric, for_state);
  EXPECT_EQ(h.appended[2].metric, pending);
  EXPECT_TRUE(tsdb::IsStaleNaN(h.appended[2].v));
}

TEST(RuleEvalTest, ErrorsStayPerRuleAndRecordingRulesAppend) {
  Harness h;
  h.q.by_expr["broken"] = [](int64_t) {
    promql::QueryResult r;
    r.error_type = promql::ErrorType::kExecution;
    r.error = "many-to-many matching not allowed";
    return r;
  };
  h.q.by_expr["sum by (job) (up)"] = [](int64_t t) {
    return VectorResult({{{{"job", "a"}}, t, 3}, {{{"job", "b"}}, t, 4}});
  };
  h.q.by_expr["dup"] = [](int64_t t) {
    return VectorResult({{{{"x", "1"}}, t, 3}, {{{"x", "2"}}, t, 4}});
  };
  h.q.by_expr["scalar(x)"] = [](int64_t t) {
    promql::QueryResult r;
    r.value.type = promql::ValueType::kScalar;
    r.value.scalar = {t, 7};
    return r;
  };
  ASSERT_TRUE(h.Load(R"(groups:
- name: g
  rules:
  - record: broken:rule
    expr: broken
  - record: job:up:sum
    expr: sum by (job) (up)
    labels: {tier: infra}
  - alert: Dup
    expr: dup
    labels: {x: same}
  - record: s
    expr: scalar(x)
)")
                  .empty());
  h.At(0);
  GroupSnapshot g = h.mgr->Snapshot().at(0);
  EXPECT_EQ(g.rules[0].health, RuleHealth::kBad);
  EXPECT_EQ(g.rules[0].last_error, "many-to-many matching not allowed");
  EXPECT_EQ(g.rules[1].health, RuleHealth::kGood);
  EXPECT_EQ(g.rules[2].health, RuleHealth::kBad);
  EXPECT_EQ(g.rules[2].last_error,
            "vector contains metrics with the same labelset after applying alert labels");
  EXPECT_EQ(g.rules[3].health, RuleHealth::kGood);
  EXPECT_NE(g.rules[1].last_evaluation, std::chrono::system_clock::time_point{});
  ASSERT_EQ(h.appended.size(), 3u);
  EXPECT_EQ(h.appended[0].metric,
            (Labels{{"__name__", "job:up:sum"}, {"job", "a"}, {"tier", "infra"}}));
  EXPECT_EQ(h.appended[0].v, 3);
  EXPECT_EQ(h.appended[2].metric, (Labels{{"__name__", "s"}}));
  EXPECT_EQ(h.appended[2].v, 7);
  // A series that disappears gets a staleness marker.
  h.q.by_expr["sum by (job) (up)"] = [](int64_t t) {
    return VectorResult({{{{"job", "a"}}, t, 3}});
  };
  h.appended.clear();
  h.At(1);
  ASSERT_EQ(h.appended.size(), 3u);
  EXPECT_EQ(GetLabel(h.appended[1].metric, "job"), "b");
  EXPECT_TRUE(tsdb::IsStaleNaN(h.appended[1].v));
}

TEST(RuleEvalTest, GroupLimitFailsTheRule) {
  Harness h;
  h.q.by_expr["x"] = [](int64_t t) {
    return VectorResult({{{{"a", "1"}}, t, 1}, {{{"a", "2"}}, t, 1}});
  };
  ASSERT_TRUE(
      h.Load("groups:\n- name: g\n  limit: 1\n  rules:\n  - alert: A\n    expr: x\n").empty());
  h.At(0);
  RuleSnapshot r = h.Rule(0, 0);
  EXPECT_EQ(r.health, RuleHealth::kBad);
  EXPECT_EQ(r.last_error, "exceeded limit of 1 with 2 alerts");
  EXPECT_TRUE(r.alerts.empty());
}

TEST(RuleManagerTest, ReloadKeepsStateOfUnchangedRulesAndOldVersionOfBrokenGroups) {
  Harness h;
  h.q.by_expr["load > 1"] = [](int64_t t) { return VectorResult({{{{"instance", "a"}}, t, 2}}); };
  ASSERT_TRUE(h.Load(ForRule("")).empty());
  h.At(0);
  h.At(1);
  // Same rule, one more rule in the group: the alert keeps its ActiveAt.
  std::string changed = ForRule("") + "  - record: r\n    expr: vector(1)\n";
  ASSERT_TRUE(h.Load(changed).empty());
  h.At(2);
  ASSERT_EQ(h.mgr->Snapshot().at(0).rules.size(), 2u);
  EXPECT_EQ(h.Rule(0, 0).alerts.at(0).active_at_ms, kT0);
  // A broken version keeps the running one.
  std::vector<std::string> errs = h.Load(changed + "  - alert: Bad\n    expr: sum(\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("t.yml:16: group \"g\", rule 3, \"Bad\": could not parse expression"),
            std::string::npos)
      << errs[0];
  ASSERT_EQ(h.mgr->Snapshot().size(), 1u);
  EXPECT_EQ(h.mgr->Snapshot().at(0).rules.size(), 2u);
  h.At(5);
  EXPECT_EQ(h.Rule(0, 0).alerts.at(0).state, AlertState::kFiring);
  // A changed `for` is a different definition but the same rule name: state carries over.
  std::string longer = changed;
  longer.replace(longer.find("for: 5m"), 7, "for: 10m");
  ASSERT_TRUE(h.Load(longer).empty());
  EXPECT_EQ(h.Rule(0, 0).alerts.at(0).active_at_ms, kT0);
  // An empty source list removes the group and marks its series stale.
  h.appended.clear();
  EXPECT_TRUE(h.mgr->Reload({}).empty());
  EXPECT_TRUE(h.mgr->Snapshot().empty());
  ASSERT_FALSE(h.appended.empty());
  for (const auto& s : h.appended) EXPECT_TRUE(tsdb::IsStaleNaN(s.v));
}

TEST(RuleManagerTest, OverridableSourceGivesWayByRuleName) {
  Harness h;
  std::vector<std::string> errs = h.mgr->Reload(
      {RuleSource::Text("<builtin>",
                        "groups:\n- name: b\n  rules:\n  - alert: A\n    expr: vector(1)\n"
                        "  - alert: B\n    expr: vector(1)\n",
                        true),
       RuleSource::Text("user.yml",
                        "groups:\n- name: u\n  rules:\n  - alert: A\n    expr: vector(2)\n")});
  ASSERT_TRUE(errs.empty());
  std::vector<GroupSnapshot> gs = h.mgr->Snapshot();
  ASSERT_EQ(gs.size(), 2u);
  EXPECT_EQ(gs[0].file, "<builtin>");
  ASSERT_EQ(gs[0].rules.size(), 1u);
  EXPECT_EQ(gs[0].rules[0].name, "B");
  EXPECT_EQ(gs[1].rules[0].query, "vector(2)");
}

TEST(RuleManagerTest, RunDueFollowsTheClock) {
  Harness h;
  h.q.by_expr["vector(1)"] = [](int64_t t) { return VectorResult({{{}, t, 1}}); };
  ASSERT_TRUE(
      h.Load("groups:\n- name: g\n  interval: 30s\n  rules:\n  - record: r\n    expr: vector(1)\n")
          .empty());
  int64_t now = ToUnixMillis(h.clock.Now());
  int64_t next = h.mgr->NextEvalMs();
  EXPECT_GE(next, now);
  EXPECT_LT(next, now + 30'000);
  h.clock.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(next - 1)));
  EXPECT_EQ(h.mgr->RunDue(), next == now ? 1 : 0);
  h.clock.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(next)));
  h.appended.clear();
  EXPECT_EQ(h.mgr->RunDue(), next == now ? 0 : 1);
  // Two intervals late: one evaluation at the newest slot.
  h.clock.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(next + 65'000)));
  h.appended.clear();
  EXPECT_EQ(h.mgr->RunDue(), 1);
  ASSERT_EQ(h.appended.size(), 1u);
  EXPECT_EQ(h.appended[0].t, next + 60'000);
  EXPECT_EQ(h.mgr->NextEvalMs(), next + 90'000);
}

// The loop thread evaluates due groups by itself and stops cleanly.
TEST(RuleManagerTest, LoopThreadEvaluatesAndStops) {
  struct NotifyingSink : AlertSink {
    std::mutex mu;
    std::condition_variable cv;
    size_t alerts = 0;
    void Send(std::vector<Alert> a) override {
      std::lock_guard<std::mutex> lock(mu);
      alerts += a.size();
      cv.notify_all();
    }
  } sink;
  testing::FakeClock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(kT0))};
  RuleManagerOptions o;
  o.query = [](const promql::Expr&, int64_t t) { return VectorResult({{{}, t, 1}}); };
  o.sink = &sink;
  RuleManager mgr(std::move(o), clock);
  ASSERT_TRUE(mgr.Reload({RuleSource::Text(
                             "t.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n")})
                  .empty());
  clock.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(mgr.NextEvalMs())));
  mgr.Start();
  {
    std::unique_lock<std::mutex> lock(sink.mu);
    // Generous bound only against a hang; the loop runs at once because the group is due.
    ASSERT_TRUE(sink.cv.wait_for(lock, std::chrono::seconds(30), [&] { return sink.alerts > 0; }));
  }
  mgr.Stop();
  EXPECT_EQ(mgr.Snapshot().at(0).rules.at(0).alerts.at(0).state, AlertState::kFiring);
}

// One agent lifetime over the same store dir: opens the Db, evaluates `up == 0` with `for: 30m`
// every minute from `from_min` to `to_min` (writing up=0 first) and records the alert's state.
void RunAgent(const testing::TempDir& dir, testing::FakeClock& clock, int64_t from_min,
              int64_t to_min, std::vector<AlertState>* states) {
  tsdb::DbOptions o;
  o.dir = dir.path() + "/tsdb";
  Result<std::unique_ptr<tsdb::Db>> db = tsdb::Db::Open(o, clock);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  promql::Engine engine(db->get(), promql::EngineOptions{});
  RuleManagerOptions mo;
  mo.query = EngineQueryFunc(&engine);
  mo.append = DbAppendFunc(db->get());
  mo.for_state = DbForStateLookup(db->get());
  RuleManager mgr(std::move(mo), clock);
  ASSERT_TRUE(mgr.Reload({RuleSource::Text("r.yml",
                                           "groups:\n- name: g\n  interval: 1m\n  rules:\n"
                                           "  - alert: Down\n    expr: up == 0\n    for: 30m\n")})
                  .empty());
  for (int64_t m = from_min; m <= to_min; ++m) {
    int64_t ts = kT0 + m * kMin;
    clock.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(ts)));
    tsdb::Db::Appender app = (*db)->NewAppender();
    app.Add({{"__name__", "up"}, {"job", "api"}}, ts, 0);
    ASSERT_TRUE(app.Commit().ok());
    mgr.EvalAllAt(ts);
    std::vector<RuleAlert> alerts = mgr.Snapshot().at(0).rules.at(0).alerts;
    ASSERT_EQ(alerts.size(), 1u);
    states->push_back(alerts[0].state);
  }
}

// Restart: a pending alert's `for` progress comes back from ALERTS_FOR_STATE in the store.
TEST(RuleRestoreTest, PendingAlertRestoredAfterRestartFiresOnTime) {
  testing::TempDir dir;
  testing::FakeClock clock;
  std::vector<AlertState> before, after;
  RunAgent(dir, clock, 0, 10, &before);  // Pending for 10 of its 30 minutes, then it stops.
  for (AlertState s : before) EXPECT_EQ(s, AlertState::kPending);
  RunAgent(dir, clock, 15, 36, &after);  // Back 5 minutes later: 20 to go, fires at 35 m.
  for (size_t i = 0; i < after.size(); ++i) {
    int64_t minute = 15 + static_cast<int64_t>(i);
    EXPECT_EQ(after[i], minute < 35 ? AlertState::kPending : AlertState::kFiring) << minute;
  }
}

TEST(RuleRestoreTest, AlmostDueAlertGetsTheGracePeriod) {
  testing::TempDir dir;
  testing::FakeClock clock;
  std::vector<AlertState> before, after;
  RunAgent(dir, clock, 0, 25, &before);  // 25 of 30 minutes pending.
  RunAgent(dir, clock, 40, 51, &after);  // 5 minutes left < grace 10 m: fires 10 m after restart.
  for (size_t i = 0; i < after.size(); ++i) {
    int64_t minute = 40 + static_cast<int64_t>(i);
    EXPECT_EQ(after[i], minute < 50 ? AlertState::kPending : AlertState::kFiring) << minute;
  }
}

}  // namespace
}  // namespace tidemark::alerting
