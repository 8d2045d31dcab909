// /api/v1/rules and /api/v1/alerts in Prometheus's JSON shape, from the rule
// manager's snapshots; internal to src/api, exposed for its tests.
#pragma once

#include <string>
#include <vector>

#include "rules/manager.h"

namespace vigil::api {

struct RulesFilter {
  std::string type;  // "", "alert" or "record"
  std::vector<std::string> rule_names, group_names, files;
  bool exclude_alerts = false;
};

// The "data" object of /api/v1/rules: {"groups":[…]}.
std::string RulesData(const std::vector<rules::GroupSnapshot>& groups, const RulesFilter& filter);
// The "data" object of /api/v1/alerts: {"alerts":[…]}.
std::string AlertsData(const std::vector<rules::AlertSnapshot>& alerts);
// Go's time.Time in JSON (RFC 3339 with trimmed nanoseconds), in UTC; 0 is Go's zero time.
std::string FormatGoTime(TimestampMs t);

}  // namespace vigil::api
