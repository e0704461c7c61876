// Internals of the PromQL engine shared by engine.cc, functions.cc, aggregate.cc and binary.cc.
// Mirrors Prometheus 2.42's promql/engine.go evaluator: every node is evaluated once over all
// steps of its range (rangeEval), selectors load each series once into flat arrays.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/go_format.h"
#include "common/labels.h"
#include "tsdb/db.h"
#include "tsdb/promql/ast.h"
#include "tsdb/promql/engine.h"
#include "tsdb/promql/value.h"

namespace tidemark::promql::internal {

// Raised inside the evaluator (Prometheus' ev.error/panic); caught at the Engine boundary only.
struct EvalError {
  ErrorType type;
  std::string message;
};
[[noreturn]] void ThrowExec(std::string message);

// One series as loaded from the store: flat time and value arrays.
struct RawSeries {
  Labels metric;
  std::vector<int64_t> t;
  std::vector<double> v;
};

// A per-query copy of the syntax tree with what preprocessing adds: step-invariant wrappers,
// resolved @ timestamps, offsets adjusted for @ (Prometheus' setOffsetForAtModifier).
struct Node {
  const Expr* expr = nullptr;
  ExprKind kind = ExprKind::kNumber;
  ValueType type = ValueType::kNone;
  bool step_invariant = false;  // Wrapped in Prometheus' StepInvariantExpr.
  std::vector<std::unique_ptr<Node>> kids;
  // Vector selectors (and the selector of a matrix selector / subquery's own modifiers).
  std::optional<int64_t> at;  // Resolved @ time (start()/end() included).
  int64_t orig_offset = 0;
  int64_t offset = 0;                  // Adjusted for @.
  int64_t range = 0;                   // Matrix selector / subquery range.
  int64_t sel_mint = 0, sel_maxt = 0;  // Storage window of a vector selector.
  bool loaded = false;
  std::vector<RawSeries> series;  // Vector selector data.
};

// The steps a node is evaluated over (Prometheus' evaluator start/end/interval).
struct Steps {
  int64_t start = 0;
  int64_t end = 0;
  int64_t interval = 1;
  int64_t Count() const { return (end - start) / interval + 1; }
};

// A node's value: kString uses `str`; every other type a Matrix (scalars: one unlabelled series
// with a point at every step; vectors: points at step times; matrices: raw sample times).
struct Val {
  ValueType type = ValueType::kNone;
  Matrix mat;
  std::string str;
};

// Labels helpers (Prometheus' labels package semantics); GetLabel and IsValidLabelName
// are in common/labels.h.
std::string LabelsKey(const Labels& ls);              // Unique serialisation.
std::string LabelsString(const Labels& ls);           // `{a="b", c="d"}` as labels.String().
int CompareLabels(const Labels& a, const Labels& b);  // labels.Compare.
Labels DropMetricName(const Labels& ls);
// Prometheus' grouping and signatureFunc: with `on`, only the labels named in `sorted_names`;
// otherwise all but those and __name__. SignatureOn is LabelsKey of the labels LabelsOn keeps.
std::string SignatureOn(const Labels& ls, bool on, const std::vector<std::string>& sorted_names);
Labels LabelsOn(const Labels& ls, bool on, const std::vector<std::string>& sorted_names);
void SetLabel(Labels* ls, const std::string& name, const std::string& value);  // "" deletes.
void DelLabel(Labels* ls, std::string_view name);

// Go math and formatting the engine must match bit for bit.
double GoPow(double x, double y);
double GoMod(double x, double y);
double GoMax(double x, double y);
double GoMin(double x, double y);
double GoLog2(double x);
// go_math.cc: Go's own implementations (glibc's differ in the last bit).
double GoExp(double x);
double GoLog(double x);
double GoSin(double x);
double GoCos(double x);
double GoTan(double x);
double GoAsin(double x);
double GoAcos(double x);
double GoAtan(double x);
double GoAtan2(double y, double x);
double GoSinh(double x);
double GoCosh(double x);
double GoTanh(double x);
double GoLog10(double x);
// Go's float formatting, parsing and int64(f) conversion: common/go_format.h.

// quantile.go
double Quantile(double q, std::vector<double> values);
struct Bucket {
  double upper;
  double count;
};
double BucketQuantile(double q, std::vector<Bucket> buckets);

// A range-vector function (rate, *_over_time, …) over one series' window.
struct RangeFnArgs {
  std::span<const int64_t> t;
  std::span<const double> v;
  int64_t ts = 0;                   // Evaluation time of the step (enh.Ts).
  int64_t range_ms = 0;             // The selector's range.
  int64_t offset_ms = 0;            // The selector's (adjusted) offset.
  const double* scalars = nullptr;  // Values of the other (scalar) arguments, by argument index.
};
using RangeFn = bool (*)(const RangeFnArgs& a, double* out);
// nullptr when `name` is not a range-vector function.
RangeFn LookupRangeFn(std::string_view name);
// Index of the matrix argument of range-vector functions (quantile_over_time: 1).
int MatrixArgIndex(std::string_view name);

// Instant-vector functions applied per sample with labels changed once per series.
using ValueFn = double (*)(double v, const double* scalars);
struct SimpleFn {
  ValueFn fn = nullptr;
  bool drop_name = true;
};
const SimpleFn* LookupSimpleFn(std::string_view name);

// Date functions (year, month, …) of a Unix time in seconds.
double DateFn(std::string_view name, double unix_seconds);
bool IsDateFn(std::string_view name);

// label_replace's template expansion (Go regexp.Expand).
class LabelReplacer {
 public:
  // Throws EvalError with Prometheus' messages for a bad regex or destination.
  LabelReplacer(const std::string& dst, const std::string& repl, const std::string& src,
                const std::string& regex);
  ~LabelReplacer();
  Labels Apply(const Labels& in) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemark::promql::internal
