// The `notify` configuration section: owners, receivers, routes, rate limit and outbox. Keys
// (defaults in brackets; durations as Prometheus writes them):
//   external_url [""]            agent URL put into webhook payloads (externalURL)
//   resend_delay [1m]            Alertmanager receivers: re-send firing alerts this often
//   evaluation_interval [1m]     rules' interval; endsAt = now + 4 x max(this, resend_delay)
//   owners: label_keys [owner, team]; static: [{match_service, match_namespace, owner}];
//           default [unowned]
//   receivers: [{name, type (alertmanager|webhook|slack|dingtalk|wecom), url | urls (http:// only),
//               timeout [10s], send_resolved [true; grouped receivers only], max_alerts [0 = all]}]
//   routes: [{owner (regex, full match; "" = any), receivers, group_by [alertname, owner],
//            group_wait [1s], group_interval [1m], repeat_interval [4h], continue [false]}]
//   default_route: {receivers [all receivers], group_by, group_wait, group_interval,
//                   repeat_interval}            catch-all for alerts no route matched
//   rate_limit: {max_per_minute [20]}           per grouped receiver; 0 = unlimited
//   outbox: {max_entries [10000], initial_backoff [1s], max_backoff [5m], max_age [24h]}
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/owners.h"
#include "alerting/receivers.h"
#include "alerting/route.h"
#include "common/status.h"
#include "common/yaml_walker.h"

namespace tidemark::alerting {

struct ReceiverConfig {
  std::string name;  // Unique; routes refer to it.
  ReceiverType type = ReceiverType::kWebhook;
  // Alertmanager: base URLs (the agent posts to <url>/api/v2/alerts), each gets every alert.
  // Others: the webhook/robot URL (only the first is used; more are rejected).
  std::vector<std::string> urls;
  std::chrono::milliseconds timeout{10000};  // Per HTTP attempt. Default: 10 s.
  bool send_resolved =
      true;               // Grouped receivers; Alertmanager always gets resolutions. Default: true
  size_t max_alerts = 0;  // Per grouped notification; 0 = all. Default: 0
};

struct OutboxConfig {
  size_t max_entries = 10000;                       // Default: 10000
  std::chrono::milliseconds initial_backoff{1000};  // Default: 1 s
  std::chrono::milliseconds max_backoff{300000};    // Default: 5 m
  std::chrono::milliseconds max_age{86400000};      // Default: 24 h
};

struct NotifyConfig {
  std::string external_url;                              // Default: ""
  std::chrono::milliseconds resend_delay{60000};         // Default: 1 m
  std::chrono::milliseconds evaluation_interval{60000};  // Default: 1 m
  OwnerOptions owners;
  std::vector<ReceiverConfig> receivers;  // Default: none (alerts are counted only)
  std::vector<RouteConfig> routes;        // Default: none
  // Catch-all; empty receivers = every configured receiver.
  RouteConfig default_route;
  uint32_t max_per_minute = 20;  // rate_limit.max_per_minute. Default: 20
  OutboxConfig outbox;

  // 4 x max(evaluation_interval, resend_delay): the endsAt window of firing alerts.
  std::chrono::milliseconds ValidFor() const {
    return 4 * std::max(evaluation_interval, resend_delay);
  }
};

// Reads the mapping `node` (absent or null = all defaults) into *out. Errors come from the walker:
// "<source>:<line>: <key_prefix>.<key>: <why>".
Status ParseNotifyConfig(const YamlWalker& walker, const YAML::Node& node,
                         const std::string& key_prefix, NotifyConfig* out);
// Cross-field checks: unique receiver names, parseable http:// URLs, routes naming known
// receivers, regexes that compile, positive durations. InvalidArgument "<source>: notify.<key>:
// <why>".
Status ValidateNotifyConfig(const NotifyConfig& config, std::string_view source);
// The section as YAML with every key (for `tidemark check config`).
YAML::Node EmitNotifyConfig(const NotifyConfig& config);

}  // namespace tidemark::alerting
