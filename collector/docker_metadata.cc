#include "collector/docker_metadata.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/http_client.h"

namespace tidemark::collector {

namespace {

std::string PickName(const nlohmann::json& names) {
  if (!names.is_array()) return "";
  std::string fallback;
  for (const nlohmann::json& n : names) {
    if (!n.is_string()) continue;
    std::string_view s = n.get_ref<const std::string&>();
    if (!s.empty() && s.front() == '/') s.remove_prefix(1);
    if (fallback.empty()) fallback = std::string(s);
    // Legacy links add aliases such as "/other/alias"; the container's own name has no '/'.
    if (s.find('/') == std::string_view::npos) return std::string(s);
  }
  return fallback;
}

}  // namespace

Result<std::unordered_map<std::string, ContainerMetadata>> ParseDockerContainerList(
    std::string_view json) {
  try {
    nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end());
    if (!doc.is_array()) {
      return Status::InvalidArgument("docker /containers/json: expected a JSON array, got " +
                                     std::string(doc.type_name()));
    }
    std::unordered_map<std::string, ContainerMetadata> out;
    out.reserve(doc.size());
    for (const nlohmann::json& c : doc) {
      if (!c.is_object()) continue;
      auto id = c.find("Id");
      if (id == c.end() || !id->is_string()) continue;
      ContainerMetadata m;
      if (auto names = c.find("Names"); names != c.end()) m.name = PickName(*names);
      if (auto image = c.find("Image"); image != c.end() && image->is_string()) {
        m.image = image->get<std::string>();
      }
      if (auto labels = c.find("Labels"); labels != c.end() && labels->is_object()) {
        for (const auto& [k, v] : labels->items()) {
          if (v.is_string()) m.labels.emplace(k, v.get<std::string>());
        }
      }
      out.insert_or_assign(id->get<std::string>(), std::move(m));
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("docker /containers/json: bad JSON: ") + e.what());
  }
}

DockerMetadataProvider::DockerMetadataProvider(const HostPaths& paths, const Clock& clock,
                                               DockerMetadataOptions options)
    : clock_(clock), options_(std::move(options)), miss_gap_(options_.min_refresh_interval) {
  socket_path_ = options_.socket_path;
  if (socket_path_.empty()) {
    std::string root = paths.root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    socket_path_ = (root == "/" ? "" : root) + "/var/run/docker.sock";
  }
}

DockerMetadataProvider::~DockerMetadataProvider() = default;

Status DockerMetadataProvider::Refresh() {
  ++refresh_attempts_;
  HttpClientOptions http_options;
  http_options.connect_timeout = options_.connect_timeout;
  http_options.host_header = "docker";
  HttpClient client = HttpClient::Unix(socket_path_, http_options);
  // Unversioned path: the daemon answers in its own API version, so no negotiation is needed
  // for this read-only call (pinning an old version breaks on Docker ≥ 29, see autoscaling.md §10).
  Result<HttpClientResponse> res = client.Get("/containers/json", options_.request_timeout);
  if (!res.ok()) return res.status();
  if (res->status != 200) {
    return Status::Unavailable("docker " + client.Describe() + " /containers/json: HTTP " +
                               std::to_string(res->status) + ": " + res->body.substr(0, 200));
  }
  Result<std::unordered_map<std::string, ContainerMetadata>> parsed =
      ParseDockerContainerList(res->body);
  if (!parsed.ok()) return parsed.status();
  cache_ = std::move(parsed).value();
  return Status::Ok();
}

bool DockerMetadataProvider::DueForFullRefresh(TimePoint now) const {
  return !last_attempt_ || now - *last_attempt_ >= options_.refresh_interval;
}

void DockerMetadataProvider::RefreshAndLog(TimePoint now) {
  last_attempt_ = now;
  Status st = Refresh();
  if (st.ok()) {
    if (!healthy_) {
      spdlog::info("docker metadata: {} answers again ({} containers)", socket_path_,
                   cache_.size());
    }
    healthy_ = true;
    miss_gap_ = options_.min_refresh_interval;
    return;
  }
  healthy_ = false;
  miss_gap_ = std::min<std::chrono::steady_clock::duration>(
      std::max<std::chrono::steady_clock::duration>(miss_gap_ * 2, options_.min_refresh_interval),
      options_.refresh_interval);
  if (!last_warning_ || now - *last_warning_ >= options_.log_interval) {
    // Docker missing is normal on containerd-only nodes: warn, but rarely.
    spdlog::warn(
        "docker metadata unavailable (keeping {} cached containers; {} similar messages "
        "suppressed): {}",
        cache_.size(), suppressed_warnings_, st.ToString());
    last_warning_ = now;
    suppressed_warnings_ = 0;
  } else {
    ++suppressed_warnings_;
  }
}

std::optional<ContainerMetadata> DockerMetadataProvider::Lookup(std::string_view id) {
  TimePoint now = clock_.MonotonicNow();
  if (DueForFullRefresh(now)) RefreshAndLog(now);
  auto it = cache_.find(std::string(id));
  if (it != cache_.end()) return it->second;
  if (now - *last_attempt_ < miss_gap_) return std::nullopt;
  RefreshAndLog(now);
  it = cache_.find(std::string(id));
  if (it != cache_.end()) return it->second;
  return std::nullopt;
}

}  // namespace tidemark::collector
