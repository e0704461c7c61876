// JSON helpers shared by the orchestrator clients (Kubernetes, Docker Engine API). Private to
// autoscaler/.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

namespace tidemark::autoscaler::internal {

// The value at `path` (object keys), or null when any step is missing or not an object.
inline const nlohmann::json& At(const nlohmann::json& j, std::initializer_list<const char*> path) {
  static const nlohmann::json kNull;
  const nlohmann::json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(k);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

// The string at `path`; "" when absent or not a string.
inline std::string StrAt(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json& v = At(j, path);
  return v.is_string() ? v.get<std::string>() : "";
}

// An error body's "message" (Kubernetes Status, Docker's {"message": ...}); else the body's
// first 300 bytes without trailing newlines; "(empty body)" when there is nothing.
inline std::string ErrorMessage(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  std::string m = StrAt(j, {"message"});
  if (!m.empty()) return m;
  std::string b = body.substr(0, 300);
  // Never cut a multi-byte UTF-8 character in half.
  if (body.size() > 300) {
    while (!b.empty() && (static_cast<unsigned char>(b.back()) & 0xC0) == 0x80) b.pop_back();
    if (!b.empty() && static_cast<unsigned char>(b.back()) >= 0xC0) b.pop_back();
  }
  while (!b.empty() && (b.back() == '\n' || b.back() == '\r')) b.pop_back();
  return b.empty() ? "(empty body)" : b;
}

}  // namespace tidemark::autoscaler::internal
