// The head: the most recent data in memory, one MemSeries per label set,
// decimal chunks (chunkenc/decimal_chunk.h) cut at max_chunk_samples or at
// block-range boundaries.
#pragma once

#include <atomic>
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

// A full head chunk: on disk in the head chunk files (so memory per series
// stays small), or in memory when it could not be written there. A series
// keeps one per full chunk until its range becomes a block (60 at 1 s
// scrapes), so it is packed into 40 bytes.
struct HeadChunk {
  TimestampMs min_time = 0, max_time = 0;
  std::unique_ptr<const std::string> data;  // a decimal chunk; null when on disk
  uint32_t offset = 0;                      // head chunk files stay far below 4 GiB
  uint32_t file = 0, length = 0;
  uint16_t samples = 0;
};

// Append-only files of full head chunks, read back with pread. They are only
// a memory saver: the WAL stays the source of truth and they are recreated on
// every start.
class HeadChunkFiles {
 public:
  HeadChunkFiles(std::string dir, uint64_t file_bytes);
  ~HeadChunkFiles();
  // Writes a chunk; false when the disk refused (the caller keeps it in memory).
  bool Write(std::string_view bytes, TimestampMs max_time, HeadChunk* chunk);
  Result<std::string> Read(const HeadChunk& chunk) const;
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

struct MemSeries {
  MemSeries(SeriesRef r, const Labels& l) : ref(r), packed_labels(l) {}
  Labels labels() const { return packed_labels.ToLabels(); }

  const SeriesRef ref;
  const PackedLabels packed_labels;

  mutable SmallMutex mu;  // guards everything below
  std::vector<HeadChunk> closed;
  std::optional<chunkenc::DecimalEncoder> open;  // in place: one allocation less per series
  TimestampMs open_min_time = 0;
  // The newest sample, which is the open chunk's last one while it has any.
  TimestampMs last_t = std::numeric_limits<TimestampMs>::min();
  TimestampMs chunk_end = 0;  // the open chunk is cut at this block boundary
  // The newest sample an uncommitted batch holds for this series, and which
  // appender's batch (ids are never reused, so a rolled-back batch is ignored).
  TimestampMs pending_t = 0;
  uint64_t pending_appender = 0;
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
  void EnableChunkFiles();

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
