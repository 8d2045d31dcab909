// vigil's HTTP server: /metrics, /-/healthy, /-/ready, and routes other
// subsystems register (the Prometheus API, later the web UI). The HTTP
// library stays behind this header.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"

namespace vigil::http {

struct HostPort {
  std::string host;
  int port = 0;
};
// Parses "127.0.0.1:9810", "[::1]:9810", "localhost:0"; the error says why.
Result<HostPort> ParseListenAddress(const std::string& address);

// One decoded request, as a registered route sees it.
struct Request {
  std::string method;  // "GET", "POST", …
  std::string path;    // decoded, without the query string
  // URL query parameters followed by the parameters of an
  // application/x-www-form-urlencoded body, in order; repeats kept (match[]).
  std::vector<std::pair<std::string, std::string>> params;
  std::string body;          // the raw body (for other content types)
  std::string content_type;  // the Content-Type header

  // The first value of `name`, or empty when absent.
  std::string Param(std::string_view name) const;
  bool HasParam(std::string_view name) const;
  // Every value of `name` in order (for repeated parameters like match[]).
  std::vector<std::string> Params(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<Response(const Request&)>;

// Requests whose path starts with `path_prefix` (any method) go to `handler`,
// which does its own dispatch and answers 404/405 itself.
struct Route {
  std::string path_prefix;
  Handler handler;
};

// Largest request body a route accepts; larger ones get 413.
inline constexpr size_t kMaxRequestBodyBytes = 8 << 20;

// Decodes `a=1&b=x+y&match%5B%5D=up` into pairs ('+' is a space); malformed
// percent escapes are kept literally, as Go's lenient callers see them.
std::vector<std::pair<std::string, std::string>> ParseFormUrlEncoded(std::string_view text);

struct Endpoints {
  // Everything /metrics shows; called once per scrape.
  std::function<std::vector<std::shared_ptr<const MetricBatch>>()> gather_metrics;
  // /-/ready answers 200 once this returns true.
  std::function<bool()> ready;
  // Further routes, matched by prefix in order after the built-in ones.
  std::vector<Route> routes;
};

class Server {
 public:
  virtual ~Server() = default;
  // The address actually bound (the real port when 0 was asked for).
  virtual HostPort bound() const = 0;
  // Stops accepting, finishes in-flight requests and joins the serving thread.
  virtual void Stop() = 0;
};

// Binds and starts serving on a background thread. Fails with
// "listen 127.0.0.1:9810: Address already in use" and the like.
Result<std::unique_ptr<Server>> StartServer(const std::string& listen, Endpoints endpoints);

}  // namespace vigil::http
