#include "tsdb/downsample.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigil::tsdb {
namespace {

constexpr Duration kMin5{300000};

TEST(Downsample, GaugeAggregatesPerStep) {
  // Two 5 m steps: [0, 300000) and [300000, 600000).
  std::vector<TimestampMs> t{10000, 100000, 290000, 310000, 320000};
  std::vector<double> v{3, 1, 2, 10, 20};
  DownsampledSeries d = Downsample(t, v, kMin5);
  ASSERT_EQ(d.t, (std::vector<TimestampMs>{290000, 320000}));  // last raw timestamp of each step
  EXPECT_EQ(d.min, (std::vector<double>{1, 10}));
  EXPECT_EQ(d.max, (std::vector<double>{3, 20}));
  EXPECT_EQ(d.sum, (std::vector<double>{6, 30}));
  EXPECT_EQ(d.count, (std::vector<double>{3, 2}));
  EXPECT_EQ(d.last, (std::vector<double>{2, 20}));
}

TEST(Downsample, CounterResetsAreAddedBack) {
  // 0,5,9 | reset to 2, then 4 | reset to 1 at the start of the next step.
  std::vector<TimestampMs> t{0, 100000, 200000, 250000, 299000, 300000, 400000};
  std::vector<double> v{0, 5, 9, 2, 4, 1, 3};
  DownsampledSeries d = Downsample(t, v, kMin5);
  ASSERT_EQ(d.t.size(), 2u);
  EXPECT_EQ(d.counter[0], 13);  // 0 -> 9 is 9, reset to 2 adds 2, 2 -> 4 adds 2
  EXPECT_EQ(d.counter[1], 16);  // reset to 1 adds 1, 1 -> 3 adds 2
  EXPECT_EQ(d.last, (std::vector<double>{4, 3}));
  // The counter aggregate never goes down.
  EXPECT_LE(d.counter[0], d.counter[1]);
}

TEST(Downsample, CounterCarriesOnFromThePreviousBlock) {
  // The previous block ended at raw 4 with an adjusted total of 13.
  DownsampledSeries d = Downsample({600000, 700000}, {6, 1}, kMin5, CounterCarry{4, 13});
  ASSERT_EQ(d.counter.size(), 1u);
  EXPECT_EQ(d.counter[0], 13 + 2 + 1);  // 4 -> 6 adds 2, then a reset to 1 adds 1
}

TEST(Downsample, StaleMarkersAndNaNAreSkipped) {
  std::vector<TimestampMs> t{0, 1000, 2000, 3000};
  std::vector<double> v{1, StaleNaN(), std::nan(""), 3};
  DownsampledSeries d = Downsample(t, v, kMin5);
  ASSERT_EQ(d.t.size(), 1u);
  EXPECT_EQ(d.count[0], 2);
  EXPECT_EQ(d.sum[0], 4);
  EXPECT_EQ(d.t[0], 3000);
}

TEST(Downsample, ReaggregatingMatchesDownsamplingRawData) {
  std::vector<TimestampMs> t;
  std::vector<double> v;
  double c = 0;
  for (int i = 0; i < 7200; ++i) {  // 2 h at 1 s with a reset every 1000 samples
    t.push_back(1700000000000LL + i * 1000LL);
    c = (i % 1000 == 999) ? 0 : c + (i % 7);
    v.push_back(c);
  }
  DownsampledSeries hour_direct = Downsample(t, v, Duration(3600000));
  DownsampledSeries hour_via_5m = Downsample(Downsample(t, v, kMin5), Duration(3600000));
  EXPECT_EQ(hour_direct.t, hour_via_5m.t);
  EXPECT_EQ(hour_direct.min, hour_via_5m.min);
  EXPECT_EQ(hour_direct.max, hour_via_5m.max);
  EXPECT_EQ(hour_direct.sum, hour_via_5m.sum);
  EXPECT_EQ(hour_direct.count, hour_via_5m.count);
  EXPECT_EQ(hour_direct.last, hour_via_5m.last);
  EXPECT_EQ(hour_direct.counter, hour_via_5m.counter);
}

TEST(Downsample, NegativeTimestampsAlignToSteps) {
  DownsampledSeries d = Downsample({-1, 0}, {1, 2}, kMin5);
  EXPECT_EQ(d.t.size(), 2u);
}

}  // namespace
}  // namespace vigil::tsdb
