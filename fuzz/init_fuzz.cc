// Fuzzes `vigil init`'s readers (shell scripts in ExecStart, env files,
// bitcoin.conf, unit files) and its rendering: whatever the units and files
// hold, the configuration it writes must load (config::LoadString) and every
// note must be one line. Input: up to five parts separated by NUL bytes:
// bitcoind's argv (space-separated), a shell script run by titan and the
// validator, an env file (also every sourced file), bitcoin.conf, the
// validator's unit file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "config/config.h"
#include "init/init.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts(5);
  for (size_t i = 0, at = 0; i < parts.size() && at <= text.size(); ++i) {
    size_t nul = std::min(text.find('\0', at), text.size());
    parts[i] = std::string(text.substr(at, nul - at));
    at = nul + 1;
  }
  (void)vigil::init::ShellWords(text);
  (void)vigil::init::ParseBitcoinConf("/b.conf", text);
  (void)vigil::init::StandardOutputFile(text);

  std::vector<std::string> bitcoind{"/usr/bin/bitcoind"};
  for (std::string_view f : vigil::SplitFields(parts[0])) bitcoind.emplace_back(f);
  vigil::init::Host host;
  host.user = "fz";
  host.home = "/home/fz";
  host.user_bus = !parts[1].empty() && parts[1][0] == 'u';
  host.units = {
      {"arch-bitcoind@fz.service", "loaded", "/b.service", "", bitcoind, {"RPC=1"}, {"/e.env"}, ""},
      {"arch-titan@fz.service", "loaded", "/t.service", "", {"/bin/sh", "-c", parts[1]}, {}, {"-/e.env"}, "~"},
      {"arch-validator@fz.service", "loaded", "/unit", "", {"/bin/bash", "-lc", parts[1]}, {}, {}, "/srv"},
  };
  vigil::init::FileReader read = [&](const std::string& path) -> vigil::Result<std::string> {
    if (path == "/home/fz/.bitcoin/bitcoin.conf") return parts[3];
    if (path == "/unit") return parts[4];
    if (path == "/missing") return vigil::Status::Error("No such file or directory");
    return parts[2];
  };
  vigil::init::Output out = vigil::init::RenderArchValidator(host, read);
  for (const auto& n : out.notes) Check(n.find('\n') == std::string::npos);
  vigil::config::LoadResult loaded =
      vigil::config::LoadString(out.yaml, "init.yml", [](std::string_view name) -> std::optional<std::string> {
        if (name == "HOME") return "/home/fz";
        return std::nullopt;
      });
  if (!loaded.ok() && std::getenv("INIT_FUZZ_DEBUG"))
    std::fprintf(stderr, "%s\n%s\n", loaded.problems[0].ToString().c_str(), out.yaml.c_str());
  Check(loaded.ok());
  return 0;
}
