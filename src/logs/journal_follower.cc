#include "logs/journal_follower.h"

#include <systemd/sd-journal.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace vigil::logs {

JournalFollower::JournalFollower(std::string unit, std::string directory)
    : unit_(std::move(unit)), directory_(std::move(directory)) {
  if (unit_.find('.') == std::string::npos) unit_ += ".service";
}

JournalFollower::~JournalFollower() {
  if (journal_ != nullptr) sd_journal_close(journal_);
}

bool JournalFollower::Open(PollOutcome& out) {
  int r = directory_.empty() ? sd_journal_open(&journal_, SD_JOURNAL_LOCAL_ONLY)
                             : sd_journal_open_directory(&journal_, directory_.c_str(), 0);
  auto fail = [&](const char* step, int err) {
    out.error = "journal_open_failed";
    out.detail = std::string(step) + " (journal of " + unit_ + "): " + std::strerror(-err);
    if (journal_ != nullptr) sd_journal_close(journal_);
    journal_ = nullptr;
    return false;
  };
  if (r < 0) return fail("sd_journal_open", r);
  std::string match = "_SYSTEMD_UNIT=" + unit_;
  if ((r = sd_journal_add_match(journal_, match.data(), match.size())) < 0) return fail("sd_journal_add_match", r);
  // Messages are matched on their first kMaxLineBytes like file lines.
  sd_journal_set_data_threshold(journal_, kMaxLineBytes + sizeof("MESSAGE=") + 1);
  // Sets up change notification so sd_journal_process() picks up new and rotated journal files.
  if ((r = sd_journal_get_fd(journal_)) < 0) return fail("sd_journal_get_fd", r);
  positioned_ = false;
  return true;
}

PollOutcome JournalFollower::Poll(size_t max_bytes, std::chrono::steady_clock::time_point deadline, TimestampMs now_ms,
                                  const LineFn& on_line) {
  PollOutcome out;
  if (journal_ == nullptr && !Open(out)) return out;
  sd_journal_process(journal_);
  bool have_entry = false;  // the read position is on an entry not handed out yet
  if (!positioned_) {
    bool resumed = false;
    if (!cursor_.empty() && sd_journal_seek_cursor(journal_, cursor_.c_str()) >= 0) {
      int r = sd_journal_next(journal_);
      if (r > 0) {
        // On the saved entry itself: already read. On a later one (the saved
        // entry was vacuumed): that one is new.
        have_entry = sd_journal_test_cursor(journal_, cursor_.c_str()) <= 0;
      }
      resumed = r >= 0;
    }
    if (!resumed) {
      uint64_t since_us =
          static_cast<uint64_t>(std::max<TimestampMs>(0, now_ms - kJournalFirstReadLookback.count())) * 1000;
      sd_journal_seek_realtime_usec(journal_, since_us);
    }
    positioned_ = true;
  }
  size_t budget = max_bytes;
  uint64_t entries = 0;
  while (true) {
    if (!have_entry) {
      int r = sd_journal_next(journal_);
      if (r < 0) {
        out.error = "read_failed";
        out.detail = std::string("sd_journal_next (journal of ") + unit_ + "): " + std::strerror(-r);
        break;
      }
      if (r == 0) break;
    }
    have_entry = false;
    ++entries;
    const void* data = nullptr;
    size_t len = 0;
    if (sd_journal_get_data(journal_, "MESSAGE", &data, &len) >= 0 && len >= 8) {
      std::string_view msg(static_cast<const char*>(data) + 8, len - 8);  // after "MESSAGE="
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.remove_suffix(1);
      bool truncated = msg.size() > kMaxLineBytes;
      on_line(msg.substr(0, std::min(msg.size(), kMaxLineBytes)), truncated);
      out.bytes += msg.size();
      budget -= std::min(budget, msg.size() + 1);
    }
    if (budget == 0 || std::chrono::steady_clock::now() >= deadline) {
      out.more = true;
      break;
    }
  }
  if (entries > 0) {
    char* c = nullptr;
    if (sd_journal_get_cursor(journal_, &c) >= 0 && c != nullptr) {
      cursor_ = c;
      std::free(c);
    }
  }
  out.readable = out.error.empty();
  return out;
}

}  // namespace vigil::logs
