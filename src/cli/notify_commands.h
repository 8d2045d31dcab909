// `vigil notify test RECEIVER`: send a test message through every
// integration of a configured receiver, now, and say what each answered.
#pragma once

#include <optional>
#include <string>

namespace vigil::cli {

int NotifyTest(const std::optional<std::string>& config_path, const std::string& receiver, const std::string& severity);

}  // namespace vigil::cli
