// Parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0 sample lines, as lenient as
// Prometheus' own scraper: comments other than HELP/TYPE/UNIT/EOF are ignored, a trailing comma in
// a label set is accepted, families may be interleaved. Used by `tidemark tsdb import` and for
// scraping application targets.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/labels.h"
#include "common/sample_batch.h"
#include "common/status.h"

namespace tidemark {

enum class TextFormat { kText004, kOpenMetrics };

struct ParsedSample {
  Labels labels;  // Sorted by name, with __name__ first-class; empty values dropped.
  double value = 0;
  std::optional<int64_t> timestamp_ms;  // OpenMetrics seconds are converted to milliseconds.
};

// Calls `on_sample` for each sample in order; `on_type` (may be null) for each # TYPE line.
// Stops at the first malformed line with InvalidArgument "line N: reason". In OpenMetrics the
// input must end with "# EOF" (Prometheus rejects it otherwise); nothing after it is read.
// A callback returning a non-OK status stops the parse with that status.
Status ParseExposition(
    std::string_view text, TextFormat format, const std::function<Status(ParsedSample&)>& on_sample,
    const std::function<void(std::string_view name, MetricType type)>& on_type = nullptr);

// A sample value or timestamp: Go's strconv.ParseFloat (common/go_format.h ParseGoFloat) as
// Prometheus' text parsers restrict it (no hex floats, no '_'), also taking a signed NaN and
// rejecting an underflow to zero.
std::optional<double> ParseExpositionFloat(std::string_view s);

}  // namespace tidemark
