#include "tsdb/index.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tidemark::tsdb {
namespace {

constexpr MatchType kEq = MatchType::kEqual;
constexpr MatchType kNeq = MatchType::kNotEqual;
constexpr MatchType kRe = MatchType::kRegexMatch;
constexpr MatchType kNre = MatchType::kRegexNoMatch;

Matcher M(MatchType type, std::string name, std::string value) {
  Result<Matcher> m = Matcher::Create(type, std::move(name), std::move(value));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

using Refs = std::vector<SeriesRef>;
using Strings = std::vector<std::string>;

class MemIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    index_.Add(1, {{"__name__", "up"}, {"instance", "x"}, {"job", "a"}});
    index_.Add(2, {{"__name__", "up"}, {"instance", "y"}, {"job", "b"}});
    index_.Add(3, {{"__name__", "up"}, {"env", "prod"}, {"instance", "z"}, {"job", "a"}});
    index_.Add(4, {{"__name__", "down"}, {"env", "dev"}, {"job", "b"}});
    // Unsorted, with an empty value (dropped: the same as absent).
    index_.Add(5, {{"job", ""}, {"instance", "x"}, {"__name__", "down"}});
  }

  Refs Select(std::vector<Matcher> ms) const { return index_.Select(ms); }

  MemIndex index_;
};

TEST_F(MemIndexTest, SelectsEachMatcherType) {
  EXPECT_EQ(Select({M(kEq, "job", "a")}), (Refs{1, 3}));
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kEq, "job", "b")}), (Refs{2}));
  EXPECT_EQ(Select({M(kEq, "job", "nope")}), Refs{});
  EXPECT_EQ(Select({M(kEq, "nope", "a")}), Refs{});
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kNeq, "job", "a")}), (Refs{2}));
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kNeq, "env", "prod")}), (Refs{1, 2}));
  EXPECT_EQ(Select({M(kRe, "job", "a|b")}), (Refs{1, 2, 3, 4}));
  EXPECT_EQ(Select({M(kRe, "instance", "[xz]")}), (Refs{1, 3, 5}));
  EXPECT_EQ(Select({M(kRe, "__name__", "u.*")}), (Refs{1, 2, 3}));
  EXPECT_EQ(Select({M(kRe, "__name__", "u")}), Refs{});  // anchored
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kNre, "instance", "x|y")}), (Refs{3}));
  EXPECT_EQ(Select({M(kRe, "__name__", ".+"), M(kNre, "instance", "[xy]")}), (Refs{3, 4}));
  EXPECT_EQ(Select({M(kEq, "instance", "x"), M(kEq, "__name__", "down")}), (Refs{5}));
}

TEST_F(MemIndexTest, EmptyValueMatchersSelectSeriesLackingTheLabel) {
  EXPECT_EQ(Select({M(kEq, "__name__", "down"), M(kEq, "job", "")}), (Refs{5}));
  EXPECT_EQ(Select({M(kEq, "__name__", "down"), M(kNeq, "job", "")}), (Refs{4}));
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kRe, "env", ".*")}), (Refs{1, 2, 3}));
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kRe, "env", ".+")}), (Refs{3}));
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kRe, "env", "prod|")}), (Refs{1, 2, 3}));
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kRe, "env", "dev|")}), (Refs{1, 2}));
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kNre, "env", "prod|")}), Refs{});
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kNre, "env", ".*")}), Refs{});
  EXPECT_EQ(Select({M(kEq, "__name__", "up"), M(kNre, "env", ".+")}), (Refs{1, 2}));
  EXPECT_EQ(Select({M(kRe, "__name__", ".+"), M(kEq, "nope", "")}), (Refs{1, 2, 3, 4, 5}));
  EXPECT_EQ(Select({M(kRe, "__name__", ".+"), M(kNeq, "nope", "")}), Refs{});
  EXPECT_EQ(Select({M(kNeq, "env", "")}), (Refs{3, 4}));
  EXPECT_EQ(Select({M(kRe, "env", "d.*|")}), (Refs{1, 2, 4, 5}));
}

TEST_F(MemIndexTest, InvalidSelectorsStillSelect) {
  std::vector<Matcher> only_empty = {M(kEq, "env", ""), M(kRe, "job", ".*")};
  EXPECT_FALSE(MemIndex::SelectorIsValid(only_empty));
  EXPECT_EQ(index_.Select(only_empty), (Refs{1, 2, 5}));
  EXPECT_FALSE(MemIndex::SelectorIsValid({}));
  EXPECT_EQ(index_.Select({}), (Refs{1, 2, 3, 4, 5}));
  std::vector<Matcher> valid = {M(kEq, "env", ""), M(kRe, "job", ".+")};
  EXPECT_TRUE(MemIndex::SelectorIsValid(valid));
}

TEST_F(MemIndexTest, LabelNamesAndValues) {
  EXPECT_EQ(index_.LabelNames(), (Strings{"__name__", "env", "instance", "job"}));
  EXPECT_EQ(index_.LabelNames(std::vector<Matcher>{M(kEq, "__name__", "down")}),
            (Strings{"__name__", "env", "instance", "job"}));
  EXPECT_EQ(index_.LabelNames(std::vector<Matcher>{M(kEq, "instance", "x")}),
            (Strings{"__name__", "instance", "job"}));
  EXPECT_EQ(index_.LabelNames(std::vector<Matcher>{M(kEq, "job", "zzz")}), Strings{});

  EXPECT_EQ(index_.LabelValues("__name__"), (Strings{"down", "up"}));
  EXPECT_EQ(index_.LabelValues("job"), (Strings{"a", "b"}));
  EXPECT_EQ(index_.LabelValues("nope"), Strings{});
  EXPECT_EQ(index_.LabelValues("instance", std::vector<Matcher>{M(kEq, "job", "a")}),
            (Strings{"x", "z"}));
  EXPECT_EQ(index_.LabelValues("env", std::vector<Matcher>{M(kEq, "__name__", "up")}),
            (Strings{"prod"}));
  EXPECT_EQ(index_.LabelValues("env", std::vector<Matcher>{M(kEq, "instance", "y")}), Strings{});
}

TEST_F(MemIndexTest, GetLabelsReturnsSortedCopies) {
  std::optional<Labels> l = index_.GetLabels(5);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(*l, (Labels{{"__name__", "down"}, {"instance", "x"}}));
  EXPECT_FALSE(index_.GetLabels(99).has_value());
  std::vector<Labels> batch = index_.GetLabels(Refs{4, 99});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0], (Labels{{"__name__", "down"}, {"env", "dev"}, {"job", "b"}}));
  EXPECT_TRUE(batch[1].empty());
}

TEST_F(MemIndexTest, AddingAnExistingRefKeepsItsLabels) {
  index_.Add(1, {{"__name__", "other"}});
  EXPECT_EQ(index_.NumSeries(), 5u);
  EXPECT_EQ(Select({M(kEq, "__name__", "other")}), Refs{});
  EXPECT_EQ(Select({M(kEq, "job", "a")}), (Refs{1, 3}));
}

TEST_F(MemIndexTest, RemoveDropsSeriesPostingsAndUnusedStrings) {
  index_.Remove(3);
  EXPECT_EQ(index_.NumSeries(), 4u);
  EXPECT_EQ(Select({M(kEq, "job", "a")}), (Refs{1}));
  EXPECT_EQ(Select({M(kRe, "env", ".+")}), (Refs{4}));
  EXPECT_EQ(index_.LabelValues("env"), (Strings{"dev"}));
  EXPECT_EQ(index_.LabelValues("instance"), (Strings{"x", "y"}));
  EXPECT_FALSE(index_.GetLabels(3).has_value());

  index_.Remove(Refs{4, 4, 77, 2});  // duplicates and unknown refs are ignored
  EXPECT_EQ(index_.NumSeries(), 2u);
  EXPECT_EQ(index_.LabelNames(), (Strings{"__name__", "instance", "job"}));
  EXPECT_EQ(Select({M(kRe, "__name__", ".+")}), (Refs{1, 5}));

  // Freed strings are reused and the index still answers correctly.
  index_.Add(10, {{"__name__", "new"}, {"env", "prod"}, {"zone", "z1"}});
  EXPECT_EQ(Select({M(kEq, "env", "prod")}), (Refs{10}));
  EXPECT_EQ(index_.LabelValues("__name__"), (Strings{"down", "new", "up"}));
  EXPECT_EQ(*index_.GetLabels(10), (Labels{{"__name__", "new"}, {"env", "prod"}, {"zone", "z1"}}));

  index_.Remove(Refs{1, 5, 10});
  EXPECT_EQ(index_.NumSeries(), 0u);
  EXPECT_EQ(index_.LabelNames(), Strings{});
  EXPECT_EQ(index_.Select({}), Refs{});
}

TEST_F(MemIndexTest, RefsAddedOutOfOrderStaySorted) {
  index_.Add(0, {{"__name__", "up"}, {"job", "a"}});
  index_.Add(2'000'000'000'000ULL, {{"__name__", "up"}, {"job", "a"}});
  EXPECT_EQ(Select({M(kEq, "job", "a")}), (Refs{0, 1, 3, 2'000'000'000'000ULL}));
  EXPECT_EQ(Select({M(kEq, "__name__", "up")}), (Refs{0, 1, 2, 3, 2'000'000'000'000ULL}));
}

// Random label sets and random matcher sets; Select, LabelNames and LabelValues must agree with
// a brute-force scan, before and after removing a third of the series.
TEST(MemIndexRandomTest, SelectAgreesWithBruteForce) {
  std::mt19937 rng(42);
  const Strings names = {"__name__", "a", "b", "c", "d"};
  const std::vector<int> cardinality = {20, 3, 10, 200, 5000};
  auto value = [&](size_t name, int k) { return names[name] + "v" + std::to_string(k); };

  MemIndex index;
  std::vector<std::pair<SeriesRef, Labels>> truth;
  for (SeriesRef ref = 1; ref <= 10000; ++ref) {
    Labels ls;
    for (size_t n = 0; n < names.size(); ++n) {
      if (n > 0 && rng() % 4 == 0) continue;  // label absent
      std::uniform_int_distribution<int> d(0, cardinality[n] - 1);
      ls.push_back({names[n], value(n, d(rng))});
    }
    SeriesRef r = ref * 3;  // sparse refs
    index.Add(r, ls);
    truth.emplace_back(r, ls);
  }

  auto random_matcher = [&]() {
    size_t n = rng() % (names.size() + 1);
    std::string name = n == names.size() ? "zz" : names[n];
    size_t base = n == names.size() ? 1 : n;
    int card = cardinality[base];
    std::string v1 = value(base, rng() % card), v2 = value(base, rng() % card);
    std::string prefix = names[base] + "v" + std::to_string(rng() % 10);
    const Strings patterns = {v1,
                              "",
                              ".*",
                              ".+",
                              v1 + "|" + v2,
                              v1 + "|",
                              prefix + ".*",
                              ".*" + std::to_string(rng() % 10),
                              ".*v1.*",
                              prefix + "[0-4]",
                              "(?i)" + names[base] + "V" + std::to_string(rng() % 10),
                              "nomatch"};
    MatchType t = static_cast<MatchType>(rng() % 4);
    std::string p = patterns[rng() % patterns.size()];
    if (t == kEq || t == kNeq) p = rng() % 3 == 0 ? "" : v1;
    return M(t, name, p);
  };
  auto brute = [&](const std::vector<Matcher>& ms) {
    Refs out;
    for (const auto& [ref, ls] : truth) {
      bool ok = std::all_of(ms.begin(), ms.end(), [&](const Matcher& m) {
        auto it =
            std::find_if(ls.begin(), ls.end(), [&](const Label& l) { return l.name == m.name(); });
        return m.Matches(it == ls.end() ? "" : it->value);
      });
      if (ok) out.push_back(ref);
    }
    return out;
  };

  for (int round = 0; round < 2; ++round) {
    std::sort(truth.begin(), truth.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    size_t nonempty = 0;
    for (int i = 0; i < 1500; ++i) {
      std::vector<Matcher> ms;
      int k = 1 + static_cast<int>(rng() % 4);
      for (int j = 0; j < k; ++j) ms.push_back(random_matcher());
      Refs want = brute(ms);
      nonempty += !want.empty();
      std::string desc;
      for (const Matcher& m : ms) desc += m.ToString() + " ";
      ASSERT_EQ(index.Select(ms), want) << desc;
      if (i % 10 == 0) {
        std::set<std::string> want_names, want_values;
        for (SeriesRef r : want) {
          Labels ls = index.GetLabels(r).value();
          for (const Label& l : ls) {
            want_names.insert(l.name);
            if (l.name == "c") want_values.insert(l.value);
          }
        }
        EXPECT_EQ(index.LabelNames(ms), Strings(want_names.begin(), want_names.end())) << desc;
        EXPECT_EQ(index.LabelValues("c", ms), Strings(want_values.begin(), want_values.end()))
            << desc;
      }
    }
    EXPECT_GT(nonempty, 300u);  // the matchers are not all trivially empty
    // Remove a third of the series (batch) and check again.
    std::shuffle(truth.begin(), truth.end(), rng);
    Refs gone;
    for (size_t i = 0; i < truth.size() / 3; ++i) gone.push_back(truth[i].first);
    truth.erase(truth.begin(), truth.begin() + truth.size() / 3);
    index.Remove(gone);
    ASSERT_EQ(index.NumSeries(), truth.size());
  }
}

TEST(MemIndexConcurrencyTest, ReadersRunWhileAWriterAddsAndRemoves) {
  MemIndex index;
  constexpr SeriesRef kSeries = 20000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (SeriesRef r = 1; r <= kSeries; ++r) {
      index.Add(r, {{"__name__", "m" + std::to_string(r % 10)}, {"pod", "p" + std::to_string(r)}});
      if (r % 100 == 0) index.Remove(r - 50);
    }
    done = true;
  });
  std::vector<std::thread> readers;
  std::atomic<size_t> checks{0};
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::vector<Matcher> ms = {M(kEq, "__name__", "m" + std::to_string(t)), M(kRe, "pod", "p.*")};
      do {
        Refs got = index.Select(ms);
        EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
        for (size_t i = 0; i < got.size(); i += 97) {
          EXPECT_EQ(got[i] % 10, static_cast<SeriesRef>(t));
          std::optional<Labels> l = index.GetLabels(got[i]);  // may have been removed since
          if (l) {
            EXPECT_EQ((*l)[1].value, "p" + std::to_string(got[i]));
          }
        }
        (void)index.LabelValues("__name__");
        ++checks;
      } while (!done);
    });
  }
  writer.join();
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(index.NumSeries(), kSeries - kSeries / 100);
  EXPECT_GT(checks.load(), 0u);
}

// Series shaped like cAdvisor container metrics: 30 metric names × 3334 containers.
Labels ContainerSeries(int container, int metric) {
  char id[80];
  std::snprintf(id, sizeof(id), "%016x%016x%016x%016x", container * 2654435761u, container + 7u,
                container * 40503u, container ^ 0x5bd1e995u);
  return {{"__name__", "container_metric_" + std::to_string(metric) + "_total"},
          {"container", "c" + std::to_string(container % 4)},
          {"id", "/kubepods/burstable/pod" + std::to_string(container / 4) + "/" + id},
          {"image", "registry.example.com/team/app-" + std::to_string(container % 50) + ":1.2.3"},
          {"instance", "node-1.example.com:9100"},
          {"namespace", "ns-" + std::to_string(container % 20)},
          {"pod", "app-" + std::to_string(container / 4) + "-7d9f8c6b5-x2k4p"}};
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Prints memory and timing figures; asserts only the memory budget (timings vary by machine).
TEST(MemIndexBenchTest, ReportsMemoryAndSpeedFor100kContainerSeries) {
  constexpr int kMetrics = 30;
  constexpr int kContainers = 3334;
  std::vector<Labels> all;
  all.reserve(kMetrics * kContainers);
  for (int c = 0; c < kContainers; ++c) {
    for (int m = 0; m < kMetrics; ++m) all.push_back(ContainerSeries(c, m));
  }

  struct mallinfo2 before = mallinfo2();
  auto t0 = std::chrono::steady_clock::now();
  auto index = std::make_unique<MemIndex>();
  for (size_t i = 0; i < all.size(); ++i) index->Add(i + 1, all[i]);
  auto add_time = std::chrono::steady_clock::now() - t0;
  struct mallinfo2 after = mallinfo2();
  double bytes =
      static_cast<double>((after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd));
  double per_series = bytes / static_cast<double>(all.size());
  std::printf("[bench] %zu series: %.0f bytes/series (mallinfo2), Add %.0f series/s\n", all.size(),
              per_series, all.size() / Seconds(add_time));
  EXPECT_LT(per_series, 1024.0);
  ASSERT_EQ(index->NumSeries(), all.size());

  auto time_select = [&](const char* what, std::vector<Matcher> ms, int reps) {
    size_t n = 0;
    auto t = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) n = index->Select(ms).size();
    double us = Seconds(std::chrono::steady_clock::now() - t) / reps * 1e6;
    std::printf("[bench] Select %-52s %6zu series %9.1f us\n", what, n, us);
  };
  time_select("{pod=\"app-100-7d9f8c6b5-x2k4p\"}", {M(kEq, "pod", "app-100-7d9f8c6b5-x2k4p")},
              1000);
  time_select("{__name__=\"container_metric_3_total\"}",
              {M(kEq, "__name__", "container_metric_3_total")}, 1000);
  time_select("{__name__=\"…3_total\",namespace=\"ns-4\"}",
              {M(kEq, "__name__", "container_metric_3_total"), M(kEq, "namespace", "ns-4")}, 1000);
  time_select("{__name__=\"…3_total\",pod=~\"app-1.*\",container!=\"c0\"}",
              {M(kEq, "__name__", "container_metric_3_total"), M(kRe, "pod", "app-1.*"),
               M(kNeq, "container", "c0")},
              200);
  time_select("{__name__=\"…3_total\",id=~\".*pod1[0-9]/.*\"}",
              {M(kEq, "__name__", "container_metric_3_total"), M(kRe, "id", ".*pod1[0-9]/.*")},
              100);
  time_select("{namespace=~\"ns-1|ns-2\"}", {M(kRe, "namespace", "ns-1|ns-2")}, 100);
  time_select("{instance=~\".+\"} (every series)", {M(kRe, "instance", ".+")}, 20);

  t0 = std::chrono::steady_clock::now();
  Strings pods = index->LabelValues("pod");
  std::printf("[bench] LabelValues(pod) %zu values %.1f us\n", pods.size(),
              Seconds(std::chrono::steady_clock::now() - t0) * 1e6);

  Refs half;
  for (SeriesRef r = 1; r <= all.size(); r += 2) half.push_back(r);
  t0 = std::chrono::steady_clock::now();
  index->Remove(half);
  std::printf("[bench] Remove %zu series (batch) %.1f ms\n", half.size(),
              Seconds(std::chrono::steady_clock::now() - t0) * 1e3);
  EXPECT_EQ(index->NumSeries(), all.size() - half.size());
}

}  // namespace
}  // namespace tidemark::tsdb
