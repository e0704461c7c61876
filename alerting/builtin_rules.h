// The agent's built-in alerts: a container's TCP retransmit rate and the node's RetransSegs /
// OutSegs ratio as a Prometheus rule group (overridable by rule name from the user's files), and
// the OOM-kill alert built straight from an OomEvent so every path produces the same alert.
#pragma once

#include <chrono>
#include <string>

#include "alerting/alert.h"
#include "alerting/rules.h"
#include "common/oom_event.h"

namespace tidemark::alerting {

struct BuiltinRulesOptions {
  // ContainerTcpRetransmits: rate(container_tcp_retransmits_total[5m]) above this many segments
  // per second for `container_retransmit_for`. Default: 1 segment/s for 5 m.
  bool container_retransmits = true;
  double container_retransmit_rate = 1.0;
  std::chrono::milliseconds container_retransmit_for = std::chrono::minutes(5);
  // NodeTcpRetransmitRatio: rate(RetransSegs) / max(rate(OutSegs), 1/s) above this ratio for
  // `node_retransmit_for`. Default: 0.01 (1 %) for 5 m.
  bool node_retransmit_ratio = true;
  double node_retransmit_ratio_threshold = 0.01;
  std::chrono::milliseconds node_retransmit_for = std::chrono::minutes(5);
  // Group evaluation interval; 0 uses the manager's default. Default: 0.
  std::chrono::milliseconds interval{0};
  std::string severity = "warning";  // The `severity` label of the built-in alerts.
};

// The source name the built-in group is loaded under (shown as "file" by /api/v1/rules).
inline constexpr char kBuiltinRulesSource[] = "<builtin>";
inline constexpr char kBuiltinGroupName[] = "tidemark.builtin";

// The rule file text of the enabled built-in rules (empty `rules:` list when none is enabled).
std::string BuiltinRulesYaml(const BuiltinRulesOptions& options);
// The same as an overridable RuleSource: a user rule of the same alert name replaces it.
RuleSource BuiltinRuleSource(const BuiltinRulesOptions& options);

struct OomAlertOptions {
  std::string severity = "critical";
  std::string generator_url;  // e.g. the agent's /api/v1/alerts; may be empty.
};

// ContainerOOMKilled for one event: labels alertname, severity, container, service, pod,
// namespace, image (the ones the container has); annotations summary, description, pid, comm,
// memory_limit, memory_usage (humanized bytes), cgroup, source, count. Firing (ends_at_ms 0),
// starting at the event's time.
Alert OomAlert(const OomEvent& event, const OomAlertOptions& options = {});

}  // namespace tidemark::alerting
