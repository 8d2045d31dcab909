// Safe disk cleanup: frees space on a filesystem by deleting (or compressing)
// old files under allowlisted roots until a free-space target is reached.
// Never follows a symlink, never leaves a root or its filesystem, never removes
// a directory, and skips files another process holds open.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace vigil::recovery {

struct CleanupPolicy {             // one entry of the host-wide `recovery.cleanup` list
  std::string filesystem;          // a mount point; its free space triggers the cleanup
  double below_free_ratio = 0.10;  // start when free/size < this
  double until_free_ratio = 0.15;  // stop as soon as free/size >= this
  std::vector<std::string> roots;  // absolute directories; nothing outside them is ever touched
  // fnmatch globs on the file name, e.g. "*.log.*" ("*" skips dotfiles, as in a shell); empty: all but dotfiles.
  std::vector<std::string> match;
  Duration older_than{0};  // only files whose mtime is at least this old
  int keep_newest = 0;     // per directory, the N newest matching files are always kept
  enum class Order { kOldestFirst, kLargestFirst } order = Order::kOldestFirst;
  bool recursive = true;
  bool compress = false;           // gzip matching files instead of deleting them; never deletes, skips *.gz etc.
  bool delete_open_files = false;  // files another process holds open are skipped unless this is set
  // Runs `journalctl --vacuum-size=<journal_max_bytes>` and/or `--vacuum-time=<older_than>` first.
  bool journal_vacuum = false;
  uint64_t journal_max_bytes = 0;  // 0: no --vacuum-size
};

// Space on one filesystem as an unprivileged user sees it (statvfs f_bavail).
struct FsUsage {
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;
  double FreeRatio() const { return size_bytes == 0 ? 1.0 : static_cast<double>(free_bytes) / size_bytes; }
};
Result<FsUsage> StatFsUsage(const std::string& mount);

// Returns an error naming the first problem (the caller adds the file position):
// a root of "/", a relative root or one with "." / ".." components, a root that
// is, contains or lies inside `data_dir`, ratios outside (0, 1] or until <= below,
// a glob with a "/" or an unterminated "[", a negative keep_newest or older_than,
// journal_vacuum without journal_max_bytes or older_than.
Status ValidateCleanupPolicy(const CleanupPolicy& policy, std::string_view data_dir);

// True iff `usage` is below the policy's start threshold.
bool CleanupDue(const CleanupPolicy& policy, const FsUsage& usage);

struct CleanupOptions {
  bool dry_run = false;
  TimestampMs now = 0;  // for older_than
  // Reads the filesystem's usage; empty: StatFsUsage. Read again after each file.
  std::function<Result<FsUsage>(const std::string& mount)> usage;
  size_t max_files = 10000;         // matching files considered at most (the walk stops there)
  std::string proc_root = "/proc";  // where open files are looked up
  std::string journalctl = "/usr/bin/journalctl";
  // Resolve with per-component O_NOFOLLOW instead of openat2; the path taken
  // automatically on kernels without openat2. For tests.
  bool force_fallback_resolve = false;
};

enum class CleanupAction {
  kDeleted,
  kCompressed,
  kWouldDelete,    // dry run
  kWouldCompress,  // dry run
  kSkipped,        // see reason
  kFailed,         // see reason; the run goes on with the next file
};
std::string_view CleanupActionName(CleanupAction action);

struct CleanupEntry {
  std::string path;  // absolute, as root + relative path
  CleanupAction action;
  std::string reason;  // why skipped or failed: "open by pid 123", "symlink, not followed", "too new", ...
  uint64_t size_bytes = 0;
  uint64_t freed_bytes = 0;  // allocated bytes released (estimated in a dry run)
  TimestampMs mtime = 0;
};

struct CleanupReport {
  std::string filesystem;
  bool dry_run = false;
  double free_ratio_before = 0;
  double free_ratio_after = 0;  // projected from freed bytes in a dry run
  double target_ratio = 0;
  bool target_reached = false;
  std::vector<CleanupEntry> entries;  // in the order considered
  size_t not_needed_files = 0;        // eligible files left alone because the target was reached
  uint64_t freed_bytes = 0;
  size_t acted_files = 0;  // deleted or compressed (or would be)
  size_t failed_files = 0;
  bool walk_truncated = false;        // max_files reached; older files may lie beyond
  std::vector<std::string> problems;  // roots that could not be walked, usage errors
  std::string journal_vacuum;         // what the journal vacuum did, empty when not configured
};

// Runs one cleanup. Per-file failures are entries of the report, not errors; an
// error means the filesystem's usage could not be read at the start.
Result<CleanupReport> RunCleanup(const CleanupPolicy& policy, const CleanupOptions& options);

// A summary for audit and notifications, at most `max_bytes` long: the totals,
// then as many entries as fit.
std::string FormatCleanupReport(const CleanupReport& report, size_t max_bytes = 4096);

}  // namespace vigil::recovery
