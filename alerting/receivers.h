// Receiver payloads and delivery: Alertmanager API v2 (POST /api/v2/alerts), Alertmanager's
// webhook payload version 4, and Slack-compatible, DingTalk and WeCom robot messages. Payload
// builders are pure functions; Deliver does one HTTP POST (plain http:// only; no TLS).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/alert.h"
#include "common/status.h"

namespace tidemark::alerting {

enum class ReceiverType { kAlertmanager, kWebhook, kSlack, kDingTalk, kWeCom };

// "alertmanager", "webhook", "slack", "dingtalk", "wecom".
std::string_view ReceiverTypeName(ReceiverType type);
// InvalidArgument listing the known names.
Result<ReceiverType> ParseReceiverType(std::string_view name);

// http(s)://host[:port][/path][?query]; port defaults to 80 (443 for https), target to "/".
struct HttpUrl {
  std::string host;
  uint16_t port = 80;
  std::string target = "/";
  bool tls = false;  // https: verified against the system's CAs, with hostname checking.
};
// InvalidArgument for anything else.
Result<HttpUrl> ParseHttpUrl(std::string_view url);
// The URL without its path and query ("https://oapi.dingtalk.com/…"), for logs and errors:
// robot URLs carry their secret there (access_token, key, Slack's path).
std::string RedactUrl(std::string_view url);

// RFC 3339 in UTC with milliseconds when non-zero, as Go marshals time.Time:
// 2024-05-01T10:00:00Z, 2024-05-01T10:00:00.25Z.
std::string FormatRfc3339(int64_t unix_ms);

// Alertmanager API v2 body: a JSON array of postableAlert. A firing alert (ends_at_ms == 0) gets
// endsAt of a firing alert = its valid_until_ms when later than now, else now_ms + valid_for
// (Prometheus: 4 x max(evaluation interval, resend delay)).
std::string AlertmanagerPayload(const std::vector<Alert>& alerts, int64_t now_ms,
                                std::chrono::milliseconds valid_for);

// One grouped notification, the fields of the webhook payload version 4.
struct GroupMessage {
  std::string receiver;
  std::string group_key;
  Labels group_labels;
  std::vector<Alert> alerts;  // Firing ones have ends_at_ms == 0 (sent as 0001-01-01T00:00:00Z).
  size_t truncated_alerts = 0;
  std::string external_url;  // The agent's base URL. Default: "".

  bool firing() const;  // Any alert still firing.
  Labels CommonLabels() const;
  Labels CommonAnnotations() const;
};

// Alertmanager's webhook payload version 4 (alerting.md §4).
std::string WebhookPayload(const GroupMessage& msg);
// Slack incoming-webhook message: {"text": title, "attachments": [{color, title, text, ...}]}.
std::string SlackPayload(const GroupMessage& msg);
// DingTalk robot: {"msgtype":"markdown","markdown":{"title":..., "text":...}}.
std::string DingTalkPayload(const GroupMessage& msg);
// WeCom (WeChat Work) robot: {"msgtype":"markdown","markdown":{"content":...}}.
std::string WeComPayload(const GroupMessage& msg);
// The payload for `type` (not kAlertmanager).
std::string GroupPayload(ReceiverType type, const GroupMessage& msg);
// "[FIRING:2] OOMKilled (checkout)" — the one-line title the chat formats use.
std::string GroupTitle(const GroupMessage& msg);

enum class DeliveryOutcome {
  kDelivered,  // 2xx (and, for robots, errcode 0).
  kRetry,      // Network error, timeout, 429, 5xx, robot throttling: retry with backoff.
  kDrop,       // Other 4xx or a bad URL: retrying cannot help.
};
struct DeliveryResult {
  DeliveryOutcome outcome = DeliveryOutcome::kRetry;
  std::string error;  // "" when delivered, else names the receiver, URL and reason.
};

// POSTs `body` to `url` with an Idempotency-Key header; blocks up to `timeout`. Thread-safe.
DeliveryResult Deliver(ReceiverType type, std::string_view receiver, std::string_view url,
                       std::string_view body, std::string_view idempotency_key,
                       std::chrono::milliseconds timeout);

}  // namespace tidemark::alerting
