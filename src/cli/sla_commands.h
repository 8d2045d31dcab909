// `vigil sla`, and the SLA settings the agent and the command both take from
// the configuration (SLOs, maintenance windows).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "incidents/report.h"
#include "systemd/units.h"

namespace vigil::cli {

// Every service with a unit (the ones whose state is recorded), with its SLO
// and maintenance: its own maintenance_windows and alerting's windows whose
// matchers match {service="<name>"}. The configuration was validated.
std::vector<incidents::ServiceSlaOptions> SlaOptionsFor(const config::Config& c);

// The state vigil_service_up reports for `service`, with the reason it is
// down: planned when every unit not up was stopped cleanly (inactive with
// Result=success, as `systemctl stop` leaves it, or deactivating under a
// job), unplanned otherwise (failed, killed, missing, or probes failing).
// nullopt while one of its units has not been read yet or none is tracked
// (vigil is starting, or a glob matches no unit).
std::optional<incidents::ServiceState> SlaStateOf(const std::string& service,
                                                  const std::vector<systemd::UnitState>& units, bool probes_ok);
// When `service` entered `state` by systemd's own timestamps (exact, unlike
// the time vigil hears of it): up since the last of its units became active,
// down since the first of its down units went inactive. 0 when systemd does
// not say (probes failing, a stop still in progress, a unit never active).
TimestampMs SlaStateSince(const std::string& service, const std::vector<systemd::UnitState>& units,
                          incidents::ServiceState state, bool probes_ok);

// systemd stops a BindsTo=/Requires= dependent cleanly when what it needs
// fails, so SlaStateOf calls that stop planned. This turns such a stop
// unplanned: a service down "planned" while a service it depends on
// (depends_on, through others too) is down unplanned was taken down by that
// failure, and stays unplanned until it is up again, even once the
// dependency is back. Keeps that memory between calls; not thread-safe.
class DependencyStops {
 public:
  explicit DependencyStops(std::map<std::string, std::vector<std::string>> depends_on)
      : depends_on_(std::move(depends_on)) {}
  // Rewrites `states` (service -> state, as SlaStateOf gave them) in place.
  void Attribute(std::map<std::string, incidents::ServiceState>& states);
  // A reloaded configuration: the stops already attributed stay so (a
  // SIGHUP mid-outage must not turn them planned) for services still named.
  void SetDependsOn(std::map<std::string, std::vector<std::string>> depends_on);

 private:
  bool DependsOnUnplanned(const std::string& service, const std::map<std::string, incidents::ServiceState>& states,
                          std::set<std::string>& seen) const;
  std::map<std::string, std::vector<std::string>> depends_on_;
  std::set<std::string> taken_down_;  // planned-looking stops a dependency's failure caused
};

struct SlaCommandOptions {
  std::string config_path;  // empty: the built-in configuration
  std::string data_dir;     // empty: the configuration's
  std::string service;
  std::string month;  // YYYY-MM
  std::string from, to;
  bool as_json = false;
};

// Reads <data_dir>/state.db (vigil may be running) and prints each service's
// availability, downtime by kind and SLO; --json prints the API's data.
int ShowSla(const SlaCommandOptions& o);

}  // namespace vigil::cli
