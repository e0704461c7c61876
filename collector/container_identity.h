// What a cgroup path is: a container of a known runtime, a Kubernetes pod, a systemd service, or
// something else. Pure string logic; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace tidemark::collector {

enum class CgroupKind {
  kOther,           // Slices, the root, nested cgroups inside containers, ...
  kContainer,       // A runtime's container cgroup; container_id is set.
  kPod,             // A Kubernetes pod-level cgroup; pod_uid is set.
  kSystemdService,  // A systemd unit ending in ".service"; unit is set.
};

struct CgroupIdentity {
  CgroupKind kind = CgroupKind::kOther;
  // "docker", "containerd", "crio", "podman", or "" when the layout does not say (Kubernetes
  // cgroupfs driver).
  std::string runtime;
  std::string container_id;  // Lower-case hex as the runtime names it (64 digits for Docker).
  std::string
      pod_uid;       // Kubernetes pod UID with dashes, e.g. "1b4e28ba-2fa1-11d2-883f-b9a761bde3fb".
  std::string qos;   // "guaranteed", "burstable" or "besteffort" for Kubernetes cgroups.
  std::string unit;  // systemd unit for kSystemdService, e.g. "nginx.service".
  bool operator==(const CgroupIdentity&) const = default;
};

// Classifies `path`, a cgroup path relative to its hierarchy root with a leading '/', e.g.
// "/docker/<64hex>", "/system.slice/docker-<64hex>.scope",
// "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope".
CgroupIdentity IdentifyCgroup(std::string_view path);

// True when `s` is 64 lower-case hex digits (a full Docker/containerd container id).
bool IsFullContainerId(std::string_view s);

}  // namespace tidemark::collector
