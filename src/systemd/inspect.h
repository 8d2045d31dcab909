// Reading units' definitions over D-Bus for `vigil init`: which units match
// a pattern, and the properties that say what a unit runs and with which
// environment. One short-lived connection per call, like control.h.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "systemd/monitor.h"

namespace vigil::systemd {

// Names of the units matching any of `patterns` (globs): those loaded
// (ListUnitsByPatterns) and those with a unit file (ListUnitFilesByPatterns),
// sorted, without duplicates. Templates ("name@.service") are left out.
Result<std::vector<std::string>> ListUnitNames(Bus bus, const std::vector<std::string>& patterns);

struct UnitDefinition {
  std::string name;
  std::string load_state;
  std::string fragment_path;
  std::string load_error;                      // LoadError's message when not loaded
  std::vector<std::string> exec_start;         // argv of the first ExecStart=
  std::vector<std::string> environment;        // Environment=
  std::vector<std::string> environment_files;  // EnvironmentFile=, "-" prefixed when missing is allowed
  std::string working_directory;               // "~", "!/path" as systemd reports it
  std::string user;                            // User=
};

// Loads `unit` (LoadUnit: a template instance need not be running) and reads its definition.
Result<UnitDefinition> ReadUnitDefinition(Bus bus, const std::string& unit);

}  // namespace vigil::systemd
