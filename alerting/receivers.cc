#include "alerting/receivers.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/http_client.h"

namespace tidemark::alerting {

std::string_view ReceiverTypeName(ReceiverType type) {
  switch (type) {
    case ReceiverType::kAlertmanager:
      return "alertmanager";
    case ReceiverType::kWebhook:
      return "webhook";
    case ReceiverType::kSlack:
      return "slack";
    case ReceiverType::kDingTalk:
      return "dingtalk";
    case ReceiverType::kWeCom:
      return "wecom";
  }
  return "unknown";
}

Result<ReceiverType> ParseReceiverType(std::string_view name) {
  for (ReceiverType t : {ReceiverType::kAlertmanager, ReceiverType::kWebhook, ReceiverType::kSlack,
                         ReceiverType::kDingTalk, ReceiverType::kWeCom}) {
    if (ReceiverTypeName(t) == name) return t;
  }
  return Status::InvalidArgument("unknown receiver type \"" + std::string(name) +
                                 "\" (known: alertmanager, webhook, slack, dingtalk, wecom)");
}

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("url \"" + std::string(url) + "\": " + why);
  };
  HttpUrl out;
  std::string_view rest;
  if (url.starts_with("https://")) {
    out.tls = true;
    out.port = 443;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return bad("expected http(s)://host[:port][/path]");
  }
  size_t slash = rest.find_first_of("/?");
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.target = std::string(rest.substr(slash));
    if (out.target[0] == '?') out.target = "/" + out.target;
  }
  if (hostport.empty()) return bad("missing host");
  if (hostport.find('@') != std::string_view::npos) return bad("user info is not supported");
  size_t colon = hostport.rfind(':');
  size_t bracket = hostport.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    std::string_view port = hostport.substr(colon + 1);
    unsigned long p = 0;
    if (port.empty() || port.size() > 5) return bad("bad port");
    for (char c : port) {
      if (c < '0' || c > '9') return bad("bad port");
      p = p * 10 + static_cast<unsigned long>(c - '0');
    }
    if (p == 0 || p > 65535) return bad("port out of range");
    out.port = static_cast<uint16_t>(p);
    hostport = hostport.substr(0, colon);
  }
  if (hostport.size() >= 2 && hostport.front() == '[' && hostport.back() == ']') {
    hostport = hostport.substr(1, hostport.size() - 2);
  }
  if (hostport.empty()) return bad("missing host");
  out.host = std::string(hostport);
  return out;
}

std::string RedactUrl(std::string_view url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t cut = url.find_first_of("/?", start);
  if (cut == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, cut)) + (cut + 1 < url.size() ? "/…" : "/");
}

std::string FormatRfc3339(int64_t unix_ms) {
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (ms != 0) {
    char frac[8];
    std::snprintf(frac, sizeof(frac), ".%03d", static_cast<int>(ms));
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += 'Z';
  return out;
}

namespace {

constexpr char kZeroTime[] = "0001-01-01T00:00:00Z";

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Fingerprint16(const Alert& a) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, a.Fingerprint());
  return buf;
}

// Labels present with the same value in every set.
Labels Common(const std::vector<const Labels*>& sets) {
  if (sets.empty()) return {};
  Labels out;
  for (const Label& l : *sets[0]) {
    bool all = true;
    for (size_t i = 1; i < sets.size() && all; ++i) {
      all = GetLabel(*sets[i], l.name) == l.value && !l.value.empty();
    }
    if (all) out.push_back(l);
  }
  return out;
}

// The Markdown body the chat formats share: one bullet block per alert.
std::string MarkdownBody(const GroupMessage& msg, bool bold_title) {
  std::string out = bold_title ? "**" + GroupTitle(msg) + "**\n" : "";
  for (const Alert& a : msg.alerts) {
    out += "\n- ";
    out += a.resolved() ? "[RESOLVED] " : "[FIRING] ";
    out += std::string(GetLabel(a.labels, "alertname"));
    std::string details;
    for (const Label& l : a.labels) {
      if (l.name == "alertname") continue;
      details += (details.empty() ? "" : ", ") + l.name + "=" + l.value;
    }
    if (!details.empty()) out += " (" + details + ")";
    for (std::string_view key : {"summary", "description"}) {
      std::string_view v = GetLabel(a.annotations, key);
      if (!v.empty()) out += "\n  " + std::string(v);
    }
    out += "\n  since " + FormatRfc3339(a.starts_at_ms);
    if (a.resolved()) out += ", resolved " + FormatRfc3339(a.ends_at_ms);
  }
  if (msg.truncated_alerts > 0) {
    out += "\n\n(" + std::to_string(msg.truncated_alerts) + " more alerts not shown)";
  }
  if (!msg.external_url.empty()) out += "\n\n" + msg.external_url;
  return out;
}

// Cuts `s` to at most `max` bytes at a UTF-8 character boundary.
std::string TruncateUtf8(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

}  // namespace

std::string AlertmanagerPayload(const std::vector<Alert>& alerts, int64_t now_ms,
                                std::chrono::milliseconds valid_for) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Alert& a : alerts) {
    nlohmann::json j;
    j["labels"] = LabelsToJson(a.labels);
    j["annotations"] = LabelsToJson(a.annotations);
    j["startsAt"] = FormatRfc3339(a.starts_at_ms);
    int64_t ends = a.resolved()                ? a.ends_at_ms
                   : a.valid_until_ms > now_ms ? a.valid_until_ms
                                               : now_ms + valid_for.count();
    j["endsAt"] = FormatRfc3339(ends);
    if (!a.generator_url.empty()) j["generatorURL"] = a.generator_url;
    arr.push_back(std::move(j));
  }
  return Dump(arr);
}

bool GroupMessage::firing() const {
  for (const Alert& a : alerts) {
    if (!a.resolved()) return true;
  }
  return false;
}

Labels GroupMessage::CommonLabels() const {
  std::vector<const Labels*> sets;
  for (const Alert& a : alerts) sets.push_back(&a.labels);
  return Common(sets);
}

Labels GroupMessage::CommonAnnotations() const {
  std::vector<const Labels*> sets;
  for (const Alert& a : alerts) sets.push_back(&a.annotations);
  return Common(sets);
}

std::string WebhookPayload(const GroupMessage& msg) {
  nlohmann::json j;
  j["version"] = "4";
  j["groupKey"] = msg.group_key;
  j["truncatedAlerts"] = msg.truncated_alerts;
  j["status"] = msg.firing() ? "firing" : "resolved";
  j["receiver"] = msg.receiver;
  j["groupLabels"] = LabelsToJson(msg.group_labels);
  j["commonLabels"] = LabelsToJson(msg.CommonLabels());
  j["commonAnnotations"] = LabelsToJson(msg.CommonAnnotations());
  j["externalURL"] = msg.external_url;
  nlohmann::json alerts = nlohmann::json::array();
  for (const Alert& a : msg.alerts) {
    nlohmann::json x;
    x["status"] = a.resolved() ? "resolved" : "firing";
    x["labels"] = LabelsToJson(a.labels);
    x["annotations"] = LabelsToJson(a.annotations);
    x["startsAt"] = FormatRfc3339(a.starts_at_ms);
    x["endsAt"] = a.resolved() ? FormatRfc3339(a.ends_at_ms) : kZeroTime;
    x["generatorURL"] = a.generator_url;
    x["fingerprint"] = Fingerprint16(a);
    alerts.push_back(std::move(x));
  }
  j["alerts"] = std::move(alerts);
  return Dump(j);
}

std::string GroupTitle(const GroupMessage& msg) {
  size_t firing = 0;
  for (const Alert& a : msg.alerts) firing += a.resolved() ? 0 : 1;
  std::string t = firing > 0 ? "[FIRING:" + std::to_string(firing) + "]"
                             : "[RESOLVED:" + std::to_string(msg.alerts.size()) + "]";
  std::string names;
  for (const Label& l : msg.group_labels) {
    if (l.name == "owner") continue;
    names += " " + l.value;
  }
  t += names;
  std::string_view owner = GetLabel(msg.group_labels, "owner");
  if (owner.empty() && !msg.alerts.empty()) owner = GetLabel(msg.alerts[0].labels, "owner");
  if (!owner.empty()) t += " (" + std::string(owner) + ")";
  return t;
}

std::string SlackPayload(const GroupMessage& msg) {
  nlohmann::json att;
  att["color"] = msg.firing() ? "danger" : "good";
  att["title"] = GroupTitle(msg);
  att["fallback"] = GroupTitle(msg);
  att["text"] = MarkdownBody(msg, false);
  att["mrkdwn_in"] = nlohmann::json::array({"text"});
  if (!msg.external_url.empty()) att["title_link"] = msg.external_url;
  nlohmann::json j;
  j["text"] = GroupTitle(msg);
  j["attachments"] = nlohmann::json::array({att});
  return Dump(j);
}

std::string DingTalkPayload(const GroupMessage& msg) {
  nlohmann::json j;
  j["msgtype"] = "markdown";
  // DingTalk caps a markdown message at 20000 bytes.
  j["markdown"] = {{"title", GroupTitle(msg)},
                   {"text", TruncateUtf8(MarkdownBody(msg, true), 20000)}};
  return Dump(j);
}

std::string WeComPayload(const GroupMessage& msg) {
  nlohmann::json j;
  j["msgtype"] = "markdown";
  // WeCom caps markdown content at 4096 bytes.
  j["markdown"] = {{"content", TruncateUtf8(MarkdownBody(msg, true), 4096)}};
  return Dump(j);
}

std::string GroupPayload(ReceiverType type, const GroupMessage& msg) {
  switch (type) {
    case ReceiverType::kSlack:
      return SlackPayload(msg);
    case ReceiverType::kDingTalk:
      return DingTalkPayload(msg);
    case ReceiverType::kWeCom:
      return WeComPayload(msg);
    case ReceiverType::kAlertmanager:
    case ReceiverType::kWebhook:
      break;
  }
  return WebhookPayload(msg);
}

DeliveryResult Deliver(ReceiverType type, std::string_view receiver, std::string_view url,
                       std::string_view body, std::string_view idempotency_key,
                       std::chrono::milliseconds timeout) {
  std::string who = "receiver " + std::string(receiver) + " (" + RedactUrl(url) + "): ";
  auto parsed = ParseHttpUrl(url);
  if (!parsed.ok()) {
    return {DeliveryOutcome::kDrop, who + "bad url (expected http(s)://host[:port][/path])"};
  }
  HttpClientOptions opts;
  opts.connect_timeout = std::min(timeout, std::chrono::milliseconds(2000));
  opts.max_body_bytes = 1 << 20;
  std::optional<HttpClient> client;
  if (parsed->tls) {
    auto https = HttpClient::Https(parsed->host, parsed->port, HttpTlsOptions{}, opts);
    if (!https.ok()) return {DeliveryOutcome::kRetry, who + https.status().ToString()};
    client.emplace(std::move(*https));
  } else {
    client.emplace(HttpClient::Tcp(parsed->host, parsed->port, opts));
  }
  HttpClientRequest req;
  req.method = "POST";
  req.target = parsed->target;
  req.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", "tidemark"},
                 {"Idempotency-Key", std::string(idempotency_key)}};
  req.body = std::string(body);
  req.timeout = timeout;
  auto resp = client->Send(req);
  if (!resp.ok()) return {DeliveryOutcome::kRetry, who + resp.status().ToString()};
  int code = resp->status;
  std::string snippet = resp->body.substr(0, 200);
  if (code >= 200 && code < 300) {
    if (type == ReceiverType::kDingTalk || type == ReceiverType::kWeCom) {
      // Robots answer 200 with {"errcode":N,"errmsg":"..."}; N != 0 is a failure.
      nlohmann::json j = nlohmann::json::parse(resp->body, nullptr, false);
      if (j.is_object() && j.contains("errcode") && j["errcode"].is_number_integer() &&
          j["errcode"].get<int64_t>() != 0) {
        int64_t err = j["errcode"].get<int64_t>();
        // Throttling (DingTalk 130101, WeCom 45009) and "system busy" (-1) are worth a retry.
        bool retry = err == 130101 || err == 45009 || err == -1;
        return {retry ? DeliveryOutcome::kRetry : DeliveryOutcome::kDrop,
                who + "robot error " + std::to_string(err) + ": " + snippet};
      }
    }
    return {DeliveryOutcome::kDelivered, ""};
  }
  std::string why = who + "HTTP " + std::to_string(code) + ": " + snippet;
  if (code == 410 && type == ReceiverType::kAlertmanager) {
    why += " (the URL must be the Alertmanager base URL; the agent posts to /api/v2/alerts)";
  }
  if (code == 429 || code >= 500 || code < 200) return {DeliveryOutcome::kRetry, why};
  return {DeliveryOutcome::kDrop, why};
}

}  // namespace tidemark::alerting
