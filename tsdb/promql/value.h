// Query results: Prometheus' promql.Value types, and the errors a query can end with.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/labels.h"
#include "tsdb/promql/ast.h"

namespace tidemark::promql {

struct Point {
  int64_t t = 0;  // Unix milliseconds.
  double v = 0;
  bool operator==(const Point&) const = default;
};

// One element of an instant vector. `metric` is sorted by name; __name__ is included when kept.
struct Sample {
  Labels metric;
  int64_t t = 0;
  double v = 0;
};
using Vector = std::vector<Sample>;

struct Series {
  Labels metric;
  std::vector<Point> points;  // In time order.
};
using Matrix = std::vector<Series>;

// The value of a whole query. Which member is meaningful depends on `type`.
struct Value {
  ValueType type = ValueType::kNone;
  Point scalar;     // kScalar: t is the evaluation time.
  std::string str;  // kString (with scalar.t as its time).
  Vector vector;    // kVector
  Matrix matrix;    // kMatrix (range queries always; instant queries of range selectors)
};

// Prometheus' API error classes (web/api/v1 errorType).
enum class ErrorType {
  kNone,
  kBadData,    // 400: parse errors, bad parameters.
  kExecution,  // 422: evaluation errors (matching, duplicate label sets, too many samples).
  kTimeout,    // 503: the query ran past its timeout.
  kCanceled,   // 503
  kInternal,   // 500: storage errors.
};
std::string_view ErrorTypeName(ErrorType type);  // "bad_data", "execution", …

struct QueryResult {
  ErrorType error_type = ErrorType::kNone;
  std::string error;  // Prometheus' message, e.g. "1:10: parse error: unclosed left parenthesis".
  Value value;
  std::vector<std::string> warnings;
  bool ok() const { return error_type == ErrorType::kNone; }
};

}  // namespace tidemark::promql
