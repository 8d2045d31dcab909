#include "logs/file_follower.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vigil::logs {
namespace {

constexpr size_t kChunkBytes = 64 << 10;

std::string Reason(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR: return "not_found";
    case EACCES:
    case EPERM: return "permission_denied";
    default: return "open_failed";
  }
}

}  // namespace

struct FileFollower::OpenFile {
  int fd = -1;
  uint64_t dev = 0, ino = 0;
  uint64_t offset = 0;       // read up to here
  uint64_t committed = 0;    // just after the last complete line
  std::string partial;       // the start of the pending line, at most max_line_bytes + 1 bytes
  uint64_t partial_len = 0;  // the pending line's full length so far
  uint32_t fingerprint_len = 0;
  uint64_t fingerprint = 0;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

FileFollower::FileFollower(std::string path, size_t max_line_bytes)
    : path_(std::move(path)), max_line_bytes_(std::max<size_t>(max_line_bytes, 1)) {}

FileFollower::~FileFollower() = default;

void FileFollower::Restore(const FilePosition& saved) { saved_ = saved; }

std::optional<FilePosition> FileFollower::position() const {
  if (!current_) return saved_;
  return FilePosition{current_->dev, current_->ino, current_->committed, current_->fingerprint_len,
                      current_->fingerprint};
}

uint64_t FileFollower::unread_bytes() const { return unread_; }

// Emits one line; `len` is its full length (the view holds at most max+1 bytes of it).
static void EmitLine(std::string_view held, uint64_t len, size_t max, const LineFn& on_line) {
  if (held.size() == len && !held.empty() && held.back() == '\r') {
    held.remove_suffix(1);
    --len;
  }
  bool truncated = len > max;
  on_line(held.substr(0, std::min<size_t>(held.size(), max)), truncated);
}

bool FileFollower::ReadAvailable(OpenFile& f, uint64_t size, size_t& budget,
                                 std::chrono::steady_clock::time_point deadline, const LineFn& on_line,
                                 PollOutcome& out) {
  chunk_.resize(kChunkBytes);
  while (f.offset < size && budget > 0 && std::chrono::steady_clock::now() < deadline) {
    size_t want = static_cast<size_t>(std::min<uint64_t>({kChunkBytes, budget, size - f.offset}));
    ssize_t n = ::pread(f.fd, chunk_.data(), want, static_cast<off_t>(f.offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      out.error = "read_failed";
      out.detail = "read " + path_ + ": " + std::strerror(errno);
      return false;
    }
    if (n == 0) break;  // shrank since the fstat; the next poll sees it
    const char* buf = chunk_.data();
    const char* end = buf + n;
    const char* p = buf;
    while (p < end) {
      // NULs before a line are the hole a writer without O_APPEND leaves after
      // copytruncate (it goes on writing at its old offset); they are skipped
      // so the first line after the hole is matched.
      if (f.partial_len == 0) {
        while (p < end && *p == '\0') ++p;
        if (p == end) break;
      }
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      size_t seg = static_cast<size_t>((nl != nullptr ? nl : end) - p);
      if (nl != nullptr && f.partial_len == 0) {
        EmitLine(std::string_view(p, std::min(seg, max_line_bytes_ + 1)), seg, max_line_bytes_, on_line);
        out.bytes += seg + 1;
      } else {
        size_t room = max_line_bytes_ + 1 - f.partial.size();
        f.partial.append(p, std::min(seg, room));
        f.partial_len += seg;
        if (nl != nullptr) {
          EmitLine(f.partial, f.partial_len, max_line_bytes_, on_line);
          out.bytes += f.partial_len + 1;
          f.partial.clear();
          f.partial_len = 0;
        }
      }
      if (nl != nullptr) {
        f.committed = f.offset + static_cast<uint64_t>(nl - buf) + 1;
        p = nl + 1;
      } else {
        p = end;
      }
    }
    f.offset += static_cast<uint64_t>(n);
    budget -= static_cast<size_t>(n);
  }
  if (f.offset < size) out.more = true;
  return true;
}

void FileFollower::FlushPartial(OpenFile& f, const LineFn& on_line) {
  if (f.partial_len > 0) EmitLine(f.partial, f.partial_len, max_line_bytes_, on_line);
  f.partial.clear();
  f.partial_len = 0;
  f.committed = f.offset;
}

void FileFollower::Rewind(OpenFile& f, const LineFn& on_line) {
  FlushPartial(f, on_line);
  f.offset = f.committed = 0;
  f.fingerprint_len = 0;
  f.fingerprint = 0;
}

bool FileFollower::FingerprintMatches(OpenFile& f, uint64_t size) {
  if (f.fingerprint_len == 0) return true;
  if (size < f.fingerprint_len) return false;
  std::string head(f.fingerprint_len, '\0');
  ssize_t n = ::pread(f.fd, head.data(), head.size(), 0);
  // A read error is left to the read that follows to report.
  if (n < 0) return true;
  return static_cast<size_t>(n) == head.size() && Fingerprint(head) == f.fingerprint;
}

void FileFollower::UpdateFingerprint(OpenFile& f, uint64_t size) {
  if (f.fingerprint_len >= kFingerprintBytes || size <= f.fingerprint_len) return;
  std::string head(static_cast<size_t>(std::min<uint64_t>(size, kFingerprintBytes)), '\0');
  ssize_t n = ::pread(f.fd, head.data(), head.size(), 0);
  if (n <= 0) return;
  head.resize(static_cast<size_t>(n));
  f.fingerprint_len = static_cast<uint32_t>(n);
  f.fingerprint = Fingerprint(head);
}

PollOutcome FileFollower::Poll(size_t max_bytes, std::chrono::steady_clock::time_point deadline,
                               const LineFn& on_line) {
  PollOutcome out;
  size_t budget = max_bytes;
  struct stat st;

  // The file rotated away comes first: its lines are older. It is let go
  // after a poll that found nothing new in it, so a writer that reopens its
  // log a little after the rename loses nothing.
  if (previous_) {
    uint64_t before = out.bytes;
    bool ok = ::fstat(previous_->fd, &st) == 0 &&
              ReadAvailable(*previous_, static_cast<uint64_t>(st.st_size), budget, deadline, on_line, out);
    if (!ok || (out.bytes == before && !out.more)) {
      FlushPartial(*previous_, on_line);
      previous_.reset();
    }
    out.error.clear();
    out.detail.clear();
  }

  auto retire_current = [&] {
    if (::fstat(current_->fd, &st) == 0) {
      ReadAvailable(*current_, static_cast<uint64_t>(st.st_size), budget, deadline, on_line, out);
    }
    if (previous_) FlushPartial(*previous_, on_line);
    previous_ = std::move(current_);
  };

  if (::stat(path_.c_str(), &st) != 0) {
    int err = errno;
    // Renamed away with no successor yet, or deleted: keep what its writer still appends.
    if (current_) retire_current();
    unread_ = 0;
    out.error = Reason(err);
    out.detail = "stat " + path_ + ": " + std::strerror(err);
    return out;
  }
  if (!S_ISREG(st.st_mode)) {
    if (current_) retire_current();
    unread_ = 0;
    out.error = "not_regular_file";
    out.detail = path_ + " is not a regular file";
    return out;
  }
  if (current_ &&
      (static_cast<uint64_t>(st.st_dev) != current_->dev || static_cast<uint64_t>(st.st_ino) != current_->ino)) {
    retire_current();
    ++out.rotations;
  }
  if (!current_) {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
      int err = errno;
      out.error = Reason(err);
      out.detail = "open " + path_ + ": " + std::strerror(err);
      return out;
    }
    auto f = std::make_unique<OpenFile>();
    f->fd = fd;
    if (::fstat(fd, &st) != 0) {
      out.error = "read_failed";
      out.detail = "fstat " + path_ + ": " + std::strerror(errno);
      return out;
    }
    f->dev = static_cast<uint64_t>(st.st_dev);
    f->ino = static_cast<uint64_t>(st.st_ino);
    if (saved_) {
      uint64_t size = static_cast<uint64_t>(st.st_size);
      // Device numbers of LVM and btrfs volumes may change across reboots; the
      // same inode with the same first bytes is taken as the same file then.
      bool same_file = saved_->ino == f->ino && (saved_->dev == f->dev || saved_->fingerprint_len > 0);
      if (!same_file) {
        ++out.rotations;  // rotated while nobody watched
      } else {
        f->fingerprint_len = saved_->fingerprint_len;
        f->fingerprint = saved_->fingerprint;
        if (size >= saved_->offset && FingerprintMatches(*f, size)) {
          f->offset = f->committed = saved_->offset;
        } else {
          f->fingerprint_len = 0;
          ++out.truncations;
        }
      }
      saved_.reset();
    }
    current_ = std::move(f);
  }

  if (::fstat(current_->fd, &st) != 0) {
    out.error = "read_failed";
    out.detail = "fstat " + path_ + ": " + std::strerror(errno);
    return out;
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < current_->offset || !FingerprintMatches(*current_, size)) {
    Rewind(*current_, on_line);
    ++out.truncations;
  }
  UpdateFingerprint(*current_, size);
  if (!ReadAvailable(*current_, size, budget, deadline, on_line, out)) return out;
  unread_ = size - current_->offset;
  out.readable = true;
  return out;
}

}  // namespace vigil::logs
