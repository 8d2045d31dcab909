#include "watchdog/progress.h"

#include <gtest/gtest.h>

namespace vigil::watchdog {
namespace {

constexpr int64_t kNow = 5'000'000;

std::vector<Progress> Limits(Duration collection, Duration storage, Duration notification) {
  return {{kCollection, kNow, collection}, {kStorage, kNow, storage}, {kNotification, kNow, notification}};
}

TEST(DecideTest, PingsWhileEverySubsystemIsWithinItsLimit) {
  auto p = Limits(Duration(4000), Duration(4000), Duration(4000));
  p[0].last_ms = kNow - 4000;  // exactly at the limit: not yet a stall
  p[2].last_ms = kNow - 10;
  Verdict v = Decide(p, kNow);
  EXPECT_TRUE(v.ping);
  EXPECT_TRUE(v.stalled.empty());
}

TEST(DecideTest, NamesTheStalledSubsystemAndForHowLong) {
  auto p = Limits(Duration(4000), Duration(4000), Duration(4000));
  p[2].last_ms = kNow - 4001;
  Verdict v = Decide(p, kNow);
  EXPECT_FALSE(v.ping);
  ASSERT_EQ(v.stalled.size(), 1u);
  EXPECT_EQ(v.stalled[0].subsystem, kNotification);
  EXPECT_EQ(v.stalled[0].stalled_for, Duration(4001));
  EXPECT_EQ(v.stalled[0].limit, Duration(4000));
}

TEST(DecideTest, EachSubsystemHasItsOwnLimit) {
  auto p = Limits(Duration(45000), Duration(45000), Duration(25000));
  p[0].last_ms = kNow - 30000;  // collection: fine at 30 s
  p[2].last_ms = kNow - 30000;  // notification: stalled at 30 s
  Verdict v = Decide(p, kNow);
  ASSERT_EQ(v.stalled.size(), 1u);
  EXPECT_EQ(v.stalled[0].subsystem, kNotification);
}

// A stuck store also stops collections (they wait for it): the one stalled
// longest, likely the cause, comes first.
TEST(DecideTest, SeveralStallsLongestFirst) {
  auto p = Limits(Duration(4000), Duration(4000), Duration(4000));
  p[0].last_ms = kNow - 6000;
  p[1].last_ms = kNow - 9000;
  Verdict v = Decide(p, kNow);
  EXPECT_FALSE(v.ping);
  ASSERT_EQ(v.stalled.size(), 2u);
  EXPECT_EQ(v.stalled[0].subsystem, kStorage);
  EXPECT_EQ(v.stalled[1].subsystem, kCollection);
  EXPECT_EQ(Describe(v.stalled),
            "storage made no progress for 9s (limit 4s); collection made no progress for 6s (limit 4s)");
}

TEST(DecideTest, AHeartbeatAfterNowIsProgress) {
  auto p = Limits(Duration(4000), Duration(4000), Duration(4000));
  p[1].last_ms = kNow + 50;  // beat landed between reading the clock and reading the beat
  EXPECT_TRUE(Decide(p, kNow).ping);
}

TEST(DecideTest, ProgressAfterAStallPingsAgain) {
  auto p = Limits(Duration(4000), Duration(4000), Duration(4000));
  p[2].last_ms = kNow - 5000;
  EXPECT_FALSE(Decide(p, kNow).ping);
  p[2].last_ms = kNow;
  EXPECT_TRUE(Decide(p, kNow).ping);
}

Duration LimitOf(const std::vector<Progress>& limits, const std::string& subsystem) {
  for (const auto& l : limits) {
    if (l.subsystem == subsystem) return l.stall_after;
  }
  ADD_FAILURE() << "no limit for " << subsystem;
  return Duration(0);
}

TEST(StallLimitsTest, TwiceTheWatchdogTimeoutInProduction) {
  Cadence c;
  c.watchdog_timeout = Duration(30000);
  c.scrape_interval = Duration(15000);
  c.delivers = true;
  auto l = StallLimits(c);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(LimitOf(l, kCollection), Duration(60000));
  EXPECT_EQ(LimitOf(l, kStorage), Duration(60000));
  EXPECT_EQ(LimitOf(l, kNotification), Duration(60000));
}

TEST(StallLimitsTest, SixtySecondsWithoutSystemdsWatchdog) {
  auto l = StallLimits(Cadence{});
  EXPECT_EQ(LimitOf(l, kCollection), Duration(60000));
  EXPECT_EQ(LimitOf(l, kNotification), Duration(60000));
}

// A short WatchdogSec never makes a legitimately slow subsystem a stall.
TEST(StallLimitsTest, NeverBelowASubsystemsOwnCadence) {
  Cadence c;
  c.watchdog_timeout = Duration(2000);
  c.scrape_interval = Duration(1000);
  auto l = StallLimits(c);
  EXPECT_EQ(LimitOf(l, kCollection), Duration(5000));
  EXPECT_EQ(LimitOf(l, kStorage), Duration(5000));
  EXPECT_EQ(LimitOf(l, kNotification), Duration(5000));

  c.scrape_interval = Duration(60000);  // collections once a minute
  c.delivers = true;                    // a send may take its whole timeout, then a forward too
  l = StallLimits(c);
  EXPECT_EQ(LimitOf(l, kCollection), Duration(180000));
  EXPECT_EQ(LimitOf(l, kStorage), Duration(180000));
  EXPECT_EQ(LimitOf(l, kNotification), Duration(25000));
}

}  // namespace
}  // namespace vigil::watchdog
