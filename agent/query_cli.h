// `tidemark query EXPR`: evaluates PromQL against a running agent's API or directly on a data
// directory, printing an aligned table or the API's JSON.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "tsdb/promql/value.h"

namespace tidemark::agent {

// args are those after "query". Returns the exit code: 0 ok, 1 the query or the connection failed,
// 2 bad usage or bad input (one line on err saying why). `clock` gives "now".
int RunQueryCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const Clock& clock);

// A time flag: the API's formats (Unix seconds, RFC3339), "now", or "-<duration>" / "now-<d>"
// relative to now_ms ("-1h", "now-30m"). Unix ms; InvalidArgument naming the value otherwise.
Result<int64_t> ParseCliTime(std::string_view s, int64_t now_ms);

// The human-readable table of a query result: SERIES, VALUE, TIME columns, aligned; one row per
// sample (matrices: per point). Times are RFC3339 UTC with milliseconds.
std::string FormatResultTable(const promql::Value& value);

// Parses an API response body's `data` of a query back into a Value (for printing); the error
// of an "error" envelope comes back as InvalidArgument (bad_data) or Internal (others) with
// "<errorType>: <error>".
Result<promql::Value> ParseQueryResponse(std::string_view body);

}  // namespace tidemark::agent
