// Follows the systemd journal entries of one unit (_SYSTEMD_UNIT=) through
// sd-journal, remembering the cursor of the last entry read.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/time.h"
#include "logs/file_follower.h"

typedef struct sd_journal sd_journal;

namespace vigil::logs {

// Without a saved cursor, reading starts this far back, like a log file that
// is rotated daily and read from its start.
inline constexpr Duration kJournalFirstReadLookback{24LL * 3600 * 1000};

class JournalFollower {
 public:
  // `unit` gets ".service" when it has no suffix. `directory`: read the
  // journal files there instead of the local system journal (tests, containers).
  JournalFollower(std::string unit, std::string directory = {});
  ~JournalFollower();
  JournalFollower(const JournalFollower&) = delete;
  JournalFollower& operator=(const JournalFollower&) = delete;

  void Restore(std::string cursor) { cursor_ = std::move(cursor); }

  // Reads new entries' MESSAGE fields as lines (at most `max_bytes` of
  // messages, until `deadline`). `now_ms` places the first read's start.
  PollOutcome Poll(size_t max_bytes, std::chrono::steady_clock::time_point deadline, TimestampMs now_ms,
                   const LineFn& on_line);

  // The cursor of the last entry read; empty before the first.
  const std::string& cursor() const { return cursor_; }
  const std::string& unit() const { return unit_; }

 private:
  bool Open(PollOutcome& out);

  std::string unit_;
  std::string directory_;
  std::string cursor_;
  sd_journal* journal_ = nullptr;
  bool positioned_ = false;  // the read position follows cursor_ (or the first-read start)
};

}  // namespace vigil::logs
