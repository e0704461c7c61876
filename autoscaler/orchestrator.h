// The orchestrator a policy scales through: Docker Swarm services, Kubernetes Deployments and
// StatefulSets (the scale subresource). One interface so the recommender and the controller never
// see which.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark::autoscaler {

struct ScaleTarget {
  std::string kind;        // "SwarmService", "Deployment" or "StatefulSet".
  std::string namespace_;  // Kubernetes namespace; "" for Swarm.
  std::string name;        // Service / workload name.
  // "swarm service web", "deployment default/web", for messages and labels.
  std::string Describe() const;
};

// One replica (Swarm task, Kubernetes pod) of the target.
struct Replica {
  std::string name;  // Task id or pod name.
  // Full ids of its containers when known (they join with the container_* series). A Kubernetes
  // pod's are its containers and sidecars (restartable init containers); its CPU is their sum.
  std::vector<std::string> container_ids;
  std::string node;        // Node name or id; "" when unknown.
  bool running = false;    // Swarm task state running / pod phase Running.
  bool ready = false;      // Running and passing its health/readiness check (when it has one).
  int64_t started_ms = 0;  // When it started running; 0 when unknown.
  std::string message;     // Why it is not running/ready (e.g. "no suitable node"), else "".
  // The replica's CPU request and limit in cores, summed over its containers; 0 when any of
  // them has none (then utilisation against that basis cannot be computed, as in the HPA).
  double cpu_request_cores = 0;
  double cpu_limit_cores = 0;
  // Last change of `ready` (Kubernetes Ready.LastTransitionTime); 0 when unknown. The recommender
  // uses it for CPU's initial-readiness rules.
  int64_t ready_changed_ms = 0;
  bool failed = false;  // Failed or shutting down: ignored by the recommender (HPA: ignored pods).
};

struct ScaleState {
  int32_t desired = 0;            // Replicas in the spec (what was last asked for).
  std::vector<Replica> replicas;  // The current replicas, including pending/failed ones.
  // CPU per replica for replicas that carry neither cpu_request_cores nor cpu_limit_cores (recorded
  // metrics in `simulate`, tests); real clients fill the per-replica fields.
  double cpu_cores_per_replica = 0;
  std::string version;  // Swarm Version.Index / Kubernetes resourceVersion, for logs.
};

// Thread-compatible: one controller thread uses an instance. Errors: NotFound (no such target),
// Unavailable (API unreachable, timeouts, 5xx, conflicts that outlived the retries),
// InvalidArgument (rejected spec, 4xx with the API's message), Internal (401 bad credentials; a
// 403 names the missing RBAC permission).
class Orchestrator {
 public:
  virtual ~Orchestrator() = default;
  virtual std::string Name() const = 0;  // "docker-swarm", "kubernetes"
  virtual Result<ScaleState> GetScale(const ScaleTarget& target) = 0;
  // Sets the desired replica count, retrying on write conflicts (Swarm "update out of sequence",
  // Kubernetes 409) a few times against a freshly read object.
  virtual Status SetReplicas(const ScaleTarget& target, int32_t replicas) = 0;
};

// Helpers shared by the orchestrator clients.
// RFC 3339 UTC or with offset, fractional seconds optional ("2026-11-22T10:24:42.97368Z") → Unix
// milliseconds; 0 for "", Go's zero time "0001-01-01T00:00:00Z" or anything unparsable.
int64_t ParseApiTimeMillis(std::string_view s);
// Percent-encodes everything but RFC 3986 unreserved characters (query values, path segments).
std::string PercentEncode(std::string_view s);

}  // namespace tidemark::autoscaler
