// `vigil backup` and `vigil tsdb check`, and the admin API that backs up a
// running vigil (POST /api/v1/admin/backup, /api/v1/admin/tsdb/snapshot).
// Layout, restore and repair: docs/operations.md.
#pragma once

#include <string>

#include "base/status.h"
#include "http/server.h"
#include "tsdb/tsdb.h"

namespace vigil::cli {

struct BackupResult {
  std::string dir;
  tsdb::SnapshotInfo tsdb;
  bool state_db = false;  // false: the data dir had no state.db yet
};

// Writes a consistent copy of the data dir `data_dir`, whose store `db` has
// open, into `target` (absolute; new, or an empty directory): tsdb/ (a
// snapshot) and state.db (SQLite's online backup), plus backup.json. The copy
// is a data dir of its own. On failure nothing is left in `target` and the
// error names the path and why; `db` carries on. Without `with_head` only
// the blocks are copied (Prometheus's skip_head).
Result<BackupResult> BackupDataDir(tsdb::DB& db, const std::string& data_dir, const std::string& target,
                                   bool with_head = true);

// An online copy of an SQLite database (sqlite3_backup_*): consistent while
// other connections write to `from`.
Status BackupSqlite(const std::string& from, const std::string& to);

// The admin routes under /api/v1/admin/ for the agent.
http::Route NewAdminRoute(tsdb::DB* db, std::string data_dir);

// `vigil backup DIR`: through a running vigil at `server`, or, with
// `data_dir` set, straight from a data dir no vigil is running on.
int Backup(const std::string& target, const std::string& server, const std::string& data_dir);

// `vigil tsdb check [--repair] [--json]`: 0 no damage, 1 damage found
// (repaired or not: the output says), 2 the store could not be checked.
int TsdbCheck(const std::string& data_dir, bool repair, bool json);

}  // namespace vigil::cli
