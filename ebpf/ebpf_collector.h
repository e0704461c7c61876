// The eBPF collectors as one unit: loads what the kernel allows (OOM kills, TCP retransmits,
// block I/O latency), reports each program's state, and never fails the agent. It has the
// collector contract's shape (Name/Collect); the agent adapts it to collector::Collector.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/host_paths.h"
#include "common/oom_event.h"
#include "common/sample_batch.h"
#include "common/status.h"
#include "ebpf/biolatency_reader.h"
#include "ebpf/cgroup_resolver.h"
#include "ebpf/oom_reader.h"
#include "ebpf/tcpretrans_reader.h"

namespace tidemark::ebpf {

struct EbpfOptions {
  bool oomkill = true;     // Default: true
  bool tcpretrans = true;  // Default: true
  bool biolatency = true;  // Default: true
  // Export container_oom_events_total from OOM events. Off when another collector exports the
  // family (the agent's cgroup collector does, counting these events): never both.
  bool oom_counter = true;  // Default: true
  // Remote peers exported per container for retransmits (0: none).
  size_t tcp_top_peers = 5;  // Default: 5
};

// Program names as in tidemark_ebpf_program_up{program}.
inline constexpr std::string_view kOomProgram = "oomkill";
inline constexpr std::string_view kTcpRetransProgram = "tcpretrans";
inline constexpr std::string_view kBioLatencyProgram = "biolatency";

// Owns the readers. Collect() runs on one thread at a time; PollOom() may run on another (the
// event loop).
class EbpfCollector {
 public:
  // Loads the enabled programs. Never fails: programs that cannot load (no privileges, no BTF, no
  // tracepoint) are reported in one log line and exported with program_up 0. `resolver` and
  // `clock` must outlive the collector.
  static std::unique_ptr<EbpfCollector> Create(CgroupResolver* resolver, const Clock& clock,
                                               HostPaths paths, EbpfOptions options);

  std::string_view Name() const { return "ebpf"; }
  // Per-container metrics of the loaded programs, tidemark_ebpf_program_up{program} and
  // tidemark_ebpf_events_lost_total{program}. The first map-read error is returned after every
  // reader had its turn.
  Status Collect(SampleBatch* batch);

  // True when OOM kills come from eBPF: the agent then makes the cgroup collector count
  // container_oom_events_total from these events instead of its oom_kill counters (never both).
  bool oom_up() const { return oom_ != nullptr; }
  // The OOM ring buffer's epoll fd for the event loop; -1 when the program is not loaded.
  int oom_fd() const { return oom_ ? oom_->fd() : -1; }
  // Dispatches pending OOM events to subscribers (see OomReader::Poll); 0 when not loaded.
  Result<int> PollOom(int timeout_ms);
  // Adds an OOM subscriber (not owned, outlives the collector); call before polling.
  void SubscribeOom(OomEventSink* sink);
  // Publishes every OOM kill to `hub` (see ToAgentOomEvent) on the polling thread; call before
  // polling. No-op when the program is not loaded.
  void PublishOom(std::shared_ptr<OomEventHub> hub);

  OomReader* oom() { return oom_.get(); }
  TcpRetransReader* tcpretrans() { return tcp_.get(); }
  BioLatencyReader* biolatency() { return bio_.get(); }
  // Why a program is down ("" when up or disabled).
  const std::string& oom_error() const { return oom_error_; }
  const std::string& tcpretrans_error() const { return tcp_error_; }
  const std::string& biolatency_error() const { return bio_error_; }

 private:
  EbpfCollector() = default;

  EbpfOptions options_;
  std::vector<std::unique_ptr<OomEventSink>> hub_sinks_;  // Outlive oom_, which points at them.
  std::unique_ptr<OomReader> oom_;
  std::unique_ptr<TcpRetransReader> tcp_;
  std::unique_ptr<BioLatencyReader> bio_;
  std::string oom_error_, tcp_error_, bio_error_;
};

}  // namespace tidemark::ebpf
