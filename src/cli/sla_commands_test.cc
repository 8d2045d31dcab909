#include "cli/sla_commands.h"

#include <gtest/gtest.h>

namespace vigil::cli {
namespace {

using S = incidents::ServiceState;

systemd::UnitState Unit(const std::string& name, const std::string& service, const std::string& active,
                        const std::string& result, const std::string& load = "loaded") {
  systemd::UnitState u;
  u.name = name;
  u.service = service;
  u.active_state = active;
  u.result = result;
  u.load_state = load;
  u.fetched = true;
  return u;
}

TEST(SlaStateOf, UpOnlyWhenEveryUnitIsUpAndProbesPass) {
  std::vector<systemd::UnitState> units{Unit("a.service", "a", "active", "success"),
                                        Unit("b.service", "b", "reloading", "success")};
  EXPECT_EQ(SlaStateOf("a", units, true), S::kUp);
  EXPECT_EQ(SlaStateOf("b", units, true), S::kUp);
  EXPECT_EQ(SlaStateOf("a", units, false), S::kDownUnplanned);  // probes failing are never planned
}

TEST(SlaStateOf, CleanStopIsPlannedKillIsNot) {
  EXPECT_EQ(SlaStateOf("a", {Unit("a.service", "a", "inactive", "success")}, true), S::kDownPlanned);
  EXPECT_EQ(SlaStateOf("a", {Unit("a.service", "a", "failed", "signal")}, true), S::kDownUnplanned);
  EXPECT_EQ(SlaStateOf("a", {Unit("a.service", "a", "inactive", "exit-code")}, true), S::kDownUnplanned);
  EXPECT_EQ(SlaStateOf("a", {Unit("a.service", "a", "activating", "success")}, true), S::kDownUnplanned);
}

TEST(SlaStateOf, StoppingUnderAJobIsPlannedWithoutOneItIsNot) {
  systemd::UnitState stopping = Unit("a.service", "a", "deactivating", "success");
  stopping.job_id = 42;  // `systemctl stop` queued a stop job
  EXPECT_EQ(SlaStateOf("a", {stopping}, true), S::kDownPlanned);
  stopping.job_id = 0;  // the main process died and systemd is cleaning up
  EXPECT_EQ(SlaStateOf("a", {stopping}, true), S::kDownUnplanned);
}

TEST(SlaStateOf, OneFailedUnitOfManyMakesItUnplanned) {
  std::vector<systemd::UnitState> units{Unit("a@1.service", "a", "inactive", "success"),
                                        Unit("a@2.service", "a", "failed", "core-dump"),
                                        Unit("a@3.service", "a", "active", "success")};
  EXPECT_EQ(SlaStateOf("a", units, true), S::kDownUnplanned);
  units.erase(units.begin() + 1);
  EXPECT_EQ(SlaStateOf("a", units, true), S::kDownPlanned);
}

TEST(SlaStateOf, NothingIsKnownWhileAUnitIsNotReadYet) {
  systemd::UnitState placeholder;  // tracked by name, properties not fetched: "not-found", "inactive" by default
  placeholder.name = "a@2.service";
  placeholder.service = "a";
  EXPECT_EQ(SlaStateOf("a", {Unit("a@1.service", "a", "active", "success"), placeholder}, true), std::nullopt);
  placeholder.fetched = true;
  placeholder.load_state = "loaded";
  placeholder.active_state = "active";
  EXPECT_EQ(SlaStateOf("a", {Unit("a@1.service", "a", "active", "success"), placeholder}, true), S::kUp);
}

TEST(SlaStateOf, AMissingUnitIsUnplannedDowntime) {
  EXPECT_EQ(SlaStateOf("a", {Unit("a.service", "a", "inactive", "", "not-found")}, true), S::kDownUnplanned);
  // No unit of the service tracked (yet): nothing is known, rather than a false outage at start.
  EXPECT_EQ(SlaStateOf("a", {Unit("b.service", "b", "active", "success")}, true), std::nullopt);
}

// bitcoind <- titan <- validator, as the validator stack's depends_on say.
DependencyStops Stack() {
  return DependencyStops({{"bitcoind", {}}, {"titan", {"bitcoind"}}, {"validator", {"titan"}}});
}

TEST(DependencyStops, ACleanStopCausedByADependencysFailureIsUnplanned) {
  DependencyStops d = Stack();
  // bitcoind crashed; systemd stopped titan and the validator cleanly (BindsTo=).
  std::map<std::string, S> states{{"bitcoind", S::kDownUnplanned},
                                  {"titan", S::kDownPlanned},
                                  {"validator", S::kDownPlanned}};
  d.Attribute(states);
  EXPECT_EQ(states["titan"], S::kDownUnplanned);
  EXPECT_EQ(states["validator"], S::kDownUnplanned);  // through titan
  EXPECT_EQ(states["bitcoind"], S::kDownUnplanned);
}

TEST(DependencyStops, StaysUnplannedUntilUpAgainEvenOnceTheDependencyIsBack) {
  DependencyStops d = Stack();
  std::map<std::string, S> states{{"bitcoind", S::kDownUnplanned}, {"titan", S::kDownPlanned}};
  d.Attribute(states);
  // bitcoind restarted; titan (BindsTo= does not start it again) is still stopped: still the outage's.
  states = {{"bitcoind", S::kUp}, {"titan", S::kDownPlanned}, {"validator", S::kDownPlanned}};
  d.Attribute(states);
  EXPECT_EQ(states["titan"], S::kDownUnplanned);
  EXPECT_EQ(states["validator"], S::kDownUnplanned);  // depends on titan, now unplanned, whatever the order
  // Up again: a later clean stop is the operator's.
  states = {{"bitcoind", S::kUp}, {"titan", S::kUp}, {"validator", S::kUp}};
  d.Attribute(states);
  states = {{"bitcoind", S::kUp}, {"titan", S::kDownPlanned}, {"validator", S::kDownPlanned}};
  d.Attribute(states);
  EXPECT_EQ(states["titan"], S::kDownPlanned);
  EXPECT_EQ(states["validator"], S::kDownPlanned);
}

TEST(DependencyStops, AReloadKeepsTheStopsAlreadyAttributed) {
  DependencyStops d = Stack();
  std::map<std::string, S> states{{"bitcoind", S::kDownUnplanned}, {"titan", S::kDownPlanned}};
  d.Attribute(states);
  // A SIGHUP while titan is still down, bitcoind already back.
  d.SetDependsOn({{"bitcoind", {}}, {"titan", {"bitcoind"}}, {"validator", {"titan"}}});
  states = {{"bitcoind", S::kUp}, {"titan", S::kDownPlanned}};
  d.Attribute(states);
  EXPECT_EQ(states["titan"], S::kDownUnplanned);
  // A service the new configuration no longer names is forgotten.
  d.SetDependsOn({{"bitcoind", {}}});
  d.SetDependsOn({{"bitcoind", {}}, {"titan", {"bitcoind"}}});
  states = {{"bitcoind", S::kUp}, {"titan", S::kDownPlanned}};
  d.Attribute(states);
  EXPECT_EQ(states["titan"], S::kDownPlanned);
}

TEST(DependencyStops, AnOperatorsStopOfTheWholeStackStaysPlanned) {
  DependencyStops d = Stack();
  std::map<std::string, S> states{{"bitcoind", S::kDownPlanned},
                                  {"titan", S::kDownPlanned},
                                  {"validator", S::kDownPlanned}};
  d.Attribute(states);
  EXPECT_EQ(states["bitcoind"], S::kDownPlanned);
  EXPECT_EQ(states["titan"], S::kDownPlanned);
  EXPECT_EQ(states["validator"], S::kDownPlanned);
}

TEST(DependencyStops, ACycleInDependsOnEnds) {
  DependencyStops d({{"a", {"b"}}, {"b", {"a"}}, {"c", {"c"}}});
  std::map<std::string, S> states{{"a", S::kDownPlanned}, {"b", S::kDownPlanned}, {"c", S::kDownPlanned}};
  d.Attribute(states);
  EXPECT_EQ(states["a"], S::kDownPlanned);
  EXPECT_EQ(states["b"], S::kDownPlanned);
  EXPECT_EQ(states["c"], S::kDownPlanned);
}

TEST(SlaOptions, SloAndMaintenanceFromTheConfiguration) {
  config::LoadResult r =
      config::LoadString(R"(services:
  a:
    unit: a.service
    slo: {objective: 99.5%, window: 7d}
    maintenance_windows:
      - {start: '2026-12-06T18:00:00Z', end: '2026-12-06T19:00:00Z'}
      - {weekdays: [sunday], times: [{start: '03:00', end: '03:30'}]}
  b: {unit: b.service}
  c: {processes: {match: c}}
alerting:
  route: {receiver: r}
  receivers: [{name: r}]
  maintenance_windows:
    - {name: b-backup, weekdays: [saturday], times: [{start: '01:00', end: '02:00'}], matchers: ['service="b"']}
)",
                         "c.yml", [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_TRUE(r.ok()) << (r.problems.empty() ? "" : r.problems[0].ToString());
  std::vector<incidents::ServiceSlaOptions> o = SlaOptionsFor(r.config);
  ASSERT_EQ(o.size(), 2u);  // c has no unit: nothing is recorded for it
  EXPECT_EQ(o[0].service, "a");
  ASSERT_TRUE(o[0].slo.has_value());
  EXPECT_DOUBLE_EQ(o[0].slo->objective, 0.995);
  ASSERT_EQ(o[0].maintenance.size(), 1u);
  EXPECT_EQ(o[0].maintenance[0].from_ms, 1796580000000);
  EXPECT_EQ(o[0].maintenance[0].to_ms, 1796583600000);
  // The week from Thursday 2026-12-03T00:00Z: Sunday 03:00-03:30 for a, Saturday 01:00-02:00 for b only.
  incidents::TimeRange week{1796256000000, 1796256000000 + 7LL * 86400000};
  ASSERT_TRUE(o[0].recurring_maintenance);
  std::vector<incidents::TimeRange> a = o[0].recurring_maintenance(week);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].from_ms, 1796526000000);  // 2026-12-06T03:00:00Z
  EXPECT_EQ(a[0].to_ms - a[0].from_ms, 30 * 60000);
  ASSERT_TRUE(o[1].recurring_maintenance);
  std::vector<incidents::TimeRange> b = o[1].recurring_maintenance(week);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].from_ms, 1796432400000);  // 2026-12-05T01:00:00Z
  EXPECT_EQ(b[0].to_ms - b[0].from_ms, 60 * 60000);
}

systemd::UnitState Timed(systemd::UnitState u, uint64_t active_enter_ms, uint64_t inactive_enter_ms) {
  u.active_enter_us = active_enter_ms * 1000;
  u.inactive_enter_us = inactive_enter_ms * 1000;
  return u;
}

TEST(SlaStateSince, UpSinceTheLastUnitBecameActive) {
  std::vector<systemd::UnitState> units{Timed(Unit("a@1.service", "a", "active", "success"), 5000, 4000),
                                        Timed(Unit("a@2.service", "a", "active", "success"), 7000, 6000)};
  EXPECT_EQ(SlaStateSince("a", units, S::kUp, true), 7000);
  EXPECT_EQ(SlaStateSince("a", units, S::kUp, false), 0);  // down by its probes: only vigil knows when
}

TEST(SlaStateSince, DownSinceTheFirstUnitWentInactive) {
  std::vector<systemd::UnitState> units{Timed(Unit("a@1.service", "a", "failed", "signal"), 5000, 9000),
                                        Timed(Unit("a@2.service", "a", "inactive", "success"), 5000, 8000),
                                        Timed(Unit("a@3.service", "a", "active", "success"), 5000, 1000)};
  EXPECT_EQ(SlaStateSince("a", units, S::kDownUnplanned, true), 8000);
}

TEST(SlaStateSince, NoTimeWhileSystemdHasNone) {
  // A stop still running; a unit whose last inactive time is older than its last start.
  EXPECT_EQ(SlaStateSince("a", {Timed(Unit("a.service", "a", "deactivating", ""), 5000, 9000)}, S::kDownPlanned, true),
            0);
  EXPECT_EQ(SlaStateSince("a", {Timed(Unit("a.service", "a", "activating", ""), 5000, 4000)}, S::kDownUnplanned, true),
            0);
  EXPECT_EQ(SlaStateSince("a", {Unit("a.service", "a", "inactive", "", "not-found")}, S::kDownUnplanned, true), 0);
}

}  // namespace
}  // namespace vigil::cli
