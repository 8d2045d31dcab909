// `vigil check rules` and `vigil test rules`.
#pragma once

#include <string>
#include <vector>

namespace vigil::cli {

// Validates rule files; prints "FILE: N rules found" or every problem as
// file:line:col: reason. Returns 0 when all are valid, 1 otherwise.
int CheckRules(const std::vector<std::string>& files);
// Runs rule unit test files in promtool's format. Returns 0 when all pass.
int TestRules(const std::vector<std::string>& files);

}  // namespace vigil::cli
