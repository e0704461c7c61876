// Binary operators (Prometheus 2.42 engine.go's VectorBinop, VectorscalarBinop, VectorAnd/Or/
// Unless, scalarBinop). Match signatures and result label sets are computed once per series or
// series pair; the steps only compare small integers.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tsdb/promql/internal/evaluator.h"

namespace tidemark::promql::internal {
namespace {

bool ShouldDropMetricName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMod:
    case BinaryOp::kPow:
      return true;
    default:
      return false;  // atan2 and comparisons keep the name in 2.42.
  }
}

bool IsCmp(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEql:
    case BinaryOp::kNeq:
    case BinaryOp::kGtr:
    case BinaryOp::kLss:
    case BinaryOp::kGte:
    case BinaryOp::kLte:
      return true;
    default:
      return false;
  }
}

// vectorElemBinop.
double ElemBinop(BinaryOp op, double l, double r, bool* keep) {
  *keep = true;
  switch (op) {
    case BinaryOp::kAdd:
      return l + r;
    case BinaryOp::kSub:
      return l - r;
    case BinaryOp::kMul:
      return l * r;
    case BinaryOp::kDiv:
      return l / r;
    case BinaryOp::kPow:
      return GoPow(l, r);
    case BinaryOp::kMod:
      return GoMod(l, r);
    case BinaryOp::kAtan2:
      return GoAtan2(l, r);
    case BinaryOp::kEql:
      *keep = l == r;
      return l;
    case BinaryOp::kNeq:
      *keep = l != r;
      return l;
    case BinaryOp::kGtr:
      *keep = l > r;
      return l;
    case BinaryOp::kLss:
      *keep = l < r;
      return l;
    case BinaryOp::kGte:
      *keep = l >= r;
      return l;
    case BinaryOp::kLte:
      *keep = l <= r;
      return l;
    default:
      break;
  }
  ThrowExec("operator \"" + std::string(BinaryOpName(op)) +
            "\" not allowed for operations between Vectors");
}

double ScalarBinop(BinaryOp op, double l, double r) {
  bool keep;
  double v = ElemBinop(op, l, r, &keep);
  if (IsCmp(op)) return keep ? 1 : 0;
  return v;
}

bool Listed(const std::vector<std::string>& sorted_names, const std::string& name) {
  return std::binary_search(sorted_names.begin(), sorted_names.end(), name);
}

}  // namespace

Val Evaluator::EvalBinary(Node& n, const Steps& s) {
  const auto& be = static_cast<const BinaryExpr&>(*n.expr);
  const BinaryOp op = be.op;
  const ValueType lt = n.kids[0]->type, rt = n.kids[1]->type;
  const int64_t base = samples();
  Val lhs = Eval(*n.kids[0], s);
  Val rhs = Eval(*n.kids[1], s);
  Val out;
  out.type = ValueType::kVector;
  auto finish = [&](Matrix m) {
    int64_t total = 0;
    for (const Series& ser : m) total += static_cast<int64_t>(ser.points.size());
    SetSamples(base);
    AddSamples(total);
    out.mat = std::move(m);
    return std::move(out);
  };

  if (lt == ValueType::kScalar && rt == ValueType::kScalar) {
    std::vector<double> l = Dense(lhs, s), r = Dense(rhs, s);
    out.type = ValueType::kScalar;
    Matrix m(1);
    int64_t k = 0;
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval, ++k) {
      m[0].points.push_back(Point{ts, ScalarBinop(op, l[k], r[k])});
    }
    return finish(std::move(m));
  }

  if (lt != ValueType::kVector || rt != ValueType::kVector) {
    // Vector ⊕ scalar or scalar ⊕ vector.
    const bool swap = lt == ValueType::kScalar;
    Matrix& vec = swap ? rhs.mat : lhs.mat;
    std::vector<double> sc = Dense(swap ? lhs : rhs, s);
    const bool drop = ShouldDropMetricName(op) || be.return_bool;
    Matrix parts;
    parts.reserve(vec.size());
    for (Series& in : vec) {
      Series o;
      o.points.reserve(in.points.size());
      for (const Point& p : in.points) {
        double lv = p.v, rv = sc[(p.t - s.start) / s.interval];
        if (swap) std::swap(lv, rv);
        bool keep;
        double value = ElemBinop(op, lv, rv, &keep);
        if (IsCmp(op) && swap) value = rv;
        if (be.return_bool) {
          value = keep ? 1.0 : 0.0;
          keep = true;
        }
        if (keep) o.points.push_back(Point{p.t, value});
      }
      o.metric = drop ? DropMetricName(in.metric) : std::move(in.metric);
      parts.push_back(std::move(o));
    }
    // Merge as rangeEval's output map does (dropping the name can make label sets collide).
    Matrix merged;
    {
      std::unordered_map<std::string, size_t> index;
      for (Series& p : parts) {
        if (p.points.empty()) continue;
        auto [it, inserted] = index.try_emplace(LabelsKey(p.metric), merged.size());
        if (inserted) {
          merged.push_back(std::move(p));
          continue;
        }
        Series& dst = merged[it->second];
        std::vector<Point> all;
        std::merge(dst.points.begin(), dst.points.end(), p.points.begin(), p.points.end(),
                   std::back_inserter(all),
                   [](const Point& a, const Point& b) { return a.t < b.t; });
        for (size_t i = 1; i < all.size(); ++i) {
          if (all[i].t == all[i - 1].t) {
            ThrowExec("vector cannot contain metrics with the same labelset");
          }
        }
        dst.points = std::move(all);
      }
    }
    return finish(std::move(merged));
  }

  // Vector ⊕ vector.
  VectorMatching matching;
  if (be.matching) {
    matching = *be.matching;
  } else if (IsSetOperator(op)) {
    matching.card = Cardinality::kManyToMany;
  }
  std::vector<std::string> names = matching.matching_labels;
  std::sort(names.begin(), names.end());
  const Matrix& lm = lhs.mat;
  const Matrix& rm = rhs.mat;
  std::unordered_map<std::string, int> sig_ids;
  auto sig_of = [&](const Labels& ls) {
    auto [it, inserted] =
        sig_ids.try_emplace(SignatureOn(ls, matching.on, names), static_cast<int>(sig_ids.size()));
    return it->second;
  };
  std::vector<int> lsig(lm.size()), rsig(rm.size());
  for (size_t i = 0; i < lm.size(); ++i) lsig[i] = sig_of(lm[i].metric);
  for (size_t i = 0; i < rm.size(); ++i) rsig[i] = sig_of(rm[i].metric);
  const size_t nsig = sig_ids.size();
  constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

  OutMatrix om(s.Count());
  StepCursor lc(lm), rc(rm);
  std::vector<std::pair<size_t, double>> lv, rv;
  std::vector<int64_t> sig_stamp(nsig, kNever);

  if (IsSetOperator(op)) {
    std::vector<int> lout(lm.size(), -1), rout(rm.size(), -1);
    auto emit = [&](const Matrix& m, std::vector<int>& outs, size_t i, int64_t ts, double v) {
      if (outs[i] < 0) outs[i] = om.Intern(m[i].metric);
      om.Add(outs[i], ts, v);
    };
    for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
      CheckDeadline();
      lv.clear();
      rv.clear();
      lc.ForEach(ts, [&](size_t i, double v) { lv.emplace_back(i, v); });
      rc.ForEach(ts, [&](size_t i, double v) { rv.emplace_back(i, v); });
      switch (op) {
        case BinaryOp::kAnd:
          if (lv.empty() || rv.empty()) break;
          for (auto& [i, v] : rv) sig_stamp[rsig[i]] = ts;
          for (auto& [i, v] : lv) {
            if (sig_stamp[lsig[i]] == ts) emit(lm, lout, i, ts, v);
          }
          break;
        case BinaryOp::kOr:
          for (auto& [i, v] : lv) {
            sig_stamp[lsig[i]] = ts;
            emit(lm, lout, i, ts, v);
          }
          for (auto& [i, v] : rv) {
            if (lv.empty() || sig_stamp[rsig[i]] != ts) emit(rm, rout, i, ts, v);
          }
          break;
        default:  // unless
          if (!rv.empty()) {
            for (auto& [i, v] : rv) sig_stamp[rsig[i]] = ts;
          }
          for (auto& [i, v] : lv) {
            if (rv.empty() || sig_stamp[lsig[i]] != ts) emit(lm, lout, i, ts, v);
          }
          break;
      }
    }
    return finish(om.Take());
  }

  if (matching.card == Cardinality::kManyToMany) {
    ThrowExec("many-to-many only allowed for set operators");
  }
  const bool one_to_many = matching.card == Cardinality::kOneToMany;
  // After the swap, L is the "many" side and R the "one" side.
  const Matrix& L = one_to_many ? rm : lm;
  const Matrix& R = one_to_many ? lm : rm;
  const std::vector<int>& Lsig = one_to_many ? rsig : lsig;
  const std::vector<int>& Rsig = one_to_many ? lsig : rsig;
  StepCursor Lc(L), Rc(R);
  std::vector<size_t> r_idx(nsig);
  std::vector<double> r_val(nsig);
  std::vector<int64_t> matched_stamp(nsig, kNever);
  std::vector<int64_t> out_stamp;
  std::vector<int> out_sig;
  std::unordered_map<uint64_t, int> pair_out;
  std::vector<int64_t> last_r(L.size(), -1);
  std::vector<int> last_out(L.size(), -1);
  std::vector<std::string> include = matching.include;
  const bool drop = ShouldDropMetricName(op);

  auto result_metric = [&](const Labels& l, const Labels& r) {
    Labels m = l;
    if (drop) DelLabel(&m, "__name__");
    if (matching.card == Cardinality::kOneToOne) {
      Labels kept;
      for (const Label& lb : m) {
        bool listed = Listed(names, lb.name);
        if (matching.on ? listed : !listed) kept.push_back(lb);
      }
      m = std::move(kept);
    }
    for (const std::string& ln : include) {
      std::string_view v = GetLabel(r, ln);
      if (!v.empty()) {
        SetLabel(&m, ln, std::string(v));
      } else {
        DelLabel(&m, ln);
      }
    }
    if (be.return_bool) m = DropMetricName(m);
    return m;
  };

  for (int64_t ts = s.start; ts <= s.end; ts += s.interval) {
    CheckDeadline();
    lv.clear();
    rv.clear();
    Lc.ForEach(ts, [&](size_t i, double v) { lv.emplace_back(i, v); });
    Rc.ForEach(ts, [&](size_t i, double v) { rv.emplace_back(i, v); });
    if (lv.empty() || rv.empty()) continue;
    for (auto& [i, v] : rv) {
      const int sg = Rsig[i];
      if (sig_stamp[sg] == ts) {
        const Labels matched = LabelsOn(R[i].metric, matching.on, matching.matching_labels);
        ThrowExec("found duplicate series for the match group " + LabelsString(matched) +
                  " on the " + (one_to_many ? "left" : "right") + " hand-side of the operation: [" +
                  LabelsString(R[i].metric) + ", " + LabelsString(R[r_idx[sg]].metric) +
                  "];many-to-many matching not allowed: matching labels must be unique on one "
                  "side");
      }
      sig_stamp[sg] = ts;
      r_idx[sg] = i;
      r_val[sg] = v;
    }
    bool same_labelset = false;
    for (auto& [i, v] : lv) {
      const int sg = Lsig[i];
      if (sig_stamp[sg] != ts) continue;
      double vl = v, vr = r_val[sg];
      if (one_to_many) std::swap(vl, vr);
      bool keep;
      double value = ElemBinop(op, vl, vr, &keep);
      if (be.return_bool) {
        value = keep ? 1.0 : 0.0;
      } else if (!keep) {
        continue;
      }
      const size_t ri = r_idx[sg];
      // A series usually meets the same partner at every step: remember the last pair's output
      // so that only a change of partner costs a hash lookup.
      int oi;
      if (last_r[i] == static_cast<int64_t>(ri)) {
        oi = last_out[i];
      } else {
        const uint64_t key = (static_cast<uint64_t>(i) << 32) | ri;
        auto [it, inserted] = pair_out.try_emplace(key, -1);
        if (inserted) {
          it->second = om.Intern(result_metric(L[i].metric, R[ri].metric));
          if (out_stamp.size() < om.size()) {
            out_stamp.resize(om.size(), kNever);
            out_sig.resize(om.size(), -1);
          }
        }
        oi = it->second;
        last_r[i] = static_cast<int64_t>(ri);
        last_out[i] = oi;
      }
      if (matching.card == Cardinality::kOneToOne) {
        if (matched_stamp[sg] == ts) {
          ThrowExec(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
        }
        matched_stamp[sg] = ts;
      } else if (out_stamp[oi] == ts && out_sig[oi] == sg) {
        ThrowExec("multiple matches for labels: grouping labels must ensure unique matches");
      }
      if (out_stamp[oi] == ts) {
        same_labelset = true;
        continue;
      }
      out_stamp[oi] = ts;
      out_sig[oi] = sg;
      om.Add(oi, ts, value);
    }
    if (same_labelset) ThrowExec("vector cannot contain metrics with the same labelset");
  }
  return finish(om.Take());
}

}  // namespace tidemark::promql::internal
