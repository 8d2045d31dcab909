// Capacity forecasts: a resource's growth rate and time to full from its
// history, robust to deletions, log rotation, compaction and pruning steps
// that fool a least-squares line (PromQL's predict_linear). Pure: no clock,
// no storage; the caller passes the points (docs/capacity.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::incidents {

struct UsagePoint {
  double t_seconds = 0;  // Unix seconds
  double used = 0;       // bytes (or any unit the capacity shares)
};

struct ForecastOptions {
  // Growth is judged over each of these, newest data last; the first one
  // with data that covers at least half of it becomes the estimate, in this
  // order of preference.
  std::vector<double> horizons_seconds = {7 * 86400.0, 30 * 86400.0, 86400.0};
  // A fall is a step (deletion, rotation, prune, compaction) when it exceeds
  // this many robust standard deviations of the point-to-point changes...
  double step_sigmas = 6;
  // ...and this fraction of the capacity (so noise on a still disk is no step).
  double step_min_fraction = 0.001;
  // A segment after a one-off step counts as a new regime once it is this long.
  double min_regime_seconds = 86400;
  // Longer than this is "not in any useful time": reported as never full.
  double max_seconds_to_full = 5 * 365 * 86400.0;
  // Less history than this is refused: minutes of an install's writes or a
  // burst of memory say nothing about days (and must not page).
  double min_history_seconds = 6 * 3600.0;
};

struct HorizonGrowth {
  double horizon_seconds = 0;
  double covered_seconds = 0;  // how much of the horizon had data
  double rate = 0;             // used units per second, net of recurring steps
  int steps = 0;               // downward steps seen in it
};

struct Forecast {
  double capacity = 0;
  double used = 0;   // the level the forecast starts from (at the newest point)
  double t_now = 0;  // the newest point's time
  std::vector<HorizonGrowth> horizons;
  double rate = 0, rate_low = 0, rate_high = 0;  // per second; the estimate and its band
  double estimate_horizon_seconds = 0;
  bool recurring_steps = false;  // rotation/pruning: falls are part of the steady state
  int steps = 0;                 // downward steps in the estimate's horizon
  // Seconds until used reaches capacity; nullopt: flat, shrinking or beyond
  // max_seconds_to_full. `low` is the earliest (fastest growth), `high` the latest.
  std::optional<double> seconds_to_full, seconds_to_full_low, seconds_to_full_high;
};

// Forecasts from points sorted by time (at least 3, capacity > 0). Errors name
// the first bad input.
Result<Forecast> ForecastUsage(const std::vector<UsagePoint>& points, double capacity,
                               const ForecastOptions& options = {});

// PromQL's predict_linear(used[window], 0) and its slope: the least-squares
// line through the points in (t_now - window, t_now]. For comparison in
// backtests and the docs; nullopt with fewer than two points.
struct LinearFit {
  double slope = 0;      // per second
  double value_now = 0;  // the line at t_now
};
std::optional<LinearFit> PredictLinear(const std::vector<UsagePoint>& points, double window_seconds);
// Seconds to full by that line; nullopt when it does not rise.
std::optional<double> PredictLinearSecondsToFull(const std::vector<UsagePoint>& points, double window_seconds,
                                                 double capacity);

}  // namespace vigil::incidents
