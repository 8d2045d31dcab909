#include "tsdb/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "base/file.h"
#include "base/log.h"
#include "tsdb/encoding.h"

namespace vigil::tsdb {
namespace {

constexpr size_t kHeaderBytes = kWalRecordHeaderBytes;
constexpr uint32_t kMaxRecordBytes = kWalMaxRecordBytes;

std::string SegmentName(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08d", n);
  return buf;
}

uint32_t Checksum(uint8_t type, std::string_view payload) {
  char t = static_cast<char>(type);
  return Crc32({std::string_view(&t, 1), payload});
}

}  // namespace

void ListWalFiles(const std::string& dir, std::vector<int>* segments, std::vector<int>* checkpoints) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() == 8 && std::all_of(name.begin(), name.end(), ::isdigit)) {
      segments->push_back(std::stoi(name));
    } else if (name.rfind("checkpoint.", 0) == 0 && name.size() == 19 &&
               std::all_of(name.begin() + 11, name.end(), ::isdigit)) {
      checkpoints->push_back(std::stoi(name.substr(11)));
    }
  }
  ::closedir(d);
  std::sort(segments->begin(), segments->end());
  std::sort(checkpoints->begin(), checkpoints->end());
}

std::string WalSegmentPath(const std::string& dir, int n) { return dir + "/" + SegmentName(n); }
std::string WalCheckpointPath(const std::string& dir, int n) { return dir + "/checkpoint." + SegmentName(n); }

void EncodeWalSamples(const std::vector<WalSample>& samples, std::string* out) {
  PutUvarint(out, samples.size());
  SeriesRef prev_ref = 0;
  TimestampMs prev_t = 0;
  for (const WalSample& s : samples) {
    PutVarint(out, static_cast<int64_t>(s.ref - prev_ref));
    PutVarint(out, static_cast<int64_t>(static_cast<uint64_t>(s.t) - static_cast<uint64_t>(prev_t)));
    PutDouble(out, s.v);
    prev_ref = s.ref;
    prev_t = s.t;
  }
}

bool DecodeWalSamples(std::string_view payload, std::vector<WalSample>* out) {
  Decoder d(payload);
  uint64_t n = d.Uvarint();
  if (n > payload.size()) return false;
  SeriesRef ref = 0;
  TimestampMs t = 0;
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    ref += static_cast<uint64_t>(d.Varint());
    t = static_cast<TimestampMs>(static_cast<uint64_t>(t) + static_cast<uint64_t>(d.Varint()));
    double v = d.Double();
    out->push_back({ref, t, v});
  }
  return d.ok();
}

bool DecodeWalSeries(std::string_view payload, const std::function<void(SeriesRef, Labels)>& fn) {
  Decoder d(payload);
  while (!d.done() && d.ok()) {
    SeriesRef ref = d.Uvarint();
    uint64_t n = d.Uvarint();
    if (n > d.remaining()) return false;
    std::vector<Label> labels;
    for (uint64_t i = 0; i < n; ++i) {
      std::string name(d.String());
      std::string value(d.String());
      labels.push_back({std::move(name), std::move(value)});
    }
    if (d.ok()) fn(ref, Labels::FromUnsorted(std::move(labels)));
  }
  return d.ok();
}

std::string FrameWalRecord(WalRecordType type, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderBytes + payload.size());
  PutFixed32(&out, static_cast<uint32_t>(payload.size()));
  PutFixed32(&out, Checksum(static_cast<uint8_t>(type), payload));
  out.push_back(static_cast<char>(type));
  out.append(payload);
  return out;
}

size_t ParseWalRecords(std::string_view data, const std::function<void(WalRecordType, std::string_view)>& fn,
                       std::string* error) {
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < kHeaderBytes) {
      *error = "torn record header";
      return pos;
    }
    uint32_t len = GetFixed32(data.data() + pos);
    uint32_t crc = GetFixed32(data.data() + pos + 4);
    uint8_t type = static_cast<uint8_t>(data[pos + 8]);
    if (len > kMaxRecordBytes || len > data.size() - pos - kHeaderBytes) {
      *error = len > kMaxRecordBytes ? "record length out of range" : "torn record (file ends inside it)";
      return pos;
    }
    std::string_view payload = data.substr(pos + kHeaderBytes, len);
    if (Checksum(type, payload) != crc) {
      *error = "checksum mismatch";
      return pos;
    }
    if (type != static_cast<uint8_t>(WalRecordType::kSeries) && type != static_cast<uint8_t>(WalRecordType::kSamples)) {
      *error = "unknown record type " + std::to_string(type);
      return pos;
    }
    fn(static_cast<WalRecordType>(type), payload);
    pos += kHeaderBytes + len;
  }
  return pos;
}

Result<std::unique_ptr<Wal>> Wal::Open(const std::string& dir, uint64_t segment_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Error("create " + dir + ": " + ec.message());
  std::vector<int> segments, checkpoints;
  ListWalFiles(dir, &segments, &checkpoints);
  int next = 1;
  if (!segments.empty()) next = segments.back() + 1;
  if (!checkpoints.empty()) next = std::max(next, checkpoints.back() + 1);
  std::unique_ptr<Wal> wal(new Wal(dir, segment_bytes));
  if (Status s = wal->OpenSegment(next); !s.ok()) return s;
  return wal;
}

Wal::~Wal() {
  std::lock_guard lock(mu_);
  if (fd_ >= 0) {
    if (dirty_) ::fdatasync(fd_);
    ::close(fd_);
  }
}

Status Wal::OpenSegment(int n) {
  std::string path = dir_ + "/" + SegmentName(n);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("open WAL segment " + path + ": " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  if (fd_ >= 0) {
    if (dirty_) ::fdatasync(fd_);
    ::close(fd_);
  }
  fd_ = fd;
  segment_ = n;
  offset_ = static_cast<uint64_t>(st.st_size);
  dirty_ = false;
  return Status::Ok();
}

Status Wal::Log(WalRecordType type, std::string_view payload) {
  std::string frame = FrameWalRecord(type, payload);
  std::lock_guard lock(mu_);
  if (fd_ < 0 || (offset_ > 0 && offset_ + frame.size() > segment_bytes_)) {
    if (Status s = OpenSegment(segment_ + 1); !s.ok()) return s;
  }
  size_t done = 0;
  while (done < frame.size()) {
    ssize_t n = ::write(fd_, frame.data() + done, frame.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      // Leave no partial record: readers would stop there and lose what follows.
      if (::ftruncate(fd_, static_cast<off_t>(offset_)) != 0) {
        ::close(fd_);
        fd_ = -1;  // the next Log starts a fresh segment
      }
      return Status::Error("write WAL segment " + dir_ + "/" + SegmentName(segment_) + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  offset_ += frame.size();
  dirty_ = true;
  return Status::Ok();
}

Status Wal::Sync() {
  std::lock_guard lock(mu_);
  if (fd_ < 0 || !dirty_) return Status::Ok();
  if (::fdatasync(fd_) != 0) {
    return Status::Error("fdatasync WAL segment " + dir_ + "/" + SegmentName(segment_) + ": " + std::strerror(errno));
  }
  dirty_ = false;
  return Status::Ok();
}

Result<int> Wal::Cut() {
  std::lock_guard lock(mu_);
  int closed = segment_;
  if (Status s = OpenSegment(segment_ + 1); !s.ok()) return s;
  return closed;
}

int Wal::current_segment() const {
  std::lock_guard lock(mu_);
  return segment_;
}

Status Wal::Checkpoint(int last_segment, const Filter& keep) {
  std::vector<int> segments, checkpoints;
  ListWalFiles(dir_, &segments, &checkpoints);
  std::string out;
  auto filter = [&](WalRecordType type, std::string_view payload) {
    std::string rewritten;
    if (keep(type, payload, &rewritten)) out += FrameWalRecord(type, rewritten);
  };
  std::string err;
  if (!checkpoints.empty() && checkpoints.back() <= last_segment) {
    Result<std::string> data = ReadFile(dir_ + "/checkpoint." + SegmentName(checkpoints.back()), 4ULL << 30);
    if (data.ok()) ParseWalRecords(*data, filter, &err);
  }
  for (int n : segments) {
    if (n > last_segment) break;
    if (!checkpoints.empty() && n <= checkpoints.back()) continue;
    Result<std::string> data = ReadFile(dir_ + "/" + SegmentName(n), 4ULL << 30);
    if (!data.ok()) return data.status();
    ParseWalRecords(*data, filter, &err);
  }
  std::string name = dir_ + "/checkpoint." + SegmentName(last_segment);
  std::string tmp = name + ".tmp";
  if (Status s = WriteFileSynced(tmp, out); !s.ok()) return s;
  if (::rename(tmp.c_str(), name.c_str()) != 0) return Status::Error("rename " + tmp + ": " + std::strerror(errno));
  if (Status s = SyncDir(dir_); !s.ok()) return s;
  // Only now is it safe to let the covered segments and older checkpoints go.
  for (int n : segments) {
    if (n <= last_segment) ::unlink((dir_ + "/" + SegmentName(n)).c_str());
  }
  for (int n : checkpoints) {
    if (n < last_segment) ::unlink((dir_ + "/checkpoint." + SegmentName(n)).c_str());
  }
  return SyncDir(dir_);
}

namespace {

// Replays one file; a bad record ends it (logged, and cut off when `repair`).
Status ReplayFile(const std::string& path, const std::function<void(WalRecordType, std::string_view)>& fn,
                  WalReplayStats* stats, bool repair) {
  Result<std::string> data = ReadFile(path, 4ULL << 30);
  if (!data.ok()) return data.status();
  std::string err;
  size_t good = ParseWalRecords(
      *data,
      [&](WalRecordType t, std::string_view p) {
        ++stats->records;
        fn(t, p);
      },
      &err);
  if (good == data->size()) return Status::Ok();
  ++stats->corrupt_segments;
  // A reader beside a running vigil often sees a record being written: that is no news.
  Log(repair ? LogLevel::kWarn : LogLevel::kDebug,
      repair ? "WAL replay stopped at the last good record of a file; cutting the bad tail"
             : "WAL replay stopped at the last good record of a file",
      {{"file", path},
       {"offset", std::to_string(good)},
       {"bytes_dropped", std::to_string(data->size() - good)},
       {"err", err}});
  if (repair && ::truncate(path.c_str(), static_cast<off_t>(good)) != 0) {
    LogWarn("could not cut the WAL file", {{"file", path}, {"err", std::strerror(errno)}});
  }
  return Status::Ok();
}

}  // namespace

Status ReplayWal(const std::string& dir, const std::function<void(WalRecordType, std::string_view)>& fn,
                 WalReplayStats* stats, bool repair) {
  std::vector<int> segments, checkpoints;
  ListWalFiles(dir, &segments, &checkpoints);
  int after = 0;
  if (!checkpoints.empty()) {
    after = checkpoints.back();
    stats->checkpoint = after;
    if (Status s = ReplayFile(dir + "/checkpoint." + SegmentName(after), fn, stats, repair); !s.ok()) return s;
  }
  for (int n : segments) {
    if (n <= after) continue;
    ++stats->segments;
    if (Status s = ReplayFile(dir + "/" + SegmentName(n), fn, stats, repair); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace vigil::tsdb
