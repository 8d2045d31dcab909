// The recovery audit in <data_dir>/state.db (SQLite, WAL mode): every
// decision and action, with an action written *before* it runs, so a crash
// never repeats one blindly: rows a crash left "started" are marked
// "interrupted" at the next start and still count against the budget.
// Also the operator's pauses, which survive restarts. Schema: docs/recovery.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "recovery/planner.h"

struct sqlite3;

namespace vigil::recovery {

struct AuditEntry {
  int64_t id = 0;
  TimestampMs time_ms = 0;
  std::string service;
  uint64_t episode = 0;
  std::string kind;    // an Event kind name, or "action"
  std::string action;  // for actions: restart, cleanup, failover, exec
  std::string target;  // the unit, path or env file acted on
  int attempt = 0;
  // Actions: started, then verifying (a restart's job is done), then verified or
  // verify_failed; done, partial, failed, dry-run; interrupted when a crash cut one short.
  std::string outcome;
  std::string detail;
  int64_t duration_ms = 0;
};

class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Records an action about to run (outcome "started"); returns its id.
  Result<int64_t> BeginAction(const AuditEntry& entry);
  // Sets an action's outcome, appends " -> detail"; a negative duration keeps the one recorded.
  Status FinishAction(int64_t id, const std::string& outcome, const std::string& detail, int64_t duration_ms);
  Status Record(const AuditEntry& entry);

  // Marks actions still "started" or "verifying" (a crash interrupted them) as "interrupted"; returns them.
  Result<std::vector<AuditEntry>> MarkInterrupted(const std::string& detail);
  // Restart attempts (ours and systemd's) since `since_ms`, oldest first.
  Result<std::vector<PastAttempt>> AttemptsSince(TimestampMs since_ms);
  Result<uint64_t> MaxEpisode();
  // The newest entries first; `service` empty: all.
  Result<std::vector<AuditEntry>> Recent(int limit, const std::string& service = "");

  // Entries at or after `since_ms`, oldest first (the by-time index bounds the read).
  Result<std::vector<AuditEntry>> Since(TimestampMs since_ms);

  // Keeps the newest `keep` rows (the audit must not grow without bound).
  Status Trim(int64_t keep);

  // Pauses by service ("*": every service); until 0 means until resumed.
  Status SetPause(const std::string& service, TimestampMs until_ms);
  Status ClearPause(const std::string& service);
  Result<std::map<std::string, TimestampMs>> Pauses();

 private:
  explicit AuditLog(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Result<std::vector<AuditEntry>> Query(const std::string& sql, const std::vector<std::string>& args);
  sqlite3* db_;
};

}  // namespace vigil::recovery
