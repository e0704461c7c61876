// Builds the collectors an AgentConfig asks for.
#pragma once

#include <memory>
#include <vector>

#include "agent/config.h"
#include "collector/collector.h"
#include "common/clock.h"

namespace tidemark::agent {

Result<std::vector<std::unique_ptr<collector::Collector>>> MakeCollectors(const AgentConfig& config,
                                                                          const Clock& clock);

}  // namespace tidemark::agent
