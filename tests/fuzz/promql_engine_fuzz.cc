// libFuzzer target for the PromQL engine. A small Db (counters with resets, gauges, a classic
// histogram, a stale marker) is opened once in a temporary directory; every input that parses is
// evaluated as an instant query and, when its type allows, as a short range query, with
// max_samples 100 000 and a 200 ms timeout. Checked: nothing crashes, leaks or trips a sanitizer,
// and every result is either ok or a well-formed error (a known error class and a message).
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"
#include "tsdb/promql/parser.h"

namespace {

using tidemark::Label;
using tidemark::Labels;
using namespace tidemark::promql;

constexpr int64_t kSec = 1000;
constexpr int64_t kEnd = 600 * kSec;  // The data spans [0, 600 s].
constexpr std::chrono::milliseconds kTimeout{200};

// A clock fixed just after the data, so nothing is "too old" and retention keeps it all.
class FixedClock final : public tidemark::Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(kEnd + kSec));
  }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::now();
  }
};

[[noreturn]] void Fail(const char* what, std::string_view input, const std::string& detail) {
  std::fprintf(stderr, "promql_engine_fuzz: %s\n  input:  %.*s\n  detail: %s\n", what,
               static_cast<int>(input.size()), input.data(), detail.c_str());
  std::abort();
}

struct World {
  FixedClock clock;
  std::unique_ptr<tidemark::tsdb::Db> db;
  std::unique_ptr<Engine> engine;
};

void Add(tidemark::tsdb::Db& db, Labels ls, const std::vector<double>& values, int64_t step) {
  auto app = db.NewAppender();
  for (size_t i = 0; i < values.size(); ++i) {
    app.Add(ls, static_cast<int64_t>(i) * step, values[i]);
  }
  if (!app.Commit().ok()) Fail("loading the fixture failed", "", "");
}

World* MakeWorld() {
  auto* w = new World;
  char tmpl[] = "/tmp/promql_engine_fuzz.XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (dir == nullptr) Fail("mkdtemp failed", "", "");
  tidemark::tsdb::DbOptions o;
  o.dir = std::string(dir) + "/db";
  o.min_free_bytes = 0;
  o.out_of_bounds = std::chrono::hours(24 * 365);
  o.retention = std::chrono::hours(24 * 365);
  o.background_compaction = false;
  auto db = tidemark::tsdb::Db::Open(o, w->clock);
  if (!db.ok()) Fail("opening the Db failed", "", db.status().ToString());
  w->db = std::move(*db);
  auto& d = *w->db;
  // Counters with resets, 15 s apart.
  std::vector<double> c1, c2;
  for (int i = 0; i <= 40; ++i) {
    c1.push_back(i < 20 ? i * 3.0 : (i - 20) * 2.0);
    c2.push_back(i % 10 == 9 ? 0 : i * 1.5);
  }
  Add(d, {{"__name__", "http_requests_total"}, {"code", "200"}, {"job", "api"}}, c1, 15 * kSec);
  Add(d, {{"__name__", "http_requests_total"}, {"code", "500"}, {"job", "api"}}, c2, 15 * kSec);
  // Gauges, one ending with a stale marker.
  std::vector<double> g1, g2;
  for (int i = 0; i <= 40; ++i) {
    g1.push_back(std::sin(i) * 10);
    g2.push_back(i == 40 ? tidemark::tsdb::StaleNaN() : 100 - i);
  }
  Add(d, {{"__name__", "node_load1"}, {"instance", "a"}}, g1, 15 * kSec);
  Add(d, {{"__name__", "node_load1"}, {"instance", "b"}}, g2, 15 * kSec);
  // A classic histogram.
  const char* les[] = {"0.1", "0.5", "1", "+Inf"};
  for (int b = 0; b < 4; ++b) {
    std::vector<double> v;
    for (int i = 0; i <= 40; ++i) v.push_back(i * (b + 1.0));
    Add(d, {{"__name__", "req_duration_seconds_bucket"}, {"le", les[b]}}, v, 15 * kSec);
  }
  EngineOptions eo;
  eo.max_samples = 100'000;
  eo.timeout = kTimeout;
  w->engine = std::make_unique<Engine>(w->db.get(), eo);
  return w;
}

World& TheWorld() {
  static World* w = MakeWorld();  // Never destroyed: the fuzzer exits without running it down.
  return *w;
}

void CheckResult(const QueryResult& r, std::string_view input, const char* kind) {
  if (r.ok()) {
    if (!r.error.empty()) Fail("ok result with an error message", input, kind);
    return;
  }
  switch (r.error_type) {
    case ErrorType::kBadData:
    case ErrorType::kExecution:
    case ErrorType::kTimeout:
    case ErrorType::kCanceled:
      break;
    case ErrorType::kInternal:
      // Storage failures only; an internal error from evaluation is a bug.
      if (r.error.rfind("expanding series", 0) != 0) Fail("internal error", input, r.error);
      break;
    default:
      Fail("unknown error type", input, r.error);
  }
  if (r.error.empty()) Fail("error without a message", input, kind);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheWorld();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto expr = ParseExpr(input);
  if (!expr.ok()) return 0;
  const Engine& engine = *TheWorld().engine;
  CheckResult(engine.InstantExpr(**expr, 300 * kSec, kTimeout), input, "instant");
  // The engine itself refuses non-vector, non-scalar range queries with an error.
  CheckResult(engine.RangeExpr(**expr, 0, kEnd, 30 * kSec, kTimeout), input, "range");
  return 0;
}
