// Pure parsers for the /proc files the node collectors read. Each takes the file's contents and
// returns plain values; none touches the filesystem. Malformed input yields InvalidArgument, never
// a crash. string_view fields point into the parsed text and live only as long as it does.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark::collector {

// One "cpuN" line of /proc/stat, in USER_HZ ticks. `user`/`nice` include guest/guest_nice.
struct CpuTicks {
  std::string_view cpu;  // "0", "1", ... (the aggregate "cpu" line is not reported)
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0,
           guest = 0, guest_nice = 0;
};

// /proc/stat. Fields absent from the text stay nullopt.
struct ProcStat {
  std::vector<CpuTicks> cpus;
  std::optional<uint64_t> intr_total;        // first number of "intr"
  std::optional<uint64_t> context_switches;  // "ctxt"
  std::optional<uint64_t> boot_time;         // "btime", Unix seconds
  std::optional<uint64_t> forks;             // "processes"
  std::optional<uint64_t> procs_running;
  std::optional<uint64_t> procs_blocked;
  std::optional<uint64_t> softirq_total;  // first number of "softirq"
};
Result<ProcStat> ParseProcStat(std::string_view text);

// /proc/loadavg.
struct LoadAvg {
  double load1 = 0, load5 = 0, load15 = 0;
};
Result<LoadAvg> ParseLoadavg(std::string_view text);

// One /proc/meminfo line. `value` is in bytes when the line had a "kB" unit (has_unit), else the
// raw count (HugePages_*).
struct MeminfoField {
  std::string_view name;  // raw, e.g. "Active(anon)"
  double value = 0;
  bool has_unit = false;
};
Result<std::vector<MeminfoField>> ParseMeminfo(std::string_view text);
// node_exporter's metric name for a meminfo field: "Active(anon)" + unit →
// node_memory_Active_anon_bytes, "HugePages_Total" without unit → node_memory_HugePages_Total.
std::string MeminfoMetricName(std::string_view raw_name, bool has_unit);

// One counter of /proc/net/{snmp,netstat,snmp6}: protocol ("Tcp", "TcpExt", "Ip6"), field name and
// value (may be negative, e.g. Tcp MaxConn -1).
struct NetstatField {
  std::string_view proto;
  std::string_view field;
  double value = 0;
};
// /proc/net/snmp and /proc/net/netstat: pairs of "Proto: names..." / "Proto: values..." lines.
Result<std::vector<NetstatField>> ParseNetstat(std::string_view text);
// /proc/net/snmp6: "Ip6InReceives  123" lines; proto is the name up to and including the first '6'.
Result<std::vector<NetstatField>> ParseSnmp6(std::string_view text);

// One "name value" line of /proc/vmstat.
struct VmstatField {
  std::string_view name;
  double value = 0;
};
Result<std::vector<VmstatField>> ParseVmstat(std::string_view text);

// One /proc/diskstats line. `stats` holds the counters after the device name in kernel order
// (reads completed, reads merged, sectors read, ms reading, writes..., io in progress, ms doing
// io, weighted ms, discards... (4.18+), flushes... (5.5+)); only the first `num_stats` are valid.
struct DiskStats {
  uint32_t major = 0, minor = 0;
  std::string_view device;
  std::array<uint64_t, 17> stats{};
  int num_stats = 0;  // 11, 15 or 17 (more fields from newer kernels are ignored)
};
Result<std::vector<DiskStats>> ParseDiskstats(std::string_view text);

// /proc/pressure/{cpu,memory,io,irq}: the "some" and "full" lines' totals in microseconds.
struct PressureStats {
  std::optional<uint64_t> some_total_us;
  std::optional<uint64_t> full_total_us;
};
Result<PressureStats> ParsePressure(std::string_view text);

}  // namespace tidemark::collector
