#include "autoscaler/policy.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace tidemark::autoscaler {
namespace {

constexpr char kFull[] = R"(name: web
target:
  orchestrator: kubernetes
  deployment: prod/web
min_replicas: 2
max_replicas: 20
metrics:
  - type: cpu
    target_utilization: 80
    against: request
  - type: query
    name: p95
    query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[30s])))
    target_value: 0.3
    target_type: value
tolerance: {up: 0.05, down: 0.5}
sync_period: 1s
behavior:
  scale_up:
    stabilization_window: 3s
    select_policy: Min
    policies: [{type: Pods, value: 2, period: 10s}]
  scale_down:
    select_policy: Disabled
scale_in_window: {hours: "22:00-06:00", timezone: UTC, days: [sat, sun]}
dry_run: true
)";

TEST(PolicyTest, ParsesEveryKey) {
  auto p = ParsePolicyText(kFull, "web.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "web");
  EXPECT_EQ(p->orchestrator, "kubernetes");
  EXPECT_EQ(p->target.kind, "Deployment");
  EXPECT_EQ(p->target.namespace_, "prod");
  EXPECT_EQ(p->target.name, "web");
  EXPECT_EQ(p->min_replicas, 2);
  EXPECT_EQ(p->max_replicas, 20);
  ASSERT_EQ(p->metrics.size(), 2u);
  EXPECT_EQ(p->metrics[0].against, CpuBasis::kRequest);
  EXPECT_EQ(p->metrics[0].target_utilization, 80);
  EXPECT_EQ(p->metrics[1].name, "p95");
  EXPECT_DOUBLE_EQ(p->metrics[1].target_value, 0.3);
  EXPECT_DOUBLE_EQ(p->scale_up.tolerance, 0.05);
  EXPECT_DOUBLE_EQ(p->scale_down.tolerance, 0.5);
  EXPECT_EQ(p->sync_period, std::chrono::seconds(1));
  EXPECT_EQ(p->scale_up.stabilization_window, std::chrono::seconds(3));
  EXPECT_EQ(p->scale_up.select, SelectPolicy::kMin);
  ASSERT_EQ(p->scale_up.policies.size(), 1u);
  EXPECT_EQ(p->scale_up.policies[0].value, 2);
  EXPECT_EQ(p->scale_down.select, SelectPolicy::kDisabled);
  // Unset scale_down keys keep Kubernetes' defaults.
  EXPECT_EQ(p->scale_down.stabilization_window, std::chrono::seconds(300));
  EXPECT_TRUE(p->scale_in.enabled);
  EXPECT_TRUE(p->scale_in.utc);
  EXPECT_EQ(p->scale_in.start_minute, 22 * 60);
  EXPECT_EQ(p->scale_in.end_minute, 6 * 60);
  EXPECT_EQ(p->scale_in.days, (1 << 6) | 1);
  EXPECT_TRUE(p->dry_run);
}

TEST(PolicyTest, KubernetesDefaults) {
  auto p = ParsePolicyText("name: w\ntarget: {service: web}\nmax_replicas: 5\n", "w.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->orchestrator, "swarm");
  EXPECT_EQ(p->target.kind, "SwarmService");
  EXPECT_EQ(p->min_replicas, 1);
  ASSERT_EQ(p->metrics.size(), 1u);  // Empty metrics → cpu 80 %.
  EXPECT_EQ(p->metrics[0].target_utilization, 80);
  EXPECT_EQ(p->sync_period, std::chrono::seconds(5));
  EXPECT_DOUBLE_EQ(p->scale_up.tolerance, 0.1);
  EXPECT_DOUBLE_EQ(p->scale_down.tolerance, 0.1);
  // The one default that is not the HPA's: per-second data needs a scale-up window.
  EXPECT_EQ(p->scale_up.stabilization_window, std::chrono::seconds(15));
  EXPECT_TRUE(p->panic.enabled);
  EXPECT_DOUBLE_EQ(p->panic.saturation, 0.9);
  EXPECT_DOUBLE_EQ(p->panic.threshold, 2.0);
  ASSERT_EQ(p->scale_up.policies.size(), 2u);
  EXPECT_EQ(p->scale_up.policies[0].type, RatePolicyType::kPods);
  EXPECT_EQ(p->scale_up.policies[0].value, 4);
  EXPECT_EQ(p->scale_up.policies[1].type, RatePolicyType::kPercent);
  EXPECT_EQ(p->scale_up.policies[1].value, 100);
  EXPECT_EQ(p->scale_up.policies[1].period, std::chrono::seconds(15));
  EXPECT_EQ(p->scale_down.stabilization_window, std::chrono::seconds(300));
  EXPECT_DOUBLE_EQ(p->scale_down.min_step, 0.3);  // Not the HPA's either (0).
  EXPECT_DOUBLE_EQ(p->scale_up.min_step, 0.2);
  ASSERT_EQ(p->scale_down.policies.size(), 1u);
  EXPECT_EQ(p->scale_down.policies[0].value, 100);
  EXPECT_EQ(p->scale_up.select, SelectPolicy::kMax);
  EXPECT_FALSE(p->scale_in.enabled);
  EXPECT_FALSE(p->legacy_behavior);
}

// Without `against`, CPU is measured as each orchestrator's own autoscaling does.
TEST(PolicyTest, PanicKeys) {
  const std::string base = "name: w\ntarget: {service: web}\nmax_replicas: 5\n";
  auto p = ParsePolicyText(base + "panic: {saturation: 0.9, threshold: 3}\n", "w.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->panic.enabled);
  EXPECT_DOUBLE_EQ(p->panic.saturation, 0.9);
  EXPECT_DOUBLE_EQ(p->panic.threshold, 3);
  p = ParsePolicyText(base + "panic: false\n", "w.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(p->panic.enabled);
  // The behaviour-less HPA is asked for exactly: no fast path unless it is asked for too.
  p = ParsePolicyText(base + "behavior: legacy\n", "w.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(p->panic.enabled);
  p = ParsePolicyText(base + "behavior: legacy\npanic: {enabled: true}\n", "w.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->panic.enabled);
  auto bad = ParsePolicyText(base + "panic: {threshold: 1}\n", "w.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("panic.threshold must be > 1"), std::string::npos)
      << bad.status().message();
  bad = ParsePolicyText(base + "panic: {saturation: 1.5}\n", "w.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("panic.saturation must be in (0, 1]"), std::string::npos);
  bad = ParsePolicyText(base + "behavior: {scale_up: {min_step: -0.1}}\n", "w.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("scale_up min_step must be in [0, 1)"), std::string::npos)
      << bad.status().message();
  bad = ParsePolicyText(base + "behavior: {scale_down: {min_step: 1}}\n", "w.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("min_step must be in [0, 1)"), std::string::npos);
  p = ParsePolicyText(base + "behavior: {scale_down: {min_step: 0}}\n", "w.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_DOUBLE_EQ(p->scale_down.min_step, 0);
  bad = ParsePolicyText(base + "panic: {saturaton: 0.9}\n", "w.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("saturaton"), std::string::npos) << bad.status().message();
}

TEST(PolicyTest, CpuBasisDefaultsToRequestOnKubernetesAndLimitOnSwarm) {
  auto k = ParsePolicyText(
      "name: k\ntarget: {deployment: default/web}\nmax_replicas: 5\n"
      "metrics: [{type: cpu, target_utilization: 70}]\n",
      "k.yaml");
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->metrics[0].against, CpuBasis::kRequest);
  auto k_default =
      ParsePolicyText("name: k\ntarget: {deployment: default/web}\nmax_replicas: 5\n", "k.yaml");
  ASSERT_TRUE(k_default.ok()) << k_default.status().ToString();
  EXPECT_EQ(k_default->metrics[0].against, CpuBasis::kRequest);
  auto s = ParsePolicyText("name: s\ntarget: {service: web}\nmax_replicas: 5\n", "s.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->metrics[0].against, CpuBasis::kLimit);
  auto k_limit = ParsePolicyText(
      "name: k\ntarget: {deployment: default/web}\nmax_replicas: 5\n"
      "metrics: [{type: cpu, target_utilization: 70, against: limit}]\n",
      "k.yaml");
  ASSERT_TRUE(k_limit.ok()) << k_limit.status().ToString();
  EXPECT_EQ(k_limit->metrics[0].against, CpuBasis::kLimit);
}

void ExpectError(const std::string& yaml, const std::string& want) {
  auto p = ParsePolicyText(yaml, "p.yaml");
  ASSERT_FALSE(p.ok()) << yaml;
  EXPECT_NE(p.status().message().find(want), std::string::npos) << p.status().message();
}

TEST(PolicyTest, ErrorsNameFileLineKeyAndReason) {
  const std::string base = "name: w\ntarget: {service: web}\n";
  ExpectError(base + "max_replicas: 5\nbogus: 1\n", "p.yaml:4: bogus: unknown key");
  ExpectError(base + "min_replicas: 6\nmax_replicas: 5\n",
              "min_replicas (6) is greater than max_replicas (5)");
  ExpectError(base + "min_replicas: 0\nmax_replicas: 5\n", "allow_scale_to_zero");
  ExpectError(base +
                  "max_replicas: 5\nmetrics: [{type: query, query: 'rate(x[5m]', "
                  "target_value: 1}]\n",
              "p.yaml:4: metrics[0].query: PromQL:");
  ExpectError(base + "max_replicas: 5\nmetrics: [{type: cpu, target_utilization: 0}]\n",
              "metrics[0].target_utilization: expected a percentage");
  ExpectError(base + "max_replicas: 5\nmetrics: [{type: mem}]\n", "expected cpu or query");
  ExpectError(base +
                  "max_replicas: 5\nbehavior: {scale_down: {policies: [{type: Percent, value: "
                  "150, period: 15s}]}}\n",
              "scale_down Percent policy value must be at most 100");
  ExpectError(base +
                  "max_replicas: 5\nbehavior: {scale_up: {policies: [{type: Pods, value: 1, "
                  "period: 31m}]}}\n",
              "at most 30m");
  ExpectError(base + "max_replicas: 5\nbehavior: {scale_up: {select_policy: max}}\n",
              "expected Max, Min or Disabled");
  ExpectError(base + "max_replicas: 5\nscale_in_window: {hours: '25:00-06:00'}\n",
              "expected HH:MM-HH:MM");
  ExpectError(base + "max_replicas: 5\ntolerance: {up: x}\n", "tolerance.up: expected a number");
  ExpectError("name: w\ntarget: {deployment: web}\nmax_replicas: 5\n", "expected namespace/name");
  ExpectError("name: w\nmax_replicas: 5\n", "a policy needs a target");
  ExpectError("name: w\ntarget: {service: web, orchestrator: kubernetes}\nmax_replicas: 5\n",
              "a swarm orchestrator scales a service");
}

TEST(PolicyTest, AutoscalerSectionWithPoliciesAndFiles) {
  testing::TempDir dir;
  dir.WriteFile("api.yaml", "name: api\ntarget: {service: api}\nmax_replicas: 3\n");
  std::string yaml =
      "autoscaler:\n  state_dir: /var/lib/x\n  decision_history: 7\n"
      "  policy_files: [" +
      dir.path() +
      "/api.yaml]\n"
      "  policies:\n    - {name: web, target: {service: web}, max_replicas: 4}\n";
  YAML::Node root = YAML::Load(yaml);
  YamlWalker w("agent.yaml");
  AutoscalerConfig c;
  Status st = ParseAutoscalerConfig(w, root["autoscaler"], "autoscaler", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.state_dir, "/var/lib/x");
  EXPECT_EQ(c.decision_history, 7u);
  ASSERT_EQ(c.policies.size(), 2u);
  EXPECT_EQ(c.policies[0].name, "api");
  EXPECT_EQ(c.policies[1].name, "web");
  EXPECT_EQ(c.policies[1].source, "agent.yaml:6");

  YAML::Node dup = YAML::Load(
      "autoscaler:\n  policies:\n    - {name: web, target: {service: a}, max_replicas: 4}\n"
      "    - {name: web, target: {service: b}, max_replicas: 4}\n");
  st = ParseAutoscalerConfig(w, dup["autoscaler"], "autoscaler", &c);
  EXPECT_NE(st.message().find("two policies are named \"web\""), std::string::npos);
  YAML::Node bad = YAML::Load("autoscaler:\n  policies:\n    - {name: web, max_replicas: 4}\n");
  st = ParseAutoscalerConfig(w, bad["autoscaler"], "autoscaler", &c);
  EXPECT_NE(st.message().find("agent.yaml:3: autoscaler.policies[0].target"), std::string::npos)
      << st.message();
}

TEST(PolicyTest, LoadPolicyFileMissing) {
  auto p = LoadPolicyFile("/nonexistent/policy.yaml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("/nonexistent/policy.yaml"), std::string::npos);
}

TEST(PolicyTest, ScaleInWindowSameDay) {
  ScaleInWindow w{true, 2 * 60, 3 * 60, true, 0x7f};
  const int64_t midnight = 1700006400000;  // 2023-11-15 00:00 UTC.
  EXPECT_FALSE(ScaleInAllowed(w, midnight + 3600000));
  EXPECT_TRUE(ScaleInAllowed(w, midnight + 2 * 3600000));
  EXPECT_TRUE(ScaleInAllowed(w, midnight + 2 * 3600000 + 59 * 60000));
  EXPECT_FALSE(ScaleInAllowed(w, midnight + 3 * 3600000));
  EXPECT_TRUE(ScaleInAllowed(ScaleInWindow{}, midnight));
}

}  // namespace
}  // namespace tidemark::autoscaler
