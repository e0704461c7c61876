// Node-wide collectors over /proc (HostPaths.proc) with node_exporter 1.5's metric names, types
// and units (reference/metrics-naming.md §3). One class per source file; each reuses its read
// buffer between cycles and compiles its filters once at construction. Not thread-safe: one
// collection thread per instance, as the Collector contract says.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <unordered_map>
#include <vector>

#include "collector/collector.h"
#include "common/host_paths.h"

namespace tidemark::collector {

struct NodeCollectorOptions {
  // ECMAScript regex over "<Proto>_<Field>"; kept fields become node_netstat_<Proto>_<Field>.
  // Default: node_exporter's --collector.netstat.fields, plus TcpExt_TCPOFOQueue/TCPRcvQDrop.
  std::string netstat_fields =
      "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
      "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|"
      "Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"
      "Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
  // ECMAScript regex over /proc/vmstat field names. Default: node_exporter's
  // --collector.vmstat.fields.
  std::string vmstat_fields = "^(oom_kill|pgpg|pswp|pg.*fault).*";
  // Devices matching this regex are skipped. Default: node_exporter's device-exclude, plus zram.
  std::string diskstats_device_exclude = "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";
  // Ticks per second of /proc/stat cpu times. Default: 0 = sysconf(_SC_CLK_TCK) (USER_HZ, 100).
  long user_hz = 0;
};

// A compiled regex with a per-name verdict cache, so steady-state cycles do one hash lookup per
// name and no regex matching. Thread-compatible.
class CachedNameFilter {
 public:
  // Throws nothing: an invalid pattern matches nothing and is reported by status().
  explicit CachedNameFilter(const std::string& pattern);
  bool Matches(std::string_view name);
  const Status& status() const { return status_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::regex re_;
  Status status_;
  std::unordered_map<std::string, bool, Hash, std::equal_to<>> verdicts_;
};

// /proc/stat → node_cpu_seconds_total{cpu,mode}, node_cpu_guest_seconds_total{cpu,mode},
// node_intr_total, node_context_switches_total, node_forks_total, node_boot_time_seconds,
// node_procs_running, node_procs_blocked.
class ProcStatCollector final : public Collector {
 public:
  explicit ProcStatCollector(const HostPaths& paths, long user_hz = 0);
  std::string_view Name() const override { return "stat"; }
  Status Collect(SampleBatch* batch) override;

 private:
  std::string path_;
  double user_hz_;
  std::string buf_;
};

// /proc/loadavg → node_load1, node_load5, node_load15.
class LoadavgCollector final : public Collector {
 public:
  explicit LoadavgCollector(const HostPaths& paths);
  std::string_view Name() const override { return "loadavg"; }
  Status Collect(SampleBatch* batch) override;

 private:
  std::string path_;
  std::string buf_;
};

// /proc/meminfo → node_memory_<Field>_bytes (kB × 1024) and node_memory_<Field> for unitless
// fields (HugePages_*), all gauges.
class MeminfoCollector final : public Collector {
 public:
  explicit MeminfoCollector(const HostPaths& paths);
  std::string_view Name() const override { return "meminfo"; }
  Status Collect(SampleBatch* batch) override;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::string path_;
  std::string buf_;
  // raw field name + unit flag → metric name; fields are stable, so this is built once.
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> names_;
};

// /proc/net/snmp, /proc/net/netstat and (when present) /proc/net/snmp6 →
// node_netstat_<Proto>_<Field>, untyped, for fields matching the netstat filter.
class NetstatCollector final : public Collector {
 public:
  NetstatCollector(const HostPaths& paths, const std::string& fields_regex);
  std::string_view Name() const override { return "netstat"; }
  Status Collect(SampleBatch* batch) override;

 private:
  std::string net_dir_;
  std::string buf_;
  std::string key_;  // scratch "<Proto>_<Field>"
  CachedNameFilter filter_;
};

// /proc/vmstat → node_vmstat_<field>, untyped, for fields matching the vmstat filter.
class VmstatCollector final : public Collector {
 public:
  VmstatCollector(const HostPaths& paths, const std::string& fields_regex);
  std::string_view Name() const override { return "vmstat"; }
  Status Collect(SampleBatch* batch) override;

 private:
  std::string path_;
  std::string buf_;
  CachedNameFilter filter_;
};

// /proc/diskstats → node_disk_{reads,writes}_completed_total, _merged_total,
// node_disk_read_bytes_total, node_disk_written_bytes_total (512-byte sectors),
// node_disk_{read,write}_time_seconds_total, node_disk_io_now (gauge),
// node_disk_io_time[_weighted]_seconds_total, node_disk_discards_*,
// node_disk_discarded_sectors_total, node_disk_discard_time_seconds_total,
// node_disk_flush_requests[_time_seconds]_total; label device. Excluded devices are skipped.
class DiskstatsCollector final : public Collector {
 public:
  DiskstatsCollector(const HostPaths& paths, const std::string& device_exclude_regex);
  std::string_view Name() const override { return "diskstats"; }
  Status Collect(SampleBatch* batch) override;

 private:
  std::string path_;
  std::string buf_;
  CachedNameFilter exclude_;
};

// /proc/pressure/{cpu,io,memory,irq} → node_pressure_cpu_waiting_seconds_total,
// node_pressure_{io,memory}_{waiting,stalled}_seconds_total,
// node_pressure_irq_stalled_seconds_total (µs ÷ 1e6). Missing files (kernel < 4.20, CONFIG_PSI off,
// psi=0, no irq before 6.1) are skipped.
class PressureCollector final : public Collector {
 public:
  explicit PressureCollector(const HostPaths& paths);
  std::string_view Name() const override { return "pressure"; }
  Status Collect(SampleBatch* batch) override;

 private:
  std::string dir_;
  std::string buf_;
};

// Every node collector above, in a fixed order. Invalid filter regexes make the affected collector
// fail each Collect with InvalidArgument (validate config with the filter's status() first).
std::vector<std::unique_ptr<Collector>> MakeNodeCollectors(
    const HostPaths& paths, const NodeCollectorOptions& options = {});

}  // namespace tidemark::collector
