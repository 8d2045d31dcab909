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

namespace {

void PutLE(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

bool HeadChunkFiles::Write(const HeadChunkRecord& record, std::string_view chunk, HeadChunkRef* ref) {
  thread_local std::string buf;
  buf.clear();
  PutLE(buf, record.series, 8);
  PutLE(buf, record.prev.file, 4);
  PutLE(buf, record.prev.offset, 4);
  PutLE(buf, record.prev.length, 4);
  PutLE(buf, static_cast<uint64_t>(record.min_time), 8);
  PutLE(buf, static_cast<uint64_t>(record.max_time), 8);
  PutLE(buf, record.samples, 2);
  buf.append(chunk);
  std::lock_guard lock(mu_);
  auto it = files_.find(current_);
  if (it == files_.end() || it->second.size + buf.size() > file_bytes_) {
    if (!Rotate()) return false;
    it = files_.find(current_);
  }
  File& f = it->second;
  if (f.size + buf.size() > std::numeric_limits<uint32_t>::max()) return false;  // offsets are 32-bit
  ssize_t n = ::pwrite(f.fd, buf.data(), buf.size(), static_cast<off_t>(f.size));
  if (n != static_cast<ssize_t>(buf.size())) return false;  // disk full: the chunk stays in memory
  ref->file = current_;
  ref->offset = static_cast<uint32_t>(f.size);
  ref->length = static_cast<uint32_t>(buf.size());
  f.size += buf.size();
  f.max_time = std::max(f.max_time, record.max_time);
  return true;
}

Result<HeadChunkRecord> HeadChunkFiles::Read(const HeadChunkRef& ref) const {
  int fd = -1;
  {
    std::lock_guard lock(mu_);
    auto it = files_.find(ref.file);
    if (it == files_.end()) return Status::Error("head chunk file " + std::to_string(ref.file) + " is gone");
    fd = it->second.fd;
  }
  if (ref.length < kHeaderBytes) return Status::Error("head chunk record too short");
  std::string buf(ref.length, '\0');
  ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(ref.offset));
  if (n != static_cast<ssize_t>(buf.size())) {
    return Status::Error("read head chunk file " + dir_ + "/" + std::to_string(ref.file) + ": " +
                         (n < 0 ? std::strerror(errno) : "short read"));
  }
  const char* p = buf.data();
  HeadChunkRecord r;
  r.series = GetLE(p, 8);
  r.prev.file = static_cast<uint32_t>(GetLE(p + 8, 4));
  r.prev.offset = static_cast<uint32_t>(GetLE(p + 12, 4));
  r.prev.length = static_cast<uint32_t>(GetLE(p + 16, 4));
  r.min_time = static_cast<TimestampMs>(GetLE(p + 20, 8));
  r.max_time = static_cast<TimestampMs>(GetLE(p + 28, 8));
  r.samples = static_cast<uint16_t>(GetLE(p + 36, 2));
  buf.erase(0, kHeaderBytes);
  r.chunk = std::move(buf);
  return r;
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

void FullChunks::Grow(uint32_t cap) {
  void* mem = ::operator new(sizeof(Rep) + cap * sizeof(DiskChunkRange));
  Rep* rep = new (mem) Rep;
  rep->cap = cap;
  if (rep_) {
    rep->in_memory = std::move(rep_->in_memory);
    rep->size = rep_->size;
    std::memcpy(static_cast<void*>(rep->items()), rep_->items(), rep_->size * sizeof(DiskChunkRange));
    Free();
  }
  rep_ = rep;
}

void FullChunks::Free() {
  if (!rep_) return;
  rep_->~Rep();
  ::operator delete(rep_);
  rep_ = nullptr;
}

DiskChunkRange& FullChunks::AddRange(const DiskChunkRange& r) {
  if (!rep_ || rep_->size == rep_->cap) Grow(rep_ ? rep_->cap + 1 : 1);  // the head holds 1-3 ranges
  DiskChunkRange* slot = rep_->items() + rep_->size++;
  *slot = r;
  return *slot;
}

void FullChunks::DropOldestRanges(size_t n) {
  if (n == 0) return;
  std::memmove(static_cast<void*>(rep_->items()), rep_->items() + n, (rep_->size - n) * sizeof(DiskChunkRange));
  rep_->size -= static_cast<uint32_t>(n);
  if (rep_->size == 0 && !rep_->in_memory) Free();
}

uint64_t FullChunks::disk_chunks() const {
  uint64_t n = 0;
  for (const DiskChunkRange& r : *this) n += r.chunks;
  return n;
}

std::vector<HeadChunk>& FullChunks::MutableInMemory() {
  if (!rep_) Grow(0);
  if (!rep_->in_memory) rep_->in_memory = std::make_unique<std::vector<HeadChunk>>();
  return *rep_->in_memory;
}

void FullChunks::DropEmptyInMemory() {
  if (!rep_ || !rep_->in_memory || !rep_->in_memory->empty()) return;
  rep_->in_memory.reset();
  if (rep_->size == 0) Free();
}

Head::Head(const Options& options) : options_(options) {}

void Head::EnableChunkFiles(uint64_t file_bytes) {
  chunk_files_ = std::make_unique<HeadChunkFiles>(options_.dir + "/head_chunks", file_bytes);
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
  int64_t range = options_.block_range.count();
  if (s.open && s.open->num_samples() > 0) {
    HeadChunkRecord r;
    r.series = s.ref;
    r.prev = s.newest_on_disk;
    r.min_time = s.open_min_time;
    r.max_time = s.last_t;
    r.samples = static_cast<uint16_t>(s.open->num_samples());
    HeadChunkRef ref;
    if (chunk_files_ && chunk_files_->Write(r, s.open->bytes(), &ref)) {
      s.newest_on_disk = ref;
      size_t n = s.full.num_ranges();
      DiskChunkRange& d = n > 0 && AlignDown(s.full.range(n - 1).min_time, range) == AlignDown(r.min_time, range)
                              ? s.full.range(n - 1)
                              : s.full.AddRange(DiskChunkRange{r.min_time, r.max_time, 0, 0});
      d.max_time = r.max_time;
      d.chunks += 1;
      d.samples += r.samples;
    } else {
      HeadChunk c;
      c.min_time = r.min_time;
      c.max_time = r.max_time;
      c.samples = r.samples;
      c.data = std::make_unique<const std::string>(s.open->bytes());
      s.full.MutableInMemory().push_back(std::move(c));
    }
  }
  s.open.emplace();
  s.open_min_time = t;
  // Chunks never straddle a block boundary, so blocks can take whole chunks.
  s.chunk_end = AlignDown(t, range) + range;
}

Status Head::WalkDisk(const MemSeries& s, uint64_t limit, const std::function<bool(HeadChunkRecord&)>& fn) const {
  HeadChunkRef ref = s.newest_on_disk;
  for (uint64_t i = 0; i < limit; ++i) {
    if (!chunk_files_) return Status::Error("no head chunk files");
    Result<HeadChunkRecord> r = chunk_files_->Read(ref);
    if (!r.ok()) return r.status();
    if (r->series != s.ref) {
      return Status::Error("head chunk file " + std::to_string(ref.file) + " offset " + std::to_string(ref.offset) +
                           ": record of series " + std::to_string(r->series) + ", expected " + std::to_string(s.ref));
    }
    ref = r->prev;
    if (!fn(*r)) break;
  }
  return Status::Ok();
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
  std::vector<std::pair<TimestampMs, std::shared_ptr<const std::string>>> full;  // min time, chunk
  std::lock_guard lock(s.mu);
  bool on_disk = false;
  for (const DiskChunkRange& r : s.full) on_disk |= r.max_time >= mint && r.min_time <= maxt;
  if (on_disk) {
    // Newest first, so a read of recent data stops after a few records: a
    // series' chunks follow each other in time, so once a record starts at or
    // before `mint` every older one ends before it.
    Status st = WalkDisk(s, s.full.disk_chunks(), [&](HeadChunkRecord& r) {
      if (r.max_time < mint) return false;
      if (r.min_time <= maxt) full.emplace_back(r.min_time, std::make_shared<const std::string>(std::move(r.chunk)));
      return r.min_time > mint;
    });
    if (!st.ok()) snap.error = st;
    std::reverse(full.begin(), full.end());
  }
  if (const std::vector<HeadChunk>* in_memory = s.full.in_memory()) {
    size_t from_disk = full.size();
    for (const HeadChunk& c : *in_memory) {
      if (c.max_time < mint || c.min_time > maxt) continue;
      // A copy: only chunks the disk refused live here.
      full.emplace_back(c.min_time, std::make_shared<const std::string>(*c.data));
    }
    if (from_disk > 0 && full.size() > from_disk) {
      std::inplace_merge(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(from_disk), full.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
    }
  }
  snap.chunks.reserve(full.size() + 1);
  for (auto& [t, c] : full) snap.chunks.push_back(std::move(c));
  if (s.open && s.open->num_samples() > 0 && s.last_t >= mint && s.open_min_time <= maxt) {
    snap.chunks.push_back(std::make_shared<const std::string>(s.open->bytes()));
  }
  return snap;
}

// Drops the full chunks of `s` that end before `mint`; returns their sample
// count. Requires s.mu held.
uint64_t Head::TruncateFull(MemSeries& s, TimestampMs mint) {
  uint64_t dropped = 0;
  if (std::vector<HeadChunk>* v = s.full.in_memory()) {
    auto keep = std::remove_if(v->begin(), v->end(), [&](const HeadChunk& c) {
      if (c.max_time >= mint) return false;
      dropped += c.samples;
      return true;
    });
    v->erase(keep, v->end());
    s.full.DropEmptyInMemory();
  }
  size_t whole = 0;
  while (whole < s.full.num_ranges() && s.full.range(whole).max_time < mint) dropped += s.full.range(whole++).samples;
  s.full.DropOldestRanges(whole);
  if (!s.full.no_ranges() && s.full.range(0).min_time < mint) {
    // `mint` is inside a block range (the store truncates at block boundaries,
    // so only a direct caller gets here): read the oldest range's records.
    DiskChunkRange& front = s.full.range(0);
    const uint64_t total = s.full.disk_chunks(), newer = total - front.chunks;
    uint64_t i = 0, gone = 0, gone_samples = 0;
    TimestampMs first_kept = front.max_time;
    Status st = WalkDisk(s, total, [&](HeadChunkRecord& r) {
      if (i++ < newer) return true;
      if (r.max_time < mint) {
        ++gone;
        gone_samples += r.samples;
      } else {
        first_kept = std::min(first_kept, r.min_time);
      }
      return true;
    });
    if (st.ok()) {  // else keep them all: a read error must not lose the count
      front.chunks -= static_cast<uint32_t>(gone);
      front.samples -= static_cast<uint32_t>(gone_samples);
      front.min_time = first_kept;
      dropped += gone_samples;
    }
  }
  return dropped;
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
    dropped += TruncateFull(*s, mint);
    bool open_live = s->open && s->open->num_samples() > 0;
    if (open_live && s->last_t < mint) {
      dropped += static_cast<uint64_t>(s->open->num_samples());
      s->open.reset();
      open_live = false;
    }
    if (s->num_full_chunks() == 0 && !open_live) {
      dead.push_back(s->ref);
      continue;
    }
    TimestampMs first = open_live ? s->open_min_time : std::numeric_limits<TimestampMs>::max();
    if (!s->full.no_ranges()) first = std::min(first, s->full.range(0).min_time);
    if (s->full.in_memory()) first = std::min(first, s->full.in_memory()->front().min_time);
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
        if (s->num_full_chunks() > 0 || (s->open && s->open->num_samples() > 0)) continue;
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
    n += s->num_full_chunks() + (s->open ? 1 : 0);
  }
  return n;
}

}  // namespace vigil::tsdb
