#include "incidents/forecast.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace vigil::incidents {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  double m = *mid;
  if (v.size() % 2 == 0) m = (m + *std::max_element(v.begin(), mid)) / 2;
  return m;
}

// Why this estimator (it backtests best, see docs/capacity.md): growth is the
// sum of the point-to-point changes that are not steps, so noise cancels out
// (unlike a sum of positive changes) and a deletion does not drag the line
// down (unlike least squares). What a step means depends on whether steps
// recur: rotation and pruning take back part of the growth every cycle, so
// their average rate is subtracted; a one-off deletion or a pruning switched
// on starts a new regime, judged on its own once it is long enough.
class Estimator {
 public:
  Estimator(const std::vector<UsagePoint>& p, double capacity, const ForecastOptions& o) : p_(p), o_(o) {
    std::vector<double> changes;
    for (size_t i = 1; i < p_.size(); ++i) changes.push_back(p_[i].used - p_[i - 1].used);
    double med = Median(changes);
    std::vector<double> dev;
    for (double c : changes) dev.push_back(std::fabs(c - med));
    const double sigma = 1.4826 * Median(dev);
    const double threshold = std::max(o_.step_sigmas * sigma, o_.step_min_fraction * capacity);
    is_step_.assign(p_.size(), false);  // is_step_[i]: the fall from i-1 to i
    std::vector<size_t> steps;
    for (size_t i = 1; i < p_.size(); ++i) {
      if (p_[i - 1].used - p_[i].used > threshold) {
        is_step_[i] = true;
        steps.push_back(i);
      }
    }
    // Three or more: a pattern (rotation, pruning), not an accident.
    recurring_ = steps.size() >= 3;
    if (recurring_) {
      // Each fall measured between the fitted lines of the stretches either
      // side of it, so the noise of single points does not enter.
      double taken = 0;
      for (size_t k = 1; k < steps.size(); ++k) {
        size_t before = k == 0 ? 0 : steps[k - 1], after_end = k + 1 < steps.size() ? steps[k + 1] : p_.size();
        Line prev = Fit(before, steps[k]), next = Fit(steps[k], after_end);
        taken += prev.At(p_[steps[k]].t_seconds) - next.At(p_[steps[k]].t_seconds);
      }
      step_rate_ = taken / (p_[steps.back()].t_seconds - p_[steps.front()].t_seconds);
      cycle_seconds_ = (p_[steps.back()].t_seconds - p_[steps.front()].t_seconds) / double(steps.size() - 1);
    }
  }

  struct Line {
    double t0 = 0, v0 = 0, slope = 0;
    double At(double t) const { return v0 + slope * (t - t0); }
  };
  // The least-squares line through points [begin, end); flat through a single point.
  Line Fit(size_t begin, size_t end) const {
    Line l;
    l.t0 = p_[begin].t_seconds;
    double n = 0, sx = 0, sy = 0, sxy = 0, sxx = 0;
    for (size_t i = begin; i < end; ++i) {
      double x = p_[i].t_seconds - l.t0;
      n += 1, sx += x, sy += p_[i].used, sxy += x * p_[i].used, sxx += x * x;
    }
    double var = sxx - sx * sx / n;
    l.slope = n >= 2 && var > 0 ? (sxy - sx * sy / n) / var : 0;
    l.v0 = sy / n - l.slope * sx / n;
    return l;
  }

  bool recurring() const { return recurring_; }
  double cycle_seconds() const { return cycle_seconds_; }
  bool is_step(size_t i) const { return is_step_[i]; }

  // First index with t >= from.
  size_t IndexAt(double from) const {
    return static_cast<size_t>(
        std::lower_bound(p_.begin(), p_.end(), from, [](const UsagePoint& a, double t) { return a.t_seconds < t; }) -
        p_.begin());
  }

  int StepsIn(size_t begin, size_t end) const {
    int n = 0;
    for (size_t i = begin + 1; i < end; ++i) n += is_step_[i] ? 1 : 0;
    return n;
  }

  // After a one-off step that is long enough ago, only the new regime counts.
  size_t RegimeStart(size_t begin, size_t end) const {
    if (recurring_) return begin;
    for (size_t i = end - 1; i > begin; --i) {
      if (!is_step_[i]) continue;
      return p_[end - 1].t_seconds - p_[i].t_seconds >= o_.min_regime_seconds ? i : begin;
    }
    return begin;
  }

  // Net growth per second over points [begin, end) (end - begin >= 2).
  double RateOver(size_t begin, size_t end) const {
    if (recurring_) {
      // Two whole cycles or more: the change of the cycle's mean from the
      // first whole cycle to the last. Phase-aligned at the steps, so the
      // sawtooth cancels exactly (a least-squares line over whole cycles
      // keeps a bias of the in-cycle slope / cycles²), and means of a whole
      // cycle average the noise out.
      std::vector<size_t> steps;
      for (size_t i = begin + 1; i < end; ++i) {
        if (is_step_[i]) steps.push_back(i);
      }
      if (steps.size() >= 3) {
        auto mean = [&](size_t b, size_t e, bool time) {
          double sum = 0;
          for (size_t i = b; i < e; ++i) sum += time ? p_[i].t_seconds : p_[i].used;
          return sum / double(e - b);
        };
        size_t f0 = steps[0], f1 = steps[1], l0 = steps[steps.size() - 2], l1 = steps.back();
        return (mean(l0, l1, false) - mean(f0, f1, false)) / (mean(l0, l1, true) - mean(f0, f1, true));
      }
    } else {
      begin = RegimeStart(begin, end);
    }
    // Each stretch between steps grows along its fitted line until the next
    // stretch starts, which averages out the noise of single points.
    double grown = 0;
    for (size_t start = begin; start < end;) {
      size_t stop = start + 1;
      while (stop < end && !is_step_[stop]) ++stop;
      double until = stop < end ? p_[stop].t_seconds : p_[end - 1].t_seconds;
      grown += Fit(start, stop).slope * (until - p_[start].t_seconds);
      start = stop;
    }
    double span = p_[end - 1].t_seconds - p_[begin].t_seconds;
    return grown / span - step_rate_;
  }

  // Where the forecast starts: the newest level, read robustly. With
  // recurring steps the peaks matter (the disk fills at a peak), so it is the
  // highest point of the last cycle carried forward at `rate`; otherwise the
  // median of the last day of the current regime carried forward.
  double Level(double rate) const {
    const double now = p_.back().t_seconds;
    if (recurring_) {
      double best = p_.back().used;
      for (size_t i = IndexAt(now - cycle_seconds_); i < p_.size(); ++i) {
        best = std::max(best, p_[i].used + rate * (now - p_[i].t_seconds));
      }
      return best;
    }
    std::vector<double> carried;
    for (size_t i = p_.size(); i-- > 0;) {
      if (now - p_[i].t_seconds > 86400) break;
      carried.push_back(p_[i].used + rate * (now - p_[i].t_seconds));
      if (is_step_[i]) break;  // the points before a step belong to the old level
    }
    return Median(carried);
  }

 private:
  const std::vector<UsagePoint>& p_;
  const ForecastOptions& o_;
  std::vector<bool> is_step_;
  bool recurring_ = false;
  double step_rate_ = 0;
  double cycle_seconds_ = 0;
};

std::optional<double> SecondsToFull(double headroom, double rate, double max_seconds) {
  if (headroom <= 0) return 0.0;
  if (rate <= 0) return std::nullopt;
  double s = headroom / rate;
  if (s > max_seconds) return std::nullopt;
  return s;
}

}  // namespace

Result<Forecast> ForecastUsage(const std::vector<UsagePoint>& points, double capacity, const ForecastOptions& options) {
  if (!std::isfinite(capacity) || capacity <= 0) {
    char shown[32];
    std::snprintf(shown, sizeof shown, "%g", capacity);
    return Status::Error(std::string("capacity forecast: capacity ") + shown +
                         " is not a positive number (no size or total read for it?)");
  }
  if (points.size() < 3) {
    return Status::Error("capacity forecast: " + std::to_string(points.size()) +
                         (points.size() == 1 ? " point" : " points") + " of history, at least 3 are needed");
  }
  if (options.horizons_seconds.empty()) return Status::Error("capacity forecast: no horizons");
  for (size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(points[i].t_seconds) || !std::isfinite(points[i].used)) {
      return Status::Error("capacity forecast: point " + std::to_string(i) + " is not a finite number");
    }
    if (i > 0 && points[i].t_seconds <= points[i - 1].t_seconds) {
      return Status::Error("capacity forecast: point " + std::to_string(i) +
                           " at t=" + std::to_string(points[i].t_seconds) + " is not after the one before it");
    }
  }

  if (const double span = points.back().t_seconds - points.front().t_seconds; span < options.min_history_seconds) {
    char text[96];
    std::snprintf(text, sizeof text, "capacity forecast: %.1f h of history, at least %.1f h are needed",
                  span / 3600, options.min_history_seconds / 3600);
    return Status::Error(text);
  }

  Estimator est(points, capacity, options);
  Forecast f;
  f.capacity = capacity;
  f.t_now = points.back().t_seconds;
  f.recurring_steps = est.recurring();

  std::optional<size_t> chosen;
  for (double h : options.horizons_seconds) {
    size_t begin = est.IndexAt(f.t_now - h);
    if (points.size() - begin < 2) begin = points.size() - 2;
    HorizonGrowth g;
    g.horizon_seconds = h;
    g.covered_seconds = f.t_now - points[begin].t_seconds;
    g.rate = est.RateOver(begin, points.size());
    g.steps = est.StepsIn(begin, points.size());
    f.horizons.push_back(g);
    if (!chosen && g.covered_seconds >= h / 2) chosen = f.horizons.size() - 1;
  }
  if (!chosen) {  // a short history: the horizon that sees most of it
    chosen = 0;
    for (size_t k = 1; k < f.horizons.size(); ++k) {
      if (f.horizons[k].covered_seconds > f.horizons[*chosen].covered_seconds) chosen = k;
    }
  }
  const HorizonGrowth& main = f.horizons[*chosen];
  f.rate = main.rate;
  f.estimate_horizon_seconds = main.horizon_seconds;
  f.steps = main.steps;

  // The band: how much the rate differs between the quarters of the
  // estimate's horizon and between the other horizons that have data.
  f.rate_low = f.rate_high = f.rate;
  const size_t begin = est.RegimeStart(est.IndexAt(f.t_now - main.covered_seconds), points.size());
  const double quarter = (f.t_now - points[begin].t_seconds) / 4;
  for (int q = 0; q < 4; ++q) {
    size_t b = est.IndexAt(points[begin].t_seconds + q * quarter);
    size_t e = q == 3 ? points.size() : est.IndexAt(points[begin].t_seconds + (q + 1) * quarter) + 1;
    e = std::min(e, points.size());
    if (e < b + 2) continue;
    double r = est.RateOver(b, e);
    f.rate_low = std::min(f.rate_low, r);
    f.rate_high = std::max(f.rate_high, r);
  }
  for (const HorizonGrowth& g : f.horizons) {
    if (g.covered_seconds < g.horizon_seconds / 2) continue;
    f.rate_low = std::min(f.rate_low, g.rate);
    f.rate_high = std::max(f.rate_high, g.rate);
  }

  f.used = est.Level(f.rate);
  const double headroom = capacity - f.used;
  f.seconds_to_full = SecondsToFull(headroom, f.rate, options.max_seconds_to_full);
  if (f.seconds_to_full) {
    f.seconds_to_full_low = SecondsToFull(headroom, f.rate_high, options.max_seconds_to_full);
    f.seconds_to_full_high = SecondsToFull(headroom, f.rate_low, options.max_seconds_to_full);
  }
  return f;
}

std::optional<LinearFit> PredictLinear(const std::vector<UsagePoint>& points, double window_seconds) {
  if (points.empty()) return std::nullopt;
  const double now = points.back().t_seconds;
  // Prometheus: x relative to the evaluation time, windows left-open.
  double n = 0, sx = 0, sy = 0, sxy = 0, sxx = 0;
  for (const UsagePoint& p : points) {
    if (p.t_seconds <= now - window_seconds) continue;
    double x = p.t_seconds - now;
    n += 1;
    sx += x;
    sy += p.used;
    sxy += x * p.used;
    sxx += x * x;
  }
  if (n < 2) return std::nullopt;
  double cov = sxy - sx * sy / n, var = sxx - sx * sx / n;
  LinearFit fit;
  fit.slope = cov / var;
  fit.value_now = sy / n - fit.slope * sx / n;
  return fit;
}

std::optional<double> PredictLinearSecondsToFull(const std::vector<UsagePoint>& points, double window_seconds,
                                                 double capacity) {
  auto fit = PredictLinear(points, window_seconds);
  if (!fit) return std::nullopt;
  if (fit->value_now >= capacity) return 0.0;
  if (fit->slope <= 0) return std::nullopt;
  return (capacity - fit->value_now) / fit->slope;
}

}  // namespace vigil::incidents
