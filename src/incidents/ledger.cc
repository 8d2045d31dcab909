#include "incidents/ledger.h"

#include <sqlite3.h>

#include <algorithm>

#include "base/sqlite.h"

namespace vigil::incidents {
namespace {

using Stmt = SqliteStmt;

}  // namespace

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& path, bool read_only) {
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  auto opened = SqliteOpen(path, flags | SQLITE_OPEN_FULLMUTEX, "SLA ledger");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  std::unique_ptr<Ledger> ledger(new Ledger(db));
  if (read_only) return ledger;
  for (const char* sql : {
           "PRAGMA journal_mode=WAL",
           // The heartbeat commits every few seconds; it need not fsync each time. A
           // power loss drops the newest commits together, heartbeats and transitions
           // alike, so the books still end at the last heartbeat that survived.
           "PRAGMA synchronous=NORMAL",
           "CREATE TABLE IF NOT EXISTS sla_transitions ("
           "  id INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL, time_ms INTEGER NOT NULL,"
           "  state TEXT NOT NULL)",
           "CREATE INDEX IF NOT EXISTS sla_transitions_by_service ON sla_transitions (service, time_ms)",
           "CREATE TABLE IF NOT EXISTS sla_heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), time_ms INTEGER NOT NULL)",
       }) {
    Status s = ledger->Exec(sql);
    if (!s.ok()) return s.WithContext("SLA ledger " + path);
  }
  return ledger;
}

Ledger::~Ledger() { sqlite3_close(db_); }

Status Ledger::Exec(const char* sql) { return SqliteExec(db_, sql); }

Status Ledger::Record(const std::string& service, TimestampMs time_ms, ServiceState state) {
  Result<std::vector<Transition>> last = Transitions(service, INT64_MAX);
  if (!last.ok()) return last.status();
  if (!last->empty() && last->back().state == state) return Status::Ok();
  Stmt st;
  if (sqlite3_prepare_v2(db_, "INSERT INTO sla_transitions (service, time_ms, state) VALUES (?, ?, ?)", -1, &st.s,
                         nullptr) != SQLITE_OK) {
    return Status::Error(std::string("SLA ledger: ") + sqlite3_errmsg(db_));
  }
  // Never before the latest row: the ledger stays ordered even if the clock steps back.
  if (!last->empty()) time_ms = std::max(time_ms, last->back().time_ms);
  std::string name(StateName(state));
  sqlite3_bind_text(st.s, 1, service.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 2, time_ms);
  sqlite3_bind_text(st.s, 3, name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE)
    return Status::Error(std::string("SLA ledger: writing: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Result<std::vector<Transition>> Ledger::Transitions(const std::string& service, TimestampMs from_ms) {
  // The last row at or before from_ms (the state in force then) and every later one.
  const char* sql =
      "SELECT time_ms, state FROM sla_transitions WHERE service = ?1 AND id >= COALESCE("
      "  (SELECT id FROM sla_transitions WHERE service = ?1 AND time_ms <= ?2 ORDER BY time_ms DESC, id DESC LIMIT 1),"
      "  0) ORDER BY time_ms, id";
  Stmt st;
  if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("SLA ledger: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_text(st.s, 1, service.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 2, from_ms);
  std::vector<Transition> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    std::string name = SqliteText(st.s, 1);
    std::optional<ServiceState> state = ParseState(name);
    if (!state) return Status::Error("SLA ledger: unknown state \"" + name + "\" for service " + service);
    out.push_back({sqlite3_column_int64(st.s, 0), *state});
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("SLA ledger: reading: ") + sqlite3_errmsg(db_));
  return out;
}

Result<std::vector<std::string>> Ledger::Services() {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT DISTINCT service FROM sla_transitions ORDER BY service", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return Status::Error(std::string("SLA ledger: ") + sqlite3_errmsg(db_));
  }
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) out.push_back(SqliteText(st.s, 0));
  if (rc != SQLITE_DONE) return Status::Error(std::string("SLA ledger: reading: ") + sqlite3_errmsg(db_));
  return out;
}

Status Ledger::Heartbeat(TimestampMs time_ms) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO sla_heartbeat (id, time_ms) VALUES (1, ?)", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return Status::Error(std::string("SLA ledger: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_int64(st.s, 1, time_ms);
  if (sqlite3_step(st.s) != SQLITE_DONE)
    return Status::Error(std::string("SLA ledger: writing: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Result<TimestampMs> Ledger::LastHeartbeat() {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT time_ms FROM sla_heartbeat WHERE id = 1", -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("SLA ledger: ") + sqlite3_errmsg(db_));
  }
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(st.s, 0);
  if (rc != SQLITE_DONE) return Status::Error(std::string("SLA ledger: reading: ") + sqlite3_errmsg(db_));
  return TimestampMs{0};
}

Status Ledger::CloseInterruptedRun() {
  Result<TimestampMs> alive = LastHeartbeat();
  if (!alive.ok()) return alive.status();
  Result<std::vector<std::string>> services = Services();
  if (!services.ok()) return services.status();
  for (const auto& service : *services) {
    // Record never writes before the service's latest row, so a heartbeat
    // older than it (a stop recorded after the last beat) is harmless.
    Status s = Record(service, *alive, ServiceState::kUnknown);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status Ledger::Trim(TimestampMs before_ms) {
  Stmt st;
  const char* sql =
      "DELETE FROM sla_transitions WHERE time_ms < ?1 AND id < ("
      "  SELECT MAX(id) FROM sla_transitions AS last WHERE last.service = sla_transitions.service"
      "  AND last.time_ms < ?1)";
  if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("SLA ledger: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_int64(st.s, 1, before_ms);
  if (sqlite3_step(st.s) != SQLITE_DONE)
    return Status::Error(std::string("SLA ledger: trimming: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

}  // namespace vigil::incidents
