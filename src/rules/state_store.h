// Alert state in SQLite (WAL mode) in the data directory, so pending and
// firing alerts survive a restart: `for` keeps counting from the saved
// activeAt, a firing alert is not announced again, and an alert whose
// condition cleared while vigil was down resolves at the first evaluation.
// It also keeps the alert episode log (table `alert_episodes`): one row per
// pending-or-firing episode of an alert, for `vigil alerts quality`.
// Schema: docs/rules.md ("Alert state on disk", "Alert episodes").
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "rules/group.h"

struct sqlite3;

namespace vigil::rules {

struct SavedAlert {
  std::string group_key;  // Group::key(): "file;name"
  std::string rule;       // the alerting rule's name
  Labels rule_labels;     // the rule's own labels (rules may share a name)
  Alert alert;
  Duration for_duration{0};  // the rule's `for`, written to the episode log only
};

// One episode of an alert: from pending (active_at) through firing (fired_at,
// 0 when it never fired) to its end (resolved_at, 0 while it lasts).
struct AlertEpisode {
  int64_t id = 0;
  std::string group_key, rule;
  Labels labels;  // with alertname and the rule's labels
  std::string severity;
  Duration for_duration{0};
  TimestampMs active_at = 0, fired_at = 0, resolved_at = 0;
};

// How much of the episode log is kept: episodes that began more than max_age
// ago are deleted, and beyond max_rows the oldest go.
struct EpisodeRetention {
  Duration max_age{400LL * 24 * 3600 * 1000};
  int64_t max_rows = 200000;
};

class AlertStateStore {
 public:
  // Opens or creates the database at `path`.
  static Result<std::unique_ptr<AlertStateStore>> Open(const std::string& path);
  ~AlertStateStore();
  AlertStateStore(const AlertStateStore&) = delete;
  AlertStateStore& operator=(const AlertStateStore&) = delete;

  // Replaces the saved alerts of one group (one transaction) and brings the
  // episode log up to date: an episode of an alert no longer pending or firing
  // (a pending alert that cleared, a rule removed) ends at `now_ms`.
  Status SaveGroup(const std::string& group_key, const std::vector<SavedAlert>& alerts, TimestampMs now_ms);
  // Deletes the alerts of groups not in `keep` (their open episodes end at `now_ms`).
  Status Prune(const std::set<std::string>& keep, TimestampMs now_ms);
  Result<std::vector<SavedAlert>> LoadAll();

  void SetEpisodeRetention(EpisodeRetention r) { retention_ = r; }
  // Episodes overlapping [from_ms, to_ms), oldest first. A row that cannot be
  // read is an error naming its id and why.
  Result<std::vector<AlertEpisode>> Episodes(TimestampMs from_ms, TimestampMs to_ms);

 private:
  explicit AlertStateStore(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Status SaveEpisodesLocked(const std::string& group_key, const std::vector<SavedAlert>& alerts, TimestampMs now_ms);
  sqlite3* db_;
  EpisodeRetention retention_;
};

}  // namespace vigil::rules
