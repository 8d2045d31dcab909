// The durable outbox: every notification is written to SQLite before it is
// sent and removed only when the receiver accepted it, so a crash, a restart
// or a receiver outage never loses one (delivery is at least once).
// Notifications that can never succeed are moved to dead letters with the
// receiver's reason.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "alert/dispatch.h"
#include "base/status.h"
#include "base/time.h"

struct sqlite3;

namespace vigil::notify {

struct OutboxMessage {
  int64_t id = 0;
  std::string receiver;     // the receiver's name
  std::string integration;  // "webhook", "pagerduty", "slack"
  int index = 0;            // which of the receiver's integrations of that kind
  std::string payload;      // the request body, ready to send
  TimestampMs created_ms = 0;
  TimestampMs next_attempt_ms = 0;
  int attempts = 0;
  std::string last_error;
  // The firing alerts it announces, one "fingerprint@startsAt_ms" per line:
  // when it is delivered, each one's first delivery is logged.
  std::string alerts;
  // The notification's aggregation group: one group's messages to a target
  // go out in order, different groups' at the same time (as Alertmanager does).
  std::string group_key;
};

// Where a message goes: the receiver, the integration, and which of the
// receiver's integrations of that kind.
using DeliveryTarget = std::tuple<std::string, std::string, int>;
inline DeliveryTarget TargetOf(const OutboxMessage& m) { return {m.receiver, m.integration, m.index}; }

struct OutboxCounts {
  int64_t pending = 0;
  int64_t dead = 0;
  int64_t delivered = 0;  // kept in the history table
};

class Outbox {
 public:
  // Opens or creates the tables in the SQLite database at `path`.
  static Result<std::unique_ptr<Outbox>> Open(const std::string& path);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  Result<int64_t> Enqueue(const std::string& receiver, const std::string& integration, int index,
                          const std::string& payload, TimestampMs now);
  // Several in one transaction: one disk sync for a whole flush, not one per
  // notification. Only `receiver`, `integration`, `index` and `payload` are read.
  Status EnqueueAll(const std::vector<OutboxMessage>& messages, TimestampMs now);
  // Messages whose next attempt is due, oldest first.
  Result<std::vector<OutboxMessage>> Due(TimestampMs now, int limit);
  // When the next pending message is due; nullopt when none is pending.
  Result<std::optional<TimestampMs>> NextAttempt();
  Status Delivered(const OutboxMessage& m, TimestampMs now);
  Status Retry(const OutboxMessage& m, TimestampMs next_attempt_ms, const std::string& error);
  Status DeadLetter(const OutboxMessage& m, const std::string& reason, TimestampMs now);

  // What became of one attempt. Record() writes a delivery pass's outcomes in
  // one transaction (one disk sync for the pass); a crash before it sends
  // those messages again, which at-least-once delivery allows.
  struct Outcome {
    enum Kind { kDelivered, kDead, kRetry } kind;
    const OutboxMessage* message;
    std::string detail;  // the dead letter's reason or the retry's error
    TimestampMs at = 0;  // when it finished, or the next attempt
  };
  Status Record(const std::vector<Outcome>& outcomes);
  Result<OutboxCounts> Counts();
  // The most recent deliveries and dead letters, newest first, for the API.
  struct HistoryEntry {
    int64_t id;
    std::string receiver, integration, outcome, detail;
    TimestampMs created_ms, finished_ms;
    int attempts;
  };
  Result<std::vector<HistoryEntry>> History(int limit);

  // Silences live in the same database, so they survive restarts with the
  // notifications they hold back. Matchers are stored as Alertmanager's text.
  struct StoredSilence {
    std::string id;
    std::vector<std::string> matchers;
    TimestampMs starts_at = 0, ends_at = 0, updated_at = 0;
    std::string created_by, comment;
  };
  // When each firing alert (fingerprint, startsAt) was first announced by a
  // delivered notification, for `vigil alerts quality`. Rows older than
  // 400 days go, and at most the newest 200000 are kept.
  struct FirstDelivery {
    std::string fingerprint;
    TimestampMs starts_at = 0, delivered_at = 0;
  };
  Result<std::vector<FirstDelivery>> FirstDeliveries(TimestampMs since_ms);

  Status SaveSilence(const StoredSilence& s);
  Result<std::vector<StoredSilence>> Silences();

  // The dispatcher's notification log (what each group last said), so a
  // restart neither repeats notifications nor loses a resolve. Entries not
  // touched for `max_age` are pruned on load.
  Status SaveSentLog(const std::map<std::string, std::optional<alert::SentState>>& changes);
  Result<std::map<std::string, alert::SentState>> LoadSentLog(TimestampMs now, Duration max_age);

 private:
  explicit Outbox(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  // Runs `body` in one transaction, rolled back when it fails.
  Status Transaction(const std::function<Status()>& body);
  sqlite3* db_;
};

}  // namespace vigil::notify
