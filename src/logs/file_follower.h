// Follows a plain log file by polling: reads what was appended since the last
// poll and hands out complete lines. Handles rotation by rename (the old file
// is read to its end before it is let go), copytruncate (the file shrinks or
// its first bytes change: reading starts again at 0), a partial last line
// (kept until its newline arrives), a missing file (reported, polled until it
// comes back) and bytes of any kind.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "logs/rules.h"
#include "logs/state.h"

namespace vigil::logs {

// Called for each line without its "\n" (and a trailing "\r"); `truncated`:
// the line was longer than the follower's limit and this is its start.
using LineFn = std::function<void(std::string_view line, bool truncated)>;

struct PollOutcome {
  bool readable = false;     // the path was open and read this poll
  bool more = false;         // stopped at the byte or time budget with data left
  std::string error;         // short reason when not readable: not_found, permission_denied, open_failed, read_failed
  std::string detail;        // the human message for `error`
  uint64_t bytes = 0;        // bytes consumed this poll
  uint64_t rotations = 0;    // this poll: the path named a new file
  uint64_t truncations = 0;  // this poll: the file shrank or was rewritten in place
};

class FileFollower {
 public:
  explicit FileFollower(std::string path, size_t max_line_bytes = kMaxLineBytes);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // Continues from a saved position when the file at the path is still the
  // same one (device, inode, fingerprint, not shorter); else starts at 0.
  void Restore(const FilePosition& saved);

  // Reads at most `max_bytes` and stops at `deadline`, calling `on_line` per
  // complete line.
  PollOutcome Poll(size_t max_bytes, std::chrono::steady_clock::time_point deadline, const LineFn& on_line);

  // The position to save: the current file's device, inode and the offset
  // after its last complete line; nullopt before the file was first opened.
  std::optional<FilePosition> position() const;
  // Bytes in the current file not read yet (at the last poll).
  uint64_t unread_bytes() const;
  const std::string& path() const { return path_; }

 private:
  struct OpenFile;
  // Reads `f` from its offset to its size (as of `size`), within the budget.
  bool ReadAvailable(OpenFile& f, uint64_t size, size_t& budget, std::chrono::steady_clock::time_point deadline,
                     const LineFn& on_line, PollOutcome& out);
  // Hands out a pending partial line of `f` as a line of its own (its file is done).
  void FlushPartial(OpenFile& f, const LineFn& on_line);
  // Starts reading `f` from 0 again.
  void Rewind(OpenFile& f, const LineFn& on_line);
  // Checks the fingerprint and extends it while the file is shorter than kFingerprintBytes.
  bool FingerprintMatches(OpenFile& f, uint64_t size);
  void UpdateFingerprint(OpenFile& f, uint64_t size);

  std::string path_;
  size_t max_line_bytes_;
  std::optional<FilePosition> saved_;  // used at the first open
  std::unique_ptr<OpenFile> current_;
  std::unique_ptr<OpenFile> previous_;  // renamed or deleted, drained until it stays quiet
  uint64_t unread_ = 0;
  std::string chunk_;  // read buffer
};

}  // namespace vigil::logs
