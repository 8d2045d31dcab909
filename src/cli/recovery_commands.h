// `vigil recovery list|pause|resume|reset` and `vigil drill` against a
// running vigil's recovery API (/api/v1/recovery).
#pragma once

#include <cstdint>
#include <string>

#include "base/time.h"

namespace vigil::cli {

int ListRecovery(const std::string& server, const std::string& service, bool as_json);
int PauseRecovery(const std::string& server, const std::string& service, const std::string& for_duration);
int ResumeRecovery(const std::string& server, const std::string& service);
int ResetRecovery(const std::string& server, const std::string& service);

struct DrillOptions {
  std::string server = "http://127.0.0.1:9810";
  std::string fault;  // kill, stop, hang, fill-disk
  // A service vigil manages (its unit comes from vigil); fill-disk: a directory under a cleanup root.
  std::string service;
  uint64_t max_fill_bytes = 1ULL << 30;  // fill-disk never writes more
  bool user_bus = false;                 // the unit is under `systemd --user`
  bool yes = false;                      // without it: say what would be done and stop
  int rounds = 1;
  Duration timeout{120000};  // per round
  Duration settle{2000};     // healthy this long before the next round
  bool as_json = false;
};

// Injects the fault and measures, from the injection: the alert firing
// (detect), a notification delivered (notify) and verified health (recover).
// fill-disk writes an old file a cleanup policy may delete into a directory
// under its roots until free space is below the threshold, and measures the
// cleanup's start (detect) and free space back at the target (recover).
// Prints each round and p50/p99 per figure; records each round in vigil.
int RunDrill(const DrillOptions& o);

}  // namespace vigil::cli
