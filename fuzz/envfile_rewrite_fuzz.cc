// Fuzzes ReplaceEnvValue (recovery/actions/envfile_rewrite.h) against the env
// file parser it must agree with (config::ParseEnvFile): after the rewrite the
// key reads back as the new value, every other key as before, and a second
// rewrite with the same value changes nothing.
// Input: byte 0 picks the key, the rest up to the first newline is the value,
// everything after it is the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "config/env.h"
#include "recovery/actions/envfile_rewrite.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

vigil::config::EnvFile Parse(std::string_view text) {
  return vigil::config::ParseEnvFile(text, [](std::string_view) { return std::optional<std::string>(); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kKeys[] = {"K", "TITAN_URL", "A", "export", "_x1"};
  std::string_view key = kKeys[data[0] % (sizeof kKeys / sizeof kKeys[0])];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t nl = rest.find('\n');
  std::string_view value = rest.substr(0, nl);
  std::string_view content = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);

  std::string out = vigil::recovery::ReplaceEnvValue(content, key, value);
  if (!vigil::recovery::ValidateEnvAssignment(key, value).ok()) {
    Check(out == content);
    return 0;
  }
  vigil::config::EnvFile before = Parse(content);
  vigil::config::EnvFile after = Parse(out);
  auto it = after.vars.find(std::string(key));
  Check(it != after.vars.end() && it->second == value);

  // Other values may legitimately change when they expand $KEY, or when the
  // parser's 16 MiB total cap cut them off before and no longer does.
  size_t total = 0;
  for (const auto& [k, v] : before.vars) total += v.size();
  bool references_key = content.find("$" + std::string(key)) != std::string_view::npos ||
                        content.find("${" + std::string(key)) != std::string_view::npos;
  if (!references_key && total < (1u << 20)) {
    for (const auto& [k, v] : before.vars) {
      if (k == key) continue;
      auto a = after.vars.find(k);
      Check(a != after.vars.end() && a->second == v);
    }
    for (const auto& [k, v] : after.vars) Check(k == key || before.vars.count(k) == 1);
  }
  Check(vigil::recovery::ReplaceEnvValue(out, key, value) == out);
  return 0;
}
