#include "agent/wiring.h"

#include <algorithm>

#include "collector/cgroup_collector.h"
#include "collector/docker_metadata.h"
#include "collector/node_collectors.h"

namespace tidemark::agent {

Result<CollectorSet> MakeCollectors(const AgentConfig& config, const Clock& clock) {
  CollectorSet set;
  const HostPaths paths = HostPaths::Under(config.host_root);
  if (config.cgroup.enabled) {
    if (config.docker.enabled) {
      collector::DockerMetadataOptions docker;
      docker.socket_path = (config.host_root == "/" ? "" : paths.root) + config.docker.socket;
      set.metadata = std::make_unique<collector::DockerMetadataProvider>(paths, clock, docker);
    }
    collector::CgroupCollectorOptions opts;
    opts.include = config.cgroup.include;
    opts.max_containers = config.cgroup.max_containers;
    opts.docker_label_allowlist = config.cgroup.docker_labels;
    auto cg = collector::CgroupCollector::Create(paths, clock, opts, set.metadata.get());
    if (!cg.ok()) return Status::InvalidArgument("collectors.cgroup: " + cg.status().message());
    set.collectors.push_back(std::move(*cg));
  }
  if (config.node.enabled) {
    for (auto& c : collector::MakeNodeCollectors(paths)) {
      const auto& off = config.node.disabled;
      if (std::find(off.begin(), off.end(), c->Name()) != off.end()) continue;
      set.collectors.push_back(std::move(c));
    }
  }
  return set;
}

}  // namespace tidemark::agent
