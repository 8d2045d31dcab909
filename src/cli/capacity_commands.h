// `vigil capacity [--json]`: a running vigil's capacity forecasts
// (GET /api/v1/capacity), one recommendation in words per resource.
#pragma once

#include <string>

namespace vigil::cli {

// Exit 0 when nothing is forecast full within 7 days, 1 when something is,
// 3 when vigil cannot be asked (as `vigil status` does).
int ShowCapacity(const std::string& server, bool as_json);

}  // namespace vigil::cli
