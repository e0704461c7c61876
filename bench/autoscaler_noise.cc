// Noisy oscillating CPU load for 10 minutes at 1 s, fed (a) to tidemark's recommender with 1 s
// metrics and (b) to the HPA algorithm with its default behaviour on 15 s-old, 15 s-sampled
// metrics. Prints each scale event, the max replicas, the reaction time and checks that no
// scale-in happened inside the stabilization window (exit 1 if one did). Run by
// bench/autoscaler_noise.py; `autoscaler_noise [--seed N] [--json]`.
//
// Load generator (deterministic: mt19937_64 + Box–Muller, seed 42 by default), demand in cores:
//   t < 60 s:  0.8                                   (idle: 40 % of 2 replicas of 1 core)
//   t ≥ 60 s:  3 + 2·sin(2π(t−60)/120)               (2-minute oscillation between 1 and 5 cores)
//   × (1 + 0.15·N(0,1)) every second, + 2 cores for 3 s bursts starting with p = 0.02 per second.
// Replicas have a 1-core CPU limit; the utilisation of second t is min(100, demand/replicas)%.
// Every replica is ready at once (no start-up delay) in both systems.
// (a) sync_period 1 s, the value of the second that just ended; Kubernetes' behavior defaults.
// (b) sync every 15 s; the value is the mean utilisation of [T−30 s, T−15 s) (metrics-server's
//     15 s resolution, up to 15 s old at the sync); no behavior set (legacy: 5 min
//     max-of-recommendations, scale-up ≤ max(2×current, 4)). (b2) the same metrics with the v2
//     behavior defaults, for reference. Two tidemark variants: a 3 s scale-up stabilization
//     window, and metrics averaged over the last 5 s (what `rate(...[5s])` gives).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "autoscaler/recommender.h"
#include "autoscaler/simulate.h"

namespace {

using tidemark::autoscaler::Decision;
using tidemark::autoscaler::History;
using tidemark::autoscaler::MetricInput;
using tidemark::autoscaler::MetricSpec;
using tidemark::autoscaler::Policy;
using tidemark::autoscaler::ReadyScaleState;
using tidemark::autoscaler::Replica;
using tidemark::autoscaler::ScaleState;

constexpr int kSeconds = 600;
constexpr int kLoadStart = 60;
constexpr int kTarget = 60;
constexpr int64_t kT0 = 1700000000000;

std::vector<double> Demand(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
  auto normal = [&] {
    return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
  };
  std::vector<double> d(kSeconds);
  int burst = 0;
  for (int t = 0; t < kSeconds; ++t) {
    double base = t < kLoadStart ? 0.8 : 3 + 2 * std::sin(2 * M_PI * (t - kLoadStart) / 120.0);
    double v = base * (1 + 0.15 * normal());
    if (burst == 0 && uniform() < 0.02) burst = 3;
    if (burst > 0) {
      v += 2;
      --burst;
    }
    d[t] = std::max(0.0, v);
  }
  return d;
}

struct Event {
  int t;
  int32_t from, to, recommendation;
};

struct Outcome {
  std::string name;
  std::vector<Event> events;
  std::vector<Decision> decisions;
  int32_t max_replicas = 0;
  int first_crossing = -1;  // First second whose utilisation exceeded target × (1 + tolerance).
  int first_scale_up = -1;
  int scale_in_violations = 0;
  double decide_ns = 0;  // Mean wall time of one Recommend call.
};

Outcome Run(const std::string& name, const Policy& p, const std::vector<double>& demand, int sync_s,
            int delay_s, int window_s) {
  Outcome o;
  o.name = name;
  History h;
  int32_t replicas = 2;
  o.max_replicas = replicas;
  std::vector<double> util(kSeconds);
  const double threshold = kTarget * (1 + p.scale_up.tolerance);
  for (int t = 0; t < kSeconds; ++t) {
    if (t % sync_s == 0 && t - delay_s - window_s >= 0) {
      double sum = 0;
      for (int s = t - delay_s - window_s; s < t - delay_s; ++s) sum += util[s];
      const double value = sum / window_s;
      const ScaleState state = ReadyScaleState(replicas, 1, kT0 - 3600000);
      MetricInput in;
      for (const Replica& r : state.replicas) {
        in.cpu[r.name] = {value / 100.0, kT0 + t * 1000LL, window_s * 1000LL};
      }
      const int64_t now = kT0 + t * 1000LL;
      const std::vector<MetricInput> inputs = {in};
      const auto start = std::chrono::steady_clock::now();
      Decision d = Recommend(p, now, state, inputs, &h);
      o.decide_ns +=
          std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
              .count();
      if (d.rescale) {
        o.events.push_back({t, replicas, d.desired, d.recommendation});
        if (d.desired > replicas && o.first_scale_up < 0) o.first_scale_up = t;
        if (d.desired < replicas) {
          // Stabilization: no raw recommendation of the window may exceed the new count.
          const int64_t window =
              p.legacy_behavior ? 300000 : p.scale_down.stabilization_window.count();
          for (const Decision& old : o.decisions) {
            if (old.time_ms > now - window && old.recommendation > d.desired &&
                !old.metrics.empty() && old.metrics[0].valid) {
              ++o.scale_in_violations;
              break;
            }
          }
        }
        RecordRescale(p, now, replicas, d.desired, &h);
        replicas = d.desired;
        o.max_replicas = std::max(o.max_replicas, replicas);
      }
      PruneHistory(p, now, &h);
      o.decisions.push_back(std::move(d));
    }
    util[t] = std::min(100.0, demand[t] / replicas * 100);
    if (o.first_crossing < 0 && util[t] > threshold) o.first_crossing = t;
  }
  if (!o.decisions.empty()) o.decide_ns /= o.decisions.size();
  return o;
}

Policy BasePolicy() {
  Policy p;
  p.name = "bench";
  p.target = {"SwarmService", "", "bench"};
  p.min_replicas = 1;
  p.max_replicas = 20;
  MetricSpec m;
  m.name = "cpu";
  m.target_utilization = kTarget;
  p.metrics = {m};
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 42;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else {
      std::fprintf(stderr, "usage: autoscaler_noise [--seed N] [--json]\n");
      return 2;
    }
  }
  const std::vector<double> demand = Demand(seed);
  Policy ours = BasePolicy();
  ours.sync_period = std::chrono::seconds(1);
  Policy ours_up3 = ours;
  ours_up3.scale_up.stabilization_window = std::chrono::seconds(3);
  Policy hpa = BasePolicy();
  hpa.legacy_behavior = true;
  Policy hpa_v2 = BasePolicy();
  std::vector<Outcome> runs = {
      Run("tidemark (1 s metrics, sync 1 s, behavior defaults)", ours, demand, 1, 0, 1),
      Run("HPA default (no behavior; 15 s sync, 15-30 s old metrics)", hpa, demand, 15, 15, 15),
      Run("HPA v2 behavior defaults (15 s sync, 15-30 s old metrics)", hpa_v2, demand, 15, 15, 15),
      Run("tidemark, scale_up stabilization_window 3s (1 s metrics, sync 1 s)", ours_up3, demand, 1,
          0, 1),
      Run("tidemark, 5 s mean metrics (rate over 5s, sync 1 s)", ours, demand, 1, 0, 5)};
  int violations = 0;
  if (json) std::printf("{\"seed\": %llu, \"runs\": [", static_cast<unsigned long long>(seed));
  for (size_t i = 0; i < runs.size(); ++i) {
    const Outcome& o = runs[i];
    violations += o.scale_in_violations;
    if (json) {
      std::printf(
          "%s{\"name\": \"%s\", \"scale_events\": %zu, \"max_replicas\": %d, "
          "\"first_crossing_s\": %d, \"first_scale_up_s\": %d, \"reaction_s\": %d, "
          "\"scale_in_violations\": %d, \"decide_ns\": %.0f, \"events\": [",
          i ? ", " : "", o.name.c_str(), o.events.size(), o.max_replicas, o.first_crossing,
          o.first_scale_up, o.first_scale_up - o.first_crossing, o.scale_in_violations,
          o.decide_ns);
      for (size_t e = 0; e < o.events.size(); ++e) {
        std::printf("%s[%d, %d, %d]", e ? ", " : "", o.events[e].t, o.events[e].from,
                    o.events[e].to);
      }
      std::printf("]}");
      continue;
    }
    std::printf("== %s\n", o.name.c_str());
    for (const Event& e : o.events) {
      std::printf("  t=%3ds  %2d -> %2d  (recommendation %d)\n", e.t, e.from, e.to,
                  e.recommendation);
    }
    std::printf(
        "  scale events %zu, max replicas %d, first threshold crossing t=%ds, first "
        "scale-up t=%ds, reaction %ds (from load start t=%ds: %ds), scale-ins inside "
        "the stabilization window: %d, mean decision time %.1f us\n\n",
        o.events.size(), o.max_replicas, o.first_crossing, o.first_scale_up,
        o.first_scale_up - o.first_crossing, kLoadStart, o.first_scale_up - kLoadStart,
        o.scale_in_violations, o.decide_ns / 1000);
  }
  if (json) {
    std::printf("]}\n");
  } else {
    std::printf("target: tidemark scale events (%zu) <= HPA default (%zu): %s\n",
                runs[0].events.size(), runs[1].events.size(),
                runs[0].events.size() <= runs[1].events.size() ? "MET" : "NOT MET");
    std::printf("scale-in inside a stabilization window: %s\n",
                violations ? "YES (FAIL)" : "never");
  }
  return violations ? 1 : 0;
}
