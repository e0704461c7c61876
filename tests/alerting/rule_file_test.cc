#include "alerting/rule_file.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace tidemark::alerting {
namespace {

std::string Joined(const std::vector<std::string>& errors) {
  std::string s;
  for (const auto& e : errors) s += e + "\n";
  return s;
}

TEST(RuleFileTest, ParsesGroupsAlertingAndRecordingRules) {
  RuleFileResult r = ParseRuleFile("rules.yml", R"(groups:
- name: node
  interval: 30s
  limit: 10
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
    labels:
      tier: infra
  - alert: InstanceDown
    expr: up == 0
    for: 5m
    keep_firing_for: 2m
    labels:
      severity: page
      team: "{{ $labels.job }}"
    annotations:
      summary: "{{ $labels.instance }} down"
      runbook: http://x/y
- name: empty
  rules: []
)");
  ASSERT_TRUE(r.errors.empty()) << Joined(r.errors);
  ASSERT_EQ(r.groups.size(), 2u);
  const GroupSpec& g = r.groups[0];
  EXPECT_EQ(g.file, "rules.yml");
  EXPECT_EQ(g.name, "node");
  EXPECT_EQ(g.interval, std::chrono::seconds(30));
  EXPECT_EQ(g.limit, 10);
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[0].kind, RuleSpec::Kind::kRecording);
  EXPECT_EQ(g.rules[0].name, "job:up:sum");
  ASSERT_NE(g.rules[0].expr, nullptr);
  EXPECT_EQ(g.rules[0].expr->ToString(), "sum by (job) (up)");
  EXPECT_EQ(g.rules[0].labels.size(), 1u);
  const RuleSpec& a = g.rules[1];
  EXPECT_EQ(a.kind, RuleSpec::Kind::kAlerting);
  EXPECT_EQ(a.name, "InstanceDown");
  EXPECT_EQ(a.line, 10);
  EXPECT_EQ(a.for_duration, std::chrono::minutes(5));
  EXPECT_EQ(a.keep_firing_for, std::chrono::minutes(2));
  ASSERT_EQ(a.labels.size(), 2u);
  EXPECT_EQ(a.labels[0].name, "severity");
  EXPECT_EQ(a.labels[1].text, "{{ $labels.job }}");
  ASSERT_EQ(a.annotations.size(), 2u);
  EXPECT_EQ(a.annotations[0].name, "runbook");
  EXPECT_TRUE(r.groups[1].rules.empty());
}

TEST(RuleFileTest, BadExpressionNamesFileLineGroupAndRuleAndOtherGroupsLoad) {
  RuleFileResult r = ParseRuleFile("rules.yml", R"(groups:
- name: broken
  rules:
  - alert: Fine
    expr: up == 0
  - alert: Bad
    expr: sum(rate(x[5m])
- name: good
  rules:
  - record: a:b
    expr: vector(1)
)");
  ASSERT_EQ(r.errors.size(), 1u) << Joined(r.errors);
  EXPECT_EQ(r.errors[0].rfind("rules.yml:7: group \"broken\", rule 2, \"Bad\": could not parse "
                              "expression: 1:",
                              0),
            0u)
      << r.errors[0];
  EXPECT_NE(r.errors[0].find("parse error"), std::string::npos);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].name, "good");
  EXPECT_EQ(r.failed_groups, std::vector<std::string>{"broken"});
  EXPECT_TRUE(r.file_ok);
}

TEST(RuleFileTest, ValidatesAsPromtoolDoes) {
  RuleFileResult r = ParseRuleFile("r.yml", R"(groups:
- name: g
  rules:
  - record: "bad name"
    expr: up
  - record: ok:name
    expr: up
    for: 1m
    annotations: {a: b}
  - alert: A
    record: b
    expr: up
  - alert: L
    expr: up
    labels: {"__name__": x, "bad-label": y}
  - alert: T
    expr: up
    annotations: {summary: "{{ $value | nosuch }}"}
  - expr: up
  - alert: NoExpr
- name: g
  rules: []
- rules: []
)");
  std::string all = Joined(r.errors);
  EXPECT_NE(
      all.find("r.yml:4: group \"g\", rule 1, \"bad name\": invalid recording rule name: bad name"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("rule 2, \"ok:name\": invalid field 'annotations' in recording rule"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("rule 2, \"ok:name\": invalid field 'for' in recording rule"),
            std::string::npos);
  EXPECT_NE(all.find("rule 3, \"b\": only one of 'record' and 'alert' must be set"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("invalid label name: __name__"), std::string::npos);
  EXPECT_NE(all.find("invalid label name: bad-label"), std::string::npos);
  EXPECT_NE(all.find("r.yml:18: group \"g\", rule 5, \"T\": annotation \"summary\": template: "
                     "__alert_T:1: function \"nosuch\" not defined"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("rule 6, \"\": one of 'record' or 'alert' must be set"), std::string::npos);
  EXPECT_NE(all.find("rule 7, \"NoExpr\": field 'expr' must be set in rule"), std::string::npos);
  EXPECT_NE(all.find("r.yml:21: groupname: \"g\" is repeated in the same file"), std::string::npos)
      << all;
  EXPECT_NE(all.find("r.yml:23: Groupname must not be empty"), std::string::npos) << all;
  EXPECT_TRUE(r.groups.empty());
}

TEST(RuleFileTest, UnknownKeysAndYamlErrorsNameTheLine) {
  RuleFileResult r = ParseRuleFile(
      "r.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    severity: x\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("r.yml:6: group \"g\", rule 1.severity: unknown key", 0), 0u)
      << r.errors[0];
  r = ParseRuleFile("r.yml", "groups:\n- name: g\n  rules: [\n");
  EXPECT_FALSE(r.file_ok);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("r.yml:", 0), 0u);
  EXPECT_NE(r.errors[0].find("yaml: "), std::string::npos) << r.errors[0];
  r = ParseRuleFile("r.yml", "groups:\n- name: g\n  interval: 5x\n  rules: []\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("r.yml:3: group \"g\": interval:", 0), 0u) << r.errors[0];
}

TEST(RuleFileTest, LoadsFromDiskAndReportsMissingFiles) {
  testing::TempDir dir;
  dir.WriteFile("a.yml", "groups:\n- name: x\n  rules:\n  - alert: A\n    expr: vector(1)\n");
  RuleFileResult r = LoadRuleFile(dir.path() + "/a.yml");
  ASSERT_TRUE(r.errors.empty()) << Joined(r.errors);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].file, dir.path() + "/a.yml");
  r = LoadRuleFile(dir.path() + "/missing.yml");
  EXPECT_FALSE(r.file_ok);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("missing.yml"), std::string::npos);
}

}  // namespace
}  // namespace tidemark::alerting
