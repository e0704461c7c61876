#include "agent/alerting_service.h"

#include <glob.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "agent/oom_alerts.h"
#include "alerting/builtin_rules.h"
#include "alerting/notifier.h"
#include "alerting/rule_file.h"
#include "alerting/rules_api.h"
#include "common/logging.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"

namespace tidemark::agent {
namespace {

using alerting::Alert;
using alerting::AlertSink;

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
