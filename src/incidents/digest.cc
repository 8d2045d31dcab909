#include "incidents/digest.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "api/format.h"
#include "base/sqlite.h"

namespace vigil::incidents {
namespace {

using nlohmann::json;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// "2026-12-06 09:00 UTC": short enough for a chat line.
std::string Minute(TimestampMs t) {
  std::string s = FormatTime(t);
  return s.substr(0, 10) + " " + s.substr(11, 5) + " UTC";
}

std::string Day(double unix_seconds) { return FormatTime(static_cast<TimestampMs>(unix_seconds * 1000)).substr(0, 10); }

std::string Percent(double ratio, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, ratio * 100);
  return buf;
}

// A duration for a table cell: whole seconds, the two largest units ("6d23h", "3m5s").
std::string Short(int64_t ms) {
  std::string full = FormatDuration(Duration((ms + 500) / 1000 * 1000));
  int units = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    if (std::isalpha(static_cast<unsigned char>(full[i])) &&
        (i + 1 == full.size() || !std::isalpha(static_cast<unsigned char>(full[i + 1]))) && ++units == 2) {
      return full.substr(0, i + 1);
    }
  }
  return full;
}

// MTTD/MTTR and mean firing times: milliseconds under 10 s (vigil detects in
// tens of them), tenths under a minute (the targets are 2 and 5 minutes).
std::string Seconds(double s) {
  if (s >= 60) return Short(std::llround(s * 1000));
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.3fs" : "%.1fs", s);
  return buf;
}

// The service's availability over the digest's range (the "range" window),
// else its first rolling window.
const Availability* RangeAvailability(const ServiceReport& r) {
  for (const auto& w : r.windows) {
    if (w.name == "range") return &w.availability;
  }
  return r.windows.empty() ? nullptr : &r.windows.front().availability;
}

std::vector<const CertExpiry*> ExpiringCerts(const DigestInput& in, const DigestOptions& o) {
  std::vector<const CertExpiry*> out;
  double limit = static_cast<double>(in.range.to_ms + o.cert_warn_within.count()) / 1000;
  for (const auto& c : in.certificates) {
    if (c.expires_seconds <= limit) out.push_back(&c);
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->expires_seconds < b->expires_seconds; });
  return out;
}

// Resources that fill first, then the rest in the report's order.
std::vector<const ResourceForecast*> CapacityOrder(const CapacityReport& c) {
  std::vector<const ResourceForecast*> out;
  for (const auto& r : c.resources) out.push_back(&r);
  auto days = [](const ResourceForecast* r) {
    return r->forecast && r->forecast->seconds_to_full ? *r->forecast->seconds_to_full : INFINITY;
  };
  std::stable_sort(out.begin(), out.end(), [&](auto* a, auto* b) { return days(a) < days(b); });
  return out;
}

std::optional<double> Mean(const std::vector<DigestIncident>& incidents, std::optional<double> DigestIncident::*field) {
  double sum = 0;
  int n = 0;
  for (const auto& i : incidents) {
    if (i.*field) {
      sum += *(i.*field);
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

// Pads `s` to `width` characters (bytes: the table holds ASCII names and numbers).
std::string Pad(const std::string& s, size_t width, bool right = false) {
  if (s.size() >= width) return s;
  std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::string DigestHeadline(const DigestInput& in, const DigestOptions& o) {
  std::vector<std::string> parts;
  const ServiceReport* lowest = nullptr;
  std::optional<double> lowest_ratio;
  for (const auto& s : in.uptime) {
    const Availability* a = RangeAvailability(s);
    if (a == nullptr || !a->Ratio()) continue;
    if (!lowest_ratio || *a->Ratio() < *lowest_ratio) {
      lowest = &s;
      lowest_ratio = a->Ratio();
    }
  }
  if (lowest != nullptr) parts.push_back("lowest uptime " + lowest->service + " " + Percent(*lowest_ratio, 2));
  parts.push_back(std::to_string(in.incidents.size()) + (in.incidents.size() == 1 ? " incident" : " incidents"));
  auto order = CapacityOrder(in.capacity);
  if (!order.empty() && order.front()->forecast && order.front()->forecast->seconds_to_full) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " full in %.0f days", *order.front()->forecast->seconds_to_full / 86400);
    parts.push_back(order.front()->name + buf);
  }
  if (size_t n = ExpiringCerts(in, o).size(); n > 0)
    parts.push_back(std::to_string(n) + (n == 1 ? " certificate expiring" : " certificates expiring"));
  if (!in.updates.empty())
    parts.push_back(std::to_string(in.updates.size()) + (in.updates.size() == 1 ? " update" : " updates") +
                    " available");
  parts.push_back(std::to_string(in.alert_quality.fired) + (in.alert_quality.fired == 1 ? " alert" : " alerts") +
                  " fired");
  std::string out = "vigil digest" + (in.host.empty() ? "" : " for " + in.host) + ", " +
                    FormatTime(in.range.from_ms).substr(0, 10) + " to " + FormatTime(in.range.to_ms).substr(0, 10) +
                    ": ";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

std::string DigestMarkdown(const DigestInput& in, const DigestOptions& o) {
  std::string md = "*" + DigestHeadline(in, o) + "*\n";
  md += "From " + Minute(in.range.from_ms) + " to " + Minute(in.range.to_ms) + ".\n";

  md += "\n*Uptime per service*\n";
  if (in.uptime.empty()) {
    md += "Nothing to report: no service is watched.\n";
  } else {
    size_t width = 7;
    for (const auto& s : in.uptime) width = std::max(width, s.service.size());
    md += "```\n" + Pad("SERVICE", width) + "  " + Pad("UPTIME", 8, true) + "  " + Pad("UNPLANNED", 9, true) + "  " +
          Pad("PLANNED", 9, true) + "  " + Pad("UNKNOWN", 9, true) + "\n";
    for (const auto& s : in.uptime) {
      const Availability* a = RangeAvailability(s);
      std::string ratio = a && a->Ratio() ? Percent(*a->Ratio(), 3) : "-";
      auto d = [&](int64_t ms) { return a ? Short(ms) : std::string("-"); };
      md += Pad(s.service, width) + "  " + Pad(ratio, 8, true) + "  " + Pad(d(a ? a->unplanned_ms : 0), 9, true) +
            "  " + Pad(d(a ? a->planned_ms : 0), 9, true) + "  " + Pad(d(a ? a->unknown_ms : 0), 9, true) + "\n";
    }
    md += "```\n";
    for (const auto& s : in.uptime) {
      if (!s.slo || !s.budget || !s.budget->remaining_ratio) continue;
      md += "- " + s.service + ": SLO " + Percent(s.slo->objective, 2) + ", error budget " +
            Percent(*s.budget->remaining_ratio, 0) + " left\n";
    }
  }

  md += "\n*Incidents*\n";
  if (in.incidents.empty()) {
    md += "Nothing to report: no incident in this range.\n";
  } else {
    for (const auto& i : in.incidents) {
      md += "- " + i.id + " " + i.root_service + " (" + i.root_alert + ", " + i.severity + ") at " +
            Minute(i.start_ms) + ", " +
            (i.end_ms ? "lasted " + Short(i.end_ms - i.start_ms) : std::string("still open"));
      if (i.services.size() > 1) {
        md += "; took down";
        for (size_t k = 1; k < i.services.size(); ++k) md += (k > 1 ? ", " : " ") + i.services[k];
      }
      md += "; MTTD " + (i.mttd_seconds ? Seconds(*i.mttd_seconds) : "-") + ", MTTR " +
            (i.mttr_seconds ? Seconds(*i.mttr_seconds) : "-") + "\n";
    }
    auto mttd = Mean(in.incidents, &DigestIncident::mttd_seconds);
    auto mttr = Mean(in.incidents, &DigestIncident::mttr_seconds);
    md += "Mean MTTD " + (mttd ? Seconds(*mttd) : "-") + " (target < 2m), mean MTTR " + (mttr ? Seconds(*mttr) : "-") +
          " (target < 5m)\n";
  }

  md += "\n*Capacity*\n";
  auto order = CapacityOrder(in.capacity);
  if (order.empty()) md += "Nothing to report: no resource has enough history for a forecast yet.\n";
  for (size_t k = 0; k < order.size() && k < o.max_capacity_lines; ++k) {
    const ResourceForecast& r = *order[k];
    md += "- " + (r.recommendation.empty() ? r.name + ": " + r.error : r.recommendation) + "\n";
  }
  if (order.size() > o.max_capacity_lines)
    md += "- … and " + std::to_string(order.size() - o.max_capacity_lines) + " more (`vigil capacity`)\n";

  md += "\n*Maintenance reminders*\n";
  auto certs = ExpiringCerts(in, o);
  for (const auto* c : certs) {
    double days = c->expires_seconds - static_cast<double>(in.range.to_ms) / 1000;
    char buf[64];
    if (days < 0) {
      std::snprintf(buf, sizeof buf, "EXPIRED on %s", Day(c->expires_seconds).c_str());
    } else {
      long whole = std::lround(days / 86400);
      std::snprintf(buf, sizeof buf, "expires %s (in %ld day%s)", Day(c->expires_seconds).c_str(), whole,
                    whole == 1 ? "" : "s");
    }
    md += "- certificate " + c->name + " " + buf + "\n";
  }
  for (const auto& u : in.updates) md += "- " + u.service + ": " + u.latest + " is out (running " + u.installed + ")\n";
  if (certs.empty() && in.updates.empty()) {
    md += "Nothing to report: no certificate expires within " + std::to_string(o.cert_warn_within.count() / kDayMs) +
          " days and no update is available.\n";
  }

  md += "\n*Noisiest alert rules*\n";
  const AlertQualityReport& q = in.alert_quality;
  if (q.rules.empty()) {
    md += "Nothing to report: no alert fired in this range.\n";
  } else {
    for (size_t k = 0; k < q.rules.size() && k < o.noisiest_rules; ++k) {
      const RuleQuality& r = q.rules[k];
      md += "- " + r.rule + (r.severity.empty() ? "" : " (" + r.severity + ")") + ": fired " + std::to_string(r.fired) +
            ", flapped " + std::to_string(r.flaps) + ", resolved on its own " + std::to_string(r.self_resolved) + " (" +
            Percent(r.self_resolved_share(), 0) + ")";
      if (r.resolved > 0) md += ", mean " + Seconds(r.mean_firing_seconds);
      md += "\n";
    }
    md += "False-positive proxy: " + std::to_string(q.self_resolved) + " of " + std::to_string(q.fired) + " = " +
          Percent(q.false_positive_share(), 1) + " (target < " + Percent(kFalsePositiveTarget, 0) + ")" +
          (q.false_positive_share() < kFalsePositiveTarget ? "" : ", ABOVE TARGET") + "\n";
  }

  if (!in.errors.empty()) {
    md += "\n*Could not be read*\n";
    for (const auto& e : in.errors) md += "- " + e + "\n";
  }
  return md;
}

std::string DigestJson(const DigestInput& in, const DigestOptions& o) {
  json uptime = json::array();
  for (const auto& s : in.uptime) {
    json j = {{"service", s.service}};
    if (const Availability* a = RangeAvailability(s)) {
      j["ratio"] = a->Ratio() ? json(*a->Ratio()) : json();
      j["up_seconds"] = a->up_ms / 1000.0;
      j["unplanned_seconds"] = a->unplanned_ms / 1000.0;
      j["planned_seconds"] = a->planned_ms / 1000.0;
      j["unknown_seconds"] = a->unknown_ms / 1000.0;
    }
    if (s.slo) j["slo_objective"] = s.slo->objective;
    if (s.budget && s.budget->remaining_ratio) j["error_budget_remaining"] = *s.budget->remaining_ratio;
    uptime.push_back(j);
  }
  json incidents = json::array();
  for (const auto& i : in.incidents) {
    incidents.push_back({{"id", i.id},
                         {"root_service", i.root_service},
                         {"root_alert", i.root_alert},
                         {"severity", i.severity},
                         {"services", i.services},
                         {"start", FormatTime(i.start_ms)},
                         {"end", i.end_ms ? json(FormatTime(i.end_ms)) : json()},
                         {"mttd_seconds", i.mttd_seconds ? json(*i.mttd_seconds) : json()},
                         {"mttr_seconds", i.mttr_seconds ? json(*i.mttr_seconds) : json()}});
  }
  json capacity = json::array();
  for (const auto* r : CapacityOrder(in.capacity)) {
    json j = {{"resource", r->resource},
              {"name", r->name},
              {"used_bytes", r->used_bytes},
              {"capacity_bytes", r->capacity_bytes},
              {"recommendation", r->recommendation}};
    if (r->forecast && r->forecast->seconds_to_full) j["days_to_full"] = *r->forecast->seconds_to_full / 86400;
    if (!r->error.empty()) j["error"] = r->error;
    capacity.push_back(j);
  }
  json certs = json::array();
  for (const auto* c : ExpiringCerts(in, o)) {
    certs.push_back({{"name", c->name},
                     {"expires", FormatTime(static_cast<TimestampMs>(c->expires_seconds * 1000))},
                     {"days_left", (c->expires_seconds - static_cast<double>(in.range.to_ms) / 1000) / 86400}});
  }
  json updates = json::array();
  for (const auto& u : in.updates) {
    updates.push_back({{"service", u.service}, {"installed", u.installed}, {"latest", u.latest}});
  }
  json rules = json::array();
  for (size_t k = 0; k < in.alert_quality.rules.size() && k < o.noisiest_rules; ++k) {
    const RuleQuality& r = in.alert_quality.rules[k];
    rules.push_back({{"rule", r.rule},
                     {"severity", r.severity},
                     {"fired", r.fired},
                     {"flaps", r.flaps},
                     {"self_resolved", r.self_resolved},
                     {"self_resolved_share", r.self_resolved_share()},
                     {"mean_firing_seconds", r.mean_firing_seconds}});
  }
  json out = {{"from", FormatTime(in.range.from_ms)},
              {"to", FormatTime(in.range.to_ms)},
              {"host", in.host},
              {"headline", DigestHeadline(in, o)},
              {"uptime", uptime},
              {"incidents", incidents},
              {"capacity", capacity},
              {"certificates", certs},
              {"updates", updates},
              {"alerts_fired", in.alert_quality.fired},
              {"false_positive_share", in.alert_quality.false_positive_share()},
              {"noisiest_rules", rules},
              {"errors", in.errors}};
  return out.dump();
}

TimestampMs NextDigestDue(const DigestSchedule& s, TimestampMs last_sent_ms, TimestampMs now_ms) {
  TimestampMs after = last_sent_ms > 0 ? last_sent_ms : now_ms;
  // The local day of `after`, then each following day until the weekday comes round.
  int64_t local_s = after / 1000 + s.zone.OffsetSeconds(after);
  int64_t day = local_s >= 0 ? local_s / 86400 : -((-local_s + 86399) / 86400);
  for (int64_t d = day - 1; d <= day + 8; ++d) {
    int weekday = static_cast<int>(((d % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
    if (weekday != s.weekday) continue;
    int64_t local_ms = (d * 86400 + s.minute_of_day * 60LL) * 1000;
    // The offset in force at that local time: found from a first guess, then checked once.
    TimestampMs utc = local_ms - s.zone.OffsetSeconds(local_ms) * 1000LL;
    utc = local_ms - s.zone.OffsetSeconds(utc) * 1000LL;
    if (utc > after) return utc;
  }
  return after + kDigestPeriod.count();  // unreachable: a weekday recurs within 8 days
}

Result<std::unique_ptr<DigestLog>> DigestLog::Open(const std::string& path) {
  auto opened = SqliteOpen(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, "digest log");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  std::unique_ptr<DigestLog> log(new DigestLog(db));
  Status s = SqliteExec(db,
                        "CREATE TABLE IF NOT EXISTS report_digest (id INTEGER PRIMARY KEY CHECK (id = 1),"
                        " last_sent_ms INTEGER NOT NULL)");
  if (!s.ok()) return s.WithContext("digest log " + path);
  return log;
}

DigestLog::~DigestLog() { sqlite3_close(db_); }

Result<TimestampMs> DigestLog::LastSent() {
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_, "SELECT last_sent_ms FROM report_digest WHERE id = 1", -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("digest log: ") + sqlite3_errmsg(db_));
  }
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return TimestampMs{0};
  if (rc != SQLITE_ROW) return Status::Error(std::string("digest log: ") + sqlite3_errmsg(db_));
  if (sqlite3_column_type(st.s, 0) != SQLITE_INTEGER || sqlite3_column_int64(st.s, 0) < 0) {
    return Status::Error("digest log: report_digest.last_sent_ms is not a time in milliseconds: \"" +
                         SqliteText(st.s, 0) + "\"");
  }
  return TimestampMs{sqlite3_column_int64(st.s, 0)};
}

Status DigestLog::SetLastSent(TimestampMs time_ms) {
  SqliteStmt st;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO report_digest (id, last_sent_ms) VALUES (1, ?)", -1, &st.s,
                         nullptr) != SQLITE_OK) {
    return Status::Error(std::string("digest log: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_int64(st.s, 1, time_ms);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Status::Error(std::string("digest log: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Result<TimeRange> ParseReportRange(const std::string& from, const std::string& to, TimestampMs now_ms) {
  TimestampMs t = now_ms;
  if (!to.empty()) {
    Result<TimestampMs> parsed = ParseTime(to);
    if (!parsed.ok()) return parsed.status().WithContext("to");
    t = *parsed;
  }
  TimestampMs f = t - kDigestPeriod.count();
  if (!from.empty()) {
    Result<TimestampMs> parsed = ParseTime(from);
    if (!parsed.ok()) return parsed.status().WithContext("from");
    f = *parsed;
  }
  if (t <= f) return Status::Error("to: must be after from");
  return TimeRange{f, t};
}

http::Route NewReportRoute(std::function<DigestInput(TimeRange)> build, DigestSender send, const Clock* clock) {
  return {"/api/v1/report", [build, send, clock](const http::Request& r) -> http::Response {
            if (r.path == "/api/v1/report/digest") {
              if (r.method != "POST") return api::ErrorResponse(405, "bad_data", "method not allowed: use POST");
              if (!send)
                return api::ErrorResponse(503, "unavailable",
                                          "no digest is configured (reports.digest in the configuration)");
              TimestampMs now = clock->NowMs();
              DigestInput in = build({now - kDigestPeriod.count(), now});
              Result<std::vector<std::string>> receivers = send(in);
              if (!receivers.ok()) return api::ErrorResponse(500, "internal", receivers.status().message());
              json data = {{"receivers", *receivers}, {"headline", DigestHeadline(in)}};
              return api::JsonResponse(200, json{{"status", "success"}, {"data", data}}.dump());
            }
            if (r.path != "/api/v1/report") return api::ErrorResponse(404, "not_found", "not found");
            if (r.method != "GET") return api::ErrorResponse(405, "bad_data", "method not allowed: use GET");
            std::string format = r.Param("format");
            if (format.empty()) format = "json";
            if (format != "json" && format != "md")
              return api::ErrorResponse(400, "bad_data", "format: expected md or json, got \"" + format + "\"");
            Result<TimeRange> range = ParseReportRange(r.Param("from"), r.Param("to"), clock->NowMs());
            if (!range.ok()) return api::ErrorResponse(400, "bad_data", range.status().message());
            DigestInput in = build(*range);
            if (format == "md") {
              http::Response resp;
              resp.status = 200;
              resp.content_type = "text/markdown; charset=utf-8";
              resp.body = DigestMarkdown(in);
              return resp;
            }
            return api::JsonResponse(200, R"({"status":"success","data":)" + DigestJson(in) + "}");
          }};
}

}  // namespace vigil::incidents
