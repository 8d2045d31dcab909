#include "recovery/actions/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "base/log.h"
#include "recovery/actions/exec.h"
#include "recovery/actions/unique_fd.h"

namespace vigil::recovery {
namespace {

constexpr int kMaxDepth = 64;
constexpr size_t kMaxProcFdEntries = 1 << 20;

std::string ErrnoText(int err) { return ::strerrordesc_np(err) ? ::strerrordesc_np(err) : "unknown error"; }

TimestampMs MtimeMs(const struct stat& st) {
  return static_cast<TimestampMs>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

uint64_t AllocatedBytes(const struct stat& st) { return static_cast<uint64_t>(st.st_blocks) * 512; }

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string FormatPercent(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", ratio * 100);
  return buf;
}

// Lexically normalizes an absolute path; "." and ".." components are refused
// rather than resolved, so a root means what it says.
Result<std::string> NormalizeAbsolute(std::string_view path) {
  if (path.empty() || path[0] != '/') return Status::Error("\"" + std::string(path) + "\" is not an absolute path");
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(i, end - i);
    if (part == "." || part == "..") {
      return Status::Error("\"" + std::string(path) + "\" contains a \"" + std::string(part) + "\" component");
    }
    if (!part.empty()) out += "/" + std::string(part);
    i = end;
  }
  return out.empty() ? "/" : out;
}

bool IsWithin(const std::string& path, const std::string& dir) {
  return path == dir || dir == "/" || path.starts_with(dir + "/");
}

Status ValidateGlob(const std::string& glob) {
  if (glob.empty()) return Status::Error("empty match pattern");
  if (glob.find('/') != std::string::npos) {
    return Status::Error("match pattern \"" + glob + "\" contains \"/\"; patterns match file names only");
  }
  for (size_t i = 0; i < glob.size(); ++i) {
    if (glob[i] == '\\') {
      if (++i >= glob.size()) return Status::Error("match pattern \"" + glob + "\" ends in a backslash");
    } else if (glob[i] == '[') {
      size_t j = i + 1;
      if (j < glob.size() && (glob[j] == '!' || glob[j] == '^')) ++j;
      if (j < glob.size() && glob[j] == ']') ++j;  // a leading ']' is part of the set
      while (j < glob.size() && glob[j] != ']') ++j;
      if (j >= glob.size()) return Status::Error("match pattern \"" + glob + "\" has an unterminated \"[\"");
      i = j;
    }
  }
  return Status::Ok();
}

bool MatchesAny(const std::vector<std::string>& globs, const char* name) {
  if (globs.empty()) return name[0] != '.';
  // FNM_PERIOD: like a shell, "*" does not match hidden files.
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return ::fnmatch(g.c_str(), name, FNM_PERIOD) == 0; });
}

bool IsCompressedName(std::string_view name) {
  for (std::string_view ext : {".gz", ".xz", ".zst", ".bz2", ".lz4", ".lzma", ".zip", ".tgz", ".7z", ".br"}) {
    if (name.ends_with(ext)) return true;
  }
  return false;
}

// Opens `rel` (relative to the root; "" is the root itself) so that it cannot
// resolve outside the root, through a symlink or onto another filesystem.
// Returns the fd or -errno: ELOOP/ENOTDIR for a symlink, EXDEV for an escape.
int OpenBeneath(int root_fd, const std::string& rel, int flags, bool fallback) {
  const std::string path = rel.empty() ? "." : rel;
  if (!fallback) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    // ENOSYS: a kernel before 5.6; EPERM: a seccomp filter that does not know openat2.
    if (errno != ENOSYS && errno != EPERM) return -errno;
  }
  // Without openat2: one component at a time from the root, refusing symlinks
  // (O_NOFOLLOW) and checking each step stays on the root's filesystem.
  struct stat root_st;
  if (::fstat(root_fd, &root_st) != 0) return -errno;
  UniqueFd current(::openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!current.valid()) return -errno;
  size_t i = 0;
  while (true) {
    size_t slash = path.find('/', i);
    std::string part = path.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
    if (part == "..") return -EXDEV;
    bool last = slash == std::string::npos;
    int part_flags = last ? flags | O_NOFOLLOW | O_CLOEXEC : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd next(::openat(current.get(), part.c_str(), part_flags));
    if (!next.valid()) return -errno;
    struct stat st;
    if (::fstat(next.get(), &st) != 0) return -errno;
    if (st.st_dev != root_st.st_dev) return -EXDEV;
    if (last) return next.release();
    current = std::move(next);
    i = slash + 1;
  }
}

std::string OpenFailureReason(int err) {
  if (err == ELOOP || err == ENOTDIR) return "symlink, not followed";
  if (err == EXDEV) return "outside root or on another filesystem";
  return ErrnoText(err);
}

struct Candidate {
  size_t root;
  std::string rel_dir;  // "" for the root itself
  std::string name;
  dev_t dev;
  ino_t ino;
  uint64_t size;
  uint64_t allocated;
  TimestampMs mtime;
  nlink_t nlink;
  bool directory_complete;  // the whole directory was read, so keep_newest is exact
  std::string skip;         // why it is not eligible; empty: eligible
};

std::string JoinPath(const std::string& root, const std::string& rel_dir, const std::string& name) {
  std::string p = root;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (!rel_dir.empty()) p += "/" + rel_dir;
  if (!name.empty()) p += "/" + name;
  return p;
}

struct Walk {
  std::vector<Candidate> files;
  std::vector<CleanupEntry> skipped;  // symlinks and directories not entered
  bool truncated = false;
};

void WalkRoot(size_t root_index, const std::string& root, int root_fd, dev_t root_dev, const CleanupPolicy& policy,
              const CleanupOptions& options, Walk& walk) {
  std::vector<std::pair<std::string, int>> stack = {{"", 0}};
  while (!stack.empty()) {
    if (walk.files.size() >= options.max_files) {
      walk.truncated = true;
      return;
    }
    auto [rel, depth] = stack.back();
    stack.pop_back();
    int fd = OpenBeneath(root_fd, rel, O_RDONLY | O_DIRECTORY, options.force_fallback_resolve);
    if (fd < 0) {
      walk.skipped.push_back({JoinPath(root, rel, ""), CleanupAction::kSkipped, OpenFailureReason(-fd)});
      continue;
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      ::close(fd);
      continue;
    }
    std::vector<std::string> names;
    bool complete = true;
    while (dirent* e = ::readdir(dir)) {
      std::string_view n(e->d_name);
      if (n == "." || n == "..") continue;
      if (names.size() >= options.max_files) {
        complete = false;
        walk.truncated = true;
        break;
      }
      names.emplace_back(n);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      struct stat st;
      if (::fstatat(::dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      std::string rel_child = rel.empty() ? name : rel + "/" + name;
      if (S_ISLNK(st.st_mode)) {
        if (MatchesAny(policy.match, name.c_str()) || policy.recursive) {
          walk.skipped.push_back({JoinPath(root, rel_child, ""), CleanupAction::kSkipped, "symlink, not followed"});
        }
      } else if (S_ISDIR(st.st_mode)) {
        if (!policy.recursive) continue;
        if (st.st_dev != root_dev) {
          walk.skipped.push_back({JoinPath(root, rel_child, ""), CleanupAction::kSkipped, "on another filesystem"});
        } else if (depth + 1 >= kMaxDepth) {
          walk.skipped.push_back({JoinPath(root, rel_child, ""), CleanupAction::kSkipped, "nested too deep"});
        } else {
          stack.emplace_back(rel_child, depth + 1);
        }
      } else if (S_ISREG(st.st_mode) && MatchesAny(policy.match, name.c_str())) {
        walk.files.push_back(Candidate{root_index, rel, name, st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size),
                                       AllocatedBytes(st), MtimeMs(st), st.st_nlink, complete, ""});
      }
    }
    if (!complete) {
      for (Candidate& c : walk.files) {
        if (c.root == root_index && c.rel_dir == rel) c.directory_complete = false;
      }
    }
    ::closedir(dir);
  }
}

// Maps (dev, ino) of the wanted files to a process (other than this one) that
// holds them open, from <proc_root>/<pid>/fd/*.
std::map<std::pair<dev_t, ino_t>, pid_t> FindOpenFiles(const std::string& proc_root,
                                                       const std::set<std::pair<dev_t, ino_t>>& wanted) {
  std::map<std::pair<dev_t, ino_t>, pid_t> open;
  if (wanted.empty()) return open;
  DIR* proc = ::opendir(proc_root.c_str());
  if (proc == nullptr) return open;
  const pid_t self = ::getpid();
  size_t seen = 0;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self) continue;
    std::string fd_dir = proc_root + "/" + e->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;  // gone, or not ours to read
    while (dirent* f = ::readdir(fds)) {
      if (f->d_name[0] == '.' || ++seen > kMaxProcFdEntries) continue;
      struct stat st;
      // stat follows the fd's magic link to the open file itself.
      if (::fstatat(::dirfd(fds), f->d_name, &st, 0) != 0) continue;
      auto key = std::make_pair(st.st_dev, st.st_ino);
      if (wanted.count(key)) open.emplace(key, static_cast<pid_t>(pid));
    }
    ::closedir(fds);
  }
  ::closedir(proc);
  return open;
}

// Writes <name>.gz beside the file (via a temp name, keeping mode, owner and
// mtime) and removes the original. Returns the allocated bytes of the .gz.
Result<uint64_t> CompressFile(int dir_fd, const Candidate& c) {
  UniqueFd in(::openat(dir_fd, c.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!in.valid()) return Status::Error("open: " + ErrnoText(errno));
  struct stat st;
  if (::fstat(in.get(), &st) != 0) return Status::Error("stat: " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode) || st.st_dev != c.dev || st.st_ino != c.ino) return Status::Error("changed since the scan");
  const std::string gz_name = c.name + ".gz";
  struct stat existing;
  if (::fstatat(dir_fd, gz_name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    return Status::Error(gz_name + " already exists");
  }
  const std::string temp = "." + gz_name + ".vigil-tmp";
  if (::fstatat(dir_fd, temp.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(existing.st_mode)) {
    ::unlinkat(dir_fd, temp.c_str(), 0);  // left by an interrupted run
  }
  UniqueFd out(::openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return Status::Error("create " + temp + ": " + ErrnoText(errno));
  auto fail = [&](const std::string& why) {
    ::unlinkat(dir_fd, temp.c_str(), 0);
    return Status::Error(why);
  };
  if (::geteuid() == 0 && ::fchown(out.get(), st.st_uid, st.st_gid) != 0) return fail("chown: " + ErrnoText(errno));
  if (::fchmod(out.get(), st.st_mode & 07777) != 0) return fail("chmod: " + ErrnoText(errno));
  int gz_fd = ::dup(out.get());
  if (gz_fd < 0) return fail("dup: " + ErrnoText(errno));
  gzFile gz = ::gzdopen(gz_fd, "wb6");
  if (gz == nullptr) {
    ::close(gz_fd);
    return fail("gzip: out of memory");
  }
  char buf[65536];
  while (true) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::gzclose(gz);
      return fail("read: " + ErrnoText(errno));
    }
    if (n == 0) break;
    if (::gzwrite(gz, buf, static_cast<unsigned>(n)) != n) {
      int zerr = 0;
      std::string why = ::gzerror(gz, &zerr);
      ::gzclose(gz);
      return fail("write: " + (zerr == Z_ERRNO ? ErrnoText(errno) : why));
    }
  }
  if (::gzclose(gz) != Z_OK) return fail("write: " + ErrnoText(errno));
  if (::fsync(out.get()) != 0) return fail("fsync: " + ErrnoText(errno));
  timespec times[2] = {st.st_atim, st.st_mtim};
  ::futimens(out.get(), times);  // the .gz keeps the log's age, for later older_than checks
  struct stat gz_st;
  if (::fstat(out.get(), &gz_st) != 0) return fail("stat: " + ErrnoText(errno));
  if (::renameat2(dir_fd, temp.c_str(), dir_fd, gz_name.c_str(), RENAME_NOREPLACE) != 0) {
    return fail("rename to " + gz_name + ": " + ErrnoText(errno));
  }
  ::fsync(dir_fd);
  struct stat again;
  if (::fstatat(dir_fd, c.name.c_str(), &again, AT_SYMLINK_NOFOLLOW) != 0 || again.st_ino != c.ino ||
      again.st_dev != c.dev) {
    return Status::Error("changed while compressing; " + gz_name + " kept");
  }
  if (::unlinkat(dir_fd, c.name.c_str(), 0) != 0) return Status::Error("unlink: " + ErrnoText(errno));
  return AllocatedBytes(gz_st);
}

std::string JournalArgs(const CleanupPolicy& policy, std::vector<std::string>& argv) {
  std::string shown;
  if (policy.journal_max_bytes > 0) argv.push_back("--vacuum-size=" + std::to_string(policy.journal_max_bytes));
  if (policy.older_than.count() > 0) {
    argv.push_back("--vacuum-time=" + std::to_string(std::max<int64_t>(1, policy.older_than.count() / 1000)) + "s");
  }
  for (const std::string& a : argv) shown += (shown.empty() ? "" : " ") + a;
  return shown;
}

std::string VacuumJournal(const CleanupPolicy& policy, const CleanupOptions& options) {
  std::vector<std::string> argv = {options.journalctl};
  std::string command = JournalArgs(policy, argv);
  if (argv.size() == 1) return "skipped: needs journal_max_bytes or older_than";
  if (::access(options.journalctl.c_str(), X_OK) != 0) return "skipped: " + options.journalctl + " not found";
  if (options.dry_run) return "would run " + command;
  ExecSpec spec;
  spec.argv = argv;
  spec.timeout = Duration(60000);
  spec.max_output_bytes = 4096;
  Result<ExecResult> r = RunExec(spec);
  if (!r.ok()) return "failed: " + r.status().message();
  std::string text = "ran " + command + ": " + DescribeExecResult(*r);
  // journalctl's last line says how much it freed.
  std::string out = r->output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (size_t nl = out.rfind('\n'); !out.empty()) text += ": " + out.substr(nl == std::string::npos ? 0 : nl + 1);
  return text;
}

}  // namespace

Result<FsUsage> StatFsUsage(const std::string& mount) {
  struct statvfs vfs;
  if (::statvfs(mount.c_str(), &vfs) != 0) return Status::Error("statvfs " + mount + ": " + ErrnoText(errno));
  FsUsage u;
  u.size_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  u.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  return u;
}

Status ValidateCleanupPolicy(const CleanupPolicy& policy, std::string_view data_dir) {
  if (policy.filesystem.empty()) return Status::Error("filesystem is required (a mount point such as /home)");
  if (Result<std::string> fs = NormalizeAbsolute(policy.filesystem); !fs.ok()) {
    return fs.status().WithContext("filesystem");
  }
  if (!(policy.below_free_ratio > 0 && policy.below_free_ratio < 1)) {
    return Status::Error("below must be between 0% and 100%");
  }
  if (!(policy.until_free_ratio > 0 && policy.until_free_ratio <= 1)) {
    return Status::Error("until must be between 0% and 100%");
  }
  if (policy.until_free_ratio <= policy.below_free_ratio) {
    return Status::Error("until (" + FormatPercent(policy.until_free_ratio) + ") must be greater than below (" +
                         FormatPercent(policy.below_free_ratio) + ")");
  }
  if (policy.roots.empty()) return Status::Error("roots must name at least one directory");
  std::string data;
  if (!data_dir.empty()) {
    data = std::filesystem::absolute(std::filesystem::path(data_dir)).lexically_normal().string();
    while (data.size() > 1 && data.back() == '/') data.pop_back();
  }
  for (const std::string& root : policy.roots) {
    Result<std::string> norm = NormalizeAbsolute(root);
    if (!norm.ok()) return norm.status().WithContext("cleanup root");
    if (*norm == "/") return Status::Error("cleanup root \"/\" is not allowed: name the directories to clean");
    if (data.empty()) continue;
    std::error_code ec;
    std::string real_root = std::filesystem::weakly_canonical(*norm, ec).string();
    std::string real_data = std::filesystem::weakly_canonical(data, ec).string();
    for (const auto& [r, d] : {std::pair{*norm, data}, std::pair{real_root, real_data}}) {
      if (r.empty() || d.empty()) continue;
      if (IsWithin(r, d)) return Status::Error("cleanup root \"" + root + "\" is inside vigil's data dir " + data);
      if (IsWithin(d, r)) return Status::Error("cleanup root \"" + root + "\" contains vigil's data dir " + data);
    }
  }
  for (const std::string& glob : policy.match) {
    if (Status s = ValidateGlob(glob); !s.ok()) return s;
  }
  if (policy.keep_newest < 0) return Status::Error("keep_newest must not be negative");
  if (policy.older_than.count() < 0) return Status::Error("older_than must not be negative");
  if (policy.journal_vacuum && policy.journal_max_bytes == 0 && policy.older_than.count() <= 0) {
    return Status::Error("journal_vacuum needs journal_max_bytes or older_than");
  }
  return Status::Ok();
}

bool CleanupDue(const CleanupPolicy& policy, const FsUsage& usage) {
  return usage.FreeRatio() < policy.below_free_ratio;
}

std::string_view CleanupActionName(CleanupAction action) {
  switch (action) {
    case CleanupAction::kDeleted: return "deleted";
    case CleanupAction::kCompressed: return "compressed";
    case CleanupAction::kWouldDelete: return "would delete";
    case CleanupAction::kWouldCompress: return "would compress";
    case CleanupAction::kSkipped: return "skipped";
    case CleanupAction::kFailed: return "failed";
  }
  return "unknown";
}

Result<CleanupReport> RunCleanup(const CleanupPolicy& policy, const CleanupOptions& options) {
  auto read_usage = [&]() -> Result<FsUsage> {
    return options.usage ? options.usage(policy.filesystem) : StatFsUsage(policy.filesystem);
  };
  CleanupReport report;
  report.filesystem = policy.filesystem;
  report.dry_run = options.dry_run;
  report.target_ratio = policy.until_free_ratio;
  Result<FsUsage> usage = read_usage();
  if (!usage.ok()) return usage.status();
  report.free_ratio_before = report.free_ratio_after = usage->FreeRatio();
  FsUsage current = *usage;
  auto reached = [&] { return current.FreeRatio() >= policy.until_free_ratio; };
  if (reached()) {
    report.target_reached = true;
    return report;
  }

  if (policy.journal_vacuum) {
    report.journal_vacuum = VacuumJournal(policy, options);
    if (!options.dry_run) {
      if (Result<FsUsage> u = read_usage(); u.ok()) current = *u;
    }
    report.free_ratio_after = current.FreeRatio();
    if (reached()) {
      report.target_reached = true;
      return report;
    }
  }

  struct stat fs_st;
  if (::stat(policy.filesystem.c_str(), &fs_st) != 0) {
    report.problems.push_back("filesystem " + policy.filesystem + ": " + ErrnoText(errno));
    return report;
  }
  Walk walk;
  std::vector<UniqueFd> root_fds;
  for (size_t i = 0; i < policy.roots.size(); ++i) {
    const std::string& root = policy.roots[i];
    // The root's own last component must not be a symlink either; its parents are the operator's choice.
    root_fds.emplace_back(::open(root.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_fds.back().valid()) {
      int err = errno;
      report.problems.push_back("root " + root + ": " +
                                (err == ENOTDIR || err == ELOOP ? "a symlink or not a directory" : ErrnoText(err)));
      continue;
    }
    struct stat root_st;
    if (::fstat(root_fds.back().get(), &root_st) != 0 || root_st.st_dev != fs_st.st_dev) {
      report.problems.push_back("root " + root + " is not on filesystem " + policy.filesystem);
      root_fds.back().reset();
      continue;
    }
    WalkRoot(i, root, root_fds.back().get(), root_st.st_dev, policy, options, walk);
  }
  report.walk_truncated = walk.truncated;
  report.entries = std::move(walk.skipped);

  // keep_newest, per directory, over every matching file regardless of age.
  std::map<std::pair<size_t, std::string>, std::vector<Candidate*>> by_dir;
  for (Candidate& c : walk.files) by_dir[{c.root, c.rel_dir}].push_back(&c);
  for (auto& [dir, files] : by_dir) {
    std::sort(files.begin(), files.end(), [](const Candidate* a, const Candidate* b) {
      return a->mtime != b->mtime ? a->mtime > b->mtime : a->name > b->name;
    });
    for (size_t i = 0; i < files.size(); ++i) {
      Candidate& c = *files[i];
      if (policy.keep_newest > 0 && !c.directory_complete) {
        c.skip = "directory too large to tell the newest files";
      } else if (i < static_cast<size_t>(policy.keep_newest)) {
        c.skip = "kept newest";
      }
    }
  }
  std::set<std::pair<dev_t, ino_t>> wanted;
  for (Candidate& c : walk.files) {
    if (!c.skip.empty()) continue;
    if (options.now - c.mtime < policy.older_than.count()) {
      c.skip = "too new";
    } else if (policy.compress && IsCompressedName(c.name)) {
      c.skip = "already compressed";
    } else if (c.nlink > 1) {
      c.skip = "has " + std::to_string(c.nlink) + " hard links";
    } else if (!policy.delete_open_files) {
      wanted.insert({c.dev, c.ino});
    }
  }
  for (const auto& [key, pid] : FindOpenFiles(options.proc_root, wanted)) {
    for (Candidate& c : walk.files) {
      if (c.skip.empty() && c.dev == key.first && c.ino == key.second) c.skip = "open by pid " + std::to_string(pid);
    }
  }

  std::sort(walk.files.begin(), walk.files.end(), [&](const Candidate& a, const Candidate& b) {
    if (policy.order == CleanupPolicy::Order::kLargestFirst && a.size != b.size) return a.size > b.size;
    if (a.mtime != b.mtime) return a.mtime < b.mtime;
    return std::tie(a.root, a.rel_dir, a.name) < std::tie(b.root, b.rel_dir, b.name);
  });

  uint64_t projected_free = current.free_bytes;
  for (const Candidate& c : walk.files) {
    if (reached()) {
      if (c.skip.empty()) ++report.not_needed_files;
      continue;
    }
    CleanupEntry entry{
        JoinPath(policy.roots[c.root], c.rel_dir, c.name), CleanupAction::kSkipped, c.skip, c.size, 0, c.mtime};
    if (!c.skip.empty()) {
      report.entries.push_back(std::move(entry));
      continue;
    }
    if (options.dry_run) {
      entry.action = policy.compress ? CleanupAction::kWouldCompress : CleanupAction::kWouldDelete;
      // Compression frees an unknown share; the projection counts it all, as deletion would.
      entry.freed_bytes = c.allocated;
      projected_free = std::min(current.size_bytes, projected_free + c.allocated);
      current.free_bytes = projected_free;
      ++report.acted_files;
      report.freed_bytes += entry.freed_bytes;
      report.entries.push_back(std::move(entry));
      continue;
    }
    // Re-resolve the parent beneath the root and re-check the file just before acting.
    int opened = OpenBeneath(root_fds[c.root].get(), c.rel_dir, O_RDONLY | O_DIRECTORY, options.force_fallback_resolve);
    UniqueFd dir_fd(opened >= 0 ? opened : -1);
    struct stat st;
    if (opened < 0) {
      entry.reason = "directory: " + OpenFailureReason(-opened);
    } else if (::fstatat(dir_fd.get(), c.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
               st.st_dev != c.dev || st.st_ino != c.ino) {
      entry.reason = "changed since the scan";
    } else if (policy.compress) {
      Result<uint64_t> gz = CompressFile(dir_fd.get(), c);
      if (gz.ok()) {
        entry.action = CleanupAction::kCompressed;
        entry.freed_bytes = c.allocated > *gz ? c.allocated - *gz : 0;
      } else {
        entry.action = CleanupAction::kFailed;
        entry.reason = gz.status().message();
      }
    } else if (::unlinkat(dir_fd.get(), c.name.c_str(), 0) != 0) {
      entry.action = CleanupAction::kFailed;
      entry.reason = "unlink: " + ErrnoText(errno);
    } else {
      entry.action = CleanupAction::kDeleted;
      entry.freed_bytes = c.allocated;
    }
    if (entry.action == CleanupAction::kFailed) ++report.failed_files;
    if (entry.action == CleanupAction::kDeleted || entry.action == CleanupAction::kCompressed) {
      ++report.acted_files;
      report.freed_bytes += entry.freed_bytes;
      LogInfo("recovery cleanup", {{"action", std::string(CleanupActionName(entry.action))},
                                   {"path", entry.path},
                                   {"bytes", std::to_string(entry.size_bytes)}});
      if (Result<FsUsage> u = read_usage(); u.ok()) {
        current = *u;
      } else {
        report.problems.push_back(u.status().message());
        current.free_bytes = std::min(current.size_bytes, current.free_bytes + entry.freed_bytes);
      }
    }
    report.entries.push_back(std::move(entry));
  }
  report.free_ratio_after = current.FreeRatio();
  report.target_reached = reached();
  return report;
}

std::string FormatCleanupReport(const CleanupReport& report, size_t max_bytes) {
  std::string text = std::string(report.dry_run ? "dry run: cleanup of " : "cleanup of ") + report.filesystem + ": " +
                     (report.dry_run ? "would free " : "freed ") + FormatBytes(report.freed_bytes) + " from " +
                     std::to_string(report.acted_files) + " files, free " + FormatPercent(report.free_ratio_before) +
                     " -> " + FormatPercent(report.free_ratio_after) + " (target " +
                     FormatPercent(report.target_ratio) + (report.target_reached ? ", reached" : ", not reached") + ")";
  if (report.failed_files > 0) text += ", " + std::to_string(report.failed_files) + " failed";
  if (report.walk_truncated) text += ", walk stopped at the file limit";
  text += "\n";
  if (!report.journal_vacuum.empty()) text += "journal: " + report.journal_vacuum + "\n";
  for (const std::string& p : report.problems) text += "problem: " + p + "\n";
  if (text.size() > max_bytes) {
    text.resize(max_bytes > 4 ? max_bytes - 4 : 0);
    return text + "...\n";
  }
  size_t shown = 0;
  for (const CleanupEntry& e : report.entries) {
    std::string line = std::string(CleanupActionName(e.action)) + " " + e.path;
    if (e.action != CleanupAction::kSkipped || e.size_bytes > 0) line += " (" + FormatBytes(e.size_bytes) + ")";
    if (!e.reason.empty()) line += ": " + e.reason;
    line += "\n";
    // Leave room for the "... and N more" line.
    if (text.size() + line.size() + 40 > max_bytes) break;
    text += line;
    ++shown;
  }
  if (shown < report.entries.size()) {
    text += "... and " + std::to_string(report.entries.size() - shown) + " more\n";
  }
  if (text.size() > max_bytes) text.resize(max_bytes);
  return text;
}

}  // namespace vigil::recovery
