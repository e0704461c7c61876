#include "alerting/notify_config.h"

#include <gtest/gtest.h>

namespace tidemark::alerting {
namespace {

Status Parse(const std::string& yaml, NotifyConfig* out) {
  YamlWalker w("agent.yaml");
  try {
    YAML::Node root = YAML::Load(yaml);
    TIDEMARK_RETURN_IF_ERROR(ParseNotifyConfig(w, root["notify"], "notify", out));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(e.what());
  }
  return ValidateNotifyConfig(*out, "agent.yaml");
}

constexpr char kFull[] = R"(notify:
  external_url: http://node-1:9920
  resend_delay: 30s
  evaluation_interval: 15s
  owners:
    label_keys: [owner, team, com.example.owner]
    static:
      - {match_service: "cart-.*", match_namespace: shop, owner: checkout}
      - {match_namespace: "kube-.*", owner: platform}
    default: ops
  receivers:
    - {name: am, type: alertmanager, urls: ["http://127.0.0.1:9093", "http://127.0.0.2:9093"]}
    - name: chat
      type: dingtalk
      url: http://relay:8080/robot/send?access_token=x
      timeout: 5s
      send_resolved: false
      max_alerts: 20
  routes:
    - owner: checkout|payments
      receivers: [chat, am]
      group_by: [alertname, owner, namespace]
      group_wait: 0s
      group_interval: 30s
      repeat_interval: 1h
      continue: true
  default_route: {receivers: [am], group_wait: 2s}
  rate_limit: {max_per_minute: 5}
  outbox: {max_entries: 500, initial_backoff: 2s, max_backoff: 1m, max_age: 6h}
)";

TEST(NotifyConfigTest, ParsesEveryKey) {
  NotifyConfig c;
  Status s = Parse(kFull, &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.external_url, "http://node-1:9920");
  EXPECT_EQ(c.resend_delay, std::chrono::seconds(30));
  EXPECT_EQ(c.ValidFor(), std::chrono::seconds(120));
  EXPECT_EQ(c.owners.label_keys.size(), 3u);
  ASSERT_EQ(c.owners.static_map.size(), 2u);
  EXPECT_EQ(c.owners.static_map[1].match_namespace, "kube-.*");
  EXPECT_EQ(c.owners.default_owner, "ops");
  ASSERT_EQ(c.receivers.size(), 2u);
  EXPECT_EQ(c.receivers[0].urls.size(), 2u);
  EXPECT_EQ(c.receivers[1].type, ReceiverType::kDingTalk);
  EXPECT_FALSE(c.receivers[1].send_resolved);
  EXPECT_EQ(c.receivers[1].max_alerts, 20u);
  EXPECT_EQ(c.receivers[1].timeout, std::chrono::seconds(5));
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_TRUE(c.routes[0].continue_matching);
  EXPECT_EQ(c.routes[0].group_by.size(), 3u);
  EXPECT_EQ(c.routes[0].repeat_interval, std::chrono::hours(1));
  EXPECT_EQ(c.default_route.group_wait, std::chrono::seconds(2));
  EXPECT_EQ(c.max_per_minute, 5u);
  EXPECT_EQ(c.outbox.max_entries, 500u);
  EXPECT_EQ(c.outbox.max_age, std::chrono::hours(6));
}

TEST(NotifyConfigTest, DefaultsWhenAbsent) {
  NotifyConfig c;
  ASSERT_TRUE(Parse("other: 1\n", &c).ok());
  EXPECT_EQ(c.resend_delay, std::chrono::minutes(1));
  EXPECT_EQ(c.owners.default_owner, "unowned");
  EXPECT_EQ(c.owners.label_keys, (std::vector<std::string>{"owner", "team"}));
  EXPECT_EQ(c.default_route.group_wait, std::chrono::seconds(1));
  EXPECT_EQ(c.default_route.repeat_interval, std::chrono::hours(4));
  EXPECT_EQ(c.outbox.max_backoff, std::chrono::minutes(5));
}

TEST(NotifyConfigTest, EmitRoundTrips) {
  NotifyConfig c;
  ASSERT_TRUE(Parse(kFull, &c).ok());
  YAML::Node root;
  root["notify"] = EmitNotifyConfig(c);
  NotifyConfig again;
  Status s = Parse(YAML::Dump(root), &again);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << YAML::Dump(root);
  EXPECT_EQ(YAML::Dump(EmitNotifyConfig(again)), YAML::Dump(EmitNotifyConfig(c)));
}

TEST(NotifyConfigTest, ErrorsNameFileLineKeyAndReason) {
  struct Case {
    std::string yaml, want;
  };
  std::vector<Case> cases = {
      {"notify:\n  bogus: 1\n", "agent.yaml:2: notify.bogus: unknown key"},
      {"notify:\n  receivers:\n    - {name: a, type: email, url: http://x}\n",
       "notify.receivers[0].type: unknown receiver type \"email\""},
      {"notify:\n  receivers:\n    - {name: a, type: webhook, url: ftp://x/}\n",
       "expected http(s)://host[:port][/path]"},
      {"notify:\n  receivers:\n    - {name: a, type: webhook}\n",
       "notify.receivers[0].url: required"},
      {"notify:\n  receivers:\n    - {name: a, type: webhook, urls: [http://x, http://y]}\n",
       "only alertmanager receivers take several URLs"},
      {"notify:\n  receivers:\n    - {name: a, type: webhook, url: http://x}\n"
       "    - {name: a, type: slack, url: http://y}\n",
       "agent.yaml: notify.receivers[1].name: duplicate \"a\""},
      {"notify:\n  routes:\n    - {owner: x, receivers: [nope]}\n",
       "notify.routes[0].receivers: unknown receiver \"nope\""},
      {"notify:\n  receivers:\n    - {name: a, type: webhook, url: http://x}\n"
       "  routes:\n    - {owner: '(', receivers: [a]}\n",
       "routes[0].owner: bad regex"},
      {"notify:\n  owners:\n    static:\n      - {owner: x}\n",
       "agent.yaml:4: notify.owners.static[0]: needs match_service or match_namespace"},
      {"notify:\n  owners:\n    static:\n      - {match_service: '(', owner: x}\n",
       "owners.static[0].match_service: bad regex"},
      {"notify:\n  resend_delay: soon\n", "agent.yaml:2: notify.resend_delay"},
      {"notify:\n  outbox: {max_entries: 0}\n", "notify.outbox.max_entries: must be > 0"},
      {"notify:\n  routes:\n    - {owner: x, receivers: []}\n", "notify.routes[0].receivers"},
  };
  for (const Case& c : cases) {
    NotifyConfig cfg;
    Status s = Parse(c.yaml, &cfg);
    ASSERT_FALSE(s.ok()) << c.yaml;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message() << "\nwant: " << c.want;
  }
}

}  // namespace
}  // namespace tidemark::alerting
