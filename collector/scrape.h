// Scraping application targets (Prometheus text 0.0.4 / OpenMetrics endpoints) with Prometheus
// 2.42's semantics: scrape_config options and limits, static and Docker-label discovery, target
// labels with honor_labels, the synthetic up/scrape_* series and staleness markers.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/labels.h"
#include "common/status.h"

namespace tidemark::collector {

// How one target is scraped (Prometheus' scrape_config fields of the same names).
struct ScrapeOptions {
  std::chrono::milliseconds interval{0};  // 0 = the agent's interval. Default: 0
  std::chrono::milliseconds timeout{0};   // 0 = min(interval, 10s). Default: 0
  size_t sample_limit =
      50000;               // Samples per scrape; past it the scrape fails. 0 = none. Default: 50000
  size_t label_limit = 0;  // Labels per series (with __name__); 0 = none. Default: 0
  size_t label_name_length_limit = 0;   // Bytes; 0 = none. Default: 0
  size_t label_value_length_limit = 0;  // Bytes; 0 = none. Default: 0
  uint64_t body_size_limit = 0;         // Bytes; 0 = none (64 MiB hard cap). Default: 0
  bool honor_labels = false;            // Default: false (clashes become exported_<name>)
  bool honor_timestamps = true;         // Default: true (exposed timestamps are kept)
};

using ScrapeParams = std::vector<std::pair<std::string, std::string>>;

struct StaticTargets {
  std::vector<std::string> targets;  // host:port
  Labels labels;                     // Added to every target of the group.
};

struct ScrapeJob {
  std::string job_name;
  ScrapeOptions options;                  // Section defaults overridden by the job's keys.
  std::string scheme = "http";            // Only http. Default: http
  std::string metrics_path = "/metrics";  // Default: /metrics
  ScrapeParams params;                    // URL query parameters. Default: none
  std::vector<StaticTargets> static_configs;
};

// Containers whose labels say prometheus.io/scrape=true (or prometheus.io.scrape=true).
struct DockerSdConfig {
  bool enabled = false;                              // Default: false
  std::chrono::milliseconds refresh_interval{5000};  // Container re-list period. Default: 5s
  // Network whose IP address is scraped. Default: "" = the first one (by name) with an address.
  std::string network;
  // Scrape the host port published for the metrics port instead of the container's IP. Default:
  // false (the published port is used only when the container has no IP address).
  bool use_published_port = false;
  // Job of every discovered target. Default: "" = label prometheus.io/job, else the Swarm or
  // Compose service, else the container name.
  std::string job;
  std::string metrics_path = "/metrics";  // When prometheus.io/path is absent. Default: /metrics
  ScrapeOptions options;                  // Section defaults overridden by docker_sd's keys.
};

struct ScrapeConfig {
  ScrapeOptions defaults;
  size_t max_concurrency = 4;  // Scrapes running at once (worker threads, 1–64). Default: 4
  std::vector<ScrapeJob> jobs;
  DockerSdConfig docker_sd;
  bool empty() const { return jobs.empty() && !docker_sd.enabled; }
};

// One endpoint to scrape with its resolved options (interval and timeout never 0).
struct ScrapeTarget {
  std::string job;
  std::string scheme = "http";
  std::string address;  // host:port or [v6]:port
  std::string metrics_path = "/metrics";
  ScrapeParams params;
  // Target labels: job, instance (= address unless set) and the configured/discovered ones,
  // sorted by name, no empty values, no "__" names.
  Labels labels;
  ScrapeOptions options;

  // Identity: two targets with the same key are the same scrape loop.
  std::string Key() const;
  // Origin-form request target: metrics_path plus the URL-encoded params.
  std::string RequestTarget() const;
};

// Fills interval (0 → agent_interval) and timeout (0 → min(interval, 10s)).
ScrapeOptions ResolveOptions(ScrapeOptions options, std::chrono::milliseconds agent_interval);
// InvalidArgument naming `key` when the options are inconsistent (timeout > interval, ...).
Status ValidateScrapeOptions(const ScrapeOptions& options, const std::string& key);
// InvalidArgument "<key>: why" for a bad job list, targets, labels, paths or schemes; intervals
// left at 0 are checked as `agent_interval`.
Status ValidateScrapeConfig(const ScrapeConfig& config, const std::string& key,
                            std::chrono::milliseconds agent_interval);

// The targets of every job's static_configs, in config order.
std::vector<ScrapeTarget> BuildStaticTargets(const ScrapeConfig& config,
                                             std::chrono::milliseconds agent_interval);

// A running container as GET /containers/json lists it, with what discovery needs.
struct DockerContainer {
  std::string id;
  std::string name;  // Without the leading '/'.
  std::string image;
  std::string state;         // "running", ...
  std::string network_mode;  // HostConfig.NetworkMode: "host", "bridge", "default", ...
  std::map<std::string, std::string> labels;
  std::vector<std::pair<std::string, std::string>> networks;  // (network name, IPv4), by name.
  struct Port {
    std::string ip;  // Host IP of a published port, e.g. 0.0.0.0; "" when not published.
    uint16_t private_port = 0;
    uint16_t public_port = 0;  // 0 when not published.
    std::string type;          // tcp | udp
  };
  std::vector<Port> ports;
};

// Parses the body of GET /containers/json. InvalidArgument when it is not a JSON array;
// malformed entries are skipped.
Result<std::vector<DockerContainer>> ParseDockerContainers(std::string_view json);

// GET /containers/json over the Docker Engine API socket at `socket_path`, parsed.
// Unavailable/IoError when the daemon cannot be reached or answers with an error.
Result<std::vector<DockerContainer>> ListDockerContainers(const std::string& socket_path,
                                                          std::chrono::milliseconds timeout);

struct DockerTargets {
  std::vector<ScrapeTarget> targets;
  std::vector<std::string> skipped;  // "container web.1: why", for containers asking to be
                                     // scraped that cannot be.
};
// Targets of the containers whose labels ask for it: port from prometheus.io/port (or the only
// exposed TCP port), path from prometheus.io/path, address from the container's network or a
// published port; labels container, image, service, stack (when known).
DockerTargets BuildDockerTargets(const std::vector<DockerContainer>& containers,
                                 const DockerSdConfig& config,
                                 std::chrono::milliseconds agent_interval);

// Merges target labels into a scraped series' labels (both sorted by name) as Prometheus does:
// with honor_labels the series' own values win; without, the target's win and a clashing series
// label is kept as exported_<name> (exported_exported_<name> if that is taken too, ...).
void MergeTargetLabels(const Labels& target, bool honor_labels, Labels* series);

// The text format a Content-Type selects: OpenMetrics for application/openmetrics-text, else
// text 0.0.4 (as Prometheus' textparse.New).
bool IsOpenMetricsContentType(std::string_view content_type);
// The Accept header Prometheus 2.42 sends.
inline constexpr std::string_view kScrapeAcceptHeader =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

// Where scraped samples go (the agent's store). One per scrape, used by one thread; dropping it
// without Commit() discards what was added.
class ScrapeAppender {
 public:
  virtual ~ScrapeAppender() = default;
  // `labels` sorted by name, with __name__. Returns a ref for AddRef, 0 when the store refused
  // the series (counted by the store).
  virtual uint64_t Add(const Labels& labels, int64_t t_ms, double v) = 0;
  // False when the ref is no longer known (the caller then uses Add).
  virtual bool AddRef(uint64_t ref, int64_t t_ms, double v) = 0;
  // Prometheus' staleness marker for the series.
  virtual void AddStale(uint64_t ref, int64_t t_ms) = 0;
  virtual Status Commit() = 0;
};

// Thread-safe factory of appenders.
class ScrapeStore {
 public:
  virtual ~ScrapeStore() = default;
  virtual std::unique_ptr<ScrapeAppender> NewAppender() = 0;
};

struct ScrapeResponse {
  std::string body;
  std::string content_type;
};

// Fetches one target's exposition. Thread-safe. Unavailable/IoError/ResourceExhausted with the
// reason (connection refused, timeout, HTTP status, body size limit).
class ScrapeFetcher {
 public:
  virtual ~ScrapeFetcher() = default;
  virtual Result<ScrapeResponse> Fetch(const ScrapeTarget& target) = 0;
};

// Over HTTP with common/http_client.h: Prometheus' Accept header, the target's timeout and body
// size limit, X-Prometheus-Scrape-Timeout-Seconds. Non-200 answers are errors.
class HttpScrapeFetcher final : public ScrapeFetcher {
 public:
  Result<ScrapeResponse> Fetch(const ScrapeTarget& target) override;
};

// What one scrape did (the values of the synthetic series).
struct ScrapeReport {
  int64_t timestamp_ms = 0;
  bool up = false;
  Status error;  // Why up is 0.
  double duration_seconds = 0;
  uint64_t samples_scraped = 0;
  uint64_t samples_post_relabeling = 0;
  uint64_t series_added = 0;
  uint64_t stale_markers = 0;
  uint64_t refused = 0;  // Series the store refused (max_series).
};

// The state of one scrape loop: the series of its last scrape (refs, for staleness markers) and
// the refs of its synthetic series. Not thread-safe: one scrape at a time.
class TargetScraper {
 public:
  explicit TargetScraper(ScrapeTarget target) : target_(std::move(target)) {}
  const ScrapeTarget& target() const { return target_; }

  // Writes the outcome of one scrape at `ts_ms`: on success its samples (exposed timestamps
  // kept when honor_timestamps), else none; staleness markers for the series of the last scrape
  // that are missing; the synthetic series. A parse error, sample_limit or a label limit fails
  // the whole scrape as in Prometheus. A failed Commit() is returned in the report's error.
  ScrapeReport Write(const Result<ScrapeResponse>& fetched, int64_t ts_ms, double duration_seconds,
                     ScrapeStore& store);
  // Staleness markers at `ts_ms` for every series of the last scrape and the synthetic ones (the
  // target is gone). Returns how many were written.
  Result<uint64_t> WriteEndOfRun(int64_t ts_ms, ScrapeStore& store);
  bool scraped() const { return scraped_; }

 private:
  struct Entry {
    Labels labels;
    uint64_t ref = 0;
    uint64_t iter = 0;
    bool tracked = true;  // False for samples with an exposed timestamp: no staleness marker.
  };
  struct Pending {
    std::string key;
    Labels labels;
    int64_t t = 0;
    double v = 0;
    bool tracked = true;
  };
  Status Parse(const ScrapeResponse& resp, std::vector<Pending>* out, uint64_t* total) const;
  uint64_t Append(ScrapeAppender& app, const std::string& key, const Labels& labels, int64_t t,
                  double v, uint64_t iter, bool tracked, bool* added, bool* refused);
  void AppendReport(ScrapeAppender& app, const ScrapeReport& r);

  ScrapeTarget target_;
  std::unordered_map<std::string, Entry> series_;
  uint64_t report_refs_[5] = {0, 0, 0, 0, 0};
  uint64_t iter_ = 0;
  bool scraped_ = false;
};

// Milliseconds into each interval at which `target_key` is scraped: spreads targets over the
// interval, the same for a target across restarts (Prometheus' offset by target hash).
int64_t ScrapeOffsetMs(std::string_view target_key, std::chrono::milliseconds interval);
// The first scrape slot strictly after `now_ms` for that offset.
int64_t NextScrapeSlotMs(int64_t now_ms, int64_t offset_ms, std::chrono::milliseconds interval);

}  // namespace tidemark::collector
