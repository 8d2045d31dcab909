#include "rules/state_store.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

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
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

Result<std::unique_ptr<AlertStateStore>> AlertStateStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::Error("open alert state " + path + ": " + msg);
  }
  std::unique_ptr<AlertStateStore> store(new AlertStateStore(db));
  sqlite3_busy_timeout(db, 5000);
  for (const char* sql : {
           "PRAGMA journal_mode=WAL",
           "PRAGMA synchronous=NORMAL",
           "CREATE TABLE IF NOT EXISTS alerts ("
           "  group_key TEXT NOT NULL, rule TEXT NOT NULL, rule_labels TEXT NOT NULL, labels TEXT NOT NULL,"
           "  state TEXT NOT NULL, value REAL, annotations TEXT NOT NULL,"
           "  active_at_ms INTEGER NOT NULL, fired_at_ms INTEGER NOT NULL, resolved_at_ms INTEGER NOT NULL,"
           "  keep_firing_since_ms INTEGER NOT NULL, last_sent_at_ms INTEGER NOT NULL,"
           "  PRIMARY KEY (group_key, rule, rule_labels, labels))",
       }) {
    Status s = store->Exec(sql);
    if (!s.ok()) return s.WithContext("alert state " + path);
  }
  return store;
}

AlertStateStore::~AlertStateStore() { sqlite3_close(db_); }

Status AlertStateStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return Status::Error(msg);
  }
  return Status::Ok();
}

Status AlertStateStore::SaveGroup(const std::string& group_key, const std::vector<SavedAlert>& alerts) {
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
  return Exec("COMMIT");
}

Status AlertStateStore::Prune(const std::set<std::string>& keep) {
  Result<std::vector<SavedAlert>> all = LoadAll();
  if (!all.ok()) return all.status();
  std::set<std::string> gone;
  for (const auto& a : *all) {
    if (keep.count(a.group_key) == 0) gone.insert(a.group_key);
  }
  for (const auto& key : gone) {
    Status s = SaveGroup(key, {});
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
  auto text = [&](int col) {
    const unsigned char* t = sqlite3_column_text(q.s, col);
    return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
  };
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

}  // namespace vigil::rules
