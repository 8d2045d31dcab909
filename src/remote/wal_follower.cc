#include "remote/wal_follower.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "base/log.h"
#include "tsdb/encoding.h"

namespace vigil::remote {

namespace {

constexpr size_t kHeaderBytes = tsdb::kWalRecordHeaderBytes;
constexpr uint32_t kMaxRecordBytes = tsdb::kWalMaxRecordBytes;
constexpr uint64_t kWholeFile = std::numeric_limits<uint64_t>::max();

bool PreadFull(int fd, char* buf, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

enum class RecordRead { kOk, kShort, kCorrupt };

// Reads the record at `offset` of `fd` into a framed string and hands it to
// `fn`; kShort when the file does not (yet) hold all of it.
RecordRead ReadRecord(int fd, uint64_t offset, uint64_t* next,
                      const std::function<void(tsdb::WalRecordType, std::string_view)>& fn) {
  char header[kHeaderBytes];
  if (!PreadFull(fd, header, kHeaderBytes, offset)) return RecordRead::kShort;
  uint32_t length = tsdb::GetFixed32(header);
  if (length > kMaxRecordBytes) return RecordRead::kCorrupt;
  std::string frame(kHeaderBytes + length, '\0');
  std::memcpy(frame.data(), header, kHeaderBytes);
  if (length > 0 && !PreadFull(fd, frame.data() + kHeaderBytes, length, offset + kHeaderBytes)) {
    return RecordRead::kShort;
  }
  std::string error;
  tsdb::ParseWalRecords(frame, fn, &error);
  if (!error.empty()) return RecordRead::kCorrupt;
  *next = offset + frame.size();
  return RecordRead::kOk;
}

}  // namespace

int WalFollower::NextSegment(int n) const {
  std::vector<int> segments, checkpoints;
  tsdb::ListWalFiles(dir_, &segments, &checkpoints);
  auto it = std::upper_bound(segments.begin(), segments.end(), n);
  return it == segments.end() ? -1 : *it;
}

void WalFollower::ReadSeriesFrom(const std::string& path, uint64_t stop) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // gone meanwhile: its series are in the newer checkpoint
  uint64_t offset = 0;
  while (offset < stop) {
    RecordRead r = ReadRecord(fd, offset, &offset, [&](tsdb::WalRecordType type, std::string_view payload) {
      if (type != tsdb::WalRecordType::kSeries) return;
      tsdb::DecodeWalSeries(payload, [&](tsdb::SeriesRef ref, Labels l) { labels_[ref] = std::move(l); });
    });
    if (r != RecordRead::kOk) break;
  }
  ::close(fd);
}

Status WalFollower::Seek(WalPosition from, int* segments_lost) {
  if (segments_lost) *segments_lost = 0;
  labels_.clear();
  std::vector<int> segments, checkpoints;
  tsdb::ListWalFiles(dir_, &segments, &checkpoints);
  int checkpoint = checkpoints.empty() ? -1 : checkpoints.back();
  std::erase_if(segments, [&](int n) { return n <= checkpoint; });  // folded in, about to go
  if (segments.empty()) {
    // Nothing written yet: the first segment, whenever it comes, is read from its start.
    if (checkpoint >= 0) ReadSeriesFrom(tsdb::WalCheckpointPath(dir_, checkpoint), kWholeFile);
    pos_ = {std::max(0, checkpoint), 0};
    return Status::Ok();
  }
  if (from.segment < segments.front()) {
    if (segments_lost && from.segment > 0) *segments_lost = segments.front() - from.segment;
    from = {segments.front(), 0};
  } else if (from.segment > segments.back()) {
    // A position from a WAL that has since been replaced: follow the new one from its end.
    from = {segments.back(), FileSize(tsdb::WalSegmentPath(dir_, segments.back()))};
  }
  if (checkpoint >= 0) ReadSeriesFrom(tsdb::WalCheckpointPath(dir_, checkpoint), kWholeFile);
  for (int n : segments) {
    if (n > from.segment) break;
    ReadSeriesFrom(tsdb::WalSegmentPath(dir_, n), n == from.segment ? from.offset : kWholeFile);
  }
  pos_ = from;
  return Status::Ok();
}

Status WalFollower::SeekToEnd() {
  std::vector<int> segments, checkpoints;
  tsdb::ListWalFiles(dir_, &segments, &checkpoints);
  if (segments.empty()) return Seek({0, 0});
  return Seek({segments.back(), FileSize(tsdb::WalSegmentPath(dir_, segments.back()))});
}

Status WalFollower::Read(size_t max_samples, std::vector<tsdb::WalSample>* out, bool* at_end) {
  *at_end = false;
  const size_t start = out->size();
  auto on_record = [&](tsdb::WalRecordType type, std::string_view payload) {
    if (type == tsdb::WalRecordType::kSeries) {
      tsdb::DecodeWalSeries(payload, [&](tsdb::SeriesRef ref, Labels l) { labels_[ref] = std::move(l); });
    } else {
      tsdb::DecodeWalSamples(payload, out);
    }
  };
  while (out->size() - start < max_samples) {
    const std::string path = tsdb::WalSegmentPath(dir_, pos_.segment);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno != ENOENT) return Status::Error("open " + path + ": " + std::strerror(errno));
      int next = NextSegment(pos_.segment);
      if (next < 0) {
        *at_end = true;
        return Status::Ok();
      }
      // Our segment is gone (released past the backlog budget, or never
      // existed): carry on from the next with every series known again.
      int lost = 0;
      if (Status s = Seek({pos_.segment, 0}, &lost); !s.ok()) return s;
      if (pos_.segment < next) pos_ = {next, 0};
      segments_skipped_ += lost;
      continue;
    }
    RecordRead last = RecordRead::kOk;
    while (out->size() - start < max_samples) {
      last = ReadRecord(fd, pos_.offset, &pos_.offset, on_record);
      if (last != RecordRead::kOk) break;
    }
    ::close(fd);
    if (last == RecordRead::kOk) break;  // read enough
    int next = NextSegment(pos_.segment);
    if (next < 0) {
      *at_end = true;  // the writer's open segment: more comes later
      break;
    }
    // A later segment exists, so this one is finished; but records may have
    // landed between our read and the cut: read again before moving on.
    if (last == RecordRead::kShort && FileSize(path) > pos_.offset) {
      int again = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (again >= 0) {
        while (ReadRecord(again, pos_.offset, &pos_.offset, on_record) == RecordRead::kOk) {
        }
        ::close(again);
      }
    }
    uint64_t size = FileSize(path);
    if (pos_.offset < size) {
      LogWarn("remote write: skipping the damaged end of a WAL segment",
              {{"segment", path}, {"offset", std::to_string(pos_.offset)}, {"size", std::to_string(size)}});
    }
    pos_ = {next, 0};
  }
  return Status::Ok();
}

const Labels* WalFollower::LabelsOf(tsdb::SeriesRef ref) const {
  auto it = labels_.find(ref);
  return it == labels_.end() ? nullptr : &it->second;
}

uint64_t WalFollower::BytesBehind() const {
  std::vector<int> segments, checkpoints;
  tsdb::ListWalFiles(dir_, &segments, &checkpoints);
  uint64_t total = 0;
  for (int n : segments) {
    if (n < pos_.segment) continue;
    uint64_t size = FileSize(tsdb::WalSegmentPath(dir_, n));
    total += n == pos_.segment ? size - std::min(size, pos_.offset) : size;
  }
  return total;
}

uint64_t WalFollower::SamplesLeftInSegment() const {
  int fd = ::open(tsdb::WalSegmentPath(dir_, pos_.segment).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t offset = pos_.offset, count = 0;
  std::vector<tsdb::WalSample> samples;
  while (ReadRecord(fd, offset, &offset, [&](tsdb::WalRecordType type, std::string_view payload) {
           if (type != tsdb::WalRecordType::kSamples) return;
           samples.clear();
           tsdb::DecodeWalSamples(payload, &samples);
           count += samples.size();
         }) == RecordRead::kOk) {
  }
  ::close(fd);
  return count;
}

}  // namespace vigil::remote
