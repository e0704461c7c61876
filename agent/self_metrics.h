// The agent's own metrics: process_* (client_golang names), build info, and the adapter that turns
// a prometheus-cpp Registry (HTTP request metrics) into SampleBatch families.
#pragma once

#include <prometheus/registry.h>

#include <string>

#include "common/host_paths.h"
#include "common/sample_batch.h"
#include "common/status.h"

namespace tidemark::agent {

struct ProcessStats {
  double cpu_seconds = 0;  // utime + stime
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;  // Unix seconds
  double open_fds = 0;
  double max_fds = 0;
};

// Parses /proc/<pid>/stat; `boot_time_seconds` comes from /proc/stat btime.
Result<ProcessStats> ParseProcessStat(std::string_view stat, long clk_tck, long page_size,
                                      double boot_time_seconds);
// Reads the stats of this process from `proc` (normally "/proc").
Result<ProcessStats> ReadSelfStats(const std::string& proc);

// Appends process_* families to *batch.
void AddProcessMetrics(const ProcessStats& stats, SampleBatch* batch);

// Appends every family of `registry` (counters, gauges, histograms, untyped) to *batch.
void AddRegistryMetrics(prometheus::Registry& registry, SampleBatch* batch);

}  // namespace tidemark::agent
