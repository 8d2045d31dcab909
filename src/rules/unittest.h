// `vigil test rules`: rule unit tests in promtool's format (rule_files,
// evaluation_interval, group_eval_order, tests with input_series in the
// expanding notation, alert_rule_test and promql_expr_test), run against
// vigil's engine over an in-memory store, reporting like promtool does.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace vigil::rules {

// Expands promtool's series notation: "1+2x3" -> 1 3 5 7, "_" (no sample),
// "_x3", "stale", "1x3" -> 1 1 1 1, "-2+4x10", "1e3", "Inf", "NaN".
// Each element is a value or nullopt for "no sample".
Result<std::vector<std::optional<double>>> ExpandSeriesValues(std::string_view text);

struct TestFileResult {
  bool passed = false;
  // The failures in promtool's wording; promtool prints "  FAILED:" and each
  // of them to stderr, each followed by an empty line on stdout.
  std::vector<std::string> failures;
};

// Runs one test file; rule files are resolved relative to its directory.
TestFileResult RunRuleTestFile(const std::string& path);

// Runs each file, printing as promtool does; returns the exit status (0: all passed).
int RunRuleTests(const std::vector<std::string>& files, std::FILE* out, std::FILE* err);

}  // namespace vigil::rules
