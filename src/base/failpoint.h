// Test-only failpoints. VIGIL_FAILPOINTS="name:/path/to/flag[,name:/path]"
// arms the named points; HangWhileFlagged(name) then blocks the calling
// thread for as long as that flag file exists. With the variable unset every
// call is one check of an empty table. Tests use it to make a subsystem stall
// on demand (tests/integration/test_watchdog.py; docs/deploy.md).
#pragma once

#include <string_view>

namespace vigil::failpoint {

// Blocks while the flag file of the armed failpoint `name` exists (polled
// every 50 ms); returns at once when `name` is not armed.
void HangWhileFlagged(std::string_view name);

}  // namespace vigil::failpoint
