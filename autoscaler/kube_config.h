// Where and how to reach a Kubernetes API server: from the pod's service account (in-cluster) or
// from a kubeconfig file. Pure loading; nothing here talks to the network.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_client.h"
#include "common/status.h"

namespace tidemark::autoscaler {

inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

struct KubeConfig {
  std::string host;  // API server host name or IP literal (no brackets).
  uint16_t port = 443;
  bool https = true;  // false only for an explicit http:// server (tests, kubectl proxy).
  // The server URL's path, put before every API path: an API server behind a proxy
  // (https://rancher/k8s/clusters/c-x). "" or "/x/y" without a trailing slash.
  std::string path_prefix;
  HttpTlsOptions tls;
  std::string token;       // Bearer token; "" = none (client certificate or anonymous).
  std::string token_file;  // When set, re-read before every request (projected tokens rotate).
  std::string namespace_ = "default";  // For targets without a namespace.
  std::string source;  // "in-cluster service account", "kubeconfig /path (context x)".
};

// Environment lookup; nullopt when unset. Production passes GetEnv.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> GetEnv(const std::string& name);

// In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT(_HTTPS), the token, ca.crt
// and namespace under `service_account_dir`. InvalidArgument naming the missing variable or file.
Result<KubeConfig> LoadInClusterConfig(const EnvLookup& env,
                                       const std::string& service_account_dir = kServiceAccountDir);

// A kubeconfig file (kubectl's format): `context` or else current-context → cluster (server,
// certificate-authority[-data], insecure-skip-tls-verify, tls-server-name) and user (token,
// tokenFile, client-certificate[-data], client-key[-data]). Relative paths are relative to the
// file. InvalidArgument "<path>: <what>" for unreadable files, missing entries, exec/auth-provider
// users (unsupported) and bad base64.
Result<KubeConfig> LoadKubeConfigFile(const std::string& path, const std::string& context = "");
// The same on text; `base_dir` resolves relative paths, `source` names it in errors.
Result<KubeConfig> ParseKubeConfig(std::string_view yaml, const std::string& source,
                                   const std::string& base_dir, const std::string& context = "");

// "https://host:port", "http://host", "https://[::1]:6443" → host, port, https.
Status ParseServerUrl(std::string_view url, KubeConfig* out);

}  // namespace tidemark::autoscaler
