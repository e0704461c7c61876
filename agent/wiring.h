// Builds the collectors an AgentConfig asks for.
#pragma once

#include <memory>
#include <vector>

#include "agent/config.h"
#include "collector/collector.h"
#include "collector/container_metadata.h"
#include "common/clock.h"
#include "common/oom_event.h"

namespace tidemark::ebpf {
class EbpfCollector;
}  // namespace tidemark::ebpf

namespace tidemark::agent {

// The collectors and what they borrow. `metadata` is declared first so it outlives the
// collectors that point at it.
struct CollectorSet {
  std::unique_ptr<collector::MetadataProvider> metadata;  // Null when Docker is disabled.
  std::vector<std::unique_ptr<collector::Collector>> collectors;
  // The eBPF collector (owned by `collectors`); null when eBPF is off or not built. The agent
  // polls its OOM ring buffer (ebpf->oom_fd(), ebpf->PollOom(0)) on the event loop.
  ebpf::EbpfCollector* ebpf = nullptr;
  // Where the collectors publish OOM kills (the agent hands it to its services). Null in sets
  // built by tests: the agent then makes its own.
  std::shared_ptr<OomEventHub> oom_events;
};

// InvalidArgument when an option the collectors compile (regexes) is bad.
Result<CollectorSet> MakeCollectors(const AgentConfig& config, const Clock& clock);

}  // namespace tidemark::agent
