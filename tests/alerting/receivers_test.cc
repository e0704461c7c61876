#include "alerting/receivers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/testing/testing.h"
#include "tests/testing/tls_test_server.h"

namespace tidemark::alerting {
namespace {

using nlohmann::json;

// 2024-05-01T10:00:00Z
constexpr int64_t kStart = 1714557600000;

Alert OomAlert() {
  Alert a;
  a.labels = {{"alertname", "ContainerOOMKilled"},
              {"container", "cart"},
              {"namespace", "shop"},
              {"owner", "checkout"},
              {"pod", "cart-7d9f"},
              {"severity", "warning"}};
  a.annotations = {{"description", "pid 4242 (java) killed at limit 512MiB"},
                   {"summary", "cart was OOM-killed"}};
  a.starts_at_ms = kStart;
  a.generator_url = "http://node-1:9920/graph";
  return a;
}

GroupMessage TwoAlerts() {
  GroupMessage m;
  m.receiver = "checkout-hook";
  m.group_key = "{route=0}:{alertname=\"ContainerOOMKilled\", owner=\"checkout\"}";
  m.group_labels = {{"alertname", "ContainerOOMKilled"}, {"owner", "checkout"}};
  m.external_url = "http://node-1:9920";
  Alert a = OomAlert();
  Alert b = OomAlert();
  b.labels[4].value = "cart-x1y2";  // pod
  b.annotations[0].value = "pid 7 (java) killed at limit 512MiB";
  b.ends_at_ms = kStart + 90500;  // resolved at 10:01:30.5
  m.alerts = {a, b};
  return m;
}

TEST(Rfc3339Test, FormatsAsGoDoes) {
  EXPECT_EQ(FormatRfc3339(kStart), "2024-05-01T10:00:00Z");
  EXPECT_EQ(FormatRfc3339(kStart + 250), "2024-05-01T10:00:00.25Z");
  EXPECT_EQ(FormatRfc3339(kStart + 1), "2024-05-01T10:00:00.001Z");
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
}

TEST(HttpUrlTest, ParsesPlainHttpAndRejectsTheRest) {
  auto u = ParseHttpUrl("http://127.0.0.1:9093");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9093);
  EXPECT_EQ(u->target, "/");
  u = ParseHttpUrl("http://hooks.example/robot/send?access_token=abc");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/robot/send?access_token=abc");
  u = ParseHttpUrl("http://[::1]:8080/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  auto https = ParseHttpUrl("https://oapi.dingtalk.com/robot/send?access_token=abc");
  ASSERT_TRUE(https.ok());
  EXPECT_TRUE(https->tls);
  EXPECT_EQ(https->port, 443);
  EXPECT_EQ(https->host, "oapi.dingtalk.com");
  EXPECT_EQ(https->target, "/robot/send?access_token=abc");
  EXPECT_FALSE(u->tls);
  // Secrets in robot URLs never reach logs.
  EXPECT_EQ(RedactUrl("https://oapi.dingtalk.com/robot/send?access_token=abc"),
            "https://oapi.dingtalk.com/…");
  EXPECT_EQ(RedactUrl("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…");
  EXPECT_EQ(RedactUrl("http://am:9093"), "http://am:9093");
  EXPECT_EQ(RedactUrl("http://am:9093/"), "http://am:9093/");
  EXPECT_FALSE(ParseHttpUrl("ftp://x").ok());
  EXPECT_FALSE(ParseHttpUrl("http://x:0/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://x:99999/").ok());
  EXPECT_FALSE(ParseHttpUrl("http:///path").ok());
}

// alerting.md §1 and §2: postableAlert with endsAt = now + 4 x max(eval, resend).
TEST(PayloadTest, AlertmanagerV2Golden) {
  Alert resolved = OomAlert();
  resolved.ends_at_ms = kStart + 60000;
  resolved.generator_url = "";
  std::string body = AlertmanagerPayload({OomAlert(), resolved}, kStart + 15000,
                                         4 * std::chrono::milliseconds(60000));
  json want = json::parse(R"([
    {"labels":{"alertname":"ContainerOOMKilled","namespace":"shop","pod":"cart-7d9f",
               "container":"cart","owner":"checkout","severity":"warning"},
     "annotations":{"summary":"cart was OOM-killed",
                    "description":"pid 4242 (java) killed at limit 512MiB"},
     "startsAt":"2024-05-01T10:00:00Z","endsAt":"2024-05-01T10:04:15Z",
     "generatorURL":"http://node-1:9920/graph"},
    {"labels":{"alertname":"ContainerOOMKilled","namespace":"shop","pod":"cart-7d9f",
               "container":"cart","owner":"checkout","severity":"warning"},
     "annotations":{"summary":"cart was OOM-killed",
                    "description":"pid 4242 (java) killed at limit 512MiB"},
     "startsAt":"2024-05-01T10:00:00Z","endsAt":"2024-05-01T10:01:00Z"}
  ])");
  EXPECT_EQ(json::parse(body), want) << body;
}

TEST(PayloadTest, AlertmanagerEndsAtUsesTheAlertsOwnWindow) {
  Alert a = OomAlert();
  a.valid_until_ms = kStart + 20 * 60000;  // A 5 min rule group: 4 x 5 min.
  json body =
      json::parse(AlertmanagerPayload({a}, kStart + 15000, 4 * std::chrono::milliseconds(60000)));
  EXPECT_EQ(body[0]["endsAt"], "2024-05-01T10:20:00Z") << body;
  a.valid_until_ms = kStart;  // Already past: the default window applies.
  body =
      json::parse(AlertmanagerPayload({a}, kStart + 15000, 4 * std::chrono::milliseconds(60000)));
  EXPECT_EQ(body[0]["endsAt"], "2024-05-01T10:04:15Z") << body;
}

// alerting.md §4: webhook payload version 4.
TEST(PayloadTest, WebhookV4Golden) {
  GroupMessage m = TwoAlerts();
  char fp_a[20], fp_b[20];
  std::snprintf(fp_a, sizeof(fp_a), "%016llx",
                static_cast<unsigned long long>(m.alerts[0].Fingerprint()));
  std::snprintf(fp_b, sizeof(fp_b), "%016llx",
                static_cast<unsigned long long>(m.alerts[1].Fingerprint()));
  json want = json::parse(R"({
    "version":"4",
    "groupKey":"{route=0}:{alertname=\"ContainerOOMKilled\", owner=\"checkout\"}",
    "truncatedAlerts":0,"status":"firing","receiver":"checkout-hook",
    "groupLabels":{"alertname":"ContainerOOMKilled","owner":"checkout"},
    "commonLabels":{"alertname":"ContainerOOMKilled","container":"cart","namespace":"shop",
                    "owner":"checkout","severity":"warning"},
    "commonAnnotations":{"summary":"cart was OOM-killed"},
    "externalURL":"http://node-1:9920",
    "alerts":[
      {"status":"firing",
       "labels":{"alertname":"ContainerOOMKilled","container":"cart","namespace":"shop",
                 "owner":"checkout","pod":"cart-7d9f","severity":"warning"},
       "annotations":{"description":"pid 4242 (java) killed at limit 512MiB",
                      "summary":"cart was OOM-killed"},
       "startsAt":"2024-05-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
       "generatorURL":"http://node-1:9920/graph","fingerprint":"FP_A"},
      {"status":"resolved",
       "labels":{"alertname":"ContainerOOMKilled","container":"cart","namespace":"shop",
                 "owner":"checkout","pod":"cart-x1y2","severity":"warning"},
       "annotations":{"description":"pid 7 (java) killed at limit 512MiB",
                      "summary":"cart was OOM-killed"},
       "startsAt":"2024-05-01T10:00:00Z","endsAt":"2024-05-01T10:01:30.5Z",
       "generatorURL":"http://node-1:9920/graph","fingerprint":"FP_B"}]
  })");
  want["alerts"][0]["fingerprint"] = fp_a;
  want["alerts"][1]["fingerprint"] = fp_b;
  std::string body = WebhookPayload(m);
  EXPECT_EQ(json::parse(body), want) << body;
  // Alertmanager's fingerprint: FNV-1a 64 as 16 hex digits.
  EXPECT_EQ(std::string(fp_a).size(), 16u);

  m.alerts.erase(m.alerts.begin());
  json resolved = json::parse(WebhookPayload(m));
  EXPECT_EQ(resolved["status"], "resolved");
}

const char kMarkdown[] =
    "\n- [FIRING] ContainerOOMKilled (container=cart, namespace=shop, owner=checkout, "
    "pod=cart-7d9f, severity=warning)\n  cart was OOM-killed\n  pid 4242 (java) killed at limit "
    "512MiB\n  since 2024-05-01T10:00:00Z"
    "\n- [RESOLVED] ContainerOOMKilled (container=cart, namespace=shop, owner=checkout, "
    "pod=cart-x1y2, severity=warning)\n  cart was OOM-killed\n  pid 7 (java) killed at limit "
    "512MiB\n  since 2024-05-01T10:00:00Z, resolved 2024-05-01T10:01:30.5Z"
    "\n\nhttp://node-1:9920";

TEST(PayloadTest, SlackGolden) {
  json want = {{"text", "[FIRING:1] ContainerOOMKilled (checkout)"},
               {"attachments",
                {{{"color", "danger"},
                  {"title", "[FIRING:1] ContainerOOMKilled (checkout)"},
                  {"title_link", "http://node-1:9920"},
                  {"fallback", "[FIRING:1] ContainerOOMKilled (checkout)"},
                  {"mrkdwn_in", {"text"}},
                  {"text", std::string(kMarkdown)}}}}};
  std::string body = SlackPayload(TwoAlerts());
  EXPECT_EQ(json::parse(body), want) << body;
}

TEST(PayloadTest, DingTalkGolden) {
  json want = {
      {"msgtype", "markdown"},
      {"markdown",
       {{"title", "[FIRING:1] ContainerOOMKilled (checkout)"},
        {"text", "**[FIRING:1] ContainerOOMKilled (checkout)**\n" + std::string(kMarkdown)}}}};
  std::string body = DingTalkPayload(TwoAlerts());
  EXPECT_EQ(json::parse(body), want) << body;
}

TEST(PayloadTest, WeComGoldenAndSizeCap) {
  json want = {
      {"msgtype", "markdown"},
      {"markdown",
       {{"content", "**[FIRING:1] ContainerOOMKilled (checkout)**\n" + std::string(kMarkdown)}}}};
  std::string body = WeComPayload(TwoAlerts());
  EXPECT_EQ(json::parse(body), want) << body;

  GroupMessage big = TwoAlerts();
  for (int i = 0; i < 200; ++i) big.alerts.push_back(big.alerts[0]);
  big.alerts[0].annotations[1].value = "中文摘要";
  json j = json::parse(WeComPayload(big));
  std::string content = j["markdown"]["content"];
  EXPECT_LE(content.size(), 4096u);
  EXPECT_EQ(GroupTitle(big), "[FIRING:201] ContainerOOMKilled (checkout)");
}

TEST(PayloadTest, ResolvedTitle) {
  GroupMessage m = TwoAlerts();
  m.alerts.erase(m.alerts.begin());
  EXPECT_EQ(GroupTitle(m), "[RESOLVED:1] ContainerOOMKilled (checkout)");
  EXPECT_EQ(json::parse(SlackPayload(m))["attachments"][0]["color"], "good");
}

TEST(ReceiverTypeTest, ParsesNames) {
  for (auto t : {ReceiverType::kAlertmanager, ReceiverType::kWebhook, ReceiverType::kSlack,
                 ReceiverType::kDingTalk, ReceiverType::kWeCom}) {
    auto p = ParseReceiverType(ReceiverTypeName(t));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, t);
  }
  auto bad = ParseReceiverType("email");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"email\""), std::string::npos);
}

// https receivers go through TLS with verification on: a server whose certificate no system CA
// signed is refused (and retried later), and the error names the URL without its secret.
TEST(DeliverTest, HttpsReceiverVerifiesTheServerCertificate) {
  testing::TempDir dir;
  testing::TestPki pki;
  std::string err = testing::MakeTestPki(dir.path(), &pki);
  if (!err.empty()) GTEST_SKIP() << "cannot make a test PKI: " << err;
  int requests = 0;
  testing::TlsTestServer server(pki.server_crt(), pki.server_key(),
                                [&](const HttpRequest&, HttpResponse* resp) {
                                  ++requests;
                                  resp->body = "ok";
                                });
  std::string url =
      "https://127.0.0.1:" + std::to_string(server.port()) + "/robot/send?access_token=secret";
  DeliveryResult r =
      Deliver(ReceiverType::kDingTalk, "ding", url, "{}", "k", std::chrono::seconds(5));
  EXPECT_EQ(r.outcome, DeliveryOutcome::kRetry);
  EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("secret"), std::string::npos) << r.error;
  EXPECT_EQ(requests, 0);
  EXPECT_GE(server.failed_handshakes(), 1);
}

}  // namespace
}  // namespace tidemark::alerting
