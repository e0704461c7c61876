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

// Series that vanish release their cache entries (and the names and label sets held for them);
// when they come back, and next to new ones, every sample lands in its own series.
TEST(StoreWriterTest, SeriesThatComeBackAfterVanishingGetTheirOwnSamples) {
  TempDir dir;
  FakeClock clock;
  tsdb::DbOptions o;
  o.dir = dir.path() + "/tsdb";
  o.min_free_bytes = 0;
  auto db = tsdb::Db::Open(o, clock);
  ASSERT_TRUE(db.ok());
  StoreWriter w(**db);
  auto a = std::make_shared<LabelSet>(Labels{{"id", "/docker/a"}});
  auto b = std::make_shared<LabelSet>(Labels{{"id", "/docker/b"}});
  auto cycle = [&](int64_t ts, const std::vector<LabelSetPtr>& cs, double v) {
    SampleBatch batch;
    batch.set_timestamp_ms(ts);
    size_t cpu = batch.Family("container_cpu_usage_seconds_total", "CPU.", MetricType::kCounter);
    size_t lat = batch.Family("container_latency_seconds", "Latency.", MetricType::kHistogram);
    for (const LabelSetPtr& c : cs) {
      const LabelSet* base = batch.Intern(c);
      batch.Add(cpu, base, {{"cpu", "0"}}, v);
      batch.Add(cpu, base, {{"cpu", "1"}}, v + 0.5);
      batch.Add(lat, base, {{"le", "+Inf"}}, v + 2, SeriesPart::kBucket);
      batch.Add(lat, base, {}, v + 3, SeriesPart::kCount);
    }
    return batch;
  };
  ASSERT_TRUE(w.Write(cycle(kT0, {a}, 1)).ok());
  EXPECT_EQ(w.cached_series(), 4u);
  auto gone = w.Write(cycle(kT0 + 1000, {}, 0));
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->stale_markers, 4u);
  EXPECT_EQ(w.cached_series(), 0u);
  auto back = w.Write(cycle(kT0 + 2000, {b, a}, 10));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->samples, 8u);
  EXPECT_EQ(w.cached_series(), 8u);
  auto again = w.Write(cycle(kT0 + 3000, {a, b}, 20));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->samples, 8u);
  EXPECT_EQ(again->stale_markers, 0u);
  EXPECT_EQ((*db)->Stats().series, 8u);

  auto one = [&](const char* name, const char* id, const char* extra_name,
                 const char* extra_value) {
    std::vector<tsdb::Matcher> m = {
        *tsdb::Matcher::Create(tsdb::MatchType::kEqual, "__name__", name),
        *tsdb::Matcher::Create(tsdb::MatchType::kEqual, "id", id)};
    if (extra_name != nullptr) {
      m.push_back(*tsdb::Matcher::Create(tsdb::MatchType::kEqual, extra_name, extra_value));
    }
    auto sel = (*db)->Select(m, 0, kT0 * 2);
    EXPECT_TRUE(sel.ok());
    std::vector<std::pair<int64_t, double>> out;
    if (!sel.ok() || sel->size() != 1) return out;
    auto it = (*sel)[0].Iterate();
    while (it->Next()) out.emplace_back(it->t(), it->v());
    return out;
  };
  auto a_cpu1 = one("container_cpu_usage_seconds_total", "/docker/a", "cpu", "1");
  ASSERT_EQ(a_cpu1.size(), 4u);
  EXPECT_EQ(a_cpu1[0], std::make_pair(kT0, 1.5));
  EXPECT_TRUE(tsdb::IsStaleNaN(a_cpu1[1].second));
  EXPECT_EQ(a_cpu1[2], std::make_pair(kT0 + 2000, 10.5));
  EXPECT_EQ(a_cpu1[3], std::make_pair(kT0 + 3000, 20.5));
  auto b_count = one("container_latency_seconds_count", "/docker/b", nullptr, nullptr);
  ASSERT_EQ(b_count.size(), 2u);
  EXPECT_EQ(b_count[0], std::make_pair(kT0 + 2000, 13.0));
  EXPECT_EQ(b_count[1], std::make_pair(kT0 + 3000, 23.0));
  auto b_bucket = one("container_latency_seconds_bucket", "/docker/b", "le", "+Inf");
  ASSERT_EQ(b_bucket.size(), 2u);
  EXPECT_EQ(b_bucket[1], std::make_pair(kT0 + 3000, 22.0));
}

}  // namespace
}  // namespace tidemark::agent
