// The log collector: follows one log of a service (a plain file or a unit's
// journal), applies its rules to every new line and exports the results.
//
// Metrics (labels service, log; rule metrics also rule), see docs/collectors.md:
//   vigil_log_up, vigil_log_lines_total, vigil_log_bytes_total,
//   vigil_log_long_lines_total, vigil_log_rotations_total{kind},
//   vigil_log_unread_bytes, vigil_log_matches_total, vigil_log_value,
//   vigil_log_value_timestamp_seconds, vigil_log_state,
//   vigil_log_state_change_timestamp_seconds.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "collect/collector.h"
#include "logs/rules.h"

namespace vigil::logs {

struct LogCollectorOptions {
  std::string service;
  std::string path;               // a plain file; exactly one of path and journal_unit
  std::string journal_unit;       // or a unit whose journal entries to follow
  std::string journal_directory;  // journal files to read instead of the local journal (tests)
  RuleSet rules;
  // Where read positions and rule values are kept across restarts
  // (<data_dir>/logs); empty: nothing is kept.
  std::string state_dir;
  // Per run at most this much is read, so a huge backlog is worked off over
  // several runs instead of overrunning the timeout. Runs also stop halfway
  // to their deadline.
  size_t max_bytes_per_run = 16 << 20;
  size_t max_line_bytes = kMaxLineBytes;
  // When a state rule changes, the batch is handed to `storage` (if set; the
  // scheduler must then not store it again) and an Event is published.
  collect::EventSink* events = nullptr;
  collect::BatchSink* storage = nullptr;
};

// The `log` label of a log: its path, or "journal:<unit>".
std::string LogLabel(const LogCollectorOptions& o);

// Fails when a rule does not compile. The collector is named
// "logs/<service>/<log label>".
Result<std::unique_ptr<collect::Collector>> NewLogCollector(LogCollectorOptions options);

}  // namespace vigil::logs
