// Prometheus exposition formats: text 0.0.4 and OpenMetrics 1.0.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/metrics.h"

namespace vigil::expfmt {

enum class Format { kText004, kOpenMetrics100 };

inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

// Picks the format a scraper asked for in its Accept header.
Format Negotiate(std::string_view accept_header);
std::string_view ContentType(Format format);

// Renders the families of all batches; families with the same name in
// different batches are merged (the first one's help and type win).
void Render(const std::vector<const MetricBatch*>& batches, Format format, std::string* out);

// Formats a sample value the way Prometheus does (+Inf, -Inf, NaN, shortest round trip).
void AppendValue(double value, std::string* out);

}  // namespace vigil::expfmt
