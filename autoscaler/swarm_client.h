// Docker Swarm services through the Engine API (unix socket or TCP): the API version negotiated
// once, services read and updated with their full spec and version, replicas from their tasks.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "autoscaler/orchestrator.h"
#include "common/http_client.h"

namespace tidemark::autoscaler {

// The newest Engine API version this client speaks; it uses min(this, the engine's ApiVersion).
inline constexpr char kSwarmClientApiVersion[] = "1.47";

struct SwarmClientOptions {
  // "unix:///var/run/docker.sock", "/path/docker.sock" or "tcp://host:port" (plain HTTP).
  // Default: unix:///var/run/docker.sock
  std::string endpoint = "unix:///var/run/docker.sock";
  // Update attempts per SetReplicas while the engine answers "update out of sequence" (each
  // re-reads the service). Default: 5
  int max_attempts = 5;
  // Backoff before attempt k (k ≥ 1) is retry_backoff × 2^(k-1). Default: 50 ms.
  std::chrono::milliseconds retry_backoff{50};
  std::chrono::milliseconds request_timeout{10000};  // Per HTTP request. Default: 10 s.
  // How to wait between attempts. Default: std::this_thread::sleep_for.
  std::function<void(std::chrono::milliseconds)> sleep;
  // Test seam, called with the attempt number between each read of the service and its update.
  // Default: none.
  std::function<void(int attempt)> before_update;
};

// Thread-compatible (one controller thread). Errors follow Orchestrator's contract: NotFound for
// an unknown service, Unavailable for a missing socket / unreachable engine / a node that is not
// a swarm manager / 5xx, InvalidArgument for 4xx and global services (which cannot be scaled).
class SwarmClient final : public Orchestrator {
 public:
  // InvalidArgument for an unparsable endpoint; nothing is contacted yet.
  static Result<std::unique_ptr<SwarmClient>> Create(SwarmClientOptions options = {});

  std::string Name() const override { return "docker-swarm"; }
  // desired = Spec.Mode.Replicated.Replicas, version = Version.Index, cpu_cores_per_replica from
  // TaskTemplate.Resources.Limits.NanoCPUs (else Reservations), replicas = the service's tasks
  // whose desired state is running (ordered by slot), pending ones with the scheduler's message.
  Result<ScaleState> GetScale(const ScaleTarget& target) override;
  // Re-reads the service and POSTs its full spec with only the replica count changed, at its
  // Version.Index; retries on "update out of sequence". A no-op when already at `replicas`.
  Status SetReplicas(const ScaleTarget& target, int32_t replicas) override;

  // "1.41": min(kSwarmClientApiVersion, the engine's ApiVersion), asked once (GET /version) and
  // cached after success. Unavailable when the engine cannot be reached; InvalidArgument when it
  // requires a newer API than this client speaks.
  Result<std::string> NegotiatedApiVersion();

 private:
  SwarmClient(HttpClient http, SwarmClientOptions options)
      : http_(std::move(http)), options_(std::move(options)) {}
  // One request to "/v<version><path>"; transport errors become Unavailable naming the engine.
  Result<HttpClientResponse> Call(const std::string& method, const std::string& path,
                                  const std::string& body = "");

  HttpClient http_;
  SwarmClientOptions options_;
  std::string api_version_;  // "" until negotiated.
};

}  // namespace tidemark::autoscaler
