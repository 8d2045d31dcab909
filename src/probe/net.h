// Internal: TCP connect bounded by a deadline, for the TCP and TLS probes.
#pragma once

#include <optional>
#include <string>

#include "http/outbound.h"

namespace vigil::probe {
// The outbound HTTP client the probes are built on.
using http::DeadlineFrom;
using http::Failure;
using http::HttpExchange;
using http::HttpRequest;
using http::HttpResponse;
using http::ParsedUrl;
using http::ParseUrl;
using http::SteadyTime;
}  // namespace vigil::probe

namespace vigil::probe {

// Splits "host:port" or "[v6]:port"; false when malformed.
bool SplitHostPort(const std::string& target, std::string* host, int* port);

// Connects to host:port before `deadline`; on success `*fd` is a connected,
// non-blocking socket the caller closes. Failures: dns_failed, timeout,
// connection_refused, connect_failed.
std::optional<Failure> ConnectTcp(const std::string& host, int port, SteadyTime deadline, int* fd);

// Milliseconds left until `deadline` for poll(2), at least 0.
int PollMillisLeft(SteadyTime deadline);

}  // namespace vigil::probe
