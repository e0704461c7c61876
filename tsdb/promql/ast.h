// The PromQL syntax tree (Prometheus 2.42 grammar). Produced by ParseExpr() (parser.h), walked by
// the Engine (engine.h). Nodes own their children; a parsed tree is immutable and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/matcher.h"

namespace tidemark::promql {

// The static type of an expression (Prometheus' parser.ValueType).
enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };
// "scalar", "instant vector", "range vector", "string" as in the parser's error messages.
std::string_view DocumentedTypeName(ValueType type);
// "scalar", "vector", "matrix", "string" as in the HTTP API's resultType.
std::string_view ApiTypeName(ValueType type);

// Byte offsets [start, end) into the query text.
struct PosRange {
  int start = 0;
  int end = 0;
};

enum class ExprKind {
  kNumber,
  kString,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kParen,
  kUnary,
  kBinary,
  kCall,
  kAggregate,
};

struct Expr {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr() = default;
  // The static type the expression evaluates to.
  ValueType Type() const;
  // Canonical PromQL text (Prometheus' String(): `sum by (a) (rate(x[5m]))`).
  std::string ToString() const;

  const ExprKind kind;
  PosRange pos;
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(ExprKind::kNumber) {}
  double value = 0;
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(ExprKind::kString) {}
  std::string value;  // Unescaped.
};

// The `@` modifier: none, `@ <unix seconds>`, `@ start()`, `@ end()`.
enum class AtKind { kNone, kTimestamp, kStart, kEnd };

struct AtModifier {
  AtKind kind = AtKind::kNone;
  int64_t timestamp_ms = 0;  // For kTimestamp.
};

struct VectorSelector : Expr {
  VectorSelector() : Expr(ExprKind::kVectorSelector) {}
  std::string
      name;  // The metric name written before `{`, or "" (then a __name__ matcher may exist).
  // Every matcher, including `__name__="<name>"` when `name` is set (first, as Prometheus does).
  std::vector<tsdb::Matcher> matchers;
  int64_t offset_ms = 0;  // `offset 5m` → 300000; negative offsets look forward.
  AtModifier at;
};

// `selector[range]`; offset and @ live in the inner selector.
struct MatrixSelector : Expr {
  MatrixSelector() : Expr(ExprKind::kMatrixSelector) {}
  std::unique_ptr<VectorSelector> selector;
  int64_t range_ms = 0;
};

// `expr[range:step]`; step_ms == 0 means "the default resolution".
struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(ExprKind::kSubquery) {}
  ExprPtr expr;
  int64_t range_ms = 0;
  int64_t step_ms = 0;
  int64_t offset_ms = 0;
  AtModifier at;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(ExprKind::kParen) {}
  ExprPtr expr;
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(ExprKind::kUnary) {}
  char op = '-';  // '-' or '+'.
  ExprPtr expr;
};

enum class BinaryOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kEql,
  kNeq,
  kGtr,
  kLss,
  kGte,
  kLte,
  kAnd,
  kOr,
  kUnless,
};
std::string_view BinaryOpName(BinaryOp op);  // "+", "==", "and", "atan2", …
bool IsComparison(BinaryOp op);
bool IsSetOperator(BinaryOp op);

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

// How the two sides of a vector-vector operation are matched.
struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  // The labels of `on(...)` (on == true) or `ignoring(...)` (on == false).
  std::vector<std::string> matching_labels;
  bool on = false;
  // The labels of `group_left(...)` / `group_right(...)` copied from the "one" side.
  std::vector<std::string> include;
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(ExprKind::kBinary) {}
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  bool return_bool = false;  // `bool` modifier of a comparison.
  // Set when both sides are instant vectors (card kManyToMany for and/or/unless).
  std::optional<VectorMatching> matching;
};

// A built-in function's signature, Prometheus' parser.Function.
struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types.size() arguments. n > 0: from arg_types.size() - 1 up to
  // arg_types.size() - 1 + n (round's to_nearest, the date functions' vector). -1: at least
  // arg_types.size() - 1, extra ones of the last type (label_join).
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
};
// The 2.42 function table; nullptr for unknown names.
const Function* LookupFunction(std::string_view name);

struct Call : Expr {
  Call() : Expr(ExprKind::kCall) {}
  const Function* func = nullptr;
  std::vector<ExprPtr> args;
};

enum class AggregateOp {
  kSum,
  kAvg,
  kCount,
  kMin,
  kMax,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kCountValues,
  kQuantile,
};
std::string_view AggregateOpName(AggregateOp op);  // "sum", "count_values", …

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(ExprKind::kAggregate) {}
  AggregateOp op = AggregateOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // topk/bottomk/quantile: scalar; count_values: string; else null.
  std::vector<std::string> grouping;
  bool without = false;
};

}  // namespace tidemark::promql
