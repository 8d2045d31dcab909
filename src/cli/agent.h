// The running agent: wires config, collectors, scheduler and HTTP server,
// and handles signals (SIGHUP reloads, SIGTERM/SIGINT stop within 2 s).
#pragma once

#include <optional>
#include <string>

namespace vigil::cli {

struct RunOptions {
  std::optional<std::string> config_path;  // none: the built-in default config
  std::optional<std::string> data_dir;
  std::optional<std::string> listen;
};

// Runs in the foreground until SIGTERM/SIGINT; returns the process exit code.
int RunAgent(const RunOptions& options);

}  // namespace vigil::cli
