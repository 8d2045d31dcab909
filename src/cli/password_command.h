// `vigil hash-password`: a bcrypt hash for the web configuration file's
// basic_auth_users, as exporter-toolkit reads it.
#pragma once

namespace vigil::cli {

// Reads the password from the terminal (twice, not echoed) or, when stdin is
// not a terminal, its first line; prints the hash. 0 on success, 1 on error.
int HashPasswordCommand(int cost);

}  // namespace vigil::cli
