// Container metadata from the Docker Engine API (GET /containers/json over the daemon's unix
// socket), cached and refreshed on a schedule driven by an injected Clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "collector/container_metadata.h"
#include "common/clock.h"
#include "common/host_paths.h"
#include "common/status.h"

namespace tidemark::collector {

struct DockerMetadataOptions {
  // Docker Engine API socket. Default: "" = <HostPaths.root>/var/run/docker.sock.
  std::string socket_path;
  // Full re-list period; containers gone from the list are dropped then. Default: 30 s.
  std::chrono::milliseconds refresh_interval{30000};
  // A Lookup miss re-lists at most once per this interval. Default: 2 s.
  std::chrono::milliseconds min_refresh_interval{2000};
  // Deadline for one /containers/json call. Default: 2 s.
  std::chrono::milliseconds request_timeout{2000};
  // Connect deadline; short so an absent or wedged daemon costs little. Default: 200 ms.
  std::chrono::milliseconds connect_timeout{200};
  // At most one warning per this interval while the daemon is unreachable. Default: 5 min.
  std::chrono::milliseconds log_interval{300000};
};

// Parses the body of GET /containers/json into id → metadata. Names lose their leading '/';
// among several names the one without a further '/' (not a legacy link alias) wins. Entries
// without a string "Id" are skipped; a body that is not a JSON array is InvalidArgument.
Result<std::unordered_map<std::string, ContainerMetadata>> ParseDockerContainerList(
    std::string_view json);

// MetadataProvider over the Docker Engine API. Lookup serves from the cache; the cache is re-listed
// when `refresh_interval` has passed since the last attempt, or on a miss when
// `min_refresh_interval` has; after consecutive failures that miss gap doubles up to
// `refresh_interval`, so a wedged daemon cannot stall every cycle. A failed re-list keeps the
// previous cache and logs a rate-limited warning. Not thread-safe: one collection thread, as
// MetadataProvider says.
class DockerMetadataProvider final : public MetadataProvider {
 public:
  // `clock` must outlive the provider.
  DockerMetadataProvider(const HostPaths& paths, const Clock& clock,
                         DockerMetadataOptions options = {});
  ~DockerMetadataProvider() override;

  std::optional<ContainerMetadata> Lookup(std::string_view id) override;

  // Re-lists now, regardless of the schedule. On error the cache is unchanged.
  Status Refresh();

  const std::string& socket_path() const { return socket_path_; }
  size_t cached_containers() const { return cache_.size(); }
  // Number of /containers/json calls attempted (for tests and self-metrics).
  uint64_t refresh_attempts() const { return refresh_attempts_; }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  bool DueForFullRefresh(TimePoint now) const;
  void RefreshAndLog(TimePoint now);

  const Clock& clock_;
  DockerMetadataOptions options_;
  std::string socket_path_;
  std::unordered_map<std::string, ContainerMetadata> cache_;
  std::optional<TimePoint> last_attempt_;
  std::chrono::steady_clock::duration miss_gap_;  // min_refresh_interval, doubled per failure
  std::optional<TimePoint> last_warning_;
  uint64_t suppressed_warnings_ = 0;
  uint64_t refresh_attempts_ = 0;
  bool healthy_ = true;  // last refresh succeeded (or none tried); flips log "recovered" once
};

}  // namespace tidemark::collector
