#include "recovery/audit.h"

#include <sqlite3.h>

#include "base/sqlite.h"

namespace vigil::recovery {
namespace {

using Stmt = SqliteStmt;

constexpr const char* kColumns =
    "id, time_ms, service, episode, kind, action, target, attempt, outcome, detail, duration_ms";

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  auto opened = SqliteOpen(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, "recovery audit");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  std::unique_ptr<AuditLog> log(new AuditLog(db));
  for (const char* sql : {
           "PRAGMA journal_mode=WAL",
           // An action's "started" row must be on disk before the action runs.
           "PRAGMA synchronous=FULL",
           "CREATE TABLE IF NOT EXISTS recovery_audit ("
           "  id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, service TEXT NOT NULL,"
           "  episode INTEGER NOT NULL, kind TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,"
           "  attempt INTEGER NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL, duration_ms INTEGER NOT NULL)",
           "CREATE INDEX IF NOT EXISTS recovery_audit_by_time ON recovery_audit (time_ms)",
           "CREATE TABLE IF NOT EXISTS recovery_pauses (service TEXT PRIMARY KEY, until_ms INTEGER NOT NULL)",
       }) {
    Status s = log->Exec(sql);
    if (!s.ok()) return s.WithContext("recovery audit " + path);
  }
  return log;
}

AuditLog::~AuditLog() { sqlite3_close(db_); }

Status AuditLog::Exec(const char* sql) { return SqliteExec(db_, sql); }

Result<int64_t> AuditLog::BeginAction(const AuditEntry& e) {
  AuditEntry started = e;
  started.kind = "action";
  started.outcome = "started";
  Status s = Record(started);
  if (!s.ok()) return s;
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status AuditLog::Record(const AuditEntry& e) {
  Stmt st;
  const char* sql =
      "INSERT INTO recovery_audit (time_ms, service, episode, kind, action, target, attempt, outcome, detail, "
      "duration_ms) VALUES (?,?,?,?,?,?,?,?,?,?)";
  if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("recovery audit: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_int64(st.s, 1, e.time_ms);
  sqlite3_bind_text(st.s, 2, e.service.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 3, static_cast<int64_t>(e.episode));
  sqlite3_bind_text(st.s, 4, e.kind.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 5, e.action.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 6, e.target.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st.s, 7, e.attempt);
  sqlite3_bind_text(st.s, 8, e.outcome.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 9, e.detail.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 10, e.duration_ms);
  if (sqlite3_step(st.s) != SQLITE_DONE) {
    return Status::Error(std::string("recovery audit: writing: ") + sqlite3_errmsg(db_));
  }
  return Status::Ok();
}

Status AuditLog::FinishAction(int64_t id, const std::string& outcome, const std::string& detail, int64_t duration_ms) {
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "UPDATE recovery_audit SET outcome = ?, detail = detail || ?,"
                         " duration_ms = CASE WHEN ? < 0 THEN duration_ms ELSE ?3 END WHERE id = ?4",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("recovery audit: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_text(st.s, 1, outcome.c_str(), -1, SQLITE_TRANSIENT);
  std::string suffix = detail.empty() ? "" : " -> " + detail;
  sqlite3_bind_text(st.s, 2, suffix.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 3, duration_ms);
  sqlite3_bind_int64(st.s, 4, id);
  if (sqlite3_step(st.s) != SQLITE_DONE) {
    return Status::Error(std::string("recovery audit: updating: ") + sqlite3_errmsg(db_));
  }
  return Status::Ok();
}

Result<std::vector<AuditEntry>> AuditLog::Query(const std::string& sql, const std::vector<std::string>& args) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("recovery audit: ") + sqlite3_errmsg(db_));
  }
  for (size_t i = 0; i < args.size(); ++i) {
    sqlite3_bind_text(st.s, static_cast<int>(i + 1), args[i].c_str(), -1, SQLITE_TRANSIENT);
  }
  std::vector<AuditEntry> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    AuditEntry e;
    e.id = sqlite3_column_int64(st.s, 0);
    e.time_ms = sqlite3_column_int64(st.s, 1);
    e.service = SqliteText(st.s, 2);
    e.episode = static_cast<uint64_t>(sqlite3_column_int64(st.s, 3));
    e.kind = SqliteText(st.s, 4);
    e.action = SqliteText(st.s, 5);
    e.target = SqliteText(st.s, 6);
    e.attempt = sqlite3_column_int(st.s, 7);
    e.outcome = SqliteText(st.s, 8);
    e.detail = SqliteText(st.s, 9);
    e.duration_ms = sqlite3_column_int64(st.s, 10);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("recovery audit: reading: ") + sqlite3_errmsg(db_));
  return out;
}

Result<std::vector<AuditEntry>> AuditLog::MarkInterrupted(const std::string& detail) {
  auto rows = Query(
      std::string("SELECT ") + kColumns + " FROM recovery_audit WHERE outcome IN ('started', 'verifying') ORDER BY id",
      {});
  if (!rows.ok()) return rows.status();
  for (auto& r : *rows) {
    Status s = FinishAction(r.id, "interrupted", detail, 0);
    if (!s.ok()) return s;
    r.outcome = "interrupted";
  }
  return rows;
}

Result<std::vector<PastAttempt>> AuditLog::AttemptsSince(TimestampMs since_ms) {
  auto rows = Query(std::string("SELECT ") + kColumns +
                        " FROM recovery_audit WHERE time_ms > ? AND ((kind = 'action' AND action = 'restart'"
                        " AND outcome != 'dry-run') OR kind = 'systemd_restart') ORDER BY time_ms, id",
                    {std::to_string(since_ms)});
  if (!rows.ok()) return rows.status();
  std::vector<PastAttempt> out;
  for (const auto& r : *rows) {
    std::string summary = r.kind == "systemd_restart" ? "restart by systemd" : "restart by vigil: " + r.outcome;
    out.push_back({r.service, r.time_ms, summary});
  }
  return out;
}

Result<uint64_t> AuditLog::MaxEpisode() {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(episode), 0) FROM recovery_audit", -1, &st.s, nullptr) !=
          SQLITE_OK ||
      sqlite3_step(st.s) != SQLITE_ROW) {
    return Status::Error(std::string("recovery audit: ") + sqlite3_errmsg(db_));
  }
  return static_cast<uint64_t>(sqlite3_column_int64(st.s, 0));
}

Result<std::vector<AuditEntry>> AuditLog::Recent(int limit, const std::string& service) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM recovery_audit";
  std::vector<std::string> args;
  if (!service.empty()) {
    sql += " WHERE service = ?";
    args.push_back(service);
  }
  sql += " ORDER BY id DESC LIMIT " + std::to_string(std::max(1, limit));
  return Query(sql, args);
}

Result<std::vector<AuditEntry>> AuditLog::Since(TimestampMs since_ms) {
  return Query(std::string("SELECT ") + kColumns + " FROM recovery_audit WHERE time_ms >= ? ORDER BY time_ms, id",
               {std::to_string(since_ms)});
}

Status AuditLog::Trim(int64_t keep) {
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "DELETE FROM recovery_audit WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM recovery_audit) - ?",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("recovery audit: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_int64(st.s, 1, keep);
  if (sqlite3_step(st.s) != SQLITE_DONE)
    return Status::Error(std::string("recovery audit: trimming: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Status AuditLog::SetPause(const std::string& service, TimestampMs until_ms) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO recovery_pauses (service, until_ms) VALUES (?, ?)", -1, &st.s,
                         nullptr) != SQLITE_OK) {
    return Status::Error(std::string("recovery pauses: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_text(st.s, 1, service.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 2, until_ms);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Status::Error(std::string("recovery pauses: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Status AuditLog::ClearPause(const std::string& service) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM recovery_pauses WHERE service = ?", -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("recovery pauses: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_text(st.s, 1, service.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Status::Error(std::string("recovery pauses: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Result<std::map<std::string, TimestampMs>> AuditLog::Pauses() {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT service, until_ms FROM recovery_pauses", -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("recovery pauses: ") + sqlite3_errmsg(db_));
  }
  std::map<std::string, TimestampMs> out;
  while (sqlite3_step(st.s) == SQLITE_ROW) out[SqliteText(st.s, 0)] = sqlite3_column_int64(st.s, 1);
  return out;
}

}  // namespace vigil::recovery
