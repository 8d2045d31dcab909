// bcrypt password hashes for the web configuration's basic_auth_users (the
// exporter-toolkit format Prometheus and node_exporter read), via libxcrypt.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::http {

// A `$2b$` bcrypt hash of `password` with a fresh random salt. `cost` is
// bcrypt's work factor, 4..31 (each step doubles the time); 10 is the
// exporter-toolkit's default.
Result<std::string> HashPassword(std::string_view password, int cost = 10);

// Whether `password` matches `hash` (any bcrypt prefix: $2a$, $2b$, $2y$).
// False for a malformed hash. Compares in constant time.
bool VerifyPassword(std::string_view password, const std::string& hash);

}  // namespace vigil::http
