// The Swarm client against a real dockerd (Debian's docker.io) in Swarm mode, started privately
// for this suite (tests/testing/docker_util.h; ~4 s to start).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "autoscaler/rollout_check.h"
#include "autoscaler/swarm_client.h"
#include "tests/testing/docker_util.h"
#include "tests/testing/testing.h"

namespace tidemark::autoscaler {
namespace {

class SwarmClientPrivilegedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = testing::PrivateDockerd::SkipReason();
    if (!skip_.empty()) return;
    auto t0 = std::chrono::steady_clock::now();
    dockerd_ = new testing::PrivateDockerd();
    start_error_ = dockerd_->Start();
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    fprintf(stderr, "private dockerd + swarm init + image: %.1f s\n", took.count());
  }
  static void TearDownTestSuite() {
    auto t0 = std::chrono::steady_clock::now();
    delete dockerd_;  // Stops everything.
    dockerd_ = nullptr;
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    fprintf(stderr, "private dockerd stopped and cleaned up: %.1f s\n", took.count());
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_EQ(start_error_, "") << "private dockerd did not start";
    SwarmClientOptions o;
    o.endpoint = dockerd_->endpoint();
    auto c = SwarmClient::Create(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  void TearDown() override {
    std::string out;
    for (const std::string& s : services_) dockerd_->Docker("service rm " + s, &out);
  }
  // `docker service create --detach` of `sleep 3600` (SIGKILL on stop: sleep as PID 1 ignores
  // SIGTERM, which would cost the 10 s grace period per removed task).
  void CreateService(const std::string& name, const std::string& flags) {
    std::string out;
    int rc =
        dockerd_->Docker("service create --quiet --detach --stop-signal KILL --name " + name + " " +
                             flags + " " + testing::PrivateDockerd::kImage + " sleep 3600",
                         &out);
    ASSERT_EQ(rc, 0) << out;
    services_.push_back(name);
  }
  std::string Docker(const std::string& args) {
    std::string out;
    EXPECT_EQ(dockerd_->Docker(args, &out), 0) << args << ": " << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  // Real time: polls a real daemon (bounded by the deadline, not a timed assertion).
  Result<RolloutReport> WaitReady(const ScaleTarget& t, const std::vector<Replica>& before,
                                  int32_t desired, std::chrono::seconds within) {
    SystemClock& clock = SystemClock::Instance();
    return CheckRollout(
        *client_, t, before, desired, clock.MonotonicNow() + within, clock,
        [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); },
        std::chrono::milliseconds(250));
  }

  // Bound for tasks to start on the loopback daemon (typically ~1 s).
  static constexpr std::chrono::seconds kStart{60};
  static inline std::string skip_;
  static inline std::string start_error_;
  static inline testing::PrivateDockerd* dockerd_ = nullptr;
  std::unique_ptr<SwarmClient> client_;
  std::vector<std::string> services_;
};

TEST_F(SwarmClientPrivilegedTest, NegotiatesTheEnginesApiVersion) {
  std::string server = Docker("version --format '{{.Server.APIVersion}}'");
  Result<std::string> v = client_->NegotiatedApiVersion();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  // Debian 12's docker.io (20.10) speaks 1.41, older than this client's newest.
  EXPECT_EQ(*v, server < std::string(kSwarmClientApiVersion) ? server : kSwarmClientApiVersion);
}

TEST_F(SwarmClientPrivilegedTest, GetScaleOfARunningService) {
  CreateService("tm-get", "--replicas 1 --limit-cpu 0.5 --label team=payments");
  Result<RolloutReport> up = WaitReady({"SwarmService", "", "tm-get"}, {}, 1, kStart);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  ASSERT_TRUE(up->complete) << up->Summary();
  Result<ScaleState> st = client_->GetScale({"SwarmService", "", "tm-get"});
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->desired, 1);
  EXPECT_DOUBLE_EQ(st->cpu_cores_per_replica, 0.5);
  ASSERT_FALSE(st->replicas.empty());
  EXPECT_DOUBLE_EQ(st->replicas[0].cpu_limit_cores, 0.5);  // --limit-cpu, no reservation.
  EXPECT_DOUBLE_EQ(st->replicas[0].cpu_request_cores, 0);
  EXPECT_EQ(st->version, Docker("service inspect --format '{{.Version.Index}}' tm-get"));
  ASSERT_EQ(st->replicas.size(), 1u);
  const Replica& r = st->replicas[0];
  EXPECT_TRUE(r.running);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.message, "");
  EXPECT_GT(r.started_ms, 0);
  EXPECT_EQ(r.node, Docker("info --format '{{.Swarm.NodeID}}'"));
  // The container id joins with the container's own (and with container_* series).
  ASSERT_EQ(r.container_ids.size(), 1u);
  EXPECT_EQ(r.container_ids[0].size(), 64u);
  EXPECT_EQ(r.container_ids[0],
            Docker("ps -q --no-trunc --filter label=com.docker.swarm.service.name=tm-get"));
}

TEST_F(SwarmClientPrivilegedTest, SetReplicasScalesOutKeepingTheRestOfTheSpec) {
  CreateService("tm-scale", "--replicas 1 --limit-cpu 0.25 --label team=payments --env A=1");
  ScaleTarget t{"SwarmService", "", "tm-scale"};
  Result<RolloutReport> up = WaitReady(t, {}, 1, kStart);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  ASSERT_TRUE(up->complete) << up->Summary();
  Result<ScaleState> before = client_->GetScale(t);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_TRUE(client_->SetReplicas(t, 3).ok());
  Result<RolloutReport> report = WaitReady(t, before->replicas, 3, kStart);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->complete) << report->Summary();
  EXPECT_EQ(report->became_ready.size(), 2u) << report->Summary();
  // Only the replica count changed.
  EXPECT_EQ(Docker("service inspect --format '{{.Spec.Mode.Replicated.Replicas}} "
                   "{{.Spec.Labels.team}} {{.Spec.TaskTemplate.ContainerSpec.Args}} "
                   "{{.Spec.TaskTemplate.ContainerSpec.Env}} "
                   "{{.Spec.TaskTemplate.Resources.Limits.NanoCPUs}}' tm-scale"),
            "3 payments [sleep 3600] [A=1] 250000000");
  // Scaling to the current count changes nothing (no new version).
  std::string version = Docker("service inspect --format '{{.Version.Index}}' tm-scale");
  ASSERT_TRUE(client_->SetReplicas(t, 3).ok());
  EXPECT_EQ(Docker("service inspect --format '{{.Version.Index}}' tm-scale"), version);
  // And back in.
  ASSERT_TRUE(client_->SetReplicas(t, 1).ok());
  EXPECT_EQ(Docker("service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' tm-scale"), "1");
}

TEST_F(SwarmClientPrivilegedTest, ConcurrentUpdateOutOfSequenceIsRetriedOnAFreshSpec) {
  CreateService("tm-race", "--replicas 1");
  SwarmClientOptions o;
  o.endpoint = dockerd_->endpoint();
  std::vector<int> attempts;
  o.before_update = [&](int attempt) {
    attempts.push_back(attempt);
    // Another writer updates the service between our read and our write, the first time only.
    if (attempt == 0) Docker("service update --detach --label-add concurrent=yes tm-race");
  };
  std::vector<int64_t> sleeps;
  o.sleep = [&](std::chrono::milliseconds d) { sleeps.push_back(d.count()); };
  auto client = SwarmClient::Create(o);
  ASSERT_TRUE(client.ok());
  Status s = (*client)->SetReplicas({"SwarmService", "", "tm-race"}, 2);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(attempts, (std::vector<int>{0, 1}));  // The first write was out of sequence.
  EXPECT_EQ(sleeps, (std::vector<int64_t>{50}));
  // Both writers' changes survive: the retry re-read the spec instead of overwriting it.
  EXPECT_EQ(Docker("service inspect --format '{{.Spec.Mode.Replicated.Replicas}} "
                   "{{.Spec.Labels.concurrent}}' tm-race"),
            "2 yes");
}

TEST_F(SwarmClientPrivilegedTest, UnknownServiceIsNotFound) {
  ScaleTarget t{"SwarmService", "", "tm-absent"};
  Result<ScaleState> st = client_->GetScale(t);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kNotFound);
  EXPECT_NE(st.status().message().find("swarm service tm-absent: no such service"),
            std::string::npos)
      << st.status().message();
  EXPECT_EQ(client_->SetReplicas(t, 2).code(), StatusCode::kNotFound);
}

TEST_F(SwarmClientPrivilegedTest, UnplaceableReplicasAreReportedWithTheSchedulersReason) {
  // Reserves more CPU than the node has: the new task stays pending.
  CreateService("tm-pending", "--replicas 1 --reserve-cpu 10000");
  ScaleTarget t{"SwarmService", "", "tm-pending"};
  Result<RolloutReport> report = WaitReady(t, {}, 1, std::chrono::seconds(3));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->complete);
  ASSERT_EQ(report->not_ready.size(), 1u) << report->Summary();
  EXPECT_NE(report->not_ready[0].message.find("no suitable node"), std::string::npos)
      << report->Summary();
  EXPECT_FALSE(report->not_ready[0].running);
}

// A second, plain engine (no swarm init): what users see when pointed at a non-manager node.
TEST(SwarmClientPlainEnginePrivilegedTest, NotASwarmManagerIsAClearError) {
  std::string skip = testing::PrivateDockerd::SkipReason();
  if (!skip.empty()) GTEST_SKIP() << skip;
  testing::PrivateDockerd plain;
  ASSERT_EQ(plain.Start(/*swarm=*/false), "");
  SwarmClientOptions o;
  o.endpoint = plain.endpoint();
  auto client = SwarmClient::Create(o);
  ASSERT_TRUE(client.ok());
  Result<ScaleState> st = (*client)->GetScale({"SwarmService", "", "web"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(st.status().message().find("this docker engine is not a swarm manager"),
            std::string::npos)
      << st.status().message();
  EXPECT_NE(st.status().message().find("This node is not a swarm manager"), std::string::npos)
      << st.status().message();  // The engine's own words.
  EXPECT_EQ((*client)->SetReplicas({"SwarmService", "", "web"}, 2).code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tidemark::autoscaler
