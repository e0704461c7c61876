// Kubernetes through the scale subresource of Deployments, StatefulSets and ReplicaSets
// (/apis/apps/v1/namespaces/{ns}/{resource}/{name}/scale) and the pods its status.selector picks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autoscaler/kube_config.h"
#include "autoscaler/orchestrator.h"
#include "common/http_client.h"

namespace tidemark::autoscaler {

// The Scale object (autoscaling/v1) as read.
struct KubeScale {
  int32_t spec_replicas = 0;    // What was asked for.
  int32_t status_replicas = 0;  // Pods that exist, ready or not.
  std::string selector;         // status.selector, e.g. "app=web"; "" when the API gave none.
  std::string resource_version;
  std::string uid;
};

struct KubernetesClientOptions {
  enum class Update { kMergePatch, kPut };
  // kMergePatch: PATCH application/merge-patch+json {"spec":{"replicas":N}} (no precondition).
  // kPut: PUT the Scale read just before, with its resourceVersion (409 when it went stale).
  // Default: kMergePatch.
  Update update = Update::kMergePatch;
  int max_attempts = 4;  // Writes tried per SetReplicas when they get 409 Conflict. Default: 4
  // Backoff before attempt k (k ≥ 1) is retry_backoff × 2^(k-1). Default: 100 ms.
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds request_timeout{10000};  // Per HTTP request. Default: 10 s.
  // How to wait between attempts. Default: std::this_thread::sleep_for; tests record instead.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Thread-compatible (one controller thread). Errors follow Orchestrator's contract; a 403 names
// the verb, resource and API group the service account lacks, plus the server's message.
class KubernetesClient final : public Orchestrator {
 public:
  // Builds the HTTP(S) client (loads certificates): InvalidArgument on a bad TLS configuration.
  static Result<std::unique_ptr<KubernetesClient>> Create(KubeConfig config,
                                                          KubernetesClientOptions options = {});

  std::string Name() const override { return "kubernetes"; }
  // Scale (desired = spec.replicas, version = resourceVersion) plus the pods matching
  // status.selector as replicas; cpu_cores_per_replica from the pods' containers' CPU requests.
  Result<ScaleState> GetScale(const ScaleTarget& target) override;
  Status SetReplicas(const ScaleTarget& target, int32_t replicas) override;

  Result<KubeScale> ReadScale(const ScaleTarget& target);
  // Pods of `ns` matching `selector`, as replicas; *cpu_request (cores per pod, max over pods)
  // when non-null.
  Result<std::vector<Replica>> ListPods(const std::string& ns, const std::string& selector,
                                        double* cpu_request);

 private:
  KubernetesClient(KubeConfig config, HttpClient http, KubernetesClientOptions options)
      : config_(std::move(config)), http_(std::move(http)), options_(std::move(options)) {}

  struct Call;  // One API request and what it is about, for messages.
  Result<HttpClientResponse> Do(const Call& call);

  KubeConfig config_;
  HttpClient http_;
  KubernetesClientOptions options_;
};

// Kubernetes CPU quantities: "250m" → 0.25, "1" → 1, "0.5" → 0.5, "1500u"/"2000000n" too.
// nullopt for anything else.
std::optional<double> ParseCpuQuantity(std::string_view q);

}  // namespace tidemark::autoscaler
