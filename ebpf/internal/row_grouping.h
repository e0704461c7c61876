// Per-cycle helpers of the map readers: each distinct cgroup id is resolved once per cycle, and
// rows are grouped by container without rendering or hashing label strings per row.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/labels.h"
#include "ebpf/cgroup_resolver.h"

namespace tidemark::ebpf::internal {

// Memo of CgroupResolver::Resolve for one cycle. Not thread-safe.
class CycleResolver {
 public:
  struct Entry {
    bool gone = false;   // The cgroup was removed: its map rows can be deleted.
    LabelSetPtr labels;  // Null when not exported (or not known yet).
    uint64_t cycle = 0;  // Start() count when resolved.
  };
  // `resolver` may be null (then nothing resolves and nothing is gone).
  CycleResolver(CgroupResolver* resolver, CgroupHierarchy hierarchy)
      : resolver_(resolver), hierarchy_(hierarchy) {}
  // Forgets the last cycle; ids are resolved as seen at `seen_at` (Clock::MonotonicNow()).
  void Start(std::chrono::steady_clock::time_point seen_at);
  // Id 0 (unknown cgroup) is never gone and has no labels.
  const Entry& Get(uint64_t cgroup_id);

 private:
  CgroupResolver* const resolver_;
  const CgroupHierarchy hierarchy_;
  std::chrono::steady_clock::time_point seen_at_{};
  uint64_t cycle_ = 0;
  size_t used_ = 0;  // Entries resolved in this cycle.
  // Entries of earlier cycles stay (re-resolved when asked again) so the table is not rebuilt
  // every cycle; it is pruned when mostly stale.
  std::unordered_map<uint64_t, Entry> memo_;
  const Entry none_{};
};

// Slots for containers: rows whose labels are the same LabelSet object share a slot, and so do
// distinct objects with equal labels (each series is exported once). Not thread-safe.
class ContainerSlots {
 public:
  // The slot of `labels` (not null), assigned on first sight; slots count up from 0.
  size_t Slot(const LabelSetPtr& labels);
  const LabelSetPtr& labels(size_t slot) const { return labels_[slot]; }
  size_t size() const { return labels_.size(); }
  void Clear();

 private:
  std::unordered_map<const LabelSet*, size_t> by_ptr_;
  std::unordered_map<std::string_view, size_t> by_rendered_;  // Views into labels_.
  std::vector<LabelSetPtr> labels_;
};

}  // namespace tidemark::ebpf::internal
