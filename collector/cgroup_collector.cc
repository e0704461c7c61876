#include "collector/cgroup_collector.h"

#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "common/file_util.h"

namespace tidemark::collector {

namespace {

// Families this collector may emit, declared lazily so a family without samples never appears.
enum Fam {
  kCpuUsage,
  kCpuUser,
  kCpuSystem,
  kCfsPeriods,
  kCfsThrottledPeriods,
  kCfsThrottledSeconds,
  kSpecCpuQuota,
  kSpecCpuPeriod,
  kSpecCpuShares,
  kMemUsage,
  kMemWorkingSet,
  kMemRss,
  kMemCache,
  kMemMappedFile,
  kMemSwap,
  kMemMaxUsage,
  kMemFailcnt,
  kSpecMemLimit,
  kMemEventsLow,
  kMemEventsHigh,
  kMemEventsMax,
  kMemEventsOom,
  kMemEventsOomKill,
  kOomEvents,
  kFsReadsBytes,
  kFsWritesBytes,
  kFsReads,
  kFsWrites,
  kThreads,
  kThreadsMax,
  kPsiCpuWaiting,
  kPsiCpuStalled,
  kPsiMemWaiting,
  kPsiMemStalled,
  kPsiIoWaiting,
  kPsiIoStalled,
  kLastSeen,
  kStartTime,
  kInfo,
  kSelfContainers,
  kSelfDropped,
  kFamCount,
};

struct FamDef {
  const char* name;
  const char* help;
  MetricType type;
};

constexpr MetricType kC = MetricType::kCounter;
constexpr MetricType kG = MetricType::kGauge;

constexpr FamDef kFams[kFamCount] = {
    {"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", kC},
    {"container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", kC},
    {"container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", kC},
    {"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", kC},
    {"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", kC},
    {"container_cpu_cfs_throttled_seconds_total",
     "Total time duration the container has been throttled.", kC},
    {"container_spec_cpu_quota", "CPU quota of the container in microseconds.", kG},
    {"container_spec_cpu_period", "CPU period of the container in microseconds.", kG},
    {"container_spec_cpu_shares", "CPU share of the container.", kG},
    {"container_memory_usage_bytes",
     "Current memory usage in bytes, including all memory regardless of when it was accessed.", kG},
    {"container_memory_working_set_bytes", "Current working set in bytes.", kG},
    {"container_memory_rss", "Size of RSS in bytes.", kG},
    {"container_memory_cache", "Number of bytes of page cache memory.", kG},
    {"container_memory_mapped_file", "Size of memory mapped files in bytes.", kG},
    {"container_memory_swap", "Container swap usage in bytes.", kG},
    {"container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes.", kG},
    {"container_memory_failcnt", "Number of memory usage hits limits.", kC},
    {"container_spec_memory_limit_bytes", "Memory limit for the container (0 when unlimited).", kG},
    {"container_memory_events_low_total", "memory.events low: reclaims below memory.low.", kC},
    {"container_memory_events_high_total", "memory.events high: throttles above memory.high.", kC},
    {"container_memory_events_max_total", "memory.events max: allocations that hit the limit.", kC},
    {"container_memory_events_oom_total", "memory.events oom: times the limit caused an OOM.", kC},
    {"container_memory_events_oom_kill_total",
     "Processes in the cgroup killed by the OOM killer (cgroup files).", kC},
    {"container_oom_events_total", "Count of out of memory events observed for the container.", kC},
    {"container_fs_reads_bytes_total", "Cumulative count of bytes read.", kC},
    {"container_fs_writes_bytes_total", "Cumulative count of bytes written.", kC},
    {"container_fs_reads_total", "Cumulative count of reads completed.", kC},
    {"container_fs_writes_total", "Cumulative count of writes completed.", kC},
    {"container_threads", "Number of threads running inside the container (pids.current).", kG},
    {"container_threads_max",
     "Maximum number of threads allowed inside the container (pids.max), 0 when unlimited.", kG},
    {"container_pressure_cpu_waiting_seconds_total",
     "Total time duration tasks in the container have waited due to CPU congestion.", kC},
    {"container_pressure_cpu_stalled_seconds_total",
     "Total time duration no tasks in the container could make progress due to CPU congestion.",
     kC},
    {"container_pressure_memory_waiting_seconds_total",
     "Total time duration tasks in the container have waited due to memory congestion.", kC},
    {"container_pressure_memory_stalled_seconds_total",
     "Total time duration no tasks in the container could make progress due to memory "
     "congestion.",
     kC},
    {"container_pressure_io_waiting_seconds_total",
     "Total time duration tasks in the container have waited due to IO congestion.", kC},
    {"container_pressure_io_stalled_seconds_total",
     "Total time duration no tasks in the container could make progress due to IO congestion.", kC},
    {"container_last_seen", "Last time a container was seen by the exporter.", kG},
    {"container_start_time_seconds", "Start time of the container since unix epoch in seconds.",
     kG},
    {"container_info", "Container metadata; always 1.", kG},
    {"tidemark_cgroup_containers", "Cgroups exported by the cgroup collector.", kG},
    {"tidemark_cgroup_containers_dropped_total",
     "Cgroups refused because max_containers was reached.", kC},
};

// Files the collector reads; a bit per file remembers which ones a cgroup lacks.
enum FileId {
  kFCpuacctUsage,
  kFCpuacctStat,
  kFCpuStatV1,
  kFCfsQuota,
  kFCfsPeriod,
  kFCpuShares,
  kFMemUsage,
  kFMemStatV1,
  kFMemLimit,
  kFMemMaxUsage,
  kFMemFailcnt,
  kFOomControl,
  kFBlkioBytesRec,
  kFBlkioBytes,
  kFBlkioOpsRec,
  kFBlkioOps,
  kFPidsCurrent,
  kFPidsMax,
  kFCpuStatV2,
  kFCpuMax,
  kFCpuWeight,
  kFMemCurrent,
  kFMemStatV2,
  kFMemMax,
  kFMemEvents,
  kFMemSwap,
  kFMemPeak,
  kFIoStat,
  kFCpuPsi,
  kFMemPsi,
  kFIoPsi,
  kFileCount,
};

// Configuration files (limits, quota, period, shares, pids.max) change rarely: they are re-read
// every spec_refresh_interval and served from a per-container cache in between, without holding
// an fd. Returns the cache slot of `file_id`, or -1 for files read every cycle.
constexpr int kSpecSlots = 8;
constexpr int SpecSlot(int file_id) {
  switch (file_id) {
    case kFCfsQuota:
      return 0;
    case kFCfsPeriod:
      return 1;
    case kFCpuShares:
      return 2;
    case kFMemLimit:
      return 3;
    case kFPidsMax:
      return 4;
    case kFCpuMax:
      return 5;
    case kFCpuWeight:
      return 6;
    case kFMemMax:
      return 7;
    default:
      return -1;
  }
}

// v1 memory.limit_in_bytes reports "unlimited" as PAGE_COUNTER_MAX pages (LONG_MAX rounded down
// to a page, 9223372036854771712 on x86-64); anything this large means no limit.
constexpr uint64_t kUnlimitedMemory = uint64_t{1} << 62;

constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR;

std::string JoinRel(const std::string& rel, std::string_view name) {
  std::string out = rel == "/" ? std::string() : rel;
  out += '/';
  out += name;
  return out;
}

std::string_view Basename(std::string_view rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

double ToSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

struct CgroupCollector::Container {
  explicit Container(size_t* open_files_counter) : open_files(open_files_counter) {
    std::fill(std::begin(fds), std::end(fds), -1);
  }
  ~Container() {
    for (int fd : fds) {
      if (fd >= 0) {
        ::close(fd);
        --*open_files;
      }
    }
  }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  std::string rel;
  CgroupIdentity identity;
  uint32_t mask = 0;     // Hierarchies holding this cgroup.
  uint64_t missing = 0;  // FileIds this cgroup lacks (until the next full rescan).
  std::optional<ContainerMetadata> meta;
  LabelSetPtr labels;
  double start_time = 0;
  // OOM kills (see SetOomEvents): the kernel's oom_kill counter as read this cycle, the previous
  // reading (kCgroupCounters), the first reading and the eBPF kills since (kEbpf).
  std::optional<uint64_t> oom_kernel;
  std::optional<uint64_t> oom_last;
  std::optional<uint64_t> oom_base;
  uint64_t oom_ebpf = 0;
  uint64_t mem_usage = 0;  // Bytes, this cycle's reading (0 when unread).
  uint64_t mem_limit = 0;  // Bytes, 0 when unlimited or unread.
  // Files kept open between cycles and re-read with pread at offset 0: one read syscall per file
  // instead of a path walk, open, read and close (92% of the collector's CPU was that kernel work).
  int fds[kFileCount];
  size_t* open_files;  // The collector's count of fds held by all containers.
  // Cached contents of the spec files (see SpecSlot) and when to read them again.
  std::string spec_cache[kSpecSlots];
  uint32_t spec_valid = 0;  // Bit per slot.
  bool spec_due = true;     // This cycle reads the spec files from disk.
  std::chrono::steady_clock::time_point spec_next{};
};

// eBPF OOM kills per cgroup path, noted by the hub handler on the event loop and taken by
// Collect().
struct CgroupCollector::OomTally {
  std::mutex mu;
  std::unordered_map<std::string, uint64_t> kills;  // Guarded by mu.
};

struct CgroupCollector::Families {
  SampleBatch* batch;
  const LabelSet* base = nullptr;
  size_t idx[kFamCount];

  explicit Families(SampleBatch* b) : batch(b) {
    std::fill(std::begin(idx), std::end(idx), SIZE_MAX);
  }
  size_t Get(Fam f) {
    if (idx[f] == SIZE_MAX) idx[f] = batch->Family(kFams[f].name, kFams[f].help, kFams[f].type);
    return idx[f];
  }
  void Add(Fam f, double v) { batch->Add(Get(f), base, v); }
  void Add(Fam f, Labels extra, double v) { batch->Add(Get(f), base, std::move(extra), v); }
};

Result<std::unique_ptr<CgroupCollector>> CgroupCollector::Create(HostPaths paths,
                                                                 const Clock& clock,
                                                                 CgroupCollectorOptions options,
                                                                 MetadataProvider* metadata) {
  std::vector<std::regex> include;
  for (const std::string& re : options.include) {
    try {
      include.emplace_back(re, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument("cgroup include regex '" + re + "': " + e.what());
    }
  }
  if (options.max_containers == 0) {
    return Status::InvalidArgument("cgroup max_containers must be at least 1");
  }
  return std::unique_ptr<CgroupCollector>(new CgroupCollector(
      std::move(paths), clock, std::move(options), metadata, std::move(include)));
}

CgroupCollector::CgroupCollector(HostPaths paths, const Clock& clock,
                                 CgroupCollectorOptions options, MetadataProvider* metadata,
                                 std::vector<std::regex> include)
    : paths_(std::move(paths)),
      clock_(clock),
      options_(std::move(options)),
      metadata_(metadata),
      include_(std::move(include)),
      ticks_per_second_(static_cast<double>(std::max(1L, ::sysconf(_SC_CLK_TCK)))) {
  max_open_files_ = options_.max_open_files;
  if (max_open_files_ == 0) {
    struct rlimit rl;
    rlim_t soft = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
    // What is left after a reserve for sockets, the store and eBPF maps.
    max_open_files_ = soft > 4096 ? static_cast<size_t>(soft - 2048) : 0;
  }
}

CgroupCollector::~CgroupCollector() { CloseInotify(); }

Status CgroupCollector::Setup() {
  Result<CgroupLayout> layout = DetectCgroupLayout(paths_);
  if (!layout.ok()) return layout.status();
  layout_ = std::move(layout.value());
  hierarchies_ = layout_->Hierarchies();
  if (hierarchies_.size() > kMaxHierarchies) hierarchies_.resize(kMaxHierarchies);  // Max is 6.
  v2_only_ = layout_->mode == CgroupMode::kV2;
  auto index_of = [this](const std::string& dir) -> int {
    if (dir.empty()) return -1;
    auto it = std::find(hierarchies_.begin(), hierarchies_.end(), dir);
    return it == hierarchies_.end() ? -1 : static_cast<int>(it - hierarchies_.begin());
  };
  if (v2_only_) {
    std::fill(std::begin(role_hier_), std::end(role_hier_), index_of(layout_->unified));
  } else {
    role_hier_[kCpu] = index_of(layout_->cpu);
    role_hier_[kCpuacct] = index_of(layout_->cpuacct);
    role_hier_[kMemory] = index_of(layout_->memory);
    role_hier_[kBlkio] = index_of(layout_->blkio);
    role_hier_[kPids] = index_of(layout_->pids);
    role_hier_[kUnified] = index_of(layout_->unified);
  }
  paths_seen_.clear();
  rescan_due_ = true;
  spdlog::info("cgroup collector: {} layout, {} hierarchies under {}",
               CgroupModeName(layout_->mode), hierarchies_.size(), paths_.CgroupRoot());
  return Status::Ok();
}

void CgroupCollector::CloseInotify() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  inotify_fd_ = -1;
  watches_.clear();
}

void CgroupCollector::FullRescan() {
  CloseInotify();
  if (options_.use_inotify && !inotify_failed_) {
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) {
      inotify_failed_ = true;
      spdlog::warn("cgroup collector: inotify_init1: {}; rescanning every {} s", strerror(errno),
                   options_.rescan_interval.count());
    }
  }
  std::map<std::string, uint32_t> old = std::move(paths_seen_);
  paths_seen_.clear();
  std::set<std::string> dirty = std::move(dirty_);
  dirty_.clear();
  for (size_t h = 0; h < hierarchies_.size(); ++h) WalkSubtree(h, "/");
  // Only paths whose presence changed need reconciling (no regex runs for unchanged ones).
  dirty_ = std::move(dirty);
  for (const auto& [rel, mask] : old) {
    auto it = paths_seen_.find(rel);
    if (it == paths_seen_.end() || it->second != mask) dirty_.insert(rel);
  }
  for (const auto& [rel, mask] : paths_seen_) {
    if (!old.contains(rel)) dirty_.insert(rel);
  }
  for (auto& [rel, c] : containers_) c->missing = 0;
}

void CgroupCollector::WalkSubtree(size_t hier, const std::string& rel) {
  const std::string dir = hierarchies_[hier] + (rel == "/" ? "" : rel);
  if (inotify_fd_ >= 0) {
    int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kWatchMask);
    if (wd >= 0) {
      watches_[wd] = {hier, rel};
    } else if (errno != ENOENT) {
      inotify_failed_ = true;  // ENOSPC (fs.inotify.max_user_watches) or similar; do not retry.
      spdlog::warn("cgroup collector: inotify_add_watch {}: {}; rescanning every {} s instead", dir,
                   strerror(errno), options_.rescan_interval.count());
      CloseInotify();
    }
  }
  Result<std::vector<std::string>> children = ListDir(dir, /*dirs_only=*/true);
  if (!children.ok()) return;  // Vanished meanwhile (or the root is unreadable).
  AddPath(hier, rel);
  for (const std::string& name : *children) WalkSubtree(hier, JoinRel(rel, name));
}

void CgroupCollector::AddPath(size_t hier, const std::string& rel) {
  uint32_t& mask = paths_seen_[rel];
  uint32_t bit = 1u << hier;
  if ((mask & bit) == 0) {
    mask |= bit;
    dirty_.insert(rel);
  }
}

void CgroupCollector::RemoveSubtree(size_t hier, const std::string& rel) {
  const uint32_t bit = 1u << hier;
  const std::string prefix = rel == "/" ? "/" : rel + "/";
  for (auto it = paths_seen_.lower_bound(rel); it != paths_seen_.end();) {
    if (it->first != rel && it->first.compare(0, prefix.size(), prefix) != 0) break;
    dirty_.insert(it->first);
    it->second &= ~bit;
    it = it->second == 0 ? paths_seen_.erase(it) : std::next(it);
  }
}

void CgroupCollector::DrainInotify() {
  alignas(struct inotify_event) char buf[16384];
  while (inotify_fd_ >= 0) {
    ssize_t n = ::read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;  // EAGAIN: drained.
    }
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        rescan_due_ = true;
        continue;
      }
      auto it = watches_.find(ev->wd);
      if (it == watches_.end()) continue;
      if (ev->mask & IN_IGNORED) {
        watches_.erase(it);
        continue;
      }
      if (!(ev->mask & IN_ISDIR) || ev->len == 0) continue;
      auto [hier, rel] = it->second;  // Copy: WalkSubtree may rehash watches_.
      std::string child = JoinRel(rel, ev->name);
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
        WalkSubtree(hier, child);
      } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        RemoveSubtree(hier, child);
      }
    }
  }
}

bool CgroupCollector::ShouldExport(const std::string& rel, const CgroupIdentity& id) const {
  switch (id.kind) {
    case CgroupKind::kContainer:
      if (options_.export_containers) return true;
      break;
    case CgroupKind::kSystemdService:
      if (options_.export_systemd_services) return true;
      break;
    case CgroupKind::kPod:
      if (options_.export_pods) return true;
      break;
    case CgroupKind::kOther:
      break;
  }
  for (const std::regex& re : include_) {
    if (std::regex_search(rel, re)) return true;
  }
  return false;
}

void CgroupCollector::Reconcile(const std::string& rel) {
  auto seen = paths_seen_.find(rel);
  uint32_t mask = seen == paths_seen_.end() ? 0 : seen->second;
  auto it = containers_.find(rel);
  if (it != containers_.end()) {
    if (mask == 0) {
      containers_.erase(it);
      label_index_dirty_ = true;
    } else {
      it->second->mask = mask;
    }
    return;
  }
  if (mask == 0) {
    refused_.erase(rel);
    return;
  }
  if (refused_.contains(rel)) return;
  CgroupIdentity id = IdentifyCgroup(rel);
  if (ShouldExport(rel, id)) Admit(rel, std::move(id));
}

void CgroupCollector::Admit(const std::string& rel, CgroupIdentity id) {
  if (containers_.size() >= options_.max_containers) {
    if (refused_.insert(rel).second) ++dropped_total_;
    auto now = clock_.MonotonicNow();
    if (last_cap_warning_ == std::chrono::steady_clock::time_point{} ||
        now - last_cap_warning_ >= std::chrono::minutes(1)) {
      last_cap_warning_ = now;
      spdlog::warn("cgroup collector: max_containers={} reached; not exporting {} ({} refused)",
                   options_.max_containers, rel, refused_.size());
    }
    return;
  }
  auto c = std::make_unique<Container>(&open_files_);
  c->rel = rel;
  c->identity = std::move(id);
  c->mask = paths_seen_[rel];
  c->start_time = StartTime(*c);
  containers_[rel] = std::move(c);
}

double CgroupCollector::StartTime(const Container& c) const {
  double best = 0;
  for (size_t h = 0; h < hierarchies_.size(); ++h) {
    if ((c.mask & (1u << h)) == 0) continue;
    struct stat st;
    std::string dir = hierarchies_[h] + (c.rel == "/" ? "" : c.rel);
    if (::stat(dir.c_str(), &st) != 0) continue;
    for (const struct timespec& ts : {st.st_ctim, st.st_mtim}) {
      double t = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
      if (best == 0 || t < best) best = t;
    }
  }
  return best;
}

void CgroupCollector::RefreshLabels(Container& c) {
  std::optional<ContainerMetadata> meta;
  if (metadata_ != nullptr && c.identity.kind == CgroupKind::kContainer &&
      IsFullContainerId(c.identity.container_id)) {
    meta = metadata_->Lookup(c.identity.container_id);
  }
  if (c.labels != nullptr && meta == c.meta) return;
  c.meta = std::move(meta);
  Labels labels;
  labels.push_back({"id", c.rel});
  std::string name;
  if (c.meta && !c.meta->name.empty()) {
    name = c.meta->name;
  } else if (!c.identity.unit.empty()) {
    name = c.identity.unit;
  } else {
    name = std::string(Basename(c.rel));
  }
  labels.push_back({"name", std::move(name)});
  if (c.meta) {
    labels.push_back({"image", c.meta->image});
    for (const std::string& key : options_.docker_label_allowlist) {
      auto it = c.meta->labels.find(key);
      if (it != c.meta->labels.end()) {
        labels.push_back({"container_label_" + SanitizeLabelName(key), it->second});
      }
    }
    static constexpr std::pair<const char*, const char*> kKube[] = {
        {"io.kubernetes.pod.namespace", "namespace"},
        {"io.kubernetes.pod.name", "pod"},
        {"io.kubernetes.container.name", "container"},
    };
    for (const auto& [key, label] : kKube) {
      auto it = c.meta->labels.find(key);
      if (it != c.meta->labels.end()) labels.push_back({label, it->second});
    }
  }
  c.labels = std::make_shared<const LabelSet>(std::move(labels));
  label_index_dirty_ = true;
}

namespace {

// Reads the open file `fd` from offset 0 into *out, reusing its capacity. pread at 0 makes
// cgroupfs/kernfs (seq_file) regenerate the contents, so a kept-open fd reads fresh values. A short
// read ends the file: true for regular files and for kernfs files, which return whole records per
// read; this saves the extra read() that would only return 0. Returns 0 or an errno (ENODEV once
// the cgroup is removed).
int PreadAll(int fd, std::string* out) {
  if (out->capacity() < 8192) out->reserve(8192);
  size_t len = 0;
  int err = 0;
  for (;;) {
    out->resize(out->capacity());
    size_t space = out->size() - len;
    ssize_t n = ::pread(fd, out->data() + len, space, static_cast<off_t>(len));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    len += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < space) break;
    out->reserve(out->capacity() * 2);
  }
  out->resize(err == 0 ? len : 0);
  return err;
}

}  // namespace

bool CgroupCollector::ReadFile(Container& c, int role, int file_id, const char* file) {
  const uint64_t bit = uint64_t{1} << file_id;
  const int hier = role_hier_[role];
  if (hier < 0 || (c.mask & (1u << hier)) == 0 || (c.missing & bit) != 0) return false;
  const int slot = SpecSlot(file_id);
  if (slot >= 0 && !c.spec_due && (c.spec_valid & (1u << slot)) != 0) {
    buf_.assign(c.spec_cache[slot]);
    return true;
  }
  int& cached = c.fds[file_id];
  if (cached >= 0) {
    if (PreadAll(cached, &buf_) == 0) return true;
    // Stale (the cgroup was removed): drop it and re-open by path, which also notices removal.
    ::close(cached);
    cached = -1;
    --open_files_;
  }
  // At most one path walk per cgroup and hierarchy per cycle; files are opened relative to it.
  int& dirfd = dir_fds_[hier];
  int err = 0;
  if (dirfd < 0) {
    path_buf_.assign(hierarchies_[hier]);
    if (c.rel != "/") path_buf_ += c.rel;
    dirfd = ::open(path_buf_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) err = errno;
  }
  if (err == 0) {
    int fd = ::openat(dirfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      err = errno;
    } else {
      err = PreadAll(fd, &buf_);
      if (err == 0 && slot < 0 && open_files_ < max_open_files_) {
        cached = fd;
        ++open_files_;
      } else {
        ::close(fd);
      }
      if (err == 0 && slot >= 0) {
        c.spec_cache[slot].assign(buf_);
        c.spec_valid |= 1u << slot;
      }
      if (err == 0) return true;
    }
  }
  if (err == ENOENT || err == ENOTDIR) {
    path_buf_.assign(hierarchies_[hier]);
    if (c.rel != "/") path_buf_ += c.rel;
    if (PathExists(path_buf_)) {
      c.missing |= bit;
    } else {
      // The cgroup went away in this hierarchy: forget it now rather than at the next rescan.
      RemoveSubtree(static_cast<size_t>(hier), c.rel);
      c.mask &= ~(1u << hier);
    }
  }
  return false;
}

void CgroupCollector::CollectV2Cpu(Container& c, Families& f, bool usage_only) {
  std::optional<uint64_t> quota;
  if (!usage_only && ReadFile(c, kUnified, kFCpuMax, "cpu.max")) {
    Result<CpuMax> m = ParseCpuMax(buf_);
    if (m.ok()) {
      quota = m->quota_us;
      if (quota) f.Add(kSpecCpuQuota, static_cast<double>(*quota));
      f.Add(kSpecCpuPeriod, static_cast<double>(m->period_us));
    }
  }
  if (!usage_only && ReadFile(c, kUnified, kFCpuWeight, "cpu.weight")) {
    Result<uint64_t> w = ParseUint(buf_);
    if (w.ok()) f.Add(kSpecCpuShares, static_cast<double>(CpuWeightToShares(*w)));
  }
  if (ReadFile(c, kUnified, kFCpuStatV2, "cpu.stat")) {
    Result<CpuStatV2> s = ParseCpuStatV2(buf_);
    if (s.ok()) {
      if (s->usage_usec) f.Add(kCpuUsage, {{"cpu", "total"}}, *s->usage_usec / 1e6);
      if (s->user_usec) f.Add(kCpuUser, *s->user_usec / 1e6);
      if (s->system_usec) f.Add(kCpuSystem, *s->system_usec / 1e6);
      if (quota) {
        if (s->nr_periods) f.Add(kCfsPeriods, static_cast<double>(*s->nr_periods));
        if (s->nr_throttled) f.Add(kCfsThrottledPeriods, static_cast<double>(*s->nr_throttled));
        if (s->throttled_usec) f.Add(kCfsThrottledSeconds, *s->throttled_usec / 1e6);
      }
    }
  }
}

void CgroupCollector::CollectV1Cpu(Container& c, Families& f) {
  if (In(c, kCpuacct)) {
    if (ReadFile(c, kCpuacct, kFCpuacctUsage, "cpuacct.usage")) {
      Result<uint64_t> ns = ParseUint(buf_);
      if (ns.ok()) f.Add(kCpuUsage, {{"cpu", "total"}}, *ns / 1e9);
    }
    if (ReadFile(c, kCpuacct, kFCpuacctStat, "cpuacct.stat")) {
      Result<CpuacctStat> s = ParseCpuacctStat(buf_);
      if (s.ok()) {
        if (s->user_ticks) f.Add(kCpuUser, *s->user_ticks / ticks_per_second_);
        if (s->system_ticks) f.Add(kCpuSystem, *s->system_ticks / ticks_per_second_);
      }
    }
  } else if (In(c, kUnified)) {
    CollectV2Cpu(c, f, /*usage_only=*/true);  // Hybrid host without a cpuacct mount.
  }
  if (!In(c, kCpu)) return;
  bool has_quota = false;
  if (ReadFile(c, kCpu, kFCfsQuota, "cpu.cfs_quota_us")) {
    Result<int64_t> q = ParseInt(buf_);
    if (q.ok() && *q > 0) {
      has_quota = true;
      f.Add(kSpecCpuQuota, static_cast<double>(*q));
    }
  }
  if (ReadFile(c, kCpu, kFCfsPeriod, "cpu.cfs_period_us")) {
    Result<uint64_t> p = ParseUint(buf_);
    if (p.ok()) f.Add(kSpecCpuPeriod, static_cast<double>(*p));
  }
  if (ReadFile(c, kCpu, kFCpuShares, "cpu.shares")) {
    Result<uint64_t> s = ParseUint(buf_);
    if (s.ok()) f.Add(kSpecCpuShares, static_cast<double>(*s));
  }
  if (has_quota && ReadFile(c, kCpu, kFCpuStatV1, "cpu.stat")) {
    Result<CpuStatV1> s = ParseCpuStatV1(buf_);
    if (s.ok()) {
      if (s->nr_periods) f.Add(kCfsPeriods, static_cast<double>(*s->nr_periods));
      if (s->nr_throttled) f.Add(kCfsThrottledPeriods, static_cast<double>(*s->nr_throttled));
      if (s->throttled_time_ns) f.Add(kCfsThrottledSeconds, *s->throttled_time_ns / 1e9);
    }
  }
}

namespace {
template <typename AddFn>
void EmitMemoryStat(const MemoryStat& s, std::optional<uint64_t> usage, bool swap_from_stat,
                    AddFn&& add) {
  if (s.rss) add(kMemRss, static_cast<double>(*s.rss));
  if (s.cache) add(kMemCache, static_cast<double>(*s.cache));
  if (s.mapped_file) add(kMemMappedFile, static_cast<double>(*s.mapped_file));
  if (swap_from_stat && s.swap) add(kMemSwap, static_cast<double>(*s.swap));
  if (usage) {
    uint64_t inactive = s.inactive_file.value_or(0);
    add(kMemWorkingSet, static_cast<double>(*usage > inactive ? *usage - inactive : 0));
  }
}
}  // namespace

void CgroupCollector::CollectV1Memory(Container& c, Families& f) {
  std::optional<uint64_t> usage;
  if (ReadFile(c, kMemory, kFMemUsage, "memory.usage_in_bytes")) {
    Result<uint64_t> u = ParseUint(buf_);
    if (u.ok()) {
      usage = *u;
      c.mem_usage = *u;
      f.Add(kMemUsage, static_cast<double>(*u));
    }
  }
  if (ReadFile(c, kMemory, kFMemStatV1, "memory.stat")) {
    Result<MemoryStat> s = ParseMemoryStatV1(buf_);
    if (s.ok()) {
      EmitMemoryStat(*s, usage, true, [&f](Fam fam, double v) { f.Add(fam, v); });
    }
  }
  if (ReadFile(c, kMemory, kFMemLimit, "memory.limit_in_bytes")) {
    Result<uint64_t> l = ParseUint(buf_);
    if (l.ok()) {
      c.mem_limit = *l >= kUnlimitedMemory ? 0 : *l;
      f.Add(kSpecMemLimit, static_cast<double>(c.mem_limit));
    }
  }
  if (ReadFile(c, kMemory, kFMemMaxUsage, "memory.max_usage_in_bytes")) {
    Result<uint64_t> m = ParseUint(buf_);
    if (m.ok()) f.Add(kMemMaxUsage, static_cast<double>(*m));
  }
  if (ReadFile(c, kMemory, kFMemFailcnt, "memory.failcnt")) {
    Result<uint64_t> n = ParseUint(buf_);
    if (n.ok()) f.Add(kMemFailcnt, static_cast<double>(*n));
  }
  if (ReadFile(c, kMemory, kFOomControl, "memory.oom_control")) {
    Result<OomControl> o = ParseOomControl(buf_);
    if (o.ok() && o->oom_kill) {
      c.oom_kernel = *o->oom_kill;
      f.Add(kMemEventsOomKill, static_cast<double>(*o->oom_kill));
    }
  }
}

void CgroupCollector::CollectV2Memory(Container& c, Families& f) {
  std::optional<uint64_t> usage;
  if (ReadFile(c, kUnified, kFMemCurrent, "memory.current")) {
    Result<uint64_t> u = ParseUint(buf_);
    if (u.ok()) {
      usage = *u;
      c.mem_usage = *u;
      f.Add(kMemUsage, static_cast<double>(*u));
    }
  }
  if (ReadFile(c, kUnified, kFMemStatV2, "memory.stat")) {
    Result<MemoryStat> s = ParseMemoryStatV2(buf_);
    if (s.ok()) {
      EmitMemoryStat(*s, usage, false, [&f](Fam fam, double v) { f.Add(fam, v); });
    }
  }
  if (ReadFile(c, kUnified, kFMemSwap, "memory.swap.current")) {
    Result<uint64_t> s = ParseUint(buf_);
    if (s.ok()) f.Add(kMemSwap, static_cast<double>(*s));
  }
  if (ReadFile(c, kUnified, kFMemMax, "memory.max")) {
    Result<std::optional<uint64_t>> m = ParseUintOrMax(buf_);
    if (m.ok()) {
      c.mem_limit = m->value_or(0);
      f.Add(kSpecMemLimit, static_cast<double>(c.mem_limit));
    }
  }
  // memory.peak: kernel >= 5.19.
  if (ReadFile(c, kUnified, kFMemPeak, "memory.peak")) {
    Result<uint64_t> p = ParseUint(buf_);
    if (p.ok()) f.Add(kMemMaxUsage, static_cast<double>(*p));
  }
  if (ReadFile(c, kUnified, kFMemEvents, "memory.events")) {
    Result<MemoryEvents> e = ParseMemoryEvents(buf_);
    if (e.ok()) {
      if (e->low) f.Add(kMemEventsLow, static_cast<double>(*e->low));
      if (e->high) f.Add(kMemEventsHigh, static_cast<double>(*e->high));
      if (e->max) f.Add(kMemEventsMax, static_cast<double>(*e->max));
      if (e->oom) f.Add(kMemEventsOom, static_cast<double>(*e->oom));
      if (e->oom_kill) {
        c.oom_kernel = *e->oom_kill;
        f.Add(kMemEventsOomKill, static_cast<double>(*e->oom_kill));
      }
    }
  }
}

const std::string& CgroupCollector::DeviceName(uint32_t major, uint32_t minor) {
  uint64_t key = (uint64_t{major} << 32) | minor;
  auto it = device_names_.find(key);
  if (it != device_names_.end()) return it->second;
  std::string dev = std::to_string(major) + ":" + std::to_string(minor);
  std::string name = dev;
  if (options_.resolve_device_names) {
    Result<std::string> uevent = tidemark::ReadFile(paths_.sys + "/dev/block/" + dev + "/uevent");
    if (uevent.ok()) {
      Result<std::string_view> n = ParseUeventDevName(*uevent);
      if (n.ok()) name = "/dev/" + std::string(*n);
    }
  }
  return device_names_.emplace(key, std::move(name)).first->second;
}

void CgroupCollector::EmitIo(Families& f) {
  for (const IoDeviceStat& d : io_) {
    const std::string& dev = DeviceName(d.major, d.minor);
    f.Add(kFsReadsBytes, {{"device", dev}}, static_cast<double>(d.rbytes));
    f.Add(kFsWritesBytes, {{"device", dev}}, static_cast<double>(d.wbytes));
    f.Add(kFsReads, {{"device", dev}}, static_cast<double>(d.rios));
    f.Add(kFsWrites, {{"device", dev}}, static_cast<double>(d.wios));
  }
}

void CgroupCollector::CollectV1Blkio(Container& c, Families& f) {
  // The _recursive files include descendant cgroups, like v2 io.stat and v1 cpuacct/memory do.
  bool have_bytes =
      ReadFile(c, kBlkio, kFBlkioBytesRec, "blkio.throttle.io_service_bytes_recursive") ||
      ReadFile(c, kBlkio, kFBlkioBytes, "blkio.throttle.io_service_bytes");
  if (!have_bytes || !ParseBlkioThrottle(buf_, /*bytes=*/true, &io_).ok()) io_.clear();
  bool have_ops = ReadFile(c, kBlkio, kFBlkioOpsRec, "blkio.throttle.io_serviced_recursive") ||
                  ReadFile(c, kBlkio, kFBlkioOps, "blkio.throttle.io_serviced");
  if (!have_ops || !ParseBlkioThrottle(buf_, /*bytes=*/false, &io_ops_).ok()) io_ops_.clear();
  for (const IoDeviceStat& o : io_ops_) {
    auto it = std::find_if(io_.begin(), io_.end(), [&o](const IoDeviceStat& d) {
      return d.major == o.major && d.minor == o.minor;
    });
    if (it == io_.end()) {
      io_.push_back(o);
    } else {
      it->rios = o.rios;
      it->wios = o.wios;
    }
  }
  EmitIo(f);
}

void CgroupCollector::CollectV2Io(Container& c, Families& f) {
  if (!ReadFile(c, kUnified, kFIoStat, "io.stat")) return;
  if (!ParseIoStat(buf_, &io_).ok()) return;
  EmitIo(f);
}

void CgroupCollector::CollectPids(Container& c, Families& f, int role) {
  if (ReadFile(c, role, kFPidsCurrent, "pids.current")) {
    Result<uint64_t> n = ParseUint(buf_);
    if (n.ok()) f.Add(kThreads, static_cast<double>(*n));
  }
  if (ReadFile(c, role, kFPidsMax, "pids.max")) {
    Result<std::optional<uint64_t>> m = ParseUintOrMax(buf_);
    if (m.ok()) f.Add(kThreadsMax, m->has_value() ? static_cast<double>(**m) : 0.0);
  }
}

void CgroupCollector::CollectPressure(Container& c, Families& f) {
  struct PsiFile {
    int id;
    const char* file;
    Fam waiting, stalled;
  };
  static constexpr PsiFile kPsi[] = {
      {kFCpuPsi, "cpu.pressure", kPsiCpuWaiting, kPsiCpuStalled},
      {kFMemPsi, "memory.pressure", kPsiMemWaiting, kPsiMemStalled},
      {kFIoPsi, "io.pressure", kPsiIoWaiting, kPsiIoStalled},
  };
  for (const PsiFile& p : kPsi) {
    if (!ReadFile(c, kUnified, p.id, p.file)) continue;
    Result<CgroupPressure> r = ParseCgroupPressure(buf_);
    if (!r.ok()) continue;
    if (r->some) f.Add(p.waiting, r->some->total_us / 1e6);
    if (r->full) f.Add(p.stalled, r->full->total_us / 1e6);
  }
}

void CgroupCollector::CollectOne(Container& c, Families& f, double now_s) {
  struct CloseDirs {
    int* fds;
    ~CloseDirs() {
      for (int i = 0; i < kMaxHierarchies; ++i) {
        if (fds[i] >= 0) ::close(fds[i]);
        fds[i] = -1;
      }
    }
  } close_dirs{dir_fds_};
  if (inotify_fd_ < 0) {
    // Without inotify nothing tells us a cgroup went away, and a kept-open file can outlive its
    // directory (always on fixture trees; cgroupfs answers ENODEV). One stat per hierarchy.
    for (size_t h = 0; h < hierarchies_.size(); ++h) {
      if ((c.mask & (1u << h)) == 0) continue;
      path_buf_.assign(hierarchies_[h]);
      if (c.rel != "/") path_buf_ += c.rel;
      if (!PathExists(path_buf_)) {
        RemoveSubtree(h, c.rel);
        c.mask &= ~(1u << h);
      }
    }
    if (c.mask == 0) return;
  }
  c.spec_due = c.spec_next <= cycle_now_;
  if (c.spec_due) c.spec_next = cycle_now_ + options_.spec_refresh_interval;
  RefreshLabels(c);
  f.base = f.batch->Intern(c.labels);
  c.oom_kernel.reset();
  c.mem_usage = 0;
  if (v2_only_) {
    CollectV2Cpu(c, f, /*usage_only=*/false);
    CollectV2Memory(c, f);
    CollectV2Io(c, f);
    CollectPids(c, f, kUnified);
  } else {
    CollectV1Cpu(c, f);
    if (In(c, kMemory)) {
      CollectV1Memory(c, f);
    } else if (In(c, kUnified)) {
      CollectV2Memory(c, f);
    }
    if (In(c, kBlkio)) {
      CollectV1Blkio(c, f);
    } else if (In(c, kUnified)) {
      CollectV2Io(c, f);
    }
    CollectPids(c, f, In(c, kPids) ? kPids : kUnified);
  }
  CollectPressure(c, f);
  if (c.mask == 0) return;  // Gone while we read it.
  CountOomKills(c, f);
  f.Add(kLastSeen, now_s);
  if (c.start_time > 0) f.Add(kStartTime, c.start_time);
  if (c.identity.runtime.empty()) {
    f.Add(kInfo, 1);
  } else {
    f.Add(kInfo, {{"runtime", c.identity.runtime}}, 1);
  }
}

void CgroupCollector::SetOomEvents(std::shared_ptr<OomEventHub> hub, OomSource source) {
  oom_hub_ = std::move(hub);
  oom_source_ = source;
  if (source != OomSource::kEbpf || oom_hub_ == nullptr) return;
  // The handler outlives this collector (the hub has no unsubscribe): it holds only the tally.
  oom_tally_ = std::make_shared<OomTally>();
  oom_hub_->Subscribe([tally = oom_tally_](const OomEvent& e) {
    if (e.source != "ebpf" || e.cgroup_path.empty()) return;
    std::lock_guard<std::mutex> lock(tally->mu);
    tally->kills[e.cgroup_path] += e.count;
  });
}

CgroupCollector::Container* CgroupCollector::FindContainer(std::string_view path) {
  std::string key(path);
  while (!key.empty()) {
    auto it = containers_.find(key);
    if (it != containers_.end()) return it->second.get();
    size_t slash = key.rfind('/');
    if (slash == 0 || slash == std::string::npos) break;  // Never the root for a descendant.
    key.resize(slash);
  }
  return nullptr;
}

void CgroupCollector::TakeEbpfOomKills() {
  if (oom_tally_ == nullptr) return;
  std::unordered_map<std::string, uint64_t> kills;
  {
    std::lock_guard<std::mutex> lock(oom_tally_->mu);
    kills.swap(oom_tally_->kills);
  }
  for (const auto& [path, n] : kills) {
    Container* c = FindContainer(path);
    // Without a baseline the container is read for the first time this cycle, and the kernel
    // counted the kill before the event was sent: the first reading includes it.
    if (c != nullptr && c->oom_base) c->oom_ebpf += n;
  }
}

void CgroupCollector::CountOomKills(Container& c, Families& f) {
  if (oom_source_ == OomSource::kEbpf) {
    if (!c.oom_base) c.oom_base = c.oom_kernel.value_or(0);
    if (c.oom_kernel || c.oom_ebpf > 0) {
      f.Add(kOomEvents, static_cast<double>(*c.oom_base + c.oom_ebpf));
    }
    return;
  }
  if (!c.oom_kernel) return;
  const uint64_t now = *c.oom_kernel;
  f.Add(kOomEvents, static_cast<double>(now));
  std::optional<uint64_t> last = std::exchange(c.oom_last, now);
  // A container first seen after the agent's first cycle started after the agent (or was just
  // admitted under max_containers): kills already in its first reading happened since, e.g. a
  // kill within its first interval. Those of containers present at start-up are history.
  if (!last && collected_once_) last = 0;
  if (!last || now <= *last || oom_hub_ == nullptr) return;  // Baseline, none, or a reset.
  OomEvent e;
  e.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
                  .count();
  if (c.labels != nullptr) e.container = c.labels->labels();
  e.cgroup_path = c.rel;
  e.memory_limit_bytes = c.mem_limit;
  e.memory_usage_bytes = c.mem_usage;
  e.count = static_cast<uint32_t>(std::min<uint64_t>(now - *last, UINT32_MAX));
  e.source = "cgroup";
  spdlog::warn("OOM kill: cgroup={} container={} kills={} (cgroup oom_kill counter)", c.rel,
               c.labels != nullptr ? c.labels->rendered() : "-", e.count);
  oom_hub_->Publish(e);
}

void CgroupCollector::PublishLabelIndex() {
  ContainerLabelIndex::Table table;
  table.reserve(containers_.size());
  for (const auto& [rel, c] : containers_) {
    if (c->labels != nullptr) table.emplace(rel, c->labels);
  }
  label_index_->Replace(std::move(table));
  label_index_dirty_ = false;
}

bool CgroupCollector::In(const Container& c, int role) const {
  int h = role_hier_[role];
  return h >= 0 && (c.mask & (1u << h)) != 0;
}

Status CgroupCollector::Collect(SampleBatch* batch) {
  if (!layout_) {
    Status st = Setup();
    if (!st.ok()) return Status::Unavailable("cgroup collector: " + st.ToString());
  }
  const auto now = clock_.MonotonicNow();
  cycle_now_ = now;
  if (inotify_fd_ >= 0) DrainInotify();
  const auto interval =
      inotify_fd_ >= 0 ? options_.inotify_backstop_interval : options_.rescan_interval;
  if (rescan_due_ || now - last_rescan_ >= interval) {
    FullRescan();
    last_rescan_ = now;
    rescan_due_ = false;
  }
  if (paths_seen_.empty()) {
    // Not even a hierarchy root could be listed: re-detect next time.
    layout_.reset();
    CloseInotify();
    return Status::Unavailable("cgroup collector: no cgroup hierarchy readable under " +
                               paths_.CgroupRoot());
  }
  for (const std::string& rel : dirty_) Reconcile(rel);
  dirty_.clear();
  for (auto it = refused_.begin();
       it != refused_.end() && containers_.size() < options_.max_containers;) {
    std::string rel = *it;
    it = refused_.erase(it);
    Admit(rel, IdentifyCgroup(rel));
  }

  if (oom_source_ == OomSource::kEbpf) TakeEbpfOomKills();

  Families f(batch);
  const double now_s = ToSeconds(clock_.Now());
  std::vector<std::string> gone;
  for (auto& [rel, c] : containers_) {
    CollectOne(*c, f, now_s);
    if (c->mask == 0) gone.push_back(rel);
  }
  for (const std::string& rel : gone) containers_.erase(rel);
  if (!gone.empty()) label_index_dirty_ = true;
  // Removals noticed while reading are reconciled now so no stale entry lingers.
  for (const std::string& rel : dirty_) Reconcile(rel);
  dirty_.clear();
  if (label_index_dirty_) PublishLabelIndex();

  collected_once_ = true;
  f.base = nullptr;
  f.Add(kSelfContainers, static_cast<double>(containers_.size()));
  f.Add(kSelfDropped, static_cast<double>(dropped_total_));
  return Status::Ok();
}

}  // namespace tidemark::collector
