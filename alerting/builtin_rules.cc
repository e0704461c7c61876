#include "alerting/builtin_rules.h"

#include <algorithm>

#include "alerting/template.h"
#include "common/duration.h"
#include "common/go_format.h"

namespace tidemark::alerting {
namespace {

// One alerting rule of the built-in group, as rule-file YAML (strings double-quoted).
std::string AlertYaml(const std::string& name, const std::string& expr,
                      std::chrono::milliseconds for_duration, const std::string& severity,
                      const std::string& summary, const std::string& description) {
  return "\n  - alert: " + name + "\n    expr: " + GoQuote(expr) +
         "\n    for: " + FormatDuration(for_duration) +
         "\n    labels:\n      severity: " + GoQuote(severity) +
         "\n    annotations:\n      summary: " + GoQuote(summary) +
         "\n      description: " + GoQuote(description) + "\n";
}

}  // namespace

std::string BuiltinRulesYaml(const BuiltinRulesOptions& o) {
  std::string y = "groups:\n- name: " + std::string(kBuiltinGroupName) + "\n";
  if (o.interval.count() > 0) y += "  interval: " + FormatDuration(o.interval) + "\n";
  y += "  rules:";
  if (o.container_retransmits) {
    const std::string rate = FormatGoFloat(o.container_retransmit_rate);
    y +=
        AlertYaml("ContainerTcpRetransmits", "rate(container_tcp_retransmits_total[5m]) > " + rate,
                  o.container_retransmit_for, o.severity,
                  "Container {{ $labels.name }} retransmits {{ $value | humanize }} TCP segments/s",
                  "TCP retransmits of container {{ $labels.name }} ({{ $labels.id }}) have been "
                  "above " +
                      rate + "/s for " + FormatDuration(o.container_retransmit_for) +
                      "; the peers are in container_tcp_retransmits_by_peer_total{id=\"{{ "
                      "$labels.id }}\"}.");
  }
  if (o.node_retransmit_ratio) {
    y += AlertYaml("NodeTcpRetransmitRatio",
                   "rate(node_netstat_Tcp_RetransSegs[5m]) / "
                   "clamp_min(rate(node_netstat_Tcp_OutSegs[5m]), 1) > " +
                       FormatGoFloat(o.node_retransmit_ratio_threshold),
                   o.node_retransmit_for, o.severity,
                   "{{ $value | humanizePercentage }} of the node's TCP segments are retransmitted",
                   "RetransSegs/OutSegs has been above " +
                       FormatGoFloat(o.node_retransmit_ratio_threshold * 100) + "% for " +
                       FormatDuration(o.node_retransmit_for) + ".");
  }
  if (!o.container_retransmits && !o.node_retransmit_ratio) y += " []\n";
  return y;
}

RuleSource BuiltinRuleSource(const BuiltinRulesOptions& options) {
  return RuleSource::Text(kBuiltinRulesSource, BuiltinRulesYaml(options), /*overridable=*/true);
}

Alert OomAlert(const OomEvent& e, const OomAlertOptions& options) {
  auto get = [&e](std::string_view name) { return std::string(GetLabel(e.container, name)); };
  auto first = [&](std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
      std::string v = get(n);
      if (!v.empty()) return v;
    }
    return std::string();
  };
  std::string container = first({"container_label_io_kubernetes_container_name", "name"});
  std::string service = first({"container_label_com_docker_swarm_service_name",
                               "container_label_com_docker_compose_service",
                               "container_label_io_kubernetes_container_name"});
  std::string pod = get("container_label_io_kubernetes_pod_name");
  std::string ns = first({"container_label_io_kubernetes_pod_namespace",
                          "container_label_com_docker_stack_namespace"});
  std::string image = get("image");
  Alert a;
  auto add = [](Labels* ls, std::string name, std::string value) {
    if (!value.empty()) ls->push_back({std::move(name), std::move(value)});
  };
  add(&a.labels, "alertname", "ContainerOOMKilled");
  add(&a.labels, "container", container);
  add(&a.labels, "image", image);
  add(&a.labels, "namespace", ns);
  add(&a.labels, "pod", pod);
  add(&a.labels, "service", service);
  add(&a.labels, "severity", options.severity);
  if (container.empty() && service.empty() && pod.empty()) add(&a.labels, "cgroup", e.cgroup_path);
  SortLabels(&a.labels);

  std::string who = !container.empty() ? container : (!e.cgroup_path.empty() ? e.cgroup_path : "?");
  std::string limit =
      e.memory_limit_bytes ? Humanize1024(static_cast<double>(e.memory_limit_bytes)) + "B" : "";
  std::string usage =
      e.memory_usage_bytes ? Humanize1024(static_cast<double>(e.memory_usage_bytes)) + "B" : "";
  std::string victim = e.pid ? (e.comm.empty() ? "pid " : e.comm + " (pid ") +
                                   std::to_string(e.pid) + (e.comm.empty() ? "" : ")")
                             : "a process";
  std::string desc = "The kernel OOM killer killed " + victim + " in container " + who;
  if (!service.empty()) desc += " of service " + service;
  if (!pod.empty()) desc += " (pod " + (ns.empty() ? "" : ns + "/") + pod + ")";
  desc += limit.empty() ? "." : " at its memory limit of " + limit + ".";
  add(&a.annotations, "cgroup", e.cgroup_path);
  add(&a.annotations, "comm", e.comm);
  add(&a.annotations, "count", e.count > 1 ? std::to_string(e.count) : "");
  add(&a.annotations, "description", desc);
  add(&a.annotations, "memory_limit", limit);
  add(&a.annotations, "memory_usage", usage);
  add(&a.annotations, "pid", e.pid ? std::to_string(e.pid) : "");
  add(&a.annotations, "source", e.source);
  add(&a.annotations, "summary", "Container " + who + " was OOM-killed");
  a.starts_at_ms = e.time_ms;
  a.ends_at_ms = 0;
  a.generator_url = options.generator_url;
  return a;
}

}  // namespace tidemark::alerting
