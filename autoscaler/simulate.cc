#include "autoscaler/simulate.h"

#include <charconv>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autoscaler/state_store.h"
#include "common/file_util.h"

namespace tidemark::autoscaler {

const char kSimulateUsage[] =
    "Usage: tidemark autoscaler simulate --policy FILE --metrics FILE [--start-replicas N]\n"
    "                                    [--cpu-cores C] [--json]\n"
    "\n"
    "Replays recorded metric values through the recommender (the HPA algorithm with the policy's\n"
    "tolerance, stabilization windows, rate limits and scale-in window) and prints each decision:\n"
    "time, current, desired, recommendation, limited reason. Every scale is assumed to succeed.\n"
    "\n"
    "  --policy FILE          A policy file (YAML or JSON, the keys of one autoscaler policy)\n"
    "  --metrics FILE         Recorded values, CSV or JSON (.json):\n"
    "                           timestamp,replicas,cpu,p95      <- header: timestamp, optional\n"
    "                           1700000000,3,85,0.21               replicas, one column per "
    "metric\n"
    "                           1700000001,,92,                    (by metric name); empty = no "
    "data\n"
    "                         timestamp in seconds; cpu = average utilisation percent per "
    "replica;\n"
    "                         query metrics = the service's value; optional cpu_throttled = "
    "percent\n"
    "                         of it throttled (without it a saturated row counts as throttled).\n"
    "                         JSON: [{\"timestamp\": 1700000000,\n"
    "                         \"replicas\": 3, \"cpu\": 85, \"p95\": 0.21}, ...], null = no data.\n"
    "  --start-replicas N     Replicas before the first row (default: its replicas, else min)\n"
    "  --cpu-cores C          CPU limit/request per replica the utilisation refers to (default 1)\n"
    "  --json                 One JSON object per decision instead of the table\n"
    "  -h, --help             Show this help\n";

namespace {

constexpr char kAutoscalerUsage[] =
    "Usage: tidemark autoscaler <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  simulate   Replay recorded metric values through a policy and print each decision.\n";

std::vector<std::string_view> SplitComma(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t c = line.find(',', start);
    std::string_view f = line.substr(start, c == std::string_view::npos ? line.npos : c - start);
    while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t' || f.back() == '\r')) {
      f.remove_suffix(1);
    }
    out.push_back(f);
    if (c == std::string_view::npos) break;
    start = c + 1;
  }
  return out;
}

bool ParseDouble(std::string_view s, double* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty() && std::isfinite(*v);
}

int MetricIndex(const Policy& policy, std::string_view name) {
  for (size_t i = 0; i < policy.metrics.size(); ++i) {
    if (policy.metrics[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// "<name>_throttled" for a cpu metric <name>: its index, else -1 (also when a metric has that
// exact name: the metric's column wins).
int ThrottledIndex(const Policy& policy, std::string_view name) {
  constexpr std::string_view kSuffix = "_throttled";
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix ||
      MetricIndex(policy, name) >= 0) {
    return -1;
  }
  const int idx = MetricIndex(policy, name.substr(0, name.size() - kSuffix.size()));
  return idx >= 0 && policy.metrics[idx].type == MetricType::kCpu ? idx : -1;
}

Status CheckOrder(const std::vector<SimSample>& out, const std::string& where) {
  if (out.size() >= 2 && out.back().timestamp_s <= out[out.size() - 2].timestamp_s) {
    return Status::InvalidArgument(where + ": timestamps must increase");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<SimSample>> ParseSimCsv(std::string_view text, const Policy& policy,
                                           std::string_view source) {
  std::vector<SimSample> out;
  // -1 timestamp, -2 replicas, -3 - i throttled time of metric i, else metric index.
  std::vector<int> columns;
  bool seen_header = false;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == text.npos ? text.npos : nl - pos);
    pos = nl == text.npos ? text.size() + 1 : nl + 1;
    ++line_no;
    std::string where = std::string(source) + ":" + std::to_string(line_no);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == line.npos || line[line.find_first_not_of(" \t")] == '#') {
      continue;
    }
    auto fields = SplitComma(line);
    if (!seen_header) {
      seen_header = true;
      std::vector<bool> have(policy.metrics.size(), false);
      for (auto f : fields) {
        if (f == "timestamp") {
          columns.push_back(-1);
        } else if (f == "replicas") {
          columns.push_back(-2);
        } else if (int th = ThrottledIndex(policy, f); th >= 0) {
          columns.push_back(-3 - th);
        } else {
          int idx = MetricIndex(policy, f);
          if (idx < 0) {
            return Status::InvalidArgument(where + ": column \"" + std::string(f) +
                                           "\" is not a metric of policy " + policy.name);
          }
          have[idx] = true;
          columns.push_back(idx);
        }
      }
      if (columns.empty() || columns[0] != -1) {
        return Status::InvalidArgument(where + ": the header must start with timestamp");
      }
      for (size_t i = 0; i < have.size(); ++i) {
        if (!have[i]) {
          return Status::InvalidArgument(where + ": no column for metric \"" +
                                         policy.metrics[i].name + "\"");
        }
      }
      continue;
    }
    if (fields.size() != columns.size()) {
      return Status::InvalidArgument(where + ": expected " + std::to_string(columns.size()) +
                                     " fields, got " + std::to_string(fields.size()));
    }
    SimSample s;
    s.values.resize(policy.metrics.size());
    s.throttled.resize(policy.metrics.size());
    for (size_t i = 0; i < fields.size(); ++i) {
      double v = 0;
      if (fields[i].empty()) {
        if (columns[i] == -1) return Status::InvalidArgument(where + ": empty timestamp");
        continue;
      }
      if (!ParseDouble(fields[i], &v)) {
        return Status::InvalidArgument(where + ": \"" + std::string(fields[i]) +
                                       "\" is not a number");
      }
      if (columns[i] == -1) {
        s.timestamp_s = v;
      } else if (columns[i] == -2) {
        if (v < 0 || v > 1e6 || v != std::floor(v)) {
          return Status::InvalidArgument(where + ": replicas must be a whole number >= 0");
        }
        s.replicas = static_cast<int32_t>(v);
      } else if (columns[i] <= -3) {
        s.throttled[-3 - columns[i]] = v;
      } else {
        s.values[columns[i]] = v;
      }
    }
    out.push_back(std::move(s));
    TIDEMARK_RETURN_IF_ERROR(CheckOrder(out, where));
  }
  if (!seen_header) return Status::InvalidArgument(std::string(source) + ": no header line");
  return out;
}

Result<std::vector<SimSample>> ParseSimJson(std::string_view text, const Policy& policy,
                                            std::string_view source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const std::string src(source);
  if (j.is_discarded()) return Status::InvalidArgument(src + ": not valid JSON");
  if (j.is_object() && j.contains("samples")) j = j["samples"];
  if (!j.is_array()) return Status::InvalidArgument(src + ": expected an array of samples");
  std::vector<SimSample> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& o = j[i];
    std::string where = src + ": sample " + std::to_string(i);
    if (!o.is_object()) return Status::InvalidArgument(where + ": expected an object");
    SimSample s;
    s.values.resize(policy.metrics.size());
    s.throttled.resize(policy.metrics.size());
    for (const auto& [k, v] : o.items()) {
      if (v.is_null()) continue;
      if (!v.is_number()) {
        return Status::InvalidArgument(where + ": " + k + ": expected a number or null");
      }
      double d = v.get<double>();
      if (k == "timestamp") {
        s.timestamp_s = d;
      } else if (k == "replicas") {
        if (d < 0 || d > 1e6 || d != std::floor(d)) {
          return Status::InvalidArgument(where + ": replicas must be a whole number >= 0");
        }
        s.replicas = static_cast<int32_t>(d);
      } else if (int th = ThrottledIndex(policy, k); th >= 0) {
        s.throttled[th] = d;
      } else {
        int idx = MetricIndex(policy, k);
        if (idx < 0) {
          return Status::InvalidArgument(where + ": \"" + k + "\" is not a metric of policy " +
                                         policy.name);
        }
        s.values[idx] = d;
      }
    }
    if (!o.contains("timestamp")) return Status::InvalidArgument(where + ": no timestamp");
    out.push_back(std::move(s));
    TIDEMARK_RETURN_IF_ERROR(CheckOrder(out, where));
  }
  return out;
}

ScaleState ReadyScaleState(int32_t replicas, double cpu_cores_per_replica, int64_t started_ms) {
  ScaleState state;
  state.desired = replicas;
  state.cpu_cores_per_replica = cpu_cores_per_replica;
  for (int32_t i = 0; i < replicas; ++i) {
    Replica r;
    r.name = "replica-" + std::to_string(i);
    r.running = r.ready = true;
    r.started_ms = started_ms;
    r.ready_changed_ms = started_ms + 1000;
    state.replicas.push_back(std::move(r));
  }
  return state;
}

Result<std::vector<Decision>> Simulate(const Policy& policy, const std::vector<SimSample>& samples,
                                       const SimOptions& options) {
  std::vector<Decision> decisions;
  if (samples.empty()) return decisions;
  int32_t replicas =
      options.start_replicas.value_or(samples.front().replicas.value_or(policy.min_replicas));
  History history;
  int64_t next_ms = INT64_MIN;
  const int64_t first_ms = std::llround(samples.front().timestamp_s * 1000);
  for (const SimSample& s : samples) {
    const int64_t now = std::llround(s.timestamp_s * 1000);
    if (s.replicas) replicas = *s.replicas;
    // Like the agent: every row is a collection cycle whose recommendation is recorded; the
    // decision is acted on at the sync period, or at once when it is a panic scale-up.
    const bool due = now >= next_ms;
    const ScaleState state =
        ReadyScaleState(replicas, options.cpu_cores_per_replica, first_ms - 3600000);
    std::vector<MetricInput> inputs(policy.metrics.size());
    for (size_t m = 0; m < policy.metrics.size(); ++m) {
      const std::optional<double>& v = m < s.values.size() ? s.values[m] : std::nullopt;
      if (policy.metrics[m].type == MetricType::kQuery) {
        inputs[m].value = v;
        continue;
      }
      if (!v) continue;  // Every replica's sample is missing.
      const std::optional<double> th = m < s.throttled.size() ? s.throttled[m] : std::nullopt;
      for (const Replica& r : state.replicas) {
        inputs[m].cpu[r.name] = {*v / 100.0 * options.cpu_cores_per_replica, now, 1000};
        if (th) {
          inputs[m].cpu_throttled_recent[r.name] = {*th / 100.0 * options.cpu_cores_per_replica,
                                                    now, 1000};
        }
      }
      inputs[m].cpu_recent = inputs[m].cpu;  // A row is one interval.
    }
    Decision d = Recommend(policy, now, state, inputs, &history);
    if (!due && !ActBetweenSyncs(d)) {
      PruneHistory(policy, now, &history);
      continue;
    }
    next_ms = now + policy.sync_period.count();  // The agent restarts the period at any reconcile.
    if (d.rescale) {
      RecordRescale(policy, now, replicas, d.desired, &history);
      replicas = d.desired;
    }
    PruneHistory(policy, now, &history);
    decisions.push_back(std::move(d));
  }
  return decisions;
}

int RunSimulateCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string policy_path, metrics_path;
  SimOptions opt;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* v) {
      if (i + 1 >= args.size()) return false;
      *v = args[++i];
      return true;
    };
    std::string v;
    if (a == "-h" || a == "--help") {
      out << kSimulateUsage;
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--policy") {
      if (!value(&policy_path)) break;
    } else if (a == "--metrics") {
      if (!value(&metrics_path)) break;
    } else if (a == "--start-replicas" || a == "--cpu-cores") {
      double d = 0;
      if (!value(&v) || !ParseDouble(v, &d) || d < 0 ||
          (a == "--start-replicas" && (d != std::floor(d) || d > 1e6)) ||
          (a == "--cpu-cores" && d <= 0)) {
        err << "tidemark: " << a << ": expected a " << (a == "--cpu-cores" ? "positive" : "whole")
            << " number\n";
        return 2;
      }
      if (a == "--cpu-cores") {
        opt.cpu_cores_per_replica = d;
      } else {
        opt.start_replicas = static_cast<int32_t>(d);
      }
    } else {
      err << "tidemark: unknown flag \"" << a << "\" (see tidemark autoscaler simulate --help)\n";
      return 2;
    }
  }
  if (policy_path.empty() || metrics_path.empty()) {
    err << "tidemark: --policy FILE and --metrics FILE are required\n" << kSimulateUsage;
    return 2;
  }
  auto policy = LoadPolicyFile(policy_path);
  if (!policy.ok()) {
    err << "tidemark: " << policy.status().message() << "\n";
    return 2;
  }
  auto text = ReadFile(metrics_path);
  if (!text.ok()) {
    err << "tidemark: metrics file " << text.status().message() << "\n";
    return 2;
  }
  size_t first = text->find_first_not_of(" \t\r\n");
  bool is_json = metrics_path.ends_with(".json") ||
                 (first != std::string::npos && ((*text)[first] == '[' || (*text)[first] == '{'));
  auto samples = is_json ? ParseSimJson(*text, *policy, metrics_path)
                         : ParseSimCsv(*text, *policy, metrics_path);
  if (!samples.ok()) {
    err << "tidemark: " << samples.status().message() << "\n";
    return 2;
  }
  auto decisions = Simulate(*policy, *samples, opt);
  if (!decisions.ok()) {
    err << "tidemark: " << decisions.status().message() << "\n";
    return 1;
  }
  if (!json) {
    out << std::left << std::setw(16) << "time" << std::setw(8) << "current" << std::setw(8)
        << "desired" << std::setw(15) << "recommendation" << std::setw(20) << "limited"
        << "reason\n";
  }
  for (const Decision& d : *decisions) {
    std::ostringstream t;
    t << d.time_ms / 1000.0;
    if (json) {
      nlohmann::json j = DecisionToJson(d);
      j["timestamp"] = d.time_ms / 1000.0;
      out << j.dump() << "\n";
      continue;
    }
    std::string reason = d.reason;
    if (const Condition* c = d.Find("ScalingActive"); c && !c->status) reason = c->message;
    if (const Condition* c = d.Find("AbleToScale");
        reason.empty() && c && c->reason.ends_with("Stabilized")) {
      reason = "held: " + c->reason;
    }
    out << std::left << std::setw(16) << t.str() << std::setw(8) << d.current << std::setw(8)
        << d.desired << std::setw(15) << d.recommendation << std::setw(20)
        << (d.limited_reason.empty() ? "-" : d.limited_reason) << reason << "\n";
  }
  return 0;
}

int RunAutoscalerCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    (args.empty() ? err : out) << kAutoscalerUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "simulate") {
    return RunSimulateCommand(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  }
  err << "tidemark: unknown autoscaler command \"" << args[0] << "\"\n" << kAutoscalerUsage;
  return 2;
}

}  // namespace tidemark::autoscaler
