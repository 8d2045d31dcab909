// Incidents: firing alerts grouped into one incident when they overlap in time
// and are linked through their `service` label by `depends_on` (a root and the
// dependents it took down) or by an inhibit rule; each with a timeline and its
// MTTD and MTTR. Pure and clock-free: the caller reads the alert episode log,
// the first delivered notifications, the recovery audit and the SLA ledger.
// Definitions: docs/incidents.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alert/inhibit.h"
#include "base/severity.h"
#include "base/time.h"
#include "incidents/alert_quality.h"
#include "incidents/sla.h"
#include "rules/state_store.h"

namespace vigil::incidents {

// A recovery audit row (recovery::AuditEntry) as incidents need it.
struct RecoveryEvent {
  std::string service;
  TimestampMs time_ms = 0;
  std::string kind;     // "action" or an event kind such as "systemd_restart"
  std::string action;   // restart, cleanup, … (actions only)
  std::string target;   // the unit acted on
  std::string outcome;  // started, verifying, verified, verify_failed, done, failed, …
  int64_t duration_ms = 0;
};

struct IncidentInput {
  std::vector<rules::AlertEpisode> episodes;
  std::vector<FirstNotification> notifications;
  std::vector<RecoveryEvent> recovery;
  std::map<std::string, std::vector<Transition>> transitions;  // service -> ledger, oldest first
  std::map<std::string, std::vector<std::string>> depends_on;  // service -> what it needs
  std::vector<alert::InhibitRule> inhibit_rules;               // the configured ones
  SeverityMap severities;
};

struct TimelineEvent {
  TimestampMs time_ms = 0;
  // first_evidence, pending, firing, resolved, notified, recovery_started,
  // recovery_verified, recovery_failed, recovery_done, systemd_restart, service_down, service_up, resolution.
  std::string kind;
  std::string service, alert;
  std::string detail;
};

struct Incident {
  int64_t id = 0;  // given by the store; 0 until then
  std::string root_service, root_alert;
  std::string severity;                          // the highest of its alerts'
  std::vector<std::string> services;             // affected, root first, then sorted
  std::vector<std::string> alerts;               // alertnames, sorted, unique
  std::vector<int64_t> episode_ids;              // its alert episodes, sorted
  TimestampMs start_ms = 0, end_ms = 0;          // first evidence; resolution (0: ongoing)
  std::vector<TimelineEvent> timeline;           // in time order
  std::optional<TimestampMs> first_notified_ms;  // the first notification delivered
  std::optional<int64_t> mttd_ms;                // first evidence -> first delivered (or firing, flagged)
  bool mttd_from_firing = false;                 // nothing was delivered: MTTD counts to firing
  std::optional<int64_t> mttr_ms;                // first evidence -> root back up (or root alert resolved)
  std::string mttr_source;                       // "service_up" or "alert_resolved"
};

// Episodes of the same alert that fire again within this long of resolving
// are one incident (a flapping alert): AlertQualityWindow of its `for`.
// Linked alerts join when their [active_at, resolved_at) stretches overlap.
std::vector<Incident> GroupIncidents(const IncidentInput& in);

// One incident from a known set of member episodes (ids; members absent from
// the input are skipped): root, severity, timeline, MTTD, MTTR. nullopt when
// none of them is in the input.
std::optional<Incident> BuildIncident(const std::vector<int64_t>& episode_ids, const IncidentInput& in);

// "first evidence", "AlertName firing", … : a timeline event in words.
std::string DescribeEvent(const TimelineEvent& e);

// The chart data of a post-mortem: one series' points.
struct ChartSeries {
  std::string name;  // its labels, e.g. vigil_service_up{service="root"}
  std::vector<std::pair<TimestampMs, double>> points;
};

// The Markdown post-mortem: summary, MTTD/MTTR, timeline table, and the charts'
// data (`charts_note` instead when there is none, saying why).
std::string IncidentMarkdown(const Incident& incident, const std::vector<ChartSeries>& charts,
                             const std::string& charts_note);

}  // namespace vigil::incidents
