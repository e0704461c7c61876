#include "agent/config.h"

#include <yaml-cpp/yaml.h>

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
         "storage", "query", "scrape"},
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
  return Status::Ok();
}

Result<AgentConfig> LoadConfigFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return Status(text.status().code(), "config file " + text.status().message());
  return ParseConfig(*text, path);
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
