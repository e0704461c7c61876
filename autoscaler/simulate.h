// `tidemark autoscaler simulate`: replays recorded metric values through the recommender.
//
// Metrics file, CSV (a .json file, or one starting with '[' or '{', is read as JSON):
//   # comments and blank lines are skipped
//   timestamp,replicas,cpu,p95
//   1700000000,3,85,0.21
//   1700000001,,92,        <- empty cell: no data for that metric (never read as zero load)
// - timestamp: seconds (Unix time or relative, decimals allowed), increasing.
// - replicas (optional column): the observed replica count at that row; when absent or empty the
//   previous decision's desired count is assumed applied (the first row: --start-replicas, else
//   the policy's min_replicas).
// - one column per policy metric, named after the metric (MetricSpec::name: "cpu", "query" or the
//   metric's `name:`). cpu: average utilisation in percent of the per-replica basis, the same on
//   every replica; query: the whole service's value.
// - <cpu metric>_throttled (optional): CPU time throttled in that row, in percent of the same
//   basis, for the panic's saturation check; absent or empty = unknown (a saturated row then
//   counts as throttled).
// JSON: [{"timestamp": 1700000000, "replicas": 3, "cpu": 85, "p95": 0.21}, ...] (or the array under
// "samples"); null or absent = no data.
// The recommender runs on every row (a collection cycle: its recommendation is recorded for the
// windows, as the agent does); a decision is printed and acted on at the first row, then at the
// first row at or after each sync_period, and between those for a panic scale-up (Policy::panic).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "autoscaler/policy.h"
#include "autoscaler/recommender.h"
#include "common/status.h"

namespace tidemark::autoscaler {

struct SimSample {
  double timestamp_s = 0;
  std::optional<int32_t> replicas;
  std::vector<std::optional<double>> values;     // Parallel to Policy::metrics.
  std::vector<std::optional<double>> throttled;  // Same; cpu metrics' <name>_throttled.
};

Result<std::vector<SimSample>> ParseSimCsv(std::string_view text, const Policy& policy,
                                           std::string_view source);
Result<std::vector<SimSample>> ParseSimJson(std::string_view text, const Policy& policy,
                                            std::string_view source);

struct SimOptions {
  std::optional<int32_t> start_replicas;
  double cpu_cores_per_replica = 1.0;  // The utilisation basis (limit or request) per replica.
};

// `replicas` replicas "replica-<i>", running and ready since started_ms (ready 1 s after start).
ScaleState ReadyScaleState(int32_t replicas, double cpu_cores_per_replica, int64_t started_ms);

// One decision per evaluation; replicas follow the decisions (or the `replicas` column). Each
// replica is running and ready since long before the first sample.
Result<std::vector<Decision>> Simulate(const Policy& policy, const std::vector<SimSample>& samples,
                                       const SimOptions& options);

// The CLI; args exclude "autoscaler simulate". Exit 0, 1 on run-time failure, 2 on bad usage or
// bad files (one line on err naming the file and reason).
int RunSimulateCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
extern const char kSimulateUsage[];
// `tidemark autoscaler ...`: dispatches to simulate; args exclude "autoscaler".
int RunAutoscalerCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tidemark::autoscaler
