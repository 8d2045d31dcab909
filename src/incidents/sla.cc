#include "incidents/sla.h"

#include <algorithm>
#include <ctime>

#include "base/strings.h"

namespace vigil::incidents {

std::string_view StateName(ServiceState state) {
  switch (state) {
    case ServiceState::kUp: return "up";
    case ServiceState::kDownUnplanned: return "down";
    case ServiceState::kDownPlanned: return "planned_down";
    case ServiceState::kUnknown: break;
  }
  return "unknown";
}

std::optional<ServiceState> ParseState(std::string_view name) {
  for (ServiceState s :
       {ServiceState::kUnknown, ServiceState::kUp, ServiceState::kDownUnplanned, ServiceState::kDownPlanned}) {
    if (StateName(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<double> Availability::Ratio() const {
  int64_t known = known_ms();
  if (known <= 0) return std::nullopt;
  return static_cast<double>(known - unplanned_ms) / static_cast<double>(known);
}

namespace {

// Milliseconds of [from, to) covered by `ranges` (which may overlap).
int64_t Covered(std::vector<TimeRange> ranges, TimestampMs from, TimestampMs to) {
  for (auto& r : ranges) r.from_ms = std::max(r.from_ms, from), r.to_ms = std::min(r.to_ms, to);
  std::sort(ranges.begin(), ranges.end(), [](const TimeRange& a, const TimeRange& b) { return a.from_ms < b.from_ms; });
  int64_t total = 0;
  TimestampMs reached = from;
  for (const auto& r : ranges) {
    TimestampMs start = std::max(r.from_ms, reached);
    if (r.to_ms > start) total += r.to_ms - start, reached = r.to_ms;
  }
  return total;
}

}  // namespace

Availability Compute(const std::vector<Transition>& transitions, const std::vector<TimeRange>& maintenance,
                     TimestampMs from_ms, TimestampMs to_ms) {
  Availability a;
  a.from_ms = from_ms;
  a.to_ms = std::max(from_ms, to_ms);
  // The state in force at from_ms is the last transition at or before it.
  ServiceState state = ServiceState::kUnknown;
  TimestampMs at = a.from_ms;
  auto add = [&](TimestampMs end) {
    if (end <= at) return;
    switch (state) {
      case ServiceState::kUnknown: a.unknown_ms += end - at; break;
      case ServiceState::kUp: a.up_ms += end - at; break;
      case ServiceState::kDownPlanned: a.planned_ms += end - at; break;
      case ServiceState::kDownUnplanned: {
        int64_t in_maintenance = Covered(maintenance, at, end);
        a.planned_ms += in_maintenance;
        a.unplanned_ms += end - at - in_maintenance;
        break;
      }
    }
    at = end;
  };
  for (const auto& t : transitions) {
    if (t.time_ms >= a.to_ms) break;
    add(t.time_ms);
    state = t.state;
  }
  add(a.to_ms);
  return a;
}

ErrorBudget Budget(const Availability& window, const Slo& slo) {
  ErrorBudget b;
  b.budget_ms = (1 - slo.objective) * static_cast<double>(window.known_ms());
  b.spent_ms = static_cast<double>(window.unplanned_ms);
  if (window.known_ms() > 0) b.remaining_ratio = 1 - b.spent_ms / b.budget_ms;
  return b;
}

std::optional<double> BurnRate(const Availability& window, const Slo& slo) {
  if (window.known_ms() <= 0) return std::nullopt;
  double error_rate = static_cast<double>(window.unplanned_ms) / static_cast<double>(window.known_ms());
  return error_rate / (1 - slo.objective);
}

Result<TimeRange> MonthRange(std::string_view year_month) {
  auto bad = [&] { return Status::Error("expected a month as YYYY-MM, got \"" + std::string(year_month) + "\""); };
  if (year_month.size() != 7 || year_month[4] != '-') return bad();
  std::optional<int64_t> year = ParseInt64(year_month.substr(0, 4));
  std::optional<int64_t> month = ParseInt64(year_month.substr(5, 2));
  if (!year || !month || *year < 1970 || *month < 1 || *month > 12) return bad();
  auto start_of = [](int64_t y, int64_t m) {
    std::tm tm{};
    tm.tm_year = static_cast<int>(y - 1900);
    tm.tm_mon = static_cast<int>(m - 1);
    tm.tm_mday = 1;
    return static_cast<TimestampMs>(timegm(&tm)) * 1000;
  };
  TimeRange r;
  r.from_ms = start_of(*year, *month);
  r.to_ms = *month == 12 ? start_of(*year + 1, 1) : start_of(*year, *month + 1);
  return r;
}

}  // namespace vigil::incidents
