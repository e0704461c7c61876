#include "collector/cgroup_parsers.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace tidemark::collector {
namespace {

TEST(CgroupParsersTest, FlatKeyedVisitsEveryLine) {
  std::vector<std::pair<std::string, uint64_t>> seen;
  Status st = ForEachFlatKeyed("a 1\n\nb  22\nc\t3\n", [&](std::string_view k, uint64_t v) {
    seen.emplace_back(std::string(k), v);
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, uint64_t>>{{"a", 1}, {"b", 22}, {"c", 3}}));
}

TEST(CgroupParsersTest, FlatKeyedRejectsMalformedLines) {
  auto nop = [](std::string_view, uint64_t) {};
  for (const char* bad :
       {"a\n", "a 1 2\n", "a -1\n", "a x\n", "a 1.5\n", "a 99999999999999999999999\n"}) {
    EXPECT_EQ(ForEachFlatKeyed(bad, nop).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ForEachFlatKeyed("", nop).ok());
}

TEST(CgroupParsersTest, SingleValues) {
  EXPECT_EQ(*ParseUint("104857600\n"), 104857600u);
  EXPECT_EQ(*ParseUint("  7 "), 7u);
  EXPECT_EQ(ParseUint("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseUint("max\n").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseUint("12 13\n").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseInt("-1\n"), -1);
  EXPECT_EQ(*ParseInt("50000\n"), 50000);
  EXPECT_FALSE(ParseInt("--1").ok());
  EXPECT_EQ(*ParseUintOrMax("max\n"), std::nullopt);
  EXPECT_EQ(*ParseUintOrMax("4096\n"), std::optional<uint64_t>(4096));
  EXPECT_FALSE(ParseUintOrMax("maximum").ok());
}

TEST(CgroupParsersTest, CpuMax) {
  Result<CpuMax> limited = ParseCpuMax("200000 100000\n");
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->quota_us, std::optional<uint64_t>(200000));
  EXPECT_EQ(limited->period_us, 100000u);
  Result<CpuMax> unlimited = ParseCpuMax("max 100000\n");
  ASSERT_TRUE(unlimited.ok());
  EXPECT_FALSE(unlimited->quota_us.has_value());
  for (const char* bad : {"", "max", "max max", "1 2 3", "x 100000"}) {
    EXPECT_EQ(ParseCpuMax(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CgroupParsersTest, CpuStatV2) {
  Result<CpuStatV2> s = ParseCpuStatV2(
      "usage_usec 3500000\nuser_usec 2000000\nsystem_usec 1500000\nnice_usec 0\n"
      "core_sched.force_idle_usec 0\nnr_periods 300\nnr_throttled 12\nthrottled_usec 640000\n"
      "nr_bursts 0\nburst_usec 0\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->usage_usec, 3500000u);
  EXPECT_EQ(s->user_usec, 2000000u);
  EXPECT_EQ(s->system_usec, 1500000u);
  EXPECT_EQ(s->nr_periods, 300u);
  EXPECT_EQ(s->nr_throttled, 12u);
  EXPECT_EQ(s->throttled_usec, 640000u);
  // Without the cpu controller only the base stats appear.
  Result<CpuStatV2> base = ParseCpuStatV2("usage_usec 1\nuser_usec 1\nsystem_usec 0\n");
  ASSERT_TRUE(base.ok());
  EXPECT_FALSE(base->nr_periods.has_value());
  EXPECT_FALSE(ParseCpuStatV2("usage_usec\n").ok());
}

TEST(CgroupParsersTest, CpuStatV1AndCpuacctStat) {
  Result<CpuStatV1> s = ParseCpuStatV1(
      "nr_periods 120\nnr_throttled 7\nthrottled_time 1500000000\nnr_bursts 0\nburst_time 0\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->nr_periods, 120u);
  EXPECT_EQ(s->nr_throttled, 7u);
  EXPECT_EQ(s->throttled_time_ns, 1500000000u);
  Result<CpuacctStat> a = ParseCpuacctStat("user 150\nsystem 60\n");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->user_ticks, 150u);
  EXPECT_EQ(a->system_ticks, 60u);
  EXPECT_FALSE(ParseCpuacctStat("").ok());
  EXPECT_FALSE(ParseCpuacctStat("user -3\n").ok());
}

TEST(CgroupParsersTest, MemoryStatV1UsesHierarchicalTotals) {
  Result<MemoryStat> s = ParseMemoryStatV1(
      "cache 1\nrss 2\nmapped_file 3\ninactive_file 4\nswap 5\n"
      "hierarchical_memory_limit 9223372036854771712\n"
      "total_cache 100\ntotal_rss 200\ntotal_rss_huge 0\ntotal_mapped_file 300\n"
      "total_swap 500\ntotal_inactive_file 400\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->cache, 100u);
  EXPECT_EQ(s->rss, 200u);
  EXPECT_EQ(s->mapped_file, 300u);
  EXPECT_EQ(s->inactive_file, 400u);
  EXPECT_EQ(s->swap, 500u);
  Result<MemoryStat> no_swap = ParseMemoryStatV1("total_rss 1\n");
  ASSERT_TRUE(no_swap.ok());
  EXPECT_FALSE(no_swap->swap.has_value());
  EXPECT_FALSE(ParseMemoryStatV1("total_rss one\n").ok());
}

TEST(CgroupParsersTest, MemoryStatV2) {
  Result<MemoryStat> s = ParseMemoryStatV2(
      "anon 41943040\nfile 25165824\nkernel 1236992\nfile_mapped 2097152\n"
      "inactive_file 10485760\nactive_file 14680064\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rss, 41943040u);
  EXPECT_EQ(s->cache, 25165824u);
  EXPECT_EQ(s->mapped_file, 2097152u);
  EXPECT_EQ(s->inactive_file, 10485760u);
  EXPECT_FALSE(s->swap.has_value());
  EXPECT_FALSE(ParseMemoryStatV2("anon\n").ok());
}

TEST(CgroupParsersTest, MemoryEvents) {
  Result<MemoryEvents> e =
      ParseMemoryEvents("low 0\nhigh 4\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->low, 0u);
  EXPECT_EQ(e->high, 4u);
  EXPECT_EQ(e->max, 9u);
  EXPECT_EQ(e->oom, 2u);
  EXPECT_EQ(e->oom_kill, 1u);
  EXPECT_EQ(e->oom_group_kill, 0u);
  // Before kernel 4.13 there is no oom_kill line.
  Result<MemoryEvents> old = ParseMemoryEvents("low 0\nhigh 0\nmax 0\noom 0\n");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->oom_kill.has_value());
  EXPECT_FALSE(ParseMemoryEvents("oom_kill x\n").ok());
}

TEST(CgroupParsersTest, OomControl) {
  Result<OomControl> o = ParseOomControl("oom_kill_disable 0\nunder_oom 1\noom_kill 3\n");
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->oom_kill_disable);
  EXPECT_TRUE(o->under_oom);
  EXPECT_EQ(o->oom_kill, 3u);
  Result<OomControl> old = ParseOomControl("oom_kill_disable 1\nunder_oom 0\n");
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->oom_kill_disable);
  EXPECT_FALSE(old->oom_kill.has_value());
  EXPECT_FALSE(ParseOomControl("").ok());
  EXPECT_FALSE(ParseOomControl("oom_kill_disable\n").ok());
}

TEST(CgroupParsersTest, IoStat) {
  std::vector<IoDeviceStat> out = {IoDeviceStat{1, 1}};  // Replaced, not appended to.
  Status st = ParseIoStat(
      "8:0 rbytes=1048576 wbytes=2097152 rios=30 wios=40 dbytes=0 dios=0\n"
      "253:0 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0 cost.vrate=100.00\n",
      &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (IoDeviceStat{8, 0, 1048576, 2097152, 30, 40}));
  EXPECT_EQ(out[1], (IoDeviceStat{253, 0, 512, 0, 1, 0}));
  ASSERT_TRUE(ParseIoStat("", &out).ok());
  EXPECT_TRUE(out.empty());
  for (const char* bad :
       {"8 rbytes=1\n", "8:x rbytes=1\n", "8:0 rbytes\n", "8:0 rbytes=-1\n", "a:b:c\n"}) {
    EXPECT_EQ(ParseIoStat(bad, &out).code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CgroupParsersTest, BlkioThrottle) {
  const char* text =
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 8192\n8:0 Async 4096\n8:0 Discard 0\n"
      "8:0 Total 12288\n253:0 Read 100\n253:0 Write 0\n253:0 Total 100\nTotal 12388\n";
  std::vector<IoDeviceStat> out;
  ASSERT_TRUE(ParseBlkioThrottle(text, /*bytes=*/true, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (IoDeviceStat{8, 0, 4096, 8192, 0, 0}));
  EXPECT_EQ(out[1], (IoDeviceStat{253, 0, 100, 0, 0, 0}));
  ASSERT_TRUE(ParseBlkioThrottle(text, /*bytes=*/false, &out).ok());
  EXPECT_EQ(out[0], (IoDeviceStat{8, 0, 0, 0, 4096, 8192}));
  ASSERT_TRUE(ParseBlkioThrottle("Total 0\n", true, &out).ok());
  EXPECT_TRUE(out.empty());
  for (const char* bad :
       {"8:0 Read\n", "8:0 Read x\n", "Total\n", "80 Read 1\n", "8:0 Read 1 2\n"}) {
    EXPECT_EQ(ParseBlkioThrottle(bad, true, &out).code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CgroupParsersTest, Pressure) {
  Result<CgroupPressure> p = ParseCgroupPressure(
      "some avg10=1.50 avg60=0.12 avg300=0.05 total=120000\n"
      "full avg10=0.00 avg60=0.03 avg300=0.01 total=60000\n");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->some && p->full);
  EXPECT_DOUBLE_EQ(p->some->avg10, 1.5);
  EXPECT_EQ(p->some->total_us, 120000u);
  EXPECT_EQ(p->full->total_us, 60000u);
  // cpu.pressure before 5.13 has only "some".
  Result<CgroupPressure> some_only =
      ParseCgroupPressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n");
  ASSERT_TRUE(some_only.ok());
  EXPECT_FALSE(some_only->full.has_value());
  for (const char* bad : {"", "some\n", "half avg10=0 total=1\n", "some avg10=x total=1\n",
                          "some avg10=0.00 total=-1\n", "some total\n"}) {
    EXPECT_EQ(ParseCgroupPressure(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CgroupParsersTest, UeventDevName) {
  Result<std::string_view> n =
      ParseUeventDevName("MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\nDISKSEQ=1\n");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "sda");
  EXPECT_EQ(ParseUeventDevName("MAJOR=8\n").status().code(), StatusCode::kNotFound);
}

TEST(CgroupParsersTest, CpuWeightToSharesMatchesCadvisor) {
  EXPECT_EQ(CpuWeightToShares(1), 2u);
  EXPECT_EQ(CpuWeightToShares(10000), 262144u);
  EXPECT_EQ(CpuWeightToShares(100), 2597u);  // The cgroup v2 default weight.
  EXPECT_EQ(CpuWeightToShares(39), 998u);    // runc's conversion of 1024 shares.
  EXPECT_EQ(CpuWeightToShares(0), 2u);
}

TEST(CgroupParsersTest, GarbageNeverCrashes) {
  const std::string inputs[] = {std::string("\0\0\0", 3), "\n\n\n", "=",       ":", "some =",
                                std::string(10000, 'x'),  "8:0 =1", "total_ 1"};
  std::vector<IoDeviceStat> io;
  for (const std::string& in : inputs) {
    (void)ParseCpuStatV2(in);
    (void)ParseMemoryStatV1(in);
    (void)ParseMemoryEvents(in);
    (void)ParseOomControl(in);
    (void)ParseCgroupPressure(in);
    (void)ParseCpuMax(in);
    (void)ParseUeventDevName(in);
    ParseIoStat(in, &io).PermitUncheckedError();
    ParseBlkioThrottle(in, true, &io).PermitUncheckedError();
  }
}

}  // namespace
}  // namespace tidemark::collector
