// Routing (owner → receivers) and Alertmanager-style grouping for the receivers the agent groups
// itself (webhook, slack, dingtalk, wecom): group_by, group_wait, group_interval, repeat_interval,
// deduplication by fingerprint, resolved notifications and a per-receiver rate limit. Pure logic
// driven by the caller's clock (`now_ms` arguments); not thread-safe (the Notifier locks).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "alerting/receivers.h"
#include "common/status.h"

namespace re2 {
class RE2;
}

namespace tidemark::alerting {

struct RouteConfig {
  // RE2 full match on the alert's owner ("checkout" matches exactly that owner); "" = any owner.
  std::string owner;
  std::vector<std::string> receivers;  // Receiver names; at least one.
  // Labels that form a group; {"..."} = every label (one group per alert). Default: alertname,
  // owner.
  std::vector<std::string> group_by = {"alertname", "owner"};
  // Wait before a new group's first notification, to batch a burst. Default: 1 s (low so an OOM
  // kill reaches its owner within 2 s; Alertmanager's default is 30 s).
  std::chrono::milliseconds group_wait{1000};
  // Wait before notifying about alerts added to a group already notified. Default: 1 m.
  std::chrono::milliseconds group_interval{60000};
  // Re-send an unchanged firing group this often. Default: 4 h.
  std::chrono::milliseconds repeat_interval{4 * 3600 * 1000};
  bool continue_matching = false;  // Also try the following routes. Default: false.
};

// Routes in order; the first match wins unless it has continue_matching; `fallback` (the
// catch-all) gets alerts no route matched. Immutable after Create; thread-safe.
class Router {
 public:
  // InvalidArgument naming routes[i] for a bad regex or a route without receivers.
  static Result<std::unique_ptr<Router>> Create(std::vector<RouteConfig> routes,
                                                RouteConfig fallback);
  ~Router();
  // Indexes into routes() of the matching routes (routes().size() stands for the fallback).
  std::vector<size_t> Match(std::string_view owner) const;
  const RouteConfig& route(size_t i) const { return i < routes_.size() ? routes_[i] : fallback_; }
  size_t size() const { return routes_.size(); }

 private:
  Router();
  std::vector<RouteConfig> routes_;
  std::vector<std::unique_ptr<re2::RE2>> owner_res_;  // null = any owner
  RouteConfig fallback_;
};

// What the dispatcher needs to know about a grouped receiver.
struct GroupedReceiver {
  std::string name;
  bool send_resolved = true;  // Default: true
  size_t max_alerts = 0;      // Alerts per notification; 0 = all. Default: 0
};

struct DispatcherOptions {
  std::string external_url;  // Goes into every message. Default: "".
  // Notifications per receiver per minute; past it groups wait (alerts keep aggregating in them)
  // and rate_limited counts the deferrals. 0 = unlimited. Default: 20.
  uint32_t max_per_minute = 20;
  // A firing alert not re-sent by the rules for this long counts as resolved at last update + this
  // (Prometheus' endsAt window: 4 x max(eval interval, resend delay)). Default: 4 m.
  std::chrono::milliseconds resolve_timeout{240000};
};

// A notification the dispatcher decided to send.
struct DispatchedMessage {
  GroupMessage message;
  std::string group_id;         // receiver + group key: a newer message of the group replaces it.
  std::string idempotency_key;  // receiver + group key + status + hash of fingerprints.
};

class Dispatcher {
 public:
  Dispatcher(DispatcherOptions options, std::vector<GroupedReceiver> receivers)
      : options_(std::move(options)) {
    for (auto& r : receivers) receivers_[r.name] = std::move(r);
  }

  // Puts the alert (owner already set) into the group of `receiver` on `route`. A resolved alert
  // whose group does not hold it firing is ignored (it was never notified, or already was).
  void Add(const Alert& alert, size_t route_index, const RouteConfig& route,
           const std::string& receiver, int64_t now_ms);
  // Notifications due at now_ms.
  std::vector<DispatchedMessage> Flush(int64_t now_ms);
  // Earliest time Flush has work; INT64_MAX when no group is pending.
  int64_t NextFlushMs() const;

  size_t group_count() const { return groups_.size(); }
  // Deferrals by the rate limit, per receiver.
  const std::map<std::string, uint64_t>& rate_limited() const { return rate_limited_; }

 private:
  struct Entry {
    Alert alert;
    int64_t updated_ms = 0;
  };
  struct Group {
    std::string receiver;
    std::string key;
    Labels group_labels;
    const RouteConfig* route = nullptr;
    std::map<uint64_t, Entry> alerts;  // By fingerprint.
    int64_t next_flush_ms = 0;
    int64_t last_notify_ms = -1;  // -1 = never notified.
    std::set<uint64_t> last_firing, last_resolved;
  };

  DispatcherOptions options_;
  std::map<std::string, GroupedReceiver> receivers_;
  std::map<std::string, Group> groups_;                    // By receiver + group key.
  std::map<std::string, std::deque<int64_t>> sent_times_;  // Per receiver, last minute.
  std::map<std::string, uint64_t> rate_limited_;
};

// "{alertname=\"X\", owner=\"y\"}" as Alertmanager prints group labels.
std::string FormatGroupLabels(const Labels& labels);

}  // namespace tidemark::alerting
