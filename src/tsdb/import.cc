#include "tsdb/import.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/file.h"

namespace vigil::tsdb {
namespace {

// One spilled sample: series number, timestamp, value (native byte order:
// the files never outlive the process that wrote them).
constexpr size_t kRecordBytes = sizeof(uint32_t) + sizeof(TimestampMs) + sizeof(double);

// Asks for transparent huge pages over the whole 2 MiB pages inside [p, p + n):
// filling a buffer of tens of MiB then faults once per 2 MiB, not per 4 KiB.
void AdviseHugePages(const void* p, size_t n) {
  constexpr uintptr_t kHuge = 2 << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace

size_t SortByTime(std::vector<TimestampMs>& t, std::vector<double>& v) {
  if (std::is_sorted(t.begin(), t.end(), std::less_equal<>())) return 0;
  std::vector<size_t> order(t.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t[a] < t[b]; });
  std::vector<TimestampMs> st;
  std::vector<double> sv;
  st.reserve(t.size());
  sv.reserve(v.size());
  for (size_t i : order) {
    if (!st.empty() && t[i] == st.back()) continue;
    st.push_back(t[i]);
    sv.push_back(v[i]);
  }
  size_t dropped = t.size() - st.size();
  t.swap(st);
  v.swap(sv);
  return dropped;
}

ImportSpill::ImportSpill(std::string dir, int64_t window, size_t buffer_bytes)
    : dir_(std::move(dir)), window_(window), buffer_budget_(buffer_bytes) {}

ImportSpill::~ImportSpill() {
  std::error_code ec;
  if (created_) std::filesystem::remove_all(dir_, ec);
}

std::string ImportSpill::PathOf(TimestampMs start) const { return dir_ + "/" + std::to_string(start) + ".spill"; }

Status ImportSpill::Add(uint32_t series, TimestampMs t, double v) {
  // Samples come in runs of one window: look the buffer up only when it changes.
  const TimestampMs start = AlignDown(t, window_);
  if (last_buffer_ == nullptr || start != last_start_) {
    std::string& buf = buffers_[start];
    // The whole budget reserved as address space: pages are only touched as
    // records arrive, and the buffer never moves (growing by doubling copied
    // each buffer about once more).
    if (buf.capacity() < buffer_budget_) {
      buf.reserve(buffer_budget_ + kRecordBytes);
      AdviseHugePages(buf.data(), buf.capacity());
    }
    last_buffer_ = &buf;
    last_start_ = start;
  }
  std::string& buf = *last_buffer_;
  char rec[kRecordBytes];
  std::memcpy(rec, &series, sizeof series);
  std::memcpy(rec + sizeof series, &t, sizeof t);
  std::memcpy(rec + sizeof series + sizeof t, &v, sizeof v);
  buf.append(rec, kRecordBytes);
  buffered_bytes_ += kRecordBytes;
  ++samples_;
  // Past the budget every buffer is written out at once: few, large writes.
  return buffered_bytes_ >= buffer_budget_ ? FlushAll() : Status::Ok();
}

Status ImportSpill::FlushAll() {
  if (!created_) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Status::Error("create " + dir_ + ": " + ec.message());
    created_ = true;
  }
  for (auto& [start, buf] : buffers_) {
    if (buf.empty()) continue;
    std::string path = PathOf(start);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return Status::Error("open " + path + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = ::write(fd, buf.data() + done, buf.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Status err = Status::Error("write " + path + ": " + std::strerror(errno));
        ::close(fd);
        return err;
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    buf.clear();
    buf.shrink_to_fit();
  }
  buffered_bytes_ = 0;
  return Status::Ok();
}

std::vector<TimestampMs> ImportSpill::Windows() const {
  std::vector<TimestampMs> out;
  for (const auto& entry : buffers_) out.push_back(entry.first);
  return out;
}

Result<std::vector<SeriesSamples>> ImportSpill::TakeWindow(TimestampMs start, const std::vector<Labels>& labels,
                                                           uint64_t* repeats) {
  auto it = buffers_.find(start);
  if (it == buffers_.end()) return std::vector<SeriesSamples>{};
  // The window's records: its file (mapped, and given back as it is read)
  // then its buffer, the newest, in the order they were added.
  std::string path = PathOf(start);
  MappedFile spilled;
  if (created_ && std::filesystem::exists(path)) {
    Result<MappedFile> mapped = MappedFile::Open(path);
    if (!mapped.ok()) return mapped.status();
    spilled = std::move(*mapped);
  }
  const std::string buffer = std::move(it->second);
  buffered_bytes_ -= buffer.size();
  buffers_.erase(it);
  last_buffer_ = nullptr;
  auto for_each_record = [&](auto&& fn) {
    for (const bool mapped : {true, false}) {
      const std::string_view records = mapped ? spilled.view() : std::string_view(buffer);
      size_t release_at = 16 << 20;
      for (size_t at = 0; at + kRecordBytes <= records.size(); at += kRecordBytes) {
        uint32_t series;
        TimestampMs t;
        double v;
        std::memcpy(&series, records.data() + at, sizeof series);
        std::memcpy(&t, records.data() + at + sizeof series, sizeof t);
        std::memcpy(&v, records.data() + at + sizeof series + sizeof t, sizeof v);
        fn(series, t, v);
        if (mapped && at >= release_at) {
          spilled.ReleaseBefore(at);
          release_at = at + (16 << 20);
        }
      }
    }
    spilled.ReleaseBefore(spilled.view().size());
  };

  // Two passes: count per series to size each vector once, then fill.
  std::vector<uint32_t> count(labels.size(), 0);
  bool unknown = false;
  for_each_record([&](uint32_t series, TimestampMs, double) {
    if (series < labels.size())
      ++count[series];
    else
      unknown = true;
  });
  if (unknown) return Status::Error("import spill " + path + ": unknown series number");
  std::vector<int32_t> slot(labels.size(), -1);
  std::vector<SeriesSamples> out;
  for (uint32_t s = 0; s < count.size(); ++s) {
    if (count[s] == 0) continue;
    slot[s] = static_cast<int32_t>(out.size());
    SeriesSamples& series = out.emplace_back();
    series.labels = labels[s];
    series.t.reserve(count[s]);
    series.v.reserve(count[s]);
  }
  for_each_record([&](uint32_t series, TimestampMs t, double v) {
    SeriesSamples& s = out[static_cast<size_t>(slot[series])];
    s.t.push_back(t);
    s.v.push_back(v);
  });
  spilled = MappedFile();
  std::error_code ec;
  std::filesystem::remove(path, ec);
  for (SeriesSamples& s : out) *repeats += SortByTime(s.t, s.v);
  return out;
}

}  // namespace vigil::tsdb
