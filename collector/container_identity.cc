#include "collector/container_identity.h"

#include <array>
#include <vector>

namespace tidemark::collector {

namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Runtime prefixes of container scopes; "<prefix><64hex>[.scope]".
struct RuntimePrefix {
  std::string_view prefix;
  std::string_view runtime;
};
constexpr std::array<RuntimePrefix, 4> kPrefixes = {{
    {"docker-", "docker"},
    {"cri-containerd-", "containerd"},
    {"crio-", "crio"},
    {"libpod-", "podman"},
}};

// Recognises a container leaf; bare 64-hex names return runtime "" (context decides).
bool ParseContainerLeaf(std::string_view leaf, std::string_view* runtime, std::string_view* id) {
  std::string_view s = leaf;
  if (EndsWith(s, ".scope")) s.remove_suffix(6);
  for (const RuntimePrefix& p : kPrefixes) {
    if (StartsWith(s, p.prefix) && IsFullContainerId(s.substr(p.prefix.size()))) {
      *runtime = p.runtime;
      *id = s.substr(p.prefix.size());
      return true;
    }
  }
  if (s.size() == leaf.size() && IsFullContainerId(s)) {
    *runtime = "";
    *id = s;
    return true;
  }
  return false;
}

bool IsPodUid(std::string_view uid) {
  if (uid.size() < 32 || uid.size() > 36) return false;
  for (char c : uid) {
    if (!IsLowerHex(c) && c != '-' && c != '_') return false;
  }
  return true;
}

// "pod<uid>" (cgroupfs driver) or "kubepods[-<qos>]-pod<uid_with_underscores>.slice" (systemd).
bool ParsePodComponent(std::string_view c, std::string* uid) {
  std::string_view raw;
  if (StartsWith(c, "pod")) {
    raw = c.substr(3);
  } else if (EndsWith(c, ".slice")) {
    size_t pos = c.rfind("-pod");
    if (pos == std::string_view::npos || c.find("kubepods") == std::string_view::npos) return false;
    raw = c.substr(pos + 4, c.size() - pos - 4 - 6);
  } else {
    return false;
  }
  if (!IsPodUid(raw)) return false;
  uid->assign(raw);
  for (char& ch : *uid) {
    if (ch == '_') ch = '-';
  }
  return true;
}

std::string_view QosOf(std::string_view c) {
  if (c == "burstable" || c == "kubepods-burstable.slice") return "burstable";
  if (c == "besteffort" || c == "kubepods-besteffort.slice") return "besteffort";
  return "";
}

}  // namespace

bool IsFullContainerId(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

CgroupIdentity IdentifyCgroup(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  CgroupIdentity out;
  if (parts.empty()) return out;
  const std::string_view leaf = parts.back();

  // Kubernetes: a kubepods ancestor, then a pod component, then at most the container.
  size_t kube = parts.size();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].find("kubepods") != std::string_view::npos) {
      kube = i;
      break;
    }
  }
  if (kube < parts.size()) {
    std::string qos = "guaranteed";
    for (size_t i = kube; i < parts.size(); ++i) {
      std::string_view q = QosOf(parts[i]);
      if (!q.empty()) qos = q;
      std::string uid;
      if (i == kube || !ParsePodComponent(parts[i], &uid)) continue;
      if (i + 1 == parts.size()) {
        out.kind = CgroupKind::kPod;
      } else if (i + 2 == parts.size()) {
        std::string_view runtime, id;
        if (!ParseContainerLeaf(leaf, &runtime, &id)) return CgroupIdentity{};
        out.kind = CgroupKind::kContainer;
        out.runtime = runtime;
        out.container_id = id;
      } else {
        return CgroupIdentity{};
      }
      out.pod_uid = std::move(uid);
      out.qos = std::move(qos);
      return out;
    }
  }

  std::string_view runtime, id;
  if (ParseContainerLeaf(leaf, &runtime, &id)) {
    // A bare id counts only directly under a "docker" parent (Docker's cgroupfs driver).
    if (runtime.empty()) {
      if (parts.size() < 2 || parts[parts.size() - 2] != "docker") return out;
      runtime = "docker";
    }
    out.kind = CgroupKind::kContainer;
    out.runtime = runtime;
    out.container_id = id;
    return out;
  }
  if (EndsWith(leaf, ".service") && leaf.size() > 8) {
    out.kind = CgroupKind::kSystemdService;
    out.unit = leaf;
  }
  return out;
}

}  // namespace tidemark::collector
