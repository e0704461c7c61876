// Pure parsers for cgroup v1/v2 interface files. Each takes the file's bytes and returns values;
// malformed input is InvalidArgument, never a crash. No I/O, no allocation beyond the results.
// All functions are thread-safe (stateless).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark::collector {

// Calls fn(key, value) for each "key value" line (cpu.stat, memory.stat, memory.events, ...).
// Blank lines are skipped. InvalidArgument when a line lacks exactly two fields or the value is not
// an unsigned decimal integer; fn may have been called for earlier lines.
template <typename Fn>
Status ForEachFlatKeyed(std::string_view text, Fn&& fn);

// A lone unsigned integer with optional surrounding whitespace (memory.current, cpuacct.usage,
// ...).
Result<uint64_t> ParseUint(std::string_view text);
// A lone signed integer (v1 cpu.cfs_quota_us, where -1 means unlimited).
Result<int64_t> ParseInt(std::string_view text);
// An unsigned integer or "max" (v2 memory.max, pids.max); nullopt means "max".
Result<std::optional<uint64_t>> ParseUintOrMax(std::string_view text);

// v2 cpu.max: "<quota|max> <period>", microseconds. quota_us is nullopt when unlimited.
struct CpuMax {
  std::optional<uint64_t> quota_us;
  uint64_t period_us = 0;
};
Result<CpuMax> ParseCpuMax(std::string_view text);

// v2 cpu.stat; fields the kernel did not print stay nullopt (nr_* need the cpu controller).
struct CpuStatV2 {
  std::optional<uint64_t> usage_usec, user_usec, system_usec;
  std::optional<uint64_t> nr_periods, nr_throttled, throttled_usec;
};
Result<CpuStatV2> ParseCpuStatV2(std::string_view text);

// v1 cpu.stat (CFS bandwidth): throttled_time is nanoseconds.
struct CpuStatV1 {
  std::optional<uint64_t> nr_periods, nr_throttled, throttled_time_ns;
};
Result<CpuStatV1> ParseCpuStatV1(std::string_view text);

// v1 cpuacct.stat: USER_HZ ticks (divide by sysconf(_SC_CLK_TCK)).
struct CpuacctStat {
  std::optional<uint64_t> user_ticks, system_ticks;
};
Result<CpuacctStat> ParseCpuacctStat(std::string_view text);

// memory.stat reduced to what the collector exports, in bytes. v1 reads the hierarchical total_*
// keys (total_rss, total_cache, total_mapped_file, total_inactive_file, total_swap); v2 reads anon,
// file, file_mapped, inactive_file (v2 swap lives in memory.swap.current).
struct MemoryStat {
  std::optional<uint64_t> rss, cache, mapped_file, inactive_file, swap;
};
Result<MemoryStat> ParseMemoryStatV1(std::string_view text);
Result<MemoryStat> ParseMemoryStatV2(std::string_view text);

// v2 memory.events counts; oom_kill needs kernel >= 4.13, oom_group_kill >= 5.17.
struct MemoryEvents {
  std::optional<uint64_t> low, high, max, oom, oom_kill, oom_group_kill;
};
Result<MemoryEvents> ParseMemoryEvents(std::string_view text);

// v1 memory.oom_control; oom_kill is absent before kernel 4.13 (commit fe6bdfc8e1e1).
struct OomControl {
  bool oom_kill_disable = false;
  bool under_oom = false;
  std::optional<uint64_t> oom_kill;
};
Result<OomControl> ParseOomControl(std::string_view text);

// One device of v2 io.stat ("maj:min rbytes=.. wbytes=.. rios=.. wios=.. ..."); unknown keys are
// ignored, missing ones stay 0.
struct IoDeviceStat {
  uint32_t major = 0, minor = 0;
  uint64_t rbytes = 0, wbytes = 0, rios = 0, wios = 0;
  bool operator==(const IoDeviceStat&) const = default;
};
// Replaces *out (reusing its capacity) with one entry per device line.
Status ParseIoStat(std::string_view text, std::vector<IoDeviceStat>* out);

// v1 blkio.throttle.io_service_bytes / io_serviced ("maj:min Read N", ..., "Total N"): Read and
// Write per device into rbytes/wbytes (when `bytes`) or rios/wios; other operations are ignored.
Status ParseBlkioThrottle(std::string_view text, bool bytes, std::vector<IoDeviceStat>* out);

// PSI files (cpu.pressure, memory.pressure, io.pressure); totals are microseconds.
struct PsiLine {
  double avg10 = 0, avg60 = 0, avg300 = 0;
  uint64_t total_us = 0;
};
struct CgroupPressure {
  std::optional<PsiLine> some, full;
};
Result<CgroupPressure> ParseCgroupPressure(std::string_view text);

// DEVNAME= from a /sys/dev/block/<maj:min>/uevent file; NotFound when absent.
Result<std::string_view> ParseUeventDevName(std::string_view text);

// v2 cpu.weight (1..10000) to v1 cpu.shares as cAdvisor reports it: 2 + (w-1)*262142/9999.
uint64_t CpuWeightToShares(uint64_t weight);

namespace internal {
// Splits off the next line (without '\n') from *text.
std::string_view NextLine(std::string_view* text);
// Splits a line into "key value" at the first run of spaces; false unless exactly two fields.
bool SplitKeyValue(std::string_view line, std::string_view* key, std::string_view* value);
bool ParseU64(std::string_view s, uint64_t* out);
}  // namespace internal

template <typename Fn>
Status ForEachFlatKeyed(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    std::string_view line = internal::NextLine(&text);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string_view key, value;
    uint64_t v = 0;
    if (!internal::SplitKeyValue(line, &key, &value) || !internal::ParseU64(value, &v)) {
      return Status::InvalidArgument("malformed flat-keyed line: '" + std::string(line) + "'");
    }
    fn(key, v);
  }
  return Status::Ok();
}

}  // namespace tidemark::collector
