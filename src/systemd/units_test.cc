#include "systemd/units.h"

#include <gtest/gtest.h>

#include <limits>

namespace vigil::systemd {
namespace {

double Value(const MetricBatch& b, std::string_view name, const Labels& labels) {
  const MetricFamily* f = b.Find(name);
  if (f == nullptr) return -1;
  for (const auto& s : f->samples) {
    if (s.labels == labels) return s.value;
  }
  return -1;
}

UnitState Unit(std::string name, std::string service, std::string active) {
  UnitState u;
  u.name = std::move(name);
  u.service = std::move(service);
  u.load_state = "loaded";
  u.active_state = std::move(active);
  u.service_type = "simple";
  return u;
}

TEST(Units, GlobMatchingCoversTemplateInstances) {
  EXPECT_TRUE(MatchesUnit("arch-validator@*.service", "arch-validator@ops.service"));
  EXPECT_TRUE(MatchesUnit("arch-*@ops.service", "arch-titan@ops.service"));
  EXPECT_FALSE(MatchesUnit("arch-*@ops.service", "arch-titan@root.service"));
  EXPECT_TRUE(MatchesUnit("demo.service", "demo.service"));
  EXPECT_FALSE(MatchesUnit("demo.service", "demo2.service"));
  EXPECT_TRUE(MatchesUnit("demo@?.service", "demo@1.service"));
  EXPECT_TRUE(MatchesUnit("demo@[ab].service", "demo@b.service"));
  EXPECT_TRUE(IsGlob("demo@*.service"));
  EXPECT_FALSE(IsGlob("demo@x.service"));
}

TEST(Units, FindSpecTakesTheFirstMatch) {
  std::vector<UnitSpec> specs = {{"demo@a.service", "a"}, {"demo@*.service", "all"}};
  EXPECT_EQ(FindSpec(specs, "demo@a.service")->service, "a");
  EXPECT_EQ(FindSpec(specs, "demo@b.service")->service, "all");
  EXPECT_EQ(FindSpec(specs, "other.service"), nullptr);
}

TEST(Units, UntrackedCountersAreAbsent) {
  UnitState u;
  ApplyUint(u, "MemoryCurrent", std::numeric_limits<uint64_t>::max());
  ApplyUint(u, "CPUUsageNSec", 2'500'000'000);
  ApplyUint(u, "NRestarts", 3);
  ApplyString(u, "ActiveState", "failed");
  ApplyString(u, "Unrelated", "x");
  EXPECT_FALSE(u.memory_bytes.has_value());
  EXPECT_EQ(u.cpu_nsec, 2'500'000'000u);
  EXPECT_EQ(u.n_restarts, 3u);
  EXPECT_EQ(u.active_state, "failed");
  EXPECT_TRUE(IsTrackedProperty("SubState"));
  EXPECT_FALSE(IsTrackedProperty("Description"));
}

TEST(Units, AMemoryLimitIsExportedOnlyWhenSet) {
  UnitState limited = Unit("bitcoind.service", "bitcoind", "active");
  ApplyUint(limited, "MemoryMax", 8ULL << 30);
  UnitState unlimited = Unit("titan.service", "titan", "active");
  ApplyUint(unlimited, "MemoryMax", std::numeric_limits<uint64_t>::max());  // MemoryMax=infinity
  EXPECT_TRUE(IsTrackedProperty("MemoryMax"));
  MetricBatch b;
  RenderUnits({limited, unlimited}, {{"bitcoind.service", "bitcoind"}, {"titan.service", "titan"}}, nullptr, b);
  ASSERT_NE(b.Find("vigil_systemd_unit_memory_max_bytes"), nullptr);
  EXPECT_EQ(b.Find("vigil_systemd_unit_memory_max_bytes")->samples.size(), 1u);
  EXPECT_EQ(
      Value(b, "vigil_systemd_unit_memory_max_bytes", Labels{{"name", "bitcoind.service"}, {"service", "bitcoind"}}),
      8.0 * (1ULL << 30));
}

TEST(Units, OneSeriesPerStateWithNodeExporterLabels) {
  UnitState u = Unit("demo.service", "demo", "failed");
  u.n_restarts = 2;
  u.active_enter_us = 1'700'000'000'500'000;
  u.result = "signal";
  MetricBatch b;
  RenderUnits({u}, {{"demo.service", "demo"}}, nullptr, b);
  for (const char* state : kUnitStates) {
    Labels l{{"name", "demo.service"}, {"service", "demo"}, {"state", state}, {"type", "simple"}};
    EXPECT_EQ(Value(b, "node_systemd_unit_state", l), std::string(state) == "failed" ? 1 : 0) << state;
  }
  EXPECT_EQ(b.Find("node_systemd_unit_state")->samples.size(), 5u);
  Labels unit{{"name", "demo.service"}, {"service", "demo"}};
  EXPECT_EQ(Value(b, "node_systemd_service_restart_total", unit), 2);
  EXPECT_EQ(b.Find("node_systemd_service_restart_total")->type, MetricType::kCounter);
  EXPECT_DOUBLE_EQ(Value(b, "node_systemd_unit_start_time_seconds", unit), 1'700'000'000.5);
  EXPECT_EQ(Value(b, "vigil_systemd_unit_info",
                  Labels{{"load_state", "loaded"},
                         {"name", "demo.service"},
                         {"result", "signal"},
                         {"service", "demo"},
                         {"sub_state", "dead"}}),
            1);
  EXPECT_EQ(Value(b, "vigil_service_up", Labels{{"service", "demo"}}), 0);
  EXPECT_EQ(b.Find("vigil_systemd_unit_memory_bytes"), nullptr);  // no accounting: absent, not 0
}

TEST(Units, UnitsOfNoServiceHaveNoServiceLabel) {
  MetricBatch b;
  RenderUnits({Unit("x.timer", "", "active")}, {{"x.timer", ""}}, nullptr, b);
  EXPECT_EQ(Value(b, "node_systemd_unit_state", Labels{{"name", "x.timer"}, {"state", "active"}, {"type", "simple"}}),
            1);
  EXPECT_EQ(b.Find("node_systemd_service_restart_total"), nullptr);
  EXPECT_EQ(b.Find("vigil_service_up"), nullptr);
}

TEST(Units, ServiceUpNeedsEveryUnitActiveAndProbesPassing) {
  std::vector<UnitSpec> specs = {{"demo@*.service", "demo"}, {"solo.service", "solo"}, {"gone.service", "gone"}};
  UnitState gone = Unit("gone.service", "gone", "inactive");
  gone.load_state = "not-found";
  std::vector<UnitState> units = {Unit("demo@a.service", "demo", "active"),
                                  Unit("demo@b.service", "demo", "activating"),
                                  Unit("solo.service", "solo", "reloading"), gone};
  MetricBatch b;
  RenderUnits(units, specs, nullptr, b);
  EXPECT_EQ(Value(b, "vigil_service_up", Labels{{"service", "demo"}}), 0);
  EXPECT_EQ(Value(b, "vigil_service_up", Labels{{"service", "solo"}}), 1);
  EXPECT_EQ(Value(b, "vigil_service_up", Labels{{"service", "gone"}}), 0);

  units[1].active_state = "active";
  MetricBatch all_up;
  RenderUnits(units, specs, nullptr, all_up);
  EXPECT_EQ(Value(all_up, "vigil_service_up", Labels{{"service", "demo"}}), 1);

  MetricBatch probes_fail;
  RenderUnits(
      units, specs, [](std::string_view s, TimestampMs) { return s != "demo"; }, probes_fail);
  EXPECT_EQ(Value(probes_fail, "vigil_service_up", Labels{{"service", "demo"}}), 0);
  EXPECT_EQ(Value(probes_fail, "vigil_service_up", Labels{{"service", "solo"}}), 1);
}

// Health checks are asked about the time the service's units last became
// active (the latest of them): checks of the process before a restart do not
// count for the new one.
TEST(Units, ServiceUpAsksForChecksSinceTheLatestStart) {
  std::vector<UnitSpec> specs = {{"demo@*.service", "demo"}};
  std::vector<UnitState> units = {Unit("demo@a.service", "demo", "active"), Unit("demo@b.service", "demo", "active")};
  units[0].active_enter_us = 1'700'000'000'000'000;
  units[1].active_enter_us = 1'700'000'100'250'999;  // restarted later
  EXPECT_EQ(ServiceStartedMs(units, "demo"), 1'700'000'100'250);
  EXPECT_EQ(ServiceStartedMs(units, "other"), 0);
  TimestampMs last_check = 1'700'000'100'000;  // begun before b's restart
  auto checks = [&](std::string_view, TimestampMs since_ms) { return last_check >= since_ms; };
  EXPECT_FALSE(ServicesUp(units, specs, checks).at("demo"));
  last_check = 1'700'000'100'250;
  EXPECT_TRUE(ServicesUp(units, specs, checks).at("demo"));
}

}  // namespace
}  // namespace vigil::systemd
