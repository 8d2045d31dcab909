// What vigil knows about a systemd unit and how that becomes metrics. Pure
// functions: the D-Bus side (monitor.h) fills UnitState, these render it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/metrics.h"
#include "base/time.h"

namespace vigil::systemd {

// A configured unit name or glob and the service it belongs to.
struct UnitSpec {
  std::string pattern;  // "demo.service", "demo@*.service"
  std::string service;  // "" when the unit is watched for itself
};

// Properties of one unit as systemd reports them (org.freedesktop.systemd1.Unit
// and .Service). Optional fields are absent when systemd does not track them
// (no cgroup accounting, not a service).
struct UnitState {
  std::string name;
  std::string object_path;
  std::string service;  // the configured service it belongs to, or ""
  std::string load_state = "not-found";
  std::string active_state = "inactive";
  std::string sub_state = "dead";
  std::string result;          // services: success, exit-code, signal, core-dump, timeout, …
  std::string service_type;    // services: simple, forking, notify, …
  std::string restart_policy;  // services' Restart=: no, always, on-failure, …
  uint64_t restart_usec = 0;   // services' RestartSec=
  uint32_t job_id = 0;         // the pending job (start, stop, restart), 0 when none
  // When vigil's cache last saw the state (active/sub state, result,
  // restarts, main PID) change, by vigil's clock: tells a fresh state from a stale one.
  int64_t changed_ms = 0;
  // False while only the name is known (tracked, properties not read yet): the defaults above mean nothing.
  bool fetched = false;
  uint64_t active_enter_us = 0;
  uint64_t inactive_enter_us = 0;
  std::optional<uint32_t> n_restarts;
  uint32_t main_pid = 0;
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> memory_max_bytes;  // services' MemoryMax=; absent when unlimited ("infinity")
  std::optional<uint64_t> cpu_nsec;
  std::optional<uint64_t> tasks;
};

// True iff `name` matches `pattern` (systemctl's fnmatch globs: * ? [..]).
bool MatchesUnit(std::string_view pattern, std::string_view name);
// True iff `pattern` has glob characters (ListUnitsByPatterns finds those; plain names are loaded by name).
bool IsGlob(std::string_view pattern);
// The first spec whose pattern matches `name`, or nullptr.
const UnitSpec* FindSpec(const std::vector<UnitSpec>& specs, std::string_view name);

// Applies one D-Bus property (by name) to `state`; values of other names are ignored.
// systemd marks "unknown" counters as UINT64_MAX: those clear the field.
void ApplyString(UnitState& state, std::string_view property, std::string_view value);
void ApplyUint(UnitState& state, std::string_view property, uint64_t value);
// The properties ApplyString/ApplyUint understand; a change to any of these is worth an event.
bool IsTrackedProperty(std::string_view property);

// node_exporter's five states, one series each.
inline constexpr const char* kUnitStates[] = {"active", "activating", "deactivating", "inactive", "failed"};

// Whether a unit counts as up for vigil_service_up ("reloading" is still serving).
bool IsUp(const UnitState& state);

// Whether a service's health checks pass, counting only checks begun at or
// after `since_ms` (when its units last became active): a restarted service is
// not up again until a check of the new process has passed. Null: no checks.
using HealthCheck = std::function<bool(std::string_view service, TimestampMs since_ms)>;

// When the service's units last became active (the latest ActiveEnterTimestamp), ms.
TimestampMs ServiceStartedMs(const std::vector<UnitState>& units, std::string_view service);

// vigil_service_up for every service named in `specs`: it has units, every one
// is up, and `probes_ok` (when set) passes since they started.
std::map<std::string, bool> ServicesUp(const std::vector<UnitState>& units, const std::vector<UnitSpec>& specs,
                                       const HealthCheck& probes_ok);

// Renders node_systemd_* and vigil_systemd_* families for `units` and
// vigil_service_up (ServicesUp) for every service named in `specs`.
void RenderUnits(const std::vector<UnitState>& units, const std::vector<UnitSpec>& specs, const HealthCheck& probes_ok,
                 MetricBatch& out);

}  // namespace vigil::systemd
