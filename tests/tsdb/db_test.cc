#include "tsdb/db.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/testing/testing.h"
#include "tsdb/encoding/chunk.h"
#include "tsdb/encoding/xor_chunk.h"

namespace tidemark::tsdb {
namespace {

using tidemark::testing::FakeClock;
using tidemark::testing::TempDir;

constexpr int64_t kT0 = 1700000000000;  // FakeClock's default start, in ms.

Labels L(std::initializer_list<std::pair<const char*, const char*>> kv) {
  Labels out;
  for (auto& [k, v] : kv) out.push_back(Label{k, v});
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

Matcher Eq(const char* name, const char* value) {
  return *Matcher::Create(MatchType::kEqual, name, value);
}

std::vector<std::pair<int64_t, double>> Samples(const SeriesData& s) {
  std::vector<std::pair<int64_t, double>> out;
  auto it = s.Iterate();
  while (it->Next()) out.emplace_back(it->t(), it->v());
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

class DbTest : public ::testing::Test {
 protected:
  DbOptions Options() {
    DbOptions o;
    o.dir = dir_.path() + "/db";
    o.min_free_bytes = 0;
    return o;
  }
  std::unique_ptr<Db> Open(const DbOptions& o) {
    auto db = Db::Open(o, clock_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }
  TempDir dir_;
  FakeClock clock_;
};

TEST_F(DbTest, AppendsAndSelectsAcrossSealedAndOpenChunks) {
  DbOptions o = Options();
  o.chunk_samples = 50;
  auto db = Open(o);
  const Labels a = L({{"__name__", "cpu"}, {"pod", "a"}});
  const Labels b = L({{"__name__", "cpu"}, {"pod", "b"}});
  for (int i = 0; i < 275; ++i) {
    auto app = db->NewAppender();
    EXPECT_NE(app.Add(a, kT0 + i * 1000, i * 1.5), 0u);
    EXPECT_NE(app.Add(b, kT0 + i * 1000, -i), 0u);
    auto r = app.Commit();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->accepted, 2u);
  }
  EXPECT_GE(db->Stats().chunks_sealed, 10u);
  Matcher m[] = {Eq("__name__", "cpu"), Eq("pod", "a")};
  auto sel = db->Select(m, kT0 + 10000, kT0 + 200000);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->size(), 1u);
  EXPECT_EQ((*sel)[0].labels, a);
  auto got = Samples((*sel)[0]);
  ASSERT_EQ(got.size(), 191u);
  EXPECT_EQ(got.front(), std::make_pair(kT0 + 10000, 15.0));
  EXPECT_EQ(got.back(), std::make_pair(kT0 + 200000, 300.0));
  // Seek within and across chunks.
  auto it = (*sel)[0].Iterate();
  ASSERT_TRUE(it->Seek(kT0 + 120500));
  EXPECT_EQ(it->t(), kT0 + 121000);
  ASSERT_TRUE(it->Seek(kT0 + 180000));
  EXPECT_EQ(it->v(), 270.0);
  EXPECT_FALSE(it->Seek(kT0 + 300000));

  Matcher all[] = {Eq("__name__", "cpu")};
  EXPECT_EQ(db->Select(all, kT0, kT0 + 1000000)->size(), 2u);
  EXPECT_EQ(db->LabelValues("pod"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(db->LabelNames(), (std::vector<std::string>{"__name__", "pod"}));
  Matcher empty[] = {Eq("pod", "")};
  EXPECT_FALSE(db->Select(empty, kT0, kT0 + 1).ok()) << "a selector matching everything";
}

TEST_F(DbTest, SelectReadsOnlyChunksThatOverlapTheWindow) {
  DbOptions o = Options();
  o.chunk_samples = 20;
  o.partition = std::chrono::minutes(1);
  auto db = Open(o);
  // Matching series ("m") interleaved with others, and one run of many others, so that Select
  // both steps and seeks between the matching series' chunks.
  std::vector<Labels> series;
  for (int k = 0; k < 12; ++k) {
    std::string pod = "p" + std::to_string(k);
    series.push_back(L({{"__name__", "m"}, {"pod", pod.c_str()}}));
    int others = k == 5 ? 6 : 1;
    for (int j = 0; j < others; ++j) {
      std::string other = pod + "-" + std::to_string(j);
      series.push_back(L({{"__name__", "other"}, {"pod", other.c_str()}}));
    }
  }
  constexpr int kSamples = 400;
  for (int i = 0; i < kSamples; ++i) {
    auto app = db->NewAppender();
    for (size_t k = 0; k < series.size(); ++k) {
      EXPECT_NE(app.Add(series[k], kT0 + i * 1000, static_cast<double>(k * 1000 + i)), 0u);
    }
    ASSERT_TRUE(app.Commit().ok());
  }
  Matcher m[] = {Eq("__name__", "m")};
  const std::pair<int64_t, int64_t> windows[] = {
      {kT0, kT0 + (kSamples - 1) * 1000}, {kT0 + 100000, kT0 + 100000},
      {kT0 + 137500, kT0 + 199000},       {kT0 + 250000, kT0 + 600000},
      {kT0 - 5000, kT0 + 3000},           {kT0 + 398000, kT0 + 1000000}};
  for (auto [mint, maxt] : windows) {
    auto sel = db->Select(m, mint, maxt);
    ASSERT_TRUE(sel.ok());
    ASSERT_EQ(sel->size(), 12u);
    for (const SeriesData& d : *sel) {
      const size_t k =
          static_cast<size_t>(std::find(series.begin(), series.end(), d.labels) - series.begin());
      ASSERT_LT(k, series.size());
      std::vector<std::pair<int64_t, double>> want;
      for (int i = 0; i < kSamples; ++i) {
        int64_t t = kT0 + i * 1000;
        if (t >= mint && t <= maxt) want.emplace_back(t, static_cast<double>(k * 1000 + i));
      }
      EXPECT_EQ(Samples(d), want) << "window " << mint - kT0 << ".." << maxt - kT0;
    }
  }
  // An instant in the middle of the data lies in exactly one sealed chunk; the partition's
  // earlier chunks are not read.
  for (int64_t t : {kT0 + 100000, kT0 + 159000, kT0 + 230000}) {
    auto sel = db->Select(m, t, t);
    ASSERT_TRUE(sel.ok());
    ASSERT_EQ(sel->size(), 12u);
    for (const SeriesData& d : *sel) {
      EXPECT_EQ(d.chunks.size(), 1u) << "at " << t - kT0;
      EXPECT_EQ(Samples(d).size(), 1u);
    }
  }
}

TEST_F(DbTest, RejectsSelectorsThatMatchEverything) {
  auto db = Open(Options());
  Matcher m[] = {*Matcher::Create(MatchType::kRegexMatch, "pod", ".*")};
  auto sel = db->Select(m, 0, 1);
  ASSERT_FALSE(sel.ok());
  EXPECT_EQ(sel.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(DbTest, CountsOutOfOrderDuplicateAndTooOldSamples) {
  auto db = Open(Options());
  const Labels a = L({{"__name__", "x"}});
  auto app = db->NewAppender();
  app.Add(a, kT0 + 10 * 3600 * 1000, 1);
  ASSERT_TRUE(app.Commit().ok());
  app.Add(a, kT0 + 10 * 3600 * 1000, 1);      // identical duplicate: dropped silently
  app.Add(a, kT0 + 10 * 3600 * 1000, 2);      // same timestamp, other value
  app.Add(a, kT0 + 10 * 3600 * 1000 - 1, 3);  // out of order
  app.Add(L({{"__name__", "y"}}), kT0, 4);    // 10 h before the newest sample: too old
  auto r = app.Commit();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted, 0u);
  EXPECT_EQ(r->duplicates, 1u);
  EXPECT_EQ(r->out_of_order, 1u);
  EXPECT_EQ(r->too_old, 1u);
  DbStats st = db->Stats();
  EXPECT_EQ(st.duplicates, 1u);
  EXPECT_EQ(st.out_of_order, 1u);
  EXPECT_EQ(st.too_old, 1u);
  // The too-old sample's series was never created: no empty series in the index.
  EXPECT_EQ(db->LabelValues("__name__"), std::vector<std::string>{"x"});
  EXPECT_EQ(db->Stats().series, 1u);
}

TEST_F(DbTest, CapsActiveSeriesAndKeepsExistingOnesWorking) {
  DbOptions o = Options();
  o.max_series = 3;
  auto db = Open(o);
  auto app = db->NewAppender();
  for (int i = 0; i < 5; ++i) {
    std::string v = std::to_string(i);
    SeriesRef ref = app.Add(L({{"__name__", "x"}, {"i", v.c_str()}}), kT0, i);
    EXPECT_EQ(ref == 0, i >= 3) << i;
  }
  auto r = app.Commit();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted, 3u);
  EXPECT_EQ(r->refused, 2u);
  EXPECT_EQ(db->Stats().series_refused, 2u);
  EXPECT_NE(app.Add(L({{"__name__", "x"}, {"i", "0"}}), kT0 + 1000, 9), 0u);
  EXPECT_EQ(app.Commit()->accepted, 1u);
}

TEST_F(DbTest, EmptyLabelValuesDoNotMakeNewSeries) {
  auto db = Open(Options());
  auto app = db->NewAppender();
  SeriesRef a = app.Add({{"__name__", "x"}, {"image", ""}, {"id", "/a"}}, kT0, 1);
  SeriesRef b = app.Add({{"__name__", "x"}, {"id", "/a"}}, kT0 + 1000, 2);
  EXPECT_EQ(a, b);
  ASSERT_TRUE(app.Commit().ok());
  EXPECT_EQ(db->Stats().series, 1u);
}

TEST_F(DbTest, KeepsEverySpecialValueBitExact) {
  auto db = Open(Options());
  const double values[] = {0.0,
                           -0.0,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           StaleNaN(),
                           std::numeric_limits<double>::quiet_NaN(),
                           1e-310,
                           123456789.123};
  auto app = db->NewAppender();
  for (size_t i = 0; i < std::size(values); ++i)
    app.Add(L({{"__name__", "x"}}), kT0 + i, values[i]);
  ASSERT_TRUE(app.Commit().ok());
  db.reset();
  db = Open(Options());
  Matcher m[] = {Eq("__name__", "x")};
  auto sel = db->Select(m, kT0, kT0 + 100);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->size(), 1u);
  auto got = Samples((*sel)[0]);
  ASSERT_EQ(got.size(), std::size(values));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::memcmp(&got[i].second, &values[i], 8), 0) << i;
  }
  EXPECT_TRUE(IsStaleNaN(got[4].second));
}

TEST_F(DbTest, ReopenRestoresSeriesChunksAndHead) {
  DbOptions o = Options();
  o.chunk_samples = 30;
  {
    auto db = Open(o);
    for (int i = 0; i < 100; ++i) {
      auto app = db->NewAppender();
      app.Add(L({{"__name__", "m"}, {"c", "1"}}), kT0 + i * 1000, i);
      ASSERT_TRUE(app.Commit().ok());
    }
  }
  auto db = Open(o);
  EXPECT_EQ(db->Stats().series, 1u);
  Matcher m[] = {Eq("__name__", "m")};
  auto sel = db->Select(m, 0, kT0 * 2);
  ASSERT_EQ(sel->size(), 1u);
  auto got = Samples((*sel)[0]);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[99].second, 99);
  // Appending continues after the restored head.
  auto app = db->NewAppender();
  app.Add(L({{"__name__", "m"}, {"c", "1"}}), kT0 + 99 * 1000, 5);  // duplicate ts
  app.Add(L({{"__name__", "m"}, {"c", "1"}}), kT0 + 100 * 1000, 100);
  auto r = app.Commit();
  EXPECT_EQ(r->accepted, 1u);
  EXPECT_EQ(r->duplicates, 1u);
  std::vector<std::string> problems;
  auto n = db->Verify(&problems);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 101u);
  EXPECT_TRUE(problems.empty()) << problems[0];
}

TEST_F(DbTest, CheckpointTruncatesTheLogAndRestoresExactly) {
  DbOptions o = Options();
  o.checkpoint_log_bytes = 4096;  // Checkpoint often.
  std::mt19937_64 rng(7);
  std::vector<std::vector<std::pair<int64_t, double>>> want(20);
  {
    auto db = Open(o);
    for (int i = 0; i < 500; ++i) {
      auto app = db->NewAppender();
      for (int s = 0; s < 20; ++s) {
        if (rng() % 3 == 0) continue;
        double v = static_cast<double>(rng() % 1000) / 8;
        std::string sv = std::to_string(s);
        app.Add(L({{"__name__", "r"}, {"s", sv.c_str()}}), kT0 + i * 1000, v);
        want[s].emplace_back(kT0 + i * 1000, v);
      }
      ASSERT_TRUE(app.Commit().ok());
    }
    EXPECT_LT(db->Stats().log_bytes, 4096u + 512);
  }
  auto db = Open(o);
  for (int s = 0; s < 20; ++s) {
    std::string sv = std::to_string(s);
    Matcher m[] = {Eq("__name__", "r"), Eq("s", sv.c_str())};
    auto sel = db->Select(m, 0, kT0 * 2);
    ASSERT_EQ(sel->size(), 1u);
    EXPECT_EQ(Samples((*sel)[0]), want[s]) << s;
  }
}

TEST_F(DbTest, RetentionDropsOldPartitionsAndSeries) {
  DbOptions o = Options();
  o.retention = std::chrono::hours(6);
  o.out_of_bounds = std::chrono::hours(100);
  auto db = Open(o);
  // "old" has data 0-2 h after kT0 only; "live" continues to 12 h.
  for (int h = 0; h < 12; ++h) {
    auto app = db->NewAppender();
    for (int m = 0; m < 60; ++m) {
      int64_t t = kT0 + (h * 60 + m) * 60000LL;
      if (h < 2) app.Add(L({{"__name__", "old"}}), t, m);
      app.Add(L({{"__name__", "live"}}), t, m);
    }
    ASSERT_TRUE(app.Commit().ok());
  }
  clock_.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(kT0)) +
             std::chrono::hours(12));
  ASSERT_TRUE(db->ApplyRetention().ok());
  EXPECT_GE(db->Stats().partitions_deleted, 2u);
  Matcher old_m[] = {Eq("__name__", "old")};
  EXPECT_TRUE(db->Select(old_m, 0, kT0 * 2)->empty());
  EXPECT_EQ(db->Stats().series, 1u);
  Matcher live_m[] = {Eq("__name__", "live")};
  auto sel = db->Select(live_m, 0, kT0 * 2);
  ASSERT_EQ(sel->size(), 1u);
  auto got = Samples((*sel)[0]);
  ASSERT_FALSE(got.empty());
  EXPECT_GE(got.front().first, kT0 + 4 * 3600 * 1000LL) << "data older than the kept partitions";
  EXPECT_EQ(got.back().first, kT0 + (11 * 60 + 59) * 60000LL);
}

TEST_F(DbTest, SizeRetentionDropsOldestPartitionsFirst) {
  DbOptions o = Options();
  o.retention = std::chrono::hours(24 * 365);
  o.out_of_bounds = std::chrono::hours(24 * 365);
  o.partition = std::chrono::hours(1);
  std::mt19937_64 rng(3);
  auto db = Open(o);
  // 6 hours of incompressible values for 200 series: several MiB over 6 partitions.
  for (int m = 0; m < 6 * 60; ++m) {
    auto app = db->NewAppender();
    for (int s = 0; s < 200; ++s) {
      std::string sv = std::to_string(s);
      double v;
      uint64_t bits = rng() >> 2;
      std::memcpy(&v, &bits, 8);
      app.Add(L({{"__name__", "noise"}, {"s", sv.c_str()}}), kT0 + m * 60000LL, v);
    }
    ASSERT_TRUE(app.Commit().ok());
  }
  ASSERT_TRUE(db->Compact().ok());
  const uint64_t full = db->DiskBytes();
  db.reset();
  o.retention_bytes = full / 2;
  db = Open(o);
  clock_.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(kT0)) +
             std::chrono::hours(6));
  ASSERT_TRUE(db->ApplyRetention().ok());
  EXPECT_LE(db->DiskBytes(), o.retention_bytes);
  EXPECT_GE(db->Stats().partitions_deleted, 1u);
  Matcher m[] = {Eq("s", "7")};
  auto sel = db->Select(m, 0, kT0 * 2);
  ASSERT_EQ(sel->size(), 1u);
  auto got = Samples((*sel)[0]);
  ASSERT_FALSE(got.empty());
  EXPECT_GT(got.front().first, kT0) << "the oldest data went first";
  EXPECT_EQ(got.back().first, kT0 + (6 * 60 - 1) * 60000LL) << "the newest data stays";
}

// Series created in one commit do not all seal their first chunk in the same commit, and every
// sample is still there, in order, afterwards.
TEST_F(DbTest, FirstChunksOfSeriesCreatedTogetherSealOverSeveralCommits) {
  DbOptions o = Options();
  o.chunk_samples = 40;
  auto db = Open(o);
  constexpr int kSeries = 200, kCommits = 90;
  uint64_t most_in_one_commit = 0, prev = 0;
  std::vector<uint64_t> sealed_after;
  for (int i = 0; i < kCommits; ++i) {
    auto app = db->NewAppender();
    for (int s = 0; s < kSeries; ++s) {
      std::string sv = std::to_string(s);
      app.Add(L({{"__name__", "spread"}, {"s", sv.c_str()}}), kT0 + i * 1000, i + s);
    }
    ASSERT_TRUE(app.Commit().ok());
    const uint64_t sealed = db->Stats().chunks_sealed;
    most_in_one_commit = std::max(most_in_one_commit, sealed - prev);
    prev = sealed;
    sealed_after.push_back(sealed);
  }
  // First chunks hold between 21 and 40 samples: none sealed before the 22nd commit, all by the
  // 41st, and no commit seals more than a quarter of them.
  EXPECT_EQ(sealed_after[20], 0u);
  EXPECT_EQ(sealed_after[40], static_cast<uint64_t>(kSeries));
  EXPECT_LE(most_in_one_commit, static_cast<uint64_t>(kSeries / 4));
  // Later chunks hold chunk_samples each: the second round of seals is spread the same way.
  EXPECT_GT(sealed_after[kCommits - 1], static_cast<uint64_t>(kSeries));
  Matcher m[] = {Eq("__name__", "spread")};
  auto sel = db->Select(m, 0, kT0 * 2);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->size(), static_cast<size_t>(kSeries));
  for (const SeriesData& sd : *sel) {
    auto got = Samples(sd);
    ASSERT_EQ(got.size(), static_cast<size_t>(kCommits));
    for (int i = 0; i < kCommits; ++i) EXPECT_EQ(got[i].first, kT0 + i * 1000);
  }
}

// A head much larger than one write batch piece is checkpointed in several writes and restored
// whole, together with the chunks sealed before the checkpoint.
TEST_F(DbTest, LargeHeadCheckpointsInPiecesAndRestores) {
  DbOptions o = Options();
  o.chunk_samples = 120;
  constexpr int kSeries = 4000, kCommits = 150;
  {
    auto db = Open(o);
    for (int i = 0; i < kCommits; ++i) {
      auto app = db->NewAppender();
      for (int s = 0; s < kSeries; ++s) {
        std::string sv = std::to_string(s);
        // Values that change every sample so that each open chunk holds hundreds of bytes.
        app.Add(L({{"__name__", "big"}, {"s", sv.c_str()}}), kT0 + i * 1000,
                std::sin(i * 0.37 + s) * 1e6);
      }
      ASSERT_TRUE(app.Commit().ok());
    }
    DbStats st = db->Stats();
    EXPECT_GT(st.head_chunk_bytes, uint64_t{1} << 20) << "the head needs several pieces";
    EXPECT_GT(st.memtable_bytes, 0u);
    ASSERT_TRUE(db->Checkpoint().ok());
    EXPECT_EQ(db->Stats().log_bytes, 0u);
  }
  auto db = Open(o);
  EXPECT_EQ(db->Stats().replayed_samples, 0u) << "the checkpoint held the whole head";
  Matcher m[] = {Eq("__name__", "big")};
  auto sel = db->Select(m, 0, kT0 * 2);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->size(), static_cast<size_t>(kSeries));
  for (const SeriesData& sd : *sel) {
    auto got = Samples(sd);
    ASSERT_EQ(got.size(), static_cast<size_t>(kCommits)) << sd.labels[1].value;
    const int s = std::stoi(sd.labels[1].value);
    EXPECT_EQ(got.back().second, std::sin((kCommits - 1) * 0.37 + s) * 1e6);
  }
}

// The store reports its memory: memtables after writes, the head's open chunks while they hold
// samples, and less head memory once Compact() has sealed them.
TEST_F(DbTest, ReportsMemoryOfMemtablesAndHead) {
  auto db = Open(Options());
  for (int i = 0; i < 50; ++i) {
    auto app = db->NewAppender();
    for (int s = 0; s < 100; ++s) {
      std::string sv = std::to_string(s);
      app.Add(L({{"__name__", "mem"}, {"s", sv.c_str()}}), kT0 + i * 1000, i * 1.25 + s);
    }
    ASSERT_TRUE(app.Commit().ok());
  }
  DbStats before = db->Stats();
  EXPECT_GT(before.memtable_bytes, 0u);
  EXPECT_GT(before.head_chunk_bytes, 100u * 50u) << "at least a byte per sample";
  ASSERT_TRUE(db->Compact().ok());
  DbStats after = db->Stats();
  EXPECT_LT(after.head_chunk_bytes, before.head_chunk_bytes);
  Matcher m[] = {Eq("__name__", "mem")};
  auto sel = db->Select(m, 0, kT0 * 2);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->size(), 100u);
  EXPECT_GT(db->Stats().block_cache_bytes, 0u) << "the query read blocks through the cache";
}

// Appenders on different series run concurrently (striped head locks) next to queries and
// checkpoints; every sample must be there, in order, before and after a reopen.
TEST_F(DbTest, ConcurrentAppendersQueriesAndCheckpoints) {
  DbOptions o = Options();
  o.chunk_samples = 40;
  o.checkpoint_log_bytes = 64 << 10;
  auto db = Open(o);
  constexpr int kThreads = 4, kSeries = 300, kScrapes = 200;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> queried{0};
  std::thread reader([&] {
    Matcher m[] = {Eq("__name__", "conc")};
    while (!done) {
      auto sel = db->Select(m, 0, kT0 * 2);
      ASSERT_TRUE(sel.ok());
      for (const auto& sd : *sel) {
        auto it = sd.Iterate();
        int64_t prev = -1;
        while (it->Next()) {
          ASSERT_GT(it->t(), prev);
          prev = it->t();
          ++queried;
        }
        ASSERT_TRUE(it->status().ok()) << it->status().ToString();
      }
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kThreads; ++w) {
    writers.emplace_back([&, w] {
      std::vector<SeriesRef> refs(kSeries, 0);
      for (int i = 0; i < kScrapes; ++i) {
        auto app = db->NewAppender();
        for (int s = 0; s < kSeries; ++s) {
          if (refs[s] == 0) {
            std::string ws = std::to_string(w), ss = std::to_string(s);
            refs[s] = app.Add(L({{"__name__", "conc"}, {"w", ws.c_str()}, {"s", ss.c_str()}}),
                              kT0 + i * 1000, i + s);
          } else {
            app.AddRef(refs[s], kT0 + i * 1000, i + s);
          }
        }
        auto r = app.Commit();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ASSERT_EQ(r->accepted, static_cast<uint64_t>(kSeries));
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_GT(queried.load(), 0u);
  auto check = [&](Db& d) {
    Matcher m[] = {Eq("__name__", "conc")};
    auto sel = d.Select(m, 0, kT0 * 2);
    ASSERT_TRUE(sel.ok());
    ASSERT_EQ(sel->size(), static_cast<size_t>(kThreads * kSeries));
    for (const auto& sd : *sel) {
      ASSERT_EQ(sd.labels[1].name, "s");
      int s = std::stoi(std::string(sd.labels[1].value));
      auto got = Samples(sd);
      ASSERT_EQ(got.size(), static_cast<size_t>(kScrapes));
      for (int i = 0; i < kScrapes; ++i) {
        ASSERT_EQ(got[i], std::make_pair(kT0 + i * 1000, static_cast<double>(i + s)));
      }
    }
  };
  check(*db);
  db.reset();
  db = Open(o);
  check(*db);
  std::vector<std::string> problems;
  ASSERT_TRUE(db->Verify(&problems).ok());
  EXPECT_TRUE(problems.empty()) << problems[0];
}

// A child process appends acknowledged batches and reports each acknowledgement on a pipe; the
// parent kill -9s it at a random point, reopens the store and checks every acknowledged sample.
TEST(SeriesDataTest, OverlappingChunksReadStrictlyIncreasingAndOnce) {
  // After a crash a stored chunk and the restored head can hold the same samples.
  auto chunk = [](int64_t from, int64_t to) {
    encoding::XorAppender a;
    for (int64_t t = from; t <= to; ++t)
      EXPECT_TRUE(a.Append(t * 1000, static_cast<double>(t)).ok());
    std::string c(1, static_cast<char>(encoding::ChunkEncoding::kXor));
    c.append(a.bytes());
    return c;
  };
  SeriesData d;
  d.chunks = {chunk(1, 5), chunk(1, 8), chunk(7, 10)};
  d.mint = 0;
  d.maxt = 100000;
  std::vector<int64_t> got;
  for (auto it = d.Iterate(); it->Next();) got.push_back(it->t() / 1000);
  EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  auto it = d.Iterate();
  ASSERT_TRUE(it->Seek(4000));
  EXPECT_EQ(it->t(), 4000);
  ASSERT_TRUE(it->Seek(6000));
  EXPECT_EQ(it->t(), 6000);
  std::vector<int64_t> rest;
  while (it->Next()) rest.push_back(it->t() / 1000);
  EXPECT_EQ(rest, (std::vector<int64_t>{7, 8, 9, 10}));
}

TEST_F(DbTest, AcknowledgedSamplesSurviveKill9) {
  std::mt19937_64 rng(42);
  DbOptions o = Options();
  o.chunk_samples = 64;
  o.checkpoint_log_bytes = 256 << 10;
  int64_t acked_ts = -1;  // Highest acknowledged round; each round writes 50 series.
  for (int round = 0; round < 20; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto db = Db::Open(o, clock_);
      if (!db.ok()) _exit(3);
      for (int64_t i = acked_ts + 1;; ++i) {
        auto app = (*db)->NewAppender();
        for (int s = 0; s < 50; ++s) {
          std::string sv = std::to_string(s);
          app.Add(L({{"__name__", "crash"}, {"s", sv.c_str()}}), kT0 + i * 1000, i * 0.5 + s);
        }
        if (!app.Commit().ok()) _exit(4);
        if (::write(fds[1], &i, sizeof(i)) != sizeof(i)) _exit(5);
      }
    }
    ::close(fds[1]);
    // Kill at a random moment after the first acknowledgement (opening the store takes a
    // while on a loaded machine; a kill before it would test nothing).
    int64_t i;
    if (::read(fds[0], &i, sizeof(i)) == sizeof(i)) acked_ts = std::max(acked_ts, i);
    ::usleep(static_cast<useconds_t>(rng() % 200000));
    ::kill(pid, SIGKILL);
    while (::read(fds[0], &i, sizeof(i)) == sizeof(i)) acked_ts = std::max(acked_ts, i);
    ::close(fds[0]);
    int status;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself with " << WEXITSTATUS(status);
    ASSERT_GT(acked_ts, 0) << "child acknowledged nothing";

    auto db = Open(o);
    ASSERT_NE(db, nullptr);
    for (int s = 0; s < 50; s += 7) {
      std::string sv = std::to_string(s);
      Matcher m[] = {Eq("__name__", "crash"), Eq("s", sv.c_str())};
      auto sel = db->Select(m, 0, kT0 * 2);
      ASSERT_EQ(sel->size(), 1u);
      auto got = Samples((*sel)[0]);
      ASSERT_GE(got.size(), static_cast<size_t>(acked_ts + 1)) << "round " << round;
      for (int64_t k = 0; k <= acked_ts; ++k) {
        ASSERT_EQ(got[k], std::make_pair(kT0 + k * 1000, k * 0.5 + s)) << "round " << round;
      }
    }
    std::vector<std::string> problems;
    ASSERT_TRUE(db->Verify(&problems).ok());
    EXPECT_TRUE(problems.empty()) << problems[0];
    // Continue after whatever the killed child wrote beyond the last acknowledgement.
    auto sel = db->Select(std::vector<Matcher>{Eq("s", "0")}, 0, kT0 * 2);
    acked_ts = static_cast<int64_t>(Samples((*sel)[0]).size()) - 1;
  }
}

TEST_F(DbTest, DamagedStoreGivesAClearErrorNotACrash) {
  DbOptions o = Options();
  {
    auto db = Open(o);
    auto app = db->NewAppender();
    for (int i = 0; i < 1000; ++i) app.Add(L({{"__name__", "x"}}), kT0 + i, i);
    ASSERT_TRUE(app.Commit().ok());
  }
  // Truncate every MANIFEST: RocksDB cannot open the store.
  for (auto& e : std::filesystem::directory_iterator(o.dir)) {
    if (e.path().filename().string().starts_with("MANIFEST")) {
      std::filesystem::resize_file(e.path(), 10);
    }
  }
  auto db = Db::Open(o, clock_);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find(o.dir), std::string::npos) << db.status().ToString();
  EXPECT_NE(db.status().message().find("tidemark tsdb verify"), std::string::npos)
      << db.status().ToString();
}

// Disk full on a small tmpfs: appends fail with a clear error and a counter, queries keep
// working, nothing stored is damaged, and appends resume once space returns.
TEST(DbDiskFullPrivilegedTest, RefusesAppendsWhenFullAndResumes) {
  std::string reason = tidemark::testing::PrivilegedSkipReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  TempDir dir;
  std::string mnt = dir.path() + "/mnt";
  std::filesystem::create_directories(mnt);
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=48m"), 0) << strerror(errno);
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  FakeClock clock;
  DbOptions o;
  o.dir = mnt + "/db";
  o.min_free_bytes = 8 << 20;
  auto db = Db::Open(o, clock);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  const Labels a = L({{"__name__", "x"}});
  int64_t i = 0;
  for (; i < 100; ++i) {
    auto app = (*db)->NewAppender();
    app.Add(a, kT0 + i * 1000, i);
    ASSERT_TRUE(app.Commit().ok());
  }
  // Fill the disk to below min_free_bytes.
  std::string filler = mnt + "/filler";
  {
    std::ofstream f(filler, std::ios::binary);
    std::string block(1 << 20, 'x');
    struct statvfs fs;
    while (::statvfs(mnt.c_str(), &fs) == 0 &&
           static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize > (4u << 20) &&
           f.write(block.data(), block.size())) {
    }
  }
  auto app = (*db)->NewAppender();
  app.Add(a, kT0 + i * 1000, i);
  auto r = app.Commit();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("min_free_bytes"), std::string::npos);
  EXPECT_GE((*db)->Stats().commits_refused_disk, 1u);
  Matcher m[] = {*Matcher::Create(MatchType::kEqual, "__name__", "x")};
  auto sel = (*db)->Select(m, 0, kT0 * 2);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(Samples((*sel)[0]).size(), 100u);
  std::filesystem::remove(filler);
  app.Add(a, kT0 + i * 1000, i);
  r = app.Commit();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->accepted, 1u);
  db->reset();
  auto again = Db::Open(o, clock);
  ASSERT_TRUE(again.ok());
  sel = (*again)->Select(m, 0, kT0 * 2);
  EXPECT_EQ(Samples((*sel)[0]).size(), 101u);
}

}  // namespace
}  // namespace tidemark::tsdb
