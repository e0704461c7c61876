// Where the cgroup hierarchies of a host are mounted: pure v2, pure v1, or hybrid (v1 controllers
// plus a v2 tree, usually at <cgroup root>/unified). Detected from the files present under
// HostPaths::CgroupRoot(), so it works on fixture trees and on a host mounted at /host.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/host_paths.h"
#include "common/status.h"

namespace tidemark::collector {

enum class CgroupMode { kV1, kV2, kHybrid };
std::string_view CgroupModeName(CgroupMode mode);

// Absolute directories of hierarchy roots; an empty string means "not mounted".
struct CgroupLayout {
  CgroupMode mode = CgroupMode::kV2;
  std::string cpu;      // v1 cpu (cpu.shares, cpu.cfs_*, cpu.stat throttling).
  std::string cpuacct;  // v1 cpuacct; equal to `cpu` when co-mounted as cpu,cpuacct.
  std::string memory;   // v1 memory.
  std::string blkio;    // v1 blkio.
  std::string pids;     // v1 pids.
  std::string unified;  // The v2 tree: the cgroup root on pure v2, e.g. <root>/unified on hybrid.
  std::vector<std::string> v2_controllers;  // <unified>/cgroup.controllers, e.g. {"cpu","io"}.

  bool V2Has(std::string_view controller) const;
  // The distinct hierarchy roots above (v1 ones first, then unified), without duplicates.
  std::vector<std::string> Hierarchies() const;
};

// Inspects <paths.sys>/fs/cgroup. NotFound when neither a v1 controller nor a v2 tree is there.
// v1 controllers are recognised by their files (cpu.shares, cpuacct.usage, memory.usage_in_bytes,
// blkio.throttle.io_service_bytes), then by the comma-separated mount name ("pids", "cpu,cpuacct");
// symlinks such as cpu -> cpu,cpuacct are followed.
Result<CgroupLayout> DetectCgroupLayout(const HostPaths& paths);

}  // namespace tidemark::collector
