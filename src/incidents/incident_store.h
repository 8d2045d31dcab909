// Incidents kept in <data_dir>/state.db (tables `incidents` and
// `incident_members`, docs/incidents.md): the agent groups the recent alert
// episodes every few seconds and files each group under the incident that
// already holds one of its episodes, so ids stay stable across restarts and
// the summary outlives the trimmed source tables. Timelines are rebuilt at
// read time from the sources while they last. Also GET /api/v1/incidents.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alert/inhibit.h"
#include "base/severity.h"
#include "base/status.h"
#include "base/time.h"
#include "http/server.h"
#include "incidents/incident.h"
#include "incidents/ledger.h"
#include "promql/engine.h"

struct sqlite3;

namespace vigil::notify {
class Outbox;
}
namespace vigil::recovery {
class AuditLog;
}
namespace vigil::rules {
class AlertStateStore;
}

namespace vigil::incidents {

// What links alerts, from the configuration.
struct IncidentConfig {
  std::map<std::string, std::vector<std::string>> depends_on;
  std::vector<alert::InhibitRule> inhibit_rules;
  SeverityMap severities;
};

// How much is kept: incidents that started more than max_age ago go, and beyond max_rows the oldest.
struct IncidentRetention {
  Duration max_age{400LL * 24 * 3600 * 1000};
  int64_t max_rows = 20000;
};

class IncidentTracker {
 public:
  // Opens state.db at `path` (creating the tables unless `read_only`; then the file must exist).
  static Result<std::unique_ptr<IncidentTracker>> Open(const std::string& path, IncidentConfig config,
                                                       bool read_only = false);
  ~IncidentTracker();
  IncidentTracker(const IncidentTracker&) = delete;
  IncidentTracker& operator=(const IncidentTracker&) = delete;

  void SetConfig(IncidentConfig config);
  void SetRetention(IncidentRetention r);

  // Groups the episodes of the last `lookback` (and those still open) and
  // files them; trims at most hourly. Returns the incidents it touched, with ids.
  Result<std::vector<Incident>> Pass(TimestampMs now_ms, Duration lookback = Duration(24LL * 3600 * 1000));
  // Stored summaries (no timeline) of incidents overlapping [from_ms, to_ms), newest first.
  Result<std::vector<Incident>> List(TimestampMs from_ms, TimestampMs to_ms);
  // One incident with its timeline rebuilt from the sources (the stored
  // summary and an empty timeline once they are trimmed). Error "no incident N".
  Result<Incident> Show(int64_t id, TimestampMs now_ms);

 private:
  IncidentTracker() = default;
  // The sources over [from_ms, to_ms) (open episodes from before included); mu_ held.
  Result<IncidentInput> ReadInput(TimestampMs from_ms, TimestampMs to_ms);
  Status Store(std::vector<Incident>& incidents, TimestampMs now_ms);
  Status Trim(TimestampMs now_ms);
  Result<std::vector<Incident>> Select(const std::string& where, const std::vector<int64_t>& args);

  std::mutex mu_;
  std::string path_;
  bool read_only_ = false;
  IncidentConfig config_;
  IncidentRetention retention_;
  TimestampMs last_trim_ms_ = 0;
  sqlite3* db_ = nullptr;
  std::unique_ptr<rules::AlertStateStore> episodes_;
  std::unique_ptr<notify::Outbox> outbox_;
  std::unique_ptr<recovery::AuditLog> audit_;
  std::unique_ptr<Ledger> ledger_;
};

// {"id":…, "root":{"service","alert"}, …} (docs/api.md); with the timeline when it has one.
std::string IncidentJson(const Incident& incident);
std::string IncidentListJson(const std::vector<Incident>& incidents);

// The range a list asks for: `since` (a duration back from `to`) or from/to
// (Unix seconds or RFC 3339); `to` defaults to now. Errors name the parameter
// as `prefix` + its name ("--since", or "since" for the API).
Result<TimeRange> ParseIncidentRange(const std::string& since, const std::string& from, const std::string& to,
                                     TimestampMs now_ms, const std::string& prefix);

// An incident id as typed: "12" or "#12"; errors name it.
Result<int64_t> ParseIncidentId(const std::string& text);

// The post-mortem's charts: the services' vigil_service_up over
// [start - 10m, end + 10m] (up to now), in 1 s steps or 5000 steps at most.
struct ChartRequest {
  std::string query;
  TimestampMs start_ms = 0, end_ms = 0;
  int64_t step_ms = 1000;
};
std::optional<ChartRequest> IncidentChartRequest(const Incident& incident, TimestampMs now_ms);
// A series' points reduced to its changes (plus the first and last): a small, exact table.
ChartSeries ChangesOnly(const std::string& service, const std::vector<std::pair<TimestampMs, double>>& points);

// The chart request answered by the PromQL engine, sorted by name.
std::vector<ChartSeries> IncidentCharts(const Incident& incident, const promql::QuerierFactory& storage,
                                        const promql::EngineOptions& engine, TimestampMs now_ms);

// GET /api/v1/incidents[?since=|from=&to=] and /api/v1/incidents/<id>[?format=md].
// `tracker` may be null (then 503). `charts` may be empty (then the post-mortem says so).
http::Route NewIncidentsRoute(IncidentTracker* tracker, const Clock* clock,
                              std::function<std::vector<ChartSeries>(const Incident&)> charts);

}  // namespace vigil::incidents
