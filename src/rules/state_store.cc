#include "rules/state_store.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <tuple>

#include "base/sqlite.h"

namespace vigil::rules {

namespace {

std::string LabelsJson(const Labels& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& l : labels) j[l.name] = l.value;
  return j.dump();
}

Labels LabelsFromJson(const std::string& text) {
  std::vector<Label> ls;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.value().is_string()) ls.push_back({it.key(), it.value().get<std::string>()});
    }
  }
  return Labels::FromUnsorted(std::move(ls));
}

// Finalizes a statement on every path.
using Stmt = SqliteStmt;

}  // namespace

Result<std::unique_ptr<AlertStateStore>> AlertStateStore::Open(const std::string& path) {
  auto opened = SqliteOpen(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, "alert state");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  std::unique_ptr<AlertStateStore> store(new AlertStateStore(db));
  for (const char* sql : {
           "PRAGMA journal_mode=WAL",
           "PRAGMA synchronous=NORMAL",
           "CREATE TABLE IF NOT EXISTS alerts ("
           "  group_key TEXT NOT NULL, rule TEXT NOT NULL, rule_labels TEXT NOT NULL, labels TEXT NOT NULL,"
           "  state TEXT NOT NULL, value REAL, annotations TEXT NOT NULL,"
           "  active_at_ms INTEGER NOT NULL, fired_at_ms INTEGER NOT NULL, resolved_at_ms INTEGER NOT NULL,"
           "  keep_firing_since_ms INTEGER NOT NULL, last_sent_at_ms INTEGER NOT NULL,"
           "  PRIMARY KEY (group_key, rule, rule_labels, labels))",
           "CREATE TABLE IF NOT EXISTS alert_episodes ("
           "  id INTEGER PRIMARY KEY AUTOINCREMENT, group_key TEXT NOT NULL, rule TEXT NOT NULL,"
           "  rule_labels TEXT NOT NULL, labels TEXT NOT NULL, severity TEXT NOT NULL, for_ms INTEGER NOT NULL,"
           "  active_at_ms INTEGER NOT NULL, fired_at_ms INTEGER NOT NULL, resolved_at_ms INTEGER NOT NULL,"
           "  UNIQUE (group_key, rule, rule_labels, labels, active_at_ms))",
           "CREATE INDEX IF NOT EXISTS alert_episodes_open ON alert_episodes (group_key, resolved_at_ms)",
           "CREATE INDEX IF NOT EXISTS alert_episodes_by_start ON alert_episodes (active_at_ms)",
       }) {
    Status s = store->Exec(sql);
    if (!s.ok()) return s.WithContext("alert state " + path);
  }
  return store;
}

AlertStateStore::~AlertStateStore() { sqlite3_close(db_); }

Status AlertStateStore::Exec(const char* sql) { return SqliteExec(db_, sql); }

Status AlertStateStore::SaveGroup(const std::string& group_key, const std::vector<SavedAlert>& alerts,
                                  TimestampMs now_ms) {
  Status s = Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  auto fail = [&](const std::string& what) {
    std::string msg = what + ": " + sqlite3_errmsg(db_);
    (void)Exec("ROLLBACK");
    return Status::Error("save alert state: " + msg);
  };
  {
    Stmt del;
    if (sqlite3_prepare_v2(db_, "DELETE FROM alerts WHERE group_key = ?", -1, &del.s, nullptr) != SQLITE_OK) {
      return fail("prepare");
    }
    sqlite3_bind_text(del.s, 1, group_key.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(del.s) != SQLITE_DONE) return fail("delete");
    Stmt ins;
    if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &ins.s,
                           nullptr) != SQLITE_OK) {
      return fail("prepare");
    }
    for (const auto& a : alerts) {
      nlohmann::json ann = nlohmann::json::object();
      for (const auto& [k, v] : a.alert.annotations) ann[k] = v;
      std::string rule_labels = LabelsJson(a.rule_labels), labels = LabelsJson(a.alert.labels),
                  annotations = ann.dump();
      sqlite3_reset(ins.s);
      sqlite3_bind_text(ins.s, 1, group_key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ins.s, 2, a.rule.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ins.s, 3, rule_labels.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ins.s, 4, labels.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ins.s, 5, std::string(AlertStateName(a.alert.state)).c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_double(ins.s, 6, a.alert.value);
      sqlite3_bind_text(ins.s, 7, annotations.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(ins.s, 8, a.alert.active_at);
      sqlite3_bind_int64(ins.s, 9, a.alert.fired_at);
      sqlite3_bind_int64(ins.s, 10, a.alert.resolved_at);
      sqlite3_bind_int64(ins.s, 11, a.alert.keep_firing_since);
      sqlite3_bind_int64(ins.s, 12, a.alert.last_sent_at);
      if (sqlite3_step(ins.s) != SQLITE_DONE) return fail("insert");
    }
  }
  if (Status e = SaveEpisodesLocked(group_key, alerts, now_ms); !e.ok()) {
    (void)Exec("ROLLBACK");
    return e;
  }
  return Exec("COMMIT");
}

// Inside SaveGroup's transaction. An episode is keyed by its alert's identity
// and activeAt: a resolved alert that comes back is a new pending alert with a
// new activeAt, hence a new episode.
Status AlertStateStore::SaveEpisodesLocked(const std::string& group_key, const std::vector<SavedAlert>& alerts,
                                           TimestampMs now_ms) {
  auto fail = [&](const std::string& what) {
    return Status::Error("save alert episodes: " + what + ": " + sqlite3_errmsg(db_));
  };
  using Key = std::tuple<std::string, std::string, std::string, TimestampMs>;  // rule, rule_labels, labels, activeAt
  std::set<Key> live;
  Stmt up;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO alert_episodes (group_key, rule, rule_labels, labels, severity, for_ms,"
                         " active_at_ms, fired_at_ms, resolved_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                         " ON CONFLICT (group_key, rule, rule_labels, labels, active_at_ms) DO UPDATE SET"
                         " fired_at_ms = excluded.fired_at_ms, resolved_at_ms = excluded.resolved_at_ms"
                         " WHERE fired_at_ms != excluded.fired_at_ms OR resolved_at_ms != excluded.resolved_at_ms",
                         -1, &up.s, nullptr) != SQLITE_OK) {
    return fail("prepare");
  }
  for (const auto& a : alerts) {
    const bool active = a.alert.state != AlertState::kInactive;
    // An inactive alert without resolved_at never fired: nothing to log.
    if (!active && a.alert.resolved_at == 0) continue;
    std::string rule_labels = LabelsJson(a.rule_labels), labels = LabelsJson(a.alert.labels);
    if (active) live.insert({a.rule, rule_labels, labels, a.alert.active_at});
    sqlite3_reset(up.s);
    sqlite3_bind_text(up.s, 1, group_key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(up.s, 2, a.rule.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(up.s, 3, rule_labels.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(up.s, 4, labels.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(up.s, 5, std::string(a.alert.labels.Get("severity")).c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(up.s, 6, a.for_duration.count());
    sqlite3_bind_int64(up.s, 7, a.alert.active_at);
    sqlite3_bind_int64(up.s, 8, a.alert.fired_at);
    sqlite3_bind_int64(up.s, 9, active ? 0 : a.alert.resolved_at);
    if (sqlite3_step(up.s) != SQLITE_DONE) return fail("upsert");
  }
  // Open episodes whose alert is gone: a pending alert that cleared, a rule
  // removed or changed by a reload.
  std::vector<int64_t> ended;
  {
    Stmt open;
    if (sqlite3_prepare_v2(db_,
                           "SELECT id, rule, rule_labels, labels, active_at_ms FROM alert_episodes"
                           " WHERE group_key = ? AND resolved_at_ms = 0",
                           -1, &open.s, nullptr) != SQLITE_OK) {
      return fail("prepare");
    }
    sqlite3_bind_text(open.s, 1, group_key.c_str(), -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(open.s)) == SQLITE_ROW) {
      auto text = [&](int col) { return SqliteText(open.s, col); };
      if (live.count({text(1), text(2), text(3), sqlite3_column_int64(open.s, 4)}) == 0) {
        ended.push_back(sqlite3_column_int64(open.s, 0));
      }
    }
    if (rc != SQLITE_DONE) return fail("select");
  }
  if (!ended.empty()) {
    Stmt end;
    if (sqlite3_prepare_v2(db_, "UPDATE alert_episodes SET resolved_at_ms = ? WHERE id = ?", -1, &end.s, nullptr) !=
        SQLITE_OK) {
      return fail("prepare");
    }
    for (int64_t id : ended) {
      sqlite3_reset(end.s);
      sqlite3_bind_int64(end.s, 1, now_ms);
      sqlite3_bind_int64(end.s, 2, id);
      if (sqlite3_step(end.s) != SQLITE_DONE) return fail("end");
    }
  }
  // Bounded: by age, then by count (ids grow with time).
  Stmt trim;
  if (sqlite3_prepare_v2(db_,
                         "DELETE FROM alert_episodes WHERE active_at_ms < ?"
                         " OR id <= (SELECT MAX(id) FROM alert_episodes) - ?",
                         -1, &trim.s, nullptr) != SQLITE_OK) {
    return fail("prepare");
  }
  sqlite3_bind_int64(trim.s, 1, now_ms - retention_.max_age.count());
  sqlite3_bind_int64(trim.s, 2, retention_.max_rows);
  if (sqlite3_step(trim.s) != SQLITE_DONE) return fail("trim");
  return Status::Ok();
}

Status AlertStateStore::Prune(const std::set<std::string>& keep, TimestampMs now_ms) {
  Result<std::vector<SavedAlert>> all = LoadAll();
  if (!all.ok()) return all.status();
  std::set<std::string> gone;
  for (const auto& a : *all) {
    if (keep.count(a.group_key) == 0) gone.insert(a.group_key);
  }
  for (const auto& key : gone) {
    Status s = SaveGroup(key, {}, now_ms);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::vector<SavedAlert>> AlertStateStore::LoadAll() {
  Stmt q;
  if (sqlite3_prepare_v2(db_,
                         "SELECT group_key, rule, rule_labels, labels, state, value, annotations, active_at_ms,"
                         " fired_at_ms, resolved_at_ms, keep_firing_since_ms, last_sent_at_ms FROM alerts"
                         " ORDER BY group_key, rule, rule_labels, labels",
                         -1, &q.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("load alert state: ") + sqlite3_errmsg(db_));
  }
  auto text = [&](int col) { return SqliteText(q.s, col); };
  std::vector<SavedAlert> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    SavedAlert a;
    a.group_key = text(0);
    a.rule = text(1);
    a.rule_labels = LabelsFromJson(text(2));
    a.alert.labels = LabelsFromJson(text(3));
    std::string state = text(4);
    a.alert.state = state == "firing"    ? AlertState::kFiring
                    : state == "pending" ? AlertState::kPending
                                         : AlertState::kInactive;
    a.alert.value = sqlite3_column_double(q.s, 5);
    nlohmann::json ann = nlohmann::json::parse(text(6), nullptr, false);
    if (ann.is_object()) {
      for (auto it = ann.begin(); it != ann.end(); ++it) {
        if (it.value().is_string()) a.alert.annotations[it.key()] = it.value().get<std::string>();
      }
    }
    a.alert.active_at = sqlite3_column_int64(q.s, 7);
    a.alert.fired_at = sqlite3_column_int64(q.s, 8);
    a.alert.resolved_at = sqlite3_column_int64(q.s, 9);
    a.alert.keep_firing_since = sqlite3_column_int64(q.s, 10);
    a.alert.last_sent_at = sqlite3_column_int64(q.s, 11);
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("load alert state: ") + sqlite3_errmsg(db_));
  return out;
}

Result<std::vector<AlertEpisode>> AlertStateStore::Episodes(TimestampMs from_ms, TimestampMs to_ms) {
  Stmt q;
  if (sqlite3_prepare_v2(db_,
                         "SELECT id, group_key, rule, labels, severity, for_ms, active_at_ms, fired_at_ms,"
                         " resolved_at_ms FROM alert_episodes WHERE active_at_ms < ?"
                         " AND (resolved_at_ms = 0 OR resolved_at_ms >= ?) ORDER BY active_at_ms, id",
                         -1, &q.s, nullptr) != SQLITE_OK) {
    return Status::Error(std::string("read alert episodes: ") + sqlite3_errmsg(db_));
  }
  sqlite3_bind_int64(q.s, 1, to_ms);
  sqlite3_bind_int64(q.s, 2, from_ms);
  auto text = [&](int col) { return SqliteText(q.s, col); };
  std::vector<AlertEpisode> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    AlertEpisode e;
    e.id = sqlite3_column_int64(q.s, 0);
    const std::string where = "alert_episodes row id " + std::to_string(e.id) + ": ";
    e.group_key = text(1);
    e.rule = text(2);
    nlohmann::json labels = nlohmann::json::parse(text(3), nullptr, false);
    if (!labels.is_object()) return Status::Error(where + "labels is not a JSON object: " + text(3));
    e.labels = LabelsFromJson(text(3));
    e.severity = text(4);
    e.for_duration = Duration(sqlite3_column_int64(q.s, 5));
    e.active_at = sqlite3_column_int64(q.s, 6);
    e.fired_at = sqlite3_column_int64(q.s, 7);
    e.resolved_at = sqlite3_column_int64(q.s, 8);
    if (e.rule.empty()) return Status::Error(where + "no rule name");
    if (e.for_duration.count() < 0) return Status::Error(where + "negative for_ms");
    if ((e.fired_at != 0 && e.fired_at < e.active_at) || (e.resolved_at != 0 && e.resolved_at < e.active_at) ||
        (e.fired_at != 0 && e.resolved_at != 0 && e.resolved_at < e.fired_at)) {
      return Status::Error(where + "times out of order (active_at_ms " + std::to_string(e.active_at) +
                           ", fired_at_ms " + std::to_string(e.fired_at) + ", resolved_at_ms " +
                           std::to_string(e.resolved_at) + ")");
    }
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("read alert episodes: ") + sqlite3_errmsg(db_));
  return out;
}

}  // namespace vigil::rules
