#include "agent/alerting_service.h"

#include <glob.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerting/builtin_rules.h"
#include "alerting/notifier.h"
#include "alerting/rule_file.h"
#include "alerting/rules_api.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"

namespace tidemark::agent {
namespace {

using alerting::Alert;
using alerting::AlertSink;
using alerting::LabelsFromJson;
using alerting::LabelsToJson;

constexpr int64_t kResolvedRetentionMs = 15 * 60 * 1000;  // Prometheus' resolvedRetention.
constexpr char kOomGroup[] = "tidemark.oom";
constexpr char kOomAlertName[] = "ContainerOOMKilled";

std::string FormatLabels(const Labels& labels) {
  std::string s = "{";
  for (const Label& l : labels) {
    if (s.size() > 1) s += ", ";
    s += l.name + "=\"" + l.value + "\"";
  }
  return s + "}";
}

// Logs each alert once per state change (firing, resolved), then forwards to the notifier, so an
// agent without receivers still reports its alerts. Thread-safe.
class LoggingSink final : public AlertSink {
 public:
  // `next` may be null (no notifier): alerts are only logged.
  LoggingSink(AlertSink* next, const Clock& clock) : next_(next), clock_(clock) {}

  void Send(std::vector<Alert> alerts) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const int64_t now = ToUnixMillis(clock_.Now());
      for (const Alert& a : alerts) {
        auto [it, fresh] = seen_.try_emplace(a.Fingerprint(), Seen{a.ends_at_ms, now});
        if (!fresh && it->second.ends_at_ms == a.ends_at_ms) {
          it->second.last_ms = now;
          continue;
        }
        it->second = Seen{a.ends_at_ms, now};
        std::string summary(GetLabel(a.annotations, "summary"));
        if (a.resolved()) {
          spdlog::info("alert resolved: {} {}", FormatLabels(a.labels), summary);
        } else {
          spdlog::warn("alert firing: {} {}", FormatLabels(a.labels), summary);
        }
      }
      std::erase_if(seen_, [now](const auto& kv) {
        return now - kv.second.last_ms > 2 * kResolvedRetentionMs;
      });
    }
    if (next_ != nullptr) next_->Send(std::move(alerts));
  }

 private:
  struct Seen {
    int64_t ends_at_ms = 0;
    int64_t last_ms = 0;
  };
  AlertSink* next_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<uint64_t, Seen> seen_;  // Guarded by mu_.
};

// OOM alerts raised from the hub's events: firing at once, re-sent while active (the notifier
// applies Prometheus' resend cadence), resolved `resolve_after` after the container's last kill,
// then re-sent as resolved for 15 m. With a `state_path`, the active and recently resolved alerts
// survive a restart: written there at the next tick after a change and at Detach, read back at
// construction (so a restart neither drops a firing alert early nor re-opens it as new). Shared
// with the hub's handler, which may outlive the service: Detach() cuts it off. Thread-safe.
class OomAlerts {
 public:
  OomAlerts(AlertSink* sink, const alerting::OwnerResolver* owners, const Clock& clock,
            std::chrono::milliseconds resolve_after, std::string generator_url,
            std::string state_path)
      : sink_(sink),
        owners_(owners),
        clock_(clock),
        resolve_after_ms_(resolve_after.count()),
        generator_url_(std::move(generator_url)),
        state_path_(sink_ != nullptr ? std::move(state_path) : std::string()) {
    Restore();
  }

  void OnEvent(const OomEvent& e) {
    alerting::OomAlertOptions opts;
    opts.generator_url = generator_url_;
    Alert alert = alerting::OomAlert(e, opts);
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ == nullptr) return;
    events_++;
    // The owner comes from the container's own labels (container_label_owner, ...), which the
    // alert itself does not carry.
    if (owners_ != nullptr && GetLabel(alert.labels, "owner").empty()) {
      Alert probe = alert;
      for (const Label& l : e.container) {
        if (GetLabel(probe.labels, l.name).empty()) probe.labels.push_back(l);
      }
      std::sort(probe.labels.begin(), probe.labels.end(),
                [](const Label& x, const Label& y) { return x.name < y.name; });
      alert.labels.push_back({"owner", owners_->Resolve(probe)});
      std::sort(alert.labels.begin(), alert.labels.end(),
                [](const Label& x, const Label& y) { return x.name < y.name; });
    }
    const int64_t now = ToUnixMillis(clock_.Now());
    const uint64_t fp = alert.Fingerprint();
    auto it = active_.find(fp);
    if (it == active_.end()) {
      resolved_.erase(fp);
      it = active_.emplace(fp, Active{alert, 0, now}).first;
    } else {
      // Another kill of the same container: same alert, newest details, original start.
      const int64_t starts = it->second.alert.starts_at_ms;
      it->second.alert = alert;
      it->second.alert.starts_at_ms = starts;
    }
    it->second.kills += e.count;
    it->second.last_kill_ms = std::max(now, e.time_ms);
    dirty_ = true;
    sink_->Send({it->second.alert});
  }

  // Resolves expired alerts and re-sends the active and recently resolved ones.
  void Tick() {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ == nullptr) return;
    const int64_t now = ToUnixMillis(clock_.Now());
    std::vector<Alert> out;
    for (auto it = active_.begin(); it != active_.end();) {
      if (now - it->second.last_kill_ms >= resolve_after_ms_) {
        Alert a = it->second.alert;
        a.ends_at_ms = now;
        resolved_[it->first] = a;
        it = active_.erase(it);
        dirty_ = true;
      } else {
        out.push_back(it->second.alert);
        ++it;
      }
    }
    for (auto it = resolved_.begin(); it != resolved_.end();) {
      if (now - it->second.ends_at_ms > kResolvedRetentionMs) {
        it = resolved_.erase(it);
        dirty_ = true;
      } else {
        out.push_back(it->second);
        ++it;
      }
    }
    SaveIfDirty();
    if (!out.empty()) sink_->Send(std::move(out));
  }

  void Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ != nullptr) SaveIfDirty();
    sink_ = nullptr;
  }

  uint64_t events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  // The firing OOM alerts as a rule group for /api/v1/rules and /api/v1/alerts.
  alerting::GroupSnapshot Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    alerting::GroupSnapshot g;
    g.name = kOomGroup;
    g.file = alerting::kBuiltinRulesSource;
    alerting::RuleSnapshot r;
    r.kind = alerting::RuleSpec::Kind::kAlerting;
    r.name = kOomAlertName;
    r.query = "oom_kill event (eBPF oom/mark_victim or the cgroup oom_kill counter)";
    r.keep_firing_for_s = static_cast<double>(resolve_after_ms_) / 1000;
    r.labels = {{"severity", "critical"}};
    r.health = alerting::RuleHealth::kGood;
    for (const auto& [fp, a] : active_) {
      alerting::RuleAlert ra;
      ra.state = alerting::AlertState::kFiring;
      ra.labels = a.alert.labels;
      ra.annotations = a.alert.annotations;
      ra.value = static_cast<double>(a.kills);
      ra.active_at_ms = a.alert.starts_at_ms;
      ra.fired_at_ms = a.alert.starts_at_ms;
      r.alerts.push_back(std::move(ra));
      r.state = alerting::AlertState::kFiring;
      r.last_evaluation = std::max(
          r.last_evaluation,
          std::chrono::system_clock::time_point(std::chrono::milliseconds(a.last_kill_ms)));
    }
    g.last_evaluation = r.last_evaluation;
    g.rules.push_back(std::move(r));
    return g;
  }

 private:
  struct Active {
    Alert alert;
    uint64_t kills = 0;
    int64_t last_kill_ms = 0;
  };
  static constexpr int kStateVersion = 1;

  static nlohmann::json AlertToJson(const Alert& a) {
    return {{"labels", LabelsToJson(a.labels)},
            {"annotations", LabelsToJson(a.annotations)},
            {"starts_at_ms", a.starts_at_ms},
            {"ends_at_ms", a.ends_at_ms},
            {"generator_url", a.generator_url}};
  }
  static Alert AlertFromJson(const nlohmann::json& j) {
    Alert a;
    a.labels = LabelsFromJson(j.at("labels"));
    a.annotations = LabelsFromJson(j.at("annotations"));
    a.starts_at_ms = j.at("starts_at_ms").get<int64_t>();
    a.ends_at_ms = j.at("ends_at_ms").get<int64_t>();
    a.generator_url = j.at("generator_url").get<std::string>();
    return a;
  }

  // Writes the state when it changed since the last write. Called with mu_ held; a failed write
  // is logged and retried at the next tick.
  void SaveIfDirty() {
    if (!dirty_ || state_path_.empty()) return;
    nlohmann::json active = nlohmann::json::array(), resolved = nlohmann::json::array();
    for (const auto& [fp, a] : active_) {
      nlohmann::json j = AlertToJson(a.alert);
      j["kills"] = a.kills;
      j["last_kill_ms"] = a.last_kill_ms;
      active.push_back(std::move(j));
    }
    for (const auto& [fp, a] : resolved_) resolved.push_back(AlertToJson(a));
    nlohmann::json doc = {{"version", kStateVersion}, {"active", active}, {"resolved", resolved}};
    Status st = WriteFileAtomically(state_path_, doc.dump());
    if (!st.ok()) {
      if (save_errors_++ == 0)
        spdlog::warn("alerting: OOM alert state not saved: {}", st.ToString());
      return;
    }
    save_errors_ = 0;
    dirty_ = false;
  }

  // Reads the state a previous run saved. A missing file is a first start; an unreadable one is
  // logged and set aside (renamed *.bad) so the next save does not hide what went wrong.
  void Restore() {
    if (state_path_.empty()) return;
    Result<std::string> text = ReadFile(state_path_);
    if (!text.ok()) {
      if (text.status().code() != StatusCode::kNotFound) {
        spdlog::warn("alerting: OOM alert state not restored: {}", text.status().ToString());
      }
      return;
    }
    try {
      nlohmann::json doc = nlohmann::json::parse(*text);
      if (doc.at("version").get<int>() != kStateVersion) {
        throw std::runtime_error("unknown version " + doc.at("version").dump());
      }
      std::map<uint64_t, Active> active;
      std::map<uint64_t, Alert> resolved;
      for (const nlohmann::json& j : doc.at("active")) {
        Active a{AlertFromJson(j), j.at("kills").get<uint64_t>(),
                 j.at("last_kill_ms").get<int64_t>()};
        active[a.alert.Fingerprint()] = std::move(a);
      }
      for (const nlohmann::json& j : doc.at("resolved")) {
        Alert a = AlertFromJson(j);
        resolved[a.Fingerprint()] = std::move(a);
      }
      active_ = std::move(active);
      resolved_ = std::move(resolved);
      if (!active_.empty() || !resolved_.empty()) {
        spdlog::info("alerting: restored {} firing and {} resolved OOM alerts from {}",
                     active_.size(), resolved_.size(), state_path_);
      }
    } catch (const std::exception& e) {
      std::error_code ec;
      std::filesystem::rename(state_path_, state_path_ + ".bad", ec);
      spdlog::warn("alerting: OOM alert state {} unreadable ({}); set aside as {}.bad", state_path_,
                   e.what(), state_path_);
    }
  }

  mutable std::mutex mu_;
  AlertSink* sink_;  // Guarded by mu_; null once detached.
  const alerting::OwnerResolver* owners_;
  const Clock& clock_;
  const int64_t resolve_after_ms_;
  const std::string generator_url_;
  std::map<uint64_t, Active> active_;   // Guarded by mu_.
  std::map<uint64_t, Alert> resolved_;  // Guarded by mu_.
  uint64_t events_ = 0;                 // Guarded by mu_.
  const std::string state_path_;        // Empty: not persisted.
  bool dirty_ = false;                  // Guarded by mu_: changed since the last save.
  uint64_t save_errors_ = 0;            // Guarded by mu_: failed saves in a row.
};

class AlertingService final : public Service {
 public:
  AlertingService(const ServiceContext& ctx, std::unique_ptr<alerting::Notifier> notifier)
      : config_(ctx.config.alerting),
        clock_(ctx.clock),
        db_(ctx.db),
        engine_(ctx.engine),
        hub_(ctx.oom_events),
        notifier_(std::move(notifier)),
        log_sink_(notifier_.get(), ctx.clock) {
    std::string base = config_.notify.external_url.empty() ? "http://" + ctx.config.listen
                                                           : config_.notify.external_url;
    oom_ = std::make_shared<OomAlerts>(config_.oom ? &log_sink_ : nullptr,
                                       notifier_ ? &notifier_->owners() : nullptr, clock_,
                                       config_.oom_resolve_after, base + "/api/v1/alerts",
                                       ctx.config.data_dir + "/alerting/oom_alerts.json");
    if (engine_ != nullptr) {
      alerting::RuleManagerOptions opts;
      opts.rules.default_interval = config_.evaluation_interval;
      opts.rules.resend_delay = config_.notify.resend_delay;
      opts.rules.external_labels = config_.external_labels;
      opts.rules.external_url = base;
      const alerting::QueryFunc query = alerting::EngineQueryFunc(engine_);
      opts.query = [this, query](const promql::Expr& expr, int64_t t_ms) {
        promql::QueryResult r = query(expr, t_ms);
        evaluations_.fetch_add(1, std::memory_order_relaxed);
        if (!r.ok()) failures_.fetch_add(1, std::memory_order_relaxed);
        return r;
      };
      opts.append = alerting::DbAppendFunc(db_);
      opts.for_state = alerting::DbForStateLookup(db_);
      opts.sink = &log_sink_;
      rules_ = std::make_unique<alerting::RuleManager>(std::move(opts), clock_);
    } else {
      spdlog::warn("alerting: no local store: rules are not evaluated (OOM alerts still are)");
    }
  }

  ~AlertingService() override { Stop(); }

  std::string_view Name() const override { return "alerting"; }

  Status Start() override {
    if (notifier_ != nullptr) notifier_->Start();
    if (rules_ != nullptr) {
      std::vector<std::string> errors = rules_->Reload(AlertingRuleSources(config_));
      load_errors_ = errors.size();
      for (const std::string& e : errors) spdlog::error("alerting: rule file: {}", e);
      rules_->Start();
    }
    if (config_.oom) {
      std::shared_ptr<OomAlerts> oom = oom_;
      hub_->Subscribe([oom](const OomEvent& e) { oom->OnEvent(e); });
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = false;
    }
    thread_ = std::thread([this] { RunGuarded("alerting", [this] { Loop(); }); });
    if (notifier_ != nullptr && config_.notify.receivers.empty()) {
      spdlog::info("alerting: no receivers configured: alerts go to the log and /api/v1/alerts");
    }
    return Status::Ok();
  }

  Status Reload() override {
    if (rules_ == nullptr) return Status::Ok();
    // SIGHUP and POST /-/reload may overlap: the last reload's error count is the one published.
    std::lock_guard<std::mutex> lock(reload_mu_);
    std::vector<std::string> errors = rules_->Reload(AlertingRuleSources(config_));
    load_errors_ = errors.size();
    std::string all;
    for (const std::string& e : errors) {
      spdlog::error("alerting: rule file: {}", e);
      all += (all.empty() ? "" : "; ") + e;
    }
    if (!errors.empty()) return Status::InvalidArgument(all);
    spdlog::info("alerting: rule files reloaded");
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    oom_->Detach();
    if (rules_ != nullptr) rules_->Stop();
    if (notifier_ != nullptr) notifier_->Stop();
  }

  bool Handles(std::string_view path) const override {
    return path == "/api/v1/rules" || path == "/api/v1/alerts";
  }

  void HandleHttp(const HttpRequest& req, HttpResponse* resp) override {
    // Methods as Prometheus' router answers them on these GET-only paths (agent/api.cc does the
    // same for its routes).
    if (req.method == "OPTIONS") {
      resp->status = 204;
      return;
    }
    if (req.method != "GET") {
      resp->status = 405;
      resp->headers.emplace_back("Allow", "GET, OPTIONS");
      resp->headers.emplace_back("X-Content-Type-Options", "nosniff");
      resp->body = "Method Not Allowed\n";
      return;
    }
    std::vector<alerting::GroupSnapshot> groups;
    if (rules_ != nullptr) groups = rules_->Snapshot();
    if (config_.oom) groups.push_back(oom_->Snapshot());
    alerting::ApiResponse r = req.path == "/api/v1/rules"
                                  ? alerting::RulesApiResponse(groups, req.Param("type"))
                                  : alerting::AlertsApiResponse(groups);
    resp->status = r.http_status;
    resp->content_type = "application/json";
    resp->body = std::move(r.body);
  }

  void AddMetrics(SampleBatch* batch) override {
    auto counter = [&](const char* name, const char* help, double v) {
      batch->Add(batch->Family(name, help, MetricType::kCounter), nullptr, v);
    };
    auto gauge = [&](const char* name, const char* help) {
      return batch->Family(name, help, MetricType::kGauge);
    };
    counter("tidemark_alerting_rule_evaluations_total", "Rule expression evaluations.",
            static_cast<double>(evaluations_.load()));
    counter("tidemark_alerting_rule_evaluation_failures_total",
            "Rule expression evaluations that failed.", static_cast<double>(failures_.load()));
    batch->Add(gauge("tidemark_alerting_rule_load_errors",
                     "Errors of the last rule load (broken files, groups, rules)."),
               nullptr, static_cast<double>(load_errors_.load()));
    counter("tidemark_alerting_oom_events_total", "OOM kill events received from the hub.",
            static_cast<double>(oom_->events()));
    std::map<std::string, double> states = {{"pending", 0}, {"firing", 0}};
    std::vector<alerting::GroupSnapshot> groups;
    if (rules_ != nullptr) groups = rules_->Snapshot();
    groups.push_back(oom_->Snapshot());
    const size_t duration = gauge("tidemark_alerting_rule_group_duration_seconds",
                                  "Duration of the last evaluation of a rule group.");
    for (const auto& g : groups) {
      if (g.name != kOomGroup) {
        batch->Add(duration, nullptr, Labels{{"rule_group", g.file + ";" + g.name}},
                   g.evaluation_seconds);
      }
      for (const auto& r : g.rules) {
        for (const auto& a : r.alerts) states[std::string(alerting::AlertStateName(a.state))]++;
      }
    }
    const size_t alerts = gauge("tidemark_alerting_alerts", "Active alerts by state.");
    for (const auto& [state, n] : states) batch->Add(alerts, nullptr, Labels{{"state", state}}, n);

    if (notifier_ == nullptr) return;
    alerting::NotifierStats st = notifier_->Stats();
    counter("tidemark_alerting_alerts_received_total", "Alerts handed to the notifier.",
            static_cast<double>(st.alerts_received));
    counter("tidemark_alerting_alerts_unrouted_total", "Alerts that matched no receiver.",
            static_cast<double>(st.alerts_unrouted));
    batch->Add(gauge("tidemark_alerting_outbox_length", "Notifications waiting in the outbox."),
               nullptr, static_cast<double>(st.outbox_length));
    const size_t queued = batch->Family("tidemark_alerting_notifications_total",
                                        "Notifications queued per receiver.", MetricType::kCounter);
    const size_t sent = batch->Family("tidemark_alerting_notifications_sent_total",
                                      "Notifications delivered (2xx).", MetricType::kCounter);
    const size_t failed =
        batch->Family("tidemark_alerting_notifications_failed_total",
                      "Failed delivery attempts (retried).", MetricType::kCounter);
    const size_t dropped =
        batch->Family("tidemark_alerting_notifications_dropped_total",
                      "Notifications given up (4xx, outbox full, too old).", MetricType::kCounter);
    const size_t limited =
        batch->Family("tidemark_alerting_notifications_rate_limited_total",
                      "Group notifications deferred by rate_limit.", MetricType::kCounter);
    const size_t pending =
        gauge("tidemark_alerting_outbox_pending", "Notifications in the outbox per receiver.");
    for (const auto& [name, r] : st.receivers) {
      Labels l = {{"receiver", name}, {"type", r.type}};
      batch->Add(queued, nullptr, l, static_cast<double>(r.notifications));
      batch->Add(sent, nullptr, l, static_cast<double>(r.sent));
      batch->Add(failed, nullptr, l, static_cast<double>(r.failed));
      batch->Add(dropped, nullptr, l, static_cast<double>(r.dropped));
      batch->Add(limited, nullptr, l, static_cast<double>(r.rate_limited));
      batch->Add(pending, nullptr, l, static_cast<double>(r.pending));
    }
  }

 private:
  // Resolves and re-sends OOM alerts once a second.
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
      if (stop_) break;
      lock.unlock();
      oom_->Tick();
      lock.lock();
    }
  }

  const AlertingSection& config_;
  const Clock& clock_;
  tsdb::Db* db_;
  const promql::Engine* engine_;
  OomEventHub* hub_;
  std::unique_ptr<alerting::Notifier> notifier_;  // Null when the outbox could not open.
  LoggingSink log_sink_;
  std::shared_ptr<OomAlerts> oom_;
  std::unique_ptr<alerting::RuleManager> rules_;  // Null without a store.
  std::atomic<uint64_t> evaluations_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<size_t> load_errors_{0};
  std::mutex reload_mu_;  // Serializes Reload (the rule manager and load_errors_ together).
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // Guarded by mu_.
  std::thread thread_;
};

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

std::vector<std::string> ExpandRuleFiles(const std::vector<std::string>& globs) {
  std::vector<std::string> files;
  for (const std::string& pattern : globs) {
    if (!HasGlobChars(pattern)) {
      files.push_back(pattern);
      continue;
    }
    glob_t g{};
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

std::vector<alerting::RuleSource> AlertingRuleSources(const AlertingSection& section) {
  std::vector<alerting::RuleSource> sources;
  if (section.builtin) {
    alerting::BuiltinRulesOptions b;
    b.container_retransmits = section.container_retransmits;
    b.container_retransmit_rate = section.container_retransmit_rate;
    b.container_retransmit_for = section.container_retransmit_for;
    b.node_retransmit_ratio = section.node_retransmit_ratio;
    b.node_retransmit_ratio_threshold = section.node_retransmit_ratio_threshold;
    b.node_retransmit_for = section.node_retransmit_for;
    sources.push_back(alerting::BuiltinRuleSource(b));
  }
  for (std::string& f : ExpandRuleFiles(section.rule_files)) {
    sources.push_back(alerting::RuleSource::File(std::move(f)));
  }
  return sources;
}

std::vector<std::string> CheckAlertingRules(const AlertingSection& section) {
  std::vector<std::string> errors;
  for (const alerting::RuleSource& s : AlertingRuleSources(section)) {
    alerting::RuleFileResult r =
        s.is_file ? alerting::LoadRuleFile(s.name) : alerting::ParseRuleFile(s.name, s.text);
    errors.insert(errors.end(), r.errors.begin(), r.errors.end());
  }
  return errors;
}

Result<std::unique_ptr<Service>> MakeAlertingService(const ServiceContext& ctx) {
  const AlertingSection& a = ctx.config.alerting;
  if (!a.enabled) return std::unique_ptr<Service>();
  const std::string dir = ctx.config.data_dir + "/alerting";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  Result<std::unique_ptr<alerting::Notifier>> notifier =
      ec ? Result<std::unique_ptr<alerting::Notifier>>(
               Status::IoError("cannot create " + dir + ": " + ec.message()))
         : alerting::Notifier::Create(a.notify, dir + "/outbox", ctx.clock);
  if (!notifier.ok()) {
    // Receivers that can never be reached are a start-up error; without any, alerts still go to
    // the log and the API.
    if (!a.notify.receivers.empty()) {
      return Status(notifier.status().code(), "alerting: " + notifier.status().message());
    }
    spdlog::warn("alerting: no outbox ({}); alerts go to the log and /api/v1/alerts only",
                 notifier.status().message());
    return std::unique_ptr<Service>(std::make_unique<AlertingService>(ctx, nullptr));
  }
  return std::unique_ptr<Service>(std::make_unique<AlertingService>(ctx, std::move(*notifier)));
}

}  // namespace tidemark::agent
