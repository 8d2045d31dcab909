// Small helpers the commands that talk to a running vigil share.
#pragma once

#include <string>

#include "http/client.h"

namespace vigil::cli {

// Prints "error: <message>" to stderr; returns the exit code 1.
int Fail(const std::string& message);

// The API's error text ("HTTP 400: …"): Alertmanager's JSON string, Prometheus's
// {"error": …}, or the start of the body.
std::string ApiError(const http::ClientResponse& r);

}  // namespace vigil::cli
