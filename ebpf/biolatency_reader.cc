#include "ebpf/biolatency_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <unordered_map>

#include "biolatency.skel.h"
#include "common/file_util.h"
#include "ebpf/internal/bpf_util.h"
#include "ebpf/internal/row_grouping.h"
#include "ebpf/progs/biolatency.h"

namespace tidemark::ebpf {
namespace {

constexpr double kMicrosecond = 1e-6;

size_t HashTriple(uint64_t a, uint64_t b, const void* c) {
  size_t h = std::hash<uint64_t>()(a);
  h = h * 1000003u ^ std::hash<uint64_t>()(b);
  return h * 1000003u ^ std::hash<const void*>()(c);
}

}  // namespace

size_t BioLatencyReader::SeriesKeyHash::operator()(
    const std::tuple<const LabelSet*, uint64_t, const char*>& k) const {
  return HashTriple(reinterpret_cast<uintptr_t>(std::get<0>(k)), std::get<1>(k), std::get<2>(k));
}

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
    : resolver_(resolver),
      clock_(clock),
      paths_(std::move(paths)),
      resolved_(std::make_unique<internal::CycleResolver>(resolver, CgroupHierarchy::kBlkio)) {}

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
  // Where the kernel stamps rq->io_start_time_ns itself (see biolatency.bpf.c).
  r->skel_->rodata->targ_queue_stats_bit =
      static_cast<int>(internal::KernelEnumValue("QUEUE_FLAG_STATS"));
  r->skel_->rodata->targ_rqf_stats_bit = static_cast<int>(internal::KernelEnumValue("__RQF_STATS"));
  if (int err = biolatency_bpf::load(r->skel_); err != 0) {
    return internal::LibbpfError("biolatency: load raw_tp/block_rq_{issue,complete}", err);
  }
  if (int err = biolatency_bpf::attach(r->skel_); err != 0) {
    return internal::LibbpfError("biolatency: attach raw_tp/block_rq_{issue,complete}", err);
  }
  return r;
}

const BioLatencyReader::Disk& BioLatencyReader::DiskOf(uint32_t major, uint32_t minor) {
  uint64_t key = (static_cast<uint64_t>(major) << 32) | minor;
  auto it = disks_.find(key);
  if (it != disks_.end()) return it->second;
  std::string id = std::to_string(major) + ":" + std::to_string(minor);
  Disk disk{id, id};
  Result<std::string> uevent = ReadFile(paths_.sys + "/dev/block/" + id + "/uevent");
  if (uevent.ok()) {
    size_t at = uevent->find("DEVNAME=");
    if (at != std::string::npos) {
      size_t end = uevent->find('\n', at);
      disk.name = uevent->substr(at + 8, end == std::string::npos ? end : end - at - 8);
      disk.device = "/dev/" + disk.name;
    }
  }
  return disks_.emplace(key, std::move(disk)).first->second;
}

Status BioLatencyReader::ReadMaps() {
  resolved_->Start(clock_.MonotonicNow());
  // A per-CPU map: each key's value is one tm_bio_hist per possible CPU, summed here.
  static const int ncpus = std::max(1, libbpf_num_possible_cpus());
  const size_t per_key = sizeof(tm_bio_hist) * static_cast<size_t>(ncpus);
  const int fd = bpf_map__fd(skel_->maps.bio_hist);
  Status st = internal::LookupAll(fd, sizeof(tm_bio_key), per_key, &raw_keys_, &raw_values_);
  if (!st.ok()) return st;
  const size_t n = raw_keys_.size() / sizeof(tm_bio_key);
  // Rows (and their slot vectors) are reused from the last cycle: no allocation per row.
  rows_.resize(std::max(rows_.size(), n));
  row_labels_.resize(rows_.size());
  // The node histogram of a disk and operation is the sum over all cgroups, including the rows
  // of removed cgroups swept so far (retired_), so it never goes backwards.
  std::map<std::pair<uint32_t, uint16_t>, Log2Histogram> node = retired_;
  size_t used = 0;
  std::vector<tm_bio_key> dead;
  for (size_t i = 0; i < n; ++i) {
    const auto k = internal::RecordAt<tm_bio_key>(raw_keys_, i);
    const internal::CycleResolver::Entry& r = resolved_->Get(k.cgroup_id);
    BioLatencyRow& row = rows_[used];
    row.hist.slots.assign(TM_BIO_SLOTS, 0);
    uint64_t sum_ns = 0;
    const char* v = raw_values_.data() + i * per_key;
    for (int cpu = 0; cpu < ncpus; ++cpu, v += sizeof(tm_bio_hist)) {
      tm_bio_hist h;
      std::memcpy(&h, v, sizeof(h));
      for (int s = 0; s < TM_BIO_SLOTS; ++s) row.hist.slots[s] += h.slots[s];
      sum_ns += h.sum_ns;
    }
    row.hist.sum = static_cast<double>(sum_ns) * 1e-9;
    node[{k.dev, k.op}].Merge(row.hist);
    if (r.gone) {
      retired_[{k.dev, k.op}].Merge(row.hist);
      dead.push_back(k);
      continue;
    }
    row_labels_[used] = r.labels;
    ++used;
    row.cgroup_id = k.cgroup_id;
    row.major = k.dev >> 20;
    row.minor = k.dev & 0xfffff;
    row.operation = OperationName(k.op);
    row.node = false;
  }
  rows_.resize(used);
  row_labels_.resize(used);
  for (auto& [dev_op, hist] : node) {
    BioLatencyRow row;
    row.major = dev_op.first >> 20;
    row.minor = dev_op.first & 0xfffff;
    row.operation = OperationName(dev_op.second);
    row.node = true;
    row.hist = std::move(hist);
    rows_.push_back(std::move(row));
    row_labels_.push_back(nullptr);
  }
  st = internal::DeleteKeys(fd, dead);
  if (st.ok()) swept_ += dead.size();
  return st;
}

Status BioLatencyReader::Collect(SampleBatch* batch) {
  Status st = ReadMaps();
  if (!st.ok()) return st;
  // One series per (container, disk, operation name) and per (disk, operation name) for the node;
  // two kernel ops may share the name "other". Names are static, so their addresses identify them.
  struct Series {
    size_t container;  // ContainerSlots slot; SIZE_MAX for the node.
    uint32_t major, minor;
    std::string_view operation;
    Log2Histogram hist;
  };
  struct KeyHash {
    size_t operator()(const std::tuple<size_t, uint64_t, const char*>& k) const {
      return HashTriple(std::get<0>(k), std::get<1>(k), std::get<2>(k));
    }
  };
  internal::ContainerSlots containers;
  std::vector<Series> series;
  series.reserve(rows_.size());
  std::unordered_map<std::tuple<size_t, uint64_t, const char*>, size_t, KeyHash> index;
  index.reserve(rows_.size());
  size_t node_series = 0;
  for (size_t i = 0; i < rows_.size(); ++i) {
    const BioLatencyRow& row = rows_[i];
    size_t slot = SIZE_MAX;
    if (!row.node) {
      if (row_labels_[i] == nullptr) continue;
      slot = containers.Slot(row_labels_[i]);
    }
    const uint64_t dev = (static_cast<uint64_t>(row.major) << 32) | row.minor;
    auto [it, inserted] = index.try_emplace({slot, dev, row.operation.data()}, series.size());
    if (inserted) {
      series.push_back({slot, row.major, row.minor, row.operation, row.hist});
      if (row.node) ++node_series;
    } else {
      series[it->second].hist.Merge(row.hist);
    }
  }
  // Each series' labels (the container's, device, operation) are one LabelSet, built once and
  // kept while the series exists, so bucket samples carry only `le`.
  ++cycle_;
  const size_t container_fam =
      series.size() > node_series
          ? batch->Family("container_blkio_latency_seconds",
                          "Block I/O latency from issue to completion of the container's "
                          "requests, by disk and operation",
                          MetricType::kHistogram)
          : SIZE_MAX;
  const size_t node_fam =
      node_series > 0
          ? batch->Family("node_disk_io_latency_seconds",
                          "Block I/O latency from issue to completion, by disk and operation",
                          MetricType::kHistogram)
          : SIZE_MAX;
  for (const Series& s : series) {
    const bool node = s.container == SIZE_MAX;
    const LabelSetPtr& container = node ? nullptr_labels_ : containers.labels(s.container);
    const uint64_t dev = (static_cast<uint64_t>(s.major) << 32) | s.minor;
    SeriesLabels& sl = series_labels_[{container.get(), dev, s.operation.data()}];
    if (sl.labels == nullptr || sl.container != container) {
      const Disk& disk = DiskOf(s.major, s.minor);
      Labels labels = container != nullptr ? container->labels() : Labels{};
      labels.push_back({"device", node ? disk.name : disk.device});
      labels.push_back({"operation", std::string(s.operation)});
      sl.container = container;
      sl.labels = std::make_shared<const LabelSet>(std::move(labels));
    }
    sl.cycle = cycle_;
    s.hist.Emit(batch, node ? node_fam : container_fam, batch->Intern(sl.labels), {}, kMicrosecond);
  }
  // Forget the label sets of series that are gone (their containers' too).
  if (series_labels_.size() > series.size()) {
    std::erase_if(series_labels_, [this](const auto& kv) { return kv.second.cycle != cycle_; });
  }
  return Status::Ok();
}

uint64_t BioLatencyReader::lost() const {
  return internal::ReadArrayU64(bpf_map__fd(skel_->maps.bio_stats), TM_BIO_STAT_LOST);
}

}  // namespace tidemark::ebpf
