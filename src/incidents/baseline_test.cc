#include "incidents/baseline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>

namespace vigil::incidents {
namespace {

constexpr double kDay = 86400;
constexpr double kStart = 20833 * kDay;  // 2027-01-15T00:00:00Z, a Friday

// RPC latency in seconds: 0.1 s at night, a daily peak of 3x at 14:00 UTC,
// each day's level a little different, and ±8 % noise on every sample.
struct LatencySeries {
  std::mt19937 rng{20261206};
  std::normal_distribution<double> noise{0, 0.08};
  std::vector<double> day_level;
  double slowdown_start = 0, slowdown_end = 0, slowdown_factor = 1;

  explicit LatencySeries(int days) {
    std::uniform_real_distribution<double> level(0.95, 1.05);
    for (int d = 0; d < days; ++d) day_level.push_back(level(rng));
  }
  double Normal(double t) {
    const double hour = std::fmod(t, kDay) / 3600;
    const double peak = 2 * std::exp(-(hour - 14) * (hour - 14) / (2 * 1.5 * 1.5));
    return 0.1 * (1 + peak) * day_level[static_cast<size_t>((t - kStart) / kDay)] * (1 + noise(rng));
  }
  double At(double t) {
    const double v = Normal(t);
    return t >= slowdown_start && t < slowdown_end ? v * slowdown_factor : v;
  }
};

struct Episode {
  double start, end;  // firing from start until the condition cleared at end
};

// Replays `minutes` of 1-minute samples the way the agent and the rule would:
// the model is relearned every `refresh` from the history before it, read
// at the agent's resolution (bucket / 6); a Prometheus `for:` of `hold`
// turns "outside the band" into alert episodes.
std::vector<Episode> Replay(const std::vector<BaselineSample>& series, const BaselineOptions& options,
                            BaselineDirection direction, double history_seconds, double refresh_seconds = 300,
                            double hold_seconds = 1800) {
  const double read_step = options.bucket_seconds / 6;
  std::vector<BaselineSample> read;  // what a range query at read_step returns
  std::vector<Episode> episodes;
  BaselineModel model;
  double learned_at = -1e18, pending_since = -1;
  bool firing = false;
  size_t first_kept = 0;
  for (const BaselineSample& s : series) {
    const double t = s.t_seconds;
    if (std::fmod(t - kStart, read_step) == 0) read.push_back(s);
    if (t - learned_at >= refresh_seconds) {
      while (first_kept < read.size() && read[first_kept].t_seconds < t - history_seconds) ++first_kept;
      model = BaselineModel::Learn(
          std::vector<BaselineSample>(read.begin() + static_cast<ptrdiff_t>(first_kept), read.end()), options);
      learned_at = t;
    }
    std::optional<Band> band = model.At(t);
    const bool outside = band && OutsideBand(*band, s.value, direction);
    if (!outside) {
      if (firing) episodes.back().end = t;
      firing = false;
      pending_since = -1;
      continue;
    }
    if (pending_since < 0) pending_since = t;
    if (!firing && t - pending_since >= hold_seconds) {
      firing = true;
      episodes.push_back({t, series.back().t_seconds});
    }
  }
  return episodes;
}

std::vector<BaselineSample> Minutes(int days, const std::function<double(double)>& value) {
  std::vector<BaselineSample> s;
  for (int m = 0; m < days * 1440; ++m) s.push_back({kStart + m * 60.0, value(kStart + m * 60.0)});
  return s;
}

TEST(BaselineTest, MonthWithDailyPeaksAndOneSlowdownAlertsOnce) {
  LatencySeries latency(30);
  latency.slowdown_start = kStart + 23 * kDay + 3 * 3600;  // day 24, 03:00–05:00 UTC, 2.5x
  latency.slowdown_end = latency.slowdown_start + 2 * 3600;
  latency.slowdown_factor = 2.5;
  auto series = Minutes(30, [&](double t) { return latency.At(t); });
  BaselineOptions o;  // daily, 1 h buckets, 3 robust sigmas
  auto episodes = Replay(series, o, BaselineDirection::kUp, 28 * kDay);

  int false_positives = 0;
  for (const Episode& e : episodes) {
    const bool in_slowdown = e.start >= latency.slowdown_start && e.start < latency.slowdown_end;
    if (!in_slowdown) ++false_positives;
    std::printf("episode %.0f–%.0f min after the slowdown began%s\n", (e.start - latency.slowdown_start) / 60,
                (e.end - latency.slowdown_start) / 60, in_slowdown ? "" : " (false positive)");
  }
  std::printf("30 days, 43200 samples: %zu alert episode(s), %d false positive(s)\n", episodes.size(), false_positives);
  ASSERT_EQ(episodes.size(), 1u);
  EXPECT_EQ(false_positives, 0);
  // Fires once `for: 30m` has held, clears when the slowdown ends.
  EXPECT_EQ(episodes[0].start, latency.slowdown_start + 1800);
  EXPECT_EQ(episodes[0].end, latency.slowdown_end);

  // The same month against one band for the whole day (a 1-day bucket):
  // every afternoon peak is "abnormal", which is why buckets follow the clock.
  BaselineOptions whole_day = o;
  whole_day.bucket_seconds = kDay;
  auto naive = Replay(series, whole_day, BaselineDirection::kUp, 28 * kDay, 3600);
  std::printf("one band for the whole day: %zu alert episode(s)\n", naive.size());
  EXPECT_GT(naive.size(), 20u);

  // The band at the daily peak follows the peak: 3x the night's median.
  std::vector<BaselineSample> history(series.begin(), series.begin() + 28 * 1440);
  BaselineModel m = BaselineModel::Learn(history, o);
  auto night = m.At(kStart + 28 * kDay + 3 * 3600 + 1800);
  auto peak = m.At(kStart + 28 * kDay + 14 * 3600);
  ASSERT_TRUE(night && peak);
  EXPECT_NEAR(night->median, 0.1, 0.01);
  EXPECT_NEAR(peak->median / night->median, 3, 0.3);
  EXPECT_LT(night->upper, 0.25);  // the slowdown's level is outside the night's band
  EXPECT_GT(peak->upper, 0.3);
}

TEST(BaselineTest, NoBandWithoutThreeDaysOfHistory) {
  LatencySeries latency(3);
  auto series = Minutes(3, [&](double t) { return latency.At(t); });
  BaselineOptions o;
  std::vector<BaselineSample> two_days(series.begin(), series.begin() + 2 * 1440);
  BaselineModel m = BaselineModel::Learn(two_days, o);
  EXPECT_EQ(m.samples(), 2u * 1440);
  EXPECT_FALSE(m.At(kStart + 2 * kDay + 3600));
  // Nothing learned, nothing alerts, however far the value goes.
  latency.slowdown_start = kStart;
  latency.slowdown_end = kStart + 3 * kDay;
  latency.slowdown_factor = 10;
  auto slow = Minutes(3, [&](double t) { return latency.At(t); });
  EXPECT_TRUE(Replay(std::vector<BaselineSample>(slow.begin(), slow.begin() + 2 * 1440 + 600), o,
                     BaselineDirection::kBoth, 28 * kDay)
                  .empty());
  EXPECT_FALSE(BaselineModel().At(kStart));
}

TEST(BaselineTest, FlatSeriesNeedsMinWidthAndFasterIsNoDegradation) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> blip(0, 99);
  // Titan lag: 0 blocks, with a 1-block blip now and then; MAD is 0.
  auto flat = Minutes(20, [&](double) { return blip(rng) < 3 ? 1.0 : 0.0; });
  BaselineOptions o;
  BaselineModel m = BaselineModel::Learn(flat, o);
  ASSERT_TRUE(m.At(kStart + 20 * kDay));
  EXPECT_EQ(m.At(kStart + 20 * kDay)->upper, 0);  // without a floor every blip is "abnormal"
  o.min_width = 3;
  EXPECT_TRUE(Replay(flat, o, BaselineDirection::kUp, 28 * kDay, 3600, 0).empty());
  EXPECT_EQ(BaselineModel::Learn(flat, o).At(kStart + 20 * kDay)->upper, 3);

  // Latency halving on day 20 (a faster disk): lower than normal is no
  // degradation when only "up" is bad; "down" sees the same change.
  auto faster = Minutes(30, [&](double t) { return t < kStart + 20 * kDay ? 0.2 : 0.1; });
  EXPECT_TRUE(Replay(faster, BaselineOptions{}, BaselineDirection::kUp, 28 * kDay, 3600).empty());
  auto down = Replay(faster, BaselineOptions{}, BaselineDirection::kDown, 28 * kDay, 3600);
  ASSERT_FALSE(down.empty());
  EXPECT_EQ(down[0].start, kStart + 20 * kDay + 1800);
}

TEST(BaselineTest, WeeklySeasonLearnsTheWeekend) {
  // Block processing rate: 6/h on weekdays, 3/h on weekends (kStart is a Friday).
  auto weekday_of = [](double t) { return static_cast<int>(std::floor(t / kDay) + 4) % 7; };  // 0 = Sunday
  auto rate = [&](double t) {
    int wd = weekday_of(t);
    return (wd == 0 || wd == 6 ? 3.0 : 6.0) + std::sin(t / 600) * 0.2;
  };
  auto series = Minutes(35, rate);
  BaselineOptions daily;
  daily.min_width = 0.5;
  BaselineOptions weekly = daily;
  weekly.season = Season::kWeekly;
  // Daily buckets take the weekday level as normal: every weekend is "too slow".
  EXPECT_GE(Replay(series, daily, BaselineDirection::kDown, 28 * kDay, 3600).size(), 2u);
  // Hour-of-week buckets need three weeks; until then the daily ones answer,
  // so only the first weekend (before three weeks) alerts.
  auto weekly_episodes = Replay(series, weekly, BaselineDirection::kDown, 28 * kDay, 3600);
  EXPECT_FALSE(weekly_episodes.empty());
  for (const Episode& e : weekly_episodes) EXPECT_LT(e.start, kStart + 21 * kDay);
  const double saturday = kStart + 29 * kDay + 12 * 3600;
  ASSERT_EQ(weekday_of(saturday), 6);
  auto band = BaselineModel::Learn(series, weekly).At(saturday);
  ASSERT_TRUE(band);
  EXPECT_NEAR(band->median, 3, 0.3);
}

TEST(BaselineTest, OutsideBandHonoursDirection) {
  Band b{1, 0.5, 1.5, 10};
  EXPECT_TRUE(OutsideBand(b, 2, BaselineDirection::kUp));
  EXPECT_FALSE(OutsideBand(b, 0.1, BaselineDirection::kUp));
  EXPECT_TRUE(OutsideBand(b, 0.1, BaselineDirection::kDown));
  EXPECT_FALSE(OutsideBand(b, 2, BaselineDirection::kDown));
  EXPECT_TRUE(OutsideBand(b, 2, BaselineDirection::kBoth));
  EXPECT_FALSE(OutsideBand(b, 1.4, BaselineDirection::kBoth));
}

}  // namespace
}  // namespace vigil::incidents
