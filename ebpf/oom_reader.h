// OOM victims from tracepoint oom/mark_victim: one ring-buffer event per kill, resolved to its
// container, handed to subscribers and counted as container_oom_events_total.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/oom_event.h"
#include "common/sample_batch.h"
#include "common/status.h"
#include "ebpf/cgroup_resolver.h"

struct oomkill_bpf;
struct ring_buffer;

namespace tidemark::ebpf {

// One OOM kill as the kernel marked it.
struct OomEvent {
  uint32_t pid = 0;  // Thread group id of the victim.
  std::string comm;  // Victim's command name (up to 15 bytes).
  uint32_t uid = 0;
  uint64_t memcg_id = 0;     // Id of the victim's memory cgroup (CgroupHierarchy::kMemory).
  uint64_t cgroup_id = 0;    // Id of the victim's v2 cgroup (CgroupHierarchy::kUnified).
  std::string cgroup_path;   // Memory cgroup path, e.g. "/docker/<id>"; "" when unresolved.
  LabelSetPtr container;     // The container's base labels; null when not a known container.
  uint64_t usage_bytes = 0;  // The memory cgroup's usage when the victim was marked.
  uint64_t limit_bytes = 0;  // The memory cgroup's limit (huge for "max").
  uint64_t total_vm_bytes = 0;
  uint64_t anon_rss_bytes = 0;
  uint64_t file_rss_bytes = 0;
  uint64_t shmem_rss_bytes = 0;
  bool pid_only = false;  // Kernel before ~6.8: only the pid was known, cgroup read from /proc.
  std::chrono::system_clock::time_point time;
};

// `e` as the agent's OOM event interface carries it: source "ebpf", the container's labels, limit
// 0 when the cgroup has none. Pure.
tidemark::OomEvent ToAgentOomEvent(const OomEvent& e);

// In-process subscribers (alerting). Called on the thread that calls OomReader::Poll(); must not
// block.
class OomEventSink {
 public:
  virtual ~OomEventSink() = default;
  virtual void OnOomEvent(const OomEvent& event) = 0;
};

// Loads and attaches the oomkill program; destroying it detaches and unloads. Poll() and
// Collect() may run on different threads; subscribe before polling.
class OomReader {
 public:
  // `resolver`, `clock` must outlive the reader. Unavailable (with the reason, e.g. missing
  // privileges or tracepoint) when the program cannot be loaded or attached.
  static Result<std::unique_ptr<OomReader>> Create(CgroupResolver* resolver, const Clock& clock,
                                                   HostPaths paths = {});
  ~OomReader();
  OomReader(const OomReader&) = delete;
  OomReader& operator=(const OomReader&) = delete;

  // Adds a subscriber (not owned; must outlive the reader). Not thread-safe against Poll().
  void Subscribe(OomEventSink* sink);
  // Epoll fd that turns readable when events are pending; add it to the event loop and call
  // Poll(0) when it fires.
  int fd() const;
  // Waits up to `timeout_ms` (0: no wait) and dispatches pending events; returns how many.
  Result<int> Poll(int timeout_ms);
  // "raw_tp/mark_victim" (task pointer, ~6.8+) or "tracepoint/oom/mark_victim" (pid only).
  const std::string& attach_point() const { return attach_point_; }

  // container_oom_events_total per container (only containers that had a kill since start).
  void Collect(SampleBatch* batch);
  // Events the kernel could not queue (ring buffer full).
  uint64_t lost() const;

 private:
  OomReader(CgroupResolver* resolver, const Clock& clock, HostPaths paths);
  static int OnSample(void* ctx, void* data, size_t size);
  void Handle(const void* data, size_t size);

  CgroupResolver* const resolver_;
  const Clock& clock_;
  const HostPaths paths_;
  oomkill_bpf* skel_ = nullptr;
  ring_buffer* rb_ = nullptr;
  std::string attach_point_;
  std::vector<OomEventSink*> sinks_;
  mutable std::mutex mu_;
  // Kills per container label set (rendered labels as key). Guarded by mu_.
  std::map<std::string, std::pair<LabelSetPtr, uint64_t>> kills_;
};

}  // namespace tidemark::ebpf
