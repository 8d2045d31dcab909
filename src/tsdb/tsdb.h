// vigil's embedded time-series store: the Appender and Querier interfaces
// everything else uses, and the DB that owns head, WAL and blocks.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "base/time.h"
#include "tsdb/matcher.h"

namespace vigil::tsdb {

using SeriesRef = uint64_t;

// Prometheus's staleness marker: a NaN with this exact bit pattern.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
double StaleNaN();
// Inline: queries test every sample they load.
inline bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

struct Options {
  std::string dir;  // the store lives in dir/ (wal/, blocks/, head_chunks/, lock)
  Duration retention{30LL * 24 * 3600 * 1000};
  uint64_t max_bytes = 0;                   // 0: no size cap
  Duration wal_fsync{1000};                 // group commit interval; 0: fsync every commit
  Duration block_range{2LL * 3600 * 1000};  // head data is cut into blocks of this range
  uint64_t wal_segment_bytes = 32 << 20;
  int max_chunk_samples = 120;
  // Downsampling: raw blocks older than the first age get a 5 m copy, 5 m
  // blocks older than the second a 1 h copy; each resolution has its own
  // retention (raw: `retention`).
  Duration downsample_5m_after{40LL * 3600 * 1000};
  Duration downsample_1h_after{10LL * 24 * 3600 * 1000};
  Duration retention_5m{180LL * 24 * 3600 * 1000};
  Duration retention_1h{5LL * 365 * 24 * 3600 * 1000};
  bool downsample = true;
  // Read-only: replays the WAL without repairing it, writes nothing, takes no
  // lock (for `vigil tsdb stats|dump` beside a running vigil).
  bool read_only = false;
  // Readers that follow the WAL from outside (remote write) say which is the
  // oldest segment they still need; checkpoints leave it and later ones in
  // place, with every series record, so the reader finds each ref's labels.
  // Null, or a value past the last segment: nothing is held.
  std::function<int()> wal_held_from;
};

// Buffers samples; Commit makes them durable (WAL) and visible together.
class Appender {
 public:
  virtual ~Appender() = default;
  // Returns the series reference to pass on the next Append of the same
  // series (skips the label lookup). `ref` 0 means "look labels up".
  // Errors: out-of-order or duplicate timestamp, invalid labels.
  virtual Result<SeriesRef> Append(SeriesRef ref, const Labels& labels, TimestampMs t, double v) = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
};

class SampleIterator {
 public:
  virtual ~SampleIterator() = default;
  // Advances; false at the end (check err()).
  virtual bool Next() = 0;
  virtual TimestampMs t() const = 0;
  virtual double v() const = 0;
  virtual Status err() const { return Status::Ok(); }
};

class Series {
 public:
  virtual ~Series() = default;
  virtual const Labels& labels() const = 0;
  // Samples within the querier's [mint, maxt], in time order.
  virtual std::unique_ptr<SampleIterator> Iterator() const = 0;
  // Appends the samples Iterator() yields to *t and *v in one call (no
  // virtual call per sample); an error leaves what was read before it.
  // At least as many samples as AppendSamples appends, to reserve for them
  // beforehand; 0 when unknown.
  virtual size_t SampleCountBound() const { return 0; }
  virtual Status AppendSamples(std::vector<TimestampMs>* t, std::vector<double>* v) const {
    auto it = Iterator();
    while (it->Next()) {
      t->push_back(it->t());
      v->push_back(it->v());
    }
    return it->err();
  }
};

// How a long-range read may use downsampled data.
struct ReadHints {
  // The coarsest resolution acceptable (e.g. the query step); 0: raw only.
  Duration max_resolution{0};
  // Which per-step aggregate stands for the samples of a downsampled step.
  enum class Use { kLast, kMin, kMax, kSum, kCount, kCounter, kAverage } use = Use::kLast;
};

class Querier {
 public:
  virtual ~Querier() = default;
  // Series matching all matchers (at least one must not match the empty
  // string), sorted by labels, with samples in [mint, maxt] of the querier.
  virtual Result<std::vector<std::shared_ptr<Series>>> Select(const std::vector<Matcher>& matchers) = 0;
  // Sorted label names / values of series with samples in range (and passing matchers).
  virtual std::vector<std::string> LabelNames(const std::vector<Matcher>& matchers = {}) = 0;
  virtual std::vector<std::string> LabelValues(const std::string& name, const std::vector<Matcher>& matchers = {}) = 0;
};

// All samples of one series in time order (import, block writing).
struct SeriesSamples {
  Labels labels;  // with __name__
  std::vector<TimestampMs> t;
  std::vector<double> v;
};

struct BlockInfo {
  std::string id;
  TimestampMs min_time = 0, max_time = 0;
  uint64_t num_series = 0, num_samples = 0, size_bytes = 0;
  Duration resolution{0};
  int level = 1;
};

struct Stats {
  uint64_t head_series = 0;
  uint64_t head_samples = 0;
  uint64_t head_chunks = 0;
  TimestampMs head_min_time = 0, head_max_time = 0;
  uint64_t wal_bytes = 0;
  uint64_t blocks_bytes = 0;
  std::vector<BlockInfo> blocks;
  uint64_t out_of_order_total = 0;
  uint64_t duplicate_total = 0;
  uint64_t write_errors_total = 0;
  bool writes_failing = false;  // the last WAL write failed (disk full?)
  std::string last_write_error;
};

struct SnapshotInfo {
  uint64_t blocks = 0;       // blocks in the snapshot (linked or copied, and written from the head)
  uint64_t head_blocks = 0;  // of those, written from the head
  uint64_t head_samples = 0;
  TimestampMs max_time = 0;  // newest sample in the snapshot (0: empty)
};

struct ImportSummary {
  std::vector<BlockInfo> blocks;
  uint64_t samples = 0;  // written
  uint64_t repeats = 0;  // dropped: a series' repeated timestamp keeps its first value, as promtool's backfill does
};

class Import {
 public:
  virtual ~Import() = default;
  // The number to Add the samples of `labels` (with __name__) under; the
  // same labels get the same number. Invalid labels are an error.
  virtual Result<uint32_t> AddSeries(const Labels& labels) = 0;
  virtual Status Add(uint32_t series, TimestampMs t, double v) = 0;
  // Writes the blocks, then compacts. `progress` (may be null) gets 0..1.
  virtual Result<ImportSummary> Finish(const std::function<void(double)>& progress) = 0;
};

class DB {
 public:
  virtual ~DB() = default;
  // Opens (creating if needed) and replays the WAL. Never fails on a torn or
  // corrupt WAL tail: replay stops at the last good record and logs it.
  static Result<std::unique_ptr<DB>> Open(const Options& options);

  virtual std::unique_ptr<Appender> NewAppender() = 0;
  virtual std::unique_ptr<Querier> NewQuerier(TimestampMs mint, TimestampMs maxt) = 0;
  // Like NewQuerier, but reads the coarsest downsampled resolution the hints
  // allow where it exists, and finer data (raw, head) for the rest.
  virtual std::unique_ptr<Querier> NewQuerier(TimestampMs mint, TimestampMs maxt, const ReadHints& hints) = 0;
  // Persists completed head ranges as blocks, compacts, applies retention.
  // The DB calls it itself periodically; tests and tools call it directly.
  virtual Status Maintain(TimestampMs now) = 0;
  // Persists everything in the head into blocks (for import and shutdown of tools).
  virtual Status FlushHead() = 0;
  // Backfill, streaming: samples go through the returned Import in any
  // order, spilled to disk per window, and Finish writes each window
  // straight into one block of the final compaction range, bypassing head
  // and WAL. Memory follows the number of series and one window's samples.
  virtual Result<std::unique_ptr<Import>> NewImport() = 0;
  // The same for series already in memory. `progress` (may be null) gets 0..1.
  Result<std::vector<BlockInfo>> ImportSeries(std::vector<SeriesSamples> series,
                                              const std::function<void(double)>& progress);
  // A consistent copy of the store under `target` (created; it becomes a
  // store dir of its own): every block hard-linked (copied across file
  // systems) and, with `with_head`, the head's samples written as blocks, as
  // Prometheus's snapshot does. Appends go on meanwhile; compaction and
  // retention wait. On failure what was written under `target` is removed.
  virtual Result<SnapshotInfo> Snapshot(const std::string& target, bool with_head) = 0;
  virtual Stats GetStats() = 0;
  virtual Status Close() = 0;

  // For result caches above the store: a number that changes whenever data
  // at or before the watermark may have changed — a sample appended at or
  // before it (late data), an import, retention, blocks rewritten. A cache
  // raises the watermark to the newest time its results depend on (it only
  // rises), reads the generation, then computes.
  virtual uint64_t Generation() const = 0;
  virtual void WatchUpTo(TimestampMs t) = 0;
};

}  // namespace vigil::tsdb
