// Owner resolution: every alert leaves with an `owner` label, taken from the alert's own labels
// (the container/pod labels its series carry), then a service-label lookup, then a static regex map
// on service or namespace, then a default. Alerts that already carry `owner` keep it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/alert.h"
#include "common/status.h"

namespace re2 {
class RE2;
}

namespace tidemark::alerting {

// One line of the static map: every non-empty pattern must fully match (RE2, anchored as
// Prometheus' =~); a line with no pattern is rejected.
struct OwnerRule {
  std::string match_service;    // Regex on the alert's service (see AlertService). Default: "".
  std::string match_namespace;  // Regex on the alert's namespace (AlertNamespace). Default: "".
  std::string owner;            // Owner to set; must be non-empty.
};

// Labels of a Docker (Swarm) service by name, e.g. from the Docker API; {} when unknown. Called on
// the Send() thread: it must be quick (a cache), never block on the network.
using ServiceLabelsLookup = std::function<Labels(std::string_view service)>;

struct OwnerOptions {
  // Keys looked up, in order, as the plain label `<key>`, as `container_label_<key>` (Docker
  // labels as the cgroup collector exports them, key sanitized) and as `label_<key>`
  // (kube-state-metrics' pod-label form), then as an alert annotation `<key>`.
  std::vector<std::string> label_keys = {"owner", "team"};  // Default: owner, team
  std::vector<OwnerRule> static_map;                        // Ordered; first match wins.
  std::string default_owner = "unowned";                    // Default: "unowned"
  ServiceLabelsLookup service_labels;                       // Default: none.
};

// The alert's service: label `service`, else Docker's `container_label_com_docker_swarm_service_
// name`, `container_label_com_docker_compose_service`, else `container` (Kubernetes), else `name`
// (the Docker container or systemd unit name of container_* series); "" when none.
std::string_view AlertService(const Labels& labels);
// The alert's namespace: `namespace`, else `container_label_com_docker_stack_namespace`; "".
std::string_view AlertNamespace(const Labels& labels);

// Immutable after Create; thread-safe.
class OwnerResolver {
 public:
  // InvalidArgument naming the entry when a regex does not compile, an owner is empty or a rule
  // has no pattern.
  static Result<std::unique_ptr<OwnerResolver>> Create(OwnerOptions options);
  ~OwnerResolver();

  // The owner the alert gets (its own `owner` label when present).
  std::string Resolve(const Alert& alert) const;
  // Sets the `owner` label (labels stay sorted by name).
  void Apply(Alert* alert) const;

 private:
  struct CompiledRule {
    std::unique_ptr<re2::RE2> service;     // null = any
    std::unique_ptr<re2::RE2> namespace_;  // null = any
    std::string owner;
  };
  explicit OwnerResolver(OwnerOptions options);
  std::string FromKeys(const Labels& labels, const Labels* annotations) const;

  OwnerOptions options_;
  std::vector<CompiledRule> rules_;
};

// Sets label `name` to `value` in a name-sorted label set (inserting or replacing).
void SetLabel(Labels* labels, std::string_view name, std::string value);

}  // namespace tidemark::alerting
