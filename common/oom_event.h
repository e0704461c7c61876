// An OOM kill as the agent reports it to whoever subscribes (alerting), whichever source saw it:
// the eBPF oom/mark_victim program (victim pid and comm known) or, when that is not running, an
// increase of a container's cgroup OOM-kill counter (victim unknown).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/labels.h"

namespace tidemark {

struct OomEvent {
  int64_t time_ms = 0;  // When the kill happened (eBPF) or was noticed (cgroup counter).
  // The container's labels as its container_* series carry them (id, name, image,
  // container_label_*); empty for a cgroup the agent does not export.
  Labels container;
  std::string cgroup_path;          // Below the cgroup root, e.g. /docker/<id>; "" when unknown.
  uint32_t pid = 0;                 // Victim; 0 when unknown (cgroup source).
  std::string comm;                 // Victim's command; "" when unknown.
  uint64_t memory_limit_bytes = 0;  // The cgroup's limit at the kill; 0 when unknown/unlimited.
  uint64_t memory_usage_bytes = 0;  // The cgroup's usage at the kill; 0 when unknown.
  uint32_t count = 1;               // Kills this event stands for (a counter may jump by more).
  std::string source;               // "ebpf" or "cgroup".
};

// Fan-out of OOM events to subscribers. Thread-safe: Publish may run on any thread (the event
// loop for eBPF, the collection thread for cgroup counters) and calls every handler on that
// thread, so handlers must be quick and must not call back into the hub.
class OomEventHub {
 public:
  using Handler = std::function<void(const OomEvent&)>;
  void Subscribe(Handler handler);
  void Publish(const OomEvent& event) const;
  bool HasSubscribers() const;

 private:
  mutable std::mutex mu_;
  std::vector<Handler> handlers_;  // Guarded by mu_.
};

}  // namespace tidemark
