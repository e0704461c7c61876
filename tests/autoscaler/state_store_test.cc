#include "autoscaler/state_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/testing/testing.h"

namespace tidemark::autoscaler {
namespace {

constexpr int64_t kT0 = 1700000000000;
constexpr int64_t kS = 1000;

Policy QueryPolicy() {
  Policy p;
  p.name = "web/api";  // A name that is not a safe file name.
  p.target = {"SwarmService", "", "web"};
  p.max_replicas = 100;
  MetricSpec m;
  m.type = MetricType::kQuery;
  m.name = "q";
  m.query = "up";
  m.target_value = 1;
  m.target_type = QueryTargetType::kAverage;
  p.metrics = {m};
  return p;
}

ScaleState State(int n) {
  ScaleState s;
  s.desired = n;
  for (int i = 0; i < n; ++i) {
    Replica r;
    r.name = "p" + std::to_string(i);
    r.running = r.ready = true;
    s.replicas.push_back(r);
  }
  return s;
}

MetricInput Value(double v) {
  MetricInput in;
  in.value = v;
  return in;
}

// A restart between two decisions keeps the scale-down window: the recommendation of 10 made
// before the restart still holds a scale-down 100 s later, as without the restart.
TEST(StateStoreTest, RestartKeepsStabilizationWindow) {
  testing::TempDir dir;
  Policy p = QueryPolicy();
  {
    StateStore store(dir.path() + "/state");
    ASSERT_TRUE(store.Open().ok());
    History h;
    Decision d = Recommend(p, kT0, State(10), {Value(10)}, &h);
    RecordDecision(d, 10, &h);
    ASSERT_TRUE(store.Save(p, kT0, 10, h).ok());
  }
  StateStore store(dir.path() + "/state");
  auto loaded = store.Load(p.name);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  History h = std::move(*loaded);
  EXPECT_TRUE(h.initialized);
  ASSERT_EQ(h.decisions.size(), 1u);
  EXPECT_EQ(h.decisions[0].desired, 10);
  Decision d = Recommend(p, kT0 + 100 * kS, State(10), {Value(2)}, &h);
  EXPECT_EQ(d.recommendation, 2);
  EXPECT_EQ(d.desired, 10);
  EXPECT_EQ(d.Find("AbleToScale")->reason, "ScaleDownStabilized");
  // A fresh history (what a restart without the store gives) would scale down at once after its
  // seed left the window; with the store, the loaded one only after 300 s.
  d = Recommend(p, kT0 + 301 * kS, State(10), {Value(2)}, &h);
  EXPECT_EQ(d.desired, 2);
}

TEST(StateStoreTest, RestartKeepsRateLimitEvents) {
  testing::TempDir dir;
  Policy p = QueryPolicy();
  StateStore store(dir.path());
  ASSERT_TRUE(store.Open().ok());
  History h;
  Decision d = Recommend(p, kT0, State(10), {Value(50)}, &h);
  ASSERT_EQ(d.desired, 20);
  RecordRescale(p, kT0, 10, 20, &h);
  ASSERT_TRUE(store.Save(p, kT0, 10, h).ok());
  auto loaded = store.Load(p.name);
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->scale_up_events.size(), 1u);
  d = Recommend(p, kT0 + 10 * kS, State(20), {Value(50)}, &*loaded);
  EXPECT_EQ(d.desired, 20);  // The +10 of 10 s ago still counts.
}

TEST(StateStoreTest, RoundTripIsExactAndBounded) {
  testing::TempDir dir;
  Policy p = QueryPolicy();
  StateStore store(dir.path());
  ASSERT_TRUE(store.Open().ok());
  History h;
  h.initialized = true;
  h.recommendations = {{kT0 - 1000 * kS, 3}, {kT0 - 10 * kS, 4}};
  h.scale_down_events = {{kT0 - 5 * kS, 2}};
  for (int i = 0; i < 5; ++i) {
    Decision d = Recommend(p, kT0 + i, State(4), {i == 2 ? MetricInput{} : Value(4)}, &h);
    RecordDecision(d, 100, &h);
  }
  ASSERT_TRUE(store.Save(p, kT0, 3, h).ok());
  EXPECT_FALSE(std::filesystem::exists(store.PathFor(p.name) + ".tmp"));
  EXPECT_EQ(store.PathFor(p.name), dir.path() + "/web%2Fapi.json");
  auto loaded = store.Load(p.name);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->recommendations.size(), h.recommendations.size());
  for (size_t i = 0; i < h.recommendations.size(); ++i) {
    EXPECT_EQ(loaded->recommendations[i].time_ms, h.recommendations[i].time_ms);
    EXPECT_EQ(loaded->recommendations[i].replicas, h.recommendations[i].replicas);
  }
  ASSERT_EQ(loaded->scale_down_events.size(), 1u);
  EXPECT_EQ(loaded->scale_down_events[0].change, 2);
  ASSERT_EQ(loaded->decisions.size(), 3u);  // The last 3.
  EXPECT_EQ(DecisionToJson(loaded->decisions[0]), DecisionToJson(h.decisions[2]));
  EXPECT_FALSE(loaded->decisions[0].metrics[0].valid);
  EXPECT_EQ(DecisionToJson(loaded->decisions[2]), DecisionToJson(h.decisions[4]));
  // Saved 301 s later, past one scale-down window but within two (scale_down.min_step): the
  // recommendation of kT0 - 10 s is kept, the one of kT0 - 1000 s is not.
  ASSERT_TRUE(store.Save(p, kT0 + 301 * kS, 3, h).ok());
  loaded = store.Load(p.name);
  ASSERT_TRUE(loaded.ok());
  std::vector<int64_t> times;
  for (const auto& r : loaded->recommendations) times.push_back(r.time_ms);
  EXPECT_NE(std::find(times.begin(), times.end(), kT0 - 10 * kS), times.end());
  EXPECT_EQ(std::find(times.begin(), times.end(), kT0 - 1000 * kS), times.end());
  // Saved 601 s later (two scale-down windows), only what the windows still need is kept.
  ASSERT_TRUE(store.Save(p, kT0 + 601 * kS, 3, h).ok());
  loaded = store.Load(p.name);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->recommendations.empty());
  EXPECT_TRUE(loaded->scale_down_events.empty());
  EXPECT_TRUE(loaded->initialized);
}

// An API error text cut inside a multi-byte character (invalid UTF-8) must not make Save throw.
TEST(StateStoreTest, InvalidUtf8InAnErrorMessageIsSaved) {
  testing::TempDir dir;
  Policy p = QueryPolicy();
  StateStore store(dir.path() + "/state");
  ASSERT_TRUE(store.Open().ok());
  History h;
  MetricInput failed;
  failed.status = Status::Unavailable("query failed: \xe6\x9c\x8d\xe5\x8a");
  Decision d = Recommend(p, kT0, State(3), {failed}, &h);
  RecordDecision(d, 10, &h);
  Status st = store.Save(p, kT0, 10, h);
  EXPECT_TRUE(st.ok()) << st.ToString();
  auto loaded = store.Load(p.name);
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
}

TEST(StateStoreTest, MissingFileIsEmptyCorruptFileIsAnError) {
  testing::TempDir dir;
  StateStore store(dir.path());
  auto h = store.Load("none");
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->initialized);
  dir.WriteFile("bad.json", "{not json");
  auto bad = store.Load("bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("bad.json"), std::string::npos);
  dir.WriteFile("old.json", R"({"version": 99})");
  EXPECT_FALSE(store.Load("old").ok());
}

TEST(StateStoreTest, UnwritableDirIsAnIoError) {
  StateStore store("/proc/tidemark-no-such-dir");
  EXPECT_FALSE(store.Open().ok());
  Policy p = QueryPolicy();
  Status st = store.Save(p, kT0, 1, History{});
  EXPECT_EQ(st.code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace tidemark::autoscaler
