#include "alerting/rules.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>

#include "alerting/template.h"
#include "common/logging.h"

namespace tidemark::alerting {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kAlertMetric = "ALERTS";
constexpr std::string_view kForStateMetric = "ALERTS_FOR_STATE";

// Sets `name` in a sorted label set; an empty value deletes it (labels.Builder.Set).
void SetLabel(Labels* ls, std::string_view name, std::string value) {
  auto it = std::lower_bound(ls->begin(), ls->end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != ls->end() && it->name == name) {
    if (value.empty()) {
      ls->erase(it);
    } else {
      it->value = std::move(value);
    }
  } else if (!value.empty()) {
    ls->insert(it, Label{std::string(name), std::move(value)});
  }
}

bool LabelsLess(const Labels& a, const Labels& b) {
  return std::lexicographical_compare(
      a.begin(), a.end(), b.begin(), b.end(), [](const Label& x, const Label& y) {
        return x.name != y.name ? x.name < y.name : x.value < y.value;
      });
}

Result<promql::Vector> RunQuery(const QueryFunc& query, const promql::Expr& expr, int64_t ts) {
  promql::QueryResult r = query(expr, ts);
  if (!r.ok()) return Status::InvalidArgument(r.error);
  if (r.value.type == promql::ValueType::kVector) return std::move(r.value.vector);
  if (r.value.type == promql::ValueType::kScalar) {
    return promql::Vector{promql::Sample{Labels{}, ts, r.value.scalar.v}};
  }
  return Status::InvalidArgument("rule result is not a vector or scalar");
}

double Seconds(milliseconds d) { return static_cast<double>(d.count()) / 1000; }

}  // namespace

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "unknown";
}

std::string_view RuleHealthName(RuleHealth health) {
  switch (health) {
    case RuleHealth::kUnknown:
      return "unknown";
    case RuleHealth::kGood:
      return "ok";
    case RuleHealth::kBad:
      return "err";
  }
  return "unknown";
}

QueryFunc EngineQueryFunc(const promql::Engine* engine) {
  return [engine](const promql::Expr& expr, int64_t t) { return engine->InstantExpr(expr, t); };
}

AppendFunc DbAppendFunc(tsdb::Db* db) {
  return [db](const std::vector<promql::Sample>& samples) -> Status {
    if (samples.empty()) return Status::Ok();
    tsdb::Db::Appender app = db->NewAppender();
    for (const promql::Sample& s : samples) app.Add(s.metric, s.t, s.v);
    Result<tsdb::CommitResult> r = app.Commit();
    if (!r.ok()) return r.status();
    if (r->out_of_order > 0) return Status::InvalidArgument("out of order sample");
    if (r->duplicates > 0) return Status::InvalidArgument("duplicate sample for timestamp");
    if (r->too_old > 0) return Status::InvalidArgument("out of bounds");
    if (r->refused > 0) return Status::ResourceExhausted("series limit reached");
    return Status::Ok();
  };
}

ForStateLookup DbForStateLookup(const tsdb::Db* db) {
  return
      [db](const Labels& series, int64_t mint, int64_t maxt) -> Result<std::optional<LastSample>> {
        std::vector<tsdb::Matcher> matchers;
        for (const Label& l : series) {
          Result<tsdb::Matcher> m = tsdb::Matcher::Create(tsdb::MatchType::kEqual, l.name, l.value);
          if (!m.ok()) return m.status();
          matchers.push_back(std::move(m).value());
        }
        Result<std::vector<tsdb::SeriesData>> sel = db->Select(matchers, mint, maxt);
        if (!sel.ok()) return sel.status();
        for (const tsdb::SeriesData& s : *sel) {
          if (s.labels.size() != series.size()) continue;
          std::unique_ptr<tsdb::SampleIterator> it = s.Iterate();
          std::optional<LastSample> last;
          while (it->Next()) last = LastSample{it->t(), it->v()};
          TIDEMARK_RETURN_IF_ERROR(it->status());
          return last;
        }
        return std::optional<LastSample>();
      };
}

struct RuleGroup::RuleState {
  RuleSpec spec;
  std::string query;  // Canonical text.
  Labels raw_labels, raw_annotations;
  bool restored = false;
  // Guarded by the group's mu_:
  std::unordered_map<uint64_t, RuleAlert> active;
  RuleHealth health = RuleHealth::kUnknown;
  std::string last_error;
  double evaluation_seconds = 0;
  std::chrono::system_clock::time_point last_evaluation{};
  // Series appended at the previous evaluation (loop thread only).
  std::map<uint64_t, Labels> previous_series;

  std::string NameAndLabels() const {
    std::string s = spec.name + "{";
    for (const Label& l : raw_labels) s += l.name + "=" + l.value + ",";
    return s + "}";
  }
};

RuleGroup::RuleGroup(GroupSpec spec, const RuleOptions& options, const Clock& clock, bool restored)
    : spec_(std::move(spec)),
      options_(options),
      clock_(clock),
      interval_(spec_.interval.count() > 0 ? spec_.interval : options.default_interval) {
  for (const RuleSpec& r : spec_.rules) {
    auto st = std::make_unique<RuleState>();
    st->spec = r;
    st->query = r.expr ? r.expr->ToString() : r.expr_text;
    for (const TemplatedLabel& l : r.labels) st->raw_labels.push_back({l.name, l.text});
    for (const TemplatedLabel& l : r.annotations) st->raw_annotations.push_back({l.name, l.text});
    st->restored = restored;
    rules_.push_back(std::move(st));
  }
}

RuleGroup::~RuleGroup() = default;

bool RuleGroup::SameDefinition(const GroupSpec& o) const {
  if (o.name != spec_.name || o.file != spec_.file || o.limit != spec_.limit ||
      o.interval != spec_.interval || o.rules.size() != spec_.rules.size()) {
    return false;
  }
  for (size_t i = 0; i < o.rules.size(); ++i) {
    const RuleSpec& a = o.rules[i];
    const RuleSpec& b = spec_.rules[i];
    if (a.kind != b.kind || a.name != b.name || a.expr_text != b.expr_text ||
        a.for_duration != b.for_duration || a.keep_firing_for != b.keep_firing_for ||
        a.labels.size() != b.labels.size() || a.annotations.size() != b.annotations.size()) {
      return false;
    }
    for (size_t k = 0; k < a.labels.size(); ++k) {
      if (a.labels[k].name != b.labels[k].name || a.labels[k].text != b.labels[k].text)
        return false;
    }
    for (size_t k = 0; k < a.annotations.size(); ++k) {
      if (a.annotations[k].name != b.annotations[k].name ||
          a.annotations[k].text != b.annotations[k].text) {
        return false;
      }
    }
  }
  return true;
}

namespace {

// ALERTS / ALERTS_FOR_STATE series of an alert: rule labels overridden by the alert's labels.
Labels AlertSeries(const Labels& alert_labels, std::string_view metric, const std::string& rule,
                   const AlertState* state) {
  Labels ls = alert_labels;
  SetLabel(&ls, "__name__", std::string(metric));
  SetLabel(&ls, "alertname", rule);
  if (state != nullptr) SetLabel(&ls, "alertstate", std::string(AlertStateName(*state)));
  return ls;
}

}  // namespace

std::vector<Alert> RuleGroup::Eval(int64_t ts, const QueryFunc& query, const AppendFunc& append) {
  const auto group_start_wall = clock_.Now();
  const auto group_start = clock_.MonotonicNow();
  std::vector<Alert> to_send;
  std::vector<promql::Sample> out;
  std::vector<RuleState*> producers;
  const int64_t resend_ms = options_.resend_delay.count();
  const int64_t delta_ms = std::max<int64_t>(interval_.count(), resend_ms);
  const std::string url_base = options_.external_url + "/graph?g0.expr=";

  for (auto& rp : rules_) {
    RuleState& r = *rp;
    const auto start_wall = clock_.Now();
    const auto start = clock_.MonotonicNow();
    std::vector<promql::Sample> produced;
    Status err;
    Result<promql::Vector> res =
        r.spec.expr ? RunQuery(query, *r.spec.expr, ts)
                    : Result<promql::Vector>(Status::InvalidArgument("rule has no expression"));
    if (!res.ok()) {
      err = res.status();
    } else if (r.spec.kind == RuleSpec::Kind::kRecording) {
      promql::Vector& vec = *res;
      std::set<uint64_t> seen;
      for (promql::Sample& s : vec) {
        SetLabel(&s.metric, "__name__", r.spec.name);
        for (const Label& l : r.raw_labels) SetLabel(&s.metric, l.name, l.value);
        s.t = ts;
        if (!seen.insert(LabelsFingerprint(s.metric)).second) {
          err = Status::InvalidArgument(
              "vector contains metrics with the same labelset after applying rule labels");
          break;
        }
      }
      if (err.ok() && spec_.limit > 0 && static_cast<int>(vec.size()) > spec_.limit) {
        err = Status::InvalidArgument("exceeded limit of " + std::to_string(spec_.limit) +
                                      " with " + std::to_string(vec.size()) + " series");
      }
      if (err.ok()) produced = std::move(vec);
    } else {
      // Alerting rule (rules/alerting.go Eval).
      std::unordered_map<uint64_t, RuleAlert> current;
      for (const promql::Sample& s : *res) {
        TemplateData data{&s.metric, &options_.external_labels, options_.external_url, s.v};
        Labels ls;
        ls.reserve(s.metric.size() + r.spec.labels.size() + 1);
        for (const Label& l : s.metric) {
          if (l.name != "__name__") ls.push_back(l);
        }
        for (const TemplatedLabel& l : r.spec.labels) {
          SetLabel(&ls, l.name, ExpandParsedAlertTemplate(l.tmpl, data));
        }
        SetLabel(&ls, "alertname", r.spec.name);
        Labels ann;
        for (const TemplatedLabel& a : r.spec.annotations) {
          ann.push_back({a.name, ExpandParsedAlertTemplate(a.tmpl, data)});
        }
        uint64_t h = LabelsFingerprint(ls);
        if (current.count(h)) {
          err = Status::InvalidArgument(
              "vector contains metrics with the same labelset after applying alert labels");
          break;
        }
        RuleAlert a;
        a.labels = std::move(ls);
        a.annotations = std::move(ann);
        a.active_at_ms = ts;
        a.state = AlertState::kPending;
        a.value = s.v;
        current.emplace(h, std::move(a));
      }
      if (err.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& [h, a] : current) {
          auto it = r.active.find(h);
          if (it != r.active.end() && it->second.state != AlertState::kInactive) {
            it->second.value = a.value;
            it->second.annotations = std::move(a.annotations);
            continue;
          }
          r.active[h] = std::move(a);
        }
        int active_pending = 0;
        const int64_t hold = r.spec.for_duration.count();
        const int64_t keep = r.spec.keep_firing_for.count();
        for (auto it = r.active.begin(); it != r.active.end();) {
          RuleAlert& a = it->second;
          bool erase = false;
          if (!current.count(it->first)) {
            bool keep_firing = false;
            if (a.state == AlertState::kFiring && keep > 0) {
              if (a.keep_firing_since_ms == 0) a.keep_firing_since_ms = ts;
              keep_firing = ts - a.keep_firing_since_ms < keep;
            }
            if (a.state == AlertState::kPending ||
                (a.resolved_at_ms != 0 &&
                 ts - a.resolved_at_ms > options_.resolved_retention.count())) {
              erase = true;
            }
            if (a.state != AlertState::kInactive && !keep_firing) {
              a.state = AlertState::kInactive;
              a.resolved_at_ms = ts;
            }
            if (!keep_firing) {
              it = erase ? r.active.erase(it) : std::next(it);
              continue;
            }
          } else {
            a.keep_firing_since_ms = 0;
          }
          ++active_pending;
          if (a.state == AlertState::kPending && ts - a.active_at_ms >= hold) {
            a.state = AlertState::kFiring;
            a.fired_at_ms = ts;
          }
          if (r.restored) {
            AlertState st = a.state;
            produced.push_back({AlertSeries(a.labels, kAlertMetric, r.spec.name, &st), ts, 1});
            produced.push_back({AlertSeries(a.labels, kForStateMetric, r.spec.name, nullptr), ts,
                                static_cast<double>(a.active_at_ms / 1000)});
          }
          it = erase ? r.active.erase(it) : std::next(it);
        }
        if (spec_.limit > 0 && active_pending > spec_.limit) {
          r.active.clear();
          produced.clear();
          err = Status::InvalidArgument("exceeded limit of " + std::to_string(spec_.limit) +
                                        " with " + std::to_string(active_pending) + " alerts");
        } else {
          // sendAlerts: firing alerts due for a resend and resolutions not yet sent.
          for (auto& [h, a] : r.active) {
            if (a.state == AlertState::kPending) continue;
            bool due = a.resolved_at_ms > a.last_sent_at_ms || a.last_sent_at_ms + resend_ms < ts;
            if (!due) continue;
            a.last_sent_at_ms = ts;
            a.valid_until_ms = ts + 4 * delta_ms;
            Alert out_alert;
            out_alert.labels = a.labels;
            out_alert.annotations = a.annotations;
            out_alert.starts_at_ms = a.fired_at_ms;
            out_alert.ends_at_ms = a.resolved_at_ms;
            out_alert.valid_until_ms = a.resolved_at_ms == 0 ? a.valid_until_ms : 0;
            out_alert.generator_url = url_base + GoQueryEscape(r.query) + "&g0.tab=1";
            to_send.push_back(std::move(out_alert));
          }
        }
      }
    }

    const double secs = std::chrono::duration<double>(clock_.MonotonicNow() - start).count();
    std::lock_guard<std::mutex> lock(mu_);
    r.evaluation_seconds = secs;
    r.last_evaluation = start_wall;
    if (!err.ok()) {
      r.health = RuleHealth::kBad;
      r.last_error = err.message();
      continue;  // Like Prometheus: no outputs, no staleness markers, previous series kept.
    }
    r.health = RuleHealth::kGood;
    r.last_error.clear();
    std::map<uint64_t, Labels> now_series;
    for (const promql::Sample& s : produced)
      now_series.emplace(LabelsFingerprint(s.metric), s.metric);
    for (const auto& [h, ls] : r.previous_series) {
      if (!now_series.count(h)) produced.push_back({ls, ts, tsdb::StaleNaN()});
    }
    r.previous_series = std::move(now_series);
    if (!produced.empty()) {
      producers.push_back(&r);
      out.insert(out.end(), std::make_move_iterator(produced.begin()),
                 std::make_move_iterator(produced.end()));
    }
  }
  for (const Labels& ls : stale_series_) out.push_back({ls, ts, tsdb::StaleNaN()});
  stale_series_.clear();
  if (append && !out.empty()) {
    Status st = append(out);
    if (!st.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (RuleState* r : producers) {
        r->health = RuleHealth::kBad;
        r->last_error = st.message();
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  evaluation_seconds_ = std::chrono::duration<double>(clock_.MonotonicNow() - group_start).count();
  last_evaluation_ = group_start_wall;
  std::sort(to_send.begin(), to_send.end(),
            [](const Alert& a, const Alert& b) { return LabelsLess(a.labels, b.labels); });
  return to_send;
}

void RuleGroup::RestoreForState(int64_t ts, const ForStateLookup& lookup) {
  const int64_t mint = ts - options_.outage_tolerance.count();
  const int64_t grace = options_.for_grace_period.count();
  for (auto& rp : rules_) {
    RuleState& r = *rp;
    if (r.spec.kind != RuleSpec::Kind::kAlerting) continue;
    const int64_t hold = r.spec.for_duration.count();
    if (hold < grace || !lookup) {
      r.restored = true;
      continue;
    }
    std::vector<std::pair<uint64_t, Labels>> keys;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [h, a] : r.active) keys.emplace_back(h, a.labels);
    }
    for (const auto& [h, labels] : keys) {
      Result<std::optional<LastSample>> last =
          lookup(AlertSeries(labels, kForStateMetric, r.spec.name, nullptr), mint, ts);
      if (!last.ok() || !last->has_value()) continue;
      const LastSample& s = **last;
      if (tsdb::IsStaleNaN(s.v) || std::isnan(s.v)) continue;
      const int64_t down_at = s.t_ms / 1000 * 1000;
      int64_t restored_active = static_cast<int64_t>(s.v) * 1000;
      const int64_t remaining = hold - (down_at - restored_active);
      if (remaining <= 0) {
        // It was firing when we went down; the next evaluation fires it again if it still holds.
      } else if (remaining < grace) {
        restored_active = ts + grace - hold;
      } else {
        restored_active += ts - down_at;
      }
      std::lock_guard<std::mutex> lock(mu_);
      auto it = r.active.find(h);
      if (it != r.active.end()) it->second.active_at_ms = restored_active;
    }
    r.restored = true;
  }
}

void RuleGroup::CopyStateFrom(RuleGroup& old) {
  std::scoped_lock lock(mu_, old.mu_);
  evaluation_seconds_ = old.evaluation_seconds_;
  last_evaluation_ = old.last_evaluation_;
  std::map<std::string, std::vector<size_t>> by_name;
  for (size_t i = 0; i < old.rules_.size(); ++i) {
    by_name[old.rules_[i]->NameAndLabels()].push_back(i);
  }
  std::vector<bool> used(old.rules_.size(), false);
  for (auto& rp : rules_) {
    auto& idx = by_name[rp->NameAndLabels()];
    if (idx.empty()) continue;
    size_t fi = idx.front();
    idx.erase(idx.begin());
    used[fi] = true;
    RuleState& from = *old.rules_[fi];
    rp->previous_series = from.previous_series;
    rp->health = from.health;
    rp->last_error = from.last_error;
    rp->evaluation_seconds = from.evaluation_seconds;
    rp->last_evaluation = from.last_evaluation;
    if (rp->spec.kind == RuleSpec::Kind::kAlerting && from.spec.kind == RuleSpec::Kind::kAlerting) {
      for (auto& [h, a] : from.active) rp->active[h] = a;
    }
  }
  stale_series_ = old.stale_series_;
  for (size_t i = 0; i < old.rules_.size(); ++i) {
    if (used[i]) continue;
    for (const auto& [h, ls] : old.rules_[i]->previous_series) stale_series_.push_back(ls);
  }
}

std::vector<promql::Sample> RuleGroup::StaleMarkers(int64_t ts) const {
  std::vector<promql::Sample> out;
  for (const auto& rp : rules_) {
    for (const auto& [h, ls] : rp->previous_series) out.push_back({ls, ts, tsdb::StaleNaN()});
  }
  for (const Labels& ls : stale_series_) out.push_back({ls, ts, tsdb::StaleNaN()});
  return out;
}

GroupSnapshot RuleGroup::Snapshot() const {
  GroupSnapshot g;
  g.name = spec_.name;
  g.file = spec_.file;
  g.interval_s = Seconds(interval_);
  g.limit = spec_.limit;
  std::lock_guard<std::mutex> lock(mu_);
  g.evaluation_seconds = evaluation_seconds_;
  g.last_evaluation = last_evaluation_;
  for (const auto& rp : rules_) {
    const RuleState& r = *rp;
    RuleSnapshot s;
    s.kind = r.spec.kind;
    s.name = r.spec.name;
    s.query = r.query;
    s.duration_s = Seconds(r.spec.for_duration);
    s.keep_firing_for_s = Seconds(r.spec.keep_firing_for);
    s.labels = r.raw_labels;
    s.annotations = r.raw_annotations;
    s.health = r.health;
    s.last_error = r.last_error;
    s.evaluation_seconds = r.evaluation_seconds;
    s.last_evaluation = r.last_evaluation;
    for (const auto& [h, a] : r.active) {
      if (a.state > s.state) s.state = a.state;
      if (a.resolved_at_ms == 0) s.alerts.push_back(a);
    }
    std::sort(s.alerts.begin(), s.alerts.end(), [](const RuleAlert& a, const RuleAlert& b) {
      return LabelsLess(a.labels, b.labels);
    });
    g.rules.push_back(std::move(s));
  }
  return g;
}

// ---------------------------------------------------------------------------------------------

RuleManager::RuleManager(RuleManagerOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

RuleManager::~RuleManager() { Stop(); }

int64_t RuleManager::FirstSlot(const RuleGroup& g, int64_t now_ms) const {
  // Prometheus spreads groups over their interval by a hash of the group key.
  const int64_t iv = std::max<int64_t>(g.interval().count(), 1);
  const int64_t offset =
      static_cast<int64_t>(LabelsFingerprint(Labels{{"", g.Key()}}) % static_cast<uint64_t>(iv));
  int64_t slot = now_ms - ((now_ms - offset) % iv + iv) % iv;
  if (slot < now_ms) slot += iv;
  return slot;
}

std::vector<std::string> RuleManager::Reload(const std::vector<RuleSource>& sources) {
  std::lock_guard<std::mutex> eval_lock(eval_mu_);
  std::vector<std::string> errors;
  std::vector<RuleFileResult> results;
  std::set<std::string> fixed_names;  // Rule names of non-overridable sources.
  for (const RuleSource& src : sources) {
    results.push_back(src.is_file ? LoadRuleFile(src.name) : ParseRuleFile(src.name, src.text));
    RuleFileResult& r = results.back();
    errors.insert(errors.end(), r.errors.begin(), r.errors.end());
    if (!src.overridable) {
      for (const GroupSpec& g : r.groups) {
        for (const RuleSpec& rule : g.rules) fixed_names.insert(rule.name);
      }
    }
  }
  const bool restore = !loaded_once_ && options_.for_state != nullptr;
  std::map<std::string, Entry> next;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = ToUnixMillis(clock_.Now());
  for (size_t i = 0; i < sources.size(); ++i) {
    RuleFileResult& r = results[i];
    auto keep_old = [&](const std::string& key) {
      auto it = groups_.find(key);
      if (it != groups_.end()) next[key] = it->second;
    };
    if (!r.file_ok) {
      for (const auto& [key, e] : groups_) {
        if (e.group->spec().file == sources[i].name) keep_old(key);
      }
      continue;
    }
    for (const std::string& name : r.failed_groups) keep_old(sources[i].name + ";" + name);
    for (GroupSpec& g : r.groups) {
      if (sources[i].overridable) {
        std::erase_if(g.rules, [&](const RuleSpec& rule) { return fixed_names.count(rule.name); });
        if (g.rules.empty()) continue;
      }
      std::string key = g.file + ";" + g.name;
      auto old = groups_.find(key);
      if (old != groups_.end() && old->second.group->SameDefinition(g)) {
        next[key] = old->second;
        continue;
      }
      Entry e;
      e.group = std::make_shared<RuleGroup>(std::move(g), options_.rules, clock_,
                                            /*restored=*/!restore);
      e.should_restore = restore;
      if (old != groups_.end()) {
        e.group->CopyStateFrom(*old->second.group);
        e.next_eval_ms = old->second.next_eval_ms;
        e.should_restore = old->second.should_restore;
      } else {
        e.next_eval_ms = FirstSlot(*e.group, now);
      }
      next[key] = std::move(e);
    }
  }
  // Removed groups: their series go stale now.
  for (const auto& [key, e] : groups_) {
    if (next.count(key)) continue;
    std::vector<promql::Sample> stale = e.group->StaleMarkers(now);
    if (options_.append && !stale.empty()) options_.append(stale).PermitUncheckedError();
  }
  groups_ = std::move(next);
  loaded_once_ = true;
  cv_.notify_all();
  return errors;
}

void RuleManager::EvalGroup(Entry& e, int64_t ts) {
  std::vector<Alert> alerts = e.group->Eval(ts, options_.query, options_.append);
  if (e.should_restore) {
    // As Prometheus: restore after the first evaluation, so that recording rules and fresh
    // samples are in place, and only then start writing ALERTS series.
    e.group->RestoreForState(ts, options_.for_state);
    e.should_restore = false;
  }
  if (options_.sink != nullptr && !alerts.empty()) options_.sink->Send(std::move(alerts));
}

int RuleManager::RunDue() {
  std::lock_guard<std::mutex> eval_lock(eval_mu_);
  const int64_t now = ToUnixMillis(clock_.Now());
  std::vector<std::pair<std::string, Entry*>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, e] : groups_) {
      if (e.next_eval_ms <= now) due.emplace_back(key, &e);
    }
  }
  for (auto& [key, e] : due) {
    const int64_t iv = std::max<int64_t>(e->group->interval().count(), 1);
    // The newest slot not after now; missed slots are skipped, as Prometheus does.
    int64_t ts = e->next_eval_ms + (now - e->next_eval_ms) / iv * iv;
    EvalGroup(*e, ts);
    std::lock_guard<std::mutex> lock(mu_);
    e->next_eval_ms = ts + iv;
  }
  return static_cast<int>(due.size());
}

void RuleManager::EvalAllAt(int64_t ts) {
  std::lock_guard<std::mutex> eval_lock(eval_mu_);
  for (auto& [key, e] : groups_) EvalGroup(e, ts);
}

int64_t RuleManager::NextEvalMs() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t next = INT64_MAX;
  for (const auto& [key, e] : groups_) next = std::min(next, e.next_eval_ms);
  return next;
}

void RuleManager::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { RunGuarded("rule evaluation", [this] { EvalLoop(); }); });
}

void RuleManager::EvalLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) return;
      int64_t next = INT64_MAX;
      for (const auto& [key, e] : groups_) next = std::min(next, e.next_eval_ms);
      const int64_t now = ToUnixMillis(clock_.Now());
      if (next > now) {
        const int64_t wait = std::min<int64_t>(next - now, 1000);
        cv_.wait_for(lock, milliseconds(wait));
        continue;
      }
    }
    RunDue();
  }
}

void RuleManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<GroupSnapshot> RuleManager::Snapshot() const {
  std::vector<std::shared_ptr<RuleGroup>> groups;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, e] : groups_) groups.push_back(e.group);
  }
  std::vector<GroupSnapshot> out;
  for (const auto& g : groups) out.push_back(g->Snapshot());
  std::sort(out.begin(), out.end(), [](const GroupSnapshot& a, const GroupSnapshot& b) {
    return a.file != b.file ? a.file < b.file : a.name < b.name;
  });
  return out;
}

}  // namespace tidemark::alerting
