#include "tsdb/head.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vigil::tsdb {

double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

namespace {

// FNV-1a over name\xff value\xff …; cheap and stable.
class LabelHasher {
 public:
  void Add(std::string_view name, std::string_view value) {
    Mix(name);
    Mix(value);
  }
  uint64_t hash() const { return h_; }

 private:
  void Mix(std::string_view s) {
    for (unsigned char c : s) {
      h_ ^= c;
      h_ *= 1099511628211ULL;
    }
    h_ ^= 0xff;
    h_ *= 1099511628211ULL;
  }
  uint64_t h_ = 1469598103934665603ULL;
};

}  // namespace

uint64_t HashLabels(const Labels& labels) {
  LabelHasher h;
  for (const Label& l : labels) h.Add(l.name, l.value);
  return h.hash();
}

uint64_t HashLabels(const PackedLabels& labels) {
  LabelHasher h;
  labels.ForEach([&](std::string_view name, std::string_view value) { h.Add(name, value); });
  return h.hash();
}

HeadChunkFiles::HeadChunkFiles(std::string dir, uint64_t file_bytes) : dir_(std::move(dir)), file_bytes_(file_bytes) {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);  // rebuilt from the WAL on every start
  std::filesystem::create_directories(dir_, ec);
}

HeadChunkFiles::~HeadChunkFiles() {
  for (auto& [n, f] : files_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

bool HeadChunkFiles::Rotate() {
  ++current_;
  std::string path = dir_ + "/" + std::to_string(current_);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  files_[current_] = File{fd, 0, std::numeric_limits<TimestampMs>::min()};
  return true;
}

bool HeadChunkFiles::Write(std::string_view bytes, TimestampMs max_time, HeadChunk* chunk) {
  std::lock_guard lock(mu_);
  auto it = files_.find(current_);
  if (it == files_.end() || it->second.size + bytes.size() > file_bytes_) {
    if (!Rotate()) return false;
    it = files_.find(current_);
  }
  File& f = it->second;
  if (f.size > std::numeric_limits<uint32_t>::max()) return false;  // offsets are 32-bit
  ssize_t n = ::pwrite(f.fd, bytes.data(), bytes.size(), static_cast<off_t>(f.size));
  if (n != static_cast<ssize_t>(bytes.size())) return false;  // disk full: the chunk stays in memory
  chunk->file = current_;
  chunk->offset = static_cast<uint32_t>(f.size);
  chunk->length = static_cast<uint32_t>(bytes.size());
  f.size += bytes.size();
  f.max_time = std::max(f.max_time, max_time);
  return true;
}

Result<std::string> HeadChunkFiles::Read(const HeadChunk& chunk) const {
  int fd = -1;
  {
    std::lock_guard lock(mu_);
    auto it = files_.find(chunk.file);
    if (it == files_.end()) return Status::Error("head chunk file " + std::to_string(chunk.file) + " is gone");
    fd = it->second.fd;
  }
  std::string out(chunk.length, '\0');
  ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(chunk.offset));
  if (n != static_cast<ssize_t>(out.size())) {
    return Status::Error("read head chunk file " + dir_ + "/" + std::to_string(chunk.file) + ": " +
                         std::strerror(errno));
  }
  return out;
}

void HeadChunkFiles::DropBefore(TimestampMs mint) {
  std::lock_guard lock(mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->first != current_ && it->second.max_time < mint) {
      ::close(it->second.fd);
      ::unlink((dir_ + "/" + std::to_string(it->first)).c_str());
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
}

Head::Head(const Options& options) : options_(options) {}

void Head::EnableChunkFiles() {
  chunk_files_ = std::make_unique<HeadChunkFiles>(options_.dir + "/head_chunks", 64 << 20);
}

std::shared_ptr<MemSeries> Head::GetOrCreate(const Labels& labels, bool* created) {
  uint64_t h = HashLabels(labels);
  {
    std::shared_lock lock(mu_);
    auto [b, e] = by_hash_.equal_range(h);
    for (auto it = b; it != e; ++it) {
      if (it->second->packed_labels == labels) {
        *created = false;
        return by_ref_.find(it->second->ref)->second;
      }
    }
  }
  std::unique_lock lock(mu_);
  auto [b, e] = by_hash_.equal_range(h);
  for (auto it = b; it != e; ++it) {
    if (it->second->packed_labels == labels) {
      *created = false;
      return by_ref_.find(it->second->ref)->second;
    }
  }
  auto s = std::make_shared<MemSeries>(next_ref_.fetch_add(1), labels);
  Index(s, labels);
  *created = true;
  return s;
}

std::shared_ptr<MemSeries> Head::GetOrCreateWithRef(SeriesRef ref, const Labels& labels) {
  std::unique_lock lock(mu_);
  if (auto it = by_ref_.find(ref); it != by_ref_.end()) return it->second;
  auto s = std::make_shared<MemSeries>(ref, labels);
  Index(s, labels);
  SeriesRef next = next_ref_.load();
  if (ref >= next) next_ref_.store(ref + 1);
  return s;
}

void Head::AdvanceRefs(SeriesRef at_least) {
  SeriesRef next = next_ref_.load();
  while (next <= at_least && !next_ref_.compare_exchange_weak(next, at_least + 1)) {
  }
}

void Head::Index(const std::shared_ptr<MemSeries>& s, const Labels& labels) {
  by_ref_.emplace(s->ref, s);
  by_hash_.emplace(HashLabels(labels), s.get());
  postings_.Add(labels, s->ref);
}

std::shared_ptr<MemSeries> Head::GetByRef(SeriesRef ref) const {
  std::shared_lock lock(mu_);
  auto it = by_ref_.find(ref);
  return it == by_ref_.end() ? nullptr : it->second;
}

Head::AppendResult Head::Reserve(MemSeries& s, TimestampMs t, uint64_t appender_id) {
  std::lock_guard lock(s.mu);
  TimestampMs newest = s.last_t;
  if (s.pending_appender == appender_id && s.pending_t > newest) newest = s.pending_t;
  if (t < newest) return AppendResult::kOutOfOrder;
  if (t == newest) return AppendResult::kDuplicate;
  s.pending_t = t;
  s.pending_appender = appender_id;
  return AppendResult::kOk;
}

void Head::CutIfNeeded(MemSeries& s, TimestampMs t) {
  if (s.open && s.open->num_samples() < options_.max_chunk_samples && t < s.chunk_end) return;
  if (s.open && s.open->num_samples() > 0) {
    HeadChunk c;
    c.min_time = s.open_min_time;
    c.max_time = s.last_t;
    c.samples = static_cast<uint16_t>(s.open->num_samples());
    if (!chunk_files_ || !chunk_files_->Write(s.open->bytes(), c.max_time, &c)) {
      c.data = std::make_unique<const std::string>(s.open->bytes());
    }
    s.closed.push_back(std::move(c));
  }
  s.open.emplace();
  s.open_min_time = t;
  // Chunks never straddle a block boundary, so blocks can take whole chunks.
  int64_t range = options_.block_range.count();
  s.chunk_end = AlignDown(t, range) + range;
}

Head::AppendResult Head::Append(MemSeries& s, TimestampMs t, double v) {
  {
    std::lock_guard lock(s.mu);
    if (t < s.last_t) return AppendResult::kOutOfOrder;
    if (t == s.last_t) return AppendResult::kDuplicate;
    CutIfNeeded(s, t);
    s.open->Append(t, v);
    s.last_t = t;
  }
  num_samples_.fetch_add(1, std::memory_order_relaxed);
  TimestampMs cur = min_time_.load(std::memory_order_relaxed);
  while (t < cur && !min_time_.compare_exchange_weak(cur, t)) {
  }
  cur = max_time_.load(std::memory_order_relaxed);
  while (t > cur && !max_time_.compare_exchange_weak(cur, t)) {
  }
  return AppendResult::kOk;
}

std::vector<std::shared_ptr<MemSeries>> Head::Select(const std::vector<Matcher>& matchers) const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<MemSeries>> out;
  auto consider = [&](const std::shared_ptr<MemSeries>& s) {
    for (const Matcher& m : matchers) {
      if (!m.Matches(s->packed_labels.Get(m.name()))) return;
    }
    out.push_back(s);
  };
  if (auto candidates = postings_.Candidates(matchers)) {
    for (uint64_t r : *candidates) {
      if (auto it = by_ref_.find(r); it != by_ref_.end()) consider(it->second);
    }
  } else {
    for (const auto& [ref, s] : by_ref_) consider(s);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->packed_labels < b->packed_labels; });
  return out;
}

std::vector<std::string> Head::LabelNames() const {
  std::shared_lock lock(mu_);
  return postings_.Names();
}

std::vector<std::string> Head::LabelValues(const std::string& name) const {
  std::shared_lock lock(mu_);
  return postings_.Values(name);
}

ChunkSnapshot Head::Snapshot(const MemSeries& s, TimestampMs mint, TimestampMs maxt) const {
  ChunkSnapshot snap;
  std::lock_guard lock(s.mu);
  for (const HeadChunk& c : s.closed) {
    if (c.max_time < mint || c.min_time > maxt) continue;
    if (c.data) {
      // A copy: only chunks the disk refused live here.
      snap.chunks.push_back(std::make_shared<const std::string>(*c.data));
    } else if (Result<std::string> bytes = chunk_files_->Read(c); bytes.ok()) {
      snap.chunks.push_back(std::make_shared<const std::string>(std::move(*bytes)));
    } else {
      snap.error = bytes.status();
    }
  }
  if (s.open && s.open->num_samples() > 0 && s.last_t >= mint && s.open_min_time <= maxt) {
    snap.chunks.push_back(std::make_shared<const std::string>(s.open->bytes()));
  }
  return snap;
}

void Head::Truncate(TimestampMs mint) {
  std::vector<std::shared_ptr<MemSeries>> all;
  {
    std::shared_lock lock(mu_);
    all.reserve(by_ref_.size());
    for (const auto& [ref, s] : by_ref_) all.push_back(s);
  }
  std::vector<SeriesRef> dead;
  TimestampMs new_min = std::numeric_limits<TimestampMs>::max();
  uint64_t dropped = 0;
  for (const auto& s : all) {
    std::lock_guard lock(s->mu);
    auto keep = std::remove_if(s->closed.begin(), s->closed.end(), [&](const HeadChunk& c) {
      if (c.max_time >= mint) return false;
      dropped += c.samples;
      return true;
    });
    s->closed.erase(keep, s->closed.end());
    bool open_live = s->open && s->open->num_samples() > 0;
    if (open_live && s->last_t < mint) {
      dropped += static_cast<uint64_t>(s->open->num_samples());
      s->open.reset();
      open_live = false;
    }
    if (s->closed.empty() && !open_live) {
      dead.push_back(s->ref);
      continue;
    }
    TimestampMs first = !s->closed.empty() ? s->closed.front().min_time : s->open_min_time;
    new_min = std::min(new_min, first);
  }
  num_samples_.fetch_sub(std::min(dropped, num_samples_.load()));
  if (!dead.empty()) {
    std::unique_lock lock(mu_);
    for (SeriesRef r : dead) {
      auto it = by_ref_.find(r);
      if (it == by_ref_.end()) continue;
      std::shared_ptr<MemSeries> s = it->second;
      {
        // Re-check under the series lock: an appender may have revived it.
        std::lock_guard slock(s->mu);
        if (!s->closed.empty() || (s->open && s->open->num_samples() > 0)) continue;
      }
      by_ref_.erase(it);
      auto [b, e] = by_hash_.equal_range(HashLabels(s->packed_labels));
      for (auto h = b; h != e; ++h) {
        if (h->second == s.get()) {
          by_hash_.erase(h);
          break;
        }
      }
      postings_.Remove(s->labels(), r);
    }
  }
  min_time_.store(new_min);
  if (new_min == std::numeric_limits<TimestampMs>::max()) max_time_.store(std::numeric_limits<TimestampMs>::min());
  if (chunk_files_) chunk_files_->DropBefore(mint);
}

uint64_t Head::num_series() const {
  std::shared_lock lock(mu_);
  return by_ref_.size();
}

uint64_t Head::num_chunks() const {
  std::shared_lock lock(mu_);
  uint64_t n = 0;
  for (const auto& [ref, s] : by_ref_) {
    std::lock_guard slock(s->mu);
    n += s->closed.size() + (s->open ? 1 : 0);
  }
  return n;
}

}  // namespace vigil::tsdb
