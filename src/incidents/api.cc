#include "incidents/api.h"

#include <algorithm>
#include <string>

#include "api/format.h"

namespace vigil::incidents {
Result<ReportRequest> ParseReportRequest(const std::string& service, const std::string& month, const std::string& from,
                                         const std::string& to, TimestampMs now_ms) {
  ReportRequest request;
  request.now_ms = now_ms;
  request.service = service;
  if (!month.empty()) {
    if (!from.empty() || !to.empty()) return Status::Error("month: give either month or from/to, not both");
    Result<TimeRange> r = MonthRange(month);
    if (!r.ok()) return r.status().WithContext("month");
    // A month still running is counted up to now; the rest of it is not yet known.
    request.range = TimeRange{r->from_ms, std::min(r->to_ms, std::max(r->from_ms, now_ms))};
    request.range_name = month;
    return request;
  }
  if (from.empty()) {
    if (!to.empty()) return Status::Error("to: needs from");
    return request;
  }
  Result<TimestampMs> f = ParseTime(from);
  if (!f.ok()) return f.status().WithContext("from");
  TimestampMs t = now_ms;
  if (!to.empty()) {
    Result<TimestampMs> parsed = ParseTime(to);
    if (!parsed.ok()) return parsed.status().WithContext("to");
    t = *parsed;
  }
  if (t <= *f) return Status::Error("to: must be after from");
  request.range = TimeRange{*f, t};
  return request;
}

http::Route NewApiRoute(Tracker* tracker, const Clock* clock) {
  return {"/api/v1/sla", [tracker, clock](const http::Request& r) -> http::Response {
            if (r.path != "/api/v1/sla") return api::ErrorResponse(404, "not_found", "not found");
            if (r.method != "GET") return api::ErrorResponse(405, "bad_data", "method not allowed: use GET");
            if (tracker == nullptr)
              return api::ErrorResponse(503, "unavailable", "the SLA ledger in state.db could not be opened");
            Result<ReportRequest> request = ParseReportRequest(r.Param("service"), r.Param("month"), r.Param("from"),
                                                               r.Param("to"), clock->NowMs());
            if (!request.ok()) return api::ErrorResponse(400, "bad_data", request.status().message());
            Result<std::vector<ServiceReport>> reports = tracker->Report(*request);
            if (!reports.ok()) {
              bool unknown_service = reports.status().message().starts_with("no service named");
              return api::ErrorResponse(unknown_service ? 404 : 500, unknown_service ? "not_found" : "internal",
                                        reports.status().message());
            }
            return api::JsonResponse(200, R"({"status":"success","data":)" + ReportJson(*reports) + "}");
          }};
}

}  // namespace vigil::incidents
