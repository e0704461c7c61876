// Block I/O latency (raw tracepoints block_rq_issue → block_rq_complete) as log2 histograms per
// container, disk and operation, and per disk and operation for the node; read once per cycle.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/host_paths.h"
#include "common/sample_batch.h"
#include "common/status.h"
#include "ebpf/cgroup_resolver.h"
#include "ebpf/log2_histogram.h"

struct biolatency_bpf;

namespace tidemark::ebpf {
namespace internal {
class CycleResolver;
}  // namespace internal

// One histogram of the kernel's table, as read by the last ReadMaps(). Slots are microseconds.
struct BioLatencyRow {
  uint64_t cgroup_id = 0;  // blkcg cgroup id (CgroupHierarchy::kBlkio); 0 unknown or node row.
  uint32_t major = 0;
  uint32_t minor = 0;
  std::string_view operation;  // "read", "write", "flush", "discard", ... or "other" (static).
  bool node = false;           // The per-disk node histogram (all cgroups, removed ones included).
  Log2Histogram hist;          // sum in seconds.
};

// Loads and attaches the biolatency programs; destroying it detaches and unloads. Not
// thread-safe: one caller at a time (the collection thread).
class BioLatencyReader {
 public:
  // `resolver` and `clock` must outlive the reader; `paths.sys` names disks. Unavailable when the
  // programs cannot be loaded or attached.
  static Result<std::unique_ptr<BioLatencyReader>> Create(CgroupResolver* resolver,
                                                          const Clock& clock, HostPaths paths = {});
  ~BioLatencyReader();
  BioLatencyReader(const BioLatencyReader&) = delete;
  BioLatencyReader& operator=(const BioLatencyReader&) = delete;

  // Reads the histogram map (BPF_MAP_LOOKUP_BATCH), resolves each cgroup once and deletes the
  // rows of removed cgroups.
  Status ReadMaps();
  const std::vector<BioLatencyRow>& rows() const { return rows_; }
  // ReadMaps(), then container_blkio_latency_seconds{device,operation} per container (labelled as
  // the resolver labels it) and node_disk_io_latency_seconds{device,operation}.
  Status Collect(SampleBatch* batch);
  // Map rows of removed cgroups deleted so far.
  uint64_t swept() const { return swept_; }
  // Requests not measured because a kernel table was full.
  uint64_t lost() const;
  // The name of REQ_OP_* `op` ("read", "write", ...; "other" for the rest). Pure.
  static std::string_view OperationName(uint32_t op);

 private:
  BioLatencyReader(CgroupResolver* resolver, const Clock& clock, HostPaths paths);
  struct Disk {
    std::string name;    // "vda" from <sys>/dev/block/<maj>:<min>/uevent DEVNAME, else "maj:min".
    std::string device;  // "/dev/vda" (cAdvisor's device label form), else "maj:min".
  };
  const Disk& DiskOf(uint32_t major, uint32_t minor);

  CgroupResolver* const resolver_;
  const Clock& clock_;
  const HostPaths paths_;
  biolatency_bpf* skel_ = nullptr;
  std::unique_ptr<internal::CycleResolver> resolved_;  // Of the last ReadMaps().
  std::vector<BioLatencyRow> rows_;
  std::vector<LabelSetPtr> row_labels_;      // Per rows_ entry; null for node rows, unexported.
  std::vector<char> raw_keys_, raw_values_;  // Map read buffers, kept between cycles.
  std::map<uint64_t, Disk> disks_;
  // Histograms of swept rows by (dev, op), kept in the node histograms.
  std::map<std::pair<uint32_t, uint16_t>, Log2Histogram> retired_;
  // Label set of each exported series, by (container labels, (major << 32) | minor, operation
  // name); `container` keeps the key's pointer valid.
  struct SeriesLabels {
    LabelSetPtr container;
    LabelSetPtr labels;
    uint64_t cycle = 0;
  };
  struct SeriesKeyHash {
    size_t operator()(const std::tuple<const LabelSet*, uint64_t, const char*>& k) const;
  };
  std::unordered_map<std::tuple<const LabelSet*, uint64_t, const char*>, SeriesLabels,
                     SeriesKeyHash>
      series_labels_;
  const LabelSetPtr nullptr_labels_;
  uint64_t cycle_ = 0;
  uint64_t swept_ = 0;
};

}  // namespace tidemark::ebpf
