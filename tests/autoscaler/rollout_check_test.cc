#include "autoscaler/rollout_check.h"

#include <gtest/gtest.h>

#include <deque>

#include "tests/testing/testing.h"

namespace tidemark::autoscaler {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Replica Rep(const std::string& name, bool ready, const std::string& message = "") {
  Replica r;
  r.name = name;
  r.running = ready;
  r.ready = ready;
  r.message = message;
  return r;
}

// Answers GetScale from a script of states/errors, one per call; the last one repeats.
class ScriptedOrchestrator final : public Orchestrator {
 public:
  std::deque<Result<ScaleState>> script;
  int calls = 0;
  std::string Name() const override { return "scripted"; }
  Result<ScaleState> GetScale(const ScaleTarget&) override {
    ++calls;
    Result<ScaleState> r = script.front();
    if (script.size() > 1) script.pop_front();
    return r;
  }
  Status SetReplicas(const ScaleTarget&, int32_t) override { return Status::Ok(); }
};

ScaleState State(std::vector<Replica> replicas) {
  ScaleState s;
  s.desired = 3;
  s.replicas = std::move(replicas);
  return s;
}

class RolloutCheckTest : public ::testing::Test {
 protected:
  WaitFunction Wait() {
    return [this](milliseconds d) {
      waits_.push_back(d.count());
      clock_.Advance(d);
    };
  }
  testing::FakeClock clock_;
  std::vector<int64_t> waits_;
  ScriptedOrchestrator orch_;
  const ScaleTarget target_{"SwarmService", "", "web"};
  const std::vector<Replica> before_{Rep("t1", true)};
};

TEST_F(RolloutCheckTest, AllNewReplicasBecomeReady) {
  orch_.script = {State({Rep("t1", true), Rep("t2", false, "preparing"), Rep("t3", false)}),
                  State({Rep("t1", true), Rep("t2", true), Rep("t3", false, "starting")}),
                  State({Rep("t1", true), Rep("t2", true), Rep("t3", true)})};
  auto deadline = clock_.MonotonicNow() + seconds(30);
  Result<RolloutReport> r = CheckRollout(orch_, target_, before_, 3, deadline, clock_, Wait());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->ready, 3);
  ASSERT_EQ(r->became_ready.size(), 2u);
  EXPECT_EQ(r->became_ready[0].name, "t2");
  EXPECT_EQ(r->became_ready[1].name, "t3");
  EXPECT_TRUE(r->not_ready.empty());
  EXPECT_EQ(orch_.calls, 3);
  EXPECT_EQ(waits_, (std::vector<int64_t>{1000, 1000}));
  EXPECT_EQ(r->Summary(), "3/3 ready");
}

TEST_F(RolloutCheckTest, ReplicasThatNeverBecomeReadyAreReportedWithTheirReasons) {
  orch_.script = {
      State({Rep("t1", true), Rep("t2", true),
             Rep("t3", false, "pending: no suitable node (insufficient resources on 1 node)")})};
  auto deadline = clock_.MonotonicNow() + milliseconds(2500);
  Result<RolloutReport> r = CheckRollout(orch_, target_, before_, 3, deadline, clock_, Wait());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->ready, 2);
  ASSERT_EQ(r->not_ready.size(), 1u);
  EXPECT_EQ(r->not_ready[0].name, "t3");
  // Polls at 0, 1 s, 2 s and a last one at the deadline.
  EXPECT_EQ(waits_, (std::vector<int64_t>{1000, 1000, 500}));
  EXPECT_EQ(orch_.calls, 4);
  EXPECT_EQ(r->Summary(),
            "2/3 ready; not ready: t3 (pending: no suitable node (insufficient resources on 1 "
            "node))");
}

TEST_F(RolloutCheckTest, TransientErrorsAreRememberedButDoNotEndTheCheck) {
  orch_.script = {Status::Unavailable("socket gone"),
                  State({Rep("t1", true), Rep("t2", true), Rep("t3", true)})};
  auto deadline = clock_.MonotonicNow() + seconds(10);
  Result<RolloutReport> r = CheckRollout(orch_, target_, before_, 3, deadline, clock_, Wait());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->complete);
  EXPECT_NE(r->last_error.find("socket gone"), std::string::npos);
}

TEST_F(RolloutCheckTest, OnlyErrorsIsAnError) {
  orch_.script = {Status::NotFound("no such service")};
  auto deadline = clock_.MonotonicNow() + seconds(3);
  Result<RolloutReport> r = CheckRollout(orch_, target_, before_, 3, deadline, clock_, Wait());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("swarm service web: rollout check"), std::string::npos);
}

TEST_F(RolloutCheckTest, FailedReplicasAndOldOnesAreNotNew) {
  Replica failed = Rep("t9", false, "failed: port already in use");
  failed.failed = true;
  RolloutTracker tracker(before_, 2);
  EXPECT_FALSE(tracker.Observe(State({Rep("t1", true), failed, Rep("t4", false, "starting")})));
  EXPECT_EQ(tracker.report().ready, 1);
  ASSERT_EQ(tracker.report().not_ready.size(), 1u);
  EXPECT_EQ(tracker.report().not_ready[0].name, "t4");
  EXPECT_TRUE(tracker.Observe(State({Rep("t1", true), Rep("t4", true)})));
  ASSERT_EQ(tracker.report().became_ready.size(), 1u);
  EXPECT_EQ(tracker.report().became_ready[0].name, "t4");
}

}  // namespace
}  // namespace tidemark::autoscaler
