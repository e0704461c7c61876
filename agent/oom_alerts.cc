#include "agent/oom_alerts.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "alerting/builtin_rules.h"
#include "common/file_util.h"

namespace tidemark::agent {
namespace {

using alerting::Alert;
using nlohmann::json;

constexpr int kStateVersion = 1;
constexpr size_t kMaxStateBytes = 16 << 20;  // Thousands of alerts; anything bigger is not ours.

// Restore's checks: every failure throws std::runtime_error naming the field.
int64_t PositiveMillis(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() && v.get<uint64_t>() > std::numeric_limits<int64_t>::max()) ||
      v.get<int64_t>() <= 0) {
    throw std::runtime_error(std::string(key) + " is not a positive integer: " + v.dump());
  }
  return v.get<int64_t>();
}

Labels CheckedLabels(const json& j, const char* key) {
  Result<Labels> l = alerting::LabelsFromJson(j.at(key));
  if (!l.ok()) throw std::runtime_error(std::string(key) + ": " + l.status().message());
  return std::move(*l);
}

// An alert of the state file; times later than `now_ms` (a clock set back since) are taken as
// now, so nothing restored can fire or linger longer than a fresh alert would.
Alert AlertFromJson(const json& j, bool active, int64_t now_ms) {
  if (!j.is_object()) throw std::runtime_error("an alert is not a JSON object");
  Alert a;
  a.labels = CheckedLabels(j, "labels");
  if (GetLabel(a.labels, "alertname") != kOomAlertName) {
    throw std::runtime_error("an alert is not a " + std::string(kOomAlertName) + " alert");
  }
  a.annotations = CheckedLabels(j, "annotations");
  a.starts_at_ms = std::min(PositiveMillis(j, "starts_at_ms"), now_ms);
  if (active) {
    if (!j.at("ends_at_ms").is_number_integer() || j.at("ends_at_ms").get<int64_t>() != 0) {
      throw std::runtime_error("a firing alert has an end");
    }
  } else {
    a.ends_at_ms = std::min(PositiveMillis(j, "ends_at_ms"), now_ms);
  }
  if (!j.at("generator_url").is_string()) throw std::runtime_error("generator_url not a string");
  a.generator_url = j.at("generator_url").get<std::string>();
  return a;
}

json AlertToJson(const Alert& a) {
  return {{"labels", alerting::LabelsToJson(a.labels)},
          {"annotations", alerting::LabelsToJson(a.annotations)},
          {"starts_at_ms", a.starts_at_ms},
          {"ends_at_ms", a.ends_at_ms},
          {"generator_url", a.generator_url}};
}

}  // namespace

OomAlerts::OomAlerts(alerting::AlertSink* sink, const alerting::OwnerResolver* owners,
                     const Clock& clock, std::chrono::milliseconds resolve_after,
                     std::string generator_url, std::string state_path)
    : sink_(sink),
      owners_(owners),
      clock_(clock),
      resolve_after_ms_(resolve_after.count()),
      generator_url_(std::move(generator_url)),
      state_path_(sink != nullptr ? std::move(state_path) : std::string()) {
  Restore();
}

void OomAlerts::OnEvent(const OomEvent& e) {
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
    SortLabels(&probe.labels);
    alert.labels.push_back({"owner", owners_->Resolve(probe)});
    SortLabels(&alert.labels);
  }
  const int64_t now = ToUnixMillis(clock_.Now());
  const uint64_t fp = alert.Fingerprint();
  auto it = active_.find(fp);
  if (it == active_.end()) {
    resolved_.erase(fp);
    it = active_.emplace(fp, Active{alert, 0, now}).first;
  } else {
    const int64_t starts = it->second.alert.starts_at_ms;
    it->second.alert = alert;
    it->second.alert.starts_at_ms = starts;
  }
  it->second.kills += e.count;
  it->second.last_kill_ms = std::max(now, e.time_ms);
  dirty_ = true;
  sink_->Send({it->second.alert});
}

void OomAlerts::Tick() {
  std::string state;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ == nullptr) return;
    const int64_t now = ToUnixMillis(clock_.Now());
    std::vector<Alert> out;
    std::set<uint64_t> just_resolved;  // Sent at least once, however long ago they ended.
    for (auto it = active_.begin(); it != active_.end();) {
      const int64_t ends = it->second.last_kill_ms + resolve_after_ms_;
      if (now >= ends) {
        Alert a = it->second.alert;
        a.ends_at_ms = std::max(a.starts_at_ms, ends);
        resolved_[it->first] = a;
        just_resolved.insert(it->first);
        it = active_.erase(it);
        dirty_ = true;
      } else {
        out.push_back(it->second.alert);
        ++it;
      }
    }
    for (auto it = resolved_.begin(); it != resolved_.end();) {
      if (!just_resolved.count(it->first) && now - it->second.ends_at_ms > kResolvedRetentionMs) {
        it = resolved_.erase(it);
        dirty_ = true;
      } else {
        out.push_back(it->second);
        ++it;
      }
    }
    state = TakeStateLocked(&generation);
    if (!out.empty()) sink_->Send(std::move(out));
  }
  if (generation != 0) Write(state, generation);
}

void OomAlerts::Detach() {
  std::string state;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ != nullptr) state = TakeStateLocked(&generation);
    sink_ = nullptr;
  }
  if (generation != 0) Write(state, generation);
}

uint64_t OomAlerts::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

alerting::GroupSnapshot OomAlerts::Snapshot() const {
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
    r.last_evaluation =
        std::max(r.last_evaluation,
                 std::chrono::system_clock::time_point(std::chrono::milliseconds(a.last_kill_ms)));
  }
  g.last_evaluation = r.last_evaluation;
  g.rules.push_back(std::move(r));
  return g;
}

std::string OomAlerts::TakeStateLocked(uint64_t* generation) {
  *generation = 0;
  if (!dirty_ || state_path_.empty()) return "";
  try {
    json active = json::array(), resolved = json::array();
    for (const auto& [fp, a] : active_) {
      json j = AlertToJson(a.alert);
      j["kills"] = a.kills;
      j["last_kill_ms"] = a.last_kill_ms;
      active.push_back(std::move(j));
    }
    for (const auto& [fp, a] : resolved_) resolved.push_back(AlertToJson(a));
    json doc = {{"version", kStateVersion}, {"active", active}, {"resolved", resolved}};
    // A command name cut by the kernel may end inside a UTF-8 character: replaced, not fatal.
    std::string text = doc.dump(-1, ' ', false, json::error_handler_t::replace);
    dirty_ = false;
    *generation = ++generation_;
    return text;
  } catch (const std::exception& e) {
    spdlog::warn("alerting: OOM alert state not saved: {}", e.what());
    return "";
  }
}

void OomAlerts::Write(const std::string& state, uint64_t generation) {
  std::lock_guard<std::mutex> save(save_mu_);
  if (generation <= written_) return;  // A newer state is on disk already.
  Status st = WriteFileAtomically(state_path_, state);
  if (st.ok()) {
    written_ = generation;
    failed_writes_ = 0;
    return;
  }
  if (failed_writes_++ == 0) {
    spdlog::warn("alerting: OOM alert state not saved (retried each second): {}", st.ToString());
  }
  std::lock_guard<std::mutex> lock(mu_);
  dirty_ = true;  // Taken again at the next tick.
}

void OomAlerts::Restore() {
  if (state_path_.empty()) return;
  std::string why;
  try {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(state_path_, ec);
    if (ec) {
      if (ec != std::errc::no_such_file_or_directory) {
        spdlog::warn("alerting: OOM alert state {} not restored: {}", state_path_, ec.message());
      }
      return;
    }
    if (size > kMaxStateBytes) throw std::runtime_error(std::to_string(size) + " bytes");
    Result<std::string> text = ReadFile(state_path_);
    if (!text.ok()) {
      spdlog::warn("alerting: OOM alert state not restored: {}", text.status().ToString());
      return;
    }
    const int64_t now = ToUnixMillis(clock_.Now());
    json doc = json::parse(*text);
    if (!doc.is_object() || !doc.at("version").is_number_integer() ||
        doc.at("version").get<int64_t>() != kStateVersion) {
      throw std::runtime_error("not a version " + std::to_string(kStateVersion) + " state");
    }
    if (!doc.at("active").is_array() || !doc.at("resolved").is_array()) {
      throw std::runtime_error("active and resolved are not both lists");
    }
    std::map<uint64_t, Active> active;
    std::map<uint64_t, Alert> resolved;
    for (const json& j : doc.at("active")) {
      Active a{AlertFromJson(j, true, now), 0, 0};
      const json& kills = j.at("kills");
      if (!kills.is_number_unsigned() || kills.get<uint64_t>() == 0) {
        throw std::runtime_error("kills is not a positive integer: " + kills.dump());
      }
      a.kills = kills.get<uint64_t>();
      a.last_kill_ms = std::clamp(PositiveMillis(j, "last_kill_ms"), a.alert.starts_at_ms,
                                  std::max<int64_t>(now, 1));
      active[a.alert.Fingerprint()] = std::move(a);
    }
    for (const json& j : doc.at("resolved")) {
      Alert a = AlertFromJson(j, false, now);
      resolved[a.Fingerprint()] = std::move(a);
    }
    for (const auto& [fp, a] : active) resolved.erase(fp);
    active_ = std::move(active);
    resolved_ = std::move(resolved);
    if (!active_.empty() || !resolved_.empty()) {
      spdlog::info("alerting: restored {} firing and {} resolved OOM alerts from {}",
                   active_.size(), resolved_.size(), state_path_);
    }
    return;
  } catch (const std::exception& e) {
    why = e.what();
  }
  std::error_code ec;
  std::filesystem::rename(state_path_, state_path_ + ".bad", ec);
  spdlog::warn("alerting: OOM alert state {} unusable ({}); set aside as {}.bad", state_path_, why,
               state_path_);
}

}  // namespace tidemark::agent
