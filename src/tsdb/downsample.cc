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

namespace {

// The member of a point or a series (they name their aggregates alike) that holds `a`.
template <typename PointOrSeries>
auto& Member(PointOrSeries& s, Aggregate a) {
  switch (a) {
    case Aggregate::kMin: return s.min;
    case Aggregate::kMax: return s.max;
    case Aggregate::kSum: return s.sum;
    case Aggregate::kCount: return s.count;
    case Aggregate::kLast: return s.last;
    case Aggregate::kCounter: return s.counter;
  }
  return s.last;
}

}  // namespace

const std::vector<double>& DownsampledSeries::Values(Aggregate a) const { return Member(*this, a); }

double DownsampledPoint::Value(Aggregate a) const { return Member(*this, a); }

void DownsampledSeries::Append(const DownsampledPoint& p) {
  t.push_back(p.t);
  min.push_back(p.min);
  max.push_back(p.max);
  sum.push_back(p.sum);
  count.push_back(p.count);
  last.push_back(p.last);
  counter.push_back(p.counter);
}

StepDownsampler::StepDownsampler(Duration resolution, const std::optional<CounterCarry>& carry)
    : resolution_ms_(resolution.count()),
      have_prev_(carry.has_value()),
      prev_(carry ? carry->last_raw : 0),
      total_(carry ? carry->total : 0) {}

std::optional<DownsampledPoint> StepDownsampler::Add(TimestampMs t, double v) {
  if (IsStaleNaN(v) || std::isnan(v)) return std::nullopt;
  std::optional<DownsampledPoint> done;
  int64_t s = StepIndex(t, resolution_ms_);
  if (open_ && s != step_) done = Finish();
  if (!open_) {
    point_ = DownsampledPoint{};
    point_.min = point_.max = v;
    step_ = s;
    open_ = true;
  }
  if (!have_prev_) {
    total_ = v;
  } else if (v < prev_) {
    total_ += v;  // a reset: the counter started again from 0
  } else {
    total_ += v - prev_;
  }
  prev_ = v;
  have_prev_ = true;
  point_.t = t;
  point_.min = std::min(point_.min, v);
  point_.max = std::max(point_.max, v);
  point_.sum += v;
  point_.count += 1;
  point_.last = v;
  point_.counter = total_;
  return done;
}

std::optional<DownsampledPoint> StepDownsampler::Finish() {
  if (!open_) return std::nullopt;
  open_ = false;
  return point_;
}

DownsampledSeries Downsample(const std::vector<TimestampMs>& t, const std::vector<double>& v, Duration resolution,
                             const std::optional<CounterCarry>& carry) {
  DownsampledSeries out;
  StepDownsampler steps(resolution, carry);
  for (size_t i = 0; i < t.size(); ++i) {
    if (auto p = steps.Add(t[i], v[i])) out.Append(*p);
  }
  if (auto p = steps.Finish()) out.Append(*p);
  return out;
}

DownsampledSeries Downsample(const DownsampledSeries& in, Duration resolution) {
  DownsampledSeries out;
  const int64_t res = resolution.count();
  std::optional<DownsampledPoint> acc;
  int64_t step = 0;
  for (size_t i = 0; i < in.t.size(); ++i) {
    int64_t s = StepIndex(in.t[i], res);
    if (acc && s != step) {
      out.Append(*acc);
      acc.reset();
    }
    if (!acc) {
      acc = DownsampledPoint{};
      acc->min = in.min[i];
      acc->max = in.max[i];
      step = s;
    }
    acc->t = in.t[i];
    acc->min = std::min(acc->min, in.min[i]);
    acc->max = std::max(acc->max, in.max[i]);
    acc->sum += in.sum[i];
    acc->count += in.count[i];
    acc->last = in.last[i];
    acc->counter = in.counter[i];  // already reset-adjusted and monotonic
  }
  if (acc) out.Append(*acc);
  return out;
}

}  // namespace vigil::tsdb
