// Where the host's /proc, /sys and / are. A containerised agent sees the host under /host; tests
// point these at fixture trees.
#pragma once

#include <string>

namespace tidemark {

struct HostPaths {
  std::string proc = "/proc";  // Default: /proc
  std::string sys = "/sys";    // Default: /sys
  std::string root = "/";      // Default: /  (host filesystem root, e.g. for /var/run/docker.sock)

  // All three below `root_dir` (e.g. "/host" → /host/proc, /host/sys, /host).
  static HostPaths Under(const std::string& root_dir);
  std::string CgroupRoot() const { return sys + "/fs/cgroup"; }
};

}  // namespace tidemark
