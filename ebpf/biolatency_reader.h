// Block I/O latency (raw tracepoints block_rq_issue → block_rq_complete) as log2 histograms per
// container, disk and operation, and per disk and operation for the node; read once per cycle.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/host_paths.h"
#include "common/sample_batch.h"
#include "common/status.h"
#include "ebpf/cgroup_resolver.h"
#include "ebpf/log2_histogram.h"

struct biolatency_bpf;

namespace tidemark::ebpf {

// One histogram of the kernel's table, as read by the last ReadMaps(). Slots are microseconds.
struct BioLatencyRow {
  uint64_t cgroup_id = 0;  // blkcg cgroup id (CgroupHierarchy::kBlkio); 0 unknown or node row.
  uint32_t major = 0;
  uint32_t minor = 0;
  std::string_view operation;  // "read", "write", "flush", "discard", ... or "other" (static).
  bool node = false;           // The per-disk node histogram (all cgroups).
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

  // Reads the histogram map (BPF_MAP_LOOKUP_BATCH) and deletes the rows of removed cgroups.
  Status ReadMaps();
  const std::vector<BioLatencyRow>& rows() const { return rows_; }
  // ReadMaps(), then container_blkio_latency_seconds{device,operation} per container and
  // node_disk_io_latency_seconds{device,operation}.
  Status Collect(SampleBatch* batch);
  // Map rows of removed cgroups deleted so far.
  uint64_t swept() const { return swept_; }
  // Requests not measured because a kernel table was full.
  uint64_t lost() const;
  // The name of REQ_OP_* `op` ("read", "write", ...; "other" for the rest). Pure.
  static std::string_view OperationName(uint32_t op);

 private:
  BioLatencyReader(CgroupResolver* resolver, const Clock& clock, HostPaths paths);
  // "vda" from <sys>/dev/block/<major>:<minor>/uevent DEVNAME, else "<major>:<minor>".
  const std::string& DiskName(uint32_t major, uint32_t minor);

  CgroupResolver* const resolver_;
  const Clock& clock_;
  const HostPaths paths_;
  biolatency_bpf* skel_ = nullptr;
  std::vector<BioLatencyRow> rows_;
  std::map<uint64_t, std::string> disk_names_;
  uint64_t swept_ = 0;
};

}  // namespace tidemark::ebpf
