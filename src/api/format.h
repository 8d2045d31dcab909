// How the Prometheus API writes values and reads parameters; internal to
// src/api, exposed for its tests.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "http/server.h"
#include "promql/engine.h"

namespace vigil::api {

// A sample value as Prometheus writes it: Go's strconv.FormatFloat(v, 'f', -1, 64),
// or 'e' when |v| < 1e-6 or >= 1e21; "NaN", "+Inf", "-Inf".
std::string FormatSampleValue(double v);
// Append forms of FormatSampleValue and FormatTimestamp, without a temporary
// string (a range query's response writes one of each per point).
void AppendSampleValue(std::string* out, double v);
void AppendTimestamp(std::string* out, TimestampMs t);
// Milliseconds as seconds with up to three decimals, as Prometheus writes
// timestamps: 1700000000123 -> 1700000000.123, 1700000000500 -> 1700000000.500.
std::string FormatTimestamp(TimestampMs t);
// A scalar or string result's timestamp: Prometheus marshals those as the
// float64 seconds (Go's encoding/json), so 1700000000500 -> 1700000000.5.
std::string FormatTimestampAsFloat(TimestampMs t);
// Appends `s` as a JSON string the way Go's encoder does (<, >, & as \u003c…;
// invalid UTF-8 as \ufffd).
void AppendJsonString(std::string* out, std::string_view s);
// An application/json response, and Prometheus's API error in one:
// {"status":"error","errorType":TYPE,"error":MESSAGE}.
http::Response JsonResponse(int status, std::string body);
http::Response ErrorResponse(int status, std::string_view type, std::string_view message);

// Prometheus's parseTime: Unix seconds (fractions rounded to ms) or RFC 3339.
// Error: `cannot parse "x" to a valid timestamp`.
Result<TimestampMs> ParseTimeParam(std::string_view text);
// Prometheus's parseDuration: float seconds ("15", "0.5") or a duration ("15s", "1m30s").
// Error: `cannot parse "x" to a valid duration`.
Result<Duration> ParseDurationParam(std::string_view text);

// Prometheus's errorType for an engine error, and the HTTP status it gets.
std::string_view ErrorTypeName(promql::ErrorKind kind);
int HttpStatus(promql::ErrorKind kind);

}  // namespace vigil::api
