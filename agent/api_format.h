// Byte-exact pieces of the Prometheus 2.42 HTTP API: JSON writing as Go's encoding/json and the
// API's own float/timestamp encoders do, and the API's time and duration parameter parsing.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/go_format.h"  // GoQuote, ParseGoFloat, AppendGoFloat for API callers.
#include "common/labels.h"
#include "common/status.h"
#include "tsdb/promql/value.h"

namespace tidemark::agent {

// Appends `s` as a JSON string (quotes included) escaped as Go's encoding/json does: \" \\ \n \r
// \t, other control characters and <, >, &, U+2028, U+2029 as \u00XX/\u20XX, invalid UTF-8 bytes
// as \ufffd.
void AppendJsonString(std::string_view s, std::string* out);
// encoding/json's float64: 'f' form, 'e' form (exponent e-7, e+21) for |v| < 1e-6 or >= 1e21.
void AppendJsonNumber(double v, std::string* out);
// A vector/matrix sample value, quoted: 'f' form, 'e' form for 0 < |v| < 1e-6 or |v| >= 1e21.
void AppendSampleValue(double v, std::string* out);
// A vector/matrix timestamp: Unix seconds, then ".mmm" (exactly 3 digits) if ms % 1000 != 0.
void AppendSampleTimestamp(int64_t ms, std::string* out);
// A label set as a JSON object in label order: {"__name__":"up","job":"a"}.
void AppendLabelsJson(const Labels& labels, std::string* out);
// A JSON array of strings: ["a","b"]; [] when empty.
void AppendStringArray(const std::vector<std::string>& values, std::string* out);

// The `data` of a successful /query or /query_range: {"resultType":"…","result":…}. Scalars and
// strings use Go JSON float timestamps and 'f' values; vectors and matrices the sample encoders.
std::string FormatQueryData(const promql::Value& value);
// {"status":"success","data":<data_json>[,"warnings":[…]]}
std::string SuccessBody(std::string_view data_json, const std::vector<std::string>& warnings = {});
// The same, written around data_json in place (no copy of the data into a new buffer).
std::string SuccessBodyInPlace(std::string&& data_json,
                               const std::vector<std::string>& warnings = {});
// {"status":"error","errorType":"<type>","error":"<message>"[,"warnings":[…]]}
std::string ErrorBody(std::string_view error_type, std::string_view message,
                      const std::vector<std::string>& warnings = {});

// A time as Go holds it: seconds and nanoseconds in [0, 1e9).
struct ApiTime {
  int64_t sec = 0;
  int64_t nsec = 0;
};
// Prometheus' parseTime: a float is Unix seconds with the fraction rounded to ms (Go's float
// arithmetic, half away from zero); else RFC3339Nano; else Go's min/max time strings.
// InvalidArgument `cannot parse "<s>" to a valid timestamp` otherwise.
Result<ApiTime> ParseApiTime(std::string_view s);
// The API's defaults for series/labels: Prometheus' MinTime and MaxTime.
ApiTime ApiMinTime();
ApiTime ApiMaxTime();
// timestamp.FromTime: Unix ms as the store endpoints use them.
int64_t ApiTimeToMillis(ApiTime t);
// The engine's conversion (UnixNano()/1e6, wrapping on overflow as Go's does far from 1970).
int64_t ApiTimeToEngineMillis(ApiTime t);
// Prometheus' parseDuration (step, timeout): float seconds or a Prometheus duration ("1m30s"), in
// nanoseconds. InvalidArgument `cannot parse "<s>" to a valid duration` otherwise.
Result<int64_t> ParseApiDuration(std::string_view s);

}  // namespace tidemark::agent
