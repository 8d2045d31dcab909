#include "collect/datadir/datadir_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>
#include <utility>

namespace vigil::collect {
namespace {

// Deeper trees are not chain data; the limit also bounds the open descriptors.
constexpr int kMaxDepth = 128;

struct Walk {
  dev_t dev = 0;
  size_t max_entries = 0;
  std::chrono::steady_clock::time_point deadline;  // epoch: none
  uint64_t bytes = 0, files = 0, entries = 0, unreadable = 0;
  std::string first_unreadable;              // "path: reason"
  std::string stopped;                       // why the walk gave up, or ""
  std::set<std::pair<dev_t, ino_t>> linked;  // inodes with several names, counted once

  void Unreadable(const std::string& path, const std::string& why) {
    if (unreadable++ == 0) first_unreadable = path + ": " + why;
  }
  void Unreadable(const std::string& path, int err) { Unreadable(path, std::strerror(err)); }

  bool Stop() {
    if (!stopped.empty()) return true;
    if (entries > max_entries) {
      stopped = "more than " + std::to_string(max_entries) + " entries";
    } else if ((entries & 1023) == 0 && deadline != std::chrono::steady_clock::time_point{} &&
               std::chrono::steady_clock::now() > deadline) {
      stopped = "timed out after " + std::to_string(entries) + " entries";
    }
    return !stopped.empty();
  }

  void Count(const struct stat& st) {
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && !linked.insert({st.st_dev, st.st_ino}).second) return;
    bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISREG(st.st_mode)) ++files;
  }

  // Counts what is inside the open directory `fd` (which it closes).
  void Dir(int fd, const std::string& path, int depth) {
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      Unreadable(path, errno);
      ::close(fd);
      return;
    }
    while (!Stop()) {
      errno = 0;
      struct dirent* e = ::readdir(dir);
      if (e == nullptr) {
        if (errno != 0) Unreadable(path, errno);
        break;
      }
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      ++entries;
      std::string child = path + "/" + e->d_name;
      struct stat st {};
      if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) Unreadable(child, errno);  // ENOENT: deleted while we walked
        continue;
      }
      if (st.st_dev != dev) continue;  // another filesystem mounted inside: not this one's data
      Count(st);
      if (!S_ISDIR(st.st_mode)) continue;
      if (depth >= kMaxDepth) {
        Unreadable(child, "deeper than " + std::to_string(kMaxDepth) + " levels");
        continue;
      }
      int sub = ::openat(::dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        if (errno != ENOENT) Unreadable(child, errno);
        continue;
      }
      Dir(sub, child, depth + 1);
    }
    ::closedir(dir);
  }
};

// The mountpoint holding `real_path` (already resolved): the highest
// ancestor on the same device.
std::string MountpointOf(const std::string& real_path, dev_t dev) {
  std::string p = real_path;
  while (p != "/") {
    size_t slash = p.rfind('/');
    std::string parent = slash == 0 ? "/" : p.substr(0, slash);
    struct stat st {};
    if (::stat(parent.c_str(), &st) != 0 || st.st_dev != dev) return p;
    p = parent;
  }
  return "/";
}

class DataDirCollector : public Collector {
 public:
  explicit DataDirCollector(DataDirCollectorOptions o)
      : o_(std::move(o)), name_("data_dir/" + o_.service + ":" + o_.path) {}
  std::string_view name() const override { return name_; }

  Status Collect(const CollectContext& ctx, MetricBatch& out) override {
    char resolved[PATH_MAX];
    if (::realpath(o_.path.c_str(), resolved) == nullptr) {
      return Status::Error("data_dir " + o_.path + ": " + std::strerror(errno));
    }
    int fd = ::open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      int err = errno;
      if (fd >= 0) ::close(fd);
      return Status::Error("data_dir " + o_.path + ": " + std::strerror(err));
    }
    struct statvfs vfs {};
    if (::fstatvfs(fd, &vfs) != 0) {
      int err = errno;
      ::close(fd);
      return Status::Error("data_dir " + o_.path + ": statvfs: " + std::strerror(err));
    }
    Walk w;
    w.dev = st.st_dev;
    w.max_entries = o_.max_entries;
    w.deadline = ctx.deadline;
    w.Count(st);
    w.Dir(fd, resolved, 0);
    if (!w.stopped.empty()) {
      // A partial size would read as a deletion and mislead the forecast.
      return Status::Error("data_dir " + o_.path + ": walk stopped: " + w.stopped);
    }
    Labels l{{"service", o_.service}, {"path", o_.path}, {"mountpoint", MountpointOf(resolved, st.st_dev)}};
    out.AddGauge("vigil_service_data_dir_bytes",
                 "Disk space the service's data directory takes (allocated blocks, as du counts them).", l,
                 static_cast<double>(w.bytes));
    out.AddGauge("vigil_service_data_dir_files", "Regular files in the service's data directory.", l,
                 static_cast<double>(w.files));
    out.AddGauge("vigil_service_data_dir_filesystem_avail_bytes",
                 "Space left to unprivileged users on the data directory's filesystem.", l,
                 static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize));
    out.AddGauge("vigil_service_data_dir_unreadable_entries",
                 "Entries under the data directory that could not be read (not counted in its size).", l,
                 static_cast<double>(w.unreadable));
    if (w.unreadable > 0) {
      out.ReportError("unreadable", std::to_string(w.unreadable) + " entries not counted, first " + w.first_unreadable,
                      o_.path);
    }
    return Status::Ok();
  }

 private:
  DataDirCollectorOptions o_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Collector> NewDataDirCollector(DataDirCollectorOptions options) {
  return std::make_unique<DataDirCollector>(std::move(options));
}

}  // namespace vigil::collect
