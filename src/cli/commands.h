// The vigil command tree (run, check config, version, …).
#pragma once

namespace vigil::cli {
// Parses argv, runs the chosen subcommand and returns the exit code.
int Main(int argc, char** argv);
}  // namespace vigil::cli
