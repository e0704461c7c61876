#include "autoscaler/swarm_client.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "autoscaler/internal/api_json.h"

namespace tidemark::autoscaler {

using json = nlohmann::json;
using internal::At;
using internal::StrAt;

namespace {

// "1.41" → {1, 41}; {0, 0} when unparsable.
std::pair<int, int> ParseVersion(const std::string& v) {
  int major = 0, minor = 0;
  if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

// The error for a non-2xx answer about `what` ("swarm service web").
Status EngineError(const std::string& what, const std::string& method, const std::string& path,
                   const HttpClientResponse& r) {
  std::string msg = internal::ErrorMessage(r.body);
  std::string req = " (" + method + " " + path + " -> " + std::to_string(r.status) + ")";
  if (r.status == 404) return Status::NotFound(what + ": no such service: " + msg + req);
  if (r.status == 503) {
    return Status::Unavailable(what + ": this docker engine is not a swarm manager: " + msg + req);
  }
  if (r.status >= 500) return Status::Unavailable(what + ": docker engine error: " + msg + req);
  return Status::InvalidArgument(what + ": rejected by the docker engine: " + msg + req);
}

bool TerminalState(const std::string& s) {
  return s == "complete" || s == "shutdown" || s == "failed" || s == "rejected" || s == "remove" ||
         s == "orphaned";
}

Replica TaskToReplica(const json& task) {
  Replica r;
  r.name = StrAt(task, {"ID"});
  r.node = StrAt(task, {"NodeID"});
  std::string container = StrAt(task, {"Status", "ContainerStatus", "ContainerID"});
  if (!container.empty()) r.container_ids.push_back(std::move(container));
  std::string state = StrAt(task, {"Status", "State"});
  r.running = state == "running";
  // A task with a health check stays "starting" until it passes, so running means ready.
  r.ready = r.running;
  r.failed = TerminalState(state);
  if (r.running) {
    r.started_ms = ParseApiTimeMillis(StrAt(task, {"Status", "Timestamp"}));
    r.ready_changed_ms = r.started_ms;
  } else {
    std::string err = StrAt(task, {"Status", "Err"});
    std::string msg = StrAt(task, {"Status", "Message"});
    r.message = state.empty() ? "unknown state" : state;
    if (!err.empty()) {
      r.message += ": " + err;
    } else if (!msg.empty() && msg != state) {
      r.message += ": " + msg;
    }
  }
  return r;
}

}  // namespace

Result<std::unique_ptr<SwarmClient>> SwarmClient::Create(SwarmClientOptions options) {
  if (!options.sleep) {
    options.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  HttpClientOptions http_opts;
  http_opts.host_header = "docker";
  const std::string& ep = options.endpoint;
  if (ep.rfind("unix://", 0) == 0 || (!ep.empty() && ep[0] == '/')) {
    std::string path = ep[0] == '/' ? ep : ep.substr(7);
    if (path.empty()) return Status::InvalidArgument("docker endpoint \"" + ep + "\": no path");
    return std::unique_ptr<SwarmClient>(
        new SwarmClient(HttpClient::Unix(path, http_opts), std::move(options)));
  }
  if (ep.rfind("tcp://", 0) == 0) {
    std::string hp = ep.substr(6);
    size_t colon = hp.rfind(':');
    int port = colon == std::string::npos ? 0 : std::atoi(hp.c_str() + colon + 1);
    if (colon == 0 || port <= 0 || port > 65535) {
      return Status::InvalidArgument("docker endpoint \"" + ep + "\": expected tcp://host:port");
    }
    std::string host = hp.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    return std::unique_ptr<SwarmClient>(new SwarmClient(
        HttpClient::Tcp(host, static_cast<uint16_t>(port), http_opts), std::move(options)));
  }
  return Status::InvalidArgument("docker endpoint \"" + ep +
                                 "\": expected unix:///path or tcp://host:port");
}

Result<std::string> SwarmClient::NegotiatedApiVersion() {
  if (!api_version_.empty()) return api_version_;
  HttpClientRequest req;
  req.target = "/version";
  req.timeout = options_.request_timeout;
  Result<HttpClientResponse> r = http_.Send(req);
  if (!r.ok()) {
    return Status::Unavailable(
        "docker engine at " + http_.Describe() +
        " unreachable (is dockerd running, is the socket path right?): " + r.status().message());
  }
  if (r->status != 200) {
    return Status::Unavailable("docker engine at " + http_.Describe() + ": GET /version -> " +
                               std::to_string(r->status) + ": " + internal::ErrorMessage(r->body));
  }
  json j = json::parse(r->body, nullptr, false);
  std::string server = StrAt(j, {"ApiVersion"});
  std::string server_min = StrAt(j, {"MinAPIVersion"});
  auto sv = ParseVersion(server);
  if (sv.first == 0) {
    return Status::Unavailable("docker engine at " + http_.Describe() +
                               ": GET /version has no ApiVersion: " + r->body.substr(0, 200));
  }
  auto ours = ParseVersion(kSwarmClientApiVersion);
  std::string use = sv < ours ? server : kSwarmClientApiVersion;
  if (!server_min.empty() && ParseVersion(use) < ParseVersion(server_min)) {
    return Status::InvalidArgument("docker engine at " + http_.Describe() +
                                   " requires API >= " + server_min + "; tidemark speaks up to " +
                                   kSwarmClientApiVersion);
  }
  api_version_ = use;
  return api_version_;
}

Result<HttpClientResponse> SwarmClient::Call(const std::string& method, const std::string& path,
                                             const std::string& body) {
  Result<std::string> v = NegotiatedApiVersion();
  if (!v.ok()) return v.status();
  HttpClientRequest req;
  req.method = method;
  req.target = "/v" + *v + path;
  req.body = body;
  req.timeout = options_.request_timeout;
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  Result<HttpClientResponse> r = http_.Send(req);
  if (!r.ok()) {
    return Status::Unavailable("docker engine at " + http_.Describe() + ": " +
                               r.status().message());
  }
  return r;
}

namespace {
Status CheckKind(const ScaleTarget& t) {
  if (t.kind.empty() || t.kind == "SwarmService") return Status::Ok();
  return Status::InvalidArgument("docker swarm cannot scale a " + t.kind + " (" + t.Describe() +
                                 "); only kind SwarmService");
}
}  // namespace

Result<ScaleState> SwarmClient::GetScale(const ScaleTarget& target) {
  TIDEMARK_RETURN_IF_ERROR(CheckKind(target));
  const std::string what = target.Describe();
  const std::string svc_path = "/services/" + PercentEncode(target.name);
  Result<HttpClientResponse> r = Call("GET", svc_path);
  if (!r.ok()) return r.status();
  if (r->status != 200) return EngineError(what, "GET", svc_path, *r);
  json svc = json::parse(r->body, nullptr, false);
  if (!svc.is_object()) return Status::Unavailable(what + ": service is not JSON");
  ScaleState st;
  const json& replicas = At(svc, {"Spec", "Mode", "Replicated", "Replicas"});
  st.desired = replicas.is_number_integer()
                   ? static_cast<int32_t>(std::min<int64_t>(replicas.get<int64_t>(), INT32_MAX))
                   : 0;
  const json& index = At(svc, {"Version", "Index"});
  st.version = index.is_number_integer() ? std::to_string(index.get<int64_t>()) : "";
  const json& limit = At(svc, {"Spec", "TaskTemplate", "Resources", "Limits", "NanoCPUs"});
  const json& reservation =
      At(svc, {"Spec", "TaskTemplate", "Resources", "Reservations", "NanoCPUs"});
  const double limit_cores =
      limit.is_number() && limit.get<double>() > 0 ? limit.get<double>() / 1e9 : 0;
  const double reserved_cores = reservation.is_number() && reservation.get<double>() > 0
                                    ? reservation.get<double>() / 1e9
                                    : 0;
  st.cpu_cores_per_replica = limit_cores > 0 ? limit_cores : reserved_cores;
  std::string id = StrAt(svc, {"ID"});
  json filters = {{"service", {id.empty() ? target.name : id}}, {"desired-state", {"running"}}};
  const std::string tasks_path = "/tasks?filters=" + PercentEncode(filters.dump());
  r = Call("GET", tasks_path);
  if (!r.ok()) return r.status();
  if (r->status != 200) return EngineError(what, "GET", tasks_path, *r);
  json tasks = json::parse(r->body, nullptr, false);
  if (!tasks.is_array()) return Status::Unavailable(what + ": task list is not a JSON array");
  std::vector<std::pair<int64_t, Replica>> sorted;
  try {
    for (const json& t : tasks) {
      const json& slot = At(t, {"Slot"});
      sorted.emplace_back(slot.is_number_integer() ? slot.get<int64_t>() : 0, TaskToReplica(t));
    }
  } catch (const std::exception& e) {
    return Status::Unavailable(what + ": unexpected task list: " + e.what());
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [slot, rep] : sorted) {
    // Every task runs the service's one spec: its limit and reservation ("request").
    rep.cpu_limit_cores = limit_cores;
    rep.cpu_request_cores = reserved_cores;
    st.replicas.push_back(std::move(rep));
  }
  return st;
}

Status SwarmClient::SetReplicas(const ScaleTarget& target, int32_t replicas) {
  TIDEMARK_RETURN_IF_ERROR(CheckKind(target));
  const std::string what = target.Describe();
  if (replicas < 0) {
    return Status::InvalidArgument(what + ": replicas must be >= 0, got " +
                                   std::to_string(replicas));
  }
  const std::string svc_path = "/services/" + PercentEncode(target.name);
  std::string last;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (attempt > 0) options_.sleep(options_.retry_backoff * (1 << std::min(attempt - 1, 10)));
    Result<HttpClientResponse> r = Call("GET", svc_path);
    if (!r.ok()) return r.status();
    if (r->status != 200) return EngineError(what, "GET", svc_path, *r);
    json svc = json::parse(r->body, nullptr, false);
    const json& index = At(svc, {"Version", "Index"});
    std::string id = StrAt(svc, {"ID"});
    if (!svc.is_object() || !index.is_number_integer() || id.empty() ||
        !At(svc, {"Spec"}).is_object()) {
      return Status::Unavailable(
          what + ": service without ID, Version.Index or Spec: " + r->body.substr(0, 200));
    }
    json spec = svc["Spec"];
    if (!At(spec, {"Mode", "Replicated"}).is_object()) {
      return Status::InvalidArgument(what + ": not a replicated service (mode " +
                                     At(spec, {"Mode"}).dump() + "), cannot set replicas");
    }
    const json& cur = At(spec, {"Mode", "Replicated", "Replicas"});
    if (cur.is_number_integer() && cur.get<int64_t>() == replicas) return Status::Ok();
    spec["Mode"]["Replicated"]["Replicas"] = replicas;
    if (options_.before_update) options_.before_update(attempt);
    const std::string update_path =
        "/services/" + id + "/update?version=" + std::to_string(index.get<int64_t>());
    r = Call("POST", update_path, spec.dump());
    if (!r.ok()) return r.status();
    if (r->status == 200) return Status::Ok();
    std::string msg = internal::ErrorMessage(r->body);
    if (msg.find("update out of sequence") == std::string::npos) {
      return EngineError(what, "POST", update_path, *r);
    }
    last = msg;
  }
  return Status::Unavailable(what + ": scale to " + std::to_string(replicas) + " still \"" + last +
                             "\" after " + std::to_string(options_.max_attempts) + " attempts");
}

}  // namespace tidemark::autoscaler
