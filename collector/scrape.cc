#include "collector/scrape.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "collector/docker_metadata.h"
#include "common/duration.h"
#include "common/go_format.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/strings.h"
#include "common/text_parser.h"

namespace tidemark::collector {

namespace {

constexpr std::string_view kReportNames[5] = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added"};

void AppendKey(const Labels& labels, std::string* out) {
  for (const Label& l : labels) {
    out->append(l.name);
    out->push_back('\0');
    out->append(l.value);
    out->push_back('\0');
  }
}

bool HasLabel(const Labels& labels, std::string_view name) {
  return std::any_of(labels.begin(), labels.end(), [&](const Label& l) { return l.name == name; });
}

void SetLabel(Labels* labels, std::string_view name, std::string_view value) {
  for (Label& l : *labels) {
    if (l.name == name) {
      l.value.assign(value);
      return;
    }
  }
  labels->push_back(Label{std::string(name), std::string(value)});
}

// Go's url.QueryEscape.
void AppendQueryEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out->push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out->push_back('+');
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    int width = 0;
    if (DecodeRune(s, i, &width) == 0xFFFD && width <= 1) return false;
    i += static_cast<size_t>(width);
  }
  return true;
}

Status ValidateTargetAddress(const std::string& address, const std::string& key) {
  auto hp = ParseListenAddress(address);
  const size_t colon = address.rfind(':');
  if (!hp.ok() || colon == 0 || colon == std::string::npos || hp->second == 0) {
    return Status::InvalidArgument(key + ": target \"" + address +
                                   "\" must be HOST:PORT with a port from 1 to 65535");
  }
  return Status::Ok();
}

Status ValidateTargetLabels(const Labels& labels, const std::string& key) {
  for (const Label& l : labels) {
    if (!IsValidLabelName(l.name) || l.name.starts_with("__")) {
      return Status::InvalidArgument(key + ": invalid target label name \"" + l.name + "\"");
    }
  }
  return Status::Ok();
}

ScrapeTarget MakeTarget(std::string job, std::string address, const Labels& extra) {
  ScrapeTarget t;
  t.job = std::move(job);
  t.address = std::move(address);
  for (const Label& l : extra) {
    if (!l.value.empty()) SetLabel(&t.labels, l.name, l.value);
  }
  SetLabel(&t.labels, "job", t.job);
  if (!HasLabel(t.labels, "instance")) SetLabel(&t.labels, "instance", t.address);
  SortLabels(&t.labels);
  return t;
}

std::optional<uint16_t> ParsePort(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

std::string ScrapeTarget::Key() const {
  std::string k = job;
  k.push_back('\0');
  k += scheme + "://" + address + RequestTarget();
  k.push_back('\0');
  AppendKey(labels, &k);
  return k;
}

std::string ScrapeTarget::RequestTarget() const {
  std::string out = metrics_path;
  if (params.empty()) return out;
  ScrapeParams sorted = params;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  out.push_back(out.find('?') == std::string::npos ? '?' : '&');
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) out.push_back('&');
    AppendQueryEscaped(sorted[i].first, &out);
    out.push_back('=');
    AppendQueryEscaped(sorted[i].second, &out);
  }
  return out;
}

ScrapeOptions ResolveOptions(ScrapeOptions o, std::chrono::milliseconds agent_interval) {
  if (o.interval.count() <= 0) o.interval = agent_interval;
  if (o.timeout.count() <= 0) {
    o.timeout = std::min<std::chrono::milliseconds>(o.interval, std::chrono::seconds(10));
  }
  return o;
}

Status ValidateScrapeOptions(const ScrapeOptions& o, const std::string& key) {
  if (o.interval.count() < 0 || o.timeout.count() < 0) {
    return Status::InvalidArgument(key + ": durations must not be negative");
  }
  if (o.timeout > o.interval) {
    return Status::InvalidArgument(key + ": scrape_timeout (" + FormatDuration(o.timeout) +
                                   ") is greater than scrape_interval (" +
                                   FormatDuration(o.interval) + ")");
  }
  return Status::Ok();
}

Status ValidateScrapeConfig(const ScrapeConfig& c, const std::string& key,
                            std::chrono::milliseconds agent_interval) {
  if (c.max_concurrency == 0 || c.max_concurrency > 64) {
    return Status::InvalidArgument(key + ".max_concurrency: must be from 1 to 64");
  }
  TIDEMARK_RETURN_IF_ERROR(ValidateScrapeOptions(ResolveOptions(c.defaults, agent_interval), key));
  std::set<std::string> names;
  for (size_t i = 0; i < c.jobs.size(); ++i) {
    const ScrapeJob& j = c.jobs[i];
    const std::string jk = key + ".jobs[" + std::to_string(i) + "]";
    if (j.job_name.empty()) return Status::InvalidArgument(jk + ".job_name: must be set");
    if (!names.insert(j.job_name).second) {
      return Status::InvalidArgument(jk + ".job_name: \"" + j.job_name + "\" is used twice");
    }
    if (j.scheme != "http") {
      return Status::InvalidArgument(jk + ".scheme: only http is supported, got \"" + j.scheme +
                                     "\"");
    }
    if (j.metrics_path.empty() || j.metrics_path[0] != '/') {
      return Status::InvalidArgument(jk + ".metrics_path: must start with '/'");
    }
    TIDEMARK_RETURN_IF_ERROR(ValidateScrapeOptions(ResolveOptions(j.options, agent_interval), jk));
    for (size_t g = 0; g < j.static_configs.size(); ++g) {
      const std::string gk = jk + ".static_configs[" + std::to_string(g) + "]";
      for (const std::string& t : j.static_configs[g].targets) {
        TIDEMARK_RETURN_IF_ERROR(ValidateTargetAddress(t, gk + ".targets"));
      }
      TIDEMARK_RETURN_IF_ERROR(ValidateTargetLabels(j.static_configs[g].labels, gk + ".labels"));
    }
  }
  const DockerSdConfig& d = c.docker_sd;
  if (d.refresh_interval.count() <= 0) {
    return Status::InvalidArgument(key + ".docker_sd.refresh_interval: must be greater than 0");
  }
  if (d.metrics_path.empty() || d.metrics_path[0] != '/') {
    return Status::InvalidArgument(key + ".docker_sd.metrics_path: must start with '/'");
  }
  return ValidateScrapeOptions(ResolveOptions(d.options, agent_interval), key + ".docker_sd");
}

std::vector<ScrapeTarget> BuildStaticTargets(const ScrapeConfig& config,
                                             std::chrono::milliseconds agent_interval) {
  std::vector<ScrapeTarget> out;
  for (const ScrapeJob& j : config.jobs) {
    for (const StaticTargets& g : j.static_configs) {
      for (const std::string& addr : g.targets) {
        ScrapeTarget t = MakeTarget(j.job_name, addr, g.labels);
        t.scheme = j.scheme;
        t.metrics_path = j.metrics_path;
        t.params = j.params;
        t.options = ResolveOptions(j.options, agent_interval);
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

Result<std::vector<DockerContainer>> ParseDockerContainers(std::string_view json) {
  // Names, images and labels as the metadata reader has them; networks and ports added here.
  auto meta = ParseDockerContainerList(json);
  if (!meta.ok()) return meta.status();
  std::vector<DockerContainer> out;
  try {
    nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end());
    for (const nlohmann::json& c : doc) {
      if (!c.is_object()) continue;
      auto id = c.find("Id");
      if (id == c.end() || !id->is_string()) continue;
      DockerContainer d;
      d.id = id->get<std::string>();
      auto m = meta->find(d.id);
      if (m != meta->end()) {
        d.name = m->second.name;
        d.image = m->second.image;
        d.labels = m->second.labels;
      }
      if (auto s = c.find("State"); s != c.end() && s->is_string()) d.state = s->get<std::string>();
      if (auto h = c.find("HostConfig"); h != c.end() && h->is_object()) {
        auto nm = h->find("NetworkMode");
        if (nm != h->end() && nm->is_string()) d.network_mode = nm->get<std::string>();
      }
      if (auto ns = c.find("NetworkSettings"); ns != c.end() && ns->is_object()) {
        auto nets = ns->find("Networks");
        if (nets != ns->end() && nets->is_object()) {
          for (const auto& [name, n] : nets->items()) {
            std::string ip;
            if (n.is_object()) {
              auto a = n.find("IPAddress");
              if (a != n.end() && a->is_string()) ip = a->get<std::string>();
            }
            d.networks.emplace_back(name, ip);
          }
        }
      }
      if (auto ps = c.find("Ports"); ps != c.end() && ps->is_array()) {
        for (const nlohmann::json& p : *ps) {
          if (!p.is_object()) continue;
          DockerContainer::Port port;
          auto num = [&](const char* k) -> uint16_t {
            auto it = p.find(k);
            if (it == p.end() || !it->is_number_unsigned()) return 0;
            const uint64_t v = it->get<uint64_t>();
            return v > 65535 ? 0 : static_cast<uint16_t>(v);
          };
          auto str = [&](const char* k) -> std::string {
            auto it = p.find(k);
            return it != p.end() && it->is_string() ? it->get<std::string>() : std::string();
          };
          port.private_port = num("PrivatePort");
          port.public_port = num("PublicPort");
          port.ip = str("IP");
          port.type = str("Type");
          if (port.private_port != 0) d.ports.push_back(std::move(port));
        }
      }
      std::sort(d.networks.begin(), d.networks.end());
      out.push_back(std::move(d));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("docker /containers/json: bad JSON: ") + e.what());
  }
  return out;
}

Result<std::vector<DockerContainer>> ListDockerContainers(const std::string& socket_path,
                                                          std::chrono::milliseconds timeout) {
  HttpClientOptions opts;
  opts.connect_timeout = timeout;
  opts.host_header = "docker";
  HttpClient client = HttpClient::Unix(socket_path, opts);
  auto res = client.Get("/containers/json", timeout);
  if (!res.ok()) return res.status();
  if (res->status != 200) {
    return Status::Unavailable("docker " + client.Describe() + " /containers/json: HTTP " +
                               std::to_string(res->status) + ": " + res->body.substr(0, 200));
  }
  return ParseDockerContainers(res->body);
}

DockerTargets BuildDockerTargets(const std::vector<DockerContainer>& containers,
                                 const DockerSdConfig& config,
                                 std::chrono::milliseconds agent_interval) {
  DockerTargets out;
  for (const DockerContainer& c : containers) {
    if (!c.state.empty() && c.state != "running") continue;
    auto label = [&](std::string_view key) -> std::string {
      for (const char* prefix : {"prometheus.io/", "prometheus.io."}) {
        auto it = c.labels.find(std::string(prefix) + std::string(key));
        if (it != c.labels.end()) return it->second;
      }
      return "";
    };
    if (label("scrape") != "true") continue;
    const std::string name = !c.name.empty() ? c.name : c.id.substr(0, 12);
    auto skip = [&](const std::string& why) {
      out.skipped.push_back("container " + name + ": " + why);
    };
    uint16_t port = 0;
    if (std::string p = label("port"); !p.empty()) {
      auto parsed = ParsePort(p);
      if (!parsed) {
        skip("prometheus.io/port \"" + p + "\" is not a port number");
        continue;
      }
      port = *parsed;
    } else {
      std::set<uint16_t> tcp;
      for (const auto& pt : c.ports) {
        if (pt.type.empty() || pt.type == "tcp") tcp.insert(pt.private_port);
      }
      if (tcp.size() != 1) {
        skip("no prometheus.io/port label and " + std::to_string(tcp.size()) +
             " exposed TCP ports");
        continue;
      }
      port = *tcp.begin();
    }
    if (std::string s = label("scheme"); !s.empty() && s != "http") {
      skip("scheme \"" + s + "\" is not supported (http only)");
      continue;
    }
    std::string path = label("path");
    if (path.empty()) path = config.metrics_path;
    if (path[0] != '/') {
      skip("prometheus.io/path \"" + path + "\" must start with '/'");
      continue;
    }
    std::string ip;
    if (c.network_mode == "host") {
      ip = "127.0.0.1";
    } else {
      for (const auto& [net, addr] : c.networks) {
        if (addr.empty() || (!config.network.empty() && net != config.network)) continue;
        ip = addr;
        break;
      }
    }
    std::string published;
    for (const auto& pt : c.ports) {
      if (pt.private_port != port || pt.public_port == 0 || (!pt.type.empty() && pt.type != "tcp"))
        continue;
      std::string host = pt.ip;
      if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
      if (host.find(':') != std::string::npos) host = "[" + host + "]";
      published = host + ":" + std::to_string(pt.public_port);
      break;
    }
    std::string address;
    const std::string direct = ip.empty() ? "" : ip + ":" + std::to_string(port);
    if (config.use_published_port) {
      address = !published.empty() ? published : direct;
    } else {
      address = !direct.empty() ? direct : published;
    }
    if (address.empty()) {
      skip("no IP address" + (config.network.empty() ? "" : " on network " + config.network) +
           " and port " + std::to_string(port) + " is not published");
      continue;
    }
    auto get = [&](const char* k) -> std::string {
      auto it = c.labels.find(k);
      return it == c.labels.end() ? "" : it->second;
    };
    std::string service = get("com.docker.swarm.service.name");
    if (service.empty()) service = get("com.docker.compose.service");
    std::string stack = get("com.docker.stack.namespace");
    if (stack.empty()) stack = get("com.docker.compose.project");
    std::string job = config.job;
    if (job.empty()) job = label("job");
    if (job.empty()) job = !service.empty() ? service : name;
    ScrapeTarget t = MakeTarget(
        job, address,
        Labels{{"container", name}, {"image", c.image}, {"service", service}, {"stack", stack}});
    t.metrics_path = path;
    t.options = ResolveOptions(config.options, agent_interval);
    out.targets.push_back(std::move(t));
  }
  return out;
}

void MergeTargetLabels(const Labels& target, bool honor_labels, Labels* series) {
  if (honor_labels) {
    for (const Label& l : target) {
      if (!HasLabel(*series, l.name)) series->push_back(l);
    }
    SortLabels(series);
    return;
  }
  Labels conflicts;
  for (const Label& l : target) {
    std::string_view v = GetLabel(*series, l.name);
    if (!v.empty()) conflicts.push_back(Label{l.name, std::string(v)});
  }
  if (conflicts.empty()) {
    for (const Label& l : target) series->push_back(l);
    SortLabels(series);
    return;
  }
  const Labels exposed = *series;
  for (const Label& l : target) SetLabel(series, l.name, l.value);
  std::stable_sort(conflicts.begin(), conflicts.end(),
                   [](const Label& a, const Label& b) { return a.name.size() < b.name.size(); });
  for (size_t i = 0; i < conflicts.size(); ++i) {
    std::string name = conflicts[i].name;
    for (;;) {
      name = "exported_" + name;
      bool taken = HasLabel(exposed, name) || HasLabel(target, name);
      for (size_t k = 0; k < i && !taken; ++k) taken = conflicts[k].name == name;
      if (!taken) break;
    }
    conflicts[i].name = std::move(name);
  }
  for (const Label& l : conflicts) SetLabel(series, l.name, l.value);
  SortLabels(series);
}

bool IsOpenMetricsContentType(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.front() == ' ') ct.remove_prefix(1);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return EqualsIgnoreCase(ct, "application/openmetrics-text");
}

Result<ScrapeResponse> HttpScrapeFetcher::Fetch(const ScrapeTarget& target) {
  if (target.scheme != "http") {
    return Status::InvalidArgument("scheme \"" + target.scheme + "\" is not supported");
  }
  auto hp = ParseListenAddress(target.address);
  if (!hp.ok()) return hp.status();
  HttpClientOptions opts;
  opts.connect_timeout = target.options.timeout;
  opts.host_header = target.address;
  const uint64_t limit = target.options.body_size_limit;
  if (limit > 0 && limit < opts.max_body_bytes) opts.max_body_bytes = static_cast<size_t>(limit);
  HttpClient client = HttpClient::Tcp(hp->first, hp->second, opts);
  HttpClientRequest req;
  req.target = target.RequestTarget();
  req.timeout = target.options.timeout;
  req.headers = {
      {"Accept", std::string(kScrapeAcceptHeader)},
      {"User-Agent", "tidemark-scraper"},
      {"X-Prometheus-Scrape-Timeout-Seconds",
       FormatGoFloat(static_cast<double>(target.options.timeout.count()) / 1000.0, 'f')},
  };
  auto res = client.Send(req);
  if (!res.ok()) {
    if (res.status().code() == StatusCode::kResourceExhausted) {
      return Status::ResourceExhausted("body size limit exceeded");
    }
    return res.status();
  }
  if (res->status != 200) {
    return Status::Unavailable("server returned HTTP status " + std::to_string(res->status));
  }
  return ScrapeResponse{std::move(res->body), std::string(res->Header("Content-Type"))};
}

Status TargetScraper::Parse(const ScrapeResponse& resp, std::vector<Pending>* out,
                            uint64_t* total) const {
  const ScrapeOptions& o = target_.options;
  const TextFormat format =
      IsOpenMetricsContentType(resp.content_type) ? TextFormat::kOpenMetrics : TextFormat::kText004;
  Status limit_error;
  Status st = ParseExposition(resp.body, format, [&](ParsedSample& s) -> Status {
    ++*total;
    if (!limit_error.ok()) return Status::Ok();  // Keep counting, as Prometheus does.
    MergeTargetLabels(target_.labels, o.honor_labels, &s.labels);
    const std::string_view metric = GetLabel(s.labels, "__name__");
    if (o.label_limit > 0 && s.labels.size() > o.label_limit) {
      return Status::InvalidArgument(
          "label_limit exceeded (metric: " + std::string(metric.substr(0, 50)) +
          ", number of labels: " + std::to_string(s.labels.size()) +
          ", limit: " + std::to_string(o.label_limit) + ")");
    }
    for (const Label& l : s.labels) {
      if (o.label_name_length_limit > 0 && l.name.size() > o.label_name_length_limit) {
        return Status::InvalidArgument(
            "label_name_length_limit exceeded (metric: " + std::string(metric.substr(0, 50)) +
            ", label name: " + l.name.substr(0, 50) + ", length: " + std::to_string(l.name.size()) +
            ", limit: " + std::to_string(o.label_name_length_limit) + ")");
      }
      if (o.label_value_length_limit > 0 && l.value.size() > o.label_value_length_limit) {
        return Status::InvalidArgument(
            "label_value_length_limit exceeded (metric: " + std::string(metric.substr(0, 50)) +
            ", label name: " + l.name.substr(0, 50) +
            ", value length: " + std::to_string(l.value.size()) +
            ", limit: " + std::to_string(o.label_value_length_limit) + ")");
      }
      if (!ValidUtf8(l.value)) {
        return Status::InvalidArgument("invalid UTF-8 in the value of label \"" + l.name +
                                       "\" of " + std::string(metric.substr(0, 50)));
      }
    }
    if (o.sample_limit > 0 && *total > o.sample_limit) {
      limit_error = Status::ResourceExhausted("sample limit exceeded");
      return Status::Ok();
    }
    Pending p;
    AppendKey(s.labels, &p.key);
    p.labels = std::move(s.labels);
    p.v = s.value;
    if (s.timestamp_ms && o.honor_timestamps) {
      p.t = *s.timestamp_ms;
      p.tracked = false;  // Untracked samples keep their own timestamp.
    }
    out->push_back(std::move(p));
    s.labels.clear();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return limit_error;
}

uint64_t TargetScraper::Append(ScrapeAppender& app, const std::string& key, const Labels& labels,
                               int64_t t, double v, uint64_t iter, bool tracked, bool* added,
                               bool* refused) {
  *added = false;
  *refused = false;
  auto it = series_.find(key);
  if (it != series_.end()) {
    it->second.iter = iter;
    it->second.tracked = tracked;
    if (app.AddRef(it->second.ref, t, v)) return it->second.ref;
    it->second.ref = app.Add(labels, t, v);
    if (it->second.ref == 0) {
      *refused = true;
      series_.erase(it);
      return 0;
    }
    return it->second.ref;
  }
  const uint64_t ref = app.Add(labels, t, v);
  *added = true;
  if (ref == 0) {
    *refused = true;
    return 0;
  }
  series_.emplace(key, Entry{labels, ref, iter, tracked});
  return ref;
}

void TargetScraper::AppendReport(ScrapeAppender& app, const ScrapeReport& r) {
  const double values[5] = {
      r.up ? 1.0 : 0.0, r.duration_seconds, static_cast<double>(r.samples_scraped),
      static_cast<double>(r.samples_post_relabeling), static_cast<double>(r.series_added)};
  for (int i = 0; i < 5; ++i) {
    if (report_refs_[i] != 0 && app.AddRef(report_refs_[i], r.timestamp_ms, values[i])) continue;
    Labels l = target_.labels;
    l.push_back(Label{"__name__", std::string(kReportNames[i])});
    SortLabels(&l);
    report_refs_[i] = app.Add(l, r.timestamp_ms, values[i]);
  }
}

ScrapeReport TargetScraper::Write(const Result<ScrapeResponse>& fetched, int64_t ts_ms,
                                  double duration_seconds, ScrapeStore& store) {
  const uint64_t iter = ++iter_;
  scraped_ = true;
  ScrapeReport r;
  r.timestamp_ms = ts_ms;
  r.duration_seconds = duration_seconds;
  std::vector<Pending> pending;
  uint64_t total = 0;
  Status err = fetched.ok() ? Parse(*fetched, &pending, &total) : fetched.status();
  r.samples_scraped = total;
  r.samples_post_relabeling = total;
  std::unique_ptr<ScrapeAppender> app = store.NewAppender();
  if (err.ok()) {
    for (const Pending& p : pending) {
      bool added = false, refused = false;
      Append(*app, p.key, p.labels, p.tracked ? ts_ms : p.t, p.v, iter, p.tracked, &added,
             &refused);
      r.series_added += added ? 1 : 0;
      r.refused += refused ? 1 : 0;
    }
  } else {
    // Prometheus counts the new series it appended before the failure (then rolls back).
    for (const Pending& p : pending) r.series_added += series_.count(p.key) == 0 ? 1 : 0;
  }
  r.up = err.ok();
  r.error = err;
  // Series of the last scrape missing from this one (all of them after a failure) go stale.
  for (auto it = series_.begin(); it != series_.end();) {
    if (it->second.iter == iter) {
      ++it;
      continue;
    }
    if (it->second.tracked) {
      app->AddStale(it->second.ref, ts_ms);
      ++r.stale_markers;
    }
    it = series_.erase(it);
  }
  AppendReport(*app, r);
  Status commit = app->Commit();
  if (!commit.ok()) {
    // Refs created by this batch may not exist: start over with labels next time.
    series_.clear();
    std::fill(std::begin(report_refs_), std::end(report_refs_), 0);
    if (r.error.ok()) r.error = Status(commit.code(), "store: " + commit.message());
  }
  return r;
}

Result<uint64_t> TargetScraper::WriteEndOfRun(int64_t ts_ms, ScrapeStore& store) {
  std::unique_ptr<ScrapeAppender> app = store.NewAppender();
  uint64_t n = 0;
  for (const auto& [key, e] : series_) {
    if (!e.tracked) continue;
    app->AddStale(e.ref, ts_ms);
    ++n;
  }
  for (uint64_t ref : report_refs_) {
    if (ref == 0) continue;
    app->AddStale(ref, ts_ms);
    ++n;
  }
  TIDEMARK_RETURN_IF_ERROR(app->Commit());
  series_.clear();
  std::fill(std::begin(report_refs_), std::end(report_refs_), 0);
  return n;
}

int64_t ScrapeOffsetMs(std::string_view key, std::chrono::milliseconds interval) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  const int64_t iv = std::max<int64_t>(1, interval.count());
  return static_cast<int64_t>(h % static_cast<uint64_t>(iv));
}

int64_t NextScrapeSlotMs(int64_t now_ms, int64_t offset_ms, std::chrono::milliseconds interval) {
  const int64_t iv = std::max<int64_t>(1, interval.count());
  int64_t k = (now_ms - offset_ms) / iv;
  if ((now_ms - offset_ms) < 0 && (now_ms - offset_ms) % iv != 0) --k;  // floor
  int64_t slot = k * iv + offset_ms;
  while (slot <= now_ms) slot += iv;
  return slot;
}

}  // namespace tidemark::collector
