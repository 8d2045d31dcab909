#include "cli/build_info.h"

namespace vigil::cli {

collect::BuildInfo GetBuildInfo() { return {VIGIL_VERSION, VIGIL_REVISION, "g++ " __VERSION__}; }

}  // namespace vigil::cli
