#include "alerting/alert.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace tidemark::alerting {

uint64_t LabelsFingerprint(const Labels& labels) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis, as prometheus/common.
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const Label& l : labels) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

uint64_t Alert::Fingerprint() const { return LabelsFingerprint(labels); }

nlohmann::json LabelsToJson(const Labels& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const Label& l : labels) j[l.name] = l.value;
  return j;
}

Result<Labels> LabelsFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("labels are not a JSON object");
  Labels out;
  for (const auto& [name, value] : j.items()) {
    if (name.empty()) return Status::InvalidArgument("a label has an empty name");
    if (!value.is_string()) return Status::InvalidArgument("label " + name + " is not a string");
    out.push_back({name, value.get<std::string>()});
  }
  SortLabels(&out);
  return out;
}

}  // namespace tidemark::alerting
