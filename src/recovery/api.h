// The recovery API on vigil's port: GET /api/v1/recovery (mode, pauses,
// each service's phase and budget, recent audit entries) and the operator's
// controls POST /api/v1/recovery/{pause,resume,reset} (form or query
// parameters `service` and `for`).
#pragma once

#include <functional>
#include <memory>

#include "http/server.h"
#include "recovery/controller.h"

namespace vigil::recovery {

// `current` returns the running controller, or null when recovery is off.
http::Route NewApiRoute(std::function<std::shared_ptr<Controller>()> current);

}  // namespace vigil::recovery
