#include "collector/node_collectors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "tests/testing/testing.h"

namespace tidemark::collector {
namespace {

const MetricFamily* FindFamily(const SampleBatch& b, std::string_view name) {
  for (const MetricFamily& f : b.families()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The value of the sample of `name` whose extra labels equal `labels`; NaN when absent.
double Value(const SampleBatch& b, std::string_view name, const Labels& labels = {}) {
  const MetricFamily* f = FindFamily(b, name);
  if (f == nullptr) return std::nan("");
  for (const Sample& s : f->samples) {
    if (s.extra == labels) return s.value;
  }
  return std::nan("");
}

MetricType TypeOf(const SampleBatch& b, std::string_view name) {
  const MetricFamily* f = FindFamily(b, name);
  EXPECT_NE(f, nullptr) << name;
  return f != nullptr ? f->type : MetricType::kHistogram;
}

HostPaths FixtureHost() {
  HostPaths p;
  p.proc = testing::FixturePath("proc");
  return p;
}

TEST(ProcStatCollectorTest, ReadsFixture) {
  ProcStatCollector c(FixtureHost(), /*user_hz=*/100);
  EXPECT_EQ(c.Name(), "stat");
  SampleBatch b;
  ASSERT_TRUE(c.Collect(&b).ok());
  EXPECT_DOUBLE_EQ(Value(b, "node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "user"}}), 170.11);
  EXPECT_DOUBLE_EQ(Value(b, "node_cpu_seconds_total", {{"cpu", "1"}, {"mode", "idle"}}), 582.59);
  EXPECT_DOUBLE_EQ(Value(b, "node_cpu_seconds_total", {{"cpu", "1"}, {"mode", "steal"}}), 2.65);
  EXPECT_DOUBLE_EQ(Value(b, "node_cpu_guest_seconds_total", {{"cpu", "0"}, {"mode", "nice"}}), 0);
  EXPECT_EQ(FindFamily(b, "node_cpu_seconds_total")->samples.size(), 16u);  // 2 cpus × 8 modes
  EXPECT_EQ(FindFamily(b, "node_cpu_guest_seconds_total")->samples.size(), 4u);
  EXPECT_EQ(TypeOf(b, "node_cpu_seconds_total"), MetricType::kCounter);
  EXPECT_DOUBLE_EQ(Value(b, "node_intr_total"), 432803);
  EXPECT_DOUBLE_EQ(Value(b, "node_context_switches_total"), 715598);
  EXPECT_DOUBLE_EQ(Value(b, "node_forks_total"), 9617);
  EXPECT_DOUBLE_EQ(Value(b, "node_boot_time_seconds"), 1795323757);
  EXPECT_EQ(TypeOf(b, "node_boot_time_seconds"), MetricType::kGauge);
  EXPECT_DOUBLE_EQ(Value(b, "node_procs_running"), 1);
  EXPECT_DOUBLE_EQ(Value(b, "node_procs_blocked"), 0);
}

TEST(LoadavgCollectorTest, ReadsFixture) {
  LoadavgCollector c(FixtureHost());
  SampleBatch b;
  ASSERT_TRUE(c.Collect(&b).ok());
  EXPECT_DOUBLE_EQ(Value(b, "node_load1"), 1.41);
  EXPECT_DOUBLE_EQ(Value(b, "node_load5"), 1.09);
  EXPECT_DOUBLE_EQ(Value(b, "node_load15"), 0.55);
  EXPECT_EQ(TypeOf(b, "node_load1"), MetricType::kGauge);
}

TEST(MeminfoCollectorTest, ReadsFixture) {
  MeminfoCollector c(FixtureHost());
  for (int cycle = 0; cycle < 2; ++cycle) {  // second cycle uses the name cache
    SampleBatch b;
    ASSERT_TRUE(c.Collect(&b).ok());
    EXPECT_DOUBLE_EQ(Value(b, "node_memory_MemTotal_bytes"), 24684092.0 * 1024);
    EXPECT_DOUBLE_EQ(Value(b, "node_memory_Active_anon_bytes"), 1520.0 * 1024);
    EXPECT_DOUBLE_EQ(Value(b, "node_memory_HugePages_Total"), 0);
    EXPECT_DOUBLE_EQ(Value(b, "node_memory_Hugepagesize_bytes"), 2048.0 * 1024);
    EXPECT_EQ(TypeOf(b, "node_memory_MemTotal_bytes"), MetricType::kGauge);
    EXPECT_EQ(FindFamily(b, "node_memory_Active_anon_bytes")->help,
              "Memory information field Active_anon_bytes.");
    EXPECT_EQ(FindFamily(b, "node_memory_Active(anon)_bytes"), nullptr);
  }
}

TEST(NetstatCollectorTest, ReadsFixtureWithDefaultFilter) {
  NetstatCollector c(FixtureHost(), NodeCollectorOptions{}.netstat_fields);
  SampleBatch b;
  Status st = c.Collect(&b);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_Tcp_RetransSegs"), 0);
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_Tcp_OutSegs"), 2515);
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_Tcp_InSegs"), 3858);
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_Tcp_CurrEstab"), 0);
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_TcpExt_TCPSynRetrans"), 0);
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_TcpExt_TCPTimeouts"), 2);
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_TcpExt_ListenDrops"), 0);
  EXPECT_FALSE(std::isnan(Value(b, "node_netstat_Ip6_InOctets")));  // snmp6
  EXPECT_FALSE(std::isnan(Value(b, "node_netstat_Icmp6_InMsgs")));
  EXPECT_TRUE(std::isnan(Value(b, "node_netstat_Tcp_MaxConn")));  // filtered out
  EXPECT_TRUE(std::isnan(Value(b, "node_netstat_TcpExt_DelayedACKs")));
  EXPECT_EQ(TypeOf(b, "node_netstat_Tcp_RetransSegs"), MetricType::kUntyped);
  EXPECT_EQ(FindFamily(b, "node_netstat_Tcp_RetransSegs")->help, "Statistic TcpRetransSegs.");
}

TEST(NetstatCollectorTest, MissingSnmp6IsFineMissingSnmpIsNot) {
  testing::TempDir dir;
  dir.WriteFile("net/snmp", "Tcp: RetransSegs\nTcp: 5\n");
  dir.WriteFile("net/netstat", "TcpExt: TCPTimeouts\nTcpExt: 3\n");
  HostPaths p;
  p.proc = dir.path();
  NetstatCollector c(p, NodeCollectorOptions{}.netstat_fields);
  SampleBatch b;
  ASSERT_TRUE(c.Collect(&b).ok());
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_Tcp_RetransSegs"), 5);
  EXPECT_DOUBLE_EQ(Value(b, "node_netstat_TcpExt_TCPTimeouts"), 3);

  testing::TempDir only_netstat;
  only_netstat.WriteFile("net/netstat", "TcpExt: TCPTimeouts\nTcpExt: 3\n");
  p.proc = only_netstat.path();
  NetstatCollector c2(p, NodeCollectorOptions{}.netstat_fields);
  SampleBatch b2;
  EXPECT_EQ(c2.Collect(&b2).code(), StatusCode::kNotFound);
  EXPECT_DOUBLE_EQ(Value(b2, "node_netstat_TcpExt_TCPTimeouts"), 3);  // partial data kept
}

TEST(NetstatCollectorTest, BadFilterRegexIsInvalidArgument) {
  NetstatCollector c(FixtureHost(), "([");
  SampleBatch b;
  EXPECT_EQ(c.Collect(&b).code(), StatusCode::kInvalidArgument);
}

TEST(VmstatCollectorTest, ReadsFixtureWithDefaultFilter) {
  VmstatCollector c(FixtureHost(), NodeCollectorOptions{}.vmstat_fields);
  SampleBatch b;
  ASSERT_TRUE(c.Collect(&b).ok());
  EXPECT_DOUBLE_EQ(Value(b, "node_vmstat_oom_kill"), 0);
  EXPECT_DOUBLE_EQ(Value(b, "node_vmstat_pgfault"), 12475972);
  EXPECT_DOUBLE_EQ(Value(b, "node_vmstat_pgmajfault"), 2816);
  EXPECT_FALSE(std::isnan(Value(b, "node_vmstat_pgpgin")));
  EXPECT_FALSE(std::isnan(Value(b, "node_vmstat_pswpout")));
  EXPECT_TRUE(std::isnan(Value(b, "node_vmstat_nr_free_pages")));
  EXPECT_EQ(TypeOf(b, "node_vmstat_oom_kill"), MetricType::kUntyped);
  for (const MetricFamily& f : b.families()) {
    std::string field = f.name.substr(sizeof("node_vmstat_") - 1);
    EXPECT_TRUE(field.rfind("oom_kill", 0) == 0 || field.rfind("pgpg", 0) == 0 ||
                field.rfind("pswp", 0) == 0 ||
                (field.rfind("pg", 0) == 0 && field.find("fault") != std::string::npos))
        << f.name;
  }
}

TEST(DiskstatsCollectorTest, ReadsFixtureAndSkipsLoopAndZram) {
  DiskstatsCollector c(FixtureHost(), NodeCollectorOptions{}.diskstats_device_exclude);
  SampleBatch b;
  ASSERT_TRUE(c.Collect(&b).ok());
  const Labels vda = {{"device", "vda"}};
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_reads_completed_total", vda), 66446);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_reads_merged_total", vda), 15696);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_read_bytes_total", vda), 5989298.0 * 512);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_read_time_seconds_total", vda), 67.723);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_writes_completed_total", vda), 37496);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_written_bytes_total", vda), 8154792.0 * 512);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_write_time_seconds_total", vda), 26.457);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_io_now", vda), 0);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_io_time_seconds_total", vda), 15.428);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_io_time_weighted_seconds_total", vda), 95.533);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_discards_completed_total", vda), 7756);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_discarded_sectors_total", vda), 4601240);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_discard_time_seconds_total", vda), 1.199);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_flush_requests_total", vda), 3016);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_flush_requests_time_seconds_total", vda), 0.152);
  EXPECT_EQ(TypeOf(b, "node_disk_io_now"), MetricType::kGauge);
  EXPECT_EQ(TypeOf(b, "node_disk_reads_completed_total"), MetricType::kCounter);
  std::set<std::string> devices;
  for (const Sample& s : FindFamily(b, "node_disk_reads_completed_total")->samples) {
    devices.insert(s.extra.at(0).value);
  }
  EXPECT_EQ(devices, std::set<std::string>{"vda"});
}

TEST(DiskstatsCollectorTest, OldKernelLayoutHasNoDiscardOrFlushSeries) {
  testing::TempDir dir;
  dir.WriteFile("diskstats",
                "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
                "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11\n"
                " 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"
                " 259       1 nvme0n1p1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n");
  HostPaths p;
  p.proc = dir.path();
  DiskstatsCollector c(p, NodeCollectorOptions{}.diskstats_device_exclude);
  SampleBatch b;
  ASSERT_TRUE(c.Collect(&b).ok());
  EXPECT_EQ(FindFamily(b, "node_disk_reads_completed_total")->samples.size(), 2u);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_io_time_weighted_seconds_total", {{"device", "sda"}}),
                   0.011);
  EXPECT_DOUBLE_EQ(Value(b, "node_disk_discard_time_seconds_total", {{"device", "nvme0n1"}}),
                   0.015);
  EXPECT_TRUE(std::isnan(Value(b, "node_disk_discards_completed_total", {{"device", "sda"}})));
  EXPECT_TRUE(std::isnan(Value(b, "node_disk_flush_requests_total", {{"device", "nvme0n1"}})));
}

TEST(PressureCollectorTest, ReadsFixture) {
  PressureCollector c(FixtureHost());
  SampleBatch b;
  ASSERT_TRUE(c.Collect(&b).ok());
  EXPECT_DOUBLE_EQ(Value(b, "node_pressure_cpu_waiting_seconds_total"), 49.900711);
  EXPECT_DOUBLE_EQ(Value(b, "node_pressure_io_waiting_seconds_total"), 5.743817);
  EXPECT_DOUBLE_EQ(Value(b, "node_pressure_io_stalled_seconds_total"), 5.002142);
  EXPECT_DOUBLE_EQ(Value(b, "node_pressure_memory_waiting_seconds_total"), 0);
  EXPECT_DOUBLE_EQ(Value(b, "node_pressure_memory_stalled_seconds_total"), 0);
  EXPECT_EQ(FindFamily(b, "node_pressure_cpu_stalled_seconds_total"), nullptr);
  EXPECT_EQ(FindFamily(b, "node_pressure_irq_stalled_seconds_total"), nullptr);  // no irq file
  EXPECT_EQ(TypeOf(b, "node_pressure_io_stalled_seconds_total"), MetricType::kCounter);
}

TEST(PressureCollectorTest, AbsentPressureIsNotAnError) {
  testing::TempDir dir;
  HostPaths p;
  p.proc = dir.path();
  PressureCollector c(p);
  SampleBatch b;
  EXPECT_TRUE(c.Collect(&b).ok());
  EXPECT_EQ(b.SampleCount(), 0u);
}

TEST(NodeCollectorsTest, MalformedFilesFailWithoutCrashing) {
  testing::TempDir dir;
  for (const char* f : {"stat", "loadavg", "meminfo", "vmstat", "diskstats", "net/snmp",
                        "net/netstat", "pressure/cpu"}) {
    dir.WriteFile(f, "garbage here\n1 2\n");
  }
  HostPaths p;
  p.proc = dir.path();
  for (auto& c : MakeNodeCollectors(p)) {
    SampleBatch b;
    Status st = c->Collect(&b);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c->Name() << ": " << st.ToString();
  }
}

TEST(NodeCollectorsTest, MissingProcIsNotFound) {
  testing::TempDir dir;
  HostPaths p;
  p.proc = dir.path() + "/absent";
  for (auto& c : MakeNodeCollectors(p)) {
    SampleBatch b;
    Status st = c->Collect(&b);
    if (c->Name() == "pressure") {
      EXPECT_TRUE(st.ok()) << st.ToString();
    } else {
      EXPECT_EQ(st.code(), StatusCode::kNotFound) << c->Name() << ": " << st.ToString();
    }
  }
}

TEST(NodeCollectorsTest, FactoryNamesEveryCollector) {
  std::vector<std::string> names;
  for (auto& c : MakeNodeCollectors(FixtureHost())) names.emplace_back(c->Name());
  EXPECT_EQ(names, (std::vector<std::string>{"stat", "loadavg", "meminfo", "netstat", "vmstat",
                                             "diskstats", "pressure"}));
}

TEST(NodeCollectorsTest, EveryCollectorReadsTheFixtureTree) {
  SampleBatch b;
  for (auto& c : MakeNodeCollectors(FixtureHost())) {
    Status st = c->Collect(&b);
    EXPECT_TRUE(st.ok()) << c->Name() << ": " << st.ToString();
  }
  for (const MetricFamily& f : b.families()) {
    EXPECT_TRUE(IsValidMetricName(f.name)) << f.name;
    EXPECT_FALSE(f.samples.empty()) << f.name;
  }
}

// The real host: every collector succeeds on /proc and the headline series are there.
TEST(NodeCollectorsTest, EveryCollectorReadsTheRealProc) {
  SampleBatch b;
  for (int cycle = 0; cycle < 3; ++cycle) {
    b = SampleBatch();
    for (auto& c : MakeNodeCollectors(HostPaths{})) {
      Status st = c->Collect(&b);
      EXPECT_TRUE(st.ok()) << c->Name() << ": " << st.ToString();
    }
  }
  const MetricFamily* cpu = FindFamily(b, "node_cpu_seconds_total");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->samples.size() % 8, 0u);
  EXPECT_GE(cpu->samples.size(), 8u);
  EXPECT_GT(Value(b, "node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "idle"}}), 0);
  EXPECT_GT(Value(b, "node_boot_time_seconds"), 1e9);
  EXPECT_GT(Value(b, "node_context_switches_total"), 0);
  EXPECT_GT(Value(b, "node_memory_MemTotal_bytes"), 0);
  EXPECT_FALSE(std::isnan(Value(b, "node_load1")));
  EXPECT_FALSE(std::isnan(Value(b, "node_netstat_Tcp_RetransSegs")));
  EXPECT_FALSE(std::isnan(Value(b, "node_netstat_Tcp_OutSegs")));
  EXPECT_FALSE(std::isnan(Value(b, "node_netstat_TcpExt_TCPSynRetrans")));
  EXPECT_FALSE(std::isnan(Value(b, "node_netstat_TcpExt_TCPTimeouts")));
  EXPECT_FALSE(std::isnan(Value(b, "node_vmstat_oom_kill")));
  EXPECT_NE(FindFamily(b, "node_disk_io_time_seconds_total"), nullptr);
  for (const MetricFamily& f : b.families()) EXPECT_TRUE(IsValidMetricName(f.name)) << f.name;
}

}  // namespace
}  // namespace tidemark::collector
