// The head: the most recent data in memory, one MemSeries per label set,
// decimal chunks (chunkenc/decimal_chunk.h) cut at max_chunk_samples or at
// block-range boundaries.
#pragma once

#include <atomic>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tsdb/chunkenc/decimal_chunk.h"
#include "tsdb/packed_labels.h"
#include "tsdb/postings.h"
#include "tsdb/small_mutex.h"
#include "tsdb/tsdb.h"

namespace vigil::tsdb {

// A full head chunk kept in memory: one the disk refused (full disk), or any
// full chunk of a head without chunk files (read-only).
struct HeadChunk {
  TimestampMs min_time = 0, max_time = 0;
  std::unique_ptr<const std::string> data;  // a decimal chunk
  uint16_t samples = 0;
};

// Where one record of a head chunk file is: file number, byte offset, and the
// record's length (header and chunk).
struct HeadChunkRef {
  uint32_t file = 0, offset = 0, length = 0;  // head chunk files stay far below 4 GiB
};

// One record read back from a head chunk file (docs/format/chunks.md, "Head
// chunk files"): the chunk and the location of the series' previous one.
struct HeadChunkRecord {
  SeriesRef series = 0;
  HeadChunkRef prev;  // the series' previous record on disk (meaningless for its first)
  TimestampMs min_time = 0, max_time = 0;
  uint16_t samples = 0;
  std::string chunk;  // a decimal chunk, filled by Read (Write takes the bytes separately)
};

// Append-only files of full head chunks, read back with pread. They are only
// a memory saver: the WAL stays the source of truth and they are recreated on
// every start. Each record names the series' previous record, so a series
// keeps only the location of its newest one in memory, whatever the number of
// full chunks (60 per 2 h at 1 s scrapes).
class HeadChunkFiles {
 public:
  static constexpr size_t kHeaderBytes = 8 + 12 + 8 + 8 + 2;

  HeadChunkFiles(std::string dir, uint64_t file_bytes);
  ~HeadChunkFiles();
  // Writes a record; false when the disk refused (the caller keeps the chunk in memory).
  bool Write(const HeadChunkRecord& record, std::string_view chunk, HeadChunkRef* ref);
  Result<HeadChunkRecord> Read(const HeadChunkRef& ref) const;
  // Deletes files holding only chunks that end before `mint`.
  void DropBefore(TimestampMs mint);

 private:
  bool Rotate();
  struct File {
    int fd = -1;
    uint64_t size = 0;
    TimestampMs max_time = std::numeric_limits<TimestampMs>::min();
  };
  const std::string dir_;
  const uint64_t file_bytes_;
  mutable std::mutex mu_;
  std::map<uint32_t, File> files_;
  uint32_t current_ = 0;
};

// The full chunks a series has on disk within one block range (chunks never
// straddle a block boundary): enough to truncate the head at a block boundary
// and to count samples without reading the files.
struct DiskChunkRange {
  TimestampMs min_time = 0;  // of the range's oldest chunk on disk
  TimestampMs max_time = 0;  // of its newest
  uint32_t chunks = 0;
  uint32_t samples = 0;
};

// What a series knows of its full chunks besides the newest record's
// location: the per-range summaries of those on disk, oldest first, and those
// kept in memory. 8 bytes in the series, null until its first full chunk; the
// summaries (usually 1-2) share one allocation with a small header.
class FullChunks {
 public:
  FullChunks() = default;
  FullChunks(const FullChunks&) = delete;
  FullChunks& operator=(const FullChunks&) = delete;
  ~FullChunks() { Free(); }

  const DiskChunkRange* begin() const { return rep_ ? rep_->items() : nullptr; }
  const DiskChunkRange* end() const { return rep_ ? rep_->items() + rep_->size : nullptr; }
  size_t num_ranges() const { return rep_ ? rep_->size : 0; }
  bool no_ranges() const { return num_ranges() == 0; }
  DiskChunkRange& range(size_t i) { return rep_->items()[i]; }
  const DiskChunkRange& range(size_t i) const { return rep_->items()[i]; }
  DiskChunkRange& AddRange(const DiskChunkRange& r);
  void DropOldestRanges(size_t n);
  uint64_t disk_chunks() const;

  // Full chunks in memory, oldest first; null when none.
  std::vector<HeadChunk>* in_memory() const { return rep_ ? rep_->in_memory.get() : nullptr; }
  std::vector<HeadChunk>& MutableInMemory();
  void DropEmptyInMemory();

  bool empty() const { return disk_chunks() == 0 && in_memory() == nullptr; }

 private:
  struct Rep {
    std::unique_ptr<std::vector<HeadChunk>> in_memory;
    uint32_t size = 0, cap = 0;
    DiskChunkRange* items() { return reinterpret_cast<DiskChunkRange*>(this + 1); }
    const DiskChunkRange* items() const { return reinterpret_cast<const DiskChunkRange*>(this + 1); }
  };
  static_assert(sizeof(Rep) % alignof(DiskChunkRange) == 0);
  void Grow(uint32_t cap);
  void Free();
  Rep* rep_ = nullptr;
};

struct MemSeries {
  MemSeries(SeriesRef r, const Labels& l) : ref(r), packed_labels(l) {}
  Labels labels() const { return packed_labels.ToLabels(); }

  const SeriesRef ref;
  const PackedLabels packed_labels;

  mutable SmallMutex mu;  // guards everything below
  // Full chunks on disk: a chain from `newest_on_disk` back through each
  // record's `prev`, full.disk_chunks() records long.
  HeadChunkRef newest_on_disk;
  FullChunks full;
  std::optional<chunkenc::DecimalEncoder> open;  // in place: one allocation less per series
  TimestampMs open_min_time = 0;
  // The newest sample, which is the open chunk's last one while it has any.
  TimestampMs last_t = std::numeric_limits<TimestampMs>::min();
  TimestampMs chunk_end = 0;  // the open chunk is cut at this block boundary
  // The newest sample an uncommitted batch holds for this series, and which
  // appender's batch (ids are never reused, so a rolled-back batch is ignored).
  TimestampMs pending_t = 0;
  uint64_t pending_appender = 0;

  size_t num_full_chunks() const { return full.disk_chunks() + (full.in_memory() ? full.in_memory()->size() : 0); }
};

// A consistent copy of one series' chunks for a reader.
struct ChunkSnapshot {
  std::vector<std::shared_ptr<const std::string>> chunks;  // decimal chunks in time order
  Status error;                                            // a chunk that could not be read back
};

class Head {
 public:
  explicit Head(const Options& options);
  // Moves full chunks to files under dir/head_chunks (wiping what a previous
  // run left there). Call once the store's lock is held, before replay.
  // `file_bytes` caps each file (tests use small ones).
  void EnableChunkFiles(uint64_t file_bytes = 64 << 20);

  enum class AppendResult { kOk, kOutOfOrder, kDuplicate };

  // Returns the series for `labels`, creating it when new (`*created` tells).
  std::shared_ptr<MemSeries> GetOrCreate(const Labels& labels, bool* created);
  // Creates a series with a known ref (WAL replay); returns the existing one if present.
  std::shared_ptr<MemSeries> GetOrCreateWithRef(SeriesRef ref, const Labels& labels);
  std::shared_ptr<MemSeries> GetByRef(SeriesRef ref) const;
  AppendResult Append(MemSeries& s, TimestampMs t, double v);
  // Checks what Append would say, counting samples the appender `appender_id`
  // has pending for the series, and on kOk records `t` as its pending newest.
  AppendResult Reserve(MemSeries& s, TimestampMs t, uint64_t appender_id);

  // Series passing every matcher, sorted by labels.
  std::vector<std::shared_ptr<MemSeries>> Select(const std::vector<Matcher>& matchers) const;
  std::vector<std::string> LabelNames() const;
  std::vector<std::string> LabelValues(const std::string& name) const;
  // Copies the chunks of `s` that overlap [mint, maxt].
  ChunkSnapshot Snapshot(const MemSeries& s, TimestampMs mint, TimestampMs maxt) const;

  // Drops chunks entirely before `mint` and series left without data.
  void Truncate(TimestampMs mint);

  TimestampMs min_time() const { return min_time_.load(); }
  TimestampMs max_time() const { return max_time_.load(); }
  uint64_t num_series() const;
  uint64_t num_samples() const { return num_samples_.load(); }
  uint64_t num_chunks() const;
  SeriesRef last_ref() const { return next_ref_.load() - 1; }
  void AdvanceRefs(SeriesRef at_least);  // after replay: never reuse a ref

 private:
  void Index(const std::shared_ptr<MemSeries>& s, const Labels& labels);  // requires mu_ held exclusively
  void CutIfNeeded(MemSeries& s, TimestampMs t);
  // Calls fn(record) for the newest `limit` full chunks of `s` on disk, newest
  // first, until fn returns false. Requires s.mu held.
  uint64_t TruncateFull(MemSeries& s, TimestampMs mint);
  Status WalkDisk(const MemSeries& s, uint64_t limit, const std::function<bool(HeadChunkRecord&)>& fn) const;

  const Options options_;
  std::unique_ptr<HeadChunkFiles> chunk_files_;  // null when read-only
  mutable std::shared_mutex mu_;                 // guards the maps below
  std::unordered_map<SeriesRef, std::shared_ptr<MemSeries>> by_ref_;
  // Plain pointers: by_ref_ owns the series, and a node is 16 bytes smaller.
  std::unordered_multimap<uint64_t, MemSeries*> by_hash_;
  PostingsIndex postings_;

  std::atomic<SeriesRef> next_ref_{1};
  std::atomic<TimestampMs> min_time_{std::numeric_limits<TimestampMs>::max()};
  std::atomic<TimestampMs> max_time_{std::numeric_limits<TimestampMs>::min()};
  std::atomic<uint64_t> num_samples_{0};
};

uint64_t HashLabels(const Labels& labels);
uint64_t HashLabels(const PackedLabels& labels);  // the same hash as for the unpacked set

}  // namespace vigil::tsdb
