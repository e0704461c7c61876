// Function calls (Prometheus 2.42 engine.go's *parser.Call case and functions.go's vector
// functions): range-vector functions slide over flat arrays, per-sample functions change labels
// once per series.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_set>

#include "tsdb/promql/internal/evaluator.h"

namespace tidemark::promql::internal {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const std::string& StringArg(const Node& n) {
  if (n.kind != ExprKind::kString) throw EvalError{ErrorType::kBadData, "expected string argument"};
  return static_cast<const StringLiteral*>(n.expr)->value;
}

// Merges per-input results into one series per label set (rangeEval's output map); two inputs
// with one label set and a point at the same time are the same-labelset error.
Matrix MergeByLabels(Matrix parts) {
  Matrix out;
  out.reserve(parts.size());
  std::unordered_map<std::string, size_t> index;
  index.reserve(parts.size());
  std::vector<bool> merged;
  for (Series& p : parts) {
    if (p.points.empty()) continue;
    auto [it, inserted] = index.try_emplace(LabelsKey(p.metric), out.size());
    if (inserted) {
      out.push_back(std::move(p));
      merged.push_back(false);
      continue;
    }
    Series& dst = out[it->second];
    std::vector<Point> all;
    all.reserve(dst.points.size() + p.points.size());
    std::merge(dst.points.begin(), dst.points.end(), p.points.begin(), p.points.end(),
               std::back_inserter(all), [](const Point& a, const Point& b) { return a.t < b.t; });
    for (size_t i = 1; i < all.size(); ++i) {
      if (all[i].t == all[i - 1].t) {
        ThrowExec("vector cannot contain metrics with the same labelset");
      }
    }
    dst.points = std::move(all);
  }
  return out;
}

// createLabelsForAbsentFunction.
Labels AbsentLabels(const Node& arg) {
  const Node* vs = nullptr;
  if (arg.kind == ExprKind::kVectorSelector) vs = &arg;
  if (arg.kind == ExprKind::kMatrixSelector) vs = arg.kids[0].get();
  Labels m;
  if (vs == nullptr) return m;
  std::vector<std::string> empty;
  for (const tsdb::Matcher& ma : static_cast<const VectorSelector*>(vs->expr)->matchers) {
    if (ma.name() == "__name__") continue;
    if (ma.type() == tsdb::MatchType::kEqual && GetLabel(m, ma.name()).empty() &&
        std::none_of(m.begin(), m.end(), [&](const Label& l) { return l.name == ma.name(); })) {
      SetLabel(&m, ma.name(), ma.value());
    } else {
      empty.push_back(ma.name());
    }
  }
  for (const std::string& e : empty) DelLabel(&m, e);
  return m;
}

Val ScalarVal(std::vector<Point> pts) {
  Val v;
  v.type = ValueType::kScalar;
  v.mat.emplace_back();
  v.mat[0].points = std::move(pts);
  return v;
}

// Go's sort.Sort for n <= 12 is an insertion sort; it is stable, so ties keep input order. Larger
// inputs use a stable sort with the same order.
template <class Less>
void GoSortSmall(std::vector<size_t>* idx, Less less) {
  auto& a = *idx;
  for (size_t i = 1; i < a.size(); ++i) {
    for (size_t j = i; j > 0 && less(a[j], a[j - 1]); --j) std::swap(a[j], a[j - 1]);
  }
}

}  // namespace

Val Evaluator::EvalCall(Node& n, const Steps& s) {
  const auto& call = static_cast<const Call&>(*n.expr);
  const Function& f = *call.func;
  const std::string_view name = f.name;
  const int64_t base = samples();

  if (name == "timestamp" && n.kids.size() == 1 && n.kids[0]->kind == ExprKind::kVectorSelector) {
    return EvalTimestampOfSelector(*n.kids[0], s);
  }
  for (auto& k : n.kids) {
    if (k->kind == ExprKind::kMatrixSelector || k->kind == ExprKind::kSubquery) {
      return EvalRangeFunction(n, s, f);
    }
  }

  // rangeEval: evaluate every non-string argument first, in order.
  std::vector<Val> args(n.kids.size());
  for (size_t i = 0; i < n.kids.size(); ++i) {
    if (n.kids[i]->type != ValueType::kString) args[i] = Eval(*n.kids[i], s);
  }
  std::vector<std::vector<double>> dense(n.kids.size());
  for (size_t i = 0; i < n.kids.size(); ++i) {
    if (n.kids[i]->type == ValueType::kScalar) dense[i] = Dense(args[i], s);
  }
  const int64_t steps = std::max<int64_t>(0, s.Count());
  auto step_of = [&](int64_t t) { return static_cast<size_t>((t - s.start) / s.interval); };

  Val out;
  out.type = f.return_type;
  auto finish = [&](Val v) {
    int64_t total = 0;
    for (const Series& ser : v.mat) total += static_cast<int64_t>(ser.points.size());
    SetSamples(base);
    AddSamples(total);
    return v;
  };

  if (const SimpleFn* sf = LookupSimpleFn(name)) {
    Matrix parts;
    parts.reserve(args[0].mat.size());
    std::vector<double> sc(n.kids.size() + 2, 1.0);  // round's to_nearest defaults to 1.
    const bool is_clamp = name == "clamp";
    for (const Series& in : args[0].mat) {
      Series o;
      o.metric = sf->drop_name ? DropMetricName(in.metric) : in.metric;
      o.points.reserve(in.points.size());
      for (const Point& p : in.points) {
        const size_t k = step_of(p.t);
        for (size_t j = 1; j < n.kids.size(); ++j) sc[j] = dense[j][k];
        if (is_clamp && sc[2] < sc[1]) continue;
        o.points.push_back(Point{p.t, sf->fn(p.v, sc.data())});
      }
      parts.push_back(std::move(o));
    }
    out.mat = MergeByLabels(std::move(parts));
    if ((name == "sort" || name == "sort_desc") && steps == 1) {
      std::vector<size_t> idx(out.mat.size());
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      auto val = [&](size_t i) { return out.mat[i].points[0].v; };
      if (name == "sort") {
        // sort.Reverse(vectorByReverseValueHeap): ascending, NaN last.
        auto less = [&](size_t a, size_t b) { return std::isnan(val(b)) || val(b) > val(a); };
        if (idx.size() <= 12) {
          GoSortSmall(&idx, less);
        } else {
          std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
            return !std::isnan(val(a)) && (std::isnan(val(b)) || val(a) < val(b));
          });
        }
      } else {
        auto less = [&](size_t a, size_t b) { return std::isnan(val(b)) || val(b) < val(a); };
        if (idx.size() <= 12) {
          GoSortSmall(&idx, less);
        } else {
          std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
            return !std::isnan(val(a)) && (std::isnan(val(b)) || val(a) > val(b));
          });
        }
      }
      Matrix sorted;
      sorted.reserve(idx.size());
      for (size_t i : idx) sorted.push_back(std::move(out.mat[i]));
      out.mat = std::move(sorted);
    }
    return finish(std::move(out));
  }

  if (IsDateFn(name)) {
    if (n.kids.empty()) {
      CheckStepAlloc(steps);
      out.mat.emplace_back();
      for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
        out.mat[0].points.push_back(Point{ts, DateFn(name, static_cast<double>(ts / 1000))});
      }
      return finish(std::move(out));
    }
    Matrix parts;
    for (const Series& in : args[0].mat) {
      Series o;
      o.metric = DropMetricName(in.metric);
      for (const Point& p : in.points) o.points.push_back(Point{p.t, DateFn(name, p.v)});
      parts.push_back(std::move(o));
    }
    out.mat = MergeByLabels(std::move(parts));
    return finish(std::move(out));
  }

  if (name == "timestamp") {
    Matrix parts;
    for (const Series& in : args[0].mat) {
      Series o;
      o.metric = DropMetricName(in.metric);
      for (const Point& p : in.points) {
        o.points.push_back(Point{p.t, static_cast<double>(p.t) / 1000});
      }
      parts.push_back(std::move(o));
    }
    out.mat = MergeByLabels(std::move(parts));
    return finish(std::move(out));
  }

  if (name == "time" || name == "pi") {
    CheckStepAlloc(steps);
    std::vector<Point> pts;
    pts.reserve(steps);
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
      pts.push_back(Point{ts, name == "pi" ? M_PI : static_cast<double>(ts) / 1000});
    }
    return finish(ScalarVal(std::move(pts)));
  }

  if (name == "vector") {
    CheckStepAlloc(steps);
    out.mat.emplace_back();
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
      out.mat[0].points.push_back(Point{ts, dense[0][step_of(ts)]});
    }
    return finish(std::move(out));
  }

  if (name == "scalar" || name == "absent") {
    CheckStepAlloc(steps);
    std::vector<int> count(steps, 0);
    std::vector<double> last(steps, kNaN);
    for (const Series& in : args[0].mat) {
      for (const Point& p : in.points) {
        const size_t k = step_of(p.t);
        ++count[k];
        last[k] = p.v;
      }
    }
    std::vector<Point> pts;
    for (int64_t ts = s.start, k = 0; ts <= s.end; ts += s.interval, ++k) {
      if (name == "scalar") {
        pts.push_back(Point{ts, count[k] == 1 ? last[k] : kNaN});
      } else if (count[k] == 0) {
        pts.push_back(Point{ts, 1});
      }
    }
    if (name == "scalar") return finish(ScalarVal(std::move(pts)));
    if (!pts.empty()) {
      out.mat.emplace_back();
      out.mat[0].metric = AbsentLabels(*n.kids[0]);
      out.mat[0].points = std::move(pts);
    }
    return finish(std::move(out));
  }

  if (name == "label_replace") {
    LabelReplacer rep(StringArg(*n.kids[1]), StringArg(*n.kids[2]), StringArg(*n.kids[3]),
                      StringArg(*n.kids[4]));
    Matrix parts;
    parts.reserve(args[0].mat.size());
    for (Series& in : args[0].mat) {
      Step();
      in.metric = rep.Apply(in.metric);
      parts.push_back(std::move(in));
    }
    out.mat = MergeByLabels(std::move(parts));
    return finish(std::move(out));
  }

  if (name == "label_join") {
    const std::string& dst = StringArg(*n.kids[1]);
    const std::string& sep = StringArg(*n.kids[2]);
    std::vector<std::string> srcs;
    for (size_t i = 3; i < n.kids.size(); ++i) {
      const std::string& src = StringArg(*n.kids[i]);
      if (!IsValidLabelName(src)) {
        ThrowExec("invalid source label name in label_join(): " + src);
      }
      srcs.push_back(src);
    }
    if (!IsValidLabelName(dst)) {
      ThrowExec("invalid destination label name in label_join(): " + dst);
    }
    Matrix parts;
    parts.reserve(args[0].mat.size());
    for (Series& in : args[0].mat) {
      Step();
      std::string joined;
      for (size_t i = 0; i < srcs.size(); ++i) {
        if (i > 0) joined += sep;
        joined += GetLabel(in.metric, srcs[i]);
        // Nested label_join calls multiply lengths; refuse before memory explodes.
        if (joined.size() > kMaxLabelValueBytes) {
          ThrowExec("label_join(): resulting label value longer than " +
                    std::to_string(kMaxLabelValueBytes) + " bytes");
        }
      }
      if (joined.empty()) {
        DelLabel(&in.metric, dst);
      } else {
        SetLabel(&in.metric, dst, joined);
      }
      parts.push_back(std::move(in));
    }
    out.mat = MergeByLabels(std::move(parts));
    return finish(std::move(out));
  }

  if (name == "histogram_quantile") {
    const Matrix& in = args[1].mat;
    // Per input series: bucket bound, match group (all labels but le), output labels.
    std::vector<double> upper(in.size());
    std::vector<int> group(in.size(), -1);
    std::vector<Labels> group_labels;
    std::unordered_map<std::string, int> group_ids;
    for (size_t i = 0; i < in.size(); ++i) {
      if (!ParseGoFloat(GetLabel(in[i].metric, "le"), &upper[i])) continue;
      Labels without_le = in[i].metric;
      DelLabel(&without_le, "le");
      auto [it, inserted] =
          group_ids.try_emplace(LabelsKey(without_le), static_cast<int>(group_labels.size()));
      if (inserted) group_labels.push_back(DropMetricName(without_le));
      group[i] = it->second;
    }
    std::vector<std::vector<Bucket>> buckets(group_labels.size());
    std::vector<int> out_idx(group_labels.size(), -1);
    std::vector<int> seen;
    OutMatrix om(s.Count());
    StepCursor cur(in);
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
      CheckDeadline();
      seen.clear();
      cur.ForEach(ts, [&](size_t i, double v) {
        const int g = group[i];
        if (g < 0) return;
        if (buckets[g].empty()) seen.push_back(g);
        buckets[g].push_back(Bucket{upper[i], v});
      });
      const double q = dense[0][step_of(ts)];
      for (int g : seen) {
        if (out_idx[g] < 0) out_idx[g] = om.Intern(group_labels[g]);
        om.Add(out_idx[g], ts, BucketQuantile(q, buckets[g]));
        buckets[g].clear();
      }
    }
    out.mat = om.Take();
    return finish(std::move(out));
  }

  if (name == "histogram_count" || name == "histogram_sum" || name == "histogram_fraction") {
    return finish(std::move(out));  // Native histograms only; float samples give nothing.
  }

  throw EvalError{ErrorType::kBadData, "unknown function " + std::string(name)};
}

Val Evaluator::EvalRangeFunction(Node& n, const Steps& s, const Function& f) {
  const std::string_view name = f.name;
  const int64_t base = samples();
  size_t mi = 0;
  while (n.kids[mi]->kind != ExprKind::kMatrixSelector && n.kids[mi]->kind != ExprKind::kSubquery) {
    ++mi;
  }
  Node& arg = *n.kids[mi];
  std::vector<RawSeries> subq;
  const std::vector<RawSeries>* series;
  int64_t range = arg.range, offset;
  if (arg.kind == ExprKind::kMatrixSelector) {
    Load(*arg.kids[0], true);
    series = &arg.kids[0]->series;
    offset = arg.kids[0]->offset;
  } else {
    Val v = EvalNode(arg, s);  // evalSubquery
    offset = arg.offset;
    subq.reserve(v.mat.size());
    for (Series& ser : v.mat) {
      RawSeries r;
      r.metric = std::move(ser.metric);
      r.t.reserve(ser.points.size());
      r.v.reserve(ser.points.size());
      for (const Point& p : ser.points) {
        if (tsdb::IsStaleNaN(p.v)) continue;
        r.t.push_back(p.t);
        r.v.push_back(p.v);
      }
      subq.push_back(std::move(r));
    }
    series = &subq;
  }
  RangeFn fn = LookupRangeFn(name);
  if (fn == nullptr) throw EvalError{ErrorType::kBadData, "unknown function " + std::string(name)};
  std::vector<std::vector<double>> dense(n.kids.size());
  for (size_t j = 0; j < n.kids.size(); ++j) {
    if (j != mi) dense[j] = Dense(Eval(*n.kids[j], s), s);
  }
  std::vector<double> sc(n.kids.size() + 1, 0.0);
  const bool keep_name = name == "last_over_time";
  Matrix mat;
  RangeFnArgs a;
  a.range_ms = range;
  a.offset_ms = offset;
  a.scalars = sc.data();
  size_t count = 0;
  for (const RawSeries& r : *series) {
    if ((++count & 63) == 0) CheckDeadline();
    Series ss;
    size_t lo = 0, hi = 0;
    const size_t len = r.t.size();
    int64_t k = 0;
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval, ++k) {
      Step();
      const int64_t maxt = TimeSub(ts, offset);
      const int64_t mint = TimeSub(maxt, range);
      if (hi < len && r.t[hi] <= maxt) {
        hi = static_cast<size_t>(std::upper_bound(r.t.begin() + hi, r.t.end(), maxt) - r.t.begin());
      }
      if (lo < hi && r.t[lo] < mint) {
        lo = static_cast<size_t>(std::lower_bound(r.t.begin() + lo, r.t.begin() + hi, mint) -
                                 r.t.begin());
      }
      if (lo >= hi) {
        // An empty window: nothing until one reaches the next sample; skip the steps between.
        if (hi == len) break;
        ts = StepBefore(ts, TimeAdd(r.t[hi], offset), s.interval);
        k = (ts - s.start) / s.interval;
        continue;
      }
      // The window's samples are held while the function runs (Prometheus counts them too);
      // this series' points so far are already counted (Produce below).
      if (samples() + static_cast<int64_t>(hi - lo) > options_.max_samples) {
        ThrowTooManySamples();
      }
      Work(hi - lo);
      for (size_t j = 0; j < n.kids.size(); ++j) {
        if (j != mi) sc[j] = dense[j][k];
      }
      a.t = std::span<const int64_t>(r.t.data() + lo, hi - lo);
      a.v = std::span<const double>(r.v.data() + lo, hi - lo);
      a.ts = ts;
      double v;
      if (fn(a, &v)) {
        Produce();
        ss.points.push_back(Point{ts, v});
      }
    }
    if (!ss.points.empty()) {
      ss.metric = keep_name ? r.metric : DropMetricName(r.metric);
      mat.push_back(std::move(ss));
    }
  }
  Val out;
  out.type = ValueType::kVector;
  if (name == "absent_over_time") {
    const int64_t steps = std::max<int64_t>(0, s.Count());
    for (const Series& ser : mat) {
      if (static_cast<int64_t>(ser.points.size()) == steps) {
        SetSamples(base);
        return out;
      }
    }
    std::unordered_set<int64_t> found;
    for (size_t i = 0; i < mat.size(); ++i) {
      for (const Point& p : mat[i].points) found.insert(p.t);
      if (i > 0 && static_cast<int64_t>(found.size()) == steps) {
        SetSamples(base);
        return out;
      }
    }
    Series res;
    res.metric = AbsentLabels(arg);
    SetSamples(base);
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
      Step();
      if (found.contains(ts)) continue;
      Produce();
      res.points.push_back(Point{ts, 1});
    }
    out.mat.push_back(std::move(res));
    return out;
  }
  CheckSameLabelsetWholeMatrix(mat);
  out.mat = std::move(mat);
  return out;
}

Val Evaluator::EvalTimestampOfSelector(Node& vs, const Steps& s) {
  Load(vs, false);
  const int64_t lookback = options_.lookback_delta.count();
  Matrix parts;
  parts.reserve(vs.series.size());
  for (const RawSeries& r : vs.series) {
    Series o;
    size_t p = 0;
    const size_t len = r.t.size();
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
      Step();
      // With @, Prometheus replaces the offset by (ts - @) for every step, dropping `offset`.
      const int64_t ref = vs.at ? *vs.at : TimeSub(ts, vs.offset);
      if (vs.at) {
        p = static_cast<size_t>(std::upper_bound(r.t.begin(), r.t.end(), ref) - r.t.begin());
      } else if (p < len && r.t[p] <= ref) {
        p = static_cast<size_t>(std::upper_bound(r.t.begin() + p, r.t.end(), ref) - r.t.begin());
      }
      if (p == 0 || r.t[p - 1] < TimeSub(ref, lookback)) {
        // Nothing in the lookback window: with @ never, otherwise not before the next sample.
        if (vs.at || p == len) break;
        ts = StepBefore(ts, TimeAdd(r.t[p], vs.offset), s.interval);
        continue;
      }
      const size_t i = p - 1;
      if (tsdb::IsStaleNaN(r.v[i])) continue;
      Produce();
      o.points.push_back(Point{ts, static_cast<double>(r.t[i]) / 1000});
    }
    if (o.points.empty()) continue;
    o.metric = DropMetricName(r.metric);
    parts.push_back(std::move(o));
  }
  Val out;
  out.type = ValueType::kVector;
  out.mat = MergeByLabels(std::move(parts));
  return out;
}

}  // namespace tidemark::promql::internal
