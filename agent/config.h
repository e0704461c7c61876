// The agent's configuration: one YAML file (JSON accepted), every key defaulted, unknown keys and
// bad values rejected with the file, the key and the reason.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/notify_config.h"
#include "autoscaler/policy.h"
#include "collector/scrape.h"
#include "common/labels.h"
#include "common/status.h"

namespace tidemark::agent {

struct CgroupSection {
  bool enabled = true;               // Default: true
  std::vector<std::string> include;  // Extra cgroup path regexes to export. Default: none
  size_t max_containers = 5000;      // Cap on exported cgroups. Default: 5000
  // Docker labels exported as container_label_<k>. Default: Swarm service/stack, Compose service.
  std::vector<std::string> docker_labels = {
      "com.docker.swarm.service.name", "com.docker.stack.namespace", "com.docker.compose.service"};
};

struct DockerSection {
  bool enabled = true;                          // Default: true
  std::string socket = "/var/run/docker.sock";  // Below host_root. Default: /var/run/docker.sock
};

struct NodeSection {
  bool enabled = true;                // Default: true
  std::vector<std::string> disabled;  // Node collector names to turn off. Default: none
};

struct StorageSection {
  bool enabled = true;                                                // Default: true
  std::chrono::milliseconds retention = std::chrono::hours(24 * 15);  // Default: 15d
  uint64_t retention_size = 0;            // Bytes; 0 = no size limit. Default: 0
  size_t max_series = 1'000'000;          // Active series cap. Default: 1000000
  std::string sync = "none";              // none | always (fsync every commit). Default: none
  uint64_t min_free_bytes = 64ull << 20;  // Appends stop below this free space. Default: 64 MiB
};

// PromQL evaluation for /api/v1/query* and `tidemark query --data-dir`.
struct QuerySection {
  std::chrono::milliseconds lookback_delta = std::chrono::minutes(5);  // Default: 5m
  std::chrono::milliseconds timeout = std::chrono::minutes(2);         // Per query. Default: 2m
  size_t max_samples = 50'000'000;  // Samples one query may hold in memory. Default: 50000000
  size_t max_concurrency = 4;       // Queries evaluated at once; more wait. Default: 4
};

// The `alerting:` section: rule files, the built-in rules and the notify part (owners, receivers,
// routes, rate limit, outbox; see alerting/notify_config.h).
struct AlertingSection {
  bool enabled = true;                  // Default: true
  std::vector<std::string> rule_files;  // Globs as Prometheus takes them. Default: none
  // Rule groups without their own interval; also the notifier's endsAt window. Default: 15s
  std::chrono::milliseconds evaluation_interval{15000};
  Labels external_labels;  // Sorted by name. Default: none
  bool builtin = true;     // builtin_rules.enabled: all built-in rules. Default: true
  bool oom = true;         // builtin_rules.oom.enabled. Default: true
  // How long an OOM alert stays firing after the last kill, then it is resolved. Default: 5m
  std::chrono::milliseconds oom_resolve_after = std::chrono::minutes(5);
  bool container_retransmits = true;     // Default: true
  double container_retransmit_rate = 1;  // Segments/s. Default: 1
  std::chrono::milliseconds container_retransmit_for = std::chrono::minutes(5);  // Default: 5m
  bool node_retransmit_ratio = true;                                             // Default: true
  double node_retransmit_ratio_threshold = 0.01;                                 // Default: 0.01
  std::chrono::milliseconds node_retransmit_for = std::chrono::minutes(5);       // Default: 5m
  alerting::NotifyConfig notify;  // notify.evaluation_interval follows evaluation_interval.
};

struct AgentConfig {
  std::string listen = "127.0.0.1:9920";     // Default: 127.0.0.1:9920
  std::string data_dir = "./data";           // Default: ./data
  std::string host_root = "/";               // Default: / (use /host in a container)
  std::chrono::milliseconds interval{1000};  // Collection period. Default: 1s
  bool ebpf = true;                          // Default: true
  std::string log_level = "info";            // Default: info
  std::string log_format = "text";           // text | json. Default: text
  size_t max_connections = 256;              // HTTP. Default: 256
  CgroupSection cgroup;
  DockerSection docker;
  NodeSection node;
  StorageSection storage;
  QuerySection query;
  collector::ScrapeConfig scrape;  // Application targets. Default: none
  AlertingSection alerting;
  autoscaler::AutoscalerConfig autoscaler;  // Policies (autoscaler/policy.h). Default: none
};

// Parses YAML or JSON text. `source` names the file in error messages:
// "agent.yaml:4: collectors.cgroup.max_containers: expected a non-negative integer, got \"x\"".
Result<AgentConfig> ParseConfig(std::string_view text, std::string_view source);
// Reads and parses a file; NotFound/IoError name the path.
Result<AgentConfig> LoadConfigFile(const std::string& path);
// Checks cross-field rules (interval > 0, listen address syntax, log level/format, regexes).
Status ValidateConfig(const AgentConfig& config, std::string_view source);
// The effective configuration as YAML (defaults filled in), for `check config` and /status.
std::string ConfigToYaml(const AgentConfig& config);

// The names `node.disabled` accepts.
const std::vector<std::string>& KnownNodeCollectors();

}  // namespace tidemark::agent
