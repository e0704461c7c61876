#include "agent/store_writer.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace tidemark::agent {
namespace {

using tidemark::testing::FakeClock;
using tidemark::testing::TempDir;

constexpr int64_t kT0 = 1700000000000;

SampleBatch Cycle(int64_t ts, const std::vector<LabelSetPtr>& containers, double v) {
  SampleBatch b;
  b.set_timestamp_ms(ts);
  size_t cpu = b.Family("container_cpu_usage_seconds_total", "CPU.", MetricType::kCounter);
  size_t up = b.Family("node_load1", "Load.", MetricType::kGauge);
  for (const LabelSetPtr& c : containers) {
    b.Add(cpu, b.Intern(c), {{"cpu", "total"}}, v);
  }
  b.Add(up, nullptr, v);
  return b;
}

std::vector<std::pair<int64_t, double>> Read(tsdb::Db& db, const char* id) {
  tsdb::Matcher m[] = {*tsdb::Matcher::Create(tsdb::MatchType::kEqual, "__name__",
                                              "container_cpu_usage_seconds_total"),
                       *tsdb::Matcher::Create(tsdb::MatchType::kEqual, "id", id)};
  auto sel = db.Select(m, 0, kT0 * 2);
  EXPECT_TRUE(sel.ok());
  std::vector<std::pair<int64_t, double>> out;
  if (!sel.ok() || sel->empty()) return out;
  auto it = (*sel)[0].Iterate();
  while (it->Next()) out.emplace_back(it->t(), it->v());
  return out;
}

TEST(StoreWriterTest, WritesCyclesAndStaleMarksVanishedSeries) {
  TempDir dir;
  FakeClock clock;
  tsdb::DbOptions o;
  o.dir = dir.path() + "/tsdb";
  o.min_free_bytes = 0;
  auto db = tsdb::Db::Open(o, clock);
  ASSERT_TRUE(db.ok());
  StoreWriter w(**db);
  auto a = std::make_shared<LabelSet>(Labels{{"id", "/docker/a"}, {"name", "a"}});
  auto b = std::make_shared<LabelSet>(Labels{{"id", "/docker/b"}, {"name", "b"}});

  auto r1 = w.Write(Cycle(kT0, {a, b}, 1));
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->samples, 3u);
  auto r2 = w.Write(Cycle(kT0 + 1000, {a, b}, 2));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->samples, 3u);
  EXPECT_EQ(w.cached_series(), 3u);
  // b goes away: its series gets a staleness marker at the next cycle's timestamp.
  auto r3 = w.Write(Cycle(kT0 + 2000, {a}, 3));
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->stale_markers, 1u);
  EXPECT_EQ(w.cached_series(), 2u);

  auto got_a = Read(**db, "/docker/a");
  ASSERT_EQ(got_a.size(), 3u);
  EXPECT_EQ(got_a[2], std::make_pair(kT0 + 2000, 3.0));
  auto got_b = Read(**db, "/docker/b");
  ASSERT_EQ(got_b.size(), 3u);
  EXPECT_EQ(got_b[1], std::make_pair(kT0 + 1000, 2.0));
  EXPECT_EQ(got_b[2].first, kT0 + 2000);
  EXPECT_TRUE(tsdb::IsStaleNaN(got_b[2].second));
  // Stored labels are the full set: __name__, base labels and per-sample labels.
  tsdb::Matcher m[] = {*tsdb::Matcher::Create(tsdb::MatchType::kEqual, "name", "a")};
  auto sel = (*db)->Select(m, 0, kT0 * 2);
  ASSERT_EQ(sel->size(), 1u);
  EXPECT_EQ((*sel)[0].labels, (Labels{{"__name__", "container_cpu_usage_seconds_total"},
                                      {"cpu", "total"},
                                      {"id", "/docker/a"},
                                      {"name", "a"}}));
}

TEST(StoreWriterTest, NewLabelSetForTheSameContainerIsANewSeries) {
  TempDir dir;
  FakeClock clock;
  tsdb::DbOptions o;
  o.dir = dir.path() + "/tsdb";
  o.min_free_bytes = 0;
  auto db = tsdb::Db::Open(o, clock);
  ASSERT_TRUE(db.ok());
  StoreWriter w(**db);
  auto before = std::make_shared<LabelSet>(Labels{{"id", "/docker/a"}});
  auto after = std::make_shared<LabelSet>(Labels{{"id", "/docker/a"}, {"name", "web"}});
  ASSERT_TRUE(w.Write(Cycle(kT0, {before}, 1)).ok());
  auto r = w.Write(Cycle(kT0 + 1000, {after}, 2));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stale_markers, 1u) << "the old label set's series goes stale";
  EXPECT_EQ((*db)->Stats().series, 3u);
}

}  // namespace
}  // namespace tidemark::agent
