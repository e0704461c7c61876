// Builds the collectors an AgentConfig asks for.
#pragma once

#include <memory>
#include <vector>

#include "agent/config.h"
#include "collector/collector.h"
#include "collector/container_metadata.h"
#include "common/clock.h"

namespace tidemark::agent {

// The collectors and what they borrow. `metadata` is declared first so it outlives the
// collectors that point at it.
struct CollectorSet {
  std::unique_ptr<collector::MetadataProvider> metadata;  // Null when Docker is disabled.
  std::vector<std::unique_ptr<collector::Collector>> collectors;
};

// InvalidArgument when an option the collectors compile (regexes) is bad.
Result<CollectorSet> MakeCollectors(const AgentConfig& config, const Clock& clock);

}  // namespace tidemark::agent
