#include "agent/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <regex>

#include "collector/scrape_config.h"
#include "common/duration.h"
#include "common/file_util.h"
#include "common/http_server.h"
#include "common/logging.h"
#include "common/yaml_walker.h"

namespace tidemark::agent {

const std::vector<std::string>& KnownNodeCollectors() {
  static const std::vector<std::string> kNames = {"stat",   "loadavg",   "meminfo", "netstat",
                                                  "vmstat", "diskstats", "pressure"};
  return kNames;
}

namespace {

Status ParseDouble(const YamlWalker& w, const YAML::Node& v, const std::string& key, double* out) {
  if (v.IsScalar()) {
    const std::string& text = v.Scalar();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    if (ec == std::errc() && end == text.data() + text.size()) return Status::Ok();
  }
  return w.Error(v, key, "expected a number, got " + YamlWalker::Describe(v));
}

// builtin_rules.<name>: {enabled, threshold, for}.
Status ParseBuiltinRule(const YamlWalker& w, const YAML::Node& n, const std::string& prefix,
                        bool* enabled, double* threshold, std::chrono::milliseconds* for_d) {
  return w.Map(n, prefix, {"enabled", "threshold", "for"},
               [&](const std::string& k, const YAML::Node& v, const std::string& f) -> Status {
                 if (k == "enabled") return w.Bool(v, f, enabled);
                 if (k == "threshold") return ParseDouble(w, v, f, threshold);
                 return w.Duration(v, f, for_d);
               });
}

Status ParseAlertingSection(const YamlWalker& w, const YAML::Node& n, const std::string& prefix,
                            AlertingSection* a) {
  return w.Map(
      n, prefix,
      {"enabled", "rule_files", "evaluation_interval", "external_labels", "builtin_rules",
       "notify"},
      [&](const std::string& k, const YAML::Node& v, const std::string& f) -> Status {
        if (k == "enabled") return w.Bool(v, f, &a->enabled);
        if (k == "rule_files") return w.StringList(v, f, &a->rule_files);
        if (k == "evaluation_interval") return w.Duration(v, f, &a->evaluation_interval);
        if (k == "notify") return alerting::ParseNotifyConfig(w, v, f, &a->notify);
        if (k == "external_labels") {
          if (!v.IsNull() && !v.IsMap()) return w.Error(v, f, "expected a mapping");
          a->external_labels.clear();
          for (const auto& kv : v) {
            std::string value;
            TIDEMARK_RETURN_IF_ERROR(w.String(kv.second, f + "." + kv.first.Scalar(), &value));
            a->external_labels.push_back({kv.first.Scalar(), value});
          }
          SortLabels(&a->external_labels);
          return Status::Ok();
        }
        return w.Map(
            v, f, {"enabled", "oom", "container_tcp_retransmits", "node_tcp_retrans_ratio"},
            [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) -> Status {
              if (k2 == "enabled") return w.Bool(v2, f2, &a->builtin);
              if (k2 == "oom") {
                return w.Map(v2, f2, {"enabled", "resolve_after"},
                             [&](const std::string& k3, const YAML::Node& v3,
                                 const std::string& f3) -> Status {
                               if (k3 == "enabled") return w.Bool(v3, f3, &a->oom);
                               return w.Duration(v3, f3, &a->oom_resolve_after);
                             });
              }
              if (k2 == "container_tcp_retransmits") {
                return ParseBuiltinRule(w, v2, f2, &a->container_retransmits,
                                        &a->container_retransmit_rate,
                                        &a->container_retransmit_for);
              }
              return ParseBuiltinRule(w, v2, f2, &a->node_retransmit_ratio,
                                      &a->node_retransmit_ratio_threshold, &a->node_retransmit_for);
            });
      });
}

void EmitAlertingSection(const AlertingSection& a, YAML::Emitter* out) {
  auto rule = [&](const char* name, bool on, double threshold, std::chrono::milliseconds d) {
    *out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    *out << YAML::Key << "enabled" << YAML::Value << on;
    *out << YAML::Key << "threshold" << YAML::Value << threshold;
    *out << YAML::Key << "for" << YAML::Value << FormatDuration(d) << YAML::EndMap;
  };
  *out << YAML::BeginMap;
  *out << YAML::Key << "enabled" << YAML::Value << a.enabled;
  *out << YAML::Key << "rule_files" << YAML::Value << YAML::Flow << a.rule_files;
  *out << YAML::Key << "evaluation_interval" << YAML::Value
       << FormatDuration(a.evaluation_interval);
  *out << YAML::Key << "external_labels" << YAML::Value << YAML::BeginMap;
  for (const Label& l : a.external_labels) *out << YAML::Key << l.name << YAML::Value << l.value;
  *out << YAML::EndMap;
  *out << YAML::Key << "builtin_rules" << YAML::Value << YAML::BeginMap;
  *out << YAML::Key << "enabled" << YAML::Value << a.builtin;
  *out << YAML::Key << "oom" << YAML::Value << YAML::BeginMap;
  *out << YAML::Key << "enabled" << YAML::Value << a.oom;
  *out << YAML::Key << "resolve_after" << YAML::Value << FormatDuration(a.oom_resolve_after)
       << YAML::EndMap;
  rule("container_tcp_retransmits", a.container_retransmits, a.container_retransmit_rate,
       a.container_retransmit_for);
  rule("node_tcp_retrans_ratio", a.node_retransmit_ratio, a.node_retransmit_ratio_threshold,
       a.node_retransmit_for);
  *out << YAML::EndMap;
  *out << YAML::Key << "notify" << YAML::Value << alerting::EmitNotifyConfig(a.notify);
  *out << YAML::EndMap;
}

// The effective policies in short: what they scale, bounds, metrics and timing.
void EmitAutoscalerSection(const autoscaler::AutoscalerConfig& a, YAML::Emitter* out) {
  *out << YAML::BeginMap;
  *out << YAML::Key << "state_dir" << YAML::Value
       << (a.state_dir.empty() ? "<data_dir>/autoscaler" : a.state_dir);
  *out << YAML::Key << "decision_history" << YAML::Value << a.decision_history;
  *out << YAML::Key << "policies" << YAML::Value << YAML::BeginSeq;
  for (const autoscaler::Policy& p : a.policies) {
    *out << YAML::BeginMap;
    *out << YAML::Key << "name" << YAML::Value << p.name;
    *out << YAML::Key << "target" << YAML::Value << p.target.Describe();
    *out << YAML::Key << "min_replicas" << YAML::Value << p.min_replicas;
    *out << YAML::Key << "max_replicas" << YAML::Value << p.max_replicas;
    *out << YAML::Key << "sync_period" << YAML::Value << FormatDuration(p.sync_period);
    *out << YAML::Key << "dry_run" << YAML::Value << p.dry_run;
    // The windows and the fast path: tidemark's scale-up window default is not the HPA's.
    if (p.legacy_behavior) {
      *out << YAML::Key << "behavior" << YAML::Value << "legacy";
    } else {
      *out << YAML::Key << "stabilization_windows" << YAML::Value << YAML::Flow << YAML::BeginMap
           << YAML::Key << "scale_up" << YAML::Value
           << FormatDuration(p.scale_up.stabilization_window) << YAML::Key << "scale_down"
           << YAML::Value << FormatDuration(p.scale_down.stabilization_window) << YAML::EndMap;
      *out << YAML::Key << "min_step" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
           << "scale_up" << YAML::Value << YAML::Precision(6) << p.scale_up.min_step << YAML::Key
           << "scale_down" << YAML::Value << YAML::Precision(6) << p.scale_down.min_step
           << YAML::EndMap;
    }
    *out << YAML::Key << "panic" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
         << "enabled" << YAML::Value << p.panic.enabled << YAML::Key << "saturation" << YAML::Value
         << YAML::Precision(6) << p.panic.saturation << YAML::Key << "threshold" << YAML::Value
         << p.panic.threshold << YAML::EndMap;
    *out << YAML::Key << "metrics" << YAML::Value << YAML::BeginSeq;
    for (const autoscaler::MetricSpec& m : p.metrics) {
      *out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << m.name;
      if (m.type == autoscaler::MetricType::kCpu) {
        *out << YAML::Key << "target_utilization" << YAML::Value << m.target_utilization;
      } else {
        *out << YAML::Key << "query" << YAML::Value << m.query << YAML::Key << "target_value"
             << YAML::Value << m.target_value;
      }
      *out << YAML::EndMap;
    }
    *out << YAML::EndSeq << YAML::EndMap;
  }
  *out << YAML::EndSeq << YAML::EndMap;
}

}  // namespace

Result<AgentConfig> ParseConfig(std::string_view text, std::string_view source) {
  AgentConfig c;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where(source);
    if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
    return Status::InvalidArgument(where + ": not valid YAML or JSON: " + e.msg);
  }
  YamlWalker w(source);
  Status st;
  try {
    st = w.Map(
        root, "",
        {"listen", "data_dir", "host_root", "interval", "ebpf", "log", "web", "collectors",
         "storage", "query", "scrape", "alerting", "autoscaler"},
        [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
          if (k == "listen") return w.String(v, full, &c.listen);
          if (k == "data_dir") return w.String(v, full, &c.data_dir);
          if (k == "host_root") return w.String(v, full, &c.host_root);
          if (k == "interval") return w.Duration(v, full, &c.interval);
          if (k == "ebpf") {
            return w.Map(v, full, {"enabled"}, [&](auto&, const YAML::Node& v2, auto& f2) {
              return w.Bool(v2, f2, &c.ebpf);
            });
          }
          if (k == "log") {
            return w.Map(v, full, {"level", "format"},
                         [&](const std::string& k2, const YAML::Node& v2, auto& f2) {
                           return k2 == "level" ? w.String(v2, f2, &c.log_level)
                                                : w.String(v2, f2, &c.log_format);
                         });
          }
          if (k == "storage") {
            return w.Map(
                v, full,
                {"enabled", "retention", "retention_size", "max_series", "sync", "min_free_bytes"},
                [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) -> Status {
                  StorageSection& st = c.storage;
                  if (k2 == "enabled") return w.Bool(v2, f2, &st.enabled);
                  if (k2 == "retention") return w.Duration(v2, f2, &st.retention);
                  if (k2 == "retention_size") return w.Bytes(v2, f2, &st.retention_size);
                  if (k2 == "min_free_bytes") return w.Bytes(v2, f2, &st.min_free_bytes);
                  if (k2 == "max_series") return w.Size(v2, f2, &st.max_series);
                  return w.String(v2, f2, &st.sync);
                });
          }
          if (k == "query") {
            return w.Map(
                v, full, {"lookback_delta", "timeout", "max_samples", "max_concurrency"},
                [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) -> Status {
                  QuerySection& q = c.query;
                  if (k2 == "lookback_delta") return w.Duration(v2, f2, &q.lookback_delta);
                  if (k2 == "timeout") return w.Duration(v2, f2, &q.timeout);
                  if (k2 == "max_samples") return w.Size(v2, f2, &q.max_samples);
                  return w.Size(v2, f2, &q.max_concurrency);
                });
          }
          if (k == "scrape") return collector::ParseScrapeSection(w, v, full, &c.scrape);
          if (k == "alerting") return ParseAlertingSection(w, v, full, &c.alerting);
          if (k == "autoscaler") {
            return autoscaler::ParseAutoscalerConfig(w, v, full, &c.autoscaler);
          }
          if (k == "web") {
            return w.Map(v, full, {"max_connections"}, [&](auto&, const YAML::Node& v2, auto& f2) {
              return w.Size(v2, f2, &c.max_connections);
            });
          }
          // collectors
          return w.Map(
              v, full, {"cgroup", "docker", "node"},
              [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) -> Status {
                if (k2 == "cgroup") {
                  return w.Map(v2, f2, {"enabled", "include", "max_containers", "docker_labels"},
                               [&](const std::string& k3, const YAML::Node& v3,
                                   const std::string& f3) -> Status {
                                 if (k3 == "enabled") return w.Bool(v3, f3, &c.cgroup.enabled);
                                 if (k3 == "include")
                                   return w.StringList(v3, f3, &c.cgroup.include);
                                 if (k3 == "max_containers") {
                                   return w.Size(v3, f3, &c.cgroup.max_containers);
                                 }
                                 return w.StringList(v3, f3, &c.cgroup.docker_labels);
                               });
                }
                if (k2 == "docker") {
                  return w.Map(v2, f2, {"enabled", "socket"},
                               [&](const std::string& k3, const YAML::Node& v3,
                                   const std::string& f3) -> Status {
                                 if (k3 == "enabled") return w.Bool(v3, f3, &c.docker.enabled);
                                 return w.String(v3, f3, &c.docker.socket);
                               });
                }
                return w.Map(v2, f2, {"enabled", "disabled"},
                             [&](const std::string& k3, const YAML::Node& v3,
                                 const std::string& f3) -> Status {
                               if (k3 == "enabled") return w.Bool(v3, f3, &c.node.enabled);
                               Status s = w.StringList(v3, f3, &c.node.disabled);
                               if (!s.ok()) return s;
                               for (const auto& name : c.node.disabled) {
                                 bool known = false;
                                 for (const auto& n : KnownNodeCollectors()) known |= n == name;
                                 if (!known) {
                                   return w.Error(v3, f3,
                                                  "unknown node collector \"" + name +
                                                      "\" (known: stat, loadavg, meminfo, "
                                                      "netstat, vmstat, diskstats, "
                                                      "pressure)");
                                 }
                               }
                               return Status::Ok();
                             });
              });
        });
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source) + ": " + e.msg);
  }
  if (!st.ok()) return st;
  c.alerting.notify.evaluation_interval = c.alerting.evaluation_interval;
  TIDEMARK_RETURN_IF_ERROR(ValidateConfig(c, source));
  return c;
}

Status ValidateConfig(const AgentConfig& c, std::string_view source) {
  auto bad = [&](const std::string& key, const std::string& why) {
    return Status::InvalidArgument(std::string(source) + ": " + key + ": " + why);
  };
  auto addr = ParseListenAddress(c.listen);
  if (!addr.ok()) return bad("listen", addr.status().message());
  if (c.interval.count() <= 0) return bad("interval", "must be greater than 0");
  if (c.interval < std::chrono::milliseconds(100)) {
    return bad("interval", "must be at least 100ms");
  }
  if (c.data_dir.empty()) return bad("data_dir", "must not be empty");
  if (c.host_root.empty()) return bad("host_root", "must not be empty");
  Status lv = ValidateLogLevel(c.log_level);
  if (!lv.ok()) return bad("log.level", lv.message());
  if (c.log_format != "text" && c.log_format != "json") {
    return bad("log.format", "must be text or json, got \"" + c.log_format + "\"");
  }
  if (c.max_connections == 0) return bad("web.max_connections", "must be at least 1");
  if (c.cgroup.max_containers == 0) {
    return bad("collectors.cgroup.max_containers", "must be at least 1");
  }
  for (const auto& re : c.cgroup.include) {
    try {
      std::regex compiled(re, std::regex::ECMAScript);
      (void)compiled;
    } catch (const std::regex_error& e) {
      return bad("collectors.cgroup.include", "invalid regex \"" + re + "\": " + e.what());
    }
  }
  for (const auto& l : c.cgroup.docker_labels) {
    if (l.empty()) return bad("collectors.cgroup.docker_labels", "empty label name");
  }
  if (c.storage.sync != "none" && c.storage.sync != "always") {
    return bad("storage.sync", "must be none or always, got \"" + c.storage.sync + "\"");
  }
  if (c.storage.retention < std::chrono::hours(1)) {
    return bad("storage.retention", "must be at least 1h");
  }
  if (c.storage.max_series == 0) return bad("storage.max_series", "must be at least 1");
  if (c.query.lookback_delta.count() <= 0) {
    return bad("query.lookback_delta", "must be greater than 0");
  }
  if (c.query.timeout.count() <= 0) return bad("query.timeout", "must be greater than 0");
  if (c.query.max_samples == 0) return bad("query.max_samples", "must be at least 1");
  if (c.query.max_concurrency == 0 || c.query.max_concurrency > 64) {
    return bad("query.max_concurrency", "must be from 1 to 64");
  }
  TIDEMARK_RETURN_IF_ERROR(
      collector::ValidateScrapeConfig(c.scrape, std::string(source) + ": scrape", c.interval));
  if (c.docker.socket.empty() || c.docker.socket[0] != '/') {
    return bad("collectors.docker.socket", "must be an absolute path");
  }
  if (c.alerting.evaluation_interval < std::chrono::milliseconds(100)) {
    return bad("alerting.evaluation_interval", "must be at least 100ms");
  }
  if (c.alerting.oom_resolve_after.count() <= 0) {
    return bad("alerting.builtin_rules.oom.resolve_after", "must be greater than 0");
  }
  for (const std::string& f : c.alerting.rule_files) {
    if (f.empty()) return bad("alerting.rule_files", "empty path");
  }
  TIDEMARK_RETURN_IF_ERROR(
      alerting::ValidateNotifyConfig(c.alerting.notify, std::string(source) + ": alerting"));
  return Status::Ok();
}

Result<AgentConfig> LoadConfigFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return Status(text.status().code(), "config file " + text.status().message());
  auto c = ParseConfig(*text, path);
  if (!c.ok()) return c;
  // Relative rule_files are relative to the config file, as Prometheus resolves them.
  size_t slash = path.rfind('/');
  for (std::string& f : c->alerting.rule_files) {
    if (f[0] != '/' && slash != std::string::npos) f = path.substr(0, slash + 1) + f;
  }
  return c;
}

std::string ConfigToYaml(const AgentConfig& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << c.listen;
  out << YAML::Key << "data_dir" << YAML::Value << c.data_dir;
  out << YAML::Key << "host_root" << YAML::Value << c.host_root;
  out << YAML::Key << "interval" << YAML::Value << FormatDuration(c.interval);
  out << YAML::Key << "ebpf" << YAML::Value << YAML::BeginMap << YAML::Key << "enabled"
      << YAML::Value << c.ebpf << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << c.log_level;
  out << YAML::Key << "format" << YAML::Value << c.log_format << YAML::EndMap;
  out << YAML::Key << "web" << YAML::Value << YAML::BeginMap << YAML::Key << "max_connections"
      << YAML::Value << c.max_connections << YAML::EndMap;
  out << YAML::Key << "storage" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.storage.enabled;
  out << YAML::Key << "retention" << YAML::Value << FormatDuration(c.storage.retention);
  out << YAML::Key << "retention_size" << YAML::Value << c.storage.retention_size;
  out << YAML::Key << "max_series" << YAML::Value << c.storage.max_series;
  out << YAML::Key << "sync" << YAML::Value << c.storage.sync;
  out << YAML::Key << "min_free_bytes" << YAML::Value << c.storage.min_free_bytes;
  out << YAML::EndMap;
  out << YAML::Key << "query" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "lookback_delta" << YAML::Value << FormatDuration(c.query.lookback_delta);
  out << YAML::Key << "timeout" << YAML::Value << FormatDuration(c.query.timeout);
  out << YAML::Key << "max_samples" << YAML::Value << c.query.max_samples;
  out << YAML::Key << "max_concurrency" << YAML::Value << c.query.max_concurrency;
  out << YAML::EndMap;
  out << YAML::Key << "scrape" << YAML::Value;
  collector::EmitScrapeSection(c.scrape, c.interval, &out);
  out << YAML::Key << "alerting" << YAML::Value;
  EmitAlertingSection(c.alerting, &out);
  out << YAML::Key << "autoscaler" << YAML::Value;
  EmitAutoscalerSection(c.autoscaler, &out);
  out << YAML::Key << "collectors" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cgroup" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.cgroup.enabled;
  out << YAML::Key << "include" << YAML::Value << YAML::Flow << c.cgroup.include;
  out << YAML::Key << "max_containers" << YAML::Value << c.cgroup.max_containers;
  out << YAML::Key << "docker_labels" << YAML::Value << YAML::Flow << c.cgroup.docker_labels;
  out << YAML::EndMap;
  out << YAML::Key << "docker" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.docker.enabled;
  out << YAML::Key << "socket" << YAML::Value << c.docker.socket << YAML::EndMap;
  out << YAML::Key << "node" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.node.enabled;
  out << YAML::Key << "disabled" << YAML::Value << YAML::Flow << c.node.disabled;
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace tidemark::agent
