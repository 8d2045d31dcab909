// `vigil check rules` and `vigil test rules`.
#pragma once

#include <string>
#include <vector>

namespace vigil::cli {

// Validates rule files; prints "FILE: N rules found" or every problem as
// file:line:col: reason, plus a warning per severity value the map (that of
// `config_path`'s alerting.severities, or the default) does not name.
// Returns 0 when all are valid, 1 otherwise.
int CheckRules(const std::vector<std::string>& files, const std::string& config_path = "");
// Runs rule unit test files in promtool's format. Returns 0 when all pass.
int TestRules(const std::vector<std::string>& files);
// `vigil alerts`: the pending and firing alerts of a running vigil, as a
// table (firing first, then by severity) or as the API's JSON data.
int ListAlerts(const std::string& server, bool json);

}  // namespace vigil::cli
