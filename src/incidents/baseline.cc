#include "incidents/baseline.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace vigil::incidents {
namespace {

constexpr double kDaySeconds = 86400;
constexpr double kWeekSeconds = 7 * kDaySeconds;
// MAD × this estimates the standard deviation of normally distributed noise.
constexpr double kMadToSigma = 1.4826;

size_t BucketOf(double t, double period, double bucket) {
  double in_period = std::fmod(t, period);
  if (in_period < 0) in_period += period;
  return static_cast<size_t>(in_period / bucket);
}

double Median(std::vector<double>& v) {
  size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) m = (m + *std::max_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(mid))) / 2;
  return m;
}

}  // namespace

BaselineModel::Bucket BaselineModel::Stats(std::vector<BaselineSample>& points, double period_seconds) const {
  Bucket b;
  if (points.empty()) return b;
  std::set<long long> periods;
  for (const auto& p : points) periods.insert(static_cast<long long>(std::floor(p.t_seconds / period_seconds)));
  if (static_cast<int>(periods.size()) < options_.min_periods) return b;
  std::vector<double> values;
  values.reserve(points.size());
  for (const auto& p : points) values.push_back(p.value);
  const double median = Median(values);
  for (double& v : values) v = std::fabs(v - median);
  const double half = std::max(options_.tolerance * kMadToSigma * Median(values), options_.min_width);
  b.learned = true;
  b.band = {median, median - half, median + half, points.size()};
  return b;
}

BaselineModel BaselineModel::Learn(const std::vector<BaselineSample>& history, const BaselineOptions& options) {
  BaselineModel m;
  m.options_ = options;
  const size_t per_day = static_cast<size_t>(std::llround(kDaySeconds / options.bucket_seconds));
  if (options.bucket_seconds <= 0 || per_day == 0) return m;
  std::vector<std::vector<BaselineSample>> daily(per_day), weekly;
  if (options.season == Season::kWeekly) weekly.resize(per_day * 7);
  for (const auto& s : history) {
    if (!std::isfinite(s.value) || !std::isfinite(s.t_seconds)) continue;
    ++m.samples_;
    daily[BucketOf(s.t_seconds, kDaySeconds, options.bucket_seconds) % per_day].push_back(s);
    if (!weekly.empty())
      weekly[BucketOf(s.t_seconds, kWeekSeconds, options.bucket_seconds) % weekly.size()].push_back(s);
  }
  for (auto& points : daily) m.daily_.push_back(m.Stats(points, kDaySeconds));
  for (auto& points : weekly) m.weekly_.push_back(m.Stats(points, kWeekSeconds));
  return m;
}

std::optional<Band> BaselineModel::At(double t_seconds) const {
  if (daily_.empty() || !std::isfinite(t_seconds)) return std::nullopt;
  if (!weekly_.empty()) {
    const Bucket& w = weekly_[BucketOf(t_seconds, kWeekSeconds, options_.bucket_seconds) % weekly_.size()];
    if (w.learned) return w.band;
  }
  const Bucket& d = daily_[BucketOf(t_seconds, kDaySeconds, options_.bucket_seconds) % daily_.size()];
  if (d.learned) return d.band;
  return std::nullopt;
}

bool OutsideBand(const Band& band, double value, BaselineDirection direction) {
  const bool above = value > band.upper, below = value < band.lower;
  switch (direction) {
    case BaselineDirection::kUp: return above;
    case BaselineDirection::kDown: return below;
    case BaselineDirection::kBoth: return above || below;
  }
  return false;
}

}  // namespace vigil::incidents
