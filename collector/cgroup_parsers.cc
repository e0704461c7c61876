#include "collector/cgroup_parsers.h"

#include <charconv>
#include <string>

namespace tidemark::collector {

namespace internal {

std::string_view NextLine(std::string_view* text) {
  size_t nl = text->find('\n');
  std::string_view line = text->substr(0, nl);
  text->remove_prefix(nl == std::string_view::npos ? text->size() : nl + 1);
  return line;
}

namespace {
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
}  // namespace

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off the next whitespace-separated field of *s; empty at the end.
std::string_view NextField(std::string_view* s) {
  size_t b = 0;
  while (b < s->size() && IsSpace((*s)[b])) ++b;
  size_t e = b;
  while (e < s->size() && !IsSpace((*s)[e])) ++e;
  std::string_view f = s->substr(b, e - b);
  s->remove_prefix(e);
  return f;
}

bool SplitKeyValue(std::string_view line, std::string_view* key, std::string_view* value) {
  *key = NextField(&line);
  *value = NextField(&line);
  return !key->empty() && !value->empty() && NextField(&line).empty();
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseI64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace internal

namespace {

using internal::NextField;
using internal::NextLine;
using internal::ParseU64;
using internal::Trim;

Status Malformed(std::string_view what, std::string_view text) {
  std::string shown(text.substr(0, 80));
  return Status::InvalidArgument(std::string(what) + ": malformed input '" + shown + "'");
}

// Parses "maj:min".
bool ParseDevice(std::string_view s, uint32_t* major, uint32_t* minor) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t ma = 0, mi = 0;
  if (!ParseU64(s.substr(0, colon), &ma) || !ParseU64(s.substr(colon + 1), &mi)) return false;
  if (ma > UINT32_MAX || mi > UINT32_MAX) return false;
  *major = static_cast<uint32_t>(ma);
  *minor = static_cast<uint32_t>(mi);
  return true;
}

IoDeviceStat* FindOrAddDevice(std::vector<IoDeviceStat>* out, uint32_t major, uint32_t minor) {
  for (IoDeviceStat& d : *out) {
    if (d.major == major && d.minor == minor) return &d;
  }
  out->push_back(IoDeviceStat{major, minor});
  return &out->back();
}

}  // namespace

Result<uint64_t> ParseUint(std::string_view text) {
  uint64_t v = 0;
  if (!ParseU64(Trim(text), &v)) return Malformed("unsigned integer", text);
  return v;
}

Result<int64_t> ParseInt(std::string_view text) {
  int64_t v = 0;
  if (!internal::ParseI64(Trim(text), &v)) return Malformed("integer", text);
  return v;
}

Result<std::optional<uint64_t>> ParseUintOrMax(std::string_view text) {
  std::string_view t = Trim(text);
  if (t == "max") return std::optional<uint64_t>();
  uint64_t v = 0;
  if (!ParseU64(t, &v)) return Malformed("integer or max", text);
  return std::optional<uint64_t>(v);
}

Result<CpuMax> ParseCpuMax(std::string_view text) {
  std::string_view rest = text;
  std::string_view quota = NextField(&rest);
  std::string_view period = NextField(&rest);
  CpuMax out;
  if (!NextField(&rest).empty() || !ParseU64(period, &out.period_us)) {
    return Malformed("cpu.max", text);
  }
  if (quota != "max") {
    uint64_t q = 0;
    if (!ParseU64(quota, &q)) return Malformed("cpu.max", text);
    out.quota_us = q;
  }
  return out;
}

Result<CpuStatV2> ParseCpuStatV2(std::string_view text) {
  CpuStatV2 s;
  Status st = ForEachFlatKeyed(text, [&s](std::string_view k, uint64_t v) {
    if (k == "usage_usec") {
      s.usage_usec = v;
    } else if (k == "user_usec") {
      s.user_usec = v;
    } else if (k == "system_usec") {
      s.system_usec = v;
    } else if (k == "nr_periods") {
      s.nr_periods = v;
    } else if (k == "nr_throttled") {
      s.nr_throttled = v;
    } else if (k == "throttled_usec") {
      s.throttled_usec = v;
    }
  });
  if (!st.ok()) return st;
  return s;
}

Result<CpuStatV1> ParseCpuStatV1(std::string_view text) {
  CpuStatV1 s;
  Status st = ForEachFlatKeyed(text, [&s](std::string_view k, uint64_t v) {
    if (k == "nr_periods") {
      s.nr_periods = v;
    } else if (k == "nr_throttled") {
      s.nr_throttled = v;
    } else if (k == "throttled_time") {
      s.throttled_time_ns = v;
    }
  });
  if (!st.ok()) return st;
  return s;
}

Result<CpuacctStat> ParseCpuacctStat(std::string_view text) {
  CpuacctStat s;
  Status st = ForEachFlatKeyed(text, [&s](std::string_view k, uint64_t v) {
    if (k == "user") {
      s.user_ticks = v;
    } else if (k == "system") {
      s.system_ticks = v;
    }
  });
  if (!st.ok()) return st;
  if (!s.user_ticks && !s.system_ticks) return Malformed("cpuacct.stat", text);
  return s;
}

Result<MemoryStat> ParseMemoryStatV1(std::string_view text) {
  MemoryStat s;
  Status st = ForEachFlatKeyed(text, [&s](std::string_view k, uint64_t v) {
    if (k.size() < 7 || k.substr(0, 6) != "total_") return;
    k.remove_prefix(6);
    if (k == "rss") {
      s.rss = v;
    } else if (k == "cache") {
      s.cache = v;
    } else if (k == "mapped_file") {
      s.mapped_file = v;
    } else if (k == "inactive_file") {
      s.inactive_file = v;
    } else if (k == "swap") {
      s.swap = v;
    }
  });
  if (!st.ok()) return st;
  return s;
}

Result<MemoryStat> ParseMemoryStatV2(std::string_view text) {
  MemoryStat s;
  Status st = ForEachFlatKeyed(text, [&s](std::string_view k, uint64_t v) {
    if (k == "anon") {
      s.rss = v;
    } else if (k == "file") {
      s.cache = v;
    } else if (k == "file_mapped") {
      s.mapped_file = v;
    } else if (k == "inactive_file") {
      s.inactive_file = v;
    }
  });
  if (!st.ok()) return st;
  return s;
}

Result<MemoryEvents> ParseMemoryEvents(std::string_view text) {
  MemoryEvents e;
  Status st = ForEachFlatKeyed(text, [&e](std::string_view k, uint64_t v) {
    if (k == "low") {
      e.low = v;
    } else if (k == "high") {
      e.high = v;
    } else if (k == "max") {
      e.max = v;
    } else if (k == "oom") {
      e.oom = v;
    } else if (k == "oom_kill") {
      e.oom_kill = v;
    } else if (k == "oom_group_kill") {
      e.oom_group_kill = v;
    }
  });
  if (!st.ok()) return st;
  return e;
}

Result<OomControl> ParseOomControl(std::string_view text) {
  OomControl o;
  bool saw_disable = false;
  Status st = ForEachFlatKeyed(text, [&](std::string_view k, uint64_t v) {
    if (k == "oom_kill_disable") {
      o.oom_kill_disable = v != 0;
      saw_disable = true;
    } else if (k == "under_oom") {
      o.under_oom = v != 0;
    } else if (k == "oom_kill") {
      o.oom_kill = v;
    }
  });
  if (!st.ok()) return st;
  if (!saw_disable) return Malformed("memory.oom_control", text);
  return o;
}

Status ParseIoStat(std::string_view text, std::vector<IoDeviceStat>* out) {
  out->clear();
  while (!text.empty()) {
    std::string_view line = NextLine(&text);
    std::string_view dev = NextField(&line);
    if (dev.empty()) continue;
    IoDeviceStat d;
    if (!ParseDevice(dev, &d.major, &d.minor)) return Malformed("io.stat", dev);
    for (std::string_view kv = NextField(&line); !kv.empty(); kv = NextField(&line)) {
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos) return Malformed("io.stat", kv);
      std::string_view k = kv.substr(0, eq);
      uint64_t* dst = k == "rbytes"   ? &d.rbytes
                      : k == "wbytes" ? &d.wbytes
                      : k == "rios"   ? &d.rios
                      : k == "wios"   ? &d.wios
                                      : nullptr;
      if (dst == nullptr) continue;  // dbytes, dios, cost.* and future keys.
      if (!ParseU64(kv.substr(eq + 1), dst)) return Malformed("io.stat", kv);
    }
    out->push_back(d);
  }
  return Status::Ok();
}

Status ParseBlkioThrottle(std::string_view text, bool bytes, std::vector<IoDeviceStat>* out) {
  out->clear();
  while (!text.empty()) {
    std::string_view line = NextLine(&text);
    std::string_view first = NextField(&line);
    if (first.empty()) continue;
    if (first == "Total") {
      uint64_t ignored = 0;
      if (!ParseU64(NextField(&line), &ignored)) return Malformed("blkio", first);
      continue;
    }
    uint32_t major = 0, minor = 0;
    if (!ParseDevice(first, &major, &minor)) return Malformed("blkio", first);
    std::string_view op = NextField(&line);
    uint64_t v = 0;
    if (op.empty() || !ParseU64(NextField(&line), &v) || !NextField(&line).empty()) {
      return Malformed("blkio", first);
    }
    if (op != "Read" && op != "Write") continue;
    IoDeviceStat* d = FindOrAddDevice(out, major, minor);
    if (op == "Read") {
      (bytes ? d->rbytes : d->rios) = v;
    } else {
      (bytes ? d->wbytes : d->wios) = v;
    }
  }
  return Status::Ok();
}

Result<CgroupPressure> ParseCgroupPressure(std::string_view text) {
  CgroupPressure p;
  while (!text.empty()) {
    std::string_view line = NextLine(&text);
    std::string_view kind = NextField(&line);
    if (kind.empty()) continue;
    if (kind != "some" && kind != "full") return Malformed("pressure", kind);
    PsiLine l;
    int seen = 0;
    for (std::string_view kv = NextField(&line); !kv.empty(); kv = NextField(&line)) {
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos) return Malformed("pressure", kv);
      std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
      bool ok = true;
      if (k == "avg10") {
        ok = internal::ParseDouble(v, &l.avg10);
      } else if (k == "avg60") {
        ok = internal::ParseDouble(v, &l.avg60);
      } else if (k == "avg300") {
        ok = internal::ParseDouble(v, &l.avg300);
      } else if (k == "total") {
        ok = ParseU64(v, &l.total_us);
        ++seen;
      }
      if (!ok) return Malformed("pressure", kv);
    }
    if (seen != 1) return Malformed("pressure", kind);
    (kind == "some" ? p.some : p.full) = l;
  }
  if (!p.some && !p.full) return Malformed("pressure", text);
  return p;
}

Result<std::string_view> ParseUeventDevName(std::string_view text) {
  while (!text.empty()) {
    std::string_view line = Trim(NextLine(&text));
    if (line.substr(0, 8) == "DEVNAME=" && line.size() > 8) return line.substr(8);
  }
  return Status::NotFound("uevent has no DEVNAME");
}

uint64_t CpuWeightToShares(uint64_t weight) {
  if (weight < 1) weight = 1;
  if (weight > 10000) weight = 10000;
  return 2 + ((weight - 1) * 262142) / 9999;
}

}  // namespace tidemark::collector
