#include "status/snapshot.h"

#include <gtest/gtest.h>

#include "status/health.h"

namespace vigil::status {
namespace {

UnitFacts Unit(std::string active, double active_enter = 100, double inactive_enter = 50) {
  return UnitFacts{"a.service", std::move(active), "loaded", active_enter, inactive_enter};
}

TEST(DecideServiceState, NoDataIsUnknown) {
  ServiceFacts f;
  EXPECT_EQ(DecideServiceState(f).state, ServiceState::kUnknown);
  EXPECT_FALSE(DecideServiceState(f).since);
}

TEST(DecideServiceState, ActiveUnitAndPassingProbesIsUpSinceActiveEnter) {
  ServiceFacts f;
  f.units = {Unit("active", 1000)};
  f.service_up = 1;
  StateDecision d = DecideServiceState(f);
  EXPECT_EQ(d.state, ServiceState::kUp);
  EXPECT_EQ(d.since, 1000);
  f.units = {Unit("reloading", 1000)};  // reloading still serves
  EXPECT_EQ(DecideServiceState(f).state, ServiceState::kUp);
}

TEST(DecideServiceState, AnyInactiveOrFailedUnitIsDownSinceInactiveEnter) {
  ServiceFacts f;
  f.units = {Unit("active", 1000), Unit("failed", 900, 2000)};
  f.service_up = 0;
  StateDecision d = DecideServiceState(f);
  EXPECT_EQ(d.state, ServiceState::kDown);
  EXPECT_EQ(d.since, 2000);
  f.units = {Unit("activating", 0, 0)};  // auto-restart: not serving yet
  EXPECT_EQ(DecideServiceState(f).state, ServiceState::kDown);
  EXPECT_FALSE(DecideServiceState(f).since);  // never stopped: unknown since when
}

TEST(DecideServiceState, NotFoundUnitIsDown) {
  ServiceFacts f;
  f.units = {UnitFacts{"gone.service", "inactive", "not-found", 0, 0}};
  f.service_up = 0;
  EXPECT_EQ(DecideServiceState(f).state, ServiceState::kDown);
  // A unit the glob no longer finds: only vigil_service_up 0 is left.
  f.units.clear();
  EXPECT_EQ(DecideServiceState(f).state, ServiceState::kDown);
  // Without a configured unit, failing probes degrade rather than take down.
  f.has_unit = false;
  EXPECT_EQ(DecideServiceState(f).state, ServiceState::kDegraded);
}

TEST(DecideServiceState, FailingProbesOrSevereAlertDegrade) {
  ServiceFacts f;
  f.units = {Unit("active", 1000)};
  f.service_up = 0;
  EXPECT_EQ(DecideServiceState(f).state, ServiceState::kDegraded);
  f.service_up = 1;
  f.severe_alert_firing = true;
  f.severe_alert_since = 1500;
  StateDecision d = DecideServiceState(f);
  EXPECT_EQ(d.state, ServiceState::kDegraded);
  EXPECT_EQ(d.since, 1500);
}

TEST(DecideServiceState, RecoveryUnderWayWinsOverDown) {
  ServiceFacts f;
  f.units = {Unit("inactive", 900, 2000)};
  f.service_up = 0;
  f.recovering_since = 2001;
  StateDecision d = DecideServiceState(f);
  EXPECT_EQ(d.state, ServiceState::kRecovering);
  EXPECT_EQ(d.since, 2001);
}

Service WithState(ServiceState s) {
  Service sv;
  sv.state = s;
  return sv;
}

TEST(DecideOverall, FollowsStatesAndPriorities) {
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kUp)}, {0, 0, 0, 0}), Overall::kHealthy);
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kUp)}, {0, 0, 0, 5}), Overall::kHealthy);  // P3 is FYI
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kUp)}, {0, 0, 1, 0}), Overall::kWarning);
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kUp)}, {0, 1, 0, 0}), Overall::kWarning);
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kUp)}, {1, 0, 0, 0}), Overall::kCritical);
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kDegraded)}, {}), Overall::kWarning);
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kRecovering)}, {}), Overall::kWarning);
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kUp), WithState(ServiceState::kDown)}, {}), Overall::kCritical);
  EXPECT_EQ(DecideOverall({WithState(ServiceState::kUnknown)}, {}), Overall::kHealthy);
}

TEST(SortFiring, P0FirstThenOldest) {
  std::vector<FiringAlert> a(4);
  a[0] = {"late_p0", "P0", "critical", {}, 300, "", {}};
  a[1] = {"p2", "P2", "warning", {}, 100, "", {}};
  a[2] = {"early_p0", "P0", "critical", {}, 200, "", {}};
  a[3] = {"p1", "P1", "high", {}, 50, "", {}};
  SortFiring(a);
  EXPECT_EQ(a[0].name, "early_p0");
  EXPECT_EQ(a[1].name, "late_p0");
  EXPECT_EQ(a[2].name, "p1");
  EXPECT_EQ(a[3].name, "p2");
}

TEST(SnapshotJson, RoundTripsWithNulls) {
  Snapshot s;
  s.time = 1700000000.5;
  s.overall = Overall::kWarning;
  s.host.name = "val-1";
  s.host.load1 = 0.5;
  s.host.cpus = 4;
  s.host.filesystems.push_back({"/", "/dev/sda1", "ext4", 100, 40, 0.6, 2.0, 20.0});
  s.host.filesystems.push_back({"/data", "/dev/sdb", "xfs", 100, 90, 0.1, std::nullopt, std::nullopt});
  Service sv;
  sv.name = "bitcoind";
  sv.units = {"bitcoind.service"};
  sv.state = ServiceState::kDegraded;
  sv.since = 1699999000;
  sv.uptime_24h = 0.99;
  sv.health = {{"blocks", 812345, "812345"}, {"ibd", 0, "no"}};
  sv.alerts = {0, 1, 0, 0};
  sv.depends_on = {"disk"};
  s.services.push_back(sv);
  s.alerts.counts = {0, 1, 0, 2};
  s.alerts.pending = 3;
  s.alerts.firing.push_back({"BitcoindLagging", "P1", "high", "bitcoind", 1699999500, "lagging", {{"a", "b"}}, true});

  std::string json = ToResponseJson(s);
  EXPECT_NE(json.find("\"status\":\"success\""), std::string::npos);
  EXPECT_NE(json.find("\"cpu_busy_ratio\":null"), std::string::npos);
  EXPECT_NE(json.find("\"uptime_30d\":null"), std::string::npos);
  EXPECT_NE(json.find("\"full_in_seconds\":null"), std::string::npos);
  EXPECT_NE(json.find("\"pending\":3"), std::string::npos);

  auto back = ParseSnapshot(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->overall, Overall::kWarning);
  EXPECT_EQ(back->host.name, "val-1");
  EXPECT_FALSE(back->host.cpu_busy_ratio);
  EXPECT_EQ(back->host.cpus, 4);
  ASSERT_EQ(back->host.filesystems.size(), 2u);
  EXPECT_EQ(back->host.filesystems[0].full_in_seconds, 20.0);
  EXPECT_FALSE(back->host.filesystems[1].fill_bytes_per_second);
  ASSERT_EQ(back->services.size(), 1u);
  EXPECT_EQ(back->services[0].state, ServiceState::kDegraded);
  EXPECT_EQ(back->services[0].since, 1699999000);
  EXPECT_FALSE(back->services[0].uptime_30d);
  EXPECT_EQ(back->services[0].health[1].text, "no");
  EXPECT_EQ(back->services[0].alerts[1], 1);
  EXPECT_EQ(back->services[0].depends_on, std::vector<std::string>{"disk"});
  EXPECT_EQ(back->alerts.counts[3], 2);
  EXPECT_EQ(back->alerts.pending, 3);
  ASSERT_EQ(back->alerts.firing.size(), 1u);
  EXPECT_EQ(back->alerts.firing[0].service, "bitcoind");
  EXPECT_EQ(back->alerts.firing[0].labels.at("a"), "b");
  EXPECT_TRUE(back->alerts.firing[0].silenced);

  auto data = DataJson(json);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->rfind("{\"alerts\":", 0), 0u) << *data;
}

TEST(SnapshotJson, RejectsWhatIsNotAStatus) {
  EXPECT_FALSE(ParseSnapshot("not json").ok());
  EXPECT_FALSE(ParseSnapshot(R"({"status":"success","data":{"resultType":"vector"}})").ok());
  EXPECT_FALSE(DataJson("[]").ok());
}

TEST(Health, KnownMetricsOnly) {
  auto ibd = HealthOf("vigil_bitcoind_initial_block_download", "", 1);
  ASSERT_TRUE(ibd);
  EXPECT_EQ(ibd->name, "ibd");
  EXPECT_EQ(ibd->text, "yes");
  auto ready = HealthOf("vigil_validator_ready", "", 0);
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->text, "not ready");
  auto lag = HealthOf("vigil_titan_height_lag_blocks", "", 3);
  ASSERT_TRUE(lag);
  EXPECT_EQ(lag->name, "titan_lag");
  EXPECT_EQ(lag->text, "3");
  auto slot = HealthOf("vigil_log_value", "slot", 123456789);
  ASSERT_TRUE(slot);
  EXPECT_EQ(slot->name, "last_slot");
  EXPECT_EQ(slot->text, "123456789");
  EXPECT_EQ(HealthOf("vigil_log_value", "queue_depth", 1.5)->text, "1.5");
  EXPECT_FALSE(HealthOf("vigil_bitcoind_mempool_bytes", "", 1));
  EXPECT_FALSE(HealthOf("vigil_log_value", "", 1));
}

TEST(Health, StableOrder) {
  std::vector<HealthValue> v{{"peers", 1, "1"}, {"zeta", 1, "1"}, {"blocks", 1, "1"}, {"ibd", 0, "no"}};
  SortHealth(v);
  EXPECT_EQ(v[0].name, "ibd");
  EXPECT_EQ(v[1].name, "blocks");
  EXPECT_EQ(v[2].name, "peers");
  EXPECT_EQ(v[3].name, "zeta");
}

TEST(Health, FullInOnlyWhileFilling) {
  EXPECT_EQ(FullInSeconds(1000, 10), 100);
  EXPECT_FALSE(FullInSeconds(1000, 0));
  EXPECT_FALSE(FullInSeconds(1000, -5));
  EXPECT_TRUE(RecoveryPhaseIsRecovering("verifying"));
  EXPECT_TRUE(RecoveryPhaseIsRecovering("acting"));
  EXPECT_FALSE(RecoveryPhaseIsRecovering("backoff"));
  EXPECT_FALSE(RecoveryPhaseIsRecovering("healthy"));
}

}  // namespace
}  // namespace vigil::status
