// Fuzzes the env file parser (ParseEnvFile) and ${VAR} expansion
// (ExpandVariables), both of config/env.h, on the same input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "config/env.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

std::optional<std::string> FixedEnv(std::string_view name) {
  if (name == "HOME") return "/root";
  if (name == "USER") return "vigil";
  if (name == "EMPTY") return "";
  if (name == "DOLLAR") return "$HOME";  // values are not expanded again
  return std::nullopt;
}

bool IsVarName(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  int lines = 1;
  for (char c : text) lines += c == '\n';

  // Lines may reference earlier ones several times ("A=$A$A"); env.cc caps
  // values and their total (corpus/envfile_fuzz/oom-exponential-expansion.env).
  vigil::config::EnvFile f = vigil::config::ParseEnvFile(text, FixedEnv);
  size_t total = 0;
  for (const auto& [key, value] : f.vars) {
    Check(IsVarName(key));
    total += value.size();
  }
  Check(total <= (16u << 20));
  for (const auto& p : f.problems) Check(p.line >= 1 && p.line <= lines && !p.message.empty());

  vigil::Result<std::string> expanded = vigil::config::ExpandVariables(text, FixedEnv);
  if (!expanded.ok()) Check(!expanded.status().message().empty());
  return 0;
}
