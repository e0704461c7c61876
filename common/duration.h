// Prometheus-style durations: "1s", "500ms", "1m30s", "2h", "15d", "1w", "1y".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tidemark {

// Units y, w, d, h, m, s, ms, in that order, each at most once. InvalidArgument otherwise
// (including an empty string, a bare number and overflow).
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
// The shortest form ParseDuration accepts, e.g. 90000ms → "1m30s", 0 → "0s".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace tidemark
