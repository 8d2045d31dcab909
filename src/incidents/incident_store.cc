#include "incidents/incident_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>
#include <set>

#include "api/format.h"
#include "base/log.h"
#include "base/sqlite.h"
#include "notify/outbox.h"
#include "promql/ast.h"
#include "recovery/audit.h"
#include "rules/state_store.h"

namespace vigil::incidents {

namespace {

using nlohmann::json;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Status Error(sqlite3* db, const std::string& what) {
  return Status::Error("incidents in state.db: " + what + ": " + sqlite3_errmsg(db));
}

void BindOptional(sqlite3_stmt* s, int col, const std::optional<int64_t>& v) {
  if (v) {
    sqlite3_bind_int64(s, col, *v);
  } else {
    sqlite3_bind_null(s, col);
  }
}

}  // namespace

Result<std::unique_ptr<IncidentTracker>> IncidentTracker::Open(const std::string& path, IncidentConfig config,
                                                               bool read_only) {
  std::unique_ptr<IncidentTracker> t(new IncidentTracker());
  t->path_ = path;
  t->read_only_ = read_only;
  t->config_ = std::move(config);
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  auto opened = SqliteOpen(path, flags | SQLITE_OPEN_FULLMUTEX, "incidents");
  if (!opened.ok()) return opened.status();
  t->db_ = *opened;
  if (!read_only) {
    for (const char* sql : {
             "PRAGMA journal_mode=WAL",
             "CREATE TABLE IF NOT EXISTS incidents ("
             "  id INTEGER PRIMARY KEY AUTOINCREMENT, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,"
             "  root_service TEXT NOT NULL, root_alert TEXT NOT NULL, severity TEXT NOT NULL,"
             "  services TEXT NOT NULL, alerts TEXT NOT NULL, mttd_ms INTEGER, mttd_from_firing INTEGER NOT NULL,"
             "  mttr_ms INTEGER, mttr_source TEXT NOT NULL, first_notified_ms INTEGER, updated_ms INTEGER NOT NULL)",
             "CREATE INDEX IF NOT EXISTS incidents_by_start ON incidents (start_ms)",
             "CREATE TABLE IF NOT EXISTS incident_members ("
             "  episode_id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL)",
             "CREATE INDEX IF NOT EXISTS incident_members_by_incident ON incident_members (incident_id)",
         }) {
      if (Status s = SqliteExec(t->db_, sql); !s.ok()) return s.WithContext("incidents " + path);
    }
  }
  // The sources; each store opens its own connection to the same file.
  auto episodes = rules::AlertStateStore::Open(path);
  if (!episodes.ok()) return episodes.status();
  t->episodes_ = std::move(*episodes);
  auto outbox = notify::Outbox::Open(path);
  if (!outbox.ok()) return outbox.status();
  t->outbox_ = std::move(*outbox);
  auto audit = recovery::AuditLog::Open(path);
  if (!audit.ok()) return audit.status();
  t->audit_ = std::move(*audit);
  auto ledger = Ledger::Open(path, read_only);
  if (!ledger.ok()) return ledger.status();
  t->ledger_ = std::move(*ledger);
  return t;
}

IncidentTracker::~IncidentTracker() { sqlite3_close(db_); }

void IncidentTracker::SetConfig(IncidentConfig config) {
  std::lock_guard lock(mu_);
  config_ = std::move(config);
}

void IncidentTracker::SetRetention(IncidentRetention r) {
  std::lock_guard lock(mu_);
  retention_ = r;
}

Result<IncidentInput> IncidentTracker::ReadInput(TimestampMs from_ms, TimestampMs to_ms) {
  IncidentInput in;
  in.depends_on = config_.depends_on;
  in.inhibit_rules = config_.inhibit_rules;
  in.severities = config_.severities;
  auto episodes = episodes_->Episodes(from_ms, to_ms);
  if (!episodes.ok()) return episodes.status().WithContext(path_);
  in.episodes = std::move(*episodes);
  TimestampMs earliest = from_ms;
  for (const auto& e : in.episodes) earliest = std::min(earliest, e.active_at);
  auto deliveries = outbox_->FirstDeliveries(earliest);
  if (!deliveries.ok()) return deliveries.status().WithContext(path_);
  for (const auto& d : *deliveries) in.notifications.push_back({d.fingerprint, d.starts_at, d.delivered_at});
  // Every 5 s: only the stretch the episodes cover, not the whole audit.
  auto rows = audit_->Since(earliest);
  if (!rows.ok()) return rows.status().WithContext(path_ + " recovery audit");
  for (const auto& r : *rows) {
    in.recovery.push_back({r.service, r.time_ms, r.kind, r.action, r.target, r.outcome, r.duration_ms});
  }
  std::set<std::string> services;
  for (const auto& e : in.episodes) {
    if (std::string_view s = e.labels.Get("service"); !s.empty()) services.emplace(s);
  }
  for (const auto& s : services) {
    // A day before the earliest episode: the down stretch an alert fired in began before it.
    auto t = ledger_->Transitions(s, earliest - kDayMs);
    if (!t.ok()) return t.status().WithContext(path_);
    in.transitions[s] = std::move(*t);
  }
  return in;
}

Result<std::vector<Incident>> IncidentTracker::Pass(TimestampMs now_ms, Duration lookback) {
  std::lock_guard lock(mu_);
  if (read_only_) return Status::Error("incidents: opened read-only");
  Result<IncidentInput> in = ReadInput(now_ms - lookback.count(), now_ms + 1);
  if (!in.ok()) return in.status();
  std::vector<Incident> incidents = GroupIncidents(*in);
  if (Status s = Store(incidents, now_ms); !s.ok()) return s;
  if (now_ms - last_trim_ms_ >= 3600 * 1000) {
    if (Status s = Trim(now_ms); !s.ok()) return s;
    last_trim_ms_ = now_ms;
  }
  return incidents;
}

Status IncidentTracker::Store(std::vector<Incident>& incidents, TimestampMs now_ms) {
  if (Status s = SqliteExec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s.WithContext("incidents");
  auto body = [&]() -> Status {
    SqliteStmt member_of, insert, update, move_members, drop, add_member;
    if (sqlite3_prepare_v2(db_, "SELECT incident_id FROM incident_members WHERE episode_id = ?", -1, &member_of.s,
                           nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db_,
                           "INSERT INTO incidents (start_ms, end_ms, root_service, root_alert, severity, services,"
                           " alerts, mttd_ms, mttd_from_firing, mttr_ms, mttr_source, first_notified_ms, updated_ms)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                           -1, &insert.s, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(
            db_,
            "UPDATE incidents SET start_ms = ?1, end_ms = ?2, root_service = ?3, root_alert = ?4,"
            " severity = ?5, services = ?6, alerts = ?7, mttd_ms = ?8, mttd_from_firing = ?9,"
            " mttr_ms = ?10, mttr_source = ?11, first_notified_ms = ?12, updated_ms = ?13 WHERE id = ?14",
            -1, &update.s, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db_, "UPDATE incident_members SET incident_id = ?1 WHERE incident_id = ?2", -1,
                           &move_members.s, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db_, "DELETE FROM incidents WHERE id = ?", -1, &drop.s, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO incident_members (episode_id, incident_id) VALUES (?, ?)", -1,
                           &add_member.s, nullptr) != SQLITE_OK) {
      return Error(db_, "preparing");
    }
    for (Incident& inc : incidents) {
      std::set<int64_t> existing;
      for (int64_t e : inc.episode_ids) {
        sqlite3_reset(member_of.s);
        sqlite3_bind_int64(member_of.s, 1, e);
        if (sqlite3_step(member_of.s) == SQLITE_ROW) existing.insert(sqlite3_column_int64(member_of.s, 0));
      }
      sqlite3_stmt* write = existing.empty() ? insert.s : update.s;
      sqlite3_reset(write);
      sqlite3_bind_int64(write, 1, inc.start_ms);
      sqlite3_bind_int64(write, 2, inc.end_ms);
      sqlite3_bind_text(write, 3, inc.root_service.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(write, 4, inc.root_alert.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(write, 5, inc.severity.c_str(), -1, SQLITE_TRANSIENT);
      std::string services = Join(inc.services), alerts = Join(inc.alerts);
      sqlite3_bind_text(write, 6, services.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(write, 7, alerts.c_str(), -1, SQLITE_TRANSIENT);
      BindOptional(write, 8, inc.mttd_ms);
      sqlite3_bind_int(write, 9, inc.mttd_from_firing ? 1 : 0);
      BindOptional(write, 10, inc.mttr_ms);
      sqlite3_bind_text(write, 11, inc.mttr_source.c_str(), -1, SQLITE_TRANSIENT);
      BindOptional(write, 12, inc.first_notified_ms);
      sqlite3_bind_int64(write, 13, now_ms);
      // Two incidents that one group now joins become the older one.
      if (!existing.empty()) sqlite3_bind_int64(write, 14, *existing.begin());
      if (sqlite3_step(write) != SQLITE_DONE) return Error(db_, "writing");
      inc.id = existing.empty() ? sqlite3_last_insert_rowid(db_) : *existing.begin();
      for (auto it = existing.begin(); it != existing.end(); ++it) {
        if (it == existing.begin()) continue;  // the one kept
        sqlite3_reset(move_members.s);
        sqlite3_bind_int64(move_members.s, 1, inc.id);
        sqlite3_bind_int64(move_members.s, 2, *it);
        sqlite3_reset(drop.s);
        sqlite3_bind_int64(drop.s, 1, *it);
        if (sqlite3_step(move_members.s) != SQLITE_DONE || sqlite3_step(drop.s) != SQLITE_DONE) {
          return Error(db_, "merging");
        }
      }
      for (int64_t e : inc.episode_ids) {
        sqlite3_reset(add_member.s);
        sqlite3_bind_int64(add_member.s, 1, e);
        sqlite3_bind_int64(add_member.s, 2, inc.id);
        if (sqlite3_step(add_member.s) != SQLITE_DONE) return Error(db_, "writing members");
      }
    }
    return Status::Ok();
  };
  Status s = body();
  if (!s.ok()) {
    (void)SqliteExec(db_, "ROLLBACK");
    return s;
  }
  return SqliteExec(db_, "COMMIT");
}

Status IncidentTracker::Trim(TimestampMs now_ms) {
  SqliteStmt st;
  const char* sql =
      "DELETE FROM incidents WHERE start_ms < ?1 OR id NOT IN"
      " (SELECT id FROM incidents ORDER BY start_ms DESC, id DESC LIMIT ?2)";
  if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) return Error(db_, "trimming");
  sqlite3_bind_int64(st.s, 1, now_ms - retention_.max_age.count());
  sqlite3_bind_int64(st.s, 2, retention_.max_rows);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error(db_, "trimming");
  return SqliteExec(db_, "DELETE FROM incident_members WHERE incident_id NOT IN (SELECT id FROM incidents)");
}

Result<std::vector<Incident>> IncidentTracker::Select(const std::string& where, const std::vector<int64_t>& args) {
  SqliteStmt st;
  std::string sql =
      "SELECT id, start_ms, end_ms, root_service, root_alert, severity, services, alerts, mttd_ms,"
      " mttd_from_firing, mttr_ms, mttr_source, first_notified_ms FROM incidents WHERE " +
      where + " ORDER BY start_ms DESC, id DESC";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) return Error(db_, "reading");
  for (size_t i = 0; i < args.size(); ++i) sqlite3_bind_int64(st.s, static_cast<int>(i + 1), args[i]);
  std::vector<Incident> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    Incident inc;
    inc.id = sqlite3_column_int64(st.s, 0);
    // A row that cannot be right (edited, or written by a broken build) is an error naming it.
    for (int col : {1, 2}) {
      if (sqlite3_column_type(st.s, col) != SQLITE_INTEGER) {
        return Status::Error("incidents in state.db: incident " + std::to_string(inc.id) + ": " +
                             sqlite3_column_name(st.s, col) + " is not an integer");
      }
    }
    inc.start_ms = sqlite3_column_int64(st.s, 1);
    inc.end_ms = sqlite3_column_int64(st.s, 2);
    if (inc.start_ms <= 0 || (inc.end_ms != 0 && inc.end_ms < inc.start_ms)) {
      return Status::Error("incidents in state.db: incident " + std::to_string(inc.id) + ": end_ms " +
                           std::to_string(inc.end_ms) + " before start_ms " + std::to_string(inc.start_ms) +
                           " (or start_ms not positive)");
    }
    inc.root_service = SqliteText(st.s, 3);
    inc.root_alert = SqliteText(st.s, 4);
    inc.severity = SqliteText(st.s, 5);
    inc.services = Split(SqliteText(st.s, 6));
    inc.alerts = Split(SqliteText(st.s, 7));
    if (sqlite3_column_type(st.s, 8) != SQLITE_NULL) inc.mttd_ms = sqlite3_column_int64(st.s, 8);
    inc.mttd_from_firing = sqlite3_column_int(st.s, 9) != 0;
    if (sqlite3_column_type(st.s, 10) != SQLITE_NULL) inc.mttr_ms = sqlite3_column_int64(st.s, 10);
    inc.mttr_source = SqliteText(st.s, 11);
    if (sqlite3_column_type(st.s, 12) != SQLITE_NULL) inc.first_notified_ms = sqlite3_column_int64(st.s, 12);
    out.push_back(std::move(inc));
  }
  if (rc != SQLITE_DONE) return Error(db_, "reading");
  SqliteStmt members;
  if (sqlite3_prepare_v2(db_, "SELECT episode_id FROM incident_members WHERE incident_id = ? ORDER BY episode_id", -1,
                         &members.s, nullptr) != SQLITE_OK) {
    return Error(db_, "reading members");
  }
  for (Incident& inc : out) {
    sqlite3_reset(members.s);
    sqlite3_bind_int64(members.s, 1, inc.id);
    while ((rc = sqlite3_step(members.s)) == SQLITE_ROW) inc.episode_ids.push_back(sqlite3_column_int64(members.s, 0));
    if (rc != SQLITE_DONE) return Error(db_, "reading members");
  }
  return out;
}

Result<std::vector<Incident>> IncidentTracker::List(TimestampMs from_ms, TimestampMs to_ms) {
  std::lock_guard lock(mu_);
  return Select("start_ms < ?1 AND (end_ms = 0 OR end_ms >= ?2)", {to_ms, from_ms});
}

Result<Incident> IncidentTracker::Show(int64_t id, TimestampMs now_ms) {
  std::lock_guard lock(mu_);
  auto rows = Select("id = ?1", {id});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::Error("no incident " + std::to_string(id));
  Incident stored = std::move(rows->front());
  // The sources around it: a day before (the ledger's down stretch) to its end.
  Result<IncidentInput> in =
      ReadInput(stored.start_ms - kDayMs, (stored.end_ms != 0 ? stored.end_ms : now_ms) + 3600 * 1000);
  if (!in.ok()) return in.status();
  std::optional<Incident> rebuilt = BuildIncident(stored.episode_ids, *in);
  if (!rebuilt) return stored;  // the sources were trimmed: the summary is what is left
  rebuilt->id = stored.id;
  return *rebuilt;
}

namespace {

json OptionalSeconds(const std::optional<int64_t>& ms) {
  return ms ? json(static_cast<double>(*ms) / 1000) : json(nullptr);
}

json IncidentObject(const Incident& inc) {
  json timeline = json::array();
  for (const auto& e : inc.timeline) {
    timeline.push_back({{"time", FormatTime(e.time_ms)},
                        {"offset_seconds", static_cast<double>(e.time_ms - inc.start_ms) / 1000},
                        {"kind", e.kind},
                        {"service", e.service},
                        {"alert", e.alert},
                        {"detail", e.detail},
                        {"text", DescribeEvent(e)}});
  }
  json o = {{"id", inc.id},
            {"root", {{"service", inc.root_service}, {"alert", inc.root_alert}}},
            {"severity", inc.severity},
            {"services", inc.services},
            {"alerts", inc.alerts},
            {"episodes", inc.episode_ids},
            {"start", FormatTime(inc.start_ms)},
            {"end", inc.end_ms != 0 ? json(FormatTime(inc.end_ms)) : json(nullptr)},
            {"first_notified", inc.first_notified_ms ? json(FormatTime(*inc.first_notified_ms)) : json(nullptr)},
            {"mttd_seconds", OptionalSeconds(inc.mttd_ms)},
            {"mttd_to", inc.mttd_from_firing ? "firing" : "notification"},
            {"notified", !inc.mttd_from_firing},
            {"mttr_seconds", OptionalSeconds(inc.mttr_ms)},
            {"mttr_to", inc.mttr_source}};
  if (!inc.timeline.empty()) o["timeline"] = timeline;
  return o;
}

}  // namespace

std::string IncidentJson(const Incident& incident) { return IncidentObject(incident).dump(); }

std::string IncidentListJson(const std::vector<Incident>& incidents) {
  json a = json::array();
  for (const auto& inc : incidents) a.push_back(IncidentObject(inc));
  return a.dump();
}

Result<TimeRange> ParseIncidentRange(const std::string& since, const std::string& from, const std::string& to,
                                     TimestampMs now_ms, const std::string& prefix) {
  TimestampMs end = now_ms;
  if (!to.empty()) {
    auto t = ParseTime(to);
    if (!t.ok()) return t.status().WithContext(prefix + "to");
    end = *t;
  }
  TimestampMs start;
  if (!from.empty()) {
    if (!since.empty()) return Status::Error(prefix + "since: give either since or from, not both");
    auto f = ParseTime(from);
    if (!f.ok()) return f.status().WithContext(prefix + "from");
    start = *f;
  } else {
    auto d = ParseDuration(since.empty() ? "7d" : since);
    if (!d.ok()) return d.status().WithContext(prefix + "since");
    if (d->count() <= 0) return Status::Error(prefix + "since: must be longer than 0, got \"" + since + "\"");
    start = end - d->count();
  }
  if (start >= end) {
    return Status::Error(prefix + "from: " + FormatTime(start) + " is not before " + prefix + "to " + FormatTime(end));
  }
  return TimeRange{start, end};
}

Result<int64_t> ParseIncidentId(const std::string& text) {
  std::string digits = text.starts_with("#") ? text.substr(1) : text;
  int64_t id = 0;
  bool ok = !digits.empty() && digits.size() <= 18;  // 18 digits cannot overflow int64_t
  for (char c : digits) {
    if (!ok || c < '0' || c > '9') {
      ok = false;
      break;
    }
    id = id * 10 + (c - '0');
  }
  if (!ok || id <= 0) return Status::Error("incident id: expected a positive number, got \"" + text + "\"");
  return id;
}

std::optional<ChartRequest> IncidentChartRequest(const Incident& inc, TimestampMs now_ms) {
  std::string re;
  for (const auto& s : inc.services) {
    if (s.find('"') != std::string::npos) continue;  // cannot be written in the selector; left out of the charts
    std::string quoted;
    for (char c : s) {
      // Regex metacharacters escaped (twice: once for the PromQL string): a service name is matched literally.
      if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) quoted += "\\\\";
      quoted += c;
    }
    re += (re.empty() ? "" : "|") + quoted;
  }
  if (re.empty()) return std::nullopt;
  ChartRequest r;
  r.query = "vigil_service_up{service=~\"" + re + "\"}";
  r.start_ms = inc.start_ms - 10 * 60 * 1000;
  r.end_ms = std::min(now_ms, (inc.end_ms != 0 ? inc.end_ms : now_ms) + 10 * 60 * 1000);
  if (r.end_ms <= r.start_ms) return std::nullopt;
  r.step_ms = std::max<int64_t>(1000, (r.end_ms - r.start_ms) / 5000);
  return r;
}

ChartSeries ChangesOnly(const std::string& service, const std::vector<std::pair<TimestampMs, double>>& points) {
  ChartSeries c;
  c.name = "vigil_service_up{service=\"" + service + "\"}";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i == 0 || i + 1 == points.size() || points[i].second != points[i - 1].second) c.points.push_back(points[i]);
  }
  return c;
}

std::vector<ChartSeries> IncidentCharts(const Incident& inc, const promql::QuerierFactory& storage,
                                        const promql::EngineOptions& engine, TimestampMs now_ms) {
  std::optional<ChartRequest> req = IncidentChartRequest(inc, now_ms);
  if (!req) return {};
  auto expr = promql::ParseExpr(req->query);
  if (!expr.ok()) {
    LogWarn("incidents: bad chart query", {{"query", req->query}, {"err", expr.status().message()}});
    return {};
  }
  promql::QueryResult r =
      promql::Engine(engine).Range(storage, **expr, req->start_ms, req->end_ms, Duration(req->step_ms));
  if (!r.ok) {
    LogWarn("incidents: chart query failed", {{"query", req->query}, {"err", r.error.message}});
    return {};
  }
  std::vector<ChartSeries> out;
  for (const auto& s : r.value.matrix) {
    std::vector<std::pair<TimestampMs, double>> points;
    for (const auto& p : s.points) points.emplace_back(p.t, p.v);
    out.push_back(ChangesOnly(std::string(s.labels.Get("service")), points));
  }
  std::sort(out.begin(), out.end(), [](const ChartSeries& a, const ChartSeries& b) { return a.name < b.name; });
  return out;
}

http::Route NewIncidentsRoute(IncidentTracker* tracker, const Clock* clock,
                              std::function<std::vector<ChartSeries>(const Incident&)> charts) {
  return {
      "/api/v1/incidents", [tracker, clock, charts](const http::Request& r) -> http::Response {
        if (r.method != "GET") return api::ErrorResponse(405, "bad_data", "method not allowed: use GET");
        if (tracker == nullptr) {
          return api::ErrorResponse(503, "unavailable", "the incidents in state.db could not be opened");
        }
        const TimestampMs now = clock->NowMs();
        if (r.path == "/api/v1/incidents") {
          auto range = ParseIncidentRange(r.Param("since"), r.Param("from"), r.Param("to"), now, "");
          if (!range.ok()) return api::ErrorResponse(400, "bad_data", range.status().message());
          auto list = tracker->List(range->from_ms, range->to_ms);
          if (!list.ok()) return api::ErrorResponse(500, "internal", list.status().message());
          return api::JsonResponse(200, R"({"status":"success","data":)" + IncidentListJson(*list) + "}");
        }
        if (!r.path.starts_with("/api/v1/incidents/")) return api::ErrorResponse(404, "not_found", "not found");
        auto id = ParseIncidentId(r.path.substr(std::string("/api/v1/incidents/").size()));
        if (!id.ok()) return api::ErrorResponse(400, "bad_data", id.status().message());
        const std::string format = r.Param("format");
        if (!format.empty() && format != "json" && format != "md") {
          return api::ErrorResponse(400, "bad_data", "format: expected json or md, got \"" + format + "\"");
        }
        auto inc = tracker->Show(*id, now);
        if (!inc.ok()) {
          bool unknown = inc.status().message().starts_with("no incident");
          return api::ErrorResponse(unknown ? 404 : 500, unknown ? "not_found" : "internal", inc.status().message());
        }
        if (format == "md") {
          std::vector<ChartSeries> data = charts ? charts(*inc) : std::vector<ChartSeries>{};
          http::Response resp;
          resp.content_type = "text/markdown; charset=utf-8";
          resp.body = IncidentMarkdown(*inc, data, "No samples of vigil_service_up for these services in the store.");
          return resp;
        }
        return api::JsonResponse(200, R"({"status":"success","data":)" + IncidentJson(*inc) + "}");
      }};
}

}  // namespace vigil::incidents
