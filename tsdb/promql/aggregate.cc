// Aggregations (Prometheus 2.42 engine.go's aggregation()): group keys are computed once per
// series; each step folds the samples present into per-group accumulators.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tsdb/promql/internal/evaluator.h"

namespace tidemark::promql::internal {
namespace {

struct Group {
  int64_t stamp = std::numeric_limits<int64_t>::min();  // Step of the last initialisation.
  double value = 0;
  double mean = 0;
  double count = 0;
  std::vector<std::pair<double, int>> heap;  // (value, input series) for topk/bottomk/quantile.
  int out = -1;
};

// Go's container/heap over vectorByValueHeap (reverse = vectorByReverseValueHeap).
struct GoHeap {
  bool reverse;
  std::vector<std::pair<double, int>>* h;
  bool Less(size_t i, size_t j) const {
    double a = (*h)[i].first, b = (*h)[j].first;
    if (std::isnan(a)) return true;
    return reverse ? a > b : a < b;
  }
  void Up(size_t j) {
    while (j > 0) {
      size_t i = (j - 1) / 2;
      if (!Less(j, i)) break;
      std::swap((*h)[i], (*h)[j]);
      j = i;
    }
  }
  void Down(size_t i, size_t n) {
    for (;;) {
      size_t j1 = 2 * i + 1;
      if (j1 >= n) break;
      size_t j = j1;
      if (j1 + 1 < n && Less(j1 + 1, j1)) j = j1 + 1;
      if (!Less(j, i)) break;
      std::swap((*h)[i], (*h)[j]);
      i = j;
    }
  }
  void Push(std::pair<double, int> x) {
    h->push_back(x);
    Up(h->size() - 1);
  }
  void Pop() {
    size_t n = h->size() - 1;
    std::swap((*h)[0], (*h)[n]);
    Down(0, n);
    h->pop_back();
  }
};

// sort.Sort(sort.Reverse(heap)): an insertion sort for the small sizes topk usually has.
void SortReverse(std::vector<std::pair<double, int>>* h, bool reverse_heap) {
  GoHeap gh{reverse_heap, h};
  auto& a = *h;
  if (a.size() <= 12) {
    for (size_t i = 1; i < a.size(); ++i) {
      for (size_t j = i; j > 0 && gh.Less(j - 1, j); --j) std::swap(a[j], a[j - 1]);
    }
    return;
  }
  std::stable_sort(a.begin(), a.end(), [&](const auto& x, const auto& y) {
    if (std::isnan(x.first)) return false;
    if (std::isnan(y.first)) return true;
    return reverse_heap ? x.first < y.first : x.first > y.first;
  });
}

}  // namespace

Val Evaluator::EvalAggregate(Node& n, const Steps& s) {
  const auto& ae = static_cast<const AggregateExpr&>(*n.expr);
  const AggregateOp op = ae.op;
  const int64_t base = samples();
  std::vector<std::string> grouping = ae.grouping;
  std::sort(grouping.begin(), grouping.end());
  const bool without = ae.without;

  // rangeEval(param, expr): the parameter is evaluated first.
  std::vector<double> param;
  std::string value_label;
  if (n.kids.size() > 1) {
    if (n.kids[1]->kind == ExprKind::kString) {
      value_label = static_cast<const StringLiteral*>(n.kids[1]->expr)->value;
    } else {
      param = Dense(Eval(*n.kids[1], s), s);
    }
  }
  Val in = Eval(*n.kids[0], s);
  const Matrix& m = in.mat;

  // topk/bottomk/count_values make many series with few points each: reserve nothing for them.
  const bool sparse_out =
      op == AggregateOp::kTopk || op == AggregateOp::kBottomk || op == AggregateOp::kCountValues;
  OutMatrix om(sparse_out ? 0 : s.Count());
  Val out;
  out.type = ValueType::kVector;
  auto step_of = [&](int64_t t) { return static_cast<size_t>((t - s.start) / s.interval); };

  if (op == AggregateOp::kCountValues) {
    if (!IsValidLabelName(value_label)) {
      ThrowExec("invalid label name " + GoQuote(value_label));
    }
    std::vector<std::string> g = grouping;
    if (!without) {
      g.push_back(value_label);
      std::sort(g.begin(), g.end());
    }
    struct CvGroup {
      int out;
      int64_t stamp;
      double count;
    };
    std::unordered_map<std::string, CvGroup> groups;
    std::vector<CvGroup*> order;
    StepCursor cur(m);
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
      CheckDeadline();
      order.clear();
      cur.ForEach(ts, [&](size_t i, double v) {
        Labels metric = m[i].metric;
        SetLabel(&metric, value_label, FormatGoFloat(v, 'f'));
        auto [it, inserted] =
            groups.try_emplace(SignatureOn(metric, !without, g), CvGroup{-1, -1, 0});
        CvGroup& grp = it->second;
        if (grp.stamp != ts || inserted) {
          if (grp.out < 0) grp.out = om.Intern(LabelsOn(metric, !without, g));
          grp.stamp = ts;
          grp.count = 1;
          order.push_back(&grp);
        } else {
          grp.count++;
        }
      });
      for (CvGroup* grp : order) om.Add(grp->out, ts, grp->count);
    }
    out.mat = om.Take();
    SetSamples(base);
    AddSamples(0);
    return out;
  }

  // Group of each input series, computed once.
  std::vector<int> gid(m.size());
  std::vector<Group> groups;
  std::vector<Labels> group_labels;
  {
    std::unordered_map<std::string, int> ids;
    for (size_t i = 0; i < m.size(); ++i) {
      auto [it, inserted] = ids.try_emplace(SignatureOn(m[i].metric, !without, grouping),
                                            static_cast<int>(groups.size()));
      if (inserted) {
        groups.emplace_back();
        group_labels.push_back(LabelsOn(m[i].metric, !without, grouping));
      }
      gid[i] = it->second;
    }
  }
  std::vector<int> series_out(m.size(), -1);  // topk/bottomk outputs, by input series.
  std::vector<Group*> order;
  StepCursor cur(m);
  int64_t total = 0;
  for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
    CheckDeadline();
    order.clear();
    int64_t k = 0;
    double q = 0;
    if (op == AggregateOp::kTopk || op == AggregateOp::kBottomk) {
      const double f = param[step_of(ts)];
      // Prometheus' convertibleToInt64: the largest double below 2^63 (2^63 itself would overflow).
      if (!(f <= 9223372036854774784.0 && f >= -9223372036854775808.0)) {
        ThrowExec("Scalar value " + FormatGoFloat(f) + " overflows int64");
      }
      k = static_cast<int64_t>(f);
      if (k < 1) {
        // Skip the step, but keep the cursor in sync.
        cur.ForEach(ts, [](size_t, double) {});
        continue;
      }
    } else if (op == AggregateOp::kQuantile) {
      q = param[step_of(ts)];
    }
    cur.ForEach(ts, [&](size_t i, double v) {
      Group& g = groups[gid[i]];
      if (g.stamp != ts) {
        g.stamp = ts;
        g.value = v;
        g.mean = v;
        g.count = 1;
        g.heap.clear();
        switch (op) {
          case AggregateOp::kStddev:
          case AggregateOp::kStdvar:
            g.value = 0;
            break;
          case AggregateOp::kTopk:
          case AggregateOp::kBottomk:
          case AggregateOp::kQuantile:
            g.heap.emplace_back(v, static_cast<int>(i));
            break;
          case AggregateOp::kGroup:
            g.value = 1;
            break;
          default:
            break;
        }
        order.push_back(&g);
        return;
      }
      switch (op) {
        case AggregateOp::kSum:
          g.value += v;
          break;
        case AggregateOp::kAvg:
          g.count++;
          if (std::isinf(g.mean)) {
            if (std::isinf(v) && (g.mean > 0) == (v > 0)) break;
            if (!std::isinf(v) && !std::isnan(v)) break;
          }
          g.mean += v / g.count - g.mean / g.count;
          break;
        case AggregateOp::kGroup:
          break;
        case AggregateOp::kMax:
          if (g.value < v || std::isnan(g.value)) g.value = v;
          break;
        case AggregateOp::kMin:
          if (g.value > v || std::isnan(g.value)) g.value = v;
          break;
        case AggregateOp::kCount:
          g.count++;
          break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar: {
          g.count++;
          double delta = v - g.mean;
          g.mean += delta / g.count;
          g.value += delta * (v - g.mean);
          break;
        }
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk: {
          const bool rev = op == AggregateOp::kBottomk;
          GoHeap h{rev, &g.heap};
          double top = g.heap[0].first;
          bool take = static_cast<int64_t>(g.heap.size()) < k || (rev ? top > v : top < v) ||
                      std::isnan(top);
          if (!take) break;
          if (static_cast<int64_t>(g.heap.size()) == k) {
            if (k == 1) {
              g.heap[0] = {v, static_cast<int>(i)};
              break;
            }
            h.Pop();
          }
          h.Push({v, static_cast<int>(i)});
          break;
        }
        case AggregateOp::kQuantile:
          g.heap.emplace_back(v, static_cast<int>(i));
          break;
        case AggregateOp::kCountValues:
          break;
      }
    });
    for (Group* gp : order) {
      Group& g = *gp;
      const int gi = static_cast<int>(gp - groups.data());
      double v = g.value;
      switch (op) {
        case AggregateOp::kAvg:
          v = g.mean;
          break;
        case AggregateOp::kCount:
          v = g.count;
          break;
        case AggregateOp::kStdvar:
          v = g.value / g.count;
          break;
        case AggregateOp::kStddev:
          v = std::sqrt(g.value / g.count);
          break;
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk: {
          if (g.heap.size() > 1) SortReverse(&g.heap, op == AggregateOp::kBottomk);
          for (const auto& [hv, si] : g.heap) {
            if (series_out[si] < 0) series_out[si] = om.Intern(m[si].metric);
            om.Add(series_out[si], ts, hv);
            ++total;
          }
          continue;
        }
        case AggregateOp::kQuantile: {
          std::vector<double> vals;
          vals.reserve(g.heap.size());
          for (const auto& e : g.heap) vals.push_back(e.first);
          v = Quantile(q, std::move(vals));
          break;
        }
        default:
          break;
      }
      if (g.out < 0) g.out = om.Intern(group_labels[gi]);
      om.Add(g.out, ts, v);
      ++total;
    }
  }
  out.mat = om.Take();
  SetSamples(base);
  AddSamples(total);
  return out;
}

}  // namespace tidemark::promql::internal
