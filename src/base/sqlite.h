// What every store in state.db shares (alert state, outbox, recovery audit,
// SLA ledger, incidents, the digest log): opening, a statement that finalizes itself, and exec with SQLite's
// error as a Status. Header-only: its users link SQLite themselves.
#pragma once

#include <sqlite3.h>

#include <string>

#include "base/status.h"

namespace vigil {

struct SqliteStmt {
  sqlite3_stmt* s = nullptr;
  SqliteStmt() = default;
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;
  ~SqliteStmt() { sqlite3_finalize(s); }
};

// A text column, "" for NULL.
inline std::string SqliteText(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t != nullptr ? reinterpret_cast<const char*>(t) : "";
}

// Opens the database at `path` with `flags` (SQLITE_OPEN_*), waiting up to 5 s
// for another connection's lock; the error names `what` and the path.
inline Result<sqlite3*> SqliteOpen(const std::string& path, int flags, const std::string& what) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::Error("open " + what + " " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

// Runs statements that return no rows; the error is SQLite's own message.
inline Status SqliteExec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return Status::Error(msg);
  }
  return Status::Ok();
}

}  // namespace vigil
