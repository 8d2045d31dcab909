#include "cli/rules_commands.h"

#include <cstdio>

#include "base/log.h"
#include "rules/rule_file.h"
#include "rules/unittest.h"

namespace vigil::cli {

int CheckRules(const std::vector<std::string>& files) {
  int rc = 0;
  for (const auto& file : files) {
    std::printf("Checking %s\n", file.c_str());
    rules::LoadResult r = rules::LoadRuleFiles({file});
    if (!r.ok()) {
      rc = 1;
      std::printf("  FAILED:\n");
      for (const auto& p : r.problems) std::printf("%s\n", p.ToString().c_str());
      std::printf("\n");
      continue;
    }
    size_t n = 0;
    for (const auto& g : r.groups) n += g.rules.size();
    std::printf("  SUCCESS: %zu rules found\n\n", n);
  }
  return rc;
}

int TestRules(const std::vector<std::string>& files) {
  // Rule failures are reported in the test output; the evaluator's log lines would repeat them.
  SetLogLevel(LogLevel::kError);
  return rules::RunRuleTests(files, stdout, stderr);
}

}  // namespace vigil::cli
