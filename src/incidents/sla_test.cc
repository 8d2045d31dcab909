#include "incidents/sla.h"

#include <gtest/gtest.h>

namespace vigil::incidents {
namespace {

using S = ServiceState;

TEST(SlaCompute, AllUpIsFullAvailability) {
  Availability a = Compute({{0, S::kUp}}, {}, 1000, 11000);
  EXPECT_EQ(a.up_ms, 10000);
  EXPECT_EQ(a.unplanned_ms + a.planned_ms + a.unknown_ms, 0);
  EXPECT_DOUBLE_EQ(*a.Ratio(), 1.0);
}

TEST(SlaCompute, WindowStartingMidOutageCountsOnlyItsPart) {
  // Down from 500 to 3000; the window starts at 1000.
  Availability a = Compute({{0, S::kUp}, {500, S::kDownUnplanned}, {3000, S::kUp}}, {}, 1000, 11000);
  EXPECT_EQ(a.unplanned_ms, 2000);
  EXPECT_EQ(a.up_ms, 8000);
  EXPECT_DOUBLE_EQ(*a.Ratio(), 0.8);
}

TEST(SlaCompute, WindowEndingMidOutage) {
  Availability a = Compute({{0, S::kUp}, {9000, S::kDownUnplanned}}, {}, 0, 10000);
  EXPECT_EQ(a.unplanned_ms, 1000);
  EXPECT_EQ(a.up_ms, 9000);
}

TEST(SlaCompute, TransitionsAfterTheWindowAreIgnored) {
  Availability a = Compute({{0, S::kUp}, {10000, S::kDownUnplanned}, {12000, S::kUp}}, {}, 0, 10000);
  EXPECT_EQ(a.up_ms, 10000);
  EXPECT_EQ(a.unplanned_ms, 0);
}

TEST(SlaCompute, BeforeTheFirstTransitionIsUnknownAndNotCounted) {
  Availability a = Compute({{4000, S::kUp}, {9000, S::kDownUnplanned}}, {}, 0, 10000);
  EXPECT_EQ(a.unknown_ms, 4000);
  EXPECT_EQ(a.known_ms(), 6000);
  EXPECT_DOUBLE_EQ(*a.Ratio(), 5000.0 / 6000.0);
}

TEST(SlaCompute, VigilsOwnDowntimeIsUnknownNotDownNorUp) {
  // vigil stopped at 3000 (unknown) while the service was down, restarted at 7000 and saw it up.
  Availability a = Compute({{0, S::kUp}, {2000, S::kDownUnplanned}, {3000, S::kUnknown}, {7000, S::kUp}}, {}, 0, 10000);
  EXPECT_EQ(a.up_ms, 5000);
  EXPECT_EQ(a.unplanned_ms, 1000);
  EXPECT_EQ(a.unknown_ms, 4000);
  EXPECT_DOUBLE_EQ(*a.Ratio(), 5000.0 / 6000.0);
}

TEST(SlaCompute, NothingKnownHasNoRatio) {
  EXPECT_FALSE(Compute({}, {}, 0, 10000).Ratio().has_value());
  EXPECT_FALSE(Compute({{0, S::kUp}}, {}, 5000, 5000).Ratio().has_value());
  // An inverted window is empty rather than negative.
  Availability a = Compute({{0, S::kUp}}, {}, 5000, 1000);
  EXPECT_EQ(a.known_ms() + a.unknown_ms, 0);
}

TEST(SlaCompute, CleanStopIsPlanned) {
  Availability a = Compute({{0, S::kUp}, {1000, S::kDownPlanned}, {4000, S::kUp}}, {}, 0, 10000);
  EXPECT_EQ(a.planned_ms, 3000);
  EXPECT_EQ(a.unplanned_ms, 0);
  EXPECT_DOUBLE_EQ(*a.Ratio(), 1.0);
}

TEST(SlaCompute, DowntimeInsideAMaintenanceWindowIsPlanned) {
  // Down 2000..8000; maintenance 1000..5000 covers the first 3000 of it.
  Availability a = Compute({{0, S::kUp}, {2000, S::kDownUnplanned}, {8000, S::kUp}}, {{1000, 5000}}, 0, 10000);
  EXPECT_EQ(a.planned_ms, 3000);
  EXPECT_EQ(a.unplanned_ms, 3000);
  EXPECT_EQ(a.up_ms, 4000);
  EXPECT_DOUBLE_EQ(*a.Ratio(), 0.7);
}

TEST(SlaCompute, OverlappingMaintenanceWindowsCountOnce) {
  Availability a =
      Compute({{0, S::kDownUnplanned}}, {{1000, 4000}, {2000, 3000}, {3500, 6000}, {9000, 20000}}, 0, 10000);
  EXPECT_EQ(a.planned_ms, 5000 + 1000);
  EXPECT_EQ(a.unplanned_ms, 4000);
}

TEST(SlaCompute, MaintenanceDoesNotTurnUpOrUnknownIntoPlanned) {
  Availability a = Compute({{2000, S::kUp}, {6000, S::kUnknown}}, {{0, 10000}}, 0, 10000);
  EXPECT_EQ(a.planned_ms, 0);
  EXPECT_EQ(a.up_ms, 4000);
  EXPECT_EQ(a.unknown_ms, 6000);
}

TEST(SlaCompute, RepeatedStatesAndSameTimeTransitions) {
  // Two transitions at one instant: the later one holds.
  Availability a = Compute({{0, S::kUp}, {1000, S::kUp}, {2000, S::kDownUnplanned}, {2000, S::kUp}}, {}, 0, 4000);
  EXPECT_EQ(a.up_ms, 4000);
  EXPECT_EQ(a.unplanned_ms, 0);
}

TEST(SlaBudget, ObjectiveBudgetAndBurnRate) {
  Slo slo{0.99, Duration(100000)};
  // 100 s known, 0.5 s unplanned: half the 1 s budget spent.
  Availability a = Compute({{0, S::kUp}, {10000, S::kDownUnplanned}, {10500, S::kUp}}, {}, 0, 100000);
  ErrorBudget b = Budget(a, slo);
  EXPECT_NEAR(b.budget_ms, 1000, 1e-9);
  EXPECT_DOUBLE_EQ(b.spent_ms, 500);
  EXPECT_NEAR(*b.remaining_ratio, 0.5, 1e-9);
  EXPECT_NEAR(*BurnRate(a, slo), 0.5, 1e-9);
}

TEST(SlaBudget, OverspentBudgetGoesNegative) {
  Slo slo{0.999, Duration(10000)};
  Availability a = Compute({{0, S::kUp}, {0, S::kDownUnplanned}, {100, S::kUp}}, {}, 0, 10000);
  EXPECT_NEAR(*Budget(a, slo).remaining_ratio, 1 - 100.0 / 10.0, 1e-9);
  EXPECT_NEAR(*BurnRate(a, slo), 10.0, 1e-9);
}

TEST(SlaBudget, NothingKnownHasNoBudgetRatioNorBurnRate) {
  Slo slo{0.99, Duration(1000)};
  Availability a = Compute({}, {}, 0, 1000);
  EXPECT_FALSE(Budget(a, slo).remaining_ratio.has_value());
  EXPECT_FALSE(BurnRate(a, slo).has_value());
}

TEST(SlaMonth, CalendarMonthsInUtc) {
  Result<TimeRange> feb = MonthRange("2024-02");
  ASSERT_TRUE(feb.ok());
  EXPECT_EQ(feb->from_ms, 1706745600000);                         // 2024-02-01T00:00:00Z
  EXPECT_EQ(feb->to_ms - feb->from_ms, 29LL * 24 * 3600 * 1000);  // a leap year
  Result<TimeRange> dec = MonthRange("2026-12");
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->to_ms, 1798761600000);  // 2027-01-01T00:00:00Z
}

TEST(SlaMonth, BadMonthsNameTheInput) {
  for (const char* bad : {"2026-13", "2026-00", "26-01", "2026/01", "2026-1", "", "abcd-ef"}) {
    Result<TimeRange> r = MonthRange(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("YYYY-MM"), std::string::npos) << r.status().message();
  }
}

TEST(SlaState, NamesRoundTrip) {
  for (S s : {S::kUnknown, S::kUp, S::kDownUnplanned, S::kDownPlanned}) EXPECT_EQ(ParseState(StateName(s)), s);
  EXPECT_FALSE(ParseState("sideways").has_value());
}

}  // namespace
}  // namespace vigil::incidents
