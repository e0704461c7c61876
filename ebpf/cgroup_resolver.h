// Cgroup id → container: the kernel reports cgroups by id (kernfs node id = inode number of the
// cgroup directory, reference/ebpf.md §5); readers turn them into container label sets here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/host_paths.h"
#include "common/labels.h"
#include "common/status.h"

namespace tidemark::ebpf {

// Which hierarchy an id belongs to: ids are unique only within one hierarchy (one kernfs root).
// On pure v2 hosts all three are the same tree.
enum class CgroupHierarchy : uint8_t {
  kUnified,  // v2 tree: sockets' sk_cgrp_data, tasks' dfl_cgrp.
  kMemory,   // Memory controller: v1 memory on v1/hybrid hosts, else the v2 tree.
  kBlkio,    // Block controller: v1 blkio on v1/hybrid hosts, else the v2 tree.
};
std::string_view CgroupHierarchyName(CgroupHierarchy h);

struct CgroupRef {
  std::string path;    // Relative to the hierarchy root with a leading '/', e.g. "/docker/<id>".
  LabelSetPtr labels;  // The container's base labels; null when the cgroup is not exported.
};

// Implemented by whoever knows containers (the agent wires the cgroup collector's view in; tests
// use CgroupIdIndex). Implementations are thread-safe: OOM events resolve on the event loop while
// map readers resolve on the collection thread.
class CgroupResolver {
 public:
  virtual ~CgroupResolver() = default;
  // The cgroup `id` of `h`, which the kernel reported at or before `seen_at` (MonotonicNow());
  // nullopt when the cgroup is gone (absent from a scan that started after `seen_at`); a CgroupRef
  // with an empty path when it is not known yet (may be new: ask again next cycle).
  virtual std::optional<CgroupRef> Resolve(CgroupHierarchy h, uint64_t id,
                                           std::chrono::steady_clock::time_point seen_at) = 0;
  // Labels of the container whose processes live in network namespace `netns_ino`; null when
  // unknown. Used for sockets on hosts without a v2 hierarchy (ebpf.md §2.4).
  virtual LabelSetPtr ResolveNetns(uint32_t netns_ino) {
    (void)netns_ino;
    return nullptr;
  }
  // Labels of the cgroup at `path` of `h` (known by path, e.g. from /proc/<pid>/cgroup, when its
  // id is not resolvable yet); null when it is not exported.
  virtual LabelSetPtr LabelsOfPath(CgroupHierarchy h, std::string_view path) {
    (void)h;
    (void)path;
    return nullptr;
  }
};

// Absolute directories of the hierarchies; "" when not mounted.
struct CgroupRoots {
  std::string unified;
  std::string memory;
  std::string blkio;
  const std::string& Of(CgroupHierarchy h) const;
  // From <proc>/1/mountinfo (the host's mounts when the host's /proc is mounted), prefixed with
  // `paths.root`. NotFound when no cgroup fs is mounted.
  static Result<CgroupRoots> FromMountInfo(const HostPaths& paths);
  // Parses mountinfo text; mount points are prefixed with `root` unless it is "/".
  static Result<CgroupRoots> ParseMountInfo(std::string_view mountinfo, const std::string& root);
};

struct CgroupIdIndexOptions {
  // Labels for the cgroup at `path` of `h`; null = not exported. Default (empty function):
  // {id=<path>} for every cgroup but the root. Called with the index's lock held.
  std::function<LabelSetPtr(CgroupHierarchy h, std::string_view path)> labeler;
  // When set, a cgroup's labels are asked of `labeler` again whenever this returns a new value
  // (the labels a live source gives may change: container names, images). Default: labels are
  // asked once per cgroup and kept while it exists.
  std::function<uint64_t()> labels_version;
  // Least time between two full rescans triggered by unknown ids (MonotonicNow() time).
  std::chrono::milliseconds min_rescan_interval{1000};  // Default: 1 s
  // A table older than this is rescanned before use, so removed cgroups are noticed (their map
  // entries swept) even when no unknown id shows up.
  std::chrono::milliseconds max_table_age{30000};  // Default: 30 s
};

// A CgroupResolver that walks the hierarchies and stat()s every directory (id = st_ino), rescanning
// when an unknown id appears and when the table is older than max_table_age. Thread-safe.
class CgroupIdIndex final : public CgroupResolver {
 public:
  // `clock` must outlive the index.
  CgroupIdIndex(CgroupRoots roots, const Clock& clock, CgroupIdIndexOptions options = {});

  std::optional<CgroupRef> Resolve(CgroupHierarchy h, uint64_t id,
                                   std::chrono::steady_clock::time_point seen_at) override;
  LabelSetPtr LabelsOfPath(CgroupHierarchy h, std::string_view path) override;
  // Full rescans done so far.
  uint64_t scans() const;

 private:
  // One cgroup directory; labels are asked for lazily, on the first Resolve().
  struct Entry {
    std::string path;
    LabelSetPtr labels;
    uint64_t labels_version = 0;
    bool labeled = false;
  };
  void ScanLocked();
  void Walk(int hier, const std::string& root, const std::string& rel);
  LabelSetPtr Label(CgroupHierarchy h, std::string_view path) const;

  const CgroupRoots roots_;
  const Clock& clock_;
  const CgroupIdIndexOptions options_;
  mutable std::mutex mu_;
  // Per distinct root (index into dirs_): id -> entry. Guarded by mu_.
  std::vector<std::unordered_map<uint64_t, Entry>> ids_;
  std::vector<std::string> dirs_;   // Distinct absolute roots; constant after construction.
  int index_of_[3] = {-1, -1, -1};  // CgroupHierarchy -> dirs_ index.
  std::chrono::steady_clock::time_point last_scan_start_{};  // Guarded by mu_.
  bool scanned_ = false;                                     // Guarded by mu_.
  uint64_t scans_ = 0;                                       // Guarded by mu_.
};

}  // namespace tidemark::ebpf
