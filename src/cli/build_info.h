#pragma once

#include "collect/self/self_collector.h"

namespace vigil::cli {
// Version, revision and compiler baked in at build time.
collect::BuildInfo GetBuildInfo();
}  // namespace vigil::cli
