// The Swarm client against a fake Engine API (version negotiation, error mapping, the full spec
// on update) and a missing socket. The real dockerd is in swarm_client_privileged_test.cc.
#include "autoscaler/swarm_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/http_server.h"
#include "tests/testing/testing.h"

namespace tidemark::autoscaler {
namespace {

using json = nlohmann::json;

class FakeEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s =
        HttpServer::Create(io_, "127.0.0.1:0", [this](const HttpRequest& req, HttpResponse* res) {
          std::lock_guard<std::mutex> lock(mu_);
          seen_.push_back(req.method + " " + req.target);
          bodies_.push_back(req.body);
          res->content_type = "application/json";
          if (req.path == "/version") {
            res->body = version_;
            return;
          }
          auto it = answers_.find(req.method + " " + req.path);
          if (it == answers_.end()) {
            res->status = 404;
            res->body = R"({"message":"page not found"})";
            return;
          }
          res->status = it->second.first;
          res->body = it->second.second;
        });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->Stop();
    io_.stop();
    thread_.join();
  }
  std::unique_ptr<SwarmClient> Client() {
    SwarmClientOptions o;
    o.endpoint = "tcp://127.0.0.1:" + std::to_string(server_->port());
    o.sleep = [](std::chrono::milliseconds) {};
    auto c = SwarmClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(*c);
  }

  std::mutex mu_;
  std::string version_ = R"({"ApiVersion":"1.41","MinAPIVersion":"1.12"})";
  std::map<std::string, std::pair<int, std::string>> answers_;  // "GET /v1.41/services/web"
  std::vector<std::string> seen_;
  std::vector<std::string> bodies_;
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  const ScaleTarget web_{"SwarmService", "", "web"};
};

TEST_F(FakeEngineTest, UsesTheOlderOfBothApiVersions) {
  EXPECT_EQ(*Client()->NegotiatedApiVersion(), "1.41");
  version_ = R"({"ApiVersion":"1.52","MinAPIVersion":"1.44"})";
  EXPECT_EQ(*Client()->NegotiatedApiVersion(), kSwarmClientApiVersion);
  version_ = R"({"ApiVersion":"1.60","MinAPIVersion":"1.50"})";
  Result<std::string> v = Client()->NegotiatedApiVersion();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("requires API >= 1.50"), std::string::npos);
}

TEST_F(FakeEngineTest, NotASwarmManagerIsAClearError) {
  answers_["GET /v1.41/services/web"] = {
      503,
      R"({"message":"This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."})"};
  Result<ScaleState> st = Client()->GetScale(web_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(st.status().message().find("not a swarm manager"), std::string::npos)
      << st.status().message();
}

TEST_F(FakeEngineTest, UpdateSendsTheFullSpecAtItsVersion) {
  json spec = {{"Name", "web"},
               {"Labels", {{"team", "payments"}}},
               {"TaskTemplate",
                {{"ContainerSpec", {{"Image", "img"}, {"Args", {"sleep", "1"}}}},
                 {"Resources", {{"Limits", {{"NanoCPUs", 500000000}}}}}}},
               {"Mode", {{"Replicated", {{"Replicas", 2}}}}},
               {"EndpointSpec", {{"Mode", "vip"}}},
               {"FutureField", {{"kept", true}}}};
  answers_["GET /v1.41/services/web"] = {
      200, json{{"ID", "abc123"}, {"Version", {{"Index", 42}}}, {"Spec", spec}}.dump()};
  answers_["POST /v1.41/services/abc123/update"] = {200, R"({"Warnings":null})"};
  ASSERT_TRUE(Client()->SetReplicas(web_, 5).ok());
  ASSERT_EQ(seen_.size(), 3u);  // version, service, update
  EXPECT_EQ(seen_[2], "POST /v1.41/services/abc123/update?version=42");
  json sent = json::parse(bodies_[2]);
  json want = spec;
  want["Mode"]["Replicated"]["Replicas"] = 5;
  EXPECT_EQ(sent, want);
}

TEST_F(FakeEngineTest, GlobalServicesCannotBeScaled) {
  answers_["GET /v1.41/services/web"] = {
      200, R"({"ID":"x","Version":{"Index":3},"Spec":{"Name":"web","Mode":{"Global":{}}}})"};
  Status s = Client()->SetReplicas(web_, 3);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("not a replicated service"), std::string::npos) << s.message();
}

TEST_F(FakeEngineTest, OutOfSequenceForeverGivesUp) {
  answers_["GET /v1.41/services/web"] = {
      200, R"({"ID":"x","Version":{"Index":3},"Spec":{"Mode":{"Replicated":{"Replicas":1}}}})"};
  answers_["POST /v1.41/services/x/update"] = {
      500, R"({"message":"rpc error: code = Unknown desc = update out of sequence"})"};
  Status s = Client()->SetReplicas(web_, 3);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("update out of sequence\" after 5 attempts"), std::string::npos)
      << s.message();
}

TEST(SwarmClientTest, MissingSocketIsUnavailable) {
  testing::TempDir dir;
  SwarmClientOptions o;
  o.endpoint = "unix://" + dir.path() + "/docker.sock";
  auto c = SwarmClient::Create(o);
  ASSERT_TRUE(c.ok());
  Result<ScaleState> st = (*c)->GetScale({"SwarmService", "", "web"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(st.status().message().find("unreachable (is dockerd running"), std::string::npos)
      << st.status().message();
  EXPECT_NE(st.status().message().find(dir.path() + "/docker.sock"), std::string::npos);
}

TEST_F(FakeEngineTest, KubernetesKindsAreRejectedLocally) {
  Result<ScaleState> st = Client()->GetScale({"Deployment", "default", "web"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(seen_.empty());
}

TEST(SwarmClientTest, BadEndpointsAreRejected) {
  for (const char* ep : {"http://x", "tcp://host", "unix://", ""}) {
    SwarmClientOptions o;
    o.endpoint = ep;
    EXPECT_FALSE(SwarmClient::Create(o).ok()) << ep;
  }
}

}  // namespace
}  // namespace tidemark::autoscaler
