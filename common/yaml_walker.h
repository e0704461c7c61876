// Strict YAML reading for configuration: every map key must be known, every value of the expected
// kind, and each error names the source, the line, the dotted key and the reason
// ("agent.yaml:4: collectors.cgroup.max_containers: expected a non-negative integer, got \"x\"").
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark {

// Stateless apart from the source name, which it borrows (must outlive the walker). yaml-cpp may
// still throw YAML::Exception on malformed trees: callers wrap a walk in one try/catch.
class YamlWalker {
 public:
  explicit YamlWalker(std::string_view source) : source_(source) {}

  // InvalidArgument "<source>:<line>: <key>: <why>".
  Status Error(const YAML::Node& node, const std::string& key, const std::string& why) const;
  Status String(const YAML::Node& n, const std::string& key, std::string* out) const;
  // true or false only.
  Status Bool(const YAML::Node& n, const std::string& key, bool* out) const;
  Status Size(const YAML::Node& n, const std::string& key, size_t* out) const;
  // Prometheus durations: 1s, 500ms, 1h30m.
  Status Duration(const YAML::Node& n, const std::string& key,
                  std::chrono::milliseconds* out) const;
  // "512MB", "10GiB", "1048576" (bytes); B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB,
  // TiB (powers of 1024), as Prometheus' --storage.tsdb.retention.size takes.
  Status Bytes(const YAML::Node& n, const std::string& key, uint64_t* out) const;
  // A list of strings; null gives an empty list.
  Status StringList(const YAML::Node& n, const std::string& key,
                    std::vector<std::string>* out) const;

  // Calls handler(key, value_node, full_key) for each entry; unknown keys are errors.
  template <typename F>
  Status Map(const YAML::Node& n, const std::string& prefix,
             std::initializer_list<std::string_view> known, F handler) const {
    if (n.IsNull()) return Status::Ok();
    if (!n.IsMap()) return Error(n, prefix.empty() ? "(top level)" : prefix, "expected a mapping");
    for (const auto& kv : n) {
      std::string k = kv.first.Scalar();
      std::string full = prefix.empty() ? k : prefix + "." + k;
      bool ok = false;
      for (auto kn : known) ok = ok || kn == k;
      if (!ok) {
        std::string list;
        for (auto kn : known) list += (list.empty() ? "" : ", ") + std::string(kn);
        return Error(kv.first, full, "unknown key (known keys here: " + list + ")");
      }
      TIDEMARK_RETURN_IF_ERROR(handler(k, kv.second, full));
    }
    return Status::Ok();
  }

  std::string_view source() const { return source_; }
  // "\"x\"", "a list", "a mapping" or "nothing", for messages.
  static std::string Describe(const YAML::Node& n);

 private:
  std::string_view source_;
};

}  // namespace tidemark
