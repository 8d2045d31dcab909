#include "remote/step_export.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigil::remote {
namespace {

constexpr int64_t kMinute = 60000;
constexpr TimestampMs kNow = 1'800'000'000'000;  // wall clock: after every sample here

std::vector<tsdb::WalSample> Samples(tsdb::SeriesRef ref, TimestampMs from, TimestampMs to, int64_t every,
                                     double (*value)(TimestampMs)) {
  std::vector<tsdb::WalSample> out;
  for (TimestampMs t = from; t < to; t += every) out.push_back({ref, t, value(t)});
  return out;
}

double Gauge(TimestampMs t) { return std::sin(static_cast<double>(t) / 100000.0) * 10; }
double Counter(TimestampMs t) { return static_cast<double>((t / 1000) % 500); }  // resets every 500 s

TEST(StepExport, StepsCloseAGracePeriodAfterTheirEndAndEqualTheStoresDownsampling) {
  StepExport e(Duration(5 * kMinute), Duration(kMinute), 0);
  auto gauge = Samples(1, 0, 16 * kMinute, 1000, Gauge);
  auto counter = Samples(2, 0, 16 * kMinute, 1000, Counter);
  std::vector<StepPoint> closed;
  // Up to 5:59 read: the first step (0–5 m) is still within its grace period.
  for (TimestampMs t = 0; t < 6 * kMinute; t += 1000) {
    size_t i = static_cast<size_t>(t / 1000);
    e.Add({gauge[i], counter[i]}, WalPosition{0, static_cast<uint64_t>(i)}, kNow);
  }
  e.TakeClosed(&closed);
  EXPECT_TRUE(closed.empty());
  e.Add({gauge[360], counter[360]}, WalPosition{0, 360}, kNow);  // 6:00: the first step closes
  e.TakeClosed(&closed);
  ASSERT_EQ(closed.size(), 2u);
  // Restart from the first read of the step still open (5:00).
  EXPECT_EQ(e.RestartFrom({0, 361}), (WalPosition{0, 300}));
  EXPECT_EQ(e.closed_before(), 5 * kMinute);
  for (size_t i = 361; i < gauge.size(); ++i) e.Add({gauge[i], counter[i]}, WalPosition{0, i}, kNow);
  e.TakeClosed(&closed);  // 15:59 read: steps 1 (5–10 m) closed, 2 (10–15 m) within its grace

  std::vector<TimestampMs> t;
  std::vector<double> gv, cv;
  for (size_t i = 0; i < 10 * 60; ++i) {
    t.push_back(gauge[i].t);
    gv.push_back(gauge[i].v);
    cv.push_back(counter[i].v);
  }
  tsdb::DownsampledSeries want_gauge = tsdb::Downsample(t, gv, Duration(5 * kMinute));
  tsdb::DownsampledSeries want_counter = tsdb::Downsample(t, cv, Duration(5 * kMinute));
  ASSERT_EQ(closed.size(), 4u);
  for (size_t step = 0; step < 2; ++step) {
    int matched = 0;  // each step has a point of both series
    for (const StepPoint& p : closed) {
      const tsdb::DownsampledSeries& want = p.ref == 1 ? want_gauge : want_counter;
      if (p.point.t != want.t[step]) continue;
      ++matched;
      EXPECT_EQ(p.point.t, (static_cast<TimestampMs>(step) + 1) * 5 * kMinute - 1000);
      EXPECT_EQ(p.point.last, want.last[step]);
      EXPECT_EQ(p.point.min, want.min[step]);
      EXPECT_EQ(p.point.max, want.max[step]);
      EXPECT_EQ(p.point.sum, want.sum[step]);
      EXPECT_EQ(p.point.count, 300);
    }
    EXPECT_EQ(matched, 2) << "step " << step;
  }
  // Points come out in step order.
  EXPECT_LE(closed[0].point.t, closed[2].point.t);
  EXPECT_LT(closed[1].point.t, closed[3].point.t);
}

TEST(StepExport, ARestartSkipsStepsAlreadySentAndRebuildsTheOpenOneWhole) {
  auto gauge = Samples(1, 0, 12 * kMinute, 1000, Gauge);
  StepExport first(Duration(5 * kMinute), Duration(kMinute), 0);
  std::vector<StepPoint> sent;
  for (size_t i = 0; i < 8 * 60; ++i) first.Add({gauge[i]}, WalPosition{0, i}, kNow);
  first.TakeClosed(&sent);
  ASSERT_EQ(sent.size(), 1u);
  SavedPosition saved{first.RestartFrom({0, 8 * 60}), first.closed_before()};
  EXPECT_EQ(saved.wal, (WalPosition{0, 300}));

  // The next run reads again from the saved position, through the end.
  StepExport second(Duration(5 * kMinute), Duration(kMinute), saved.closed_before);
  for (size_t i = saved.wal.offset; i < gauge.size(); ++i) second.Add({gauge[i]}, WalPosition{0, i}, kNow);
  second.TakeClosed(&sent);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].point.t, 10 * kMinute - 1000);
  EXPECT_EQ(sent[1].point.count, 300);  // whole, though the first run had read half of it
  EXPECT_EQ(second.late_samples(), 0u);
}

TEST(StepExport, SamplesForAClosedStepAreCountedLate) {
  StepExport e(Duration(5 * kMinute), Duration(kMinute), 0);
  std::vector<StepPoint> out;
  e.Add({{1, 7 * kMinute, 1}}, {0, 0}, kNow);
  e.TakeClosed(&out);
  e.Add({{2, 4 * kMinute, 1}, {1, 6 * kMinute, 2}}, {0, 1}, kNow);  // a closed step; out of order in its series
  EXPECT_EQ(e.late_samples(), 2u);
  // A timestamp far ahead of the wall clock does not close anything.
  e.Add({{3, kNow + 3600000, 1}}, {0, 2}, kNow);
  EXPECT_EQ(e.closed_before(), 5 * kMinute);
  EXPECT_EQ(e.DropOpen(), 2u);  // series 1's and series 3's open steps, one sample each
  EXPECT_EQ(e.RestartFrom({0, 9}), (WalPosition{0, 9}));
}

TEST(SavedPosition, ReadsWhatItWritesAndThePositionOfARawTarget) {
  SavedPosition p{{3, 4096}, 1'800'000'000'000};
  EXPECT_EQ(ParseSavedPosition(FormatSavedPosition(p)), p);
  EXPECT_EQ(FormatSavedPosition({{3, 4096}, 0}), "3 4096\n");  // as before export resolution existed
  EXPECT_EQ(ParseSavedPosition("3 4096\n"), (SavedPosition{{3, 4096}, 0}));
  EXPECT_FALSE(ParseSavedPosition("3"));
  EXPECT_FALSE(ParseSavedPosition("3 x 5"));
  EXPECT_FALSE(ParseSavedPosition("3 4 5 6"));
}

}  // namespace
}  // namespace vigil::remote
