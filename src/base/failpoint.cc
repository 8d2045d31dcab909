#include "base/failpoint.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

#include "base/log.h"

namespace vigil::failpoint {
namespace {

// Parsed once from the environment: failpoints are armed for the process's
// whole life, and reading the variable on every call would cost a lookup.
std::map<std::string, std::string, std::less<>> Parse(const char* env) {
  std::map<std::string, std::string, std::less<>> out;
  if (env == nullptr) return out;
  std::string_view rest(env);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view entry = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (entry.empty()) continue;
    size_t colon = entry.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == entry.size()) {
      LogError("VIGIL_FAILPOINTS: ignoring an entry that is not name:/path/to/flag", {{"entry", std::string(entry)}});
      continue;
    }
    std::string name(entry.substr(0, colon)), path(entry.substr(colon + 1));
    LogWarn("test failpoint armed: this vigil hangs on purpose while the flag file exists",
            {{"failpoint", name}, {"flag", path}});
    out[name] = path;
  }
  return out;
}

const std::map<std::string, std::string, std::less<>>& Armed() {
  static const auto* armed =
      new std::map<std::string, std::string, std::less<>>(Parse(std::getenv("VIGIL_FAILPOINTS")));
  return *armed;
}

}  // namespace

void HangWhileFlagged(std::string_view name) {
  const auto& armed = Armed();
  if (armed.empty()) return;
  auto it = armed.find(name);
  if (it == armed.end() || access(it->second.c_str(), F_OK) != 0) return;
  LogWarn("failpoint hit: hanging while the flag file exists", {{"failpoint", it->first}, {"flag", it->second}});
  while (access(it->second.c_str(), F_OK) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  LogWarn("failpoint released", {{"failpoint", it->first}});
}

}  // namespace vigil::failpoint
