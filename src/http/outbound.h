// One bounded outbound HTTP(S) exchange over cpp-httplib, with failures mapped
// to short stable reasons: what probes, scrapes and notification delivery
// share. httplib stays in outbound.cc.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vigil::http {

using SteadyTime = std::chrono::steady_clock::time_point;

// A failed check: `reason` is a bounded label value, `detail` a short message
// that never holds a secret.
struct Failure {
  std::string reason;
  std::string detail;
};

struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  int port = 0;
  std::string path_and_query = "/";
  std::string user, password;  // from user:password@, if any
  // scheme://host:port/path, without credentials or query: safe for labels and logs.
  std::string redacted;
};

// Parses http(s)://[user[:password]@]host[:port][/path][?query].
std::optional<ParsedUrl> ParseUrl(const std::string& url);

struct HttpRequest {
  ParsedUrl url;
  std::string method = "GET";
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string user, password;  // basic auth when either is set
  bool tls_verify = true;
  std::string tls_ca_file;                  // empty: the system's trust store
  std::string tls_cert_file, tls_key_file;  // a client certificate, both or neither
  SteadyTime deadline;
  size_t max_body_bytes = 8 << 20;
  // Reuse a kept-alive connection to the same origin from an earlier
  // exchange, and keep this one for the next (notification delivery: one
  // connection per receiver instead of one per notification).
  bool keep_alive = false;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any (429, 503)
};

// Sends `req`; on a transport failure returns it (reason timeout,
// connection_refused, tls_handshake_failed, tls_verify_failed, read_failed,
// body_too_large, …). Any HTTP status is a response, not a failure.
std::optional<Failure> HttpExchange(const HttpRequest& req, HttpResponse* out);

// The earliest of `deadline` and now + `timeout`.
SteadyTime DeadlineFrom(SteadyTime deadline, std::chrono::milliseconds timeout);

}  // namespace vigil::http
