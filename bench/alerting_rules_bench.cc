// 100 rules over 10 000 series: loads the series into a tsdb::Db, evaluates the rule group through
// RuleManager for a number of cycles and prints per-cycle times as JSON. With --out DIR it also
// writes the same samples as OpenMetrics (for `promtool tsdb create-blocks-from openmetrics`) and
// the rule file, so bench/alerting_rules_bench.py can time Prometheus 2.42 on the same work.
//
//   alerting_rules_bench [--series 10000] [--rules 100] [--cycles 30] [--end-ms T] [--out DIR]
//                        [--selective 0|1]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "alerting/rules.h"
#include "common/clock.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"

namespace {

using namespace tidemark;

constexpr int kFamilies = 10;
constexpr int64_t kStepMs = 15'000;
constexpr int64_t kSpanMs = 30 * 60'000;

struct NullSink : alerting::AlertSink {
  size_t alerts = 0;
  void Send(std::vector<alerting::Alert> a) override { alerts += a.size(); }
};

// Counter families bench_c<k>_total and gauge families bench_g<k>, per pod/job/instance.
Labels SeriesLabels(int i, int per_family) {
  int fam = i / per_family;
  int j = i % per_family;
  bool counter = fam % 2 == 0;
  std::string name = counter ? "bench_c" + std::to_string(fam / 2) + "_total"
                             : "bench_g" + std::to_string(fam / 2);
  return {{"__name__", name},
          {"instance", "host-" + std::to_string(j % 50)},
          {"job", "job-" + std::to_string(j % 10)},
          {"pod", "pod-" + std::to_string(j)}};
}

double SampleValue(int i, int64_t step, bool counter) {
  if (counter) return static_cast<double>(step) * (1 + i % 7) + (i % 13);
  return 0.5 + 0.5 * std::sin(static_cast<double>(step) / 8 + i);  // In [0, 1].
}

// selective: each rule reads one job's tenth of a family (100 of the 10 000 series) instead of
// the whole family (1000).
std::string RulesYaml(int rules, bool selective) {
  std::string y = "groups:\n- name: bench\n  interval: 5s\n  rules:\n";
  for (int r = 0; r < rules; ++r) {
    int k = r % (kFamilies / 2);
    std::string sel = selective ? "{job=\"job-" + std::to_string((r / 5) % 10) + "\"}" : "";
    std::string cn = "bench_c" + std::to_string(k) + "_total", c = cn + sel;
    std::string gn = "bench_g" + std::to_string(k), g = gn + sel;
    switch (r % 4) {
      case 0:
        y += "  - record: job:" + cn + ":rate5m_" + std::to_string(r) +
             "\n    expr: sum by (job) (rate(" + c + "[5m]))\n";
        break;
      case 1:
        y += "  - alert: HighRate" + std::to_string(r) +
             "\n    expr: sum by (job, instance) (rate(" + c + "[5m])) > " +
             std::to_string(1 + r % 5) +
             "\n    for: 1m\n    labels:\n      severity: warning\n    annotations:\n"
             "      summary: \"{{ $labels.instance }} of {{ $labels.job }}: {{ $value | humanize "
             "}}/s\"\n";
        break;
      case 2:
        y += "  - alert: GaugeHigh" + std::to_string(r) + "\n    expr: " + g +
             " > 0.95\n    labels:\n      severity: \"{{ if gt $value 0.99 }}critical{{ else "
             "}}warning{{ end }}\"\n"
             "    annotations:\n      summary: \"{{ $labels.pod }} at {{ $value | "
             "humanizePercentage }}\"\n";
        break;
      default:
        y += "  - record: instance:" + gn + ":avg_" + std::to_string(r) +
             "\n    expr: avg by (instance) (" + g +
             ") / on (instance) group_left max by (instance) (" + g + ")\n";
    }
  }
  return y;
}

}  // namespace

int main(int argc, char** argv) {
  int series = 10000, rules = 100, cycles = 30;
  bool selective = false;
  int64_t end_ms = ToUnixMillis(SystemClock::Instance().Now());
  std::string out_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--series")
      series = std::atoi(argv[i + 1]);
    else if (a == "--rules")
      rules = std::atoi(argv[i + 1]);
    else if (a == "--cycles")
      cycles = std::atoi(argv[i + 1]);
    else if (a == "--end-ms")
      end_ms = std::atoll(argv[i + 1]);
    else if (a == "--selective")
      selective = std::string(argv[i + 1]) == "1";
    else if (a == "--out")
      out_dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  end_ms -= end_ms % kStepMs;
  const int per_family = std::max(1, series / kFamilies);
  std::string tmp = out_dir.empty()
                        ? (std::filesystem::temp_directory_path() / "alerting_rules_bench").string()
                        : out_dir;
  std::filesystem::remove_all(tmp + "/tsdb");
  std::filesystem::create_directories(tmp);

  tsdb::DbOptions opts;
  opts.dir = tmp + "/tsdb";
  Result<std::unique_ptr<tsdb::Db>> db = tsdb::Db::Open(opts, SystemClock::Instance());
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
    return 1;
  }
  std::ofstream om;
  if (!out_dir.empty()) {
    om.open(out_dir + "/series.om");
    std::ofstream(out_dir + "/rules.yml") << RulesYaml(rules, selective);
  }
  std::vector<Labels> labels(series);
  for (int i = 0; i < series; ++i) labels[i] = SeriesLabels(i, per_family);
  const int64_t start_ms = end_ms - kSpanMs;
  const int64_t steps = kSpanMs / kStepMs;
  auto load_start = std::chrono::steady_clock::now();
  // OpenMetrics wants each family's samples together, so the file is written family by family.
  for (int64_t s = 0; s <= steps; ++s) {
    tsdb::Db::Appender app = (*db)->NewAppender();
    for (int i = 0; i < series; ++i) {
      bool counter = (i / per_family) % 2 == 0;
      app.Add(labels[i], start_ms + s * kStepMs, SampleValue(i, s, counter));
    }
    Result<tsdb::CommitResult> c = app.Commit();
    if (!c.ok()) {
      std::fprintf(stderr, "commit: %s\n", c.status().ToString().c_str());
      return 1;
    }
  }
  if (om.is_open()) {
    std::string last_family;
    for (int i = 0; i < series; ++i) {
      const std::string& name = labels[i][0].value;
      bool counter = (i / per_family) % 2 == 0;
      if (name != last_family) {
        std::string fam = counter ? name.substr(0, name.size() - 6) : name;
        om << "# TYPE " << fam << (counter ? " counter\n" : " gauge\n");
        last_family = name;
      }
      std::string ls;
      for (size_t k = 1; k < labels[i].size(); ++k) {
        ls += (k > 1 ? "," : "") + labels[i][k].name + "=\"" + labels[i][k].value + "\"";
      }
      for (int64_t s = 0; s <= steps; ++s) {
        char v[64];
        std::snprintf(v, sizeof(v), "%.17g", SampleValue(i, s, counter));
        om << name << "{" << ls << "} " << v << " " << (start_ms + s * kStepMs) / 1000 << "\n";
      }
    }
    om << "# EOF\n";
    om.close();
  }
  double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

  promql::Engine engine(db->get(), promql::EngineOptions{});
  NullSink sink;
  alerting::RuleManagerOptions mo;
  mo.rules.default_interval = std::chrono::seconds(5);
  mo.query = alerting::EngineQueryFunc(&engine);
  mo.append = alerting::DbAppendFunc(db->get());
  mo.sink = &sink;
  alerting::RuleManager mgr(std::move(mo), SystemClock::Instance());
  std::vector<std::string> errs =
      mgr.Reload({alerting::RuleSource::Text("bench_rules.yml", RulesYaml(rules, selective))});
  for (const auto& e : errs) std::fprintf(stderr, "rule error: %s\n", e.c_str());
  if (!errs.empty()) return 1;

  auto cpu_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  };
  std::vector<double> ms, cpu;
  const int64_t eval_start = end_ms - 5 * 60'000;
  for (int c = 0; c < cycles; ++c) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_ms();
    mgr.EvalAllAt(eval_start + c * 5'000);
    cpu.push_back(cpu_ms() - c0);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  size_t unhealthy = 0, alerts = 0;
  double group_s = 0;
  for (const auto& g : mgr.Snapshot()) {
    group_s = g.evaluation_seconds;
    for (const auto& r : g.rules) {
      if (r.health != alerting::RuleHealth::kGood) {
        ++unhealthy;
        std::fprintf(stderr, "rule %s: %s\n", r.name.c_str(), r.last_error.c_str());
      }
      alerts += r.alerts.size();
    }
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf(
      "{\"series\":%d,\"rules\":%d,\"cycles\":%d,\"load_seconds\":%.3f,\"cycle_ms_median\":%.3f,"
      "\"cycle_cpu_ms_median\":%.3f,\"cycle_ms_min\":%.3f,\"cycle_ms_max\":%.3f,\"last_group_"
      "seconds\":%.6f,"
      "\"active_alerts\":%zu,\"alerts_sent\":%zu,\"unhealthy_rules\":%zu,\"data_end_ms\":%lld}\n",
      series, rules, cycles, load_s, sorted[sorted.size() / 2], cpu[cpu.size() / 2], sorted.front(),
      sorted.back(), group_s, alerts, sink.alerts, unhealthy, static_cast<long long>(end_ms));
  return unhealthy == 0 ? 0 : 1;
}
