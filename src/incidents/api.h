// GET /api/v1/sla: every service's availability, downtime and SLO, in the
// Prometheus API's {"status":"success","data":…} shape (docs/api.md).
#pragma once

#include <functional>

#include "base/time.h"
#include "http/server.h"
#include "incidents/report.h"

namespace vigil::incidents {

// Parameters: service, month (YYYY-MM, UTC), from and to (Unix seconds or RFC 3339; to defaults to now).
// `tracker` may be null (then 503): the ledger could not be opened.
http::Route NewApiRoute(Tracker* tracker, const Clock* clock);

// The request a route or the CLI builds from those parameters; errors name the parameter.
Result<ReportRequest> ParseReportRequest(const std::string& service, const std::string& month, const std::string& from,
                                         const std::string& to, TimestampMs now_ms);

}  // namespace vigil::incidents
