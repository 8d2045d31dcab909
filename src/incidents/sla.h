// Uptime and SLA from exact state-change times: a service's ledger of
// transitions (up, down unplanned, down planned, unknown while vigil was not
// watching) and what it adds up to over a window. Pure and clock-free: every
// function takes the times it needs, so tests drive every edge exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace vigil::incidents {

enum class ServiceState {
  kUnknown,        // vigil was not running (or had not looked yet): neither up nor down
  kUp,             // what vigil_service_up reports as 1
  kDownUnplanned,  // failed, killed, probes failing
  kDownPlanned,    // stopped cleanly by an operator
};

// "unknown", "up", "down", "planned_down": the names stored in state.db and shown by the API.
std::string_view StateName(ServiceState state);
std::optional<ServiceState> ParseState(std::string_view name);

struct Transition {
  TimestampMs time_ms = 0;
  ServiceState state = ServiceState::kUnknown;
};

// A half-open range of time [from_ms, to_ms).
struct TimeRange {
  TimestampMs from_ms = 0;
  TimestampMs to_ms = 0;
};

struct Availability {
  TimestampMs from_ms = 0;
  TimestampMs to_ms = 0;
  int64_t up_ms = 0;
  int64_t unplanned_ms = 0;  // down outside maintenance windows, not a clean stop
  int64_t planned_ms = 0;    // clean stops, and any downtime inside a maintenance window
  int64_t unknown_ms = 0;    // vigil was not watching
  int64_t known_ms() const { return up_ms + unplanned_ms + planned_ms; }
  // The share of the known time not lost to unplanned downtime (planned
  // downtime does not count against it); nullopt when nothing is known.
  std::optional<double> Ratio() const;
};

// Adds up [from_ms, to_ms) from `transitions` (sorted by time; each holds
// until the next; before the first the state is unknown). Down time inside
// any of `maintenance` counts as planned; unknown stays unknown.
Availability Compute(const std::vector<Transition>& transitions, const std::vector<TimeRange>& maintenance,
                     TimestampMs from_ms, TimestampMs to_ms);

// An objective over a rolling window, e.g. 99.9% over 30d.
struct Slo {
  double objective = 0;  // in (0, 1)
  Duration window{30LL * 24 * 3600 * 1000};
};

// The error budget of `slo` over `window` (which should span slo.window):
// the unplanned downtime the objective allows in the known time, and the
// share of it not yet spent (negative once overspent).
struct ErrorBudget {
  double budget_ms = 0;
  double spent_ms = 0;
  std::optional<double> remaining_ratio;  // nullopt when nothing is known
};
ErrorBudget Budget(const Availability& window, const Slo& slo);

// How fast `window`'s unplanned downtime spends the budget: 1 spends exactly
// the budget over the SLO window, 14.4 spends 2% of a 30d budget in an hour.
std::optional<double> BurnRate(const Availability& window, const Slo& slo);

// The calendar month "YYYY-MM" in UTC.
Result<TimeRange> MonthRange(std::string_view year_month);

}  // namespace vigil::incidents
