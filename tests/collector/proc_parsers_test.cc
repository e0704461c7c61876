#include "collector/proc_parsers.h"

#include <gtest/gtest.h>

#include <string>

#include "common/file_util.h"
#include "tests/testing/testing.h"

namespace tidemark::collector {
namespace {

TEST(ProcStatParserTest, ParsesCpuLinesAndScalars) {
  auto r = ParseProcStat(
      "cpu  38084 0 9377 122524 674 0 169 543 0 0\n"
      "cpu0 17011 1 3985 64265 128 2 14 278 7 3\n"
      "cpu1 21073 0 5391 58259 546 0 155 265 0 0\n"
      "intr 432803 0 0 1\n"
      "ctxt 715598\n"
      "btime 1795323757\n"
      "processes 9617\n"
      "procs_running 3\n"
      "procs_blocked 1\n"
      "softirq 211924 0 26093\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->cpus.size(), 2u);
  const CpuTicks& c0 = r->cpus[0];
  EXPECT_EQ(c0.cpu, "0");
  EXPECT_EQ(c0.user, 17011u);
  EXPECT_EQ(c0.nice, 1u);
  EXPECT_EQ(c0.system, 3985u);
  EXPECT_EQ(c0.idle, 64265u);
  EXPECT_EQ(c0.iowait, 128u);
  EXPECT_EQ(c0.irq, 2u);
  EXPECT_EQ(c0.softirq, 14u);
  EXPECT_EQ(c0.steal, 278u);
  EXPECT_EQ(c0.guest, 7u);
  EXPECT_EQ(c0.guest_nice, 3u);
  EXPECT_EQ(r->cpus[1].cpu, "1");
  EXPECT_EQ(r->intr_total, 432803u);
  EXPECT_EQ(r->context_switches, 715598u);
  EXPECT_EQ(r->boot_time, 1795323757u);
  EXPECT_EQ(r->forks, 9617u);
  EXPECT_EQ(r->procs_running, 3u);
  EXPECT_EQ(r->procs_blocked, 1u);
  EXPECT_EQ(r->softirq_total, 211924u);
}

TEST(ProcStatParserTest, AcceptsOldKernelsWithFewerCpuFields) {
  // Linux 2.6.11-era lines have 7 or 8 fields; missing ones stay 0.
  auto r = ParseProcStat("cpu0 1 2 3 4 5 6 7\nctxt 5\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->cpus[0].softirq, 7u);
  EXPECT_EQ(r->cpus[0].steal, 0u);
  EXPECT_FALSE(r->boot_time.has_value());
}

TEST(ProcStatParserTest, MalformedInputIsInvalidArgument) {
  for (const char* bad :
       {"", "\n\n", "cpu0 1 2 x 4\n", "cpu0 1 2\n", "cpuX 1 2 3 4\n", "ctxt\n", "ctxt -1\n",
        "cpu0 1 2 3 4\nbtime 12abc\n", "cpu0 99999999999999999999999 0 0 0\n"}) {
    auto r = ParseProcStat(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(LoadavgParserTest, ParsesThreeAverages) {
  auto r = ParseLoadavg("1.41 1.09 0.55 1/83 9617\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(r->load1, 1.41);
  EXPECT_DOUBLE_EQ(r->load5, 1.09);
  EXPECT_DOUBLE_EQ(r->load15, 0.55);
  for (const char* bad : {"", "1.0 2.0", "a b c d", "1.0 2.0 x 1/2 3"}) {
    EXPECT_EQ(ParseLoadavg(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(MeminfoParserTest, ParsesUnitsAndNames) {
  auto r = ParseMeminfo(
      "MemTotal:       24684092 kB\n"
      "Active(anon):       1520 kB\n"
      "HugePages_Total:       0\n"
      "HugePages_Free:        3\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].name, "MemTotal");
  EXPECT_DOUBLE_EQ((*r)[0].value, 24684092.0 * 1024);
  EXPECT_TRUE((*r)[0].has_unit);
  EXPECT_EQ((*r)[1].name, "Active(anon)");
  EXPECT_FALSE((*r)[3].has_unit);
  EXPECT_DOUBLE_EQ((*r)[3].value, 3);
}

TEST(MeminfoParserTest, MetricNamesFollowNodeExporter) {
  EXPECT_EQ(MeminfoMetricName("MemTotal", true), "node_memory_MemTotal_bytes");
  EXPECT_EQ(MeminfoMetricName("Active(anon)", true), "node_memory_Active_anon_bytes");
  EXPECT_EQ(MeminfoMetricName("Inactive(file)", true), "node_memory_Inactive_file_bytes");
  EXPECT_EQ(MeminfoMetricName("HugePages_Total", false), "node_memory_HugePages_Total");
  EXPECT_EQ(MeminfoMetricName("Committed_AS", true), "node_memory_Committed_AS_bytes");
}

TEST(MeminfoParserTest, MalformedInputIsInvalidArgument) {
  for (const char* bad : {"", "MemTotal 5 kB\n", "MemTotal: x kB\n", "MemTotal: 5 MB\n",
                          "MemTotal: 5 kB extra\n", ": 5\n"}) {
    EXPECT_EQ(ParseMeminfo(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(NetstatParserTest, ParsesHeaderValuePairs) {
  auto r = ParseNetstat(
      "Tcp: RtoAlgorithm MaxConn RetransSegs OutSegs\n"
      "Tcp: 1 -1 17 2515\n"
      "TcpExt: TCPSynRetrans TCPTimeouts\n"
      "TcpExt: 4 2\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[1].proto, "Tcp");
  EXPECT_EQ((*r)[1].field, "MaxConn");
  EXPECT_DOUBLE_EQ((*r)[1].value, -1);
  EXPECT_EQ((*r)[2].field, "RetransSegs");
  EXPECT_DOUBLE_EQ((*r)[2].value, 17);
  EXPECT_EQ((*r)[5].proto, "TcpExt");
  EXPECT_EQ((*r)[5].field, "TCPTimeouts");
  EXPECT_DOUBLE_EQ((*r)[5].value, 2);
}

TEST(NetstatParserTest, MalformedInputIsInvalidArgument) {
  for (const char* bad : {"Tcp: A B\n", "Tcp: A B\nTcp: 1\n", "Tcp: A\nUdp: 1\n",
                          "Tcp: A\nTcp: x\n", "Tcp A\nTcp 1\n", "Tcp: A\nTcp: 1 2\n"}) {
    EXPECT_EQ(ParseNetstat(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto empty = ParseNetstat("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(NetstatParserTest, ParsesSnmp6) {
  auto r = ParseSnmp6("Ip6InReceives                   \t12\nIcmp6OutMsgs 9\nUdpLite6InErrors 0\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].proto, "Ip6");
  EXPECT_EQ((*r)[0].field, "InReceives");
  EXPECT_DOUBLE_EQ((*r)[0].value, 12);
  EXPECT_EQ((*r)[1].proto, "Icmp6");
  EXPECT_EQ((*r)[2].proto, "UdpLite6");
  for (const char* bad : {"IpInReceives 1\n", "Ip6 1\n", "Ip6InReceives\n", "Ip6X 1 2\n"}) {
    EXPECT_EQ(ParseSnmp6(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(VmstatParserTest, ParsesNameValueLines) {
  auto r = ParseVmstat("nr_free_pages 123\noom_kill 2\npgmajfault 2816\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[1].name, "oom_kill");
  EXPECT_DOUBLE_EQ((*r)[1].value, 2);
  for (const char* bad : {"oom_kill\n", "oom_kill x\n", "oom_kill 1 2\n"}) {
    EXPECT_EQ(ParseVmstat(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(DiskstatsParserTest, ParsesAllKernelLayouts) {
  auto r = ParseDiskstats(
      " 254       0 vda 66446 15696 5989298 67723 37496 11962 8154792 26457 0 15428 95533 7756 "
      "37 4601240 1199 3016 152\n"
      "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"
      "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11\n"
      "   8      16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  const DiskStats& vda = (*r)[0];
  EXPECT_EQ(vda.major, 254u);
  EXPECT_EQ(vda.minor, 0u);
  EXPECT_EQ(vda.device, "vda");
  EXPECT_EQ(vda.num_stats, 17);
  EXPECT_EQ(vda.stats[0], 66446u);
  EXPECT_EQ(vda.stats[2], 5989298u);
  EXPECT_EQ(vda.stats[16], 152u);
  EXPECT_EQ((*r)[1].num_stats, 15);
  EXPECT_EQ((*r)[2].num_stats, 11);
  EXPECT_EQ((*r)[3].num_stats, 17);  // future fields ignored
}

TEST(DiskstatsParserTest, MalformedInputIsInvalidArgument) {
  for (const char* bad :
       {"8 0 sda 1 2 3\n", "x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n", "8 0\n",
        "8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n", "8 0 sda -1 2 3 4 5 6 7 8 9 10 11\n"}) {
    EXPECT_EQ(ParseDiskstats(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PressureParserTest, ParsesSomeAndFull) {
  auto r = ParsePressure(
      "some avg10=0.07 avg60=0.31 avg300=0.27 total=5743817\n"
      "full avg10=0.04 avg60=0.26 avg300=0.23 total=5002142\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->some_total_us, 5743817u);
  EXPECT_EQ(r->full_total_us, 5002142u);
  auto some_only = ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=12\n");
  ASSERT_TRUE(some_only.ok());
  EXPECT_FALSE(some_only->full_total_us.has_value());
  for (const char* bad : {"", "some avg10=0.00\n", "half total=1\n", "some total=x\n"}) {
    EXPECT_EQ(ParsePressure(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// Every prefix of every fixture file either parses or fails cleanly (no crash, no exception).
TEST(ProcParsersTest, TruncatedFixturesNeverCrash) {
  const std::string dir = testing::FixturePath("proc");
  struct Case {
    const char* file;
    bool (*parse)(std::string_view);
  };
  const Case cases[] = {
      {"/stat", [](std::string_view s) { return ParseProcStat(s).ok(); }},
      {"/loadavg", [](std::string_view s) { return ParseLoadavg(s).ok(); }},
      {"/meminfo", [](std::string_view s) { return ParseMeminfo(s).ok(); }},
      {"/net/netstat", [](std::string_view s) { return ParseNetstat(s).ok(); }},
      {"/net/snmp", [](std::string_view s) { return ParseNetstat(s).ok(); }},
      {"/net/snmp6", [](std::string_view s) { return ParseSnmp6(s).ok(); }},
      {"/vmstat", [](std::string_view s) { return ParseVmstat(s).ok(); }},
      {"/diskstats", [](std::string_view s) { return ParseDiskstats(s).ok(); }},
      {"/pressure/io", [](std::string_view s) { return ParsePressure(s).ok(); }},
  };
  for (const Case& c : cases) {
    Result<std::string> text = ReadFile(dir + c.file);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    EXPECT_TRUE(c.parse(*text)) << c.file;
    for (size_t n = 0; n < text->size(); n += 7) c.parse(std::string_view(*text).substr(0, n));
    std::string garbled = *text;
    for (size_t i = 0; i < garbled.size(); i += 13) garbled[i] = ':';
    c.parse(garbled);
  }
}

}  // namespace
}  // namespace tidemark::collector
