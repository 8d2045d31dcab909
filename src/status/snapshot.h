// The host's health at one moment, as GET /api/v1/status answers it
// (docs/api.md, "Status snapshot"): the model the agent fills, the JSON both
// ways, and the pure decisions (a service's state, the overall verdict) that
// the agent, `vigil status` and `vigil top` share.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::status {

using OptDouble = std::optional<double>;

struct Filesystem {
  std::string mountpoint, device, fstype;
  double size_bytes = 0, avail_bytes = 0, used_ratio = 0;
  OptDouble fill_bytes_per_second;  // deriv of used bytes over 6 h; null: not enough data
  OptDouble full_in_seconds;        // only while filling
};

struct Host {
  std::string name;
  OptDouble cpu_busy_ratio, load1;
  std::optional<int> cpus;
  OptDouble memory_total_bytes, memory_available_bytes;
  std::vector<Filesystem> filesystems;
};

struct HealthValue {
  std::string name;  // blocks, headers, peers, ibd, sync_lag, titan_lag, ready, height, height_lag, last_slot, …
  OptDouble value;
  std::string text;  // how a person reads it ("yes", "812 345")
};

enum class ServiceState { kUp, kDegraded, kDown, kRecovering, kUnknown };
std::string_view ServiceStateName(ServiceState s);  // "up", "degraded", …
std::optional<ServiceState> ParseServiceState(std::string_view s);

// Firing alerts by priority P0..P3.
using PriorityCounts = std::array<int, 4>;

struct Service {
  std::string name;
  std::vector<std::string> units;
  ServiceState state = ServiceState::kUnknown;
  OptDouble since;  // Unix seconds
  OptDouble uptime_24h, uptime_30d;
  std::vector<HealthValue> health;
  PriorityCounts alerts{};
  std::vector<std::string> depends_on;
};

struct FiringAlert {
  std::string name, priority, severity;
  std::optional<std::string> service;
  double since = 0;  // Unix seconds the alert became active
  std::string summary;
  std::map<std::string, std::string> labels;
  bool silenced = false;  // an active silence matches it (it still counts: silencing is not fixing)
};

struct Alerts {
  PriorityCounts counts{};
  int pending = 0;
  std::vector<FiringAlert> firing;  // P0 first, then oldest
};

enum class Overall { kHealthy, kWarning, kCritical };
std::string_view OverallName(Overall o);  // "healthy", "warning", "critical"

struct Snapshot {
  double time = 0;  // Unix seconds
  Overall overall = Overall::kHealthy;
  Host host;
  std::vector<Service> services;
  Alerts alerts;
};

// What is known of one unit of a service.
struct UnitFacts {
  std::string name;
  std::string active_state;  // active, reloading, activating, deactivating, inactive, failed; "" unknown
  std::string load_state;    // loaded, not-found, masked, …; "" unknown
  double active_enter_seconds = 0, inactive_enter_seconds = 0;  // 0: never
};

// Everything a service's state is decided from.
struct ServiceFacts {
  bool has_unit = true;              // the configuration names a unit (or glob) for it
  std::vector<UnitFacts> units;      // the units vigil has seen for it
  OptDouble service_up;              // vigil_service_up; null: no sample
  OptDouble recovering_since;        // set while recovery acts on it or verifies (Unix seconds)
  bool severe_alert_firing = false;  // a P0 or P1 alert labelled with this service fires
  OptDouble severe_alert_since;      // the oldest such alert's activeAt
};

struct StateDecision {
  ServiceState state = ServiceState::kUnknown;
  OptDouble since;
};

// recovering (an action or its verification is under way: the unit being
// down is expected) > down (a unit is not active or not loaded; a service
// whose units vigil cannot find and whose vigil_service_up is 0) > degraded
// (units active but probes fail, or a P0/P1 alert fires) > up; unknown
// without any data.
StateDecision DecideServiceState(const ServiceFacts& f);

// critical: a P0 fires or a service is down; warning: a P1/P2 fires or a
// service is degraded or recovering; healthy otherwise (P3 is for the record).
Overall DecideOverall(const std::vector<Service>& services, const PriorityCounts& firing);

// Sorts P0 first, then the oldest first, then by name.
void SortFiring(std::vector<FiringAlert>& alerts);

// {"status":"success","data":{…}}.
std::string ToResponseJson(const Snapshot& s);
// Reads the whole response or just its `data` object; errors say what is missing.
Result<Snapshot> ParseSnapshot(std::string_view json);
// The `data` object alone, as JSON (`vigil status --json`).
Result<std::string> DataJson(std::string_view response_json);

}  // namespace vigil::status
