// `vigil init`: discover a validator stack's units and write a vigil.yml.
#pragma once

#include <string>

namespace vigil::cli {

struct InitOptions {
  std::string preset;
  std::string user;   // the units' instance name; empty: the only one found
  std::string write;  // the file to write; empty: stdout
  bool dry_run = false;
  bool force = false;
  bool user_bus = false;
};

// Returns the exit code: 0 written, 1 nothing found or the file exists, 2 bad arguments.
int RunInit(const InitOptions& options);

}  // namespace vigil::cli
