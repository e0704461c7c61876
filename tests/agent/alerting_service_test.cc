#include "agent/alerting_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "agent/config.h"
#include "common/file_util.h"
#include "tests/testing/testing.h"

namespace tidemark::agent {
namespace {

TEST(AlertingConfigTest, DefaultsHaveBuiltinRulesOnAndNoReceivers) {
  auto c = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->alerting.enabled);
  EXPECT_TRUE(c->alerting.builtin && c->alerting.oom && c->alerting.container_retransmits &&
              c->alerting.node_retransmit_ratio);
  EXPECT_EQ(c->alerting.evaluation_interval, std::chrono::seconds(15));
  EXPECT_EQ(c->alerting.notify.evaluation_interval, std::chrono::seconds(15));
  EXPECT_TRUE(c->alerting.notify.receivers.empty());
}

TEST(AlertingConfigTest, ParsesSectionAndRoundTrips) {
  auto c = ParseConfig(R"(
alerting:
  rule_files: ["rules/*.yml"]
  evaluation_interval: 5s
  external_labels: {region: eu, cluster: a}
  builtin_rules:
    oom: {resolve_after: 2m}
    container_tcp_retransmits: {threshold: 2.5, for: 30s}
    node_tcp_retrans_ratio: {enabled: false}
  notify:
    owners: {label_keys: [team], default: ops}
    receivers: [{name: am, type: alertmanager, url: "http://127.0.0.1:9093"}]
)",
                       "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const AlertingSection& a = c->alerting;
  EXPECT_EQ(a.rule_files, std::vector<std::string>{"rules/*.yml"});
  EXPECT_EQ(a.evaluation_interval, std::chrono::seconds(5));
  EXPECT_EQ(a.notify.evaluation_interval, std::chrono::seconds(5));
  EXPECT_EQ(a.external_labels, (Labels{{"cluster", "a"}, {"region", "eu"}}));
  EXPECT_EQ(a.oom_resolve_after, std::chrono::minutes(2));
  EXPECT_DOUBLE_EQ(a.container_retransmit_rate, 2.5);
  EXPECT_EQ(a.container_retransmit_for, std::chrono::seconds(30));
  EXPECT_FALSE(a.node_retransmit_ratio);
  EXPECT_EQ(a.notify.owners.default_owner, "ops");
  ASSERT_EQ(a.notify.receivers.size(), 1u);

  auto back = ParseConfig(ConfigToYaml(*c), "effective");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << ConfigToYaml(*c);
  EXPECT_EQ(back->alerting.rule_files, a.rule_files);
  EXPECT_EQ(back->alerting.external_labels, a.external_labels);
  EXPECT_DOUBLE_EQ(back->alerting.container_retransmit_rate, 2.5);
  EXPECT_EQ(back->alerting.container_retransmit_for, a.container_retransmit_for);
  EXPECT_FALSE(back->alerting.node_retransmit_ratio);
  EXPECT_EQ(back->alerting.notify.receivers.size(), 1u);
}

TEST(AlertingConfigTest, BadValuesNameFileLineAndKey) {
  auto c = ParseConfig(
      "alerting:\n  builtin_rules:\n    container_tcp_retransmits:\n"
      "      threshold: lots\n",
      "a.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(
                "a.yaml:4: alerting.builtin_rules.container_tcp_retransmits.threshold"),
            std::string::npos)
      << c.status().message();
  c = ParseConfig("alerting:\n  notfy: {}\n", "a.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("a.yaml:2: alerting.notfy: unknown key"), std::string::npos)
      << c.status().message();
  c = ParseConfig(
      "alerting:\n  notify:\n    receivers: [{name: x, type: webhook, url: 'ftp://a'}]\n",
      "a.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("a.yaml:3: alerting.notify.receivers[0].url"),
            std::string::npos)
      << c.status().message();
  // Cross-field checks name the section too.
  c = ParseConfig("alerting:\n  notify:\n    routes: [{owner: x, receivers: [nobody]}]\n",
                  "a.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("a.yaml: alerting: notify.routes"), std::string::npos)
      << c.status().message();
}

TEST(AlertingRulesCheckTest, ReportsBrokenFileWithLineAndKeepsGlobOrder) {
  testing::TempDir dir;
  dir.WriteFile("rules/a.yml",
                "groups:\n- name: ok\n  rules:\n  - record: x\n    expr: vector(1)\n");
  dir.WriteFile("rules/b.yml",
                "groups:\n- name: bad\n  rules:\n  - alert: Bad\n    expr: rate(x[5m]\n");
  AlertingSection s;
  s.rule_files = {dir.path() + "/rules/*.yml", dir.path() + "/missing.yml"};
  EXPECT_EQ(ExpandRuleFiles(s.rule_files),
            (std::vector<std::string>{dir.path() + "/missing.yml", dir.path() + "/rules/a.yml",
                                      dir.path() + "/rules/b.yml"}));
  std::vector<std::string> errors = CheckAlertingRules(s);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("missing.yml"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("b.yml:5:"), std::string::npos) << errors[1];
  EXPECT_NE(errors[1].find("could not parse expression"), std::string::npos) << errors[1];
  // The built-in group is always valid, also with overrides.
  s.rule_files.clear();
  s.container_retransmit_rate = 0.25;
  EXPECT_TRUE(CheckAlertingRules(s).empty());
}

class AlertingServiceTest : public ::testing::Test {
 protected:
  AlertingServiceTest() {
    config_.data_dir = dir_.path();
    config_.alerting.notify.owners.label_keys = {"owner"};
  }
  testing::TempDir dir_;
  AgentConfig config_;
  testing::FakeClock clock_;
  OomEventHub hub_;
};

HttpResponse Get(Service& s, const std::string& path) {
  HttpRequest req;
  req.method = "GET";
  req.path = path;
  HttpResponse resp;
  s.HandleHttp(req, &resp);
  return resp;
}

// The firing OOM alerts as /api/v1/alerts lists them.
nlohmann::json FiringAlerts(Service& s) {
  HttpResponse resp = Get(s, "/api/v1/alerts");
  EXPECT_EQ(resp.status, 200);
  return nlohmann::json::parse(resp.body)["data"]["alerts"];
}

TEST_F(AlertingServiceTest, OomEventIsListedWithTheContainersOwner) {
  ServiceContext ctx{config_, clock_, nullptr, nullptr, &hub_};
  auto svc = MakeAlertingService(ctx);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  ASSERT_NE(*svc, nullptr);
  Service& s = **svc;
  ASSERT_TRUE(s.Start().ok());
  EXPECT_TRUE(s.Handles("/api/v1/alerts"));
  EXPECT_TRUE(s.Handles("/api/v1/rules"));

  OomEvent e;
  e.time_ms = ToUnixMillis(clock_.Now());
  e.container = {{"id", "/docker/abc"}, {"name", "cart"}, {"container_label_owner", "team-cart"}};
  e.pid = 42;
  e.comm = "dd";
  e.memory_limit_bytes = 32 << 20;
  e.source = "ebpf";
  hub_.Publish(e);

  HttpResponse resp = Get(s, "/api/v1/alerts");
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.content_type, "application/json");
  EXPECT_NE(resp.body.find("\"alertname\":\"ContainerOOMKilled\""), std::string::npos) << resp.body;
  EXPECT_NE(resp.body.find("\"owner\":\"team-cart\""), std::string::npos) << resp.body;
  EXPECT_NE(resp.body.find("\"state\":\"firing\""), std::string::npos) << resp.body;

  resp = Get(s, "/api/v1/rules");
  EXPECT_NE(resp.body.find("\"name\":\"tidemark.oom\""), std::string::npos) << resp.body;
  HttpRequest req;
  req.path = "/api/v1/rules";
  req.method = "POST";  // GET-only, as in Prometheus.
  HttpResponse post;
  s.HandleHttp(req, &post);
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.body, "Method Not Allowed\n");

  SampleBatch batch;
  s.AddMetrics(&batch);
  bool found = false;
  for (const auto& f : batch.families()) {
    if (f.name == "tidemark_alerting_oom_events_total") {
      ASSERT_EQ(f.samples.size(), 1u);
      EXPECT_EQ(f.samples[0].value, 1);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  s.Stop();
  s.Stop();         // Idempotent.
  hub_.Publish(e);  // After Stop the handler is detached: nothing happens, nothing crashes.
}

// A restart keeps a firing OOM alert (its start, kill count and owner) instead of dropping it
// before resolve_after, and an unreadable state file is set aside (agent/oom_alerts.h; its
// resolution and the file's checks are tested in oom_alerts_test.cc).
TEST_F(AlertingServiceTest, OomAlertsSurviveARestart) {
  ServiceContext ctx{config_, clock_, nullptr, nullptr, &hub_};
  const std::string state = dir_.path() + "/alerting/oom_alerts.json";
  OomEvent e;
  e.time_ms = ToUnixMillis(clock_.Now());
  e.container = {{"id", "/docker/abc"}, {"name", "cart"}, {"container_label_owner", "team-cart"}};
  e.pid = 42;
  e.comm = "dd";
  e.source = "ebpf";
  {
    auto svc = MakeAlertingService(ctx);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    ASSERT_TRUE((*svc)->Start().ok());
    hub_.Publish(e);
    ASSERT_EQ(FiringAlerts(**svc).size(), 1u);
    (*svc)->Stop();
  }
  ASSERT_TRUE(PathExists(state));

  clock_.Advance(std::chrono::minutes(1));
  {
    auto svc = MakeAlertingService(ctx);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    ASSERT_TRUE((*svc)->Start().ok());
    nlohmann::json alerts = FiringAlerts(**svc);
    ASSERT_EQ(alerts.size(), 1u) << alerts.dump();
    EXPECT_EQ(alerts[0]["labels"]["alertname"], "ContainerOOMKilled");
    EXPECT_EQ(alerts[0]["labels"]["owner"], "team-cart");
    EXPECT_EQ(alerts[0]["value"], "1e+00");  // Kills, formatted as Prometheus does.
    const std::string active_at = alerts[0]["activeAt"];
    EXPECT_EQ(active_at.rfind("2023-11-14T22:13:20", 0), 0u) << active_at;  // Not the restart.
    // Another kill of the same container after the restart: the same alert, two kills.
    hub_.Publish(e);
    alerts = FiringAlerts(**svc);
    ASSERT_EQ(alerts.size(), 1u) << alerts.dump();
    EXPECT_EQ(alerts[0]["value"], "2e+00");
    EXPECT_EQ(alerts[0]["activeAt"], active_at);
    (*svc)->Stop();
  }

  dir_.WriteFile("alerting/oom_alerts.json", "{not json");
  {
    auto svc = MakeAlertingService(ctx);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    ASSERT_TRUE((*svc)->Start().ok());
    EXPECT_TRUE(FiringAlerts(**svc).empty());
    (*svc)->Stop();
  }
  EXPECT_EQ(*ReadFile(state + ".bad"), "{not json");
}

TEST_F(AlertingServiceTest, UnusableOutboxFailsOnlyWithReceivers) {
  dir_.WriteFile("file", "x");
  config_.data_dir = dir_.path() + "/file/data";  // Below a regular file: cannot be created.
  ServiceContext ctx{config_, clock_, nullptr, nullptr, &hub_};
  auto svc = MakeAlertingService(ctx);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  ASSERT_NE(*svc, nullptr);
  ASSERT_TRUE((*svc)->Start().ok());
  OomEvent e;
  e.container = {{"name", "cart"}};
  hub_.Publish(e);  // Still listed, without a notifier.
  HttpRequest req;
  req.method = "GET";
  req.path = "/api/v1/alerts";
  HttpResponse resp;
  (*svc)->HandleHttp(req, &resp);
  EXPECT_NE(resp.body.find("ContainerOOMKilled"), std::string::npos) << resp.body;
  (*svc)->Stop();

  alerting::ReceiverConfig r;
  r.name = "am";
  r.type = alerting::ReceiverType::kAlertmanager;
  r.urls = {"http://127.0.0.1:9093"};
  config_.alerting.notify.receivers.push_back(r);
  svc = MakeAlertingService(ctx);
  ASSERT_FALSE(svc.ok());
  EXPECT_NE(svc.status().message().find("alerting: cannot create"), std::string::npos)
      << svc.status().message();
}

TEST_F(AlertingServiceTest, DisabledGivesNoService) {
  config_.alerting.enabled = false;
  ServiceContext ctx{config_, clock_, nullptr, nullptr, &hub_};
  auto svc = MakeAlertingService(ctx);
  ASSERT_TRUE(svc.ok());
  EXPECT_EQ(*svc, nullptr);
}

}  // namespace
}  // namespace tidemark::agent
