// Fuzzes config loading from text: YAML decoding, strict key checking,
// ${VAR} expansion, durations and regexes. The environment is fixed so runs
// are reproducible. A config that loads without problems must be usable.
// The input is also read as a web configuration file.
#include <re2/re2.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

std::optional<std::string> FixedEnv(std::string_view name) {
  if (name == "VIGIL_LISTEN") return "0.0.0.0:9810";
  if (name == "INTERVAL") return "30s";
  if (name == "EXCLUDE") return "^/mnt/.+";
  if (name == "EMPTY") return "";
  if (name == "DOLLARS") return "$${NOT_EXPANDED_TWICE}";
  return std::nullopt;
}

bool Compiles(const std::string& pattern) { return pattern.empty() || RE2(pattern, RE2::Quiet).ok(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  vigil::config::LoadResult r = vigil::config::LoadString(yaml, "fuzz.yml", FixedEnv);
  for (const auto& p : r.problems) {
    Check(!p.message.empty() && p.line >= 0 && p.column >= 0);
    Check(!p.ToString().empty());
  }
  if (r.ok()) {
    const auto& c = r.config;
    Check(c.global.scrape_interval.count() > 0);
    Check(c.host.interval.count() > 0 && c.host.timeout.count() > 0 && c.host.timeout <= c.host.interval);
    Check(Compiles(c.host.exclude_mountpoints) && Compiles(c.host.exclude_fstypes) && Compiles(c.host.exclude_disks) &&
          Compiles(c.host.exclude_network_devices));
  }
  // The same text as a web configuration file (--web.config.file).
  vigil::config::WebConfigResult w = vigil::config::LoadWebConfigString(yaml, "web.yml");
  for (const auto& p : w.problems) Check(!p.message.empty() && p.line >= 0 && p.column >= 0);
  if (w.ok()) {
    for (const auto& [user, hash] : w.config.basic_auth_users) {
      Check(!user.empty() && hash.size() == 60);
    }
    if (w.config.tls) Check(!w.config.tls->cert_file.empty() && !w.config.tls->key_file.empty());
  }
  return 0;
}
