// GET /api/v1/status: one snapshot of the host's health (services with
// their state, uptime and key health values, alerts by priority, host
// resources), computed in the agent from its store, its rules and its
// recovery controller. The web UI, `vigil status` and `vigil top` read it;
// the JSON is documented in docs/api.md and modelled in status/snapshot.h.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alert/mute.h"
#include "base/severity.h"
#include "base/time.h"
#include "http/server.h"
#include "promql/engine.h"
#include "status/snapshot.h"

namespace vigil::rules {
class Manager;
}
namespace vigil::recovery {
class Controller;
}

namespace vigil::status {

// The part of the configuration the snapshot reads; replaced on reload.
struct ServiceSpec {
  std::string name;
  std::string unit;  // name or glob; empty: none
  std::vector<std::string> depends_on;
};
struct Config {
  std::vector<ServiceSpec> services;
  SeverityMap severities;  // alerting.severities
  std::string host_name;   // the `instance` label of the host's series
  std::string host_job;    // the `job` label of host and systemd series (host.job)
};

struct Options {
  promql::QuerierFactory storage;  // required
  promql::EngineOptions engine;
  const Clock* clock = nullptr;  // required; must outlive the route
  // The current configuration; required.
  std::function<std::shared_ptr<const Config>()> config;
  // Pending and firing alerts; may be null (no rules). Must outlive the route.
  const rules::Manager* rules = nullptr;
  // The running recovery controller or null; may be empty.
  std::function<std::shared_ptr<recovery::Controller>()> recovery;
  // The silences, to mark the firing alerts they match; may be empty.
  std::function<std::vector<alert::Silence>()> silences;
};

// Builds snapshots; slow-moving figures (30-day uptime, 6-hour fill rates)
// are cached for a minute so a snapshot stays cheap at any request rate.
class Builder {
 public:
  explicit Builder(Options options);
  ~Builder();
  Snapshot Build() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The route for http::Endpoints::routes, answering exactly /api/v1/status.
// Routes match by prefix, so it goes before the Prometheus API's /api/v1/ and
// hands everything else under its prefix (/api/v1/status/buildinfo, …) to
// `fallback` (that API's handler).
http::Route NewRoute(Options options, http::Handler fallback);

}  // namespace vigil::status
