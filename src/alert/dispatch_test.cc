// Grouping timers, muting (silences, inhibition, maintenance windows) and
// flap control, all on a FakeClock.
#include "alert/dispatch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vigil::alert {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// 2026-11-23 (a Monday) 12:00:00 UTC.
constexpr TimestampMs kMonday = 1795435200000;
constexpr Duration kS{1000};

Alert Firing(Labels l, TimestampMs at = kMonday) {
  Alert a;
  a.labels = std::move(l);
  a.starts_at = at;
  return a;
}
Alert Resolved(Alert a, TimestampMs at) {
  a.ends_at = at;
  return a;
}

// critical -> pager (group_wait 0), high -> pager (10 s), medium/low -> hourly digest.
std::shared_ptr<const Route> SeverityRoutes() {
  RouteSpec root;
  root.receiver = "slack";
  root.group_by = std::vector<std::string>{"alertname", "service"};
  root.group_wait = Duration(10000);
  root.group_interval = Duration(60000);
  root.repeat_interval = Duration(3600000);
  RouteSpec critical;
  critical.matchers = {"severity=critical"};
  critical.receiver = "pager";
  critical.group_wait = Duration(0);
  RouteSpec digest;
  digest.matchers = {"severity=~\"medium|low\""};
  digest.receiver = "digest";
  digest.group_by = std::vector<std::string>{};
  digest.group_wait = Duration(3600000);
  digest.group_interval = Duration(3600000);
  digest.repeat_interval = Duration(24 * 3600000);
  root.routes = {critical, digest};
  auto built = Route::Build(root);
  return std::shared_ptr<const Route>(std::move(*built));
}

struct Fixture {
  FakeClock clock{kMonday};
  Dispatcher d;
  explicit Fixture(Inhibitor inh = Inhibitor({}), std::vector<MaintenanceWindow> w = {}, FlapOptions f = {})
      : d(SeverityRoutes(), std::move(inh), std::move(w), f, clock) {}
};

Labels Down(const std::string& service) {
  return {{"alertname", "ServiceDown"}, {"service", service}, {"severity", "critical"}};
}

TEST(Dispatcher, CriticalGoesOutAtOnceThenRepeatsOnlyAfterRepeatInterval) {
  Fixture f;
  f.d.Update(Firing(Down("bitcoind")));
  ASSERT_EQ(f.d.NextFlush(), kMonday);
  auto n = f.d.Flush();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].receiver, "pager");
  EXPECT_EQ(n[0].group_labels, (Labels{{"alertname", "ServiceDown"}, {"service", "bitcoind"}}));
  // Unchanged: nothing at the next group_interval ticks, until repeat_interval.
  for (int i = 0; i < 59; ++i) {
    f.clock.Advance(Duration(60000));
    EXPECT_THAT(f.d.Flush(), IsEmpty()) << i;
  }
  f.clock.Advance(Duration(60000));
  EXPECT_THAT(f.d.Flush(), SizeIs(1));
}

TEST(Dispatcher, GroupWaitCollectsThenGroupIntervalBatchesChanges) {
  Fixture f;
  Labels a{{"alertname", "Lag"}, {"instance", "1"}, {"service", "titan"}, {"severity", "high"}};
  Labels b{{"alertname", "Lag"}, {"instance", "2"}, {"service", "titan"}, {"severity", "high"}};
  f.d.Update(Firing(a));
  f.clock.Advance(5 * kS);
  f.d.Update(Firing(b));
  EXPECT_THAT(f.d.Flush(), IsEmpty());  // group_wait is 10 s from the first alert
  f.clock.Advance(5 * kS);
  auto n = f.d.Flush();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_THAT(n[0].alerts, SizeIs(2));
  // b resolves: told at the next group_interval, not before.
  f.d.Update(Resolved(Firing(b), f.clock.NowMs()));
  f.clock.Advance(30 * kS);
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  f.clock.Advance(30 * kS);
  n = f.d.Flush();
  ASSERT_THAT(n, SizeIs(1));
  ASSERT_THAT(n[0].alerts, SizeIs(2));
  EXPECT_TRUE(n[0].alerts[0].resolved() || n[0].alerts[1].resolved());
  // a resolves too: the group sends its resolve and disappears.
  f.d.Update(Resolved(Firing(a), f.clock.NowMs()));
  f.clock.Advance(60 * kS);
  n = f.d.Flush();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_TRUE(n[0].alerts[0].resolved());
  EXPECT_EQ(f.d.group_count(), 0u);
  EXPECT_EQ(f.d.NextFlush(), std::nullopt);
}

// As Alertmanager: an alert that started longer than group_wait ago is not
// held for group_wait again; one that just started is.
TEST(Dispatcher, AnAlertOlderThanGroupWaitIsNotHeldForIt) {
  Fixture f;
  f.clock.Advance(60 * kS);
  Labels old_alert{{"alertname", "Lag"}, {"service", "titan"}, {"severity", "high"}};
  f.d.Update(Firing(old_alert, kMonday));  // started a minute ago; group_wait is 10 s
  ASSERT_EQ(f.d.NextFlush(), f.clock.NowMs());
  auto n = f.d.Flush();
  ASSERT_THAT(n, SizeIs(1));
  // Once the group has spoken, group_interval batches as before.
  Labels another{{"alertname", "Lag"}, {"service", "titan"}, {"severity", "high"}, {"instance", "2"}};
  f.d.Update(Firing(another, kMonday));
  EXPECT_THAT(f.d.Flush(), IsEmpty());

  Labels fresh{{"alertname", "Lag"}, {"service", "validator"}, {"severity", "high"}};
  f.d.Update(Firing(fresh, f.clock.NowMs() - 5000));  // 5 s old: its new group waits group_wait
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  f.clock.Advance(10 * kS);
  EXPECT_THAT(f.d.Flush(), SizeIs(1));
}

// A restart: the new dispatcher starts from the persisted notification log.
TEST(Dispatcher, RestoredLogNeitherRepeatsNorLosesTheResolve) {
  Fixture before;
  before.d.Update(Firing(Down("bitcoind")));
  ASSERT_THAT(before.d.Flush(), SizeIs(1));
  auto changes = before.d.TakeSentChanges();
  ASSERT_THAT(changes, SizeIs(1));
  ASSERT_TRUE(changes.begin()->second.has_value());
  EXPECT_EQ(changes.begin()->second->firing, std::set<std::string>{Fingerprint(Down("bitcoind"))});
  EXPECT_THAT(before.d.TakeSentChanges(), IsEmpty());  // taken once
  std::map<std::string, SentState> log{{changes.begin()->first, *changes.begin()->second}};

  // Without the log the firing alert is announced again...
  Fixture amnesiac;
  amnesiac.clock.Advance(60 * kS);
  amnesiac.d.Update(Firing(Down("bitcoind")));
  EXPECT_THAT(amnesiac.d.Flush(), SizeIs(1));
  // ...with it, only once repeat_interval has passed since the first page.
  Fixture after;
  after.clock.Advance(60 * kS);
  after.d.RestoreSent(log, Duration(15 * 60000));
  after.d.Update(Firing(Down("bitcoind")));
  EXPECT_THAT(after.d.Flush(), IsEmpty());
  after.clock.Advance(Duration(59 * 60000));
  EXPECT_THAT(after.d.Flush(), SizeIs(1));

  // An alert that resolved while vigil was down: its group has not formed
  // again, yet the resolve goes out because the log says it was paged.
  Fixture resolved;
  resolved.clock.Advance(60 * kS);
  resolved.d.RestoreSent(log, Duration(15 * 60000));
  resolved.d.Update(Resolved(Firing(Down("bitcoind")), resolved.clock.NowMs()));
  auto n = resolved.d.Flush();
  ASSERT_THAT(n, SizeIs(1));
  ASSERT_THAT(n[0].alerts, SizeIs(1));
  EXPECT_TRUE(n[0].alerts[0].resolved());
  auto gone = resolved.d.TakeSentChanges();
  ASSERT_THAT(gone, SizeIs(1));
  EXPECT_FALSE(gone.begin()->second.has_value());  // the group is done: its entry is deleted
  // A resolve the log knows nothing about is still not sent.
  resolved.d.Update(Resolved(Firing(Down("titan")), resolved.clock.NowMs()));
  EXPECT_THAT(resolved.d.Flush(), IsEmpty());
}

TEST(Dispatcher, UnclaimedLogEntriesAreForgottenAfterTheClaimWindow) {
  Fixture f;
  SentState s{{"abc"}, {}, kMonday - 1000};
  f.d.RestoreSent({{"gone-route:{}", s}}, Duration(60000));
  EXPECT_THAT(f.d.SentLog(), SizeIs(1));
  f.clock.Advance(59 * kS);
  (void)f.d.Flush();
  EXPECT_THAT(f.d.TakeSentChanges(), IsEmpty());
  f.clock.Advance(1 * kS);
  (void)f.d.Flush();
  auto changes = f.d.TakeSentChanges();
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_EQ(changes.begin()->first, "gone-route:{}");
  EXPECT_FALSE(changes.begin()->second.has_value());
  EXPECT_THAT(f.d.SentLog(), IsEmpty());
}

// A configuration reload: a new dispatcher takes over the log and the alerts.
TEST(Dispatcher, ReloadCarriesAlertsAndLog) {
  Fixture old;
  Labels lag{{"alertname", "Lag"}, {"service", "titan"}, {"severity", "high"}};
  old.d.Update(Firing(Down("bitcoind")));
  old.d.Update(Firing(lag));
  ASSERT_THAT(old.d.Flush(), SizeIs(1));                                // the page; the high group waits 10 s
  old.d.Update(Resolved(Firing(Down("bitcoind")), old.clock.NowMs()));  // its resolve is not sent yet

  Dispatcher fresh(SeverityRoutes(), Inhibitor({}), {}, FlapOptions{}, old.clock);
  fresh.RestoreSent(old.d.SentLog(), Duration(15 * 60000));
  for (const auto& a : old.d.Alerts()) fresh.Update(a);
  old.clock.Advance(10 * kS);
  auto n = fresh.Flush();
  ASSERT_THAT(n, SizeIs(2));  // the pending resolve and the high group's first notification
  std::set<std::string> receivers;
  for (const auto& x : n) {
    ASSERT_THAT(x.alerts, SizeIs(1));
    receivers.insert(x.receiver + (x.alerts[0].resolved() ? ":resolved" : ":firing"));
  }
  EXPECT_EQ(receivers, (std::set<std::string>{"pager:resolved", "slack:firing"}));
}

TEST(Dispatcher, DigestListsWhatFiredAndResolvedInTheHour) {
  Fixture f;
  Labels disk{{"alertname", "DiskFillingUp"}, {"service", "host"}, {"severity", "medium"}};
  Labels cert{{"alertname", "CertExpiresSoon"}, {"service", "validator"}, {"severity", "low"}};
  f.d.Update(Firing(disk));
  f.clock.Advance(Duration(600000));
  f.d.Update(Firing(cert));
  f.clock.Advance(Duration(600000));
  f.d.Update(Resolved(Firing(cert), f.clock.NowMs()));  // fired and resolved inside the window
  f.clock.Advance(Duration(3600000 - 1200000 - 1));
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  f.clock.Advance(Duration(1));
  auto n = f.d.Flush();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].receiver, "digest");
  ASSERT_THAT(n[0].alerts, SizeIs(2));  // one message for both
}

TEST(Dispatcher, SilenceRecordsButDoesNotSendAndExpiryReleases) {
  Fixture f;
  Silence s;
  s.id = "s1";
  s.matchers = *ParseMatchers("service=bitcoind");
  s.starts_at = kMonday;
  s.ends_at = kMonday + 120000;
  f.d.SetSilences({s});
  f.d.Update(Firing(Down("bitcoind")));
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  EXPECT_THAT(f.d.StateOf(Down("bitcoind")).silenced_by, ElementsAre("s1"));
  f.clock.Advance(Duration(60000));
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  f.clock.Advance(Duration(60000));  // the silence ended and it still fires: sent
  auto n = f.d.Flush();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].receiver, "pager");
}

TEST(Dispatcher, DependencyP0HoldsBackDependentsAndNamesThem) {
  Fixture f(Inhibitor(DependencyInhibitRules({{"validator", {"titan"}}, {"titan", {"bitcoind"}}})));
  f.d.Update(Firing(Down("bitcoind")));
  f.d.Update(Firing(Down("titan")));
  f.d.Update(Firing(Down("validator")));
  auto n = f.d.Flush();
  ASSERT_THAT(n, SizeIs(1));  // one page, not three
  EXPECT_EQ(n[0].group_labels.Get("service"), "bitcoind");
  EXPECT_THAT(n[0].downstream.begin()->second, ElementsAre("titan", "validator"));
  EXPECT_TRUE(f.d.StateOf(Down("titan")).inhibited);
  // bitcoind recovers while titan is still down: titan is paged at its next tick.
  f.d.Update(Resolved(Firing(Down("bitcoind")), f.clock.NowMs()));
  f.clock.Advance(Duration(60000));
  n = f.d.Flush();
  std::set<std::string> paged;
  for (const auto& x : n) {
    if (!x.alerts.empty() && !x.alerts[0].resolved()) paged.insert(std::string(x.group_labels.Get("service")));
  }
  EXPECT_TRUE(paged.count("titan"));
  EXPECT_FALSE(paged.count("validator"));  // still held back by titan's P0
}

TEST(Dispatcher, MaintenanceWindowMutesAndSendsWhatStillFiresAtItsEnd) {
  MaintenanceWindowSpec spec;
  spec.name = "noon-backup";
  spec.weekdays = {"mon-fri"};
  spec.times = {{"12:00", "12:30"}};
  spec.location = "UTC";
  spec.matchers = {"service=bitcoind"};
  auto w = MaintenanceWindow::Build(spec, "maintenance_windows[0]");
  ASSERT_TRUE(w.ok()) << w.status().message();
  Fixture f(Inhibitor({}), {*w});
  f.d.Update(Firing(Down("bitcoind")));
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  EXPECT_EQ(f.d.StateOf(Down("bitcoind")).maintenance, "noon-backup");
  for (int i = 0; i < 29; ++i) {
    f.clock.Advance(Duration(60000));
    EXPECT_THAT(f.d.Flush(), IsEmpty());
  }
  f.clock.Advance(Duration(60000));  // 12:30: the window is over
  EXPECT_THAT(f.d.Flush(), SizeIs(1));
}

TEST(Dispatcher, FlappingIsAnnouncedOnceAndHeldUntilStable) {
  FlapOptions flap;
  flap.max_changes = 4;
  flap.window = Duration(600000);
  flap.stable_for = Duration(900000);
  Fixture f(Inhibitor({}), {}, flap);
  Alert a = Firing(Down("validator"));
  int sent = 0, announced = 0;
  for (int i = 0; i < 10; ++i) {  // toggles every 30 s
    f.d.Update(i % 2 == 0 ? a : Resolved(a, f.clock.NowMs()));
    for (const auto& n : f.d.Flush()) {
      ++sent;
      announced += !n.flapping.empty();
    }
    f.clock.Advance(30 * kS);
  }
  EXPECT_TRUE(f.d.StateOf(a.labels).flapping);
  EXPECT_EQ(announced, 1);
  EXPECT_LE(sent, 5);  // the first few toggles, then one "flapping", then silence
  // It stays resolved; after stable_for the real state (resolved) is released.
  f.clock.Advance(Duration(900000));
  auto n = f.d.Flush();
  f.clock.Advance(Duration(60000));
  for (const auto& x : f.d.Flush()) n.push_back(x);
  ASSERT_FALSE(n.empty());
  EXPECT_TRUE(n.back().alerts[0].resolved());
  EXPECT_FALSE(f.d.StateOf(a.labels).flapping);
}

TEST(MaintenanceWindow, WeekdaysTimesAndTimeZones) {
  MaintenanceWindowSpec spec;
  spec.name = "night";
  spec.weekdays = {"sat-sun"};
  spec.times = {{"23:00", "02:00"}};  // crosses midnight
  spec.location = "Europe/Berlin";
  auto w = MaintenanceWindow::Build(spec, "w");
  ASSERT_TRUE(w.ok()) << w.status().message();
  // Saturday 2026-11-28 22:30 UTC = 23:30 CET: inside.
  TimestampMs sat = kMonday + 5 * 86400000LL + 10LL * 3600000 + 30 * 60000;
  EXPECT_TRUE(w->Active(sat));
  EXPECT_FALSE(w->Active(sat - 3600000));  // 22:30 CET
  // Monday 00:30 CET (Sunday 23:30 UTC): the tail of Sunday's window.
  EXPECT_TRUE(w->Active(kMonday + 6 * 86400000LL + 11LL * 3600000 + 30 * 60000));
  // Monday 02:30 CET: over.
  EXPECT_FALSE(w->Active(kMonday + 6 * 86400000LL + 13LL * 3600000 + 30 * 60000));
  // Summer time: 2026-07-04 (Saturday) 21:30 UTC = 23:30 CEST.
  EXPECT_TRUE(w->Active(1783200600000));
}

TEST(MaintenanceWindow, BadSpecsNameTheField) {
  MaintenanceWindowSpec spec;
  spec.weekdays = {"funday"};
  EXPECT_THAT(MaintenanceWindow::Build(spec, "mw[0]").status().message(), HasSubstr("mw[0].weekdays[0]"));
  spec.weekdays = {};
  spec.times = {{"09:00", "25:00"}};
  EXPECT_THAT(MaintenanceWindow::Build(spec, "mw[0]").status().message(), HasSubstr("mw[0].times[0].end"));
  spec.times = {};
  spec.location = "Mars/Olympus";
  EXPECT_THAT(MaintenanceWindow::Build(spec, "mw[0]").status().message(), HasSubstr("mw[0].location: time zone"));
  spec.location = "+05:30";
  EXPECT_TRUE(MaintenanceWindow::Build(spec, "mw[0]").ok());
}

}  // namespace
}  // namespace vigil::alert

namespace vigil::alert {
namespace {

TEST(DispatcherPageHold, ACriticalPageWaitsForTheRecoveryAndIsNeverSentWhenItResolvesInside) {
  Fixture f;
  f.d.SetPageHolds({{"validator", Duration(30000)}});
  Alert down = Firing(Down("validator"));
  f.d.Update(down);
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  EXPECT_EQ(f.d.StateOf(down.labels).held_until, kMonday + 30000);
  EXPECT_EQ(f.d.NextFlush(), kMonday + 30000) << "the page is due when its hold ends";
  f.clock.Advance(Duration(2000));
  f.d.Update(Resolved(down, f.clock.NowMs()));  // recovered inside the hold
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  f.clock.Advance(Duration(60000));
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  // Other services and lower severities are not held.
  f.d.Update(Firing(Down("titan"), f.clock.NowMs()));
  EXPECT_THAT(f.d.Flush(), SizeIs(1));
}

TEST(DispatcherPageHold, ThePageGoesWhenTheHoldEndsOrAtOnceWhenReleased) {
  Fixture f;
  f.d.SetPageHolds({{"validator", Duration(30000)}});
  f.d.Update(Firing(Down("validator")));
  EXPECT_THAT(f.d.Flush(), IsEmpty());
  f.clock.Advance(Duration(30000));
  ASSERT_EQ(f.d.NextFlush(), kMonday + 30000);
  EXPECT_THAT(f.d.Flush(), SizeIs(1)) << "not recovered within the hold: paged";

  Fixture g;
  g.d.SetPageHolds({{"validator", Duration(30000)}});
  g.d.Update(Firing(Down("validator")));
  EXPECT_THAT(g.d.Flush(), IsEmpty());
  g.clock.Advance(Duration(1000));
  g.d.SetHoldReleased("validator", true);  // recovery failed or will not act
  EXPECT_EQ(g.d.NextFlush(), kMonday + 1000);
  EXPECT_THAT(g.d.Flush(), SizeIs(1));
  // Re-armed once the service is healthy again: its next fault is held.
  g.d.SetHoldReleased("validator", false);
  g.d.Update(Resolved(Firing(Down("validator")), g.clock.NowMs()));
  g.d.Flush();
  g.clock.Advance(Duration(60000));
  g.d.Update(Firing(Down("validator"), g.clock.NowMs()));
  EXPECT_THAT(g.d.Flush(), IsEmpty());
}

}  // namespace
}  // namespace vigil::alert
