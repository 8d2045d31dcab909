// Alert state in SQLite (WAL mode) in the data directory, so pending and
// firing alerts survive a restart: `for` keeps counting from the saved
// activeAt, a firing alert is not announced again, and an alert whose
// condition cleared while vigil was down resolves at the first evaluation.
// Schema: docs/rules.md ("Alert state on disk").
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "rules/group.h"

struct sqlite3;

namespace vigil::rules {

struct SavedAlert {
  std::string group_key;  // Group::key(): "file;name"
  std::string rule;       // the alerting rule's name
  Labels rule_labels;     // the rule's own labels (rules may share a name)
  Alert alert;
};

class AlertStateStore {
 public:
  // Opens or creates the database at `path`.
  static Result<std::unique_ptr<AlertStateStore>> Open(const std::string& path);
  ~AlertStateStore();
  AlertStateStore(const AlertStateStore&) = delete;
  AlertStateStore& operator=(const AlertStateStore&) = delete;

  // Replaces the saved alerts of one group (one transaction).
  Status SaveGroup(const std::string& group_key, const std::vector<SavedAlert>& alerts);
  // Deletes the alerts of groups not in `keep`.
  Status Prune(const std::set<std::string>& keep);
  Result<std::vector<SavedAlert>> LoadAll();

 private:
  explicit AlertStateStore(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  sqlite3* db_;
};

}  // namespace vigil::rules
