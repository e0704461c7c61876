// The PromQL evaluator (Prometheus 2.42 promql/engine.go): preprocessing (step-invariant
// subtrees, @ offsets), selectors over flat arrays, subqueries, and the Engine entry points.
// Aggregations are in aggregate.cc, binary operators in binary.cc, function calls in call.cc.
#include "tsdb/promql/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <new>
#include <string>

#include "tsdb/promql/internal/evaluator.h"
#include "tsdb/promql/parser.h"

namespace tidemark::promql {
namespace internal {

int64_t TimeAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) r = b > 0 ? kMaxTime : -kMaxTime;
  return std::clamp(r, -kMaxTime, kMaxTime);
}

int64_t TimeSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) r = b < 0 ? kMaxTime : -kMaxTime;
  return std::clamp(r, -kMaxTime, kMaxTime);
}

// ---------------------------------------------------------------------------------------------
// Plan building and preprocessing.

ValueType TypeOf(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNumber:
      return ValueType::kScalar;
    case ExprKind::kString:
      return ValueType::kString;
    case ExprKind::kVectorSelector:
      return ValueType::kVector;
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return ValueType::kMatrix;
    case ExprKind::kParen: {
      const auto& p = static_cast<const ParenExpr&>(e);
      return p.expr ? TypeOf(*p.expr) : ValueType::kNone;
    }
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      return u.expr ? TypeOf(*u.expr) : ValueType::kNone;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      if (!b.lhs || !b.rhs) return ValueType::kNone;
      if (TypeOf(*b.lhs) == ValueType::kScalar && TypeOf(*b.rhs) == ValueType::kScalar) {
        return ValueType::kScalar;
      }
      return ValueType::kVector;
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      return c.func ? c.func->return_type : ValueType::kNone;
    }
    case ExprKind::kAggregate:
      return ValueType::kVector;
  }
  return ValueType::kNone;
}

namespace {

std::optional<int64_t> ResolveAt(const AtModifier& at, int64_t start, int64_t end) {
  switch (at.kind) {
    case AtKind::kNone:
      return std::nullopt;
    case AtKind::kTimestamp:
      return at.timestamp_ms;
    case AtKind::kStart:
      return start;
    case AtKind::kEnd:
      return end;
  }
  return std::nullopt;
}

[[noreturn]] void BadTree(const std::string& what) {
  throw EvalError{ErrorType::kBadData, "malformed expression: " + what};
}

const Expr& Child(const ExprPtr& p, const char* what) {
  if (!p) BadTree(what);
  return *p;
}

std::unique_ptr<Node> Build(const Expr& e, int64_t start, int64_t end) {
  auto n = std::make_unique<Node>();
  n->expr = &e;
  n->kind = e.kind;
  n->type = TypeOf(e);
  switch (e.kind) {
    case ExprKind::kNumber:
    case ExprKind::kString:
      break;
    case ExprKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      n->at = ResolveAt(vs.at, start, end);
      n->orig_offset = n->offset = vs.offset_ms;
      break;
    }
    case ExprKind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      if (!ms.selector) BadTree("matrix selector without selector");
      n->range = ms.range_ms;
      n->kids.push_back(Build(*ms.selector, start, end));
      break;
    }
    case ExprKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      n->range = sq.range_ms;
      n->at = ResolveAt(sq.at, start, end);
      n->orig_offset = n->offset = sq.offset_ms;
      n->kids.push_back(Build(Child(sq.expr, "subquery without expression"), start, end));
      break;
    }
    case ExprKind::kParen:
      n->kids.push_back(
          Build(Child(static_cast<const ParenExpr&>(e).expr, "empty parentheses"), start, end));
      break;
    case ExprKind::kUnary:
      n->kids.push_back(
          Build(Child(static_cast<const UnaryExpr&>(e).expr, "unary without operand"), start, end));
      break;
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      n->kids.push_back(Build(Child(b.lhs, "binary without lhs"), start, end));
      n->kids.push_back(Build(Child(b.rhs, "binary without rhs"), start, end));
      break;
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      if (!c.func) BadTree("call without function");
      const size_t declared = c.func->arg_types.size();
      const size_t min_args = c.func->variadic != 0 && declared > 0 ? declared - 1 : declared;
      const size_t max_args = c.func->variadic == 0  ? declared
                              : c.func->variadic > 0 ? declared - 1 + c.func->variadic
                                                     : SIZE_MAX;
      if (c.args.size() < min_args || c.args.size() > max_args) {
        BadTree("wrong number of arguments to " + std::string(c.func->name));
      }
      for (const ExprPtr& a : c.args)
        n->kids.push_back(Build(Child(a, "null argument"), start, end));
      break;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      n->kids.push_back(Build(Child(a.expr, "aggregation without expression"), start, end));
      if (a.param) n->kids.push_back(Build(*a.param, start, end));
      const bool needs_param = a.op == AggregateOp::kTopk || a.op == AggregateOp::kBottomk ||
                               a.op == AggregateOp::kQuantile || a.op == AggregateOp::kCountValues;
      if (needs_param != static_cast<bool>(a.param)) BadTree("aggregation parameter");
      break;
    }
  }
  return n;
}

const std::unordered_map<std::string_view, int>& AtUnsafeFunctions() {
  static const std::unordered_map<std::string_view, int> kFns = {
      {"days_in_month", 0},  {"day_of_month", 0}, {"day_of_week", 0}, {"day_of_year", 0},
      {"hour", 0},           {"minute", 0},       {"month", 0},       {"year", 0},
      {"predict_linear", 0}, {"time", 0},         {"timestamp", 0},
  };
  return kFns;
}

// Prometheus' preprocessExprHelper: marks maximal step-invariant subtrees.
bool Preprocess(Node& n) {
  switch (n.kind) {
    case ExprKind::kVectorSelector:
      return n.at.has_value();
    case ExprKind::kAggregate:
      // Only the aggregated expression counts (Prometheus ignores the parameter).
      return Preprocess(*n.kids[0]);
    case ExprKind::kBinary: {
      bool l = Preprocess(*n.kids[0]);
      bool r = Preprocess(*n.kids[1]);
      if (l && r) return true;
      if (l) n.kids[0]->step_invariant = true;
      if (r) n.kids[1]->step_invariant = true;
      return false;
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const Call&>(*n.expr);
      bool inv = !AtUnsafeFunctions().contains(c.func->name);
      std::vector<bool> args(n.kids.size());
      for (size_t i = 0; i < n.kids.size(); ++i) {
        args[i] = Preprocess(*n.kids[i]);
        inv = inv && args[i];
      }
      if (inv) return true;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (args[i]) n.kids[i]->step_invariant = true;
      }
      return false;
    }
    case ExprKind::kMatrixSelector:
      return Preprocess(*n.kids[0]);
    case ExprKind::kSubquery: {
      if (Preprocess(*n.kids[0])) n.kids[0]->step_invariant = true;
      return n.at.has_value();
    }
    case ExprKind::kParen:
    case ExprKind::kUnary:
      return Preprocess(*n.kids[0]);
    case ExprKind::kString:
    case ExprKind::kNumber:
      return true;
  }
  return false;
}

// Removes the parentheses around function arguments and aggregation parameters (Prometheus'
// unwrapParenExpr in the Call and AggregateExpr cases). A step-invariant mark carries over.
void UnwrapArgParens(Node& n) {
  if (n.kind == ExprKind::kCall || n.kind == ExprKind::kAggregate) {
    for (size_t i = 0; i < n.kids.size(); ++i) {
      if (n.kind == ExprKind::kAggregate && i == 0) continue;
      while (n.kids[i]->kind == ExprKind::kParen) {
        bool inv = n.kids[i]->step_invariant;
        std::unique_ptr<Node> inner = std::move(n.kids[i]->kids[0]);
        inner->step_invariant = inner->step_invariant || inv;
        n.kids[i] = std::move(inner);
      }
    }
  }
  for (auto& k : n.kids) UnwrapArgParens(*k);
}

// subqueryTimes(path): summed offsets and ranges of enclosing subqueries, reset at an @.
struct SubqTimes {
  int64_t offset = 0;
  int64_t range = 0;
  std::optional<int64_t> ts;
};
SubqTimes SubqueryTimes(const std::vector<const Node*>& path) {
  SubqTimes r;
  for (const Node* p : path) {
    if (p->kind != ExprKind::kSubquery) continue;
    r.offset = TimeAdd(r.offset, p->orig_offset);
    r.range = TimeAdd(r.range, p->range);
    if (p->at) {
      r.offset = p->orig_offset;
      r.range = p->range;
      r.ts = p->at;
    }
  }
  return r;
}

void SetOffsetsWalk(int64_t eval_time, Node& n, std::vector<const Node*>& path) {
  auto get_offset = [&](const Node& sel) -> int64_t {
    if (!sel.at) return sel.orig_offset;
    SubqTimes st = SubqueryTimes(path);
    int64_t subq_offset = st.offset;
    if (st.ts) subq_offset = TimeAdd(subq_offset, TimeSub(eval_time, *st.ts));
    int64_t offset_for_ts = TimeSub(eval_time, *sel.at);
    return TimeAdd(sel.orig_offset, TimeSub(offset_for_ts, subq_offset));
  };
  if (n.kind == ExprKind::kVectorSelector || n.kind == ExprKind::kSubquery) {
    n.offset = get_offset(n);
  } else if (n.kind == ExprKind::kMatrixSelector) {
    n.kids[0]->offset = get_offset(*n.kids[0]);
  }
  path.push_back(&n);
  for (auto& k : n.kids) SetOffsetsWalk(eval_time, *k, path);
  path.pop_back();
}

// getTimeRangesForSelector for every vector selector.
void ComputeSelectRanges(Node& n, std::vector<const Node*>& path, int64_t start, int64_t end,
                         int64_t lookback, int64_t eval_range) {
  if (n.kind == ExprKind::kVectorSelector) {
    int64_t s = start, e = end;
    SubqTimes st = SubqueryTimes(path);
    if (st.ts) s = e = *st.ts;
    if (n.at) {
      s = e = *n.at;
    } else {
      s = TimeSub(TimeSub(s, st.offset), st.range);
      e = TimeSub(e, st.offset);
    }
    s = TimeSub(s, eval_range == 0 ? lookback : eval_range);
    s = TimeSub(s, n.orig_offset);
    e = TimeSub(e, n.orig_offset);
    n.sel_mint = s;
    n.sel_maxt = e;
    return;
  }
  path.push_back(&n);
  for (auto& k : n.kids) {
    ComputeSelectRanges(*k, path, start, end, lookback,
                        n.kind == ExprKind::kMatrixSelector ? n.range : 0);
  }
  path.pop_back();
}

}  // namespace

void SetOffsetForAtModifier(int64_t eval_time, Node& root) {
  std::vector<const Node*> path;
  SetOffsetsWalk(eval_time, root, path);
}

std::unique_ptr<Node> BuildPlan(const Expr& e, int64_t start, int64_t end, int64_t lookback) {
  std::unique_ptr<Node> root = Build(e, start, end);
  if (Preprocess(*root)) root->step_invariant = true;
  UnwrapArgParens(*root);
  std::vector<const Node*> path;
  ComputeSelectRanges(*root, path, start, end, lookback, 0);
  SetOffsetForAtModifier(start, *root);
  return root;
}

// ---------------------------------------------------------------------------------------------
// Evaluator core.

Evaluator::Evaluator(const tsdb::Db* db, const EngineOptions& options,
                     std::chrono::steady_clock::time_point deadline)
    : db_(db), options_(options), deadline_(deadline) {}

void Evaluator::CheckDeadline() {
  if (std::chrono::steady_clock::now() > deadline_) {
    throw EvalError{ErrorType::kTimeout, "query timed out in expression evaluation"};
  }
}

int64_t StepBefore(int64_t ts, int64_t target, int64_t interval) {
  if (target <= ts) return ts;
  return ts + (target - ts - 1) / interval * interval;
}

void Evaluator::ThrowTooManySamples() {
  throw EvalError{ErrorType::kExecution,
                  "query processing would load too many samples into memory in query execution"};
}

void Evaluator::AddSamples(int64_t n) {
  cur_samples_ += n;
  if (cur_samples_ > options_.max_samples) ThrowTooManySamples();
}

Val Evaluator::Eval(Node& n, const Steps& s) {
  CheckDeadline();
  if (n.step_invariant && n.kind != ExprKind::kNumber && n.kind != ExprKind::kString) {
    Steps one{s.start, s.start, s.interval};
    Val v = EvalNode(n, one);
    if (n.kind == ExprKind::kMatrixSelector || n.kind == ExprKind::kSubquery) return v;
    // Range results keep their sample times (also behind parentheses, where Prometheus would
    // panic on a multi-point series).
    if (v.type == ValueType::kString || v.type == ValueType::kMatrix) return v;
    const int64_t count = s.Count();
    for (Series& ser : v.mat) {
      if (ser.points.empty()) continue;
      const double val = ser.points[0].v;
      CheckStepAlloc(count);
      if (samples() + count - 1 > options_.max_samples) ThrowTooManySamples();
      ser.points.resize(1);
      ser.points.reserve(count);
      for (int64_t ts = s.start + s.interval; ts <= s.end; ts += s.interval) {
        ser.points.push_back(Point{ts, val});
      }
      AddSamples(static_cast<int64_t>(ser.points.size()) - 1);
    }
    return v;
  }
  return EvalNode(n, s);
}

Val Evaluator::EvalNode(Node& n, const Steps& s) {
  switch (n.kind) {
    case ExprKind::kNumber: {
      const double v = static_cast<const NumberLiteral*>(n.expr)->value;
      Val out;
      out.type = ValueType::kScalar;
      out.mat.emplace_back();
      auto& pts = out.mat[0].points;
      CheckStepAlloc(s.Count());
      if (samples() + s.Count() > options_.max_samples) ThrowTooManySamples();
      pts.reserve(std::max<int64_t>(0, s.Count()));
      for (int64_t ts = s.start; ts <= s.end; ts += s.interval) pts.push_back(Point{ts, v});
      AddSamples(static_cast<int64_t>(pts.size()));
      return out;
    }
    case ExprKind::kString: {
      Val out;
      out.type = ValueType::kString;
      out.str = static_cast<const StringLiteral*>(n.expr)->value;
      return out;
    }
    case ExprKind::kVectorSelector:
      return EvalVectorSelector(n, s);
    case ExprKind::kMatrixSelector:
      return EvalMatrixSelector(n, s);
    case ExprKind::kSubquery:
      return EvalSubquery(n, s);
    case ExprKind::kParen:
      return Eval(*n.kids[0], s);
    case ExprKind::kUnary:
      return EvalUnary(n, s);
    case ExprKind::kBinary:
      return EvalBinary(n, s);
    case ExprKind::kCall:
      return EvalCall(n, s);
    case ExprKind::kAggregate:
      return EvalAggregate(n, s);
  }
  throw EvalError{ErrorType::kInternal, "unknown expression kind"};
}

void Evaluator::Load(Node& n, bool drop_stale) {
  if (n.loaded) return;
  const auto& vs = static_cast<const VectorSelector&>(*n.expr);
  auto sel = db_->Select(vs.matchers, n.sel_mint, n.sel_maxt);
  if (!sel.ok()) {
    throw EvalError{sel.status().code() == StatusCode::kInvalidArgument ? ErrorType::kBadData
                                                                        : ErrorType::kInternal,
                    "expanding series: " + sel.status().message()};
  }
  n.series.reserve(sel->size());
  size_t count = 0;
  // Decoded into scratch buffers that keep their capacity, then copied at their exact size.
  std::vector<int64_t> buf_t;
  std::vector<double> buf_v;
  for (tsdb::SeriesData& sd : *sel) {
    if ((++count & 255) == 0) CheckDeadline();
    buf_t.clear();
    buf_v.clear();
    auto it = sd.Iterate();
    while (it->Next()) {
      const double v = it->v();
      if (drop_stale && tsdb::IsStaleNaN(v)) continue;
      buf_t.push_back(it->t());
      buf_v.push_back(v);
    }
    if (!it->status().ok()) {
      throw EvalError{ErrorType::kInternal, "expanding series: " + it->status().message()};
    }
    if (buf_t.empty()) continue;
    RawSeries r;
    r.metric = std::move(sd.labels);
    r.t.assign(buf_t.begin(), buf_t.end());
    r.v.assign(buf_v.begin(), buf_v.end());
    n.series.push_back(std::move(r));
  }
  // Prometheus reads series in label order (merged and block queriers sort them); the order of
  // a vector decides float rounding in aggregations and which duplicate an error names.
  auto by_labels = [](const RawSeries& a, const RawSeries& b) {
    return CompareLabels(a.metric, b.metric) < 0;
  };
  if (!std::is_sorted(n.series.begin(), n.series.end(), by_labels)) {
    std::sort(n.series.begin(), n.series.end(), by_labels);
  }
  n.loaded = true;
}

Val Evaluator::EvalVectorSelector(Node& n, const Steps& s) {
  Load(n, false);
  const int64_t lookback = options_.lookback_delta.count();
  Val out;
  out.type = ValueType::kVector;
  size_t count = 0;
  for (const RawSeries& r : n.series) {
    if ((++count & 63) == 0) CheckDeadline();
    Series ss;
    size_t p = 0;
    const size_t len = r.t.size();
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
      Step();
      const int64_t ref = TimeSub(ts, n.offset);
      if (p < len && r.t[p] <= ref) {
        // Binary search forward: the arrays can be much denser than the steps.
        p = static_cast<size_t>(std::upper_bound(r.t.begin() + p, r.t.end(), ref) - r.t.begin());
      }
      if (p == 0 || r.t[p - 1] < TimeSub(ref, lookback)) {
        // No sample in the lookback window: nothing until a step reaches the next sample, so
        // skip the steps in between (a huge step count over sparse data costs nothing).
        if (p == len) break;
        ts = StepBefore(ts, TimeAdd(r.t[p], n.offset), s.interval);
        continue;
      }
      const size_t i = p - 1;
      if (tsdb::IsStaleNaN(r.v[i])) continue;
      // Counted as produced: the limit trips before the series outgrows it.
      Produce();
      if (ss.points.empty()) ss.points.reserve(ReserveHint(s.Count()));
      ss.points.push_back(Point{ts, r.v[i]});
    }
    if (!ss.points.empty()) {
      ss.metric = r.metric;
      out.mat.push_back(std::move(ss));
    }
  }
  return out;
}

Val Evaluator::EvalMatrixSelector(Node& n, const Steps& s) {
  Node& vs = *n.kids[0];
  Load(vs, true);
  const int64_t maxt = TimeSub(s.start, vs.offset);
  const int64_t mint = TimeSub(maxt, n.range);
  Val out;
  out.type = ValueType::kMatrix;
  for (const RawSeries& r : vs.series) {
    auto lo = std::lower_bound(r.t.begin(), r.t.end(), mint);
    auto hi = std::upper_bound(lo, r.t.end(), maxt);
    if (lo == hi) continue;
    AddSamples(static_cast<int64_t>(hi - lo));  // Before copying them.
    Series ss;
    ss.metric = r.metric;
    ss.points.reserve(static_cast<size_t>(hi - lo));
    for (auto it = lo; it != hi; ++it) {
      ss.points.push_back(Point{*it, r.v[it - r.t.begin()]});
    }
    out.mat.push_back(std::move(ss));
  }
  return out;
}

Val Evaluator::EvalSubquery(Node& n, const Steps& s) {
  const auto& sq = static_cast<const SubqueryExpr&>(*n.expr);
  const int64_t offset = n.offset;
  const int64_t range = n.range;
  // Times are saturated to ±kMaxTime and the step to kMaxStep, so `@`/offset extremes cannot
  // overflow the step loops.
  Steps ns;
  ns.end = TimeSub(s.end, offset);
  ns.interval = sq.step_ms != 0 ? sq.step_ms : options_.default_subquery_step.count();
  if (ns.interval <= 0) ns.interval = 60000;
  ns.interval = std::min(ns.interval, kMaxStep);
  const int64_t first = TimeSub(TimeSub(s.start, offset), range);
  ns.start = ns.interval * (first / ns.interval);
  if (ns.start < first) ns.start += ns.interval;
  if (ns.start > ns.end) {
    Val empty;
    empty.type = ValueType::kMatrix;
    if (n.kids[0]->type == ValueType::kString) empty.type = ValueType::kString;
    return empty;
  }
  if (ns.start != s.start) SetOffsetForAtModifier(ns.start, *n.kids[0]);
  Val v = Eval(*n.kids[0], ns);
  v.type = ValueType::kMatrix;
  return v;
}

Val Evaluator::EvalUnary(Node& n, const Steps& s) {
  Val v = Eval(*n.kids[0], s);
  const auto& u = static_cast<const UnaryExpr&>(*n.expr);
  if (u.op != '-') return v;
  for (Series& ser : v.mat) {
    ser.metric = DropMetricName(ser.metric);
    for (Point& p : ser.points) p.v = -p.v;
  }
  if (v.type == ValueType::kVector) CheckSameLabelsetWholeMatrix(v.mat);
  return v;
}

void Evaluator::CheckSameLabelsetWholeMatrix(const Matrix& m) {
  if (m.size() < 2) return;
  std::unordered_map<std::string, int> seen;
  seen.reserve(m.size());
  for (const Series& ser : m) {
    if (!seen.emplace(LabelsKey(ser.metric), 0).second) {
      ThrowExec("vector cannot contain metrics with the same labelset");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Output helpers.

int OutMatrix::Intern(const Labels& ls) {
  auto [it, inserted] = index_.try_emplace(LabelsKey(ls), static_cast<int>(out_.size()));
  if (inserted) {
    out_.emplace_back();
    out_.back().metric = ls;
    out_.back().points.reserve(hint_);
  }
  return it->second;
}

void OutMatrix::Add(int idx, int64_t ts, double v) {
  auto& pts = out_[idx].points;
  if (!pts.empty() && pts.back().t >= ts) {
    ThrowExec("vector cannot contain metrics with the same labelset");
  }
  pts.push_back(Point{ts, v});
}

Matrix OutMatrix::Take() {
  Matrix m;
  m.reserve(out_.size());
  for (Series& s : out_) {
    if (!s.points.empty()) m.push_back(std::move(s));
  }
  out_.clear();
  index_.clear();
  return m;
}

std::vector<double> Evaluator::Dense(const Val& v, const Steps& s) const {
  const int64_t count = std::max<int64_t>(0, s.Count());
  CheckStepAlloc(count);
  std::vector<double> out(count, std::numeric_limits<double>::quiet_NaN());
  if (v.mat.empty()) return out;
  for (const Point& p : v.mat[0].points) {
    int64_t k = (p.t - s.start) / s.interval;
    if (k >= 0 && k < count) out[k] = p.v;
  }
  return out;
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// Engine.

using internal::EvalError;

Engine::Engine(const tsdb::Db* db, EngineOptions options) : db_(db), options_(options) {}
Engine::~Engine() = default;

namespace {

QueryResult Fail(ErrorType type, std::string message) {
  QueryResult r;
  r.error_type = type;
  r.error = std::move(message);
  return r;
}

std::chrono::steady_clock::time_point Deadline(const EngineOptions& o,
                                               std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) timeout = o.timeout;
  return std::chrono::steady_clock::now() + timeout;
}

// Evaluation times the engine accepts: within ±kMaxTime ms, so step arithmetic cannot overflow.
bool TimeInRange(int64_t t) { return t >= -internal::kMaxTime && t <= internal::kMaxTime; }

constexpr char kOutOfMemory[] = "out of memory evaluating query";

// ParseExpr, with allocation failure on a huge query turned into an error.
Result<ExprPtr> ParseNoThrow(std::string_view query) {
  try {
    return ParseExpr(query);
  } catch (const std::bad_alloc&) {
    return Status::InvalidArgument(kOutOfMemory);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("parse error: ") + e.what());
  }
}

// Runs one evaluation, turning whatever it throws into the query's error (nothing escapes to the
// caller's thread).
template <typename F>
QueryResult Evaluate(F&& evaluate) {
  try {
    return evaluate();
  } catch (const EvalError& e) {
    return Fail(e.type, e.message);
  } catch (const std::bad_alloc&) {
    // Defense in depth: sample counting should stop a query long before this.
    return Fail(ErrorType::kExecution, kOutOfMemory);
  } catch (const std::exception& e) {
    return Fail(ErrorType::kInternal, std::string("internal error evaluating query: ") + e.what());
  }
}

void SortMatrix(Matrix* m) {
  std::sort(m->begin(), m->end(), [](const Series& a, const Series& b) {
    return internal::CompareLabels(a.metric, b.metric) < 0;
  });
}

}  // namespace

QueryResult Engine::Instant(std::string_view query, int64_t time_ms,
                            std::chrono::milliseconds timeout) const {
  auto expr = ParseNoThrow(query);
  if (!expr.ok()) return Fail(ErrorType::kBadData, expr.status().message());
  return InstantExpr(**expr, time_ms, timeout);
}

QueryResult Engine::Range(std::string_view query, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                          std::chrono::milliseconds timeout) const {
  auto expr = ParseNoThrow(query);
  if (!expr.ok()) return Fail(ErrorType::kBadData, expr.status().message());
  return RangeExpr(**expr, start_ms, end_ms, step_ms, timeout);
}

QueryResult Engine::InstantExpr(const Expr& expr, int64_t time_ms,
                                std::chrono::milliseconds timeout) const {
  if (!TimeInRange(time_ms)) return Fail(ErrorType::kBadData, "evaluation time out of range");
  return Evaluate([&] {
    auto plan = internal::BuildPlan(expr, time_ms, time_ms, options_.lookback_delta.count());
    internal::Evaluator ev(db_, options_, Deadline(options_, timeout));
    internal::Steps s{time_ms, time_ms, 1};
    internal::Val v = ev.Eval(*plan, s);
    QueryResult r;
    r.value.type = plan->type;
    switch (plan->type) {
      case ValueType::kString:
        r.value.str = std::move(v.str);
        r.value.scalar.t = time_ms;
        break;
      case ValueType::kScalar:
        r.value.scalar.t = time_ms;
        r.value.scalar.v = (!v.mat.empty() && !v.mat[0].points.empty())
                               ? v.mat[0].points[0].v
                               : std::numeric_limits<double>::quiet_NaN();
        break;
      case ValueType::kVector:
        r.value.vector.reserve(v.mat.size());
        for (Series& ser : v.mat) {
          if (ser.points.empty()) continue;
          r.value.vector.push_back(Sample{std::move(ser.metric), time_ms, ser.points[0].v});
        }
        break;
      case ValueType::kMatrix:
        r.value.matrix = std::move(v.mat);
        break;
      case ValueType::kNone:
        return Fail(ErrorType::kBadData, "expression has no type");
    }
    return r;
  });
}

QueryResult Engine::RangeExpr(const Expr& expr, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                              std::chrono::milliseconds timeout) const {
  if (step_ms <= 0) {
    return Fail(ErrorType::kBadData,
                "zero or negative query resolution step widths are not accepted. Try a positive "
                "integer");
  }
  if (end_ms < start_ms)
    return Fail(ErrorType::kBadData, "end timestamp must not be before start time");
  if (!TimeInRange(start_ms) || !TimeInRange(end_ms)) {
    return Fail(ErrorType::kBadData, "evaluation time out of range");
  }
  step_ms = std::min(step_ms, internal::kMaxStep);
  const ValueType t = internal::TypeOf(expr);
  if (t != ValueType::kVector && t != ValueType::kScalar) {
    return Fail(ErrorType::kBadData, "invalid expression type \"" +
                                         std::string(DocumentedTypeName(t)) +
                                         "\" for range query, must be Scalar or instant Vector");
  }
  return Evaluate([&] {
    auto plan = internal::BuildPlan(expr, start_ms, end_ms, options_.lookback_delta.count());
    internal::Evaluator ev(db_, options_, Deadline(options_, timeout));
    internal::Steps s{start_ms, end_ms, step_ms};
    internal::Val v = ev.Eval(*plan, s);
    QueryResult r;
    r.value.type = ValueType::kMatrix;
    r.value.matrix.reserve(v.mat.size());
    for (Series& ser : v.mat) {
      if (!ser.points.empty()) r.value.matrix.push_back(std::move(ser));
    }
    SortMatrix(&r.value.matrix);
    return r;
  });
}

}  // namespace tidemark::promql
