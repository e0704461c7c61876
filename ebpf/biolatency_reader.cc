#include "ebpf/biolatency_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "biolatency.skel.h"
#include "common/file_util.h"
#include "ebpf/internal/bpf_util.h"
#include "ebpf/progs/biolatency.h"

namespace tidemark::ebpf {
namespace {

constexpr double kMicrosecond = 1e-6;

}  // namespace

std::string_view BioLatencyReader::OperationName(uint32_t op) {
  switch (op) {
    case 0:
      return "read";
    case 1:
      return "write";
    case 2:
      return "flush";
    case 3:
      return "discard";
    case 5:
      return "secure_erase";
    case 7:
      return "zone_append";
    case 9:
      return "write_zeroes";
    default:
      return "other";
  }
}

BioLatencyReader::BioLatencyReader(CgroupResolver* resolver, const Clock& clock, HostPaths paths)
    : resolver_(resolver), clock_(clock), paths_(std::move(paths)) {}

BioLatencyReader::~BioLatencyReader() {
  if (skel_ != nullptr) biolatency_bpf::destroy(skel_);
}

Result<std::unique_ptr<BioLatencyReader>> BioLatencyReader::Create(CgroupResolver* resolver,
                                                                   const Clock& clock,
                                                                   HostPaths paths) {
  internal::QuietLibbpfLogs();
  std::unique_ptr<BioLatencyReader> r(new BioLatencyReader(resolver, clock, std::move(paths)));
  r->skel_ = biolatency_bpf::open();
  if (r->skel_ == nullptr) return internal::LibbpfError("biolatency: open", -errno);
  // 5.11+: block_rq_issue(struct request *rq); before: (struct request_queue *q, rq).
  const int args = internal::RawTracepointArgCount("block_rq_issue");
  r->skel_->rodata->targ_single = args < 0 || args == 1;
  if (int err = biolatency_bpf::load(r->skel_); err != 0) {
    return internal::LibbpfError("biolatency: load raw_tp/block_rq_{issue,complete}", err);
  }
  if (int err = biolatency_bpf::attach(r->skel_); err != 0) {
    return internal::LibbpfError("biolatency: attach raw_tp/block_rq_{issue,complete}", err);
  }
  return r;
}

const std::string& BioLatencyReader::DiskName(uint32_t major, uint32_t minor) {
  uint64_t key = (static_cast<uint64_t>(major) << 32) | minor;
  auto it = disk_names_.find(key);
  if (it != disk_names_.end()) return it->second;
  std::string id = std::to_string(major) + ":" + std::to_string(minor);
  std::string name = id;
  Result<std::string> uevent = ReadFile(paths_.sys + "/dev/block/" + id + "/uevent");
  if (uevent.ok()) {
    size_t at = uevent->find("DEVNAME=");
    if (at != std::string::npos) {
      size_t end = uevent->find('\n', at);
      name = uevent->substr(at + 8, end == std::string::npos ? end : end - at - 8);
    }
  }
  return disk_names_.emplace(key, std::move(name)).first->second;
}

Status BioLatencyReader::ReadMaps() {
  const auto seen_at = clock_.MonotonicNow();
  // A per-CPU map: each key's value is one tm_bio_hist per possible CPU, summed here.
  static const int ncpus = std::max(1, libbpf_num_possible_cpus());
  const size_t per_key = sizeof(tm_bio_hist) * static_cast<size_t>(ncpus);
  std::vector<char> raw_keys, raw_values;
  Status st = internal::LookupAll(bpf_map__fd(skel_->maps.bio_hist), sizeof(tm_bio_key), per_key,
                                  &raw_keys, &raw_values);
  if (!st.ok()) return st;
  const size_t n = raw_keys.size() / sizeof(tm_bio_key);
  std::vector<tm_bio_key> keys(n);
  std::vector<tm_bio_hist> values(n);
  if (n > 0) std::memcpy(keys.data(), raw_keys.data(), n * sizeof(tm_bio_key));
  for (size_t i = 0; i < n; ++i) {
    tm_bio_hist& sum = values[i];
    sum = {};
    for (int cpu = 0; cpu < ncpus; ++cpu) {
      tm_bio_hist h;
      std::memcpy(&h, raw_values.data() + i * per_key + cpu * sizeof(tm_bio_hist), sizeof(h));
      for (int s = 0; s < TM_BIO_SLOTS; ++s) sum.slots[s] += h.slots[s];
      sum.sum_ns += h.sum_ns;
    }
  }
  rows_.clear();
  std::vector<tm_bio_key> dead;
  std::unordered_map<uint64_t, bool> gone;
  for (size_t i = 0; i < keys.size(); ++i) {
    const tm_bio_key& k = keys[i];
    if (!k.node && k.cgroup_id != 0 && resolver_ != nullptr) {
      auto g = gone.find(k.cgroup_id);
      if (g == gone.end()) {
        bool removed =
            !resolver_->Resolve(CgroupHierarchy::kBlkio, k.cgroup_id, seen_at).has_value();
        g = gone.emplace(k.cgroup_id, removed).first;
      }
      if (g->second) {
        dead.push_back(k);
        continue;
      }
    }
    BioLatencyRow row;
    row.cgroup_id = k.cgroup_id;
    row.major = k.dev >> 20;
    row.minor = k.dev & 0xfffff;
    row.operation = OperationName(k.op);
    row.node = k.node != 0;
    row.hist.slots.assign(values[i].slots, values[i].slots + TM_BIO_SLOTS);
    row.hist.sum = static_cast<double>(values[i].sum_ns) * 1e-9;
    rows_.push_back(std::move(row));
  }
  st = internal::DeleteKeys(bpf_map__fd(skel_->maps.bio_hist), dead);
  if (st.ok()) swept_ += dead.size();
  return st;
}

Status BioLatencyReader::Collect(SampleBatch* batch) {
  Status st = ReadMaps();
  if (!st.ok()) return st;
  const auto now = clock_.MonotonicNow();
  // (labels, device, operation) -> merged histogram; two kernel ops may share the name "other".
  struct Series {
    LabelSetPtr labels;
    std::string device;
    std::string operation;
    Log2Histogram hist;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Series> containers, node;
  for (const BioLatencyRow& row : rows_) {
    const std::string& disk = DiskName(row.major, row.minor);
    if (row.node) {
      Series& s = node[{"", disk, std::string(row.operation)}];
      s.device = disk;
      s.operation = row.operation;
      s.hist.Merge(row.hist);
      continue;
    }
    if (row.cgroup_id == 0 || resolver_ == nullptr) continue;
    std::optional<CgroupRef> ref = resolver_->Resolve(CgroupHierarchy::kBlkio, row.cgroup_id, now);
    if (!ref || ref->labels == nullptr) continue;
    Series& s = containers[{ref->labels->rendered(), disk, std::string(row.operation)}];
    s.labels = ref->labels;
    s.device = "/dev/" + disk;  // cAdvisor's device label form.
    s.operation = row.operation;
    s.hist.Merge(row.hist);
  }
  if (!containers.empty()) {
    size_t fam = batch->Family("container_blkio_latency_seconds",
                               "Block I/O latency from issue to completion of the container's "
                               "requests, by disk and operation",
                               MetricType::kHistogram);
    for (const auto& [key, s] : containers) {
      s.hist.Emit(batch, fam, batch->Intern(s.labels),
                  Labels{{"device", s.device}, {"operation", s.operation}}, kMicrosecond);
    }
  }
  if (!node.empty()) {
    size_t fam = batch->Family("node_disk_io_latency_seconds",
                               "Block I/O latency from issue to completion, by disk and operation",
                               MetricType::kHistogram);
    for (const auto& [key, s] : node) {
      s.hist.Emit(batch, fam, nullptr, Labels{{"device", s.device}, {"operation", s.operation}},
                  kMicrosecond);
    }
  }
  return Status::Ok();
}

uint64_t BioLatencyReader::lost() const {
  return internal::ReadArrayU64(bpf_map__fd(skel_->maps.bio_stats), TM_BIO_STAT_LOST);
}

}  // namespace tidemark::ebpf
