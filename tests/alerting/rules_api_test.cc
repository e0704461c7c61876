#include "alerting/rules_api.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace tidemark::alerting {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

GroupSnapshot SampleGroup() {
  GroupSnapshot g;
  g.name = "g1";
  g.file = "/etc/rules.yml";
  g.interval_s = 15;
  g.evaluation_seconds = 0.000694646;
  g.last_evaluation = system_clock::time_point(std::chrono::nanoseconds(1795774012641755219));
  RuleSnapshot a;
  a.kind = RuleSpec::Kind::kAlerting;
  a.name = "AlwaysOn";
  a.query = "vector(1) > 0";
  a.duration_s = 600;
  a.keep_firing_for_s = 60;
  a.labels = {{"severity", "warning"}};
  a.annotations = {{"summary", "value {{ $value }} <x>"}};
  a.health = RuleHealth::kGood;
  a.state = AlertState::kFiring;
  a.evaluation_seconds = 0.000076184;
  a.last_evaluation = g.last_evaluation;
  RuleAlert al;
  al.state = AlertState::kFiring;
  al.labels = {{"alertname", "AlwaysOn"}, {"severity", "warning"}};
  al.annotations = {{"summary", "value 1 <x>"}};
  al.active_at_ms = 1795774009640;
  al.value = 1;
  a.alerts.push_back(al);
  RuleSnapshot r;
  r.kind = RuleSpec::Kind::kRecording;
  r.name = "job:up:sum";
  r.query = "sum(up)";
  r.health = RuleHealth::kBad;
  r.last_error = "boom";
  RuleSnapshot r2 = r;
  r2.labels = {{"a", "b"}};
  r2.health = RuleHealth::kUnknown;
  r2.last_error.clear();
  g.rules = {a, r, r2};
  return g;
}

// The shapes below are what Prometheus 2.42 answered for the same rules (checked by hand against
// `prometheus` on loopback): field order, omitted fields, HTML escapes, Go time and float forms.
TEST(RulesApiTest, RulesBodyMatchesPrometheus) {
  ApiResponse resp = RulesApiResponse({SampleGroup()}, "");
  EXPECT_EQ(resp.http_status, 200);
  EXPECT_EQ(
      resp.body,
      R"J({"status":"success","data":{"groups":[{"name":"g1","file":"/etc/rules.yml","rules":[)J"
      R"J({"state":"firing","name":"AlwaysOn","query":"vector(1) \u003e 0","duration":600,)J"
      R"J("keepFiringFor":60,"labels":{"severity":"warning"},"annotations":{"summary":"value {{ $value }} \u003cx\u003e"},)J"
      R"J("alerts":[{"labels":{"alertname":"AlwaysOn","severity":"warning"},"annotations":{"summary":"value 1 \u003cx\u003e"},)J"
      R"J("state":"firing","activeAt":"2026-11-27T10:06:49.64Z","value":"1e+00"}],"health":"ok",)J"
      R"J("evaluationTime":0.000076184,"lastEvaluation":"2026-11-27T10:06:52.641755219Z","type":"alerting"},)J"
      R"J({"name":"job:up:sum","query":"sum(up)","health":"err","lastError":"boom","evaluationTime":0,)J"
      R"J("lastEvaluation":"0001-01-01T00:00:00Z","type":"recording"},)J"
      R"J({"name":"job:up:sum","query":"sum(up)","labels":{"a":"b"},"health":"unknown","evaluationTime":0,)J"
      R"J("lastEvaluation":"0001-01-01T00:00:00Z","type":"recording"}],)J"
      R"J("interval":15,"limit":0,"evaluationTime":0.000694646,"lastEvaluation":"2026-11-27T10:06:52.641755219Z"}]}})J");
}

TEST(RulesApiTest, TypeFilterKeepsGroupsAndRejectsUnknownTypes) {
  ApiResponse resp = RulesApiResponse({SampleGroup()}, "record");
  EXPECT_EQ(resp.body.find("AlwaysOn"), std::string::npos);
  EXPECT_NE(resp.body.find("job:up:sum"), std::string::npos);
  resp = RulesApiResponse({SampleGroup()}, "alert");
  EXPECT_EQ(resp.body.find("job:up:sum"), std::string::npos);
  GroupSnapshot only_rec = SampleGroup();
  only_rec.rules.erase(only_rec.rules.begin());
  resp = RulesApiResponse({only_rec}, "alert");
  EXPECT_NE(resp.body.find(R"J("rules":[],"interval":15)J"), std::string::npos) << resp.body;
  resp = RulesApiResponse({}, "foo");
  EXPECT_EQ(resp.http_status, 400);
  EXPECT_EQ(
      resp.body,
      R"J({"status":"error","errorType":"bad_data","error":"invalid parameter \"type\": not supported value \"foo\""})J");
  EXPECT_EQ(RulesApiResponse({}, "").body, R"J({"status":"success","data":{"groups":[]}})J");
}

TEST(RulesApiTest, AlertsBodyListsActiveAlerts) {
  ApiResponse resp = AlertsApiResponse({SampleGroup()});
  EXPECT_EQ(
      resp.body,
      R"J({"status":"success","data":{"alerts":[{"labels":{"alertname":"AlwaysOn","severity":"warning"},)J"
      R"J("annotations":{"summary":"value 1 \u003cx\u003e"},"state":"firing","activeAt":"2026-11-27T10:06:49.64Z",)J"
      R"J("value":"1e+00"}]}})J");
  EXPECT_EQ(AlertsApiResponse({}).body, R"J({"status":"success","data":{"alerts":[]}})J");
}

TEST(RulesApiTest, ManagerSnapshotRendersEndToEnd) {
  testing::FakeClock clock{system_clock::time_point(milliseconds(1700000040000))};
  RuleManagerOptions o;
  o.query = [](const promql::Expr&, int64_t t) {
    promql::QueryResult r;
    r.value.type = promql::ValueType::kVector;
    r.value.vector = {{{{"__name__", "x"}, {"pod", "p&1"}}, t, 0.25}};
    return r;
  };
  RuleManager mgr(std::move(o), clock);
  ASSERT_TRUE(mgr.Reload({RuleSource::Text("t.yml",
                                           "groups:\n- name: g\n  rules:\n  - alert: A\n"
                                           "    expr: x > 0\n    for: 1m\n")})
                  .empty());
  mgr.EvalAllAt(1700000040000);
  EXPECT_EQ(
      AlertsApiResponse(mgr.Snapshot()).body,
      R"J({"status":"success","data":{"alerts":[{"labels":{"alertname":"A","pod":"p\u00261"},)J"
      R"J("annotations":{},"state":"pending","activeAt":"2023-11-14T22:14:00Z","value":"2.5e-01"}]}})J");
  std::string rules = RulesApiResponse(mgr.Snapshot(), "").body;
  EXPECT_NE(
      rules.find(
          R"J("state":"pending","name":"A","query":"x \u003e 0","duration":60,"keepFiringFor":0,"labels":{},"annotations":{},)J"),
      std::string::npos)
      << rules;
  EXPECT_NE(
      rules.find(
          R"J("interval":60,"limit":0,"evaluationTime":0,"lastEvaluation":"2023-11-14T22:14:00Z")J"),
      std::string::npos)
      << rules;
}

}  // namespace
}  // namespace tidemark::alerting
