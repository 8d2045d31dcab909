// The report over a range and the weekly digest (docs/reports.md): uptime per
// service, incidents with MTTD/MTTR, capacity forecasts, certificates close to
// expiry, binary updates available and the noisiest alert rules, as Markdown
// short enough for Slack and email, or as JSON. Rendering and the schedule are
// pure; the agent gathers the inputs (GET /api/v1/report, `vigil report`).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "base/timezone.h"
#include "http/server.h"
#include "incidents/alert_quality.h"
#include "incidents/capacity.h"
#include "incidents/report.h"

struct sqlite3;

namespace vigil::incidents {

// One incident as the digest shows it. Filled from the incidents module once
// it exists (see FillDigestIncidents in the agent); empty until then.
struct DigestIncident {
  std::string id, root_service, root_alert, severity;
  std::vector<std::string> services;     // what it took down, the root first
  TimestampMs start_ms = 0, end_ms = 0;  // end 0: still open
  std::optional<double> mttd_seconds, mttr_seconds;
};

// A certificate from vigil_probe_tls_cert_expiry_seconds.
struct CertExpiry {
  std::string name;            // the probe's target or file, with its service
  double expires_seconds = 0;  // Unix time of notAfter
};

// A service whose binary has a newer release (vigil_update_available == 1).
struct UpdateAvailable {
  std::string service, installed, latest;
};

struct DigestInput {
  TimeRange range;
  std::string host;
  std::vector<ServiceReport> uptime;  // with a window named "range" over `range`
  std::vector<DigestIncident> incidents;
  CapacityReport capacity;
  std::vector<CertExpiry> certificates;  // all known; the digest lists those expiring soon
  std::vector<UpdateAvailable> updates;
  AlertQualityReport alert_quality;
  std::vector<std::string> errors;  // inputs that could not be read: said in the digest, not hidden
};

struct DigestOptions {
  Duration cert_warn_within{30LL * 24 * 3600 * 1000};  // certificates expiring within this are listed
  size_t noisiest_rules = 5;
  size_t max_capacity_lines = 8;
};

// One line for a subject or a chat title: the range and what needs attention.
std::string DigestHeadline(const DigestInput& in, const DigestOptions& options = {});
std::string DigestMarkdown(const DigestInput& in, const DigestOptions& options = {});
// {"from","to","headline","uptime":[…],"incidents":[…],"capacity":[…],
// "certificates":[…],"updates":[…],"noisiest_rules":[…],"errors":[…]} (docs/api.md).
std::string DigestJson(const DigestInput& in, const DigestOptions& options = {});

// When a digest is sent: a weekday and a time of day in a zone (ParseWeekdayTime reads "Mon 09:00").
struct DigestSchedule {
  int weekday = 1;  // 0 = Sunday, as tm_wday
  int minute_of_day = 9 * 60;
  TimeZone zone;
};

// The first scheduled time after `last_sent_ms`; with nothing sent yet
// (0), the first scheduled time at or before `now_ms` is not owed (a new
// install does not send at once): the next one after `now_ms`.
TimestampMs NextDigestDue(const DigestSchedule& schedule, TimestampMs last_sent_ms, TimestampMs now_ms);

// The digest's last sending time, kept in state.db so that a restart neither
// repeats nor skips one.
class DigestLog {
 public:
  static Result<std::unique_ptr<DigestLog>> Open(const std::string& path);
  ~DigestLog();
  Result<TimestampMs> LastSent();  // 0 when never sent
  Status SetLastSent(TimestampMs time_ms);

 private:
  explicit DigestLog(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// GET /api/v1/report?from=&to=&format=md|json (from/to: Unix seconds or RFC
// 3339; default the last 7 days) and POST /api/v1/report/digest (send the
// digest of the last 7 days now; a state-changing route, behind the server's
// authentication; answers {"receivers":[…],"headline":…}). `send` returns the
// receivers the digest went to; it may be null: then POST answers 503 (no
// digest configured).
using DigestSender = std::function<Result<std::vector<std::string>>(const DigestInput&)>;
http::Route NewReportRoute(std::function<DigestInput(TimeRange)> build, DigestSender send, const Clock* clock);

// The range a route or the CLI is asked for; errors name the parameter.
Result<TimeRange> ParseReportRange(const std::string& from, const std::string& to, TimestampMs now_ms);

inline constexpr Duration kDigestPeriod{7LL * 24 * 3600 * 1000};
// The synthetic alert the digest is sent as; alert quality and incidents leave it out.
inline constexpr std::string_view kDigestAlertName = "VigilWeeklyDigest";

}  // namespace vigil::incidents
