// What a log follower keeps across restarts: where it stopped reading and the
// rule values up to that point, saved together so a restart neither counts a
// line twice nor skips one. One small file per followed log under
// <data_dir>/logs/, replaced atomically (write, fsync, rename, fsync dir).
// The format is documented in docs/format/log-state.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "logs/rules.h"

namespace vigil::logs {

// Where a plain file was read up to. The fingerprint (a hash of the first
// fingerprint_len bytes) tells a file truncated and rewritten in place
// (copytruncate) or replaced under the same inode from the one read before.
struct FilePosition {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t offset = 0;  // just after the last complete line
  uint32_t fingerprint_len = 0;
  uint64_t fingerprint = 0;
  friend bool operator==(const FilePosition&, const FilePosition&) = default;
};

// How many bytes of a file's start the fingerprint covers (fewer while the file is shorter).
inline constexpr uint32_t kFingerprintBytes = 1024;
uint64_t Fingerprint(std::string_view bytes);

struct LogState {
  std::string source;  // the path, or "journal:<unit>"; a mismatch means the file belongs to another log
  bool has_position = false;
  FilePosition position;       // plain files
  std::string journal_cursor;  // journals; empty: none yet
  uint64_t bytes = 0;          // bytes read (files) or message bytes (journal)
  uint64_t rotations = 0;      // the path named a new file
  uint64_t truncations = 0;    // the file shrank or was rewritten in place
  RuleValues values;
};

std::string EncodeState(const LogState& s);
// Errors name the line and what is wrong with it.
Result<LogState> DecodeState(std::string_view text);

// The state file of one log inside `dir`.
class StateFile {
 public:
  StateFile(std::string dir, std::string_view service, std::string_view source);
  ~StateFile();
  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;
  const std::string& path() const { return path_; }
  // Makes this the log's only reader until destroyed (flock on <path>.lock):
  // a reader abandoned at a reload may still be finishing its last run, and
  // two readers would count lines twice. False while another holds it.
  Result<bool> TryLock();
  // Absent file: an empty state for `source`.
  Result<LogState> Load() const;
  // Replaces the file atomically; creates `dir` when missing.
  Status Save(const LogState& s) const;

 private:
  std::string dir_;
  std::string path_;
  int lock_fd_ = -1;
};

}  // namespace vigil::logs
