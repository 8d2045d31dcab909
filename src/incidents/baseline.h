// Learned baselines for degradation detection (docs/degradation.md): what a
// series normally reads at this time of day (or of the week), as a median and
// a band of robust sigmas (1.4826 × MAD), learned from its own past. Pure: no
// clock, no storage; the caller passes the samples and the time to ask about.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace vigil::incidents {

enum class Season { kDaily, kWeekly };
// Which side is bad: latency up, block rate down.
enum class BaselineDirection { kUp, kDown, kBoth };

struct BaselineOptions {
  Season season = Season::kDaily;
  double bucket_seconds = 3600;  // must divide a day
  double tolerance = 3;          // half-width of the band in robust sigmas
  double min_width = 0;          // floor of the half-width, so a flat series does not alert on noise
  // A bucket is learned only from this many distinct days (weeks for an
  // hour-of-week bucket): one odd day never defines "normal".
  int min_periods = 3;
};

struct BaselineSample {
  double t_seconds = 0;  // Unix seconds
  double value = 0;
};

struct Band {
  double median = 0, lower = 0, upper = 0;
  size_t samples = 0;  // the samples backing the bucket the band came from
};

class BaselineModel {
 public:
  // Learns from `history` in any order; NaN and infinite values are skipped.
  static BaselineModel Learn(const std::vector<BaselineSample>& history, const BaselineOptions& options);

  // The band at `t_seconds`: the hour-of-week bucket when weekly and learned,
  // else the hour-of-day bucket; nullopt when neither has enough history.
  // No global fallback: a whole-day band would call every daily peak abnormal.
  std::optional<Band> At(double t_seconds) const;

  size_t samples() const { return samples_; }  // usable samples learned from

 private:
  struct Bucket {
    bool learned = false;
    Band band;
  };
  Bucket Stats(std::vector<BaselineSample>& points, double period_seconds) const;

  BaselineOptions options_;
  size_t samples_ = 0;
  std::vector<Bucket> daily_;   // by bucket of the day
  std::vector<Bucket> weekly_;  // by bucket of the week; empty when daily
};

// True when `value` is outside `band` on the side `direction` names.
bool OutsideBand(const Band& band, double value, BaselineDirection direction);

}  // namespace vigil::incidents
