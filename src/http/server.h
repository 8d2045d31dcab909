// vigil's HTTP server: /metrics, /-/healthy, /-/ready (later: the Prometheus
// API and the web UI). The HTTP library stays behind this header.
#pragma once

#include <functional>
#include <memory>
#include <string>
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

struct Endpoints {
  // Everything /metrics shows; called once per scrape.
  std::function<std::vector<std::shared_ptr<const MetricBatch>>()> gather_metrics;
  // /-/ready answers 200 once this returns true.
  std::function<bool()> ready;
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
