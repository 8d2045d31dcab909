#include "notify/outbox.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/sqlite.h"

namespace vigil::notify {
namespace {

using Stmt = SqliteStmt;

// How many finished notifications the history keeps.
constexpr int kHistoryRows = 1000;
constexpr int64_t kFirstDeliveryRows = 200000;
constexpr int64_t kFirstDeliveryMaxAgeMs = 400LL * 24 * 3600 * 1000;

// A column holding a JSON array of strings; anything else reads as empty.
std::vector<std::string> JsonStrings(const unsigned char* text) {
  std::vector<std::string> out;
  nlohmann::json j = nlohmann::json::parse(reinterpret_cast<const char*>(text), nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& x : j) {
    if (x.is_string()) out.push_back(x.get<std::string>());
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Outbox>> Outbox::Open(const std::string& path) {
  // FULLMUTEX: the delivery thread, /metrics and the API share the connection.
  auto opened = SqliteOpen(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, "outbox");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  std::unique_ptr<Outbox> o(new Outbox(db));
  for (const char* sql : {
           "PRAGMA journal_mode=WAL",
           // FULL: a notification acknowledged as queued survives a power cut.
           "PRAGMA synchronous=FULL",
           "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, receiver TEXT NOT NULL,"
           " integration TEXT NOT NULL, idx INTEGER NOT NULL, payload TEXT NOT NULL, created_ms INTEGER NOT NULL,"
           " next_attempt_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '')",
           "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_ms)",
           "CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, matchers TEXT NOT NULL,"
           " starts_ms INTEGER NOT NULL, ends_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
           " created_by TEXT NOT NULL, comment TEXT NOT NULL)",
           "CREATE TABLE IF NOT EXISTS sent_log (group_key TEXT PRIMARY KEY, firing TEXT NOT NULL,"
           " resolved TEXT NOT NULL, at_ms INTEGER NOT NULL)",
           "CREATE TABLE IF NOT EXISTS outbox_history (id INTEGER PRIMARY KEY, receiver TEXT NOT NULL,"
           " integration TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL, payload TEXT NOT NULL,"
           " created_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, attempts INTEGER NOT NULL)",
           "CREATE TABLE IF NOT EXISTS alert_first_delivery (fingerprint TEXT NOT NULL,"
           " starts_at_ms INTEGER NOT NULL, delivered_ms INTEGER NOT NULL, PRIMARY KEY (fingerprint, starts_at_ms))",
       }) {
    if (Status s = o->Exec(sql); !s.ok()) return s.WithContext("outbox " + path);
  }
  // Outboxes written by older versions lack the columns added since: the
  // first-delivery log's alerts, the groups sent to in parallel.
  std::set<std::string> columns;
  {
    Stmt cols;
    sqlite3_prepare_v2(db, "PRAGMA table_info(outbox)", -1, &cols.s, nullptr);
    while (sqlite3_step(cols.s) == SQLITE_ROW) {
      const unsigned char* name = sqlite3_column_text(cols.s, 1);
      if (name != nullptr) columns.insert(reinterpret_cast<const char*>(name));
    }
  }
  for (const char* column : {"alerts", "group_key"}) {
    if (columns.count(column)) continue;
    std::string sql = std::string("ALTER TABLE outbox ADD COLUMN ") + column + " TEXT NOT NULL DEFAULT ''";
    if (Status s = o->Exec(sql.c_str()); !s.ok()) {
      return s.WithContext("outbox " + path + ": add column " + column);
    }
  }
  return o;
}

Outbox::~Outbox() { sqlite3_close(db_); }

Status Outbox::Transaction(const std::function<Status()>& body) {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s.WithContext("outbox");
  Status s = body();
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  if (Status c = Exec("COMMIT"); !c.ok()) {
    (void)Exec("ROLLBACK");
    return c.WithContext("outbox commit");
  }
  return Status::Ok();
}

Status Outbox::Exec(const char* sql) { return SqliteExec(db_, sql); }

Result<int64_t> Outbox::Enqueue(const std::string& receiver, const std::string& integration, int index,
                                const std::string& payload, TimestampMs now) {
  OutboxMessage m;
  m.receiver = receiver;
  m.integration = integration;
  m.index = index;
  m.payload = payload;
  if (Status s = EnqueueAll({m}, now); !s.ok()) return s;
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status Outbox::EnqueueAll(const std::vector<OutboxMessage>& messages, TimestampMs now) {
  if (messages.empty()) return Status::Ok();
  return Transaction([&]() -> Status {
    Stmt st;
    sqlite3_prepare_v2(db_,
                       "INSERT INTO outbox (receiver, integration, idx, payload, created_ms, next_attempt_ms, alerts,"
                       " group_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       -1, &st.s, nullptr);
    for (const auto& m : messages) {
      sqlite3_reset(st.s);
      sqlite3_bind_text(st.s, 1, m.receiver.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st.s, 2, m.integration.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(st.s, 3, m.index);
      sqlite3_bind_text(st.s, 4, m.payload.c_str(), static_cast<int>(m.payload.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(st.s, 5, now);
      sqlite3_bind_int64(st.s, 6, now);
      sqlite3_bind_text(st.s, 7, m.alerts.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st.s, 8, m.group_key.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st.s) != SQLITE_DONE) return Status::Error(std::string("outbox insert: ") + sqlite3_errmsg(db_));
    }
    return Status::Ok();
  });
}

Result<std::vector<OutboxMessage>> Outbox::Due(TimestampMs now, int limit) {
  Stmt st;
  sqlite3_prepare_v2(
      db_,
      "SELECT id, receiver, integration, idx, payload, created_ms, next_attempt_ms, attempts, last_error,"
      " alerts, group_key FROM outbox WHERE next_attempt_ms <= ? ORDER BY next_attempt_ms, id LIMIT ?",
      -1, &st.s, nullptr);
  sqlite3_bind_int64(st.s, 1, now);
  sqlite3_bind_int(st.s, 2, limit);
  std::vector<OutboxMessage> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    OutboxMessage m;
    m.id = sqlite3_column_int64(st.s, 0);
    m.receiver = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 1));
    m.integration = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 2));
    m.index = sqlite3_column_int(st.s, 3);
    m.payload.assign(reinterpret_cast<const char*>(sqlite3_column_blob(st.s, 4)), sqlite3_column_bytes(st.s, 4));
    m.created_ms = sqlite3_column_int64(st.s, 5);
    m.next_attempt_ms = sqlite3_column_int64(st.s, 6);
    m.attempts = sqlite3_column_int(st.s, 7);
    m.last_error = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 8));
    m.alerts = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 9));
    m.group_key = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 10));
    out.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("outbox read: ") + sqlite3_errmsg(db_));
  return out;
}

Result<std::optional<TimestampMs>> Outbox::NextAttempt() {
  Stmt st;
  sqlite3_prepare_v2(db_, "SELECT MIN(next_attempt_ms) FROM outbox", -1, &st.s, nullptr);
  if (sqlite3_step(st.s) != SQLITE_ROW) return Status::Error(std::string("outbox read: ") + sqlite3_errmsg(db_));
  if (sqlite3_column_type(st.s, 0) == SQLITE_NULL) return std::optional<TimestampMs>();
  return std::optional<TimestampMs>(sqlite3_column_int64(st.s, 0));
}

Status Outbox::Delivered(const OutboxMessage& m, TimestampMs now) { return Record({{Outcome::kDelivered, &m, "", now}}); }

Status Outbox::DeadLetter(const OutboxMessage& m, const std::string& reason, TimestampMs now) {
  return Record({{Outcome::kDead, &m, reason, now}});
}

Status Outbox::Retry(const OutboxMessage& m, TimestampMs next_attempt_ms, const std::string& error) {
  return Record({{Outcome::kRetry, &m, error, next_attempt_ms}});
}

Status Outbox::Record(const std::vector<Outcome>& outcomes) {
  if (outcomes.empty()) return Status::Ok();
  return Transaction([&]() -> Status {
    Stmt retry, ins, del;
    sqlite3_prepare_v2(db_,
                       "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE id = ?",
                       -1, &retry.s, nullptr);
    // A finished message moves to the history.
    sqlite3_prepare_v2(db_,
                       "INSERT OR REPLACE INTO outbox_history (id, receiver, integration, outcome, detail, payload,"
                       " created_ms, finished_ms, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       -1, &ins.s, nullptr);
    sqlite3_prepare_v2(db_, "DELETE FROM outbox WHERE id = ?", -1, &del.s, nullptr);
    Stmt first;
    sqlite3_prepare_v2(db_,
                       "INSERT OR IGNORE INTO alert_first_delivery (fingerprint, starts_at_ms, delivered_ms)"
                       " VALUES (?, ?, ?)",
                       -1, &first.s, nullptr);
    bool finished = false;
    TimestampMs delivered_at = 0;  // the latest delivery of this pass
    for (const auto& o : outcomes) {
      const OutboxMessage& m = *o.message;
      bool ok;
      if (o.kind == Outcome::kRetry) {
        sqlite3_reset(retry.s);
        sqlite3_bind_int64(retry.s, 1, o.at);
        sqlite3_bind_text(retry.s, 2, o.detail.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(retry.s, 3, m.id);
        ok = sqlite3_step(retry.s) == SQLITE_DONE;
      } else {
        finished = true;
        sqlite3_reset(ins.s);
        sqlite3_bind_int64(ins.s, 1, m.id);
        sqlite3_bind_text(ins.s, 2, m.receiver.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins.s, 3, m.integration.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins.s, 4, o.kind == Outcome::kDelivered ? "delivered" : "dead", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins.s, 5, o.detail.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins.s, 6, m.payload.c_str(), static_cast<int>(m.payload.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins.s, 7, m.created_ms);
        sqlite3_bind_int64(ins.s, 8, o.at);
        sqlite3_bind_int(ins.s, 9, m.attempts + 1);
        sqlite3_reset(del.s);
        sqlite3_bind_int64(del.s, 1, m.id);
        ok = sqlite3_step(ins.s) == SQLITE_DONE && sqlite3_step(del.s) == SQLITE_DONE;
        if (o.kind == Outcome::kDelivered) {
          delivered_at = std::max(delivered_at, o.at);
          std::istringstream lines(m.alerts);
          for (std::string line; ok && std::getline(lines, line);) {
            size_t at = line.find('@');
            if (at == std::string::npos) continue;  // written by us: cannot happen
            sqlite3_reset(first.s);
            sqlite3_bind_text(first.s, 1, line.substr(0, at).c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(first.s, 2, std::strtoll(line.c_str() + at + 1, nullptr, 10));
            sqlite3_bind_int64(first.s, 3, o.at);
            ok = sqlite3_step(first.s) == SQLITE_DONE;
          }
        }
      }
      if (!ok) return Status::Error(std::string("outbox update: ") + sqlite3_errmsg(db_));
    }
    if (delivered_at != 0) {
      Stmt bound;
      sqlite3_prepare_v2(db_,
                         "DELETE FROM alert_first_delivery WHERE delivered_ms < ? OR rowid <= "
                         "(SELECT MAX(rowid) FROM alert_first_delivery) - ?",
                         -1, &bound.s, nullptr);
      sqlite3_bind_int64(bound.s, 1, delivered_at - kFirstDeliveryMaxAgeMs);
      sqlite3_bind_int64(bound.s, 2, kFirstDeliveryRows);
      if (sqlite3_step(bound.s) != SQLITE_DONE) {
        return Status::Error(std::string("outbox trim first deliveries: ") + sqlite3_errmsg(db_));
      }
    }
    if (!finished) return Status::Ok();
    // The history keeps the latest deliveries (dead letters stay for review);
    // trimmed once per pass, not once per message.
    Stmt trim;
    sqlite3_prepare_v2(db_,
                       "DELETE FROM outbox_history WHERE outcome = 'delivered' AND id NOT IN"
                       " (SELECT id FROM outbox_history ORDER BY finished_ms DESC LIMIT ?)",
                       -1, &trim.s, nullptr);
    sqlite3_bind_int(trim.s, 1, kHistoryRows);
    if (sqlite3_step(trim.s) != SQLITE_DONE) return Status::Error(std::string("outbox trim: ") + sqlite3_errmsg(db_));
    return Status::Ok();
  });
}

Result<std::vector<Outbox::FirstDelivery>> Outbox::FirstDeliveries(TimestampMs since_ms) {
  Stmt st;
  sqlite3_prepare_v2(db_,
                     "SELECT fingerprint, starts_at_ms, delivered_ms FROM alert_first_delivery"
                     " WHERE delivered_ms >= ? ORDER BY delivered_ms",
                     -1, &st.s, nullptr);
  sqlite3_bind_int64(st.s, 1, since_ms);
  std::vector<FirstDelivery> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    out.push_back({SqliteText(st.s, 0), sqlite3_column_int64(st.s, 1), sqlite3_column_int64(st.s, 2)});
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("read first deliveries: ") + sqlite3_errmsg(db_));
  return out;
}

Result<OutboxCounts> Outbox::Counts() {
  OutboxCounts c;
  Stmt st;
  sqlite3_prepare_v2(db_,
                     "SELECT (SELECT COUNT(*) FROM outbox),"
                     " (SELECT COUNT(*) FROM outbox_history WHERE outcome = 'dead'),"
                     " (SELECT COUNT(*) FROM outbox_history WHERE outcome = 'delivered')",
                     -1, &st.s, nullptr);
  if (sqlite3_step(st.s) != SQLITE_ROW) return Status::Error(std::string("outbox read: ") + sqlite3_errmsg(db_));
  c.pending = sqlite3_column_int64(st.s, 0);
  c.dead = sqlite3_column_int64(st.s, 1);
  c.delivered = sqlite3_column_int64(st.s, 2);
  return c;
}

Result<std::vector<Outbox::HistoryEntry>> Outbox::History(int limit) {
  Stmt st;
  sqlite3_prepare_v2(db_,
                     "SELECT id, receiver, integration, outcome, detail, created_ms, finished_ms, attempts"
                     " FROM outbox_history ORDER BY finished_ms DESC, id DESC LIMIT ?",
                     -1, &st.s, nullptr);
  sqlite3_bind_int(st.s, 1, limit);
  std::vector<HistoryEntry> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    HistoryEntry h;
    h.id = sqlite3_column_int64(st.s, 0);
    h.receiver = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 1));
    h.integration = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 2));
    h.outcome = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 3));
    h.detail = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 4));
    h.created_ms = sqlite3_column_int64(st.s, 5);
    h.finished_ms = sqlite3_column_int64(st.s, 6);
    h.attempts = sqlite3_column_int(st.s, 7);
    out.push_back(std::move(h));
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("outbox read: ") + sqlite3_errmsg(db_));
  return out;
}

Status Outbox::SaveSilence(const StoredSilence& s) {
  Stmt st;
  sqlite3_prepare_v2(db_,
                     "INSERT OR REPLACE INTO silences (id, matchers, starts_ms, ends_ms, updated_ms, created_by, comment)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)",
                     -1, &st.s, nullptr);
  std::string matchers = nlohmann::json(s.matchers).dump();
  sqlite3_bind_text(st.s, 1, s.id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, matchers.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 3, s.starts_at);
  sqlite3_bind_int64(st.s, 4, s.ends_at);
  sqlite3_bind_int64(st.s, 5, s.updated_at);
  sqlite3_bind_text(st.s, 6, s.created_by.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 7, s.comment.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Status::Error(std::string("silence save: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Result<std::vector<Outbox::StoredSilence>> Outbox::Silences() {
  Stmt st;
  sqlite3_prepare_v2(db_,
                     "SELECT id, matchers, starts_ms, ends_ms, updated_ms, created_by, comment FROM silences"
                     " ORDER BY starts_ms, id",
                     -1, &st.s, nullptr);
  std::vector<StoredSilence> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    StoredSilence s;
    s.id = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
    s.matchers = JsonStrings(sqlite3_column_text(st.s, 1));
    s.starts_at = sqlite3_column_int64(st.s, 2);
    s.ends_at = sqlite3_column_int64(st.s, 3);
    s.updated_at = sqlite3_column_int64(st.s, 4);
    s.created_by = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 5));
    s.comment = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 6));
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("silences read: ") + sqlite3_errmsg(db_));
  return out;
}

Status Outbox::SaveSentLog(const std::map<std::string, std::optional<alert::SentState>>& changes) {
  if (changes.empty()) return Status::Ok();
  return Transaction([&]() -> Status {
    Stmt put, del;
    sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO sent_log (group_key, firing, resolved, at_ms) VALUES (?, ?, ?, ?)",
                       -1, &put.s, nullptr);
    sqlite3_prepare_v2(db_, "DELETE FROM sent_log WHERE group_key = ?", -1, &del.s, nullptr);
    for (const auto& [key, state] : changes) {
      sqlite3_stmt* st = state ? put.s : del.s;
      sqlite3_reset(st);
      sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      if (state) {
        std::string firing = nlohmann::json(state->firing).dump(), resolved = nlohmann::json(state->resolved).dump();
        sqlite3_bind_text(st, 2, firing.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, resolved.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, state->at);
      }
      if (sqlite3_step(st) != SQLITE_DONE) return Status::Error(std::string("sent log save: ") + sqlite3_errmsg(db_));
    }
    return Status::Ok();
  });
}

Result<std::map<std::string, alert::SentState>> Outbox::LoadSentLog(TimestampMs now, Duration max_age) {
  Stmt prune;
  sqlite3_prepare_v2(db_, "DELETE FROM sent_log WHERE at_ms < ?", -1, &prune.s, nullptr);
  sqlite3_bind_int64(prune.s, 1, now - max_age.count());
  if (sqlite3_step(prune.s) != SQLITE_DONE) return Status::Error(std::string("sent log prune: ") + sqlite3_errmsg(db_));
  Stmt st;
  sqlite3_prepare_v2(db_, "SELECT group_key, firing, resolved, at_ms FROM sent_log", -1, &st.s, nullptr);
  auto fingerprints = [](const unsigned char* text) {
    std::vector<std::string> v = JsonStrings(text);
    return std::set<std::string>(v.begin(), v.end());
  };
  std::map<std::string, alert::SentState> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    alert::SentState s{fingerprints(sqlite3_column_text(st.s, 1)), fingerprints(sqlite3_column_text(st.s, 2)),
                       sqlite3_column_int64(st.s, 3)};
    out[reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0))] = std::move(s);
  }
  if (rc != SQLITE_DONE) return Status::Error(std::string("sent log read: ") + sqlite3_errmsg(db_));
  return out;
}

}  // namespace vigil::notify
