// `vigil status` and `vigil top`: the host's health from a running vigil's
// GET /api/v1/status, as one screen (for SSH, MOTD and cron) or live.
#pragma once

#include <string>

#include "base/time.h"

namespace vigil::cli {

// Exit code when vigil cannot be reached or does not answer the status.
inline constexpr int kUnreachableExitCode = 3;

// "http://" + the default configuration's listen address (a wildcard
// address becomes loopback).
std::string DefaultServerUrl();

struct StatusCommandOptions {
  std::string server;
  bool as_json = false;
};
// Prints the snapshot; returns 0 healthy, 1 warning, 2 critical, 3 unreachable.
int ShowStatus(const StatusCommandOptions& o);

struct TopOptions {
  std::string server;
  Duration interval{1000};
};
// The live full-screen view; needs a terminal on stdin and stdout.
int RunTop(const TopOptions& o);

}  // namespace vigil::cli
