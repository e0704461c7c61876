#include "tsdb/promql/ast.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "tsdb/promql/go_format.h"

namespace tidemark::promql {
namespace {

using VT = ValueType;
constexpr VT kS = VT::kScalar;
constexpr VT kV = VT::kVector;
constexpr VT kM = VT::kMatrix;
constexpr VT kStr = VT::kString;

// Prometheus 2.42 promql/parser/functions.go, sorted by name for binary search.
const std::vector<Function>& Functions() {
  static const std::vector<Function> kFunctions = [] {
    std::vector<Function> f = {
        {"abs", {kV}, 0, kV},
        {"absent", {kV}, 0, kV},
        {"absent_over_time", {kM}, 0, kV},
        {"acos", {kV}, 0, kV},
        {"acosh", {kV}, 0, kV},
        {"asin", {kV}, 0, kV},
        {"asinh", {kV}, 0, kV},
        {"atan", {kV}, 0, kV},
        {"atanh", {kV}, 0, kV},
        {"avg_over_time", {kM}, 0, kV},
        {"ceil", {kV}, 0, kV},
        {"changes", {kM}, 0, kV},
        {"clamp", {kV, kS, kS}, 0, kV},
        {"clamp_max", {kV, kS}, 0, kV},
        {"clamp_min", {kV, kS}, 0, kV},
        {"cos", {kV}, 0, kV},
        {"cosh", {kV}, 0, kV},
        {"count_over_time", {kM}, 0, kV},
        {"day_of_month", {kV}, 1, kV},
        {"day_of_week", {kV}, 1, kV},
        {"day_of_year", {kV}, 1, kV},
        {"days_in_month", {kV}, 1, kV},
        {"deg", {kV}, 0, kV},
        {"delta", {kM}, 0, kV},
        {"deriv", {kM}, 0, kV},
        {"exp", {kV}, 0, kV},
        {"floor", {kV}, 0, kV},
        {"histogram_count", {kV}, 0, kV},
        {"histogram_fraction", {kS, kS, kV}, 0, kV},
        {"histogram_quantile", {kS, kV}, 0, kV},
        {"histogram_sum", {kV}, 0, kV},
        {"holt_winters", {kM, kS, kS}, 0, kV},
        {"hour", {kV}, 1, kV},
        {"idelta", {kM}, 0, kV},
        {"increase", {kM}, 0, kV},
        {"irate", {kM}, 0, kV},
        {"label_join", {kV, kStr, kStr, kStr}, -1, kV},
        {"label_replace", {kV, kStr, kStr, kStr, kStr}, 0, kV},
        {"last_over_time", {kM}, 0, kV},
        {"ln", {kV}, 0, kV},
        {"log10", {kV}, 0, kV},
        {"log2", {kV}, 0, kV},
        {"max_over_time", {kM}, 0, kV},
        {"min_over_time", {kM}, 0, kV},
        {"minute", {kV}, 1, kV},
        {"month", {kV}, 1, kV},
        {"pi", {}, 0, kS},
        {"predict_linear", {kM, kS}, 0, kV},
        {"present_over_time", {kM}, 0, kV},
        {"quantile_over_time", {kS, kM}, 0, kV},
        {"rad", {kV}, 0, kV},
        {"rate", {kM}, 0, kV},
        {"resets", {kM}, 0, kV},
        {"round", {kV, kS}, 1, kV},
        {"scalar", {kV}, 0, kS},
        {"sgn", {kV}, 0, kV},
        {"sin", {kV}, 0, kV},
        {"sinh", {kV}, 0, kV},
        {"sort", {kV}, 0, kV},
        {"sort_desc", {kV}, 0, kV},
        {"sqrt", {kV}, 0, kV},
        {"stddev_over_time", {kM}, 0, kV},
        {"stdvar_over_time", {kM}, 0, kV},
        {"sum_over_time", {kM}, 0, kV},
        {"tan", {kV}, 0, kV},
        {"tanh", {kV}, 0, kV},
        {"time", {}, 0, kS},
        {"timestamp", {kV}, 0, kV},
        {"vector", {kS}, 0, kV},
        {"year", {kV}, 1, kV},
    };
    std::sort(f.begin(), f.end(),
              [](const Function& a, const Function& b) { return a.name < b.name; });
    return f;
  }();
  return kFunctions;
}

void AppendMatcher(const tsdb::Matcher& m, std::string* out) {
  static constexpr std::string_view kOps[] = {"=", "!=", "=~", "!~"};
  *out += m.name();
  *out += kOps[static_cast<int>(m.type())];
  AppendPromQLQuoted(m.value(), out);
}

void AppendAtOffset(const AtModifier& at, int64_t offset_ms, std::string* out) {
  switch (at.kind) {
    case AtKind::kTimestamp:
      *out += " @ ";
      *out += FormatAtTimestamp(at.timestamp_ms);
      break;
    case AtKind::kStart:
      *out += " @ start()";
      break;
    case AtKind::kEnd:
      *out += " @ end()";
      break;
    case AtKind::kNone:
      break;
  }
  if (offset_ms > 0) {
    *out += " offset ";
    *out += FormatPromDuration(offset_ms);
  } else if (offset_ms < 0) {
    *out += " offset -";
    // -INT64_MIN overflows; such an offset cannot come from the parser (durations are capped).
    *out += FormatPromDuration(offset_ms == INT64_MIN ? INT64_MAX : -offset_ms);
  }
}

// The selector without its @ and offset: `name{a="b",c=~"d"}` (matchers sorted as text).
void AppendSelectorBody(const VectorSelector& vs, std::string* out) {
  std::vector<std::string> parts;
  parts.reserve(vs.matchers.size());
  for (const tsdb::Matcher& m : vs.matchers) {
    if (m.name() == "__name__" && m.type() == tsdb::MatchType::kEqual && m.value() == vs.name) {
      continue;
    }
    std::string s;
    AppendMatcher(m, &s);
    parts.push_back(std::move(s));
  }
  *out += vs.name;
  if (parts.empty()) return;
  std::sort(parts.begin(), parts.end());
  out->push_back('{');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out->push_back(',');
    *out += parts[i];
  }
  out->push_back('}');
}

void AppendLabelList(const std::vector<std::string>& labels, std::string* out) {
  out->push_back('(');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) *out += ", ";
    *out += labels[i];
  }
  out->push_back(')');
}

void AppendExpr(const Expr& e, std::string* out);

void AppendRange(int64_t range_ms, std::string* out) { *out += FormatPromDuration(range_ms); }

void AppendExpr(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kNumber:
      *out += FormatGoFloat(static_cast<const NumberLiteral&>(e).value);
      return;
    case ExprKind::kString:
      AppendPromQLQuoted(static_cast<const StringLiteral&>(e).value, out);
      return;
    case ExprKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      AppendSelectorBody(vs, out);
      AppendAtOffset(vs.at, vs.offset_ms, out);
      return;
    }
    case ExprKind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      AppendSelectorBody(*ms.selector, out);
      out->push_back('[');
      AppendRange(ms.range_ms, out);
      out->push_back(']');
      AppendAtOffset(ms.selector->at, ms.selector->offset_ms, out);
      return;
    }
    case ExprKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      AppendExpr(*sq.expr, out);
      out->push_back('[');
      AppendRange(sq.range_ms, out);
      out->push_back(':');
      if (sq.step_ms != 0) AppendRange(sq.step_ms, out);
      out->push_back(']');
      AppendAtOffset(sq.at, sq.offset_ms, out);
      return;
    }
    case ExprKind::kParen:
      out->push_back('(');
      AppendExpr(*static_cast<const ParenExpr&>(e).expr, out);
      out->push_back(')');
      return;
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      out->push_back(u.op);
      AppendExpr(*u.expr, out);
      return;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      if (b.op == BinaryOp::kPow && b.lhs->kind == ExprKind::kNumber &&
          static_cast<const NumberLiteral&>(*b.lhs).value == INFINITY) {
        // Prometheus prints "+Inf ^ 2", which parses back as +(Inf ^ 2) and prints "++Inf ^ 2":
        // without the sign the text is a fixed point.
        *out += "Inf";
      } else {
        AppendExpr(*b.lhs, out);
      }
      out->push_back(' ');
      *out += BinaryOpName(b.op);
      if (b.return_bool) *out += " bool";
      if (b.matching && (!b.matching->matching_labels.empty() || b.matching->on)) {
        *out += b.matching->on ? " on " : " ignoring ";
        AppendLabelList(b.matching->matching_labels, out);
        if (b.matching->card == Cardinality::kManyToOne ||
            b.matching->card == Cardinality::kOneToMany) {
          *out += b.matching->card == Cardinality::kManyToOne ? " group_left " : " group_right ";
          AppendLabelList(b.matching->include, out);
        }
      }
      out->push_back(' ');
      AppendExpr(*b.rhs, out);
      return;
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      *out += c.func != nullptr ? c.func->name : std::string_view("<unknown>");
      out->push_back('(');
      for (size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) *out += ", ";
        AppendExpr(*c.args[i], out);
      }
      out->push_back(')');
      return;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      *out += AggregateOpName(a.op);
      if (a.without) {
        *out += " without ";
        AppendLabelList(a.grouping, out);
        out->push_back(' ');
      } else if (!a.grouping.empty()) {
        *out += " by ";
        AppendLabelList(a.grouping, out);
        out->push_back(' ');
      }
      out->push_back('(');
      if (a.param) {
        AppendExpr(*a.param, out);
        *out += ", ";
      }
      if (a.expr) AppendExpr(*a.expr, out);
      out->push_back(')');
      return;
    }
  }
}

}  // namespace

std::string_view DocumentedTypeName(ValueType type) {
  switch (type) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
    case ValueType::kNone:
      break;
  }
  return "none";
}

std::string_view ApiTypeName(ValueType type) {
  switch (type) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kString:
      return "string";
    case ValueType::kNone:
      break;
  }
  return "none";
}

ValueType Expr::Type() const {
  const Expr* e = this;
  // Parentheses and unary operators take their operand's type; walk down without recursion.
  while (e->kind == ExprKind::kParen || e->kind == ExprKind::kUnary) {
    e = e->kind == ExprKind::kParen ? static_cast<const ParenExpr*>(e)->expr.get()
                                    : static_cast<const UnaryExpr*>(e)->expr.get();
    if (e == nullptr) return ValueType::kNone;
  }
  switch (e->kind) {
    case ExprKind::kNumber:
      return ValueType::kScalar;
    case ExprKind::kString:
      return ValueType::kString;
    case ExprKind::kVectorSelector:
    case ExprKind::kAggregate:
      return ValueType::kVector;
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return ValueType::kMatrix;
    case ExprKind::kBinary: {
      const auto* b = static_cast<const BinaryExpr*>(e);
      return b->lhs->Type() == ValueType::kScalar && b->rhs->Type() == ValueType::kScalar
                 ? ValueType::kScalar
                 : ValueType::kVector;
    }
    case ExprKind::kCall: {
      const auto* c = static_cast<const Call*>(e);
      return c->func != nullptr ? c->func->return_type : ValueType::kNone;
    }
    case ExprKind::kParen:
    case ExprKind::kUnary:
      break;
  }
  return ValueType::kNone;
}

std::string Expr::ToString() const {
  std::string out;
  AppendExpr(*this, &out);
  return out;
}

std::string_view BinaryOpName(BinaryOp op) {
  static constexpr std::array<std::string_view, 16> kNames = {
      "+",  "-", "*", "/",  "%",  "^",   "atan2", "==",
      "!=", ">", "<", ">=", "<=", "and", "or",    "unless"};
  return kNames[static_cast<size_t>(op)];
}

bool IsComparison(BinaryOp op) { return op >= BinaryOp::kEql && op <= BinaryOp::kLte; }

bool IsSetOperator(BinaryOp op) {
  return op == BinaryOp::kAnd || op == BinaryOp::kOr || op == BinaryOp::kUnless;
}

std::string_view AggregateOpName(AggregateOp op) {
  static constexpr std::array<std::string_view, 12> kNames = {
      "sum",    "avg",    "count", "min",     "max",          "group",
      "stddev", "stdvar", "topk",  "bottomk", "count_values", "quantile"};
  return kNames[static_cast<size_t>(op)];
}

const Function* LookupFunction(std::string_view name) {
  const auto& fs = Functions();
  auto it = std::lower_bound(fs.begin(), fs.end(), name,
                             [](const Function& f, std::string_view n) { return f.name < n; });
  if (it == fs.end() || it->name != name) return nullptr;
  return &*it;
}

}  // namespace tidemark::promql
