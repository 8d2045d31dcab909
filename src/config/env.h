// ${VAR} expansion and .envrc-style env files.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace vigil::config {

// Expands ${VAR} and ${VAR:-default}; "$$" is a literal "$". An unset
// variable without a default is an error naming the variable (never its value).
Result<std::string> ExpandVariables(std::string_view text, const EnvLookup& env);

struct EnvFileProblem {
  int line;
  std::string message;
};

// Parses `export KEY=VALUE` / `KEY=VALUE` lines with single or double quotes,
// comments and blank lines. Unquoted and double-quoted values expand $VAR and
// ${VAR} from earlier lines, then `env` (unset expands to empty, like a shell).
struct EnvFile {
  std::map<std::string, std::string> vars;
  std::vector<EnvFileProblem> problems;
};
EnvFile ParseEnvFile(std::string_view content, const EnvLookup& env);

}  // namespace vigil::config
