#include "incidents/ledger.h"

#include <gtest/gtest.h>

#include "base/testing/temp_dir.h"
#include "incidents/report.h"

namespace vigil::incidents {
namespace {

using S = ServiceState;

std::unique_ptr<Ledger> OpenLedger(const std::string& path) {
  auto opened = Ledger::Open(path);
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  return opened.ok() ? std::move(*opened) : nullptr;
}

std::vector<std::pair<TimestampMs, S>> Rows(Ledger& ledger, const std::string& service, TimestampMs from) {
  auto t = ledger.Transitions(service, from);
  EXPECT_TRUE(t.ok()) << t.status().message();
  std::vector<std::pair<TimestampMs, S>> out;
  if (t.ok()) {
    for (const auto& x : *t) out.emplace_back(x.time_ms, x.state);
  }
  return out;
}

TEST(SlaLedger, RecordsOnlyChangesAndReadsFromTheStateInForce) {
  testing::TempDir dir;
  auto ledger = OpenLedger(dir.path() + "/state.db");
  ASSERT_TRUE(ledger->Record("validator", 1000, S::kUp).ok());
  ASSERT_TRUE(ledger->Record("validator", 2000, S::kUp).ok());  // no change: no row
  ASSERT_TRUE(ledger->Record("validator", 3000, S::kDownUnplanned).ok());
  ASSERT_TRUE(ledger->Record("validator", 5000, S::kUp).ok());
  ASSERT_TRUE(ledger->Record("bitcoind", 1500, S::kDownPlanned).ok());
  using R = std::vector<std::pair<TimestampMs, S>>;
  EXPECT_EQ(Rows(*ledger, "validator", 0), (R{{1000, S::kUp}, {3000, S::kDownUnplanned}, {5000, S::kUp}}));
  // From 4000: the outage that began at 3000 is the state in force.
  EXPECT_EQ(Rows(*ledger, "validator", 4000), (R{{3000, S::kDownUnplanned}, {5000, S::kUp}}));
  EXPECT_EQ(Rows(*ledger, "validator", 3000), (R{{3000, S::kDownUnplanned}, {5000, S::kUp}}));
  EXPECT_EQ(Rows(*ledger, "bitcoind", 0), (R{{1500, S::kDownPlanned}}));
  EXPECT_TRUE(Rows(*ledger, "titan", 0).empty());
  auto services = ledger->Services();
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(*services, (std::vector<std::string>{"bitcoind", "validator"}));
}

TEST(SlaLedger, AClockSteppingBackNeverReordersTheLedger) {
  testing::TempDir dir;
  auto ledger = OpenLedger(dir.path() + "/state.db");
  ASSERT_TRUE(ledger->Record("s", 5000, S::kUp).ok());
  ASSERT_TRUE(ledger->Record("s", 4000, S::kDownUnplanned).ok());
  using R = std::vector<std::pair<TimestampMs, S>>;
  EXPECT_EQ(Rows(*ledger, "s", 0), (R{{5000, S::kUp}, {5000, S::kDownUnplanned}}));
}

TEST(SlaLedger, ACrashedRunBecomesUnknownFromItsLastHeartbeat) {
  testing::TempDir dir;
  std::string path = dir.path() + "/state.db";
  {
    auto ledger = OpenLedger(path);
    ASSERT_TRUE(ledger->Record("a", 1000, S::kUp).ok());
    ASSERT_TRUE(ledger->Record("b", 1000, S::kUp).ok());
    ASSERT_TRUE(ledger->Record("b", 7000, S::kDownUnplanned).ok());  // after the last heartbeat
    ASSERT_TRUE(ledger->Heartbeat(6000).ok());
  }  // "crash": nothing else written
  auto ledger = OpenLedger(path);
  ASSERT_TRUE(ledger->CloseInterruptedRun().ok());
  ASSERT_TRUE(ledger->Record("a", 20000, S::kUp).ok());
  using R = std::vector<std::pair<TimestampMs, S>>;
  EXPECT_EQ(Rows(*ledger, "a", 0), (R{{1000, S::kUp}, {6000, S::kUnknown}, {20000, S::kUp}}));
  EXPECT_EQ(Rows(*ledger, "b", 0), (R{{1000, S::kUp}, {7000, S::kDownUnplanned}, {7000, S::kUnknown}}));
  // Computed over the whole run: a's 14 s without vigil are neither up nor down.
  auto a = ledger->Transitions("a", 0);
  ASSERT_TRUE(a.ok());
  Availability av = Compute(*a, {}, 0, 30000);
  EXPECT_EQ(av.unknown_ms, 1000 + 14000);
  EXPECT_EQ(av.up_ms, 5000 + 10000);
}

TEST(SlaLedger, TrimKeepsTheStateInForce) {
  testing::TempDir dir;
  auto ledger = OpenLedger(dir.path() + "/state.db");
  for (TimestampMs t = 0; t < 10; ++t) {
    ASSERT_TRUE(ledger->Record("s", t * 1000, t % 2 ? S::kDownUnplanned : S::kUp).ok());
  }
  ASSERT_TRUE(ledger->Record("other", 0, S::kUp).ok());
  ASSERT_TRUE(ledger->Trim(5500).ok());
  using R = std::vector<std::pair<TimestampMs, S>>;
  EXPECT_EQ(Rows(*ledger, "s", 0), (R{{5000, S::kDownUnplanned},
                                      {6000, S::kUp},
                                      {7000, S::kDownUnplanned},
                                      {8000, S::kUp},
                                      {9000, S::kDownUnplanned}}));
  EXPECT_EQ(Rows(*ledger, "other", 0), (R{{0, S::kUp}}));
}

TEST(SlaLedger, ReadOnlyNeedsAnExistingFile) {
  testing::TempDir dir;
  auto missing = Ledger::Open(dir.path() + "/none.db", /*read_only=*/true);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("none.db"), std::string::npos) << missing.status().message();
}

TEST(SlaReport, RecurringMaintenanceIsAskedOnlyForUnplannedDownStretches) {
  testing::TempDir dir;
  auto ledger = OpenLedger(dir.path() + "/state.db");
  constexpr TimestampMs kHour = 3'600'000, kNow = 100 * kHour;
  ASSERT_TRUE(ledger->Record("app", kNow - 10 * kHour, S::kUp).ok());
  ASSERT_TRUE(ledger->Record("app", kNow - 5 * kHour, S::kDownUnplanned).ok());
  ASSERT_TRUE(ledger->Record("app", kNow - 3 * kHour, S::kUp).ok());
  ServiceSlaOptions o;
  o.service = "app";
  std::vector<TimeRange> asked;
  // A "weekly" window covering the first of the two hours down.
  o.recurring_maintenance = [&](TimeRange r) {
    asked.push_back(r);
    return std::vector<TimeRange>{{kNow - 5 * kHour, kNow - 4 * kHour}};
  };
  ReportRequest request;
  request.now_ms = kNow;
  auto reports = BuildReport(*ledger, {o}, request);
  ASSERT_TRUE(reports.ok()) << reports.status().message();
  ASSERT_EQ(reports->size(), 1u);
  const Availability& day = (*reports)[0].windows[0].availability;  // 24h
  EXPECT_EQ(day.planned_ms, kHour);
  EXPECT_EQ(day.unplanned_ms, kHour);
  ASSERT_EQ(asked.size(), 1u);  // the down stretch only, not the 30 days
  EXPECT_EQ(asked[0].from_ms, kNow - 5 * kHour);
  EXPECT_EQ(asked[0].to_ms, kNow - 3 * kHour);
}

}  // namespace
}  // namespace vigil::incidents
