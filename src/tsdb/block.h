// Immutable blocks: a time range of many series, written once and only
// read, merged (compaction) or deleted (retention). Format: docs/format/block.md.
#pragma once

#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/file.h"
#include "tsdb/postings.h"
#include "tsdb/tsdb.h"

namespace vigil::tsdb {

struct BlockSeries {
  Labels labels;
  TimestampMs min_time = 0, max_time = 0;
  uint64_t num_samples = 0;
  uint64_t offset = 0, length = 0;  // of the series' data in the block file
};

class Block;

// Decoded shared timestamps, for the reads of one query: series scraped
// together share one timestamps entry, which is then decoded and checked once
// instead of once per series. Safe to use from several threads.
class SharedTimestamps {
 public:
  std::shared_ptr<const std::vector<TimestampMs>> Find(const Block* block, uint64_t offset) const;
  void Put(const Block* block, uint64_t offset, std::shared_ptr<const std::vector<TimestampMs>> timestamps);

 private:
  mutable std::mutex mu_;
  std::map<std::pair<const Block*, uint64_t>, std::shared_ptr<const std::vector<TimestampMs>>> entries_;
};

class Block {
 public:
  // Maps `dir`/block and reads its index; the error names the file and why.
  static Result<std::shared_ptr<Block>> Open(const std::string& dir);
  ~Block();

  const BlockInfo& info() const { return info_; }
  const std::string& dir() const { return dir_; }
  const std::vector<BlockSeries>& series() const { return series_; }
  // Indexes into series() passing every matcher (in label order).
  std::vector<size_t> Select(const std::vector<Matcher>& matchers) const;
  std::vector<std::string> LabelNames() const;
  std::vector<std::string> LabelValues(const std::string& name) const;
  // Appends the samples of series `i` in [mint, maxt] to the vectors (nothing
  // on error), decoding only the parts that overlap the window. With
  // `shared`, timestamps shared between series are taken from it (and put
  // there the first time): what one query's reads have in common.
  Status Read(size_t i, std::vector<TimestampMs>* t, std::vector<double>* v, SharedTimestamps* shared = nullptr,
              TimestampMs mint = std::numeric_limits<TimestampMs>::min(),
              TimestampMs maxt = std::numeric_limits<TimestampMs>::max()) const;
  // At least as many samples as Read(i, …, mint, maxt) decodes: those of the
  // parts overlapping the window, or the whole series.
  size_t SamplesToRead(size_t i, TimestampMs mint, TimestampMs maxt) const;
  bool Overlaps(TimestampMs mint, TimestampMs maxt) const { return info_.max_time >= mint && info_.min_time <= maxt; }

 private:
  Block() = default;
  // Reads one data entry (not a part table), without the file's name in errors.
  Status ReadEntry(std::string_view data, std::vector<TimestampMs>* t, std::vector<double>* v,
                   SharedTimestamps* shared) const;
  std::string dir_;
  BlockInfo info_;
  std::vector<BlockSeries> series_;
  PostingsIndex postings_;
  MappedFile file_;
  size_t series_region_size_ = 0;  // bytes before the index: where shared timestamps may live
};

// Writes `series` (any order; empty series are skipped) as a new block under
// `parent`/<id>, atomically (written to a temp dir, then renamed).
// `resolution` 0 is raw data; otherwise the step of a downsampled block whose
// series carry an __aggr__ label. `share_timestamps` false writes the version 1
// layout (every series whole, with its own timestamps; kept for tests of old
// blocks); true writes version 3 (shared timestamps, time-bounded parts).
Result<BlockInfo> WriteBlock(const std::string& parent, std::vector<SeriesSamples> series, TimestampMs min_time,
                             TimestampMs max_time, int level, Duration resolution = Duration(0),
                             bool share_timestamps = true);

// Checks a whole block file's framing and parses its index (exposed for fuzzing).
Status ParseBlockFile(std::string_view file, std::vector<BlockSeries>* series);

// Series data encoding used inside blocks (exposed for tests and fuzzing).
std::string EncodeSeriesData(std::span<const TimestampMs> t, std::span<const double> v);
// `series_region` is the block file before its index (offsets are from its
// start): needed for encoding 4, whose timestamps are an entry there.
Status DecodeSeriesData(std::string_view data, std::vector<TimestampMs>* t, std::vector<double>* v,
                        std::string_view series_region = {});

}  // namespace vigil::tsdb
