// Per-container metrics from cgroup v1, v2 and hybrid hierarchies, with cAdvisor's names
// (reference/metrics-naming.md §2.3). Discovery is incremental (inotify on the cgroup directories,
// with a periodic full rescan as a backstop, or only periodic rescans where inotify is
// unavailable).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "collector/cgroup_layout.h"
#include "collector/cgroup_parsers.h"
#include "collector/collector.h"
#include "collector/container_identity.h"
#include "collector/container_label_index.h"
#include "collector/container_metadata.h"
#include "common/clock.h"
#include "common/host_paths.h"
#include "common/oom_event.h"

namespace tidemark::collector {

struct CgroupCollectorOptions {
  // Export cgroups recognised as runtime containers (Docker, containerd, CRI-O, podman).
  bool export_containers = true;  // Default: true
  // Export systemd services (cgroups named *.service).
  bool export_systemd_services = true;  // Default: true
  // Export Kubernetes pod-level cgroups (kubelet's cAdvisor does; dashboards mostly filter them
  // out with container!="").
  bool export_pods = false;  // Default: false
  // ECMAScript regexes on the cgroup path (e.g. "^/tidemark-test/.*"); a match exports the cgroup
  // whatever its kind. Compiled once in Create(); matched only when a cgroup first appears.
  std::vector<std::string> include;  // Default: {}
  // Most cgroups exported at once (>= 1); further ones are refused (warning + dropped counter,
  // counted once per refused cgroup) and admitted when room frees up.
  size_t max_containers = 5000;  // Default: 5000
  // Docker label keys exported as container_label_<sanitized key>; all others are ignored.
  std::vector<std::string> docker_label_allowlist = {
      "com.docker.swarm.service.name", "com.docker.compose.service",
      "com.docker.stack.namespace"};  // Default: these three
  // Watch cgroup directories with inotify; falls back to periodic rescans when it fails.
  bool use_inotify = true;  // Default: true
  // Full rescan period without inotify, seconds of Clock::MonotonicNow().
  std::chrono::seconds rescan_interval{10};  // Default: 10 s
  // Full rescan period as a backstop while inotify works.
  std::chrono::seconds inotify_backstop_interval{60};  // Default: 60 s
  // Label devices "/dev/<DEVNAME>" (as cAdvisor does) from <sys>/dev/block/<maj:min>/uevent;
  // "maj:min" when unresolvable or off.
  bool resolve_device_names = true;  // Default: true
  // Cgroup files kept open between cycles (re-read with pread); files beyond it are opened and
  // closed each cycle. Default: 0 = RLIMIT_NOFILE soft limit − 2048 (none when that is < 4096).
  size_t max_open_files = 0;
  // Limits, quota, period, shares and pids.max are re-read this often and cached in between
  // (cAdvisor reads them once, when the container appears). Clock::MonotonicNow() time.
  std::chrono::seconds spec_refresh_interval{10};  // Default: 10 s
};

// Which source reports OOM kills and counts container_oom_events_total (see SetOomEvents()).
enum class OomSource {
  kCgroupCounters,  // The kernel's oom_kill counters: v2 memory.events, v1 memory.oom_control.
  kEbpf,            // The eBPF oom/mark_victim program (it publishes the events itself).
};

// Collects container_* series for every exported cgroup. Not thread-safe: Collect() is called from
// one thread at a time (the collector contract). Holds one inotify descriptor while it works.
class CgroupCollector final : public Collector {
 public:
  // `clock` and `metadata` (may be null) must outlive the collector. InvalidArgument on a bad
  // include regex or max_containers == 0. The cgroup layout is detected on the first Collect() and
  // retried until found.
  static Result<std::unique_ptr<CgroupCollector>> Create(HostPaths paths, const Clock& clock,
                                                         CgroupCollectorOptions options,
                                                         MetadataProvider* metadata);
  ~CgroupCollector() override;
  CgroupCollector(const CgroupCollector&) = delete;
  CgroupCollector& operator=(const CgroupCollector&) = delete;

  std::string_view Name() const override { return "cgroup"; }
  // Unavailable when no cgroup hierarchy can be read; a missing or malformed file of one cgroup
  // only drops that metric.
  Status Collect(SampleBatch* batch) override;

  // The detected layout; nullopt before the first successful detection.
  const std::optional<CgroupLayout>& layout() const { return layout_; }
  // True while discovery is driven by inotify (false after a fallback to periodic rescans).
  bool inotify_active() const { return inotify_fd_ >= 0; }
  // The base labels of the exported cgroups as of the last Collect(), for readers on any thread
  // (eBPF series and OOM events carry exactly these). Never null.
  std::shared_ptr<const ContainerLabelIndex> label_index() const { return label_index_; }

  // OOM kills; call before the first Collect(). container_oom_events_total is exported for every
  // container with a memory controller, from one source only (never both):
  // - kCgroupCounters (default): the kernel's oom_kill counter. Each increase between two cycles
  //   is published to `hub` (if not null) as one OomEvent{source "cgroup", count = the increase,
  //   pid 0}; a container's first reading is its baseline and is not published.
  // - kEbpf: the eBPF program publishes each kill to `hub`; this collector publishes nothing and
  //   counts the hub's source "ebpf" events per container (a sub-cgroup's kill counts for its
  //   exported ancestor): the value is the kernel counter at the container's first reading plus
  //   the eBPF kills since. Both sources thus count the cgroup's kills since it was created, so
  //   the series stays monotonic when a restart of the agent changes the source (it gains or
  //   loses eBPF privileges). A kill the kernel counted just before that first reading but whose
  //   event arrives just after it is counted twice (a window of one cycle at container start).
  void SetOomEvents(std::shared_ptr<OomEventHub> hub, OomSource source);

 private:
  enum Role { kCpu, kCpuacct, kMemory, kBlkio, kPids, kUnified, kRoleCount };
  struct Container;
  struct Families;
  struct OomTally;

  CgroupCollector(HostPaths paths, const Clock& clock, CgroupCollectorOptions options,
                  MetadataProvider* metadata, std::vector<std::regex> include);

  Status Setup();
  void FullRescan();
  void WalkSubtree(size_t hier, const std::string& rel);
  void AddPath(size_t hier, const std::string& rel);
  void RemoveSubtree(size_t hier, const std::string& rel);
  void DrainInotify();
  void CloseInotify();
  void Reconcile(const std::string& rel);
  bool ShouldExport(const std::string& rel, const CgroupIdentity& id) const;
  void Admit(const std::string& rel, CgroupIdentity id);
  void RefreshLabels(Container& c);
  double StartTime(const Container& c) const;
  // Reads <hierarchy><rel>/<file> into buf_; false (and remembers) when missing.
  bool ReadFile(Container& c, int role, int file_id, const char* file);
  bool In(const Container& c, int role) const;
  void CollectOne(Container& c, Families& f, double now_s);
  void CollectV1Cpu(Container& c, Families& f);
  void CollectV1Memory(Container& c, Families& f);
  void CollectV1Blkio(Container& c, Families& f);
  void CollectV2Cpu(Container& c, Families& f, bool usage_only);
  void CollectV2Memory(Container& c, Families& f);
  void CollectV2Io(Container& c, Families& f);
  void CollectPids(Container& c, Families& f, int role);
  void CollectPressure(Container& c, Families& f);
  // container_oom_events_total of `c` and, with kCgroupCounters, the event for an increase.
  void CountOomKills(Container& c, Families& f);
  // Adds the eBPF kills noted since the last cycle to their containers (kEbpf).
  void TakeEbpfOomKills();
  Container* FindContainer(std::string_view path);
  void PublishLabelIndex();
  void EmitIo(Families& f);
  const std::string& DeviceName(uint32_t major, uint32_t minor);

  const HostPaths paths_;
  const Clock& clock_;
  const CgroupCollectorOptions options_;
  MetadataProvider* const metadata_;
  const std::vector<std::regex> include_;
  const double ticks_per_second_;

  std::optional<CgroupLayout> layout_;
  std::vector<std::string> hierarchies_;  // Absolute roots; index = hierarchy id.
  int role_hier_[kRoleCount] = {-1, -1, -1, -1, -1, -1};
  bool v2_only_ = false;  // Pure v2: every role reads the unified tree.

  // Every cgroup directory seen, relative path -> bitmask of hierarchies holding it.
  std::map<std::string, uint32_t> paths_seen_;
  std::set<std::string> dirty_;  // Paths whose presence changed since the last reconcile.
  size_t open_files_ = 0;        // Fds held by containers_; declared first, outlives them.
  size_t max_open_files_ = 0;    // Budget for open_files_.
  std::chrono::steady_clock::time_point cycle_now_{};  // MonotonicNow() of the current Collect.
  std::unordered_map<std::string, std::unique_ptr<Container>> containers_;
  std::set<std::string> refused_;  // Exportable but over max_containers.
  uint64_t dropped_total_ = 0;
  std::chrono::steady_clock::time_point last_rescan_{};
  std::chrono::steady_clock::time_point last_cap_warning_{};
  bool rescan_due_ = true;

  int inotify_fd_ = -1;
  bool inotify_failed_ = false;  // Once set, only periodic rescans.
  std::unordered_map<int, std::pair<size_t, std::string>> watches_;  // wd -> (hier, rel)

  const std::shared_ptr<ContainerLabelIndex> label_index_ = std::make_shared<ContainerLabelIndex>();
  bool label_index_dirty_ = true;  // containers_ or their labels changed since the last publish.
  std::shared_ptr<OomEventHub> oom_hub_;
  OomSource oom_source_ = OomSource::kCgroupCounters;
  bool collected_once_ = false;          // A cycle has completed: later containers are new.
  std::shared_ptr<OomTally> oom_tally_;  // kEbpf: kills noted by the hub handler (any thread).

  std::map<uint64_t, std::string> device_names_;  // (major << 32 | minor) -> name
  static constexpr int kMaxHierarchies = 8;
  int dir_fds_[kMaxHierarchies] = {-1, -1, -1, -1, -1, -1, -1, -1};  // Of the cgroup being read.
  std::string buf_;
  std::string path_buf_;
  std::vector<IoDeviceStat> io_;
  std::vector<IoDeviceStat> io_ops_;
};

}  // namespace tidemark::collector
