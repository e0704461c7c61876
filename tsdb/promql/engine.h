// The PromQL engine: evaluates parsed expressions over the local store with Prometheus 2.42's
// numerics (lookback, staleness, extrapolation, matching rules and error messages).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "tsdb/db.h"
#include "tsdb/promql/ast.h"
#include "tsdb/promql/value.h"

namespace tidemark::promql {

struct EngineOptions {
  // How far back an instant selector looks for a sample. Default: 5 m (Prometheus').
  std::chrono::milliseconds lookback_delta = std::chrono::minutes(5);
  // Samples a query may hold in memory at once; past it the query fails with
  // "query processing would load too many samples into memory in query execution". Default: 50 M.
  int64_t max_samples = 50'000'000;
  // Wall time after which a query fails with "query timed out in <phase>". Default: 2 m.
  std::chrono::milliseconds timeout = std::chrono::minutes(2);
  // Step of subqueries written without one (`x[5m:]`), Prometheus' evaluation interval.
  // Default: 1 m.
  std::chrono::milliseconds default_subquery_step = std::chrono::minutes(1);
};

// Thread-safe: any number of queries may run at once. `db` must outlive the engine.
// Never throws, whatever the query: samples are counted as they are produced (max_samples),
// loops check the deadline every few thousand steps, and times are kept within ±2^61 ms
// (evaluation times outside it are bad_data). Should an allocation still fail, the query ends
// with kExecution "out of memory evaluating query"; any other exception becomes kInternal.
class Engine {
 public:
  Engine(const tsdb::Db* db, EngineOptions options);
  ~Engine();

  // Parses and evaluates `query` at `time_ms`. timeout 0 uses options.timeout.
  QueryResult Instant(std::string_view query, int64_t time_ms,
                      std::chrono::milliseconds timeout = {}) const;
  // Evaluates at start, start + step, … ≤ end; the result is always a matrix (a scalar
  // expression gives one series without labels). Requires step > 0 and end >= start.
  QueryResult Range(std::string_view query, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                    std::chrono::milliseconds timeout = {}) const;
  // The same for an already parsed expression (rule evaluation, the autoscaler).
  QueryResult InstantExpr(const Expr& expr, int64_t time_ms,
                          std::chrono::milliseconds timeout = {}) const;
  QueryResult RangeExpr(const Expr& expr, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                        std::chrono::milliseconds timeout = {}) const;

  const EngineOptions& options() const { return options_; }

 private:
  const tsdb::Db* db_;
  EngineOptions options_;
};

}  // namespace tidemark::promql
