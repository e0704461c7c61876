// Renders SampleBatches as Prometheus text 0.0.4 or OpenMetrics 1.0.0 (content negotiated from the
// Accept header). Output passes `promtool check metrics`: one TYPE per family before its samples,
// families contiguous, no timestamps, shortest round-trip floats, trailing newline (and # EOF).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/sample_batch.h"

namespace tidemark::agent {

enum class ExpositionFormat { kText004, kOpenMetrics100 };

inline constexpr std::string_view kText004ContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

// OpenMetrics when the Accept header asks for application/openmetrics-text (version 1.0.0, 0.0.1
// or none) with a q-value at least that of text/plain; text 0.0.4 otherwise.
ExpositionFormat NegotiateFormat(std::string_view accept_header);

// Appends the families of all batches, in order, to *out. Family names must be unique across the
// batches and over successive calls for one response. FinishExposition ends the response.
void RenderExposition(std::span<const SampleBatch* const> batches, ExpositionFormat format,
                      std::string* out);
// Appends the OpenMetrics terminator "# EOF\n"; nothing for text 0.0.4.
void FinishExposition(ExpositionFormat format, std::string* out);

// Shortest decimal that parses back to `v`; "NaN", "+Inf", "-Inf" for the special values.
void AppendDouble(double v, std::string* out);

}  // namespace tidemark::agent
