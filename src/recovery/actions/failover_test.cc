#include "recovery/actions/failover.h"

#include <gtest/gtest.h>

namespace vigil::recovery {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;

FailoverOptions Options(size_t endpoints) {
  FailoverOptions o;
  o.endpoints = endpoints;
  o.hold_down = Duration(10 * kMinute);
  o.fail_after = 2;
  o.retry_after = Duration(kMinute);
  return o;
}

// Probes every endpoint once at `clock`, then advances it by 5 s.
struct Prober {
  FailoverTracker& tracker;
  FakeClock clock{1'700'000'000'000};
  void Round(std::vector<bool> healthy) {
    for (size_t i = 0; i < healthy.size(); ++i) tracker.Observe(i, healthy[i], clock.NowMs());
    clock.Advance(Duration(5 * kSecond));
  }
  std::optional<FailoverSwitch> Decide() { return tracker.Decide(clock.NowMs()); }
};

TEST(FailoverTrackerTest, SwitchesWhenThePrimaryFails) {
  FailoverTracker tracker(Options(3));
  Prober p{tracker};
  p.Round({true, true, true});
  EXPECT_FALSE(p.Decide());
  p.Round({false, true, true});
  EXPECT_FALSE(p.Decide()) << "one failed probe is not a failure with fail_after=2";
  p.Round({false, true, true});
  std::optional<FailoverSwitch> s = p.Decide();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->from, 0u);
  EXPECT_EQ(s->to, 1u);
  EXPECT_EQ(s->kind, FailoverSwitch::Kind::kActiveFailed);
  EXPECT_EQ(s->reason, "primary failed");
  EXPECT_FALSE(p.Decide()) << "one switch at a time";
  ASSERT_TRUE(tracker.Pending());
  tracker.Confirm(1);
  EXPECT_EQ(tracker.Active(), 1u);
  EXPECT_FALSE(tracker.Pending());
}

TEST(FailoverTrackerTest, PicksTheFirstHealthyStandby) {
  FailoverTracker tracker(Options(3));
  Prober p{tracker};
  p.Round({false, false, true});
  p.Round({false, false, true});
  std::optional<FailoverSwitch> s = p.Decide();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->to, 2u);
}

TEST(FailoverTrackerTest, NoSwitchWhenNoStandbyIsHealthy) {
  FailoverTracker tracker(Options(2));
  Prober p{tracker};
  for (int i = 0; i < 5; ++i) {
    p.Round({false, false});
    EXPECT_FALSE(p.Decide());
  }
  EXPECT_EQ(tracker.Active(), 0u);
}

TEST(FailoverTrackerTest, NeverSwitchesToANeverProbedEndpoint) {
  FailoverTracker tracker(Options(2));
  Prober p{tracker};
  p.Round({false});
  p.Round({false});
  EXPECT_FALSE(p.Decide());
}

TEST(FailoverTrackerTest, FailsBackOnlyAfterTheHoldDown) {
  FailoverTracker tracker(Options(2));
  Prober p{tracker};
  p.Round({false, true});
  p.Round({false, true});
  ASSERT_TRUE(p.Decide());
  tracker.Confirm(1);
  TimestampMs healthy_from = p.clock.NowMs();
  // The primary is back at once, but must stay healthy for the hold-down (10 m).
  while (p.clock.NowMs() - healthy_from < 10 * kMinute - 5 * kSecond) {
    p.Round({true, true});
    EXPECT_FALSE(p.Decide()) << "at +" << (p.clock.NowMs() - healthy_from) / kSecond << "s";
  }
  p.Round({true, true});
  std::optional<FailoverSwitch> back = p.Decide();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->from, 1u);
  EXPECT_EQ(back->to, 0u);
  EXPECT_EQ(back->kind, FailoverSwitch::Kind::kFailback);
  EXPECT_EQ(back->reason, "failback after hold-down");
  tracker.Confirm(0);
  EXPECT_EQ(tracker.Active(), 0u);
}

TEST(FailoverTrackerTest, AFlappingPrimaryIsNotFailedBackTo) {
  FailoverTracker tracker(Options(2));
  Prober p{tracker};
  p.Round({false, true});
  p.Round({false, true});
  ASSERT_TRUE(p.Decide());
  tracker.Confirm(1);
  // Healthy for 9 minutes, one failed probe, healthy again: the clock restarts.
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 9 * 12; ++j) {
      p.Round({true, true});
      EXPECT_FALSE(p.Decide());
    }
    p.Round({false, true});
    EXPECT_FALSE(p.Decide());
  }
  for (int j = 0; j < 10 * 12; ++j) p.Round({true, true});
  EXPECT_TRUE(p.Decide());
}

TEST(FailoverTrackerTest, SingleFailuresOfTheActiveDoNotSwitch) {
  FailoverTracker tracker(Options(2));
  Prober p{tracker};
  for (int i = 0; i < 50; ++i) {
    p.Round({i % 2 == 0, true});
    EXPECT_FALSE(p.Decide()) << "round " << i;
  }
}

TEST(FailoverTrackerTest, RecoveryRightAfterAFailoverWaitsTheFullHoldDown) {
  FailoverTracker tracker(Options(2));
  Prober p{tracker};
  // The primary was healthy for an hour, then fails twice and recovers at once.
  for (int i = 0; i < 12 * 60; ++i) p.Round({true, true});
  p.Round({false, true});
  p.Round({false, true});
  ASSERT_TRUE(p.Decide());
  tracker.Confirm(1);
  TimestampMs switched = p.clock.NowMs();
  while (p.clock.NowMs() - switched < 10 * kMinute - 5 * kSecond) {
    p.Round({true, true});
    EXPECT_FALSE(p.Decide());
  }
  p.Round({true, true});
  EXPECT_TRUE(p.Decide());
}

TEST(FailoverTrackerTest, AFailedStandbyFallsBackToAHealthyPrimaryAtOnce) {
  FailoverTracker tracker(Options(2));
  Prober p{tracker};
  tracker.SetActive(1);
  p.Round({true, false});
  p.Round({true, false});
  std::optional<FailoverSwitch> s = p.Decide();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->to, 0u);
  EXPECT_EQ(s->kind, FailoverSwitch::Kind::kActiveFailed);
  EXPECT_EQ(s->reason, "endpoint 1 failed");
}

TEST(FailoverTrackerTest, AbortKeepsTheActiveAndWaitsBeforeRetrying) {
  FailoverTracker tracker(Options(2));
  Prober p{tracker};
  p.Round({false, true});
  p.Round({false, true});
  ASSERT_TRUE(p.Decide());
  tracker.Abort();
  EXPECT_EQ(tracker.Active(), 0u);
  EXPECT_FALSE(tracker.Pending());
  for (int i = 0; i < 11; ++i) {  // 55 s < retry_after
    p.Round({false, true});
    EXPECT_FALSE(p.Decide());
  }
  p.Round({false, true});
  EXPECT_TRUE(p.Decide());
}

TEST(FailoverTrackerTest, UnknownActiveEndpointIsLeftAlone) {
  FailoverTracker tracker(Options(2));
  tracker.SetActive(std::nullopt);
  Prober p{tracker};
  p.Round({false, true});
  p.Round({false, true});
  EXPECT_FALSE(p.Decide());
  tracker.SetActive(7);  // out of range: unknown too
  EXPECT_FALSE(tracker.Active());
}

}  // namespace
}  // namespace vigil::recovery
