// The evaluator of one query (Prometheus' promql.evaluator). Not thread-safe; one per query.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tsdb/promql/internal/eval.h"

namespace tidemark::promql::internal {

// Timestamps the evaluator computes stay within ±kMaxTime ms (about 73 million years) so that
// step loops (`ts += interval`) and window bounds can never overflow int64.
inline constexpr int64_t kMaxTime = int64_t{1} << 61;
// The largest step a loop advances by; with |ts| <= kMaxTime, `ts + step` cannot overflow.
inline constexpr int64_t kMaxStep = int64_t{1} << 61;
// a + b and a - b saturated to [-kMaxTime, kMaxTime] (user offsets, ranges and @ times).
int64_t TimeAdd(int64_t a, int64_t b);
int64_t TimeSub(int64_t a, int64_t b);
// For a loop at step `ts` that skips ahead: the step before the first step >= `target` (or `ts`
// when that is the next one), so that `ts += interval` lands on it. Requires interval > 0 and
// both times within ±kMaxTime.
int64_t StepBefore(int64_t ts, int64_t target, int64_t interval);
// Longest label value label_replace/label_join may build, in bytes (guards nested expansions).
inline constexpr size_t kMaxLabelValueBytes = size_t{1} << 20;

ValueType TypeOf(const Expr& e);
// Copies the tree, marks step-invariant subtrees and applies @ offsets for [start, end].
std::unique_ptr<Node> BuildPlan(const Expr& e, int64_t start, int64_t end, int64_t lookback);
// Prometheus' setOffsetForAtModifier over the subtree `root`.
void SetOffsetForAtModifier(int64_t eval_time, Node& root);

// Collects output series by label set, in order of first use; a second point of one label set at
// one step is Prometheus' "vector cannot contain metrics with the same labelset".
class OutMatrix {
 public:
  // `points_hint`: points reserved per new series (the number of steps, capped small: there can
  // be as many series as input samples, so a large per-series reservation multiplies).
  explicit OutMatrix(int64_t points_hint = 0)
      : hint_(static_cast<size_t>(std::clamp<int64_t>(points_hint, 0, 64))) {}
  int Intern(const Labels& ls);
  // Requires ts to be later than the series' last point; throws the same-labelset error otherwise.
  void Add(int idx, int64_t ts, double v);
  size_t size() const { return out_.size(); }
  Series& at(int idx) { return out_[idx]; }
  // The series that received points, in creation order.
  Matrix Take();

 private:
  size_t hint_;
  Matrix out_;
  std::unordered_map<std::string, int> index_;
};

// Walks the steps of a matrix whose points lie on step times, visiting the series present at each.
class StepCursor {
 public:
  explicit StepCursor(const Matrix& m) : m_(m), pos_(m.size(), 0) {}
  template <class F>
  void ForEach(int64_t ts, F&& f) {
    for (size_t i = 0; i < m_.size(); ++i) {
      const auto& pts = m_[i].points;
      size_t& p = pos_[i];
      if (p < pts.size() && pts[p].t == ts) {
        f(i, pts[p].v);
        ++p;
      }
    }
  }

 private:
  const Matrix& m_;
  std::vector<size_t> pos_;
};

class Evaluator {
 public:
  Evaluator(const tsdb::Db* db, const EngineOptions& options,
            std::chrono::steady_clock::time_point deadline);

  // Evaluates `n` over the steps `s`, honouring its step-invariant mark.
  Val Eval(Node& n, const Steps& s);

 private:
  Val EvalNode(Node& n, const Steps& s);
  Val EvalVectorSelector(Node& n, const Steps& s);
  Val EvalMatrixSelector(Node& n, const Steps& s);
  Val EvalSubquery(Node& n, const Steps& s);
  Val EvalUnary(Node& n, const Steps& s);
  Val EvalBinary(Node& n, const Steps& s);
  Val EvalCall(Node& n, const Steps& s);
  Val EvalAggregate(Node& n, const Steps& s);

  // Call helpers (call.cc).
  Val EvalRangeFunction(Node& n, const Steps& s, const Function& f);
  // timestamp(<selector>): the sample's own time (rangeEvalTimestampFunctionOverVectorSelector).
  Val EvalTimestampOfSelector(Node& vs, const Steps& s);

  // Loads a vector selector's series once (stale markers dropped for range use).
  void Load(Node& n, bool drop_stale);
  void CheckDeadline();
  void AddSamples(int64_t n);
  [[noreturn]] static void ThrowTooManySamples();
  // Called once per step of a loop: checks the deadline every 4096 calls, so loops over a huge
  // number of steps that produce nothing still end by the deadline.
  void Step() {
    if ((++ticks_ & 4095) == 0) CheckDeadline();
  }
  // Accounts for `n` units of work inside one step (e.g. a range function's window): the
  // deadline is checked every ~1 M units, so quadratic step × window loops stop in time.
  void Work(size_t n) {
    work_ += n;
    if (work_ > (size_t{1} << 20)) {
      work_ = 0;
      CheckDeadline();
    }
  }
  // Counts one sample as it is produced (and is a Step), so max_samples trips before memory
  // grows past it.
  void Produce() {
    if (++cur_samples_ > options_.max_samples) ThrowTooManySamples();
    Step();
  }
  // Before allocating one element per step: a step count above max_samples could never be
  // evaluated (any value over those steps holds that many samples), so fail early instead.
  void CheckStepAlloc(int64_t steps) const {
    if (steps > options_.max_samples) ThrowTooManySamples();
  }
  // A reservation for `n` points, capped (vectors grow geometrically past it).
  static size_t ReserveHint(int64_t n) {
    return static_cast<size_t>(std::clamp<int64_t>(n, 0, 1024));
  }
  void SetSamples(int64_t n) { cur_samples_ = n; }
  int64_t samples() const { return cur_samples_; }
  static void CheckSameLabelsetWholeMatrix(const Matrix& m);
  // A scalar value as one number per step (NaN where it has no point).
  std::vector<double> Dense(const Val& v, const Steps& s) const;

  const tsdb::Db* db_;
  const EngineOptions& options_;
  std::chrono::steady_clock::time_point deadline_;
  int64_t cur_samples_ = 0;
  uint64_t ticks_ = 0;
  size_t work_ = 0;
};

}  // namespace tidemark::promql::internal
