#include "systemd/units.h"

#include <fnmatch.h>

#include <algorithm>
#include <limits>
#include <string>

namespace vigil::systemd {

bool MatchesUnit(std::string_view pattern, std::string_view name) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), FNM_NOESCAPE) == 0;
}

bool IsGlob(std::string_view pattern) { return pattern.find_first_of("*?[") != std::string_view::npos; }

const UnitSpec* FindSpec(const std::vector<UnitSpec>& specs, std::string_view name) {
  for (const auto& s : specs) {
    if (MatchesUnit(s.pattern, name)) return &s;
  }
  return nullptr;
}

void ApplyString(UnitState& s, std::string_view p, std::string_view v) {
  if (p == "Id") {
    s.name = v;
  } else if (p == "LoadState") {
    s.load_state = v;
  } else if (p == "ActiveState") {
    s.active_state = v;
  } else if (p == "SubState") {
    s.sub_state = v;
  } else if (p == "Result") {
    s.result = v;
  } else if (p == "Type") {
    s.service_type = v;
  } else if (p == "Restart") {
    s.restart_policy = v;
  }
}

void ApplyUint(UnitState& s, std::string_view p, uint64_t v) {
  // systemd reports counters it does not track (no accounting) as UINT64_MAX.
  std::optional<uint64_t> known;
  if (v != std::numeric_limits<uint64_t>::max()) known = v;
  if (p == "ActiveEnterTimestamp") {
    s.active_enter_us = v;
  } else if (p == "InactiveEnterTimestamp") {
    s.inactive_enter_us = v;
  } else if (p == "NRestarts") {
    s.n_restarts = static_cast<uint32_t>(v);
  } else if (p == "MainPID") {
    s.main_pid = static_cast<uint32_t>(v);
  } else if (p == "MemoryCurrent") {
    s.memory_bytes = known;
  } else if (p == "MemoryMax") {
    s.memory_max_bytes = known;
  } else if (p == "CPUUsageNSec") {
    s.cpu_nsec = known;
  } else if (p == "TasksCurrent") {
    s.tasks = known;
  } else if (p == "RestartUSec") {
    s.restart_usec = v;
  } else if (p == "Job") {
    s.job_id = static_cast<uint32_t>(v);
  }
}

bool IsTrackedProperty(std::string_view p) {
  for (std::string_view k : {"Id", "LoadState", "ActiveState", "SubState", "Result", "Type", "ActiveEnterTimestamp",
                             "InactiveEnterTimestamp", "NRestarts", "MainPID", "MemoryCurrent", "MemoryMax",
                             "CPUUsageNSec", "TasksCurrent", "Restart", "RestartUSec", "Job"}) {
    if (p == k) return true;
  }
  return false;
}

bool IsUp(const UnitState& s) { return s.active_state == "active" || s.active_state == "reloading"; }

namespace {

Labels UnitLabels(const UnitState& u) {
  Labels l{{"name", u.name}};
  l.Set("service", u.service);
  return l;
}

bool IsService(const UnitState& u) {
  return u.name.size() > 8 && u.name.compare(u.name.size() - 8, 8, ".service") == 0;
}

}  // namespace

TimestampMs ServiceStartedMs(const std::vector<UnitState>& units, std::string_view service) {
  TimestampMs started = 0;
  for (const auto& u : units) {
    if (u.service == service) started = std::max(started, static_cast<TimestampMs>(u.active_enter_us / 1000));
  }
  return started;
}

std::map<std::string, bool> ServicesUp(const std::vector<UnitState>& units, const std::vector<UnitSpec>& specs,
                                       const HealthCheck& probes_ok) {
  std::map<std::string, bool> up;
  for (const auto& spec : specs) {
    if (spec.service.empty() || up.count(spec.service)) continue;
    // Up when the service has at least one unit and every one of them is active.
    bool any = false, all_up = true;
    for (const auto& u : units) {
      if (u.service != spec.service || u.load_state == "not-found") continue;
      any = true;
      all_up = all_up && IsUp(u);
    }
    bool is_up = any && all_up;
    // A service whose health checks fail is not up.
    if (is_up && probes_ok) is_up = probes_ok(spec.service, ServiceStartedMs(units, spec.service));
    up[spec.service] = is_up;
  }
  return up;
}

void RenderUnits(const std::vector<UnitState>& units, const std::vector<UnitSpec>& specs, const HealthCheck& probes_ok,
                 MetricBatch& out) {
  for (const auto& u : units) {
    for (const char* state : kUnitStates) {
      Labels l = UnitLabels(u);
      l.Set("state", state);
      // node_exporter always sets type (the service Type, empty for other units).
      l.Set("type", u.service_type);
      out.AddGauge("node_systemd_unit_state", "Systemd unit", std::move(l), u.active_state == state ? 1 : 0);
    }
  }
  for (const auto& u : units) {
    out.AddGauge("node_systemd_unit_start_time_seconds", "Start time of the unit since unix epoch in seconds.",
                 UnitLabels(u), static_cast<double>(u.active_enter_us) / 1e6);
  }
  for (const auto& u : units) {
    if (IsService(u) && u.n_restarts) {
      out.AddCounter("node_systemd_service_restart_total", "Service unit count of Restart triggers", UnitLabels(u),
                     *u.n_restarts);
    }
  }
  for (const auto& u : units) {
    Labels l = UnitLabels(u);
    l.Set("load_state", u.load_state);
    l.Set("sub_state", u.sub_state);
    l.Set("result", u.result);
    out.AddGauge("vigil_systemd_unit_info", "Always 1; the unit's load state, sub-state and last result as labels.",
                 std::move(l), 1);
  }
  for (const auto& u : units) {
    out.AddGauge("vigil_systemd_unit_inactive_enter_timestamp_seconds",
                 "When the unit last entered the inactive or failed state, Unix time (0: never).", UnitLabels(u),
                 static_cast<double>(u.inactive_enter_us) / 1e6);
  }
  for (const auto& u : units) {
    if (IsService(u)) {
      out.AddGauge("vigil_systemd_unit_main_pid", "Main process ID of the service (0: none).", UnitLabels(u),
                   u.main_pid);
    }
  }
  for (const auto& u : units) {
    if (u.memory_bytes) {
      out.AddGauge("vigil_systemd_unit_memory_bytes", "Memory of the unit's cgroup in bytes (MemoryCurrent).",
                   UnitLabels(u), static_cast<double>(*u.memory_bytes));
    }
  }
  for (const auto& u : units) {
    if (u.memory_max_bytes) {
      out.AddGauge("vigil_systemd_unit_memory_max_bytes",
                   "The unit's memory limit in bytes (MemoryMax=); absent when unlimited.", UnitLabels(u),
                   static_cast<double>(*u.memory_max_bytes));
    }
  }
  for (const auto& u : units) {
    if (u.cpu_nsec) {
      out.AddCounter("vigil_systemd_unit_cpu_seconds_total", "CPU time of the unit's cgroup in seconds (CPUUsageNSec).",
                     UnitLabels(u), static_cast<double>(*u.cpu_nsec) / 1e9);
    }
  }
  for (const auto& u : units) {
    if (u.tasks) {
      out.AddGauge("vigil_systemd_unit_tasks", "Tasks (threads) in the unit's cgroup (TasksCurrent).", UnitLabels(u),
                   static_cast<double>(*u.tasks));
    }
  }
  for (const auto& [service, up] : ServicesUp(units, specs, probes_ok)) {
    out.AddGauge("vigil_service_up", "1 when the service's systemd units are active and its probes pass.",
                 Labels{{"service", service}}, up ? 1 : 0);
  }
}

}  // namespace vigil::systemd
