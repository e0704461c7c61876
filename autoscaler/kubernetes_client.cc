#include "autoscaler/kubernetes_client.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "autoscaler/internal/api_json.h"
#include "common/file_util.h"

namespace tidemark::autoscaler {

using json = nlohmann::json;
using internal::At;
using internal::StrAt;

struct KubernetesClient::Call {
  std::string method;  // GET, PATCH, PUT
  std::string path;    // incl. query
  std::string content_type;
  std::string body;
  // For messages, RBAC style: verb "get", resource "deployments/scale", group "apps", the object's
  // name ("" for a list) and namespace.
  std::string verb;
  std::string resource;
  std::string group;
  std::string name;
  std::string ns;
};

namespace {

struct ResourceRef {
  std::string plural;  // "deployments"
  std::string group;   // "apps"
};

Result<ResourceRef> ResourceOf(const ScaleTarget& t) {
  if (t.kind == "Deployment") return ResourceRef{"deployments", "apps"};
  if (t.kind == "StatefulSet") return ResourceRef{"statefulsets", "apps"};
  if (t.kind == "ReplicaSet") return ResourceRef{"replicasets", "apps"};
  return Status::InvalidArgument("kubernetes: cannot scale kind \"" + t.kind +
                                 "\" (Deployment, StatefulSet or ReplicaSet)");
}

int32_t ToInt32(const json& j) {
  if (!j.is_number_integer()) return 0;
  int64_t v = j.get<int64_t>();
  return static_cast<int32_t>(std::clamp<int64_t>(v, 0, INT32_MAX));
}

// Replica from a Pod object; *cpu = the sum of its containers' (and sidecars') CPU requests.
Replica PodToReplica(const json& pod, double* cpu) {
  Replica r;
  r.name = StrAt(pod, {"metadata", "name"});
  r.node = StrAt(pod, {"spec", "nodeName"});
  std::string phase = StrAt(pod, {"status", "phase"});
  r.running = phase == "Running";
  r.started_ms = ParseApiTimeMillis(StrAt(pod, {"status", "startTime"}));
  bool terminating = !At(pod, {"metadata", "deletionTimestamp"}).is_null();
  r.failed = phase == "Failed" || phase == "Succeeded" || terminating;
  std::vector<std::string> why;
  for (const json& c : At(pod, {"status", "conditions"})) {
    std::string type = StrAt(c, {"type"});
    std::string status = StrAt(c, {"status"});
    if (type == "Ready") {
      r.ready = r.running && status == "True";
      r.ready_changed_ms = ParseApiTimeMillis(StrAt(c, {"lastTransitionTime"}));
    }
    if (status == "False" && type == "PodScheduled") {
      std::string reason = StrAt(c, {"reason"});
      std::string msg = StrAt(c, {"message"});
      why.push_back(reason + (msg.empty() ? "" : ": " + msg));
    }
  }
  // Sidecars: init containers that keep running (restartPolicy Always), counted like containers
  // for CPU usage and requests, as the HPA does.
  std::set<std::string> sidecars;
  for (const json& c : At(pod, {"spec", "initContainers"})) {
    if (StrAt(c, {"restartPolicy"}) == "Always") sidecars.insert(StrAt(c, {"name"}));
  }
  // The pod's entries under `containers` plus its sidecars' under `init` (specs or statuses).
  auto with_sidecars = [&](std::initializer_list<const char*> containers,
                           std::initializer_list<const char*> init) {
    std::vector<const json*> out;
    for (const json& c : At(pod, containers)) out.push_back(&c);
    for (const json& c : At(pod, init)) {
      if (sidecars.count(StrAt(c, {"name"}))) out.push_back(&c);
    }
    return out;
  };
  const std::vector<const json*> statuses =
      with_sidecars({"status", "containerStatuses"}, {"status", "initContainerStatuses"});
  for (const json* csp : statuses) {
    const json& cs = *csp;
    std::string id = StrAt(cs, {"containerID"});
    size_t scheme = id.find("://");
    if (!id.empty())
      r.container_ids.push_back(scheme == std::string::npos ? id : id.substr(scheme + 3));
    const json& waiting = At(cs, {"state", "waiting"});
    if (waiting.is_object()) {
      std::string reason = StrAt(waiting, {"reason"});
      std::string msg = StrAt(waiting, {"message"});
      if (!reason.empty()) {
        why.push_back("container " + StrAt(cs, {"name"}) + " " + reason +
                      (msg.empty() ? "" : ": " + msg));
      }
    }
  }
  if (terminating) why.push_back("terminating");
  if (phase == "Failed") {
    std::string reason = StrAt(pod, {"status", "reason"});
    std::string msg = StrAt(pod, {"status", "message"});
    why.push_back("Failed" + (reason.empty() ? "" : " " + reason) +
                  (msg.empty() ? "" : ": " + msg));
  }
  if (why.empty() && !r.ready && r.running) why.push_back("running, not Ready");
  if (why.empty() && phase == "Pending") why.push_back("Pending");
  if (!r.ready) {
    for (size_t i = 0; i < why.size(); ++i) r.message += (i ? "; " : "") + why[i];
  }
  // The pod's CPU is the sum over all its containers: while one of them has no container yet
  // (no ID, or no status at all), the pod has no usage to measure, never the partial sum.
  const std::vector<const json*> specs =
      with_sidecars({"spec", "containers"}, {"spec", "initContainers"});
  if (r.container_ids.size() < std::max(specs.size(), statuses.size())) r.container_ids.clear();
  double total = 0, limits = 0;
  bool all_requests = true, all_limits = true;
  for (const json* cp : specs) {
    const json& c = *cp;
    std::optional<double> q = ParseCpuQuantity(StrAt(c, {"resources", "requests", "cpu"}));
    std::optional<double> l = ParseCpuQuantity(StrAt(c, {"resources", "limits", "cpu"}));
    // Kubernetes defaults a missing request to the limit.
    if (!q && l) q = l;
    if (q) total += *q;
    all_requests = all_requests && q.has_value();
    if (l) limits += *l;
    all_limits = all_limits && l.has_value();
  }
  r.cpu_request_cores = all_requests ? total : 0;
  r.cpu_limit_cores = all_limits ? limits : 0;
  *cpu = total;
  return r;
}

}  // namespace

std::optional<double> ParseCpuQuantity(std::string_view q) {
  if (q.empty()) return std::nullopt;
  double scale = 1;
  char last = q.back();
  if (last == 'm') scale = 1e-3;
  if (last == 'u') scale = 1e-6;
  if (last == 'n') scale = 1e-9;
  if (last == 'k') scale = 1e3;
  if (scale != 1 || last == 'k') q.remove_suffix(1);
  if (q.empty()) return std::nullopt;
  std::string s(q);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || v < 0 || !(v == v)) return std::nullopt;
  for (char c : s) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.')) return std::nullopt;
  }
  return v * scale;
}

Result<std::unique_ptr<KubernetesClient>> KubernetesClient::Create(
    KubeConfig config, KubernetesClientOptions options) {
  if (config.host.empty()) return Status::InvalidArgument("kubernetes: no API server host");
  if (!options.sleep) {
    options.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  if (!config.https) {
    HttpClient http = HttpClient::Tcp(config.host, config.port);
    return std::unique_ptr<KubernetesClient>(
        new KubernetesClient(std::move(config), std::move(http), std::move(options)));
  }
  Result<HttpClient> http = HttpClient::Https(config.host, config.port, config.tls);
  if (!http.ok()) {
    return Status::InvalidArgument("kubernetes (" + config.source +
                                   "): " + http.status().message());
  }
  return std::unique_ptr<KubernetesClient>(
      new KubernetesClient(std::move(config), std::move(*http), std::move(options)));
}

Result<HttpClientResponse> KubernetesClient::Do(const Call& call) {
  HttpClientRequest req;
  req.method = call.method;
  req.target = config_.path_prefix + call.path;
  req.body = call.body;
  req.timeout = options_.request_timeout;
  req.headers.emplace_back("Accept", "application/json");
  if (!call.content_type.empty()) req.headers.emplace_back("Content-Type", call.content_type);
  std::string token = config_.token;
  if (!config_.token_file.empty()) {
    Result<std::string> t = ReadFile(config_.token_file);  // Rotated by the kubelet.
    if (t.ok()) {
      std::string s = *t;
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
      if (!s.empty()) token = s;
    }
  }
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);

  Result<HttpClientResponse> r = http_.Send(req);
  if (!r.ok()) {
    return Status::Unavailable("kubernetes API " + http_.Describe() + " (" + config_.source +
                               "): " + r.status().message());
  }
  int code = r->status;
  if (code >= 200 && code < 300) return r;

  std::string what;
  {
    // "deployments.apps/scale" as kubectl and the API's messages spell it.
    std::string base = call.resource;
    std::string sub;
    size_t slash = base.find('/');
    if (slash != std::string::npos) {
      sub = base.substr(slash);
      base = base.substr(0, slash);
    }
    what = base + (call.group.empty() ? "" : "." + call.group) + sub;
  }
  std::string object = what + (call.name.empty() ? "" : " \"" + call.name + "\"") +
                       " in namespace \"" + call.ns + "\"";
  std::string server = internal::ErrorMessage(r->body);
  std::string where = " (" + call.method + " " + call.path + ")";
  switch (code) {
    case 401:
      return Status::Internal(object + ": unauthorized (401): the API server rejected the " +
                              std::string(token.empty() ? "anonymous request (no token configured)"
                                                        : "bearer token (expired or revoked?)") +
                              "; server: " + server);
    case 403:
      return Status::Internal(object + ": forbidden: need verb \"" + call.verb +
                              "\" on resource \"" + call.resource + "\" in API group \"" +
                              call.group + "\"" + (call.group.empty() ? " (core)" : "") +
                              "; server: " + server);
    case 404:
      return Status::NotFound(object + " not found" + where + ": " + server);
    case 409:
      return Status::AlreadyExists(object + ": conflict (409): " + server);  // Retried by callers.
    case 429:
      return Status::Unavailable(object + ": too many requests (429), back off: " + server);
    default:
      break;
  }
  if (code >= 500) {
    return Status::Unavailable(object + ": server error " + std::to_string(code) + where + ": " +
                               server);
  }
  return Status::InvalidArgument(object + ": rejected with " + std::to_string(code) + where + ": " +
                                 server);
}

Result<KubeScale> KubernetesClient::ReadScale(const ScaleTarget& target) {
  Result<ResourceRef> res = ResourceOf(target);
  if (!res.ok()) return res.status();
  Call call;
  call.ns = target.namespace_.empty() ? config_.namespace_ : target.namespace_;
  call.name = target.name;
  call.method = "GET";
  call.verb = "get";
  call.group = res->group;
  call.resource = res->plural + "/scale";
  call.path = "/apis/" + res->group + "/v1/namespaces/" + PercentEncode(call.ns) + "/" +
              res->plural + "/" + PercentEncode(target.name) + "/scale";
  Result<HttpClientResponse> r = Do(call);
  if (!r.ok()) return r.status();
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) {
    return Status::Unavailable(target.Describe() +
                               ": scale response is not JSON: " + r->body.substr(0, 200));
  }
  KubeScale s;
  s.spec_replicas = ToInt32(At(j, {"spec", "replicas"}));
  s.status_replicas = ToInt32(At(j, {"status", "replicas"}));
  s.selector = StrAt(j, {"status", "selector"});
  s.resource_version = StrAt(j, {"metadata", "resourceVersion"});
  s.uid = StrAt(j, {"metadata", "uid"});
  return s;
}

Result<std::vector<Replica>> KubernetesClient::ListPods(const std::string& ns,
                                                        const std::string& selector,
                                                        double* cpu_request) {
  Call call;
  call.ns = ns;
  call.method = "GET";
  call.verb = "list";
  call.resource = "pods";
  call.path =
      "/api/v1/namespaces/" + PercentEncode(ns) + "/pods?labelSelector=" + PercentEncode(selector);
  Result<HttpClientResponse> r = Do(call);
  if (!r.ok()) return r.status();
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !At(j, {"items"}).is_array()) {
    return Status::Unavailable("pods in namespace \"" + ns + "\": list response is not a PodList");
  }
  std::vector<Replica> out;
  double max_cpu = 0;
  try {
    for (const json& pod : j["items"]) {
      double cpu = 0;
      out.push_back(PodToReplica(pod, &cpu));
      max_cpu = std::max(max_cpu, cpu);
    }
  } catch (const std::exception& e) {
    return Status::Unavailable("pods in namespace \"" + ns + "\": unexpected PodList: " + e.what());
  }
  if (cpu_request != nullptr) *cpu_request = max_cpu;
  return out;
}

Result<ScaleState> KubernetesClient::GetScale(const ScaleTarget& target) {
  Result<KubeScale> scale = ReadScale(target);
  if (!scale.ok()) return scale.status();
  ScaleState st;
  st.desired = scale->spec_replicas;
  st.version = scale->resource_version;
  if (scale->selector.empty()) {
    // Without a selector the pods cannot be told apart; an empty selector would list them all.
    return st;
  }
  std::string ns = target.namespace_.empty() ? config_.namespace_ : target.namespace_;
  Result<std::vector<Replica>> pods = ListPods(ns, scale->selector, &st.cpu_cores_per_replica);
  if (!pods.ok()) return pods.status();
  st.replicas = std::move(*pods);
  return st;
}

Status KubernetesClient::SetReplicas(const ScaleTarget& target, int32_t replicas) {
  if (replicas < 0) {
    return Status::InvalidArgument(target.Describe() + ": replicas must be >= 0, got " +
                                   std::to_string(replicas));
  }
  Result<ResourceRef> res = ResourceOf(target);
  if (!res.ok()) return res.status();
  Call call;
  call.ns = target.namespace_.empty() ? config_.namespace_ : target.namespace_;
  call.name = target.name;
  call.group = res->group;
  call.resource = res->plural + "/scale";
  call.path = "/apis/" + res->group + "/v1/namespaces/" + PercentEncode(call.ns) + "/" +
              res->plural + "/" + PercentEncode(target.name) + "/scale";
  Status last;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (attempt > 0) options_.sleep(options_.retry_backoff * (1 << std::min(attempt - 1, 10)));
    if (options_.update == KubernetesClientOptions::Update::kPut) {
      Result<KubeScale> cur = ReadScale(target);
      if (!cur.ok()) return cur.status();
      if (cur->spec_replicas == replicas) return Status::Ok();
      json body = {{"apiVersion", "autoscaling/v1"},
                   {"kind", "Scale"},
                   {"metadata",
                    {{"name", target.name},
                     {"namespace", call.ns},
                     {"resourceVersion", cur->resource_version}}},
                   {"spec", {{"replicas", replicas}}}};
      if (!cur->uid.empty()) body["metadata"]["uid"] = cur->uid;
      call.method = "PUT";
      call.verb = "update";
      call.content_type = "application/json";
      call.body = body.dump();
    } else {
      call.method = "PATCH";
      call.verb = "patch";
      call.content_type = "application/merge-patch+json";
      call.body = json{{"spec", {{"replicas", replicas}}}}.dump();
    }
    Result<HttpClientResponse> r = Do(call);
    if (r.ok()) return Status::Ok();
    if (r.status().code() != StatusCode::kAlreadyExists) return r.status();
    last = r.status();
  }
  return Status::Unavailable(target.Describe() + ": scale to " + std::to_string(replicas) +
                             " still conflicted after " + std::to_string(options_.max_attempts) +
                             " attempts: " + last.message());
}

}  // namespace tidemark::autoscaler
