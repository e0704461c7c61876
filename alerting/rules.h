// Rule evaluation with Prometheus 2.42's semantics (rules/alerting.go, rules/manager.go): alert
// states inactive/pending/firing, `for`, `keep_firing_for`, resolved alerts kept 15 m, templated
// labels and annotations, ALERTS / ALERTS_FOR_STATE and recording-rule samples, `for` state
// restored after a restart, alerts handed to an AlertSink as Prometheus' sendAlerts does.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "alerting/alert.h"
#include "alerting/rule_file.h"
#include "common/clock.h"
#include "common/labels.h"
#include "common/status.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"
#include "tsdb/promql/value.h"

namespace tidemark::alerting {

enum class AlertState { kInactive, kPending, kFiring };
std::string_view AlertStateName(AlertState state);  // "inactive", "pending", "firing"

enum class RuleHealth { kUnknown, kGood, kBad };
std::string_view RuleHealthName(RuleHealth health);  // "unknown", "ok", "err"

// One alert of an alerting rule (Prometheus' rules.Alert). Times are Unix ms; 0 = unset.
struct RuleAlert {
  AlertState state = AlertState::kInactive;
  Labels labels;  // Sorted; series labels − __name__ + rule labels + alertname.
  Labels annotations;
  double value = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;
  int64_t resolved_at_ms = 0;
  int64_t last_sent_at_ms = 0;
  int64_t valid_until_ms = 0;  // ts + 4 × max(interval, resend delay) at the last send.
  int64_t keep_firing_since_ms = 0;
};

// Evaluates an expression at a time (Unix ms). Must be thread-safe if several managers share it.
using QueryFunc = std::function<promql::QueryResult(const promql::Expr& expr, int64_t t_ms)>;
// Over the local engine, which must outlive the function.
QueryFunc EngineQueryFunc(const promql::Engine* engine);

// Stores rule outputs (recording results, ALERTS, ALERTS_FOR_STATE, staleness markers); called
// once per group evaluation. A non-OK status marks the group's producing rules unhealthy.
using AppendFunc = std::function<Status(const std::vector<promql::Sample>& samples)>;
// Appends through one tsdb Appender per call; the Db must outlive the function.
AppendFunc DbAppendFunc(tsdb::Db* db);

// The newest sample of exactly the series `labels` in [mint_ms, maxt_ms], nullopt when none.
struct LastSample {
  int64_t t_ms = 0;
  double v = 0;
};
using ForStateLookup = std::function<Result<std::optional<LastSample>>(
    const Labels& series, int64_t mint_ms, int64_t maxt_ms)>;
// Reads ALERTS_FOR_STATE back from the store; the Db must outlive the function.
ForStateLookup DbForStateLookup(const tsdb::Db* db);

struct RuleOptions {
  // Interval of groups that set none (Prometheus' evaluation_interval). Default: 1 m.
  std::chrono::milliseconds default_interval = std::chrono::minutes(1);
  // --rules.alert.resend-delay. Default: 1 m.
  std::chrono::milliseconds resend_delay = std::chrono::minutes(1);
  // --rules.alert.for-outage-tolerance and --rules.alert.for-grace-period. Default: 1 h, 10 m.
  std::chrono::milliseconds outage_tolerance = std::chrono::hours(1);
  std::chrono::milliseconds for_grace_period = std::chrono::minutes(10);
  // How long resolved alerts are kept and re-sent. Default: 15 m (Prometheus' constant).
  std::chrono::milliseconds resolved_retention = std::chrono::minutes(15);
  Labels external_labels;    // Sorted; $externalLabels in templates.
  std::string external_url;  // $externalURL and generator URLs, e.g. "http://node-1:9920".
};

// Read-only views for the API, taken under the group's lock.
struct RuleSnapshot {
  RuleSpec::Kind kind = RuleSpec::Kind::kAlerting;
  std::string name;
  std::string query;  // Canonical PromQL text.
  double duration_s = 0, keep_firing_for_s = 0;
  Labels labels, annotations;  // As written (templates unexpanded).
  RuleHealth health = RuleHealth::kUnknown;
  std::string last_error;
  double evaluation_seconds = 0;
  std::chrono::system_clock::time_point last_evaluation{};  // Epoch 0 = never.
  AlertState state = AlertState::kInactive;                 // Highest state of its alerts.
  std::vector<RuleAlert> alerts;  // Pending and firing (not resolved), sorted.
};

struct GroupSnapshot {
  std::string name, file;
  double interval_s = 0;
  int limit = 0;
  double evaluation_seconds = 0;
  std::chrono::system_clock::time_point last_evaluation{};
  std::vector<RuleSnapshot> rules;
};

// One rule group. Eval/RestoreForState/CopyStateFrom run on one thread at a time (the manager's
// loop); Snapshot may run concurrently from any thread.
class RuleGroup {
 public:
  RuleGroup(GroupSpec spec, const RuleOptions& options, const Clock& clock, bool restored);
  ~RuleGroup();

  // Evaluates every rule at ts_ms (errors stay per rule), appends the outputs and returns the
  // alerts to send: firing ones due for (re)sending and resolved ones within the retention.
  std::vector<Alert> Eval(int64_t ts_ms, const QueryFunc& query, const AppendFunc& append);
  // Prometheus' RestoreForState: moves ActiveAt of pending alerts by the outage, from the
  // ALERTS_FOR_STATE samples in [ts − outage_tolerance, ts]. Marks every rule restored.
  void RestoreForState(int64_t ts_ms, const ForStateLookup& lookup);
  // Takes alert state and previous-series sets of rules with the same name and labels.
  void CopyStateFrom(RuleGroup& old);
  // Staleness markers at ts_ms for every series the group produced last (when it is removed).
  std::vector<promql::Sample> StaleMarkers(int64_t ts_ms) const;
  GroupSnapshot Snapshot() const;

  const GroupSpec& spec() const { return spec_; }
  std::chrono::milliseconds interval() const { return interval_; }
  std::string Key() const { return spec_.file + ";" + spec_.name; }
  // Whether `other` has the same name, interval, limit and rules (Prometheus' Group.Equals).
  bool SameDefinition(const GroupSpec& other) const;

  struct RuleState;

 private:
  GroupSpec spec_;
  const RuleOptions& options_;
  const Clock& clock_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<RuleState>> rules_;            // State guarded by mu_.
  double evaluation_seconds_ = 0;                            // Guarded by mu_.
  std::chrono::system_clock::time_point last_evaluation_{};  // Guarded by mu_.
  std::vector<Labels> stale_series_;  // Of removed rules, marked stale at the next Eval.
};

// Where rules come from: a file path (read at each Reload) or text (built-in rules, tests).
// Rules of an `overridable` source give way to rules of the same name in the other sources.
struct RuleSource {
  std::string name;  // Path for files; the name errors and the API show for text.
  std::string text;  // Used when !is_file.
  bool is_file = true;
  bool overridable = false;
  static RuleSource File(std::string path) { return {std::move(path), "", true, false}; }
  static RuleSource Text(std::string name, std::string text, bool overridable = false) {
    return {std::move(name), std::move(text), false, overridable};
  }
};

struct RuleManagerOptions {
  RuleOptions rules;
  QueryFunc query;            // Required.
  AppendFunc append;          // Optional: outputs are dropped without it.
  ForStateLookup for_state;   // Optional: no `for` restore without it.
  AlertSink* sink = nullptr;  // Optional; must outlive the manager.
};

// Owns the groups and evaluates each at its interval, on its own thread (Start) or driven by the
// caller (RunDue/EvalAllAt). Thread-safe.
class RuleManager {
 public:
  RuleManager(RuleManagerOptions options, const Clock& clock);
  ~RuleManager();  // Stops the loop.
  RuleManager(const RuleManager&) = delete;
  RuleManager& operator=(const RuleManager&) = delete;

  // Loads the sources; unchanged groups keep running as they are, changed ones keep the state of
  // their unchanged rules. A file that fails to parse, or a group with errors, keeps its previous
  // version (if any) and does not stop the others. Returns every error (file:line: reason).
  std::vector<std::string> Reload(const std::vector<RuleSource>& sources);

  // Evaluates every group whose slot has come by clock.Now(); returns how many ran.
  int RunDue();
  // Evaluates every group at ts_ms now, whatever its schedule (tests, tools).
  void EvalAllAt(int64_t ts_ms);
  // Unix ms of the next group evaluation; INT64_MAX without groups.
  int64_t NextEvalMs() const;

  // The evaluation loop on its own thread, sleeping until the next group is due.
  void Start();
  void Stop();

  std::vector<GroupSnapshot> Snapshot() const;  // Sorted by file, then name.

 private:
  struct Entry {
    std::shared_ptr<RuleGroup> group;
    int64_t next_eval_ms = 0;
    bool should_restore = false;
  };
  void EvalGroup(Entry& e, int64_t ts_ms);
  void EvalLoop();  // The body of the Start() thread.
  int64_t FirstSlot(const RuleGroup& g, int64_t now_ms) const;

  RuleManagerOptions options_;
  const Clock& clock_;
  std::mutex eval_mu_;  // Serializes evaluation and Reload.
  mutable std::mutex mu_;
  std::map<std::string, Entry> groups_;  // Guarded by mu_ (structure); by eval_mu_ (contents).
  bool loaded_once_ = false;             // Guarded by eval_mu_.
  std::condition_variable cv_;
  bool stop_ = false;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace tidemark::alerting
