// Prometheus-specific text formatting the PromQL printer and error messages need, so that canonical
// query text and parse errors match Prometheus 2.42 byte for byte. The plain Go helpers (quoting,
// float formatting, UTF-8) are in common/go_format.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/go_format.h"

namespace tidemark::promql {

// PromQL's quoting: Go's strconv.Quote with one deviation, U+FFFD written as \ufffd (Go writes it
// verbatim, which the PromQL lexer then rejects), so printed queries and error texts parse again.
inline void AppendPromQLQuoted(std::string_view s, std::string* out) {
  AppendGoQuoted(s, out, RuneErrorQuoting::kEscaped);
}
inline std::string PromQLQuote(std::string_view s) {
  return GoQuote(s, RuneErrorQuoting::kEscaped);
}

// Prometheus' timestamp.FromFloatSeconds as it behaves on amd64: round(seconds * 1000) half away
// from zero; values outside int64 (and NaN) give INT64_MIN.
int64_t PromMillisFromSeconds(double seconds);

// The `@` timestamp text Prometheus prints ("%.3f" of ms / 1000), except where that text would
// parse back to another millisecond (huge timestamps): then the shortest decimal that does.
std::string FormatAtTimestamp(int64_t ms);

// A millisecond duration as Prometheus' model.Duration.String(): "1h30m", "1w", "1y", "0s".
// Years and weeks are used only when they divide the duration exactly. Negative values give "".
std::string FormatPromDuration(int64_t ms);

}  // namespace tidemark::promql
