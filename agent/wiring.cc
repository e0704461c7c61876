#include "agent/wiring.h"

#include <algorithm>
#include <regex>

#include "collector/cgroup_collector.h"
#include "collector/docker_metadata.h"
#include "collector/node_collectors.h"
#if TIDEMARK_HAVE_EBPF
#include "collector/cgroup_layout.h"
#include "collector/container_identity.h"
#include "ebpf/cgroup_resolver.h"
#include "ebpf/ebpf_collector.h"
#endif

namespace tidemark::agent {

#if TIDEMARK_HAVE_EBPF
namespace {

// The eBPF collectors behind the collector contract (ebpf/ may not include collector/). Owns the
// cgroup resolver (declared first, so it outlives the readers pointing at it).
class EbpfCollectorAdapter final : public collector::Collector {
 public:
  EbpfCollectorAdapter(std::unique_ptr<ebpf::CgroupResolver> resolver, const HostPaths& paths,
                       const Clock& clock, const ebpf::EbpfOptions& options)
      : resolver_(std::move(resolver)),
        c_(ebpf::EbpfCollector::Create(resolver_.get(), clock, paths, options)) {}
  std::string_view Name() const override { return c_->Name(); }
  Status Collect(SampleBatch* batch) override { return c_->Collect(batch); }
  ebpf::EbpfCollector* get() { return c_.get(); }

 private:
  std::unique_ptr<ebpf::CgroupResolver> resolver_;
  std::unique_ptr<ebpf::EbpfCollector> c_;
};

// Which cgroups get eBPF series, with which labels: with the cgroup collector, exactly its
// exported cgroups and labels (`labels`, refreshed every cycle; a sub-cgroup counts for its
// exported ancestor); without it, the same choice of cgroups with {id, name} only.
Result<std::unique_ptr<ebpf::CgroupResolver>> MakeCgroupResolver(
    const AgentConfig& config, const HostPaths& paths, const Clock& clock,
    std::shared_ptr<const collector::ContainerLabelIndex> labels) {
  ebpf::CgroupRoots roots;
  if (auto layout = collector::DetectCgroupLayout(paths); layout.ok()) {
    roots.unified = layout->unified;
    roots.memory = layout->memory.empty() ? layout->unified : layout->memory;
    roots.blkio = layout->blkio.empty() ? layout->unified : layout->blkio;
  }
  std::vector<std::regex> include;
  for (const std::string& re : config.cgroup.include) {
    try {
      include.emplace_back(re, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument("collectors.cgroup.include: " + std::string(e.what()));
    }
  }
  ebpf::CgroupIdIndexOptions opts;
  if (labels != nullptr) {
    opts.labeler = [labels](ebpf::CgroupHierarchy, std::string_view path) {
      return labels->Find(path);
    };
    opts.labels_version = [labels] { return labels->version(); };
    return std::unique_ptr<ebpf::CgroupResolver>(
        std::make_unique<ebpf::CgroupIdIndex>(roots, clock, std::move(opts)));
  }
  opts.labeler = [include = std::move(include)](ebpf::CgroupHierarchy,
                                                std::string_view path) -> LabelSetPtr {
    collector::CgroupIdentity id = collector::IdentifyCgroup(path);
    bool exported = id.kind == collector::CgroupKind::kContainer ||
                    id.kind == collector::CgroupKind::kSystemdService;
    const std::string p(path);
    for (const std::regex& re : include) exported = exported || std::regex_search(p, re);
    if (!exported) return nullptr;
    std::string name = !id.unit.empty() ? id.unit : p.substr(p.rfind('/') + 1);
    return std::make_shared<const LabelSet>(Labels{{"id", p}, {"name", std::move(name)}});
  };
  return std::unique_ptr<ebpf::CgroupResolver>(
      std::make_unique<ebpf::CgroupIdIndex>(roots, clock, std::move(opts)));
}

}  // namespace
#endif

Result<CollectorSet> MakeCollectors(const AgentConfig& config, const Clock& clock) {
  CollectorSet set;
  set.oom_events = std::make_shared<OomEventHub>();
  const HostPaths paths = HostPaths::Under(config.host_root);
  collector::CgroupCollector* cgroup = nullptr;  // Owned by set.collectors.
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
    cgroup = cg->get();
    set.collectors.push_back(std::move(*cg));
  }
  if (config.node.enabled) {
    for (auto& c : collector::MakeNodeCollectors(paths)) {
      const auto& off = config.node.disabled;
      if (std::find(off.begin(), off.end(), c->Name()) != off.end()) continue;
      set.collectors.push_back(std::move(c));
    }
  }
  // OOM kills come from eBPF when its program is up, else from the cgroup counters; both publish
  // to set.oom_events, and the cgroup collector alone exports container_oom_events_total.
  collector::OomSource oom_source = collector::OomSource::kCgroupCounters;
#if TIDEMARK_HAVE_EBPF
  if (config.ebpf) {
    auto resolver = MakeCgroupResolver(config, paths, clock,
                                       cgroup != nullptr ? cgroup->label_index() : nullptr);
    if (!resolver.ok()) return resolver.status();
    ebpf::EbpfOptions options;
    options.oom_counter = cgroup == nullptr;
    auto adapter =
        std::make_unique<EbpfCollectorAdapter>(std::move(*resolver), paths, clock, options);
    set.ebpf = adapter->get();
    set.ebpf->PublishOom(set.oom_events);
    if (set.ebpf->oom_up()) oom_source = collector::OomSource::kEbpf;
    set.collectors.push_back(std::move(adapter));
  }
#endif
  if (cgroup != nullptr) cgroup->SetOomEvents(set.oom_events, oom_source);
  return set;
}

}  // namespace tidemark::agent
