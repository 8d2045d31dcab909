// The running agent: wires config, collectors, scheduler and HTTP server,
// and handles signals (SIGHUP reloads, SIGTERM/SIGINT stop within 2 s).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/time.h"

namespace vigil::cli {

struct RunOptions {
  std::optional<std::string> config_path;  // none: the built-in default config
  std::optional<std::string> data_dir;
  std::optional<std::string> listen;
  // PromQL engine limits (--query.*); unset: the engine's defaults.
  std::optional<Duration> query_lookback_delta;
  std::optional<int64_t> query_max_samples;
  std::optional<Duration> query_timeout;
  // --web.config.file: TLS and accounts (the exporter-toolkit's file).
  std::optional<std::string> web_config_file;
  // --web.insecure: listen beyond loopback without authentication.
  bool web_insecure = false;
};

// Runs in the foreground until SIGTERM/SIGINT; returns the process exit code.
int RunAgent(const RunOptions& options);

}  // namespace vigil::cli
