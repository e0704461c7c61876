// Scale events under a noisy oscillating CPU load for 10 minutes: tidemark (a model of the agent's
// controller around the real recommender) against the HPA algorithm with its default behaviour,
// on the same per-second demand series, over many seeds. Prints, per configuration, the mean and
// max scale events, the seeds where it made more events than the HPA, scale-ins inside the
// stabilization window, the load left unserved (core-seconds above capacity), the replica-seconds
// used and the reaction to a clean load step. Exit 1 on a scale-in inside the window.
// Run by bench/autoscaler_noise.py; `autoscaler_noise [--seeds N] [--startup S] [--burst CORES]
// [--min-step F] [--trace SEED]` (--min-step: tidemark's scale_down.min_step instead of 0.3).
//
// Demand in cores (mt19937_64 + Box–Muller, seed 42 then 1..N-1):
//   t < 60 s:  0.8                                   (idle: 40 % of 2 replicas of 1 core)
//   t ≥ 60 s:  3 + 2·sin(2π(t−60)/120)               (2-minute oscillation between 1 and 5 cores)
//   × (1 + 0.15·N(0,1)) every second, + 2 cores (--burst) for 3 s bursts starting with p = 0.02
//   per second.
// Replicas have a 1-core CPU limit; the utilisation of second t is min(100, demand/ready)% over
// the ready replicas, and demand above the limit is throttled time (up to 1 core: 2-CPU nodes). A
// new replica is pending for --startup seconds (default 0), then ready and taking load; scale-in
// removes the newest. Target 60 %, 1..20 replicas.
//
// tidemark, as agent/autoscaler_service.cc runs it at a 1 s collection interval: every second the
// recommender sees the mean of the last 3 s (the agent's rate window) and the last second (irate,
// the panic check, with the throttled time) and records its recommendation; the decision is acted
// on at each sync period (5 s) and, between those, only for a panic scale-up (ActBetweenSyncs);
// the scale state is fresh every second (the agent's between-sync checks use the last sync's
// replica list).
// HPA: every 15 s, the mean utilisation of [T−30 s, T−15 s) (metrics-server's 15 s resolution, up
// to 15 s old at the sync); default behaviour (no `behavior`: 5 min max-of-recommendations,
// scale-up ≤ max(2×current, 4)); the v2 behavior defaults are printed for reference.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

std::vector<double> Demand(uint64_t seed, bool noisy, double burst_cores) {
  std::mt19937_64 rng(seed);
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
  auto normal = [&] {
    return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
  };
  std::vector<double> d(kSeconds);
  int burst = 0;
  for (int t = 0; t < kSeconds; ++t) {
    double base = t < kLoadStart ? 0.8 : 3 + 2 * std::sin(2 * M_PI * (t - kLoadStart) / 120.0);
    double v = base * (1 + (noisy ? 0.15 : 0) * normal());
    if (burst == 0 && uniform() < 0.02) burst = 3;
    if (burst > 0) {
      v += noisy ? burst_cores : 0;
      --burst;
    }
    d[t] = std::max(0.0, v);
  }
  return d;
}

struct Config {
  std::string name;
  Policy policy;
  bool hpa = false;  // The HPA's cadence and metric age instead of the agent's.
};

struct Outcome {
  int events = 0;
  int scale_ups = 0;
  int panic_ups = 0;
  int first_up = -1;  // First scale-up at or after the load start.
  int scale_in_violations = 0;
  double unserved = 0;  // Core-seconds of demand above the replicas' capacity.
  double replica_seconds = 0;
};

// One 10-minute run. New replicas become ready (and take load) `startup_s` seconds after the
// scale-up; until then they are pending replicas in the scale state, as the orchestrator shows.
Outcome Run(const Config& c, const std::vector<double>& demand, int startup_s, bool trace) {
  const Policy& p = c.policy;
  Outcome o;
  History h;
  std::vector<int64_t> ready_at = {kT0 - 3600000, kT0 - 3600000};  // Ms; one per replica.
  std::vector<double> util(kSeconds);                              // Of the ready replicas.
  std::vector<double> throttled(kSeconds);                         // Cores, per ready replica.
  std::vector<Decision> decisions;
  int64_t next_sync = 0;
  for (int t = 0; t < kSeconds; ++t) {
    const int64_t now = kT0 + t * 1000LL;
    const int32_t replicas = static_cast<int32_t>(ready_at.size());
    const int stable_window = c.hpa ? 15 : 3;
    const int age = c.hpa ? 15 : 0;
    const bool due = now >= next_sync;
    if (t - age - stable_window >= 0 && (!c.hpa || due)) {
      double sum = 0;
      for (int s = t - age - stable_window; s < t - age; ++s) sum += util[s];
      ScaleState state;
      state.desired = replicas;
      state.cpu_cores_per_replica = 1;
      MetricInput in;
      for (int32_t i = 0; i < replicas; ++i) {
        Replica r;
        r.name = "replica-" + std::to_string(i);
        r.running = r.ready = ready_at[i] <= now;
        r.started_ms = ready_at[i] - 1000;
        r.ready_changed_ms = ready_at[i];
        // A sample covers only time the replica was ready and serving (a new container's
        // usage starts with it); a window reaching further back has no sample for it.
        const int64_t window_start = now - (age + stable_window) * 1000LL;
        if (ready_at[i] <= window_start) {
          in.cpu[r.name] = {sum / stable_window / 100.0, now, stable_window * 1000LL};
        }
        if (!c.hpa && ready_at[i] <= now - 1000) {
          in.cpu_recent[r.name] = {util[t - 1] / 100.0, now, 1000};
          in.cpu_throttled_recent[r.name] = {throttled[t - 1], now, 1000};  // Per replica.
        }
        state.replicas.push_back(std::move(r));
      }
      Decision d = Recommend(p, now, state, {in}, &h);
      if (due || ActBetweenSyncs(d)) {
        next_sync = now + p.sync_period.count();  // The agent restarts the period at a reconcile.
        if (d.rescale) {
          if (trace) {
            std::printf("    t=%3ds %2d -> %2d%s%s\n", t, replicas, d.desired, d.panic ? "  " : "",
                        d.panic ? d.panic_reason.c_str() : "");
          }
          ++o.events;
          if (d.desired > replicas) {
            ++o.scale_ups;
            o.panic_ups += d.panic ? 1 : 0;
            if (o.first_up < 0 && t >= kLoadStart) o.first_up = t;
          } else {
            // Stabilization: no valid recommendation of the window may exceed the new count.
            const int64_t window =
                p.legacy_behavior ? 300000 : p.scale_down.stabilization_window.count();
            for (const Decision& old : decisions) {
              if (old.time_ms > now - window && old.recommendation > d.desired &&
                  !old.metrics.empty() && old.metrics[0].valid) {
                ++o.scale_in_violations;
                break;
              }
            }
          }
          RecordRescale(p, now, replicas, d.desired, &h);
          ready_at.resize(d.desired, now + startup_s * 1000LL);  // Scale-in drops the newest.
        }
      }
      PruneHistory(p, now, &h);
      decisions.push_back(std::move(d));
    }
    int32_t ready = 0;
    for (int64_t r : ready_at) ready += r <= now ? 1 : 0;
    util[t] = ready == 0 ? 100.0 : std::min(100.0, demand[t] / ready * 100);
    // Demand above the limit is throttled time, up to the second CPU of a 2-CPU node.
    throttled[t] = ready == 0 ? 0 : std::min(1.0, std::max(0.0, demand[t] / ready - 1));
    o.unserved += std::max(0.0, demand[t] - ready);
    o.replica_seconds += static_cast<double>(ready_at.size());
  }
  return o;
}

Policy BasePolicy() {
  Policy p;  // tidemark's defaults: sync 5 s, scale-up window 15 s, panic on.
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
  int seeds = 200;
  int trace_seed = -1;
  int startup_s = 0;
  double burst_cores = 2;
  double min_step = -1;  // < 0: tidemark's default.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
      trace_seed = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--startup") == 0 && i + 1 < argc) {
      startup_s = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--burst") == 0 && i + 1 < argc) {
      burst_cores = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--min-step") == 0 && i + 1 < argc) {
      min_step = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: autoscaler_noise [--seeds N] [--startup S] [--burst CORES] "
                   "[--min-step F] [--trace SEED]\n");
      return 2;
    }
  }
  std::vector<Config> configs;
  configs.push_back({"tidemark defaults (window up 15s, panic)", BasePolicy()});
  if (min_step >= 0) {
    configs[0].name = "tidemark, scale_down.min_step " + std::to_string(min_step).substr(0, 4);
    configs[0].policy.scale_down.min_step = min_step;
  }
  Config up0{"tidemark, scale_up window 0 (HPA's)", BasePolicy()};
  up0.policy.scale_up.stabilization_window = std::chrono::seconds(0);
  configs.push_back(up0);
  Config no_panic{"tidemark, panic off", BasePolicy()};
  no_panic.policy.panic.enabled = false;
  configs.push_back(no_panic);
  Config hpa{"HPA default (no behavior)", BasePolicy(), true};
  hpa.policy.legacy_behavior = true;
  hpa.policy.panic.enabled = false;
  hpa.policy.sync_period = std::chrono::seconds(15);
  Config hpa_v2{"HPA v2 behavior defaults", BasePolicy(), true};
  hpa_v2.policy.scale_up.stabilization_window = std::chrono::seconds(0);
  hpa_v2.policy.scale_up.min_step = hpa_v2.policy.scale_down.min_step = 0;  // The HPA's.
  hpa_v2.policy.panic.enabled = false;
  hpa_v2.policy.sync_period = std::chrono::seconds(15);
  configs.push_back(hpa);
  configs.push_back(hpa_v2);
  const size_t kHpa = 3;

  std::vector<std::vector<Outcome>> out(configs.size());
  for (int s = 0; s < seeds; ++s) {
    const uint64_t seed = s == 0 ? 42 : s;
    const std::vector<double> demand = Demand(seed, true, burst_cores);
    const bool trace = static_cast<int>(seed) == trace_seed;
    for (size_t i = 0; i < configs.size(); ++i) {
      if (trace)
        std::printf("seed %llu, %s:\n", static_cast<unsigned long long>(seed),
                    configs[i].name.c_str());
      out[i].push_back(Run(configs[i], demand, startup_s, trace));
    }
  }
  const std::vector<double> step = Demand(7, false, 0);  // The load step alone, no noise.
  int violations = 0;
  std::printf(
      "%d seeds of 10 minutes (42, 1..%d), bursts of %.1f cores, replicas ready %d s after a "
      "scale-up; events: scale calls (panic ones in brackets)\n\n",
      seeds, seeds - 1, burst_cores, startup_s);
  std::printf("%-42s %6s %4s %10s %8s %10s %10s %9s\n", "configuration", "events", "max", "> HPA",
              "scale-in", "unserved", "replica-s", "reaction");
  std::printf("%-42s %6s %4s %10s %8s %10s %10s %9s\n", "", "mean", "", "(seeds)", "in window",
              "core-s", "mean", "(step)");
  for (size_t i = 0; i < configs.size(); ++i) {
    double events = 0, panic = 0, unserved = 0, rs = 0;
    int max_events = 0, worse = 0, bad = 0;
    for (int s = 0; s < seeds; ++s) {
      const Outcome& o = out[i][s];
      events += o.events;
      panic += o.panic_ups;
      unserved += o.unserved;
      rs += o.replica_seconds;
      max_events = std::max(max_events, o.events);
      worse += o.events > out[kHpa][s].events ? 1 : 0;
      bad += o.scale_in_violations;
    }
    violations += bad;
    const Outcome st = Run(configs[i], step, startup_s, false);
    char ev[32];
    std::snprintf(ev, sizeof ev, "%.2f (%.2f)", events / seeds, panic / seeds);
    std::printf("%-42s %13s %4d %6d/%-3d %8d %10.1f %10.0f %7ds\n", configs[i].name.c_str(), ev,
                max_events, worse, seeds, bad, unserved / seeds, rs / seeds,
                st.first_up - kLoadStart);
  }
  std::printf(
      "\nreaction (step): seconds from the load step to the scale-up call in this model (the agent "
      "adds the collection delay; bench/autoscaler_reaction.py measures it end to end).\n");
  std::printf(
      "target: no more scale events than the HPA default on the same series: %s (%d of %d "
      "seeds more)\n",
      [&] {
        for (int s = 0; s < seeds; ++s) {
          if (out[0][s].events > out[kHpa][s].events) return "NOT MET";
        }
        return "MET";
      }(),
      [&] {
        int n = 0;
        for (int s = 0; s < seeds; ++s) n += out[0][s].events > out[kHpa][s].events;
        return n;
      }(),
      seeds);
  for (int s = 0; s < seeds; ++s) {
    if (out[0][s].events > out[kHpa][s].events) {
      std::printf("  seed %d: tidemark %d events, HPA %d (--trace %d shows them)\n",
                  s == 0 ? 42 : s, out[0][s].events, out[kHpa][s].events, s == 0 ? 42 : s);
    }
  }
  std::printf("scale-in inside a stabilization window: %s\n", violations ? "YES (FAIL)" : "never");
  return violations ? 1 : 0;
}
