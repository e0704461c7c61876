#include "collector/proc_parsers.h"

#include <charconv>
#include <string>

namespace tidemark::collector {

namespace {

// Splits text into lines and lines into whitespace-separated fields without allocating.
class Fields {
 public:
  explicit Fields(std::string_view line) : rest_(line) {}
  // The next field, or empty at the end.
  std::string_view Next() {
    size_t b = rest_.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) {
      rest_ = {};
      return {};
    }
    size_t e = rest_.find_first_of(" \t\r", b);
    std::string_view f =
        rest_.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
    rest_ = e == std::string_view::npos ? std::string_view{} : rest_.substr(e);
    return f;
  }
  bool AtEnd() const { return rest_.find_first_not_of(" \t\r") == std::string_view::npos; }

 private:
  std::string_view rest_;
};

// Calls fn(line) for each non-empty line; stops at the first non-OK status.
template <typename Fn>
Status ForEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Status st = fn(line);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

bool ToU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ToU32(std::string_view s, uint32_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ToDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);  // from_chars rejects a leading '+'
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

Status Malformed(std::string_view file, std::string_view line, std::string_view why) {
  constexpr size_t kMaxEcho = 80;
  std::string msg(file);
  msg += ": ";
  msg += why;
  msg += " in line \"";
  msg += line.substr(0, kMaxEcho);
  if (line.size() > kMaxEcho) msg += "...";
  msg += '"';
  return Status::InvalidArgument(std::move(msg));
}

Status StatScalar(std::string_view line, Fields& f, std::optional<uint64_t>* out) {
  uint64_t v = 0;
  if (!ToU64(f.Next(), &v)) return Malformed("/proc/stat", line, "bad number");
  *out = v;
  return Status::Ok();
}

}  // namespace

Result<ProcStat> ParseProcStat(std::string_view text) {
  ProcStat out;
  Status st = ForEachLine(text, [&](std::string_view line) -> Status {
    Fields f(line);
    std::string_view key = f.Next();
    if (key.size() > 3 && key.substr(0, 3) == "cpu") {
      CpuTicks c;
      c.cpu = key.substr(3);
      uint64_t dummy = 0;
      if (!ToU64(c.cpu, &dummy)) return Malformed("/proc/stat", line, "bad cpu number");
      uint64_t* dst[] = {&c.user, &c.nice,    &c.system, &c.idle,  &c.iowait,
                         &c.irq,  &c.softirq, &c.steal,  &c.guest, &c.guest_nice};
      int n = 0;
      for (uint64_t* d : dst) {
        std::string_view v = f.Next();
        if (v.empty()) break;
        if (!ToU64(v, d)) return Malformed("/proc/stat", line, "bad cpu ticks");
        ++n;
      }
      if (n < 4) return Malformed("/proc/stat", line, "too few cpu fields");
      out.cpus.push_back(c);
    } else if (key == "cpu") {
      // Aggregate line; node_exporter reports per-cpu lines only.
    } else if (key == "intr") {
      return StatScalar(line, f, &out.intr_total);
    } else if (key == "ctxt") {
      return StatScalar(line, f, &out.context_switches);
    } else if (key == "btime") {
      return StatScalar(line, f, &out.boot_time);
    } else if (key == "processes") {
      return StatScalar(line, f, &out.forks);
    } else if (key == "procs_running") {
      return StatScalar(line, f, &out.procs_running);
    } else if (key == "procs_blocked") {
      return StatScalar(line, f, &out.procs_blocked);
    } else if (key == "softirq") {
      return StatScalar(line, f, &out.softirq_total);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out.cpus.empty() && !out.context_switches) {
    return Status::InvalidArgument("/proc/stat: no cpu or ctxt lines");
  }
  return out;
}

Result<LoadAvg> ParseLoadavg(std::string_view text) {
  Fields f(text);
  LoadAvg out;
  if (!ToDouble(f.Next(), &out.load1) || !ToDouble(f.Next(), &out.load5) ||
      !ToDouble(f.Next(), &out.load15)) {
    return Malformed("/proc/loadavg", text, "expected three load averages");
  }
  return out;
}

Result<std::vector<MeminfoField>> ParseMeminfo(std::string_view text) {
  std::vector<MeminfoField> out;
  out.reserve(64);
  Status st = ForEachLine(text, [&](std::string_view line) -> Status {
    Fields f(line);
    std::string_view key = f.Next();
    if (key.size() < 2 || key.back() != ':') return Malformed("/proc/meminfo", line, "no 'Name:'");
    MeminfoField m;
    m.name = key.substr(0, key.size() - 1);
    if (!ToDouble(f.Next(), &m.value)) return Malformed("/proc/meminfo", line, "bad number");
    std::string_view unit = f.Next();
    if (!unit.empty()) {
      if (unit != "kB") return Malformed("/proc/meminfo", line, "unknown unit");
      m.value *= 1024;
      m.has_unit = true;
    }
    if (!f.AtEnd()) return Malformed("/proc/meminfo", line, "trailing fields");
    out.push_back(m);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out.empty()) return Status::InvalidArgument("/proc/meminfo: empty");
  return out;
}

std::string MeminfoMetricName(std::string_view raw_name, bool has_unit) {
  // node_exporter: "(x)" → "_x" (regexp `\((.*)\)` → `_${1}`).
  std::string name = "node_memory_";
  for (char c : raw_name) {
    if (c == '(') {
      name += '_';
    } else if (c != ')') {
      name += c;
    }
  }
  if (has_unit) name += "_bytes";
  return name;
}

Result<std::vector<NetstatField>> ParseNetstat(std::string_view text) {
  std::vector<NetstatField> out;
  out.reserve(256);
  std::string_view header;  // the pending "Proto: names..." line
  Status st = ForEachLine(text, [&](std::string_view line) -> Status {
    if (header.empty()) {
      header = line;
      return Status::Ok();
    }
    std::string_view names_line = header;
    header = {};
    Fields names(names_line);
    Fields values(line);
    std::string_view proto = names.Next();
    if (proto.size() < 2 || proto.back() != ':') {
      return Malformed("/proc/net/netstat", names_line, "no 'Proto:' prefix");
    }
    if (values.Next() != proto) return Malformed("/proc/net/netstat", line, "protocol mismatch");
    proto.remove_suffix(1);
    for (;;) {
      std::string_view name = names.Next();
      std::string_view value = values.Next();
      if (name.empty() && value.empty()) break;
      if (name.empty() || value.empty()) {
        return Malformed("/proc/net/netstat", line, "name/value count mismatch");
      }
      NetstatField nf{proto, name, 0};
      if (!ToDouble(value, &nf.value)) return Malformed("/proc/net/netstat", line, "bad number");
      out.push_back(nf);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (!header.empty()) return Malformed("/proc/net/netstat", header, "header without values");
  return out;
}

Result<std::vector<NetstatField>> ParseSnmp6(std::string_view text) {
  std::vector<NetstatField> out;
  out.reserve(128);
  Status st = ForEachLine(text, [&](std::string_view line) -> Status {
    Fields f(line);
    std::string_view key = f.Next();
    size_t six = key.find('6');
    if (six == std::string_view::npos || six + 1 >= key.size()) {
      return Malformed("/proc/net/snmp6", line, "no '<Proto>6<Field>' name");
    }
    NetstatField nf{key.substr(0, six + 1), key.substr(six + 1), 0};
    if (!ToDouble(f.Next(), &nf.value) || !f.AtEnd()) {
      return Malformed("/proc/net/snmp6", line, "bad number");
    }
    out.push_back(nf);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<VmstatField>> ParseVmstat(std::string_view text) {
  std::vector<VmstatField> out;
  out.reserve(192);
  Status st = ForEachLine(text, [&](std::string_view line) -> Status {
    Fields f(line);
    VmstatField v;
    v.name = f.Next();
    if (!ToDouble(f.Next(), &v.value) || !f.AtEnd()) {
      return Malformed("/proc/vmstat", line, "expected 'name value'");
    }
    out.push_back(v);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<DiskStats>> ParseDiskstats(std::string_view text) {
  std::vector<DiskStats> out;
  out.reserve(16);
  Status st = ForEachLine(text, [&](std::string_view line) -> Status {
    Fields f(line);
    DiskStats d;
    if (!ToU32(f.Next(), &d.major) || !ToU32(f.Next(), &d.minor)) {
      return Malformed("/proc/diskstats", line, "bad major/minor");
    }
    d.device = f.Next();
    if (d.device.empty()) return Malformed("/proc/diskstats", line, "no device name");
    for (;;) {
      std::string_view v = f.Next();
      if (v.empty()) break;
      if (d.num_stats == static_cast<int>(d.stats.size())) break;  // newer kernel: ignore extras
      if (!ToU64(v, &d.stats[d.num_stats])) return Malformed("/proc/diskstats", line, "bad number");
      ++d.num_stats;
    }
    if (d.num_stats < 11) return Malformed("/proc/diskstats", line, "fewer than 11 counters");
    out.push_back(d);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<PressureStats> ParsePressure(std::string_view text) {
  PressureStats out;
  Status st = ForEachLine(text, [&](std::string_view line) -> Status {
    Fields f(line);
    std::string_view kind = f.Next();
    std::optional<uint64_t>* dst = nullptr;
    if (kind == "some") {
      dst = &out.some_total_us;
    } else if (kind == "full") {
      dst = &out.full_total_us;
    } else {
      return Malformed("/proc/pressure", line, "expected 'some' or 'full'");
    }
    for (std::string_view kv = f.Next(); !kv.empty(); kv = f.Next()) {
      if (kv.substr(0, 6) != "total=") continue;
      uint64_t v = 0;
      if (!ToU64(kv.substr(6), &v)) return Malformed("/proc/pressure", line, "bad total");
      *dst = v;
    }
    if (!dst->has_value()) return Malformed("/proc/pressure", line, "no total=");
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (!out.some_total_us && !out.full_total_us) {
    return Status::InvalidArgument("/proc/pressure: empty");
  }
  return out;
}

}  // namespace tidemark::collector
