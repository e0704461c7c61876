// The PromQL parser: Prometheus 2.42's grammar, precedence, type checks and error messages.
#pragma once

#include <string_view>

#include "common/status.h"
#include "tsdb/promql/ast.h"

namespace tidemark::promql {

// Parses one expression. InvalidArgument with Prometheus' message on error, e.g.
// "1:10: parse error: unclosed left parenthesis" (line:column of the offending token, 1-based).
Result<ExprPtr> ParseExpr(std::string_view input);

}  // namespace tidemark::promql
