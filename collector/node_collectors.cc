#include "collector/node_collectors.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <array>
#include <utility>

#include "collector/proc_parsers.h"
#include "common/file_util.h"

namespace tidemark::collector {

namespace {

constexpr double kSectorBytes = 512;
constexpr double kMsPerSecond = 1000;
constexpr double kUsPerSecond = 1e6;

Status WithPath(const Status& st, const std::string& path) {
  return Status(st.code(), path + ": " + st.message());
}

}  // namespace

CachedNameFilter::CachedNameFilter(const std::string& pattern) {
  try {
    re_ = std::regex(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    status_ = Status::InvalidArgument("bad filter regex \"" + pattern + "\": " + e.what());
  }
}

bool CachedNameFilter::Matches(std::string_view name) {
  if (!status_.ok()) return false;
  auto it = verdicts_.find(name);
  if (it != verdicts_.end()) return it->second;
  bool match = std::regex_search(name.begin(), name.end(), re_);
  // Names come from kernel files with a fixed, small set of keys; cap the cache anyway.
  if (verdicts_.size() < 4096) verdicts_.emplace(std::string(name), match);
  return match;
}

// ---- /proc/stat ----

ProcStatCollector::ProcStatCollector(const HostPaths& paths, long user_hz)
    : path_(paths.proc + "/stat") {
  if (user_hz <= 0) user_hz = ::sysconf(_SC_CLK_TCK);
  if (user_hz <= 0) user_hz = 100;
  user_hz_ = static_cast<double>(user_hz);
}

Status ProcStatCollector::Collect(SampleBatch* batch) {
  TIDEMARK_RETURN_IF_ERROR(ReadFileInto(path_, &buf_));
  Result<ProcStat> parsed = ParseProcStat(buf_);
  if (!parsed.ok()) return WithPath(parsed.status(), path_);
  const ProcStat& s = *parsed;

  if (!s.cpus.empty()) {
    size_t cpu_f = batch->Family("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                                 MetricType::kCounter);
    size_t guest_f = batch->Family("node_cpu_guest_seconds_total",
                                   "Seconds the CPUs spent in guests (VMs) for each mode.",
                                   MetricType::kCounter);
    for (const CpuTicks& c : s.cpus) {
      std::string cpu(c.cpu);
      const std::pair<const char*, uint64_t> modes[] = {
          {"user", c.user},     {"nice", c.nice}, {"system", c.system},   {"idle", c.idle},
          {"iowait", c.iowait}, {"irq", c.irq},   {"softirq", c.softirq}, {"steal", c.steal}};
      for (const auto& [mode, ticks] : modes) {
        batch->Add(cpu_f, nullptr, Labels{{"cpu", cpu}, {"mode", mode}},
                   static_cast<double>(ticks) / user_hz_);
      }
      batch->Add(guest_f, nullptr, Labels{{"cpu", cpu}, {"mode", "user"}},
                 static_cast<double>(c.guest) / user_hz_);
      batch->Add(guest_f, nullptr, Labels{{"cpu", cpu}, {"mode", "nice"}},
                 static_cast<double>(c.guest_nice) / user_hz_);
    }
  }
  struct Scalar {
    const std::optional<uint64_t>& v;
    const char* name;
    const char* help;
    MetricType type;
  };
  const Scalar scalars[] = {
      {s.intr_total, "node_intr_total", "Total number of interrupts serviced.",
       MetricType::kCounter},
      {s.context_switches, "node_context_switches_total", "Total number of context switches.",
       MetricType::kCounter},
      {s.forks, "node_forks_total", "Total number of forks.", MetricType::kCounter},
      {s.boot_time, "node_boot_time_seconds", "Node boot time, in unixtime.", MetricType::kGauge},
      {s.procs_running, "node_procs_running", "Number of processes in runnable state.",
       MetricType::kGauge},
      {s.procs_blocked, "node_procs_blocked",
       "Number of processes blocked waiting for I/O to complete.", MetricType::kGauge},
  };
  for (const Scalar& sc : scalars) {
    if (!sc.v) continue;
    batch->Add(batch->Family(sc.name, sc.help, sc.type), nullptr, static_cast<double>(*sc.v));
  }
  return Status::Ok();
}

// ---- /proc/loadavg ----

LoadavgCollector::LoadavgCollector(const HostPaths& paths) : path_(paths.proc + "/loadavg") {}

Status LoadavgCollector::Collect(SampleBatch* batch) {
  TIDEMARK_RETURN_IF_ERROR(ReadFileInto(path_, &buf_));
  Result<LoadAvg> l = ParseLoadavg(buf_);
  if (!l.ok()) return WithPath(l.status(), path_);
  batch->Add(batch->Family("node_load1", "1m load average.", MetricType::kGauge), nullptr,
             l->load1);
  batch->Add(batch->Family("node_load5", "5m load average.", MetricType::kGauge), nullptr,
             l->load5);
  batch->Add(batch->Family("node_load15", "15m load average.", MetricType::kGauge), nullptr,
             l->load15);
  return Status::Ok();
}

// ---- /proc/meminfo ----

MeminfoCollector::MeminfoCollector(const HostPaths& paths) : path_(paths.proc + "/meminfo") {}

Status MeminfoCollector::Collect(SampleBatch* batch) {
  TIDEMARK_RETURN_IF_ERROR(ReadFileInto(path_, &buf_));
  Result<std::vector<MeminfoField>> fields = ParseMeminfo(buf_);
  if (!fields.ok()) return WithPath(fields.status(), path_);
  std::string help;
  for (const MeminfoField& f : *fields) {
    auto it = names_.find(f.name);
    if (it == names_.end()) {
      it = names_.emplace(std::string(f.name), MeminfoMetricName(f.name, f.has_unit)).first;
    }
    const std::string& name = it->second;
    help.assign("Memory information field ").append(name, sizeof("node_memory_") - 1).append(".");
    // node_exporter: fields ending in "_total" are counters (none in current kernels).
    bool counter = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    batch->Add(batch->Family(name, help, counter ? MetricType::kCounter : MetricType::kGauge),
               nullptr, f.value);
  }
  return Status::Ok();
}

// ---- /proc/net/{snmp,netstat,snmp6} ----

NetstatCollector::NetstatCollector(const HostPaths& paths, const std::string& fields_regex)
    : net_dir_(paths.proc + "/net"), filter_(fields_regex) {}

Status NetstatCollector::Collect(SampleBatch* batch) {
  TIDEMARK_RETURN_IF_ERROR(filter_.status());
  struct Source {
    const char* file;
    bool optional;  // snmp6 is absent when IPv6 is disabled
    bool snmp6;
  };
  constexpr Source kSources[] = {
      {"/netstat", false, false}, {"/snmp", false, false}, {"/snmp6", true, true}};
  Status first_error;
  std::string help;
  std::string path;
  for (const Source& src : kSources) {
    path.assign(net_dir_).append(src.file);
    Status st = ReadFileInto(path, &buf_);
    if (!st.ok()) {
      if (!(src.optional && st.code() == StatusCode::kNotFound) && first_error.ok()) {
        first_error = st;
      }
      continue;
    }
    Result<std::vector<NetstatField>> fields = src.snmp6 ? ParseSnmp6(buf_) : ParseNetstat(buf_);
    if (!fields.ok()) {
      if (first_error.ok()) first_error = WithPath(fields.status(), path);
      continue;
    }
    for (const NetstatField& f : *fields) {
      key_.assign(f.proto).append("_").append(f.field);
      if (!filter_.Matches(key_)) continue;
      help.assign("Statistic ").append(f.proto).append(f.field).append(".");
      batch->Add(batch->Family("node_netstat_" + key_, help, MetricType::kUntyped), nullptr,
                 f.value);
    }
  }
  return first_error;
}

// ---- /proc/vmstat ----

VmstatCollector::VmstatCollector(const HostPaths& paths, const std::string& fields_regex)
    : path_(paths.proc + "/vmstat"), filter_(fields_regex) {}

Status VmstatCollector::Collect(SampleBatch* batch) {
  TIDEMARK_RETURN_IF_ERROR(filter_.status());
  TIDEMARK_RETURN_IF_ERROR(ReadFileInto(path_, &buf_));
  Result<std::vector<VmstatField>> fields = ParseVmstat(buf_);
  if (!fields.ok()) return WithPath(fields.status(), path_);
  std::string name;
  std::string help;
  for (const VmstatField& f : *fields) {
    if (!filter_.Matches(f.name)) continue;
    name.assign("node_vmstat_").append(f.name);
    help.assign("/proc/vmstat information field ").append(f.name).append(".");
    batch->Add(batch->Family(name, help, MetricType::kUntyped), nullptr, f.value);
  }
  return Status::Ok();
}

// ---- /proc/diskstats ----

DiskstatsCollector::DiskstatsCollector(const HostPaths& paths,
                                       const std::string& device_exclude_regex)
    : path_(paths.proc + "/diskstats"), exclude_(device_exclude_regex) {}

Status DiskstatsCollector::Collect(SampleBatch* batch) {
  TIDEMARK_RETURN_IF_ERROR(exclude_.status());
  TIDEMARK_RETURN_IF_ERROR(ReadFileInto(path_, &buf_));
  Result<std::vector<DiskStats>> disks = ParseDiskstats(buf_);
  if (!disks.ok()) return WithPath(disks.status(), path_);

  struct Metric {
    const char* name;
    const char* help;
    MetricType type;
    double scale;
  };
  // Indexed like DiskStats::stats (kernel Documentation/admin-guide/iostats.rst).
  static constexpr std::array<Metric, 17> kMetrics = {{
      {"node_disk_reads_completed_total", "The total number of reads completed successfully.",
       MetricType::kCounter, 1},
      {"node_disk_reads_merged_total", "The total number of reads merged.", MetricType::kCounter,
       1},
      {"node_disk_read_bytes_total", "The total number of bytes read successfully.",
       MetricType::kCounter, kSectorBytes},
      {"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.",
       MetricType::kCounter, 1 / kMsPerSecond},
      {"node_disk_writes_completed_total", "The total number of writes completed successfully.",
       MetricType::kCounter, 1},
      {"node_disk_writes_merged_total", "The number of writes merged.", MetricType::kCounter, 1},
      {"node_disk_written_bytes_total", "The total number of bytes written successfully.",
       MetricType::kCounter, kSectorBytes},
      {"node_disk_write_time_seconds_total",
       "This is the total number of seconds spent by all writes.", MetricType::kCounter,
       1 / kMsPerSecond},
      {"node_disk_io_now", "The number of I/Os currently in progress.", MetricType::kGauge, 1},
      {"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", MetricType::kCounter,
       1 / kMsPerSecond},
      {"node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.",
       MetricType::kCounter, 1 / kMsPerSecond},
      {"node_disk_discards_completed_total", "The total number of discards completed successfully.",
       MetricType::kCounter, 1},
      {"node_disk_discards_merged_total", "The total number of discards merged.",
       MetricType::kCounter, 1},
      {"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.",
       MetricType::kCounter, 1},
      {"node_disk_discard_time_seconds_total",
       "This is the total number of seconds spent by all discards.", MetricType::kCounter,
       1 / kMsPerSecond},
      {"node_disk_flush_requests_total",
       "The total number of flush requests completed successfully", MetricType::kCounter, 1},
      {"node_disk_flush_requests_time_seconds_total",
       "This is the total number of seconds spent by all flush requests.", MetricType::kCounter,
       1 / kMsPerSecond},
  }};
  std::array<size_t, kMetrics.size()> families{};
  bool declared = false;
  for (const DiskStats& d : *disks) {
    if (exclude_.Matches(d.device)) continue;
    if (!declared) {
      for (size_t i = 0; i < kMetrics.size(); ++i) {
        families[i] = batch->Family(kMetrics[i].name, kMetrics[i].help, kMetrics[i].type);
      }
      declared = true;
    }
    std::string device(d.device);
    for (int i = 0; i < d.num_stats; ++i) {
      batch->Add(families[i], nullptr, Labels{{"device", device}},
                 static_cast<double>(d.stats[i]) * kMetrics[i].scale);
    }
  }
  return Status::Ok();
}

// ---- /proc/pressure ----

PressureCollector::PressureCollector(const HostPaths& paths) : dir_(paths.proc + "/pressure") {}

Status PressureCollector::Collect(SampleBatch* batch) {
  struct Resource {
    const char* file;
    const char* some_name;  // nullptr: not exported
    const char* some_help;
    const char* full_name;
    const char* full_help;
  };
  // node_exporter ignores cpu "full" (always 0 at the system level before 5.13) and irq "some".
  static constexpr Resource kResources[] = {
      {"cpu", "node_pressure_cpu_waiting_seconds_total",
       "Total time in seconds that processes have waited for CPU time", nullptr, nullptr},
      {"io", "node_pressure_io_waiting_seconds_total",
       "Total time in seconds that processes have waited due to IO congestion",
       "node_pressure_io_stalled_seconds_total",
       "Total time in seconds no process could make progress due to IO congestion"},
      {"memory", "node_pressure_memory_waiting_seconds_total",
       "Total time in seconds that processes have waited for memory",
       "node_pressure_memory_stalled_seconds_total",
       "Total time in seconds no process could make progress due to memory congestion"},
      {"irq", nullptr, nullptr, "node_pressure_irq_stalled_seconds_total",
       "Total time in seconds no process could make progress due to IRQ congestion"},
  };
  Status first_error;
  std::string path;
  for (const Resource& r : kResources) {
    path.assign(dir_).append("/").append(r.file);
    Status st = ReadFileInto(path, &buf_);
    if (!st.ok()) {
      // Absent (old kernel, no irq before 6.1) or EOPNOTSUPP (booted with psi=0): nothing to
      // report.
      if (st.code() != StatusCode::kNotFound &&
          st.message().find(strerror(EOPNOTSUPP)) == std::string::npos && first_error.ok()) {
        first_error = st;
      }
      continue;
    }
    Result<PressureStats> p = ParsePressure(buf_);
    if (!p.ok()) {
      if (first_error.ok()) first_error = WithPath(p.status(), path);
      continue;
    }
    if (r.some_name != nullptr && p->some_total_us) {
      batch->Add(batch->Family(r.some_name, r.some_help, MetricType::kCounter), nullptr,
                 static_cast<double>(*p->some_total_us) / kUsPerSecond);
    }
    if (r.full_name != nullptr && p->full_total_us) {
      batch->Add(batch->Family(r.full_name, r.full_help, MetricType::kCounter), nullptr,
                 static_cast<double>(*p->full_total_us) / kUsPerSecond);
    }
  }
  return first_error;
}

// ---- factory ----

std::vector<std::unique_ptr<Collector>> MakeNodeCollectors(const HostPaths& paths,
                                                           const NodeCollectorOptions& options) {
  std::vector<std::unique_ptr<Collector>> out;
  out.push_back(std::make_unique<ProcStatCollector>(paths, options.user_hz));
  out.push_back(std::make_unique<LoadavgCollector>(paths));
  out.push_back(std::make_unique<MeminfoCollector>(paths));
  out.push_back(std::make_unique<NetstatCollector>(paths, options.netstat_fields));
  out.push_back(std::make_unique<VmstatCollector>(paths, options.vmstat_fields));
  out.push_back(std::make_unique<DiskstatsCollector>(paths, options.diskstats_device_exclude));
  out.push_back(std::make_unique<PressureCollector>(paths));
  return out;
}

}  // namespace tidemark::collector
