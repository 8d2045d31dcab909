// The state-change ledger in <data_dir>/state.db (SQLite, WAL mode): one row
// per change of a service's state, with vigil's heartbeat, so the time vigil
// was not running (even after a crash) is recorded as unknown. Schema: docs/sla.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "incidents/sla.h"

struct sqlite3;

namespace vigil::incidents {

class Ledger {
 public:
  // `read_only`: for the CLI; the file must exist then.
  static Result<std::unique_ptr<Ledger>> Open(const std::string& path, bool read_only = false);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends `state` for `service` at `time_ms` unless it already is the
  // service's latest state (so repeated observations write nothing).
  Status Record(const std::string& service, TimestampMs time_ms, ServiceState state);
  // The transitions of `service` from the last one at or before `from_ms` on, oldest first.
  Result<std::vector<Transition>> Transitions(const std::string& service, TimestampMs from_ms);
  // Every service with a transition, sorted.
  Result<std::vector<std::string>> Services();

  // vigil is watching at `time_ms`; called every few seconds.
  Status Heartbeat(TimestampMs time_ms);
  // At start: every service not already unknown becomes unknown from the last
  // heartbeat of the previous run (when vigil was last known to watch).
  Status CloseInterruptedRun();

  // Drops transitions older than `before_ms`, keeping each service's last one before it.
  Status Trim(TimestampMs before_ms);

 private:
  explicit Ledger(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Result<TimestampMs> LastHeartbeat();
  sqlite3* db_;
};

}  // namespace vigil::incidents
