#include "agent/config.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace tidemark::agent {
namespace {

TEST(ConfigTest, EmptyFileGivesDefaults) {
  auto c = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:9920");
  EXPECT_EQ(c->data_dir, "./data");
  EXPECT_EQ(c->interval, std::chrono::seconds(1));
  EXPECT_TRUE(c->cgroup.enabled);
  EXPECT_EQ(c->cgroup.max_containers, 5000u);
}

TEST(ConfigTest, ParsesYaml) {
  auto c = ParseConfig(R"(
listen: 0.0.0.0:9100
interval: 500ms
log: {level: debug, format: json}
collectors:
  cgroup:
    include: ['^/tidemark-test/.*']
    max_containers: 10
    docker_labels: [team]
  docker: {enabled: false}
  node: {disabled: [diskstats]}
)",
                       "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "0.0.0.0:9100");
  EXPECT_EQ(c->interval, std::chrono::milliseconds(500));
  EXPECT_EQ(c->log_format, "json");
  EXPECT_EQ(c->cgroup.include, std::vector<std::string>{"^/tidemark-test/.*"});
  EXPECT_EQ(c->cgroup.docker_labels, std::vector<std::string>{"team"});
  EXPECT_FALSE(c->docker.enabled);
  EXPECT_EQ(c->node.disabled, std::vector<std::string>{"diskstats"});
}

TEST(ConfigTest, AcceptsJson) {
  auto c = ParseConfig(
      R"({"listen": "127.0.0.1:1234", "collectors": {"cgroup": {"enabled": false}}})", "a.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:1234");
  EXPECT_FALSE(c->cgroup.enabled);
}

struct BadCase {
  const char* text;
  const char* expect;  // substring of the error
};

TEST(ConfigTest, RejectsBadInputNamingFileLineKeyAndReason) {
  const BadCase cases[] = {
      {"listn: x", "bad.yaml:1: listn: unknown key"},
      {"interval: 1x", "interval: invalid duration \"1x\""},
      {"interval: 10ms", "interval: must be at least 100ms"},
      {"listen: localhost", "listen: listen address \"localhost\" must be HOST:PORT"},
      {"log: {level: loud}", "log.level"},
      {"log: {format: xml}", "log.format: must be text or json"},
      {"collectors:\n  cgroup:\n    max_containers: -1",
       "bad.yaml:3: collectors.cgroup.max_containers: expected a non-negative integer"},
      {"collectors:\n  cgroup:\n    enabled: yes please", "expected true or false"},
      {"collectors:\n  cgroup:\n    include: ['(']", "collectors.cgroup.include: invalid regex"},
      {"collectors:\n  node:\n    disabled: [cpuinfo]", "unknown node collector \"cpuinfo\""},
      {"collectors:\n  docker:\n    socket: relative.sock", "must be an absolute path"},
      {"collectors: [1, 2]", "collectors: expected a mapping"},
      {"listen: [a]", "listen: expected a string"},
      {"{unclosed", "bad.yaml"},
      {"- just\n- a list", "expected a mapping"},
  };
  for (const BadCase& bc : cases) {
    auto c = ParseConfig(bc.text, "bad.yaml");
    ASSERT_FALSE(c.ok()) << bc.text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(bc.expect), std::string::npos)
        << "input: " << bc.text << "\nerror: " << c.status().message();
  }
}

TEST(ConfigTest, EffectiveYamlParsesBackToTheSameConfig) {
  auto c = ParseConfig("interval: 1m30s\ncollectors: {cgroup: {include: ['^/a$']}}", "a.yaml");
  ASSERT_TRUE(c.ok());
  auto back = ParseConfig(ConfigToYaml(*c), "effective");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << ConfigToYaml(*c);
  EXPECT_EQ(back->interval, c->interval);
  EXPECT_EQ(back->cgroup.include, c->cgroup.include);
  EXPECT_EQ(back->cgroup.docker_labels, c->cgroup.docker_labels);
}

TEST(ConfigTest, LoadConfigFileNamesMissingFile) {
  auto c = LoadConfigFile("/nonexistent/tidemark.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/tidemark.yaml"), std::string::npos);
}

}  // namespace
}  // namespace tidemark::agent
