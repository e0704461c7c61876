#include "autoscaler/kubernetes_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <utility>

#include "common/file_util.h"
#include "common/http_server.h"
#include "tests/testing/testing.h"
#include "tests/testing/tls_test_server.h"

namespace tidemark::autoscaler {
namespace {

using json = nlohmann::json;

// A fake Kubernetes API server following the documented behaviour of the scale subresource:
// bearer-token check (401 Status), GET/PATCH (merge-patch only)/PUT on .../{deployments,
// statefulsets}/{name}/scale, 409 on a stale resourceVersion (PUT) or an injected conflict, 403
// Status for verbs the "service account" lacks, 404 Status, pods listed by labelSelector.
class FakeKubeApi {
 public:
  struct Workload {
    int replicas = 0;
    int rv = 100;
    std::string selector;
  };
  struct Seen {
    std::string method, path, content_type, body, auth;
  };

  std::string token = "secret-token";
  std::map<std::string, Workload> workloads;  // "deployments/default/web"
  std::vector<json> pods;                     // Pod objects (namespace default)
  std::set<std::string> forbidden_verbs;      // "patch", "update", "list", "get"
  int conflicts_to_inject = 0;                // Next writes answered 409.
  bool bump_rv_after_get = false;             // Next scale GET is followed by a concurrent writer.
  int fail_next_status = 0;  // Next request answered with this code and a Status body.
  std::vector<Seen> seen;

  void Handle(const HttpRequest& req, HttpResponse* res) {
    std::lock_guard<std::mutex> lock(mu_);
    seen.push_back({req.method, req.target, std::string(req.Header("Content-Type")), req.body,
                    std::string(req.Header("Authorization"))});
    res->content_type = "application/json";
    if (req.Header("Authorization") != "Bearer " + token) {
      return Fail(res, 401, "Unauthorized", "Unauthorized");
    }
    if (fail_next_status != 0) {
      int code = std::exchange(fail_next_status, 0);
      return Fail(res, code, "Injected", "injected failure " + std::to_string(code));
    }
    std::vector<std::string> parts;
    for (size_t i = 1, j; i <= req.path.size(); i = j + 1) {
      j = req.path.find('/', i);
      if (j == std::string::npos) j = req.path.size();
      parts.push_back(req.path.substr(i, j - i));
    }
    // api v1 namespaces {ns} pods
    if (parts.size() == 5 && parts[0] == "api" && parts[4] == "pods" && req.method == "GET") {
      if (forbidden_verbs.count("list")) {
        return Fail(res, 403, "Forbidden",
                    "pods is forbidden: User \"system:serviceaccount:default:tidemark\" cannot "
                    "list resource \"pods\" in API group \"\" in the namespace \"" +
                        parts[3] + "\"");
      }
      json items = json::array();
      for (const json& p : pods) {
        if (Matches(p["metadata"]["labels"], std::string(req.Param("labelSelector")))) {
          items.push_back(p);
        }
      }
      res->body = json{{"kind", "PodList"}, {"apiVersion", "v1"}, {"items", items}}.dump();
      return;
    }
    // apis apps v1 namespaces {ns} {plural} {name} scale
    if (parts.size() != 8 || parts[0] != "apis" || parts[1] != "apps" || parts[7] != "scale") {
      return Fail(res, 404, "NotFound", "the server could not find the requested resource");
    }
    const std::string ns = parts[4], plural = parts[5], name = parts[6];
    auto it = workloads.find(plural + "/" + ns + "/" + name);
    std::string verb = req.method == "GET"     ? "get"
                       : req.method == "PATCH" ? "patch"
                       : req.method == "PUT"   ? "update"
                                               : "?";
    if (forbidden_verbs.count(verb)) {
      return Fail(res, 403, "Forbidden",
                  plural + ".apps \"" + name +
                      "\" is forbidden: User \"system:serviceaccount:default:tidemark\" cannot " +
                      verb + " resource \"" + plural + "/scale\" in API group \"apps\" in the " +
                      "namespace \"" + ns + "\"");
    }
    if (it == workloads.end()) {
      return Fail(res, 404, "NotFound", plural + ".apps \"" + name + "\" not found");
    }
    Workload& w = it->second;
    if (req.method == "PATCH" || req.method == "PUT") {
      if (req.method == "PATCH" && req.Header("Content-Type") != "application/merge-patch+json") {
        return Fail(res, 415, "UnsupportedMediaType", "unexpected patch type");
      }
      if (conflicts_to_inject > 0) {
        --conflicts_to_inject;
        return Conflict(res, plural, name);
      }
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body["spec"]["replicas"].is_number_integer()) {
        return Fail(res, 422, "Invalid", "spec.replicas: Required value");
      }
      if (req.method == "PUT" &&
          body["metadata"].value("resourceVersion", "") != std::to_string(w.rv)) {
        return Conflict(res, plural, name);
      }
      w.replicas = body["spec"]["replicas"].get<int>();
      ++w.rv;
    }
    res->body = ScaleJson(ns, name, w).dump();
    if (req.method == "GET" && bump_rv_after_get) {
      bump_rv_after_get = false;
      ++w.rv;  // Another writer changed the object after our GET.
    }
  }

  int Replicas(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return workloads[key].replicas;
  }

 private:
  static json ScaleJson(const std::string& ns, const std::string& name, const Workload& w) {
    return {{"kind", "Scale"},
            {"apiVersion", "autoscaling/v1"},
            {"metadata",
             {{"name", name},
              {"namespace", ns},
              {"uid", "4b5c6d"},
              {"resourceVersion", std::to_string(w.rv)}}},
            {"spec", {{"replicas", w.replicas}}},
            {"status", {{"replicas", w.replicas}, {"selector", w.selector}}}};
  }
  static void Fail(HttpResponse* res, int code, const std::string& reason,
                   const std::string& message) {
    res->status = code;
    res->body = json{{"kind", "Status"},          {"apiVersion", "v1"}, {"status", "Failure"},
                     {"message", message},        {"reason", reason},   {"code", code},
                     {"metadata", json::object()}}
                    .dump();
  }
  static void Conflict(HttpResponse* res, const std::string& plural, const std::string& name) {
    Fail(res, 409, "Conflict",
         "Operation cannot be fulfilled on " + plural + ".apps \"" + name +
             "\": the object has been modified; please apply your changes to the latest version "
             "and try again");
  }
  // Equality-based selectors only ("app=web,tier=front"), which is what status.selector holds
  // for matchLabels.
  static bool Matches(const json& labels, const std::string& selector) {
    for (size_t i = 0, j; i < selector.size(); i = j + 1) {
      j = selector.find(',', i);
      if (j == std::string::npos) j = selector.size();
      std::string term = selector.substr(i, j - i);
      size_t eq = term.find('=');
      if (eq == std::string::npos) return false;
      std::string k = term.substr(0, eq), v = term.substr(eq + 1);
      if (!labels.is_object() || labels.value(k, "") != v) return false;
    }
    return true;
  }
  std::mutex mu_;
};

json Pod(const std::string& name, const std::string& app, const std::string& phase, bool ready,
         const std::string& cpu_a, const std::string& cpu_b) {
  json pod = {{"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
              {"spec",
               {{"nodeName", "node-1"},
                {"containers",
                 {{{"name", "app"}, {"resources", {{"requests", {{"cpu", cpu_a}}}}}},
                  {{"name", "sidecar"}, {"resources", {{"requests", {{"cpu", cpu_b}}}}}}}}}},
              {"status", {{"phase", phase}}}};
  if (phase == "Running") {
    pod["status"]["startTime"] = "2026-11-22T10:00:00Z";
    pod["status"]["conditions"] = {{{"type", "Ready"},
                                    {"status", ready ? "True" : "False"},
                                    {"lastTransitionTime", "2026-11-22T10:00:05Z"}}};
    pod["status"]["containerStatuses"] = {
        {{"name", "app"}, {"containerID", "containerd://" + std::string(64, 'a')}},
        {{"name", "sidecar"}, {"containerID", "containerd://" + std::string(64, 'b')}}};
  } else if (phase == "Pending") {
    pod["status"]["conditions"] = {{{"type", "PodScheduled"},
                                    {"status", "False"},
                                    {"reason", "Unschedulable"},
                                    {"message", "0/3 nodes are available: 3 Insufficient cpu."}}};
  }
  return pod;
}

class KubernetesClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.workloads["deployments/default/web"] = {3, 100, "app=web"};
    api_.workloads["statefulsets/prod/db"] = {2, 7, "app=db"};
    api_.pods = {Pod("web-1", "web", "Running", true, "250m", "0.25"),
                 Pod("web-2", "web", "Running", false, "250m", "250m"),
                 Pod("web-3", "web", "Pending", false, "250m", "250m"),
                 Pod("other-1", "other", "Running", true, "2", "1")};
    auto s = HttpServer::Create(
        io_, "127.0.0.1:0",
        [this](const HttpRequest& req, HttpResponse* res) { api_.Handle(req, res); });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::unique_ptr<KubernetesClient> Client(KubernetesClientOptions opts = {},
                                           std::string token = "secret-token") {
    KubeConfig c;
    c.host = "127.0.0.1";
    c.port = server_->port();
    c.https = false;
    c.token = std::move(token);
    c.source = "test";
    opts.sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d.count()); };
    auto r = KubernetesClient::Create(c, opts);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }

  FakeKubeApi api_;
  std::vector<int64_t> sleeps_;
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  const ScaleTarget web_{"Deployment", "default", "web"};
};

// Sidecars (init containers with restartPolicy Always) count for the pod's CPU like containers,
// as in the HPA; other init containers have finished and do not.
TEST_F(KubernetesClientTest, SidecarsCountForThePodsContainersAndRequests) {
  json pod = Pod("web-1", "web", "Running", true, "250m", "250m");
  pod["spec"]["initContainers"] = {
      {{"name", "setup"}, {"resources", {{"requests", {{"cpu", "2"}}}}}},
      {{"name", "proxy"},
       {"restartPolicy", "Always"},
       {"resources", {{"requests", {{"cpu", "100m"}}}, {"limits", {{"cpu", "200m"}}}}}}};
  pod["status"]["initContainerStatuses"] = {
      {{"name", "setup"}, {"containerID", "containerd://" + std::string(64, 'd')}},
      {{"name", "proxy"}, {"containerID", "containerd://" + std::string(64, 'c')}}};
  api_.pods = {pod};  // Before any request, as the other tests set the fake up.
  auto client = Client();
  Result<ScaleState> st = client->GetScale(web_);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->replicas.size(), 1u);
  const Replica& r = st->replicas[0];
  EXPECT_EQ(r.container_ids, (std::vector<std::string>{std::string(64, 'a'), std::string(64, 'b'),
                                                       std::string(64, 'c')}));
  EXPECT_DOUBLE_EQ(r.cpu_request_cores, 0.6);  // 250m + 250m + the sidecar's 100m.
  EXPECT_DOUBLE_EQ(r.cpu_limit_cores, 0);      // The app containers have no limit.
}

// A pod with a container not created yet (no ID in its status, or no status) has no whole-pod
// usage: it gets no container IDs, so the autoscaler counts it as unmeasured, never as the lower
// sum of the containers that run.
TEST_F(KubernetesClientTest, PodWithAContainerNotCreatedYetHasNoContainerIds) {
  json no_id = Pod("web-1", "web", "Running", false, "250m", "250m");
  no_id["status"]["containerStatuses"][1].erase("containerID");
  json no_status = Pod("web-2", "web", "Running", false, "250m", "250m");
  no_status["status"]["containerStatuses"].erase(1);
  json sidecar_pending = Pod("web-3", "web", "Running", false, "250m", "250m");
  sidecar_pending["spec"]["initContainers"] = {{{"name", "proxy"},
                                                {"restartPolicy", "Always"},
                                                {"resources", {{"requests", {{"cpu", "100m"}}}}}}};
  api_.pods = {no_id, no_status, sidecar_pending,
               Pod("web-4", "web", "Running", true, "250m", "250m")};
  auto client = Client();
  Result<ScaleState> st = client->GetScale(web_);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->replicas.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(st->replicas[i].container_ids.empty()) << st->replicas[i].name;
  }
  EXPECT_DOUBLE_EQ(st->replicas[0].cpu_request_cores, 0.5);  // Requests come from the spec.
  EXPECT_DOUBLE_EQ(st->replicas[2].cpu_request_cores, 0.6);
  EXPECT_EQ(st->replicas[3].container_ids.size(), 2u);
}

TEST_F(KubernetesClientTest, GetScaleReadsScaleAndPodsBySelector) {
  auto client = Client();
  Result<ScaleState> st = client->GetScale(web_);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->desired, 3);
  EXPECT_EQ(st->version, "100");
  EXPECT_DOUBLE_EQ(st->cpu_cores_per_replica, 0.5);  // 250m + 0.25 per pod
  ASSERT_EQ(st->replicas.size(), 3u);                // other-1 is not selected
  const Replica& r1 = st->replicas[0];
  EXPECT_EQ(r1.name, "web-1");
  EXPECT_EQ(r1.container_ids,
            (std::vector<std::string>{std::string(64, 'a'), std::string(64, 'b')}));
  EXPECT_EQ(r1.node, "node-1");
  EXPECT_TRUE(r1.running);
  EXPECT_TRUE(r1.ready);
  EXPECT_EQ(r1.started_ms, 1795341600000);
  EXPECT_EQ(r1.ready_changed_ms, 1795341605000);
  EXPECT_EQ(r1.message, "");
  EXPECT_DOUBLE_EQ(r1.cpu_request_cores, 0.5);  // Summed over the pod's containers.
  EXPECT_DOUBLE_EQ(r1.cpu_limit_cores, 0);      // No limits set.
  EXPECT_TRUE(st->replicas[1].running);
  EXPECT_FALSE(st->replicas[1].ready);
  EXPECT_EQ(st->replicas[1].message, "running, not Ready");
  const Replica& r3 = st->replicas[2];
  EXPECT_FALSE(r3.running);
  EXPECT_FALSE(r3.failed);
  EXPECT_EQ(r3.message, "Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.");
  // The list went out with the selector percent-encoded, as a query parameter.
  EXPECT_EQ(api_.seen.back().path, "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb");
  EXPECT_EQ(api_.seen.back().auth, "Bearer secret-token");
}

TEST_F(KubernetesClientTest, SetReplicasSendsAMergePatchToTheScaleSubresource) {
  auto client = Client();
  ASSERT_TRUE(client->SetReplicas(web_, 5).ok());
  EXPECT_EQ(api_.Replicas("deployments/default/web"), 5);
  ASSERT_EQ(api_.seen.size(), 1u);
  EXPECT_EQ(api_.seen[0].method, "PATCH");
  EXPECT_EQ(api_.seen[0].path, "/apis/apps/v1/namespaces/default/deployments/web/scale");
  EXPECT_EQ(api_.seen[0].content_type, "application/merge-patch+json");
  EXPECT_EQ(json::parse(api_.seen[0].body), json::parse(R"({"spec":{"replicas":5}})"));
}

// An API server behind a proxy (Rancher): the server URL's path goes before every API path.
TEST_F(KubernetesClientTest, ServerUrlPathPrefixesEveryRequest) {
  KubeConfig c;
  ASSERT_TRUE(ParseServerUrl(
                  "http://127.0.0.1:" + std::to_string(server_->port()) + "/k8s/clusters/c-x/", &c)
                  .ok());
  EXPECT_EQ(c.path_prefix, "/k8s/clusters/c-x");
  c.token = "secret-token";
  c.source = "test";
  auto client = KubernetesClient::Create(c, {});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  (void)(*client)->SetReplicas(web_, 5);  // The fake server has no proxy prefix: 404.
  ASSERT_FALSE(api_.seen.empty());
  EXPECT_EQ(api_.seen.back().path,
            "/k8s/clusters/c-x/apis/apps/v1/namespaces/default/deployments/web/scale");
}

TEST_F(KubernetesClientTest, StatefulSetInItsNamespace) {
  auto client = Client();
  ScaleTarget db{"StatefulSet", "prod", "db"};
  Result<ScaleState> st = client->GetScale(db);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->desired, 2);
  EXPECT_EQ(st->version, "7");
  EXPECT_TRUE(st->replicas.empty());  // No pods labelled app=db.
  ASSERT_TRUE(client->SetReplicas(db, 4).ok());
  EXPECT_EQ(api_.Replicas("statefulsets/prod/db"), 4);
}

TEST_F(KubernetesClientTest, PutWithStaleResourceVersionIsRetriedAfterAFreshRead) {
  KubernetesClientOptions opts;
  opts.update = KubernetesClientOptions::Update::kPut;
  auto client = Client(opts);
  api_.bump_rv_after_get = true;  // Our first PUT carries a stale resourceVersion.
  ASSERT_TRUE(client->SetReplicas(web_, 6).ok());
  EXPECT_EQ(api_.Replicas("deployments/default/web"), 6);
  std::vector<std::string> methods;
  for (const auto& s : api_.seen) methods.push_back(s.method);
  EXPECT_EQ(methods, (std::vector<std::string>{"GET", "PUT", "GET", "PUT"}));
  json first = json::parse(api_.seen[1].body);
  json second = json::parse(api_.seen[3].body);
  EXPECT_EQ(first["metadata"]["resourceVersion"], "100");
  EXPECT_EQ(second["metadata"]["resourceVersion"], "101");
  EXPECT_EQ(second["kind"], "Scale");
  EXPECT_EQ(second["spec"]["replicas"], 6);
  EXPECT_EQ(sleeps_, (std::vector<int64_t>{100}));
}

TEST_F(KubernetesClientTest, PutOfTheCurrentCountIsANoOp) {
  KubernetesClientOptions opts;
  opts.update = KubernetesClientOptions::Update::kPut;
  auto client = Client(opts);
  ASSERT_TRUE(client->SetReplicas(web_, 3).ok());
  ASSERT_EQ(api_.seen.size(), 1u);
  EXPECT_EQ(api_.seen[0].method, "GET");
}

TEST_F(KubernetesClientTest, PersistentConflictGivesUpWithBackoff) {
  auto client = Client();
  api_.conflicts_to_inject = 100;
  Status st = client->SetReplicas(web_, 7);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("still conflicted after 4 attempts"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("the object has been modified"), std::string::npos) << st.message();
  EXPECT_EQ(sleeps_, (std::vector<int64_t>{100, 200, 400}));
  EXPECT_EQ(api_.Replicas("deployments/default/web"), 3);
}

TEST_F(KubernetesClientTest, OneConflictThenSuccess) {
  auto client = Client();
  api_.conflicts_to_inject = 1;
  ASSERT_TRUE(client->SetReplicas(web_, 8).ok());
  EXPECT_EQ(api_.Replicas("deployments/default/web"), 8);
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(KubernetesClientTest, MissingOrWrongTokenIsUnauthorized) {
  auto anonymous = Client({}, "");
  Result<ScaleState> st = anonymous->GetScale(web_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kInternal);
  EXPECT_NE(st.status().message().find("unauthorized (401)"), std::string::npos)
      << st.status().message();
  EXPECT_NE(st.status().message().find("no token configured"), std::string::npos);
  EXPECT_EQ(api_.seen[0].auth, "");

  auto wrong = Client({}, "expired");
  Status s = wrong->SetReplicas(web_, 4);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bearer token (expired or revoked?)"), std::string::npos)
      << s.message();
}

TEST_F(KubernetesClientTest, ForbiddenNamesTheMissingRbacPermission) {
  auto client = Client();
  api_.forbidden_verbs = {"patch"};
  Status s = client->SetReplicas(web_, 4);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("deployments.apps/scale \"web\" in namespace \"default\": forbidden: "
                             "need verb \"patch\" on resource \"deployments/scale\" in API group "
                             "\"apps\""),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("cannot patch resource \"deployments/scale\""), std::string::npos)
      << s.message();  // The server's own words follow.

  api_.forbidden_verbs = {"list"};
  Result<ScaleState> st = client->GetScale(web_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("pods in namespace \"default\": forbidden: need verb "
                                       "\"list\" on resource \"pods\" in API group \"\" (core)"),
            std::string::npos)
      << st.status().message();
}

TEST_F(KubernetesClientTest, UnknownWorkloadIsNotFound) {
  auto client = Client();
  Result<ScaleState> st = client->GetScale({"Deployment", "default", "nope"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kNotFound);
  EXPECT_NE(st.status().message().find("deployments.apps/scale \"nope\" in namespace \"default\" "
                                       "not found"),
            std::string::npos)
      << st.status().message();
  Status s = client->SetReplicas({"Deployment", "default", "nope"}, 2);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
}

TEST_F(KubernetesClientTest, OtherStatusesMapToTheOrchestratorContract) {
  auto client = Client();
  api_.fail_next_status = 422;
  Status s = client->SetReplicas(web_, 4);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("rejected with 422"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("injected failure 422"), std::string::npos) << s.message();
  api_.fail_next_status = 429;
  s = client->SetReplicas(web_, 4);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("too many requests (429)"), std::string::npos) << s.message();
  api_.fail_next_status = 503;
  Result<ScaleState> st = client->GetScale(web_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(st.status().message().find("server error 503"), std::string::npos)
      << st.status().message();
  EXPECT_TRUE(sleeps_.empty());  // Only conflicts are retried here; the controller retries later.
}

TEST_F(KubernetesClientTest, UnsupportedKindAndNegativeReplicasAreRejectedLocally) {
  auto client = Client();
  EXPECT_EQ(client->GetScale({"DaemonSet", "default", "x"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->SetReplicas(web_, -1).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(api_.seen.empty());
}

TEST_F(KubernetesClientTest, UnreachableServerIsUnavailable) {
  KubeConfig c;
  c.host = "127.0.0.1";
  c.port = server_->port();
  c.https = false;
  server_->Stop();
  auto client = KubernetesClient::Create(c);
  ASSERT_TRUE(client.ok());
  Result<ScaleState> st = (*client)->GetScale(web_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable) << st.status().ToString();
}

TEST(KubernetesQuantityTest, ParsesCpuQuantities) {
  EXPECT_DOUBLE_EQ(*ParseCpuQuantity("250m"), 0.25);
  EXPECT_DOUBLE_EQ(*ParseCpuQuantity("1"), 1.0);
  EXPECT_DOUBLE_EQ(*ParseCpuQuantity("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseCpuQuantity("1500u"), 0.0015);
  EXPECT_DOUBLE_EQ(*ParseCpuQuantity("2000000n"), 0.002);
  EXPECT_FALSE(ParseCpuQuantity("").has_value());
  EXPECT_FALSE(ParseCpuQuantity("m").has_value());
  EXPECT_FALSE(ParseCpuQuantity("1e3").has_value());
  EXPECT_FALSE(ParseCpuQuantity("-1").has_value());
  EXPECT_FALSE(ParseCpuQuantity("abc").has_value());
}

TEST(OrchestratorHelpersTest, ParsesApiTimes) {
  EXPECT_EQ(ParseApiTimeMillis("2026-11-22T10:00:00Z"), 1795341600000);
  EXPECT_EQ(ParseApiTimeMillis("2026-11-22T10:00:00.973688044Z"), 1795341600973);
  EXPECT_EQ(ParseApiTimeMillis("2026-11-22T12:00:00.5+02:00"), 1795341600500);
  EXPECT_EQ(ParseApiTimeMillis("0001-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseApiTimeMillis(""), 0);
  EXPECT_EQ(ParseApiTimeMillis("yesterday"), 0);
  EXPECT_EQ(PercentEncode("app=web,tier in (a b)"), "app%3Dweb%2Ctier%20in%20%28a%20b%29");
}

// The whole path over TLS: in-cluster config from a service-account directory, the bearer token
// re-read from its file after rotation, the CA checked.
class KubernetesTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(testing::MakeTestPki(pki_dir_.path(), &pki_), "");
    api_.workloads["deployments/prod/web"] = {2, 5, "app=web"};
    api_.pods = {Pod("web-1", "web", "Running", true, "1", "0")};
    server_ = std::make_unique<testing::TlsTestServer>(
        pki_.server_crt(), pki_.server_key(),
        [this](const HttpRequest& req, HttpResponse* res) { api_.Handle(req, res); });
  }
  testing::TempDir pki_dir_;
  testing::TestPki pki_;
  FakeKubeApi api_;
  std::unique_ptr<testing::TlsTestServer> server_;
};

TEST_F(KubernetesTlsTest, InClusterConfigEndToEnd) {
  testing::TempDir sa;
  sa.WriteFile("token", "secret-token\n");
  sa.WriteFile("namespace", "prod");
  Result<std::string> ca = ReadFile(pki_.ca_crt());
  ASSERT_TRUE(ca.ok());
  sa.WriteFile("ca.crt", *ca);
  std::map<std::string, std::string> env = {
      {"KUBERNETES_SERVICE_HOST", "127.0.0.1"},
      {"KUBERNETES_SERVICE_PORT", "1"},
      {"KUBERNETES_SERVICE_PORT_HTTPS", std::to_string(server_->port())}};
  Result<KubeConfig> cfg = LoadInClusterConfig(
      [&](const std::string& k) -> std::optional<std::string> {
        auto it = env.find(k);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      sa.path());
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->namespace_, "prod");
  auto client = KubernetesClient::Create(*cfg);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ScaleTarget web{"Deployment", "", "web"};  // Namespace from the service account.
  Result<ScaleState> st = (*client)->GetScale(web);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->desired, 2);
  ASSERT_EQ(st->replicas.size(), 1u);
  EXPECT_DOUBLE_EQ(st->cpu_cores_per_replica, 1.0);

  // The kubelet rotates the token: the next request uses the new one.
  api_.token = "rotated-token";
  sa.WriteFile("token", "rotated-token\n");
  ASSERT_TRUE((*client)->SetReplicas(web, 3).ok());
  EXPECT_EQ(api_.Replicas("deployments/prod/web"), 3);
  EXPECT_EQ(api_.seen.back().auth, "Bearer rotated-token");
}

std::string Base64(const std::string& in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

TEST_F(KubernetesTlsTest, KubeconfigWithCaDataEndToEnd) {
  Result<std::string> ca = ReadFile(pki_.ca_crt());
  ASSERT_TRUE(ca.ok());
  testing::TempDir dir;
  dir.WriteFile("config",
                "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                "clusters:\n- name: c\n  cluster:\n    server: https://localhost:" +
                    std::to_string(server_->port()) +
                    "\n    certificate-authority-data: " + Base64(*ca) +
                    "\ncontexts:\n- name: test\n  context: {cluster: c, user: u, "
                    "namespace: prod}\nusers:\n- name: u\n  user: {token: secret-token}\n");
  Result<KubeConfig> cfg = LoadKubeConfigFile(dir.path() + "/config");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  auto client = KubernetesClient::Create(*cfg);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<ScaleState> st = (*client)->GetScale({"Deployment", "", "web"});
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->desired, 2);

  // The same kubeconfig against another cluster's CA fails on the certificate, clearly.
  Result<std::string> other = ReadFile(pki_.other_ca_crt());
  ASSERT_TRUE(other.ok());
  cfg->tls.ca_pem = *other;
  client = KubernetesClient::Create(*cfg);
  ASSERT_TRUE(client.ok());
  st = (*client)->GetScale({"Deployment", "", "web"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(st.status().message().find("certificate verify failed"), std::string::npos)
      << st.status().message();
}

}  // namespace
}  // namespace tidemark::autoscaler
