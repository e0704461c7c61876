#include "common/yaml_walker.h"

#include <charconv>

#include "common/duration.h"

namespace tidemark {

Status YamlWalker::Error(const YAML::Node& node, const std::string& key,
                         const std::string& why) const {
  std::string where(source_);
  if (node.Mark().line >= 0) where += ":" + std::to_string(node.Mark().line + 1);
  return Status::InvalidArgument(where + ": " + key + ": " + why);
}

Status YamlWalker::String(const YAML::Node& n, const std::string& key, std::string* out) const {
  if (!n.IsScalar()) return Error(n, key, "expected a string");
  *out = n.Scalar();
  return Status::Ok();
}

Status YamlWalker::Bool(const YAML::Node& n, const std::string& key, bool* out) const {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true") {
      *out = true;
      return Status::Ok();
    }
    if (s == "false") {
      *out = false;
      return Status::Ok();
    }
  }
  return Error(n, key, "expected true or false, got " + Describe(n));
}

Status YamlWalker::Size(const YAML::Node& n, const std::string& key, size_t* out) const {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    size_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) {
      *out = v;
      return Status::Ok();
    }
  }
  return Error(n, key, "expected a non-negative integer, got " + Describe(n));
}

Status YamlWalker::Duration(const YAML::Node& n, const std::string& key,
                            std::chrono::milliseconds* out) const {
  if (!n.IsScalar()) return Error(n, key, "expected a duration such as 1s or 500ms");
  auto d = ParseDuration(n.Scalar());
  if (!d.ok()) return Error(n, key, d.status().message());
  *out = *d;
  return Status::Ok();
}

// "512MB", "10GiB", "1048576" (bytes); units B, KB, MB, GB, TB (powers of 1000) and KiB, MiB,
// GiB, TiB (powers of 1024), as Prometheus' --storage.tsdb.retention.size takes.
Status YamlWalker::Bytes(const YAML::Node& n, const std::string& key, uint64_t* out) const {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p != s.data()) {
      std::string_view unit(p, s.data() + s.size() - p);
      static const std::pair<std::string_view, uint64_t> kUnits[] = {{"", 1},
                                                                     {"B", 1},
                                                                     {"KB", 1000},
                                                                     {"MB", 1000000},
                                                                     {"GB", 1000000000},
                                                                     {"TB", 1000000000000},
                                                                     {"KiB", 1ull << 10},
                                                                     {"MiB", 1ull << 20},
                                                                     {"GiB", 1ull << 30},
                                                                     {"TiB", 1ull << 40}};
      for (const auto& [u, mult] : kUnits) {
        if (unit == u && v <= UINT64_MAX / mult) {
          *out = v * mult;
          return Status::Ok();
        }
      }
    }
  }
  return Error(n, key, "expected a size such as 512MB or 10GiB, got " + Describe(n));
}

Status YamlWalker::StringList(const YAML::Node& n, const std::string& key,
                              std::vector<std::string>* out) const {
  if (n.IsNull()) {
    out->clear();
    return Status::Ok();
  }
  if (!n.IsSequence()) return Error(n, key, "expected a list of strings");
  out->clear();
  for (size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      return Error(n[i], key + "[" + std::to_string(i) + "]", "expected a string");
    }
    out->push_back(n[i].Scalar());
  }
  return Status::Ok();
}

std::string YamlWalker::Describe(const YAML::Node& n) {
  if (n.IsScalar()) return "\"" + n.Scalar() + "\"";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "nothing";
}

}  // namespace tidemark
