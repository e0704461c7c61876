#include "agent/wiring.h"

namespace tidemark::agent {

Result<std::vector<std::unique_ptr<collector::Collector>>> MakeCollectors(const AgentConfig& config,
                                                                          const Clock& clock) {
  (void)config;
  (void)clock;
  std::vector<std::unique_ptr<collector::Collector>> out;
  return out;
}

}  // namespace tidemark::agent
