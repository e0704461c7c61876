#include "agent/self_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <string_view>
#include <vector>

#include "agent/exposition.h"
#include "common/file_util.h"

namespace tidemark::agent {

Result<ProcessStats> ParseProcessStat(std::string_view stat, long clk_tck, long page_size,
                                      double boot_time_seconds) {
  // The comm field may contain spaces and parentheses; fields restart after the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return Status::InvalidArgument("stat: no ')' after comm");
  std::string_view rest = stat.substr(close + 1);
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state).
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    size_t sp = rest.find_first_of(" \n");
    if (rest.empty()) break;
    fields.push_back(rest.substr(0, sp));
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
    if (!rest.empty() && rest.front() == '\n') break;
  }
  if (fields.size() < 22) return Status::InvalidArgument("stat: too few fields");
  auto num = [&](size_t field) -> Result<double> {
    std::string_view f = fields[field - 3];
    unsigned long long v = 0;
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (ec != std::errc() || p != f.data() + f.size()) {
      return Status::InvalidArgument("stat: field " + std::to_string(field) + " is not a number");
    }
    return static_cast<double>(v);
  };
  ProcessStats s;
  auto utime = num(14), stime = num(15), start = num(22), vsize = num(23), rss = num(24);
  for (auto* r : {&utime, &stime, &start, &vsize, &rss}) {
    if (!r->ok()) return r->status();
  }
  s.cpu_seconds = (*utime + *stime) / static_cast<double>(clk_tck);
  s.start_time_seconds = boot_time_seconds + *start / static_cast<double>(clk_tck);
  s.virtual_bytes = *vsize;
  s.resident_bytes = *rss * static_cast<double>(page_size);
  return s;
}

Result<ProcessStats> ReadSelfStats(const std::string& proc) {
  std::string stat;
  TIDEMARK_RETURN_IF_ERROR(ReadFileInto(proc + "/self/stat", &stat));
  std::string pstat;
  TIDEMARK_RETURN_IF_ERROR(ReadFileInto(proc + "/stat", &pstat));
  double btime = 0;
  size_t pos = pstat.find("\nbtime ");
  if (pos != std::string::npos) btime = std::strtod(pstat.c_str() + pos + 7, nullptr);
  auto s = ParseProcessStat(stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), btime);
  if (!s.ok()) return s;
  auto fds = ListDir(proc + "/self/fd", false);
  if (fds.ok()) s->open_fds = static_cast<double>(fds->size());
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) s->max_fds = static_cast<double>(rl.rlim_cur);
  return s;
}

void AddProcessMetrics(const ProcessStats& s, SampleBatch* b) {
  auto add = [&](std::string_view name, std::string_view help, MetricType type, double v) {
    b->Add(b->Family(name, help, type), nullptr, v);
  };
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::kCounter, s.cpu_seconds);
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge,
      s.resident_bytes);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge,
      s.virtual_bytes);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      MetricType::kGauge, s.start_time_seconds);
  add("process_open_fds", "Number of open file descriptors.", MetricType::kGauge, s.open_fds);
  add("process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge, s.max_fds);
}

void AddRegistryMetrics(prometheus::Registry& registry, SampleBatch* b) {
  auto to_labels = [](const prometheus::ClientMetric& m) {
    Labels out;
    out.reserve(m.label.size() + 1);
    for (const auto& l : m.label) out.push_back(Label{l.name, l.value});
    return out;
  };
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    MetricType type = MetricType::kUntyped;
    switch (f.type) {
      case prometheus::MetricType::Counter:
        type = MetricType::kCounter;
        break;
      case prometheus::MetricType::Gauge:
        type = MetricType::kGauge;
        break;
      case prometheus::MetricType::Histogram:
        type = MetricType::kHistogram;
        break;
      default:
        type = MetricType::kUntyped;
        break;
    }
    size_t idx = b->Family(f.name, f.help, type);
    for (const prometheus::ClientMetric& m : f.metric) {
      switch (f.type) {
        case prometheus::MetricType::Counter:
          b->Add(idx, nullptr, to_labels(m), m.counter.value);
          break;
        case prometheus::MetricType::Gauge:
          b->Add(idx, nullptr, to_labels(m), m.gauge.value);
          break;
        case prometheus::MetricType::Histogram: {
          for (const auto& bucket : m.histogram.bucket) {
            Labels l = to_labels(m);
            std::string le;
            AppendDouble(bucket.upper_bound, &le);
            l.push_back(Label{"le", le});
            b->Add(idx, nullptr, std::move(l), static_cast<double>(bucket.cumulative_count),
                   SeriesPart::kBucket);
          }
          b->Add(idx, nullptr, to_labels(m), m.histogram.sample_sum, SeriesPart::kSum);
          b->Add(idx, nullptr, to_labels(m), static_cast<double>(m.histogram.sample_count),
                 SeriesPart::kCount);
          break;
        }
        default:
          b->Add(idx, nullptr, to_labels(m), m.untyped.value);
          break;
      }
    }
  }
}

}  // namespace tidemark::agent
