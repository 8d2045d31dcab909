// Downsampling: per step of a coarser resolution, the min, max, sum, count
// and last raw value, plus a counter aggregate that survives counter resets,
// so months of data are cheap to read for trends and increase()/rate().
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "tsdb/tsdb.h"

namespace vigil::tsdb {

enum class Aggregate { kMin, kMax, kSum, kCount, kLast, kCounter };
inline constexpr Aggregate kAllAggregates[] = {Aggregate::kMin,   Aggregate::kMax,  Aggregate::kSum,
                                               Aggregate::kCount, Aggregate::kLast, Aggregate::kCounter};
// The value of the __aggr__ label a downsampled series carries.
std::string_view AggregateName(Aggregate a);

// One downsampled step: its aggregates, stamped with its last raw timestamp.
struct DownsampledPoint {
  TimestampMs t = 0;
  double min = 0, max = 0, sum = 0, count = 0, last = 0, counter = 0;
  double Value(Aggregate a) const;
};

struct DownsampledSeries {
  // One point per step that had samples, stamped with the last raw
  // timestamp in the step (so range windows see it where the data was).
  std::vector<TimestampMs> t;
  std::vector<double> min, max, sum, count, last;
  // A running total that only goes up: every counter reset (a drop in the
  // raw value) adds back the value before the drop. increase() over the
  // counter aggregate equals increase() over the raw samples.
  std::vector<double> counter;
  void Append(const DownsampledPoint& p);
  const std::vector<double>& Values(Aggregate a) const;
  std::vector<double>& Values(Aggregate a) {
    return const_cast<std::vector<double>&>(static_cast<const DownsampledSeries*>(this)->Values(a));
  }
};

// Where the counter aggregate of the previous downsampled block ended, so
// that it goes on from there instead of restarting (a restart would read as
// a counter reset and inflate increase() across the block boundary).
struct CounterCarry {
  double last_raw = 0;
  double total = 0;
};

// Builds downsampled steps from raw samples given one at a time in time
// order, for a reader that sees samples as they are written (remote write's
// export resolution); Downsample is this over a whole series, so both give
// the same points.
class StepDownsampler {
 public:
  explicit StepDownsampler(Duration resolution, const std::optional<CounterCarry>& carry = std::nullopt);
  // Adds a sample; returns the previous step when `t` begins a new one.
  // Staleness markers and NaN are skipped.
  std::optional<DownsampledPoint> Add(TimestampMs t, double v);
  // Ends the step being built, if any, and returns it.
  std::optional<DownsampledPoint> Finish();
  // The step being built (a multiple of the resolution since the epoch).
  std::optional<int64_t> open_step() const { return open_ ? std::optional<int64_t>(step_) : std::nullopt; }
  // The newest timestamp in the step being built.
  std::optional<TimestampMs> last_time() const { return open_ ? std::optional<TimestampMs>(point_.t) : std::nullopt; }
  // Raw samples in the step being built.
  double open_count() const { return open_ ? point_.count : 0; }

 private:
  int64_t resolution_ms_;
  bool open_ = false;
  int64_t step_ = 0;
  DownsampledPoint point_;
  bool have_prev_;
  double prev_;   // previous raw counter value
  double total_;  // reset-adjusted running total
};

// Steps are aligned to multiples of `resolution` since the epoch. Staleness
// markers are skipped; NaN values are skipped by min/max/sum/count/counter.
DownsampledSeries Downsample(const std::vector<TimestampMs>& t, const std::vector<double>& v, Duration resolution,
                             const std::optional<CounterCarry>& carry = std::nullopt);

// Re-aggregates already downsampled points to a coarser resolution (5m -> 1h).
DownsampledSeries Downsample(const DownsampledSeries& in, Duration resolution);

}  // namespace vigil::tsdb
