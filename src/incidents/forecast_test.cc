#include "incidents/forecast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

namespace vigil::incidents {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kDay = 86400;

// Hourly points (what the 1 h downsampled history holds) over `days`.
std::vector<UsagePoint> Hourly(double days, const std::function<double(double day)>& used_gib) {
  std::vector<UsagePoint> p;
  for (double h = 0; h <= days * 24; h += 1) p.push_back({1.8e9 + h * 3600, used_gib(h / 24) * kGiB});
  return p;
}

double Days(const std::optional<double>& s) { return s ? *s / kDay : -1; }

TEST(ForecastTest, LinearGrowth) {
  auto f = ForecastUsage(Hourly(30, [](double d) { return 700 + 4 * d; }), 1000 * kGiB);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_NEAR(f->rate * kDay / kGiB, 4, 1e-9);
  EXPECT_NEAR(f->used / kGiB, 820, 1e-6);
  EXPECT_NEAR(Days(f->seconds_to_full), 45, 1e-6);
  EXPECT_EQ(f->steps, 0);
  EXPECT_FALSE(f->recurring_steps);
  // Every horizon sees the same rate, so the band is the estimate.
  ASSERT_EQ(f->horizons.size(), 3u);
  for (const auto& h : f->horizons) EXPECT_NEAR(h.rate * kDay / kGiB, 4, 1e-9);
  EXPECT_NEAR(Days(f->seconds_to_full_low), 45, 1e-6);
  EXPECT_NEAR(Days(f->seconds_to_full_high), 45, 1e-6);
}

TEST(ForecastTest, NoiseWidensTheBandAroundTheTruth) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 1);
  auto f = ForecastUsage(Hourly(30, [&](double d) { return 700 + 4 * d + noise(rng); }), 1000 * kGiB);
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f->rate * kDay / kGiB, 4, 0.5);
  EXPECT_EQ(f->steps, 0) << "noise is no step";
  EXPECT_LT(*f->seconds_to_full_low, *f->seconds_to_full);
  EXPECT_GT(*f->seconds_to_full_high, *f->seconds_to_full);
  // The band is the spread of the rate between quarters: a few days here.
  EXPECT_GT(Days(f->seconds_to_full_high) - Days(f->seconds_to_full_low), 2);
  EXPECT_LT(Days(f->seconds_to_full_low), 45 * 1.05);
  EXPECT_GT(Days(f->seconds_to_full_high), 45 * 0.95);
}

TEST(ForecastTest, DailyRotationIsSubtracted) {
  // The chain grows 3 GiB/day; logs grow 6 GiB/day and are deleted at midnight.
  auto f = ForecastUsage(Hourly(30, [](double d) { return 700 + 3 * d + 6 * (d - std::floor(d)); }), 1000 * kGiB);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->recurring_steps);
  EXPECT_EQ(f->steps, 7);
  EXPECT_NEAR(f->rate * kDay / kGiB, 3, 0.05);
  // The disk fills at a peak: the level is the last peak carried forward.
  EXPECT_GT(f->used / kGiB, 700 + 3 * 30 + 5.5);
}

TEST(ForecastTest, OneOffDeletionStartsANewRegime) {
  auto f = ForecastUsage(Hourly(30, [](double d) { return 700 + 4 * d - (d >= 27 ? 150 : 0); }), 1000 * kGiB);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->recurring_steps);
  EXPECT_EQ(f->steps, 1);
  EXPECT_NEAR(f->rate * kDay / kGiB, 4, 1e-9);
  EXPECT_NEAR(f->used / kGiB, 670, 1e-6);
  EXPECT_NEAR(Days(f->seconds_to_full), 330 / 4.0, 1e-6);
}

TEST(ForecastTest, PruningSawtoothHoldsTheLevel) {
  // Pruning deletes 2 GiB of blocks every 12 h while the chain grows 4 GiB/day.
  auto f = ForecastUsage(Hourly(30,
                                [](double d) {
                                  double half = d * 2 - std::floor(d * 2);
                                  return 800 + half * 2.0;
                                }),
                         1000 * kGiB);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->recurring_steps);
  EXPECT_NEAR(f->rate * kDay / kGiB, 0, 0.05);
  EXPECT_FALSE(f->seconds_to_full.has_value() && *f->seconds_to_full < 365 * kDay);
}

TEST(ForecastTest, FlatAndShrinkingNeverFill) {
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 0.5);
  auto flat = ForecastUsage(Hourly(30, [&](double) { return 900 + noise(rng); }), 1000 * kGiB);
  ASSERT_TRUE(flat.ok());
  EXPECT_FALSE(flat->seconds_to_full.has_value() && *flat->seconds_to_full < 365 * kDay) << Days(flat->seconds_to_full);
  auto shrinking = ForecastUsage(Hourly(30, [](double d) { return 900 - 2 * d; }), 1000 * kGiB);
  ASSERT_TRUE(shrinking.ok());
  EXPECT_LT(shrinking->rate, 0);
  EXPECT_FALSE(shrinking->seconds_to_full.has_value());
  EXPECT_FALSE(shrinking->seconds_to_full_low.has_value());
}

TEST(ForecastTest, AlreadyFullIsZero) {
  auto f = ForecastUsage(Hourly(2, [](double) { return 1000; }), 1000 * kGiB);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Days(f->seconds_to_full), 0);
}

TEST(ForecastTest, ShortHistoryUsesTheHorizonThatSeesMostOfIt) {
  // 7 hours: no horizon is half covered; the first of the preferred ones is used.
  auto f = ForecastUsage(Hourly(0.3, [](double d) { return 100 + 2 * d; }), 1000 * kGiB);
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f->rate * kDay / kGiB, 2, 1e-9);
  EXPECT_EQ(f->estimate_horizon_seconds, 7 * kDay);
}

TEST(ForecastTest, BadInputsAreNamed) {
  auto few = ForecastUsage({{1, 1}, {2, 2}}, 10);
  ASSERT_FALSE(few.ok());
  EXPECT_EQ(few.status().message(), "capacity forecast: 2 points of history, at least 3 are needed");
  auto unsorted = ForecastUsage({{1, 1}, {3, 2}, {2, 3}}, 10);
  ASSERT_FALSE(unsorted.ok());
  EXPECT_NE(unsorted.status().message().find("point 2 at t=2"), std::string::npos) << unsorted.status().message();
  auto nan = ForecastUsage({{1, 1}, {2, NAN}, {3, 3}}, 10);
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.status().message(), "capacity forecast: point 1 is not a finite number");
  auto one = ForecastUsage({{1, 1}}, 10);
  EXPECT_EQ(one.status().message(), "capacity forecast: 1 point of history, at least 3 are needed");
  auto cap = ForecastUsage({{1, 1}, {2, 2}, {3, 3}}, 0);
  ASSERT_FALSE(cap.ok());
  EXPECT_EQ(cap.status().message(),
            "capacity forecast: capacity 0 is not a positive number (no size or total read for it?)");
}

TEST(ForecastTest, PredictLinearIsLeastSquaresAtNow) {
  std::vector<UsagePoint> p = {{0, 1}, {10, 2}, {20, 3}, {30, 10}};
  auto all = PredictLinear(p, 100);
  ASSERT_TRUE(all.has_value());
  // x = -30,-20,-10,0; y = 1,2,3,10: slope 0.28, mean y 4 at mean x -15.
  EXPECT_NEAR(all->slope, 0.28, 1e-12);
  EXPECT_NEAR(all->value_now, 4 + 0.28 * 15, 1e-12);
  // Left-open: a window of exactly 30 s leaves out t=0.
  auto open = PredictLinear(p, 30);
  ASSERT_TRUE(open.has_value());
  EXPECT_NEAR(open->slope, 0.4, 1e-12);
  EXPECT_FALSE(PredictLinear({{0, 1}}, 10).has_value());
  EXPECT_NEAR(*PredictLinearSecondsToFull(p, 100, 12), (12 - all->value_now) / 0.28, 1e-9);
}

}  // namespace
}  // namespace vigil::incidents
