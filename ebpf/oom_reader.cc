#include "ebpf/oom_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>

#include "common/file_util.h"
#include "ebpf/internal/bpf_util.h"
#include "ebpf/progs/oomkill.h"
#include "oomkill.skel.h"

namespace tidemark::ebpf {
namespace {

// "/sys/fs/cgroup/memory"-relative path of `pid` from /proc/<pid>/cgroup, for kernels whose
// tracepoint gives only the pid (the victim may already be gone: then "").
std::string ProcMemoryCgroup(const HostPaths& paths, uint32_t pid) {
  Result<std::string> text = ReadFile(paths.proc + "/" + std::to_string(pid) + "/cgroup");
  if (!text.ok()) return "";
  std::string v2;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string_view line(text->data() + pos, end - pos);
    pos = end + 1;
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string_view::npos || b == std::string_view::npos) continue;
    std::string_view ctrl = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (ctrl.empty()) v2 = std::string(path);
    std::string c = "," + std::string(ctrl) + ",";
    if (c.find(",memory,") != std::string::npos) return std::string(path);
  }
  return v2;
}

// Memory limits at or above this are "no limit" (v1 reports PAGE_COUNTER_MAX pages).
constexpr uint64_t kUnlimitedMemory = uint64_t{1} << 62;

}  // namespace

tidemark::OomEvent ToAgentOomEvent(const OomEvent& e) {
  tidemark::OomEvent out;
  out.time_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(e.time.time_since_epoch()).count();
  if (e.container != nullptr) out.container = e.container->labels();
  out.cgroup_path = e.cgroup_path;
  out.pid = e.pid;
  out.comm = e.comm;
  out.memory_limit_bytes = e.limit_bytes >= kUnlimitedMemory ? 0 : e.limit_bytes;
  out.memory_usage_bytes = e.usage_bytes;
  out.count = 1;
  out.source = "ebpf";
  return out;
}

OomReader::OomReader(CgroupResolver* resolver, const Clock& clock, HostPaths paths)
    : resolver_(resolver), clock_(clock), paths_(std::move(paths)) {}

OomReader::~OomReader() {
  if (rb_ != nullptr) ring_buffer__free(rb_);
  if (skel_ != nullptr) oomkill_bpf::destroy(skel_);
}

Result<std::unique_ptr<OomReader>> OomReader::Create(CgroupResolver* resolver, const Clock& clock,
                                                     HostPaths paths) {
  internal::QuietLibbpfLogs();
  std::unique_ptr<OomReader> r(new OomReader(resolver, clock, std::move(paths)));
  r->skel_ = oomkill_bpf::open();
  if (r->skel_ == nullptr) return internal::LibbpfError("oomkill: open", -errno);
  // ~6.8+: mark_victim(struct task_struct *task, uid_t uid); before: mark_victim(int pid).
  const bool task_arg = internal::RawTracepointArgCount("mark_victim") == 2;
  bpf_program__set_autoload(r->skel_->progs.tm_mark_victim_task, task_arg);
  bpf_program__set_autoload(r->skel_->progs.tm_mark_victim_pid, !task_arg);
  r->attach_point_ = task_arg ? "raw_tp/mark_victim" : "tracepoint/oom/mark_victim";
  if (int err = oomkill_bpf::load(r->skel_); err != 0) {
    return internal::LibbpfError("oomkill: load " + r->attach_point_, err);
  }
  if (int err = oomkill_bpf::attach(r->skel_); err != 0) {
    return internal::LibbpfError("oomkill: attach " + r->attach_point_, err);
  }
  r->rb_ = ring_buffer__new(bpf_map__fd(r->skel_->maps.oom_events), &OomReader::OnSample, r.get(),
                            nullptr);
  if (r->rb_ == nullptr) return internal::LibbpfError("oomkill: ring_buffer__new", -errno);
  return r;
}

void OomReader::Subscribe(OomEventSink* sink) { sinks_.push_back(sink); }

int OomReader::fd() const { return ring_buffer__epoll_fd(rb_); }

Result<int> OomReader::Poll(int timeout_ms) {
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0 && n != -EINTR) return internal::LibbpfError("oomkill: ring_buffer__poll", n);
  return n < 0 ? 0 : n;
}

int OomReader::OnSample(void* ctx, void* data, size_t size) {
  static_cast<OomReader*>(ctx)->Handle(data, size);
  return 0;
}

void OomReader::Handle(const void* data, size_t size) {
  if (size < sizeof(tm_oom_event)) return;
  tm_oom_event e;
  std::memcpy(&e, data, sizeof(e));
  static const uint64_t kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  OomEvent ev;
  ev.time = clock_.Now();
  ev.pid = e.pid;
  ev.comm.assign(e.comm, strnlen(e.comm, sizeof(e.comm)));
  ev.uid = e.uid;
  ev.memcg_id = e.memcg_id;
  ev.cgroup_id = e.dfl_cgroup_id;
  ev.usage_bytes = e.memcg_usage_pages * kPage;
  ev.limit_bytes = e.memcg_limit_pages * kPage;
  ev.total_vm_bytes = e.total_vm_pages * kPage;
  ev.anon_rss_bytes = e.anon_rss_pages * kPage;
  ev.file_rss_bytes = e.file_rss_pages * kPage;
  ev.shmem_rss_bytes = e.shmem_rss_pages * kPage;
  ev.pid_only = (e.flags & TM_OOM_F_PID_ONLY) != 0;
  if (!ev.pid_only && ev.memcg_id != 0 && resolver_ != nullptr) {
    std::optional<CgroupRef> ref =
        resolver_->Resolve(CgroupHierarchy::kMemory, ev.memcg_id, clock_.MonotonicNow());
    if (ref) {
      ev.cgroup_path = ref->path;
      ev.container = ref->labels;
    }
  }
  if (ev.cgroup_path.empty()) {
    // Only the pid is known, or the cgroup is too new for the resolver's last scan: the victim
    // is usually still exiting, so /proc names its cgroup.
    ev.cgroup_path = ProcMemoryCgroup(paths_, ev.pid);
    if (!ev.cgroup_path.empty() && resolver_ != nullptr) {
      ev.container = resolver_->LabelsOfPath(CgroupHierarchy::kMemory, ev.cgroup_path);
    }
  }
  spdlog::warn(
      "OOM kill: pid={} comm={} cgroup={} container={} usage_bytes={} limit_bytes={} "
      "anon_rss_bytes={} file_rss_bytes={}",
      ev.pid, ev.comm, ev.cgroup_path.empty() ? "?" : ev.cgroup_path,
      ev.container ? ev.container->rendered() : "-", ev.usage_bytes, ev.limit_bytes,
      ev.anon_rss_bytes, ev.file_rss_bytes);
  if (ev.container != nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = kills_[ev.container->rendered()];
    slot.first = ev.container;
    ++slot.second;
  }
  for (OomEventSink* sink : sinks_) sink->OnOomEvent(ev);
}

void OomReader::Collect(SampleBatch* batch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (kills_.empty()) return;
  size_t fam = batch->Family("container_oom_events_total",
                             "Count of out of memory events observed for the container",
                             MetricType::kCounter);
  for (const auto& [key, v] : kills_) {
    batch->Add(fam, batch->Intern(v.first), static_cast<double>(v.second));
  }
}

uint64_t OomReader::lost() const {
  return internal::ReadArrayU64(bpf_map__fd(skel_->maps.oom_stats), TM_OOM_STAT_LOST);
}

}  // namespace tidemark::ebpf
