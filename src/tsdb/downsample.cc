#include "tsdb/downsample.h"

#include <algorithm>
#include <cmath>

namespace vigil::tsdb {

std::string_view AggregateName(Aggregate a) {
  switch (a) {
    case Aggregate::kMin: return "min";
    case Aggregate::kMax: return "max";
    case Aggregate::kSum: return "sum";
    case Aggregate::kCount: return "count";
    case Aggregate::kLast: return "last";
    case Aggregate::kCounter: return "counter";
  }
  return "last";
}

const std::vector<double>& DownsampledSeries::Values(Aggregate a) const {
  switch (a) {
    case Aggregate::kMin: return min;
    case Aggregate::kMax: return max;
    case Aggregate::kSum: return sum;
    case Aggregate::kCount: return count;
    case Aggregate::kLast: return last;
    case Aggregate::kCounter: return counter;
  }
  return last;
}

namespace {


// Accumulates one step; `Flush` appends it to the output.
struct StepAccumulator {
  bool any = false;
  TimestampMs t = 0;
  double min = 0, max = 0, sum = 0, count = 0, last = 0, counter = 0;
  void Flush(DownsampledSeries& out) {
    if (!any) return;
    out.t.push_back(t);
    out.min.push_back(min);
    out.max.push_back(max);
    out.sum.push_back(sum);
    out.count.push_back(count);
    out.last.push_back(last);
    out.counter.push_back(counter);
    any = false;
  }
};

}  // namespace

DownsampledSeries Downsample(const std::vector<TimestampMs>& t, const std::vector<double>& v, Duration resolution,
                             const std::optional<CounterCarry>& carry) {
  DownsampledSeries out;
  const int64_t res = resolution.count();
  StepAccumulator acc;
  int64_t step = 0;
  bool have_prev = carry.has_value();
  double prev = carry ? carry->last_raw : 0;  // previous raw counter value
  double total = carry ? carry->total : 0;    // reset-adjusted running total
  for (size_t i = 0; i < t.size(); ++i) {
    if (IsStaleNaN(v[i]) || std::isnan(v[i])) continue;
    int64_t s = StepIndex(t[i], res);
    if (acc.any && s != step) acc.Flush(out);
    if (!acc.any) {
      acc = StepAccumulator{};
      acc.any = true;
      acc.min = acc.max = v[i];
      step = s;
    }
    if (!have_prev) {
      total = v[i];
    } else if (v[i] < prev) {
      total += v[i];  // a reset: the counter started again from 0
    } else {
      total += v[i] - prev;
    }
    prev = v[i];
    have_prev = true;
    acc.t = t[i];
    acc.min = std::min(acc.min, v[i]);
    acc.max = std::max(acc.max, v[i]);
    acc.sum += v[i];
    acc.count += 1;
    acc.last = v[i];
    acc.counter = total;
  }
  acc.Flush(out);
  return out;
}

DownsampledSeries Downsample(const DownsampledSeries& in, Duration resolution) {
  DownsampledSeries out;
  const int64_t res = resolution.count();
  StepAccumulator acc;
  int64_t step = 0;
  for (size_t i = 0; i < in.t.size(); ++i) {
    int64_t s = StepIndex(in.t[i], res);
    if (acc.any && s != step) acc.Flush(out);
    if (!acc.any) {
      acc = StepAccumulator{};
      acc.any = true;
      acc.min = in.min[i];
      acc.max = in.max[i];
      step = s;
    }
    acc.t = in.t[i];
    acc.min = std::min(acc.min, in.min[i]);
    acc.max = std::max(acc.max, in.max[i]);
    acc.sum += in.sum[i];
    acc.count += in.count[i];
    acc.last = in.last[i];
    acc.counter = in.counter[i];  // already reset-adjusted and monotonic
  }
  acc.Flush(out);
  return out;
}

}  // namespace vigil::tsdb
