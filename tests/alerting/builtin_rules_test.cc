#include "alerting/builtin_rules.h"

#include <gtest/gtest.h>

#include "alerting/rule_file.h"

namespace tidemark::alerting {
namespace {

TEST(BuiltinRulesTest, DefaultGroupParsesWithBothAlerts) {
  RuleFileResult r = ParseRuleFile(kBuiltinRulesSource, BuiltinRulesYaml({}));
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].name, kBuiltinGroupName);
  ASSERT_EQ(r.groups[0].rules.size(), 2u);
  const RuleSpec& c = r.groups[0].rules[0];
  EXPECT_EQ(c.name, "ContainerTcpRetransmits");
  EXPECT_EQ(c.expr->ToString(), "rate(container_tcp_retransmits_total[5m]) > 1");
  EXPECT_EQ(c.for_duration, std::chrono::minutes(5));
  const RuleSpec& n = r.groups[0].rules[1];
  EXPECT_EQ(n.name, "NodeTcpRetransmitRatio");
  EXPECT_EQ(
      n.expr->ToString(),
      "rate(node_netstat_Tcp_RetransSegs[5m]) / clamp_min(rate(node_netstat_Tcp_OutSegs[5m]), "
      "1) > 0.01");
}

TEST(BuiltinRulesTest, ThresholdsAndSwitchesAreParameters) {
  BuiltinRulesOptions o;
  o.container_retransmit_rate = 2.5;
  o.container_retransmit_for = std::chrono::minutes(2);
  o.node_retransmit_ratio = false;
  o.interval = std::chrono::seconds(15);
  RuleFileResult r = ParseRuleFile("b", BuiltinRulesYaml(o));
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.groups[0].rules.size(), 1u);
  EXPECT_EQ(r.groups[0].interval, std::chrono::seconds(15));
  EXPECT_EQ(r.groups[0].rules[0].expr->ToString(),
            "rate(container_tcp_retransmits_total[5m]) > 2.5");
  EXPECT_EQ(r.groups[0].rules[0].for_duration, std::chrono::minutes(2));
  o.container_retransmits = false;
  r = ParseRuleFile("b", BuiltinRulesYaml(o));
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_TRUE(r.groups[0].rules.empty());
  EXPECT_TRUE(BuiltinRuleSource({}).overridable);
}

TEST(BuiltinRulesTest, RetransmitAnnotationsExpand) {
  RuleFileResult r = ParseRuleFile("b", BuiltinRulesYaml({}));
  ASSERT_TRUE(r.errors.empty());
  Labels series{{"id", "/docker/abc"}, {"name", "web"}};
  TemplateData d{&series, nullptr, "", 3.5};
  const RuleSpec& c = r.groups[0].rules[0];
  ASSERT_EQ(c.annotations[1].name, "summary");
  EXPECT_EQ(ExpandParsedAlertTemplate(c.annotations[1].tmpl, d),
            "Container web retransmits 3.5 TCP segments/s");
  d.value = 0.0234;
  EXPECT_EQ(ExpandParsedAlertTemplate(r.groups[0].rules[1].annotations[1].tmpl, d),
            "2.34% of the node's TCP segments are retransmitted");
}

TEST(BuiltinRulesTest, OomAlertFromDockerSwarmContainer) {
  OomEvent e;
  e.time_ms = 1700000000123;
  e.container = {{"container_label_com_docker_swarm_service_name", "shop_cart"},
                 {"id", "/docker/abc"},
                 {"image", "cart:1.2"},
                 {"name", "shop_cart.1.xyz"}};
  e.cgroup_path = "/docker/abc";
  e.pid = 4242;
  e.comm = "python3";
  e.memory_limit_bytes = 512ull << 20;
  e.memory_usage_bytes = 512ull << 20;
  e.source = "ebpf";
  Alert a = OomAlert(e);
  EXPECT_EQ(a.labels, (Labels{{"alertname", "ContainerOOMKilled"},
                              {"container", "shop_cart.1.xyz"},
                              {"image", "cart:1.2"},
                              {"service", "shop_cart"},
                              {"severity", "critical"}}));
  EXPECT_EQ(GetLabel(a.annotations, "pid"), "4242");
  EXPECT_EQ(GetLabel(a.annotations, "comm"), "python3");
  EXPECT_EQ(GetLabel(a.annotations, "memory_limit"), "512MiB");
  EXPECT_EQ(GetLabel(a.annotations, "summary"), "Container shop_cart.1.xyz was OOM-killed");
  EXPECT_EQ(GetLabel(a.annotations, "description"),
            "The kernel OOM killer killed python3 (pid 4242) in container shop_cart.1.xyz of "
            "service shop_cart at its memory limit of 512MiB.");
  EXPECT_EQ(a.starts_at_ms, e.time_ms);
  EXPECT_FALSE(a.resolved());
  for (size_t i = 1; i < a.annotations.size(); ++i) {
    EXPECT_LT(a.annotations[i - 1].name, a.annotations[i].name);
  }
  // The same container gives the same identity whatever the victim.
  OomEvent e2 = e;
  e2.pid = 7;
  e2.comm = "worker";
  EXPECT_EQ(OomAlert(e2).Fingerprint(), a.Fingerprint());
}

TEST(BuiltinRulesTest, OomAlertFromKubernetesPodAndUnknownCgroup) {
  OomEvent e;
  e.container = {{"container_label_io_kubernetes_container_name", "cart"},
                 {"container_label_io_kubernetes_pod_name", "cart-7d9f"},
                 {"container_label_io_kubernetes_pod_namespace", "shop"},
                 {"name", "k8s_cart_cart-7d9f"}};
  Alert a = OomAlert(e);
  EXPECT_EQ(GetLabel(a.labels, "container"), "cart");
  EXPECT_EQ(GetLabel(a.labels, "pod"), "cart-7d9f");
  EXPECT_EQ(GetLabel(a.labels, "namespace"), "shop");
  EXPECT_EQ(GetLabel(a.labels, "service"), "cart");
  OomEvent bare;
  bare.cgroup_path = "/system.slice/x.service";
  bare.source = "cgroup";
  Alert b = OomAlert(bare);
  EXPECT_EQ(GetLabel(b.labels, "cgroup"), "/system.slice/x.service");
  EXPECT_EQ(GetLabel(b.annotations, "pid"), "");
  EXPECT_EQ(GetLabel(b.annotations, "description"),
            "The kernel OOM killer killed a process in container /system.slice/x.service.");
}

}  // namespace
}  // namespace tidemark::alerting
