// The Prometheus HTTP API (/api/v1/…) over the PromQL engine and the store,
// answering the JSON shapes, error types and status codes Prometheus does,
// so Grafana's Prometheus data source can use vigil directly.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/remote_read.h"
#include "base/labels.h"
#include "base/metrics.h"
#include "base/time.h"
#include "http/server.h"
#include "promql/engine.h"
#include "promql/range_cache.h"

namespace vigil::rules {
class Manager;
}

namespace vigil::api {

// What /api/v1/status/buildinfo reports.
struct BuildInfo {
  std::string version;
  std::string revision;
  std::string branch;
  std::string build_user;
  std::string build_date;
  std::string go_version;  // Prometheus's field name; vigil puts its compiler here
};

struct Options {
  // Opens a querier over [mint, maxt]; required.
  promql::QuerierFactory storage;
  // Defaults for every query (lookback delta, sample limit, timeout); the
  // request's `timeout` can only shorten the timeout.
  promql::EngineOptions engine;
  // The metric families whose HELP and TYPE /api/v1/metadata lists; may be null.
  std::function<std::vector<std::shared_ptr<const MetricBatch>>()> metric_families;
  BuildInfo build;
  // "Now" for queries without `time`; must outlive the Api. Null: the system clock.
  const Clock* clock = nullptr;
  // Answers /api/v1/rules and /api/v1/alerts; may be null (no rules: empty
  // lists). Must outlive the Api.
  const rules::Manager* rules = nullptr;
  // Answers repeated range queries from earlier results; null: every query
  // is computed whole. Shared, so it outlives a reload's new Api.
  std::shared_ptr<promql::RangeCache> range_cache;
  // Added to series /federate and /api/v1/read return when they lack them
  // (Prometheus's global.external_labels).
  Labels external_labels;
  // Bounds of /api/v1/read.
  RemoteReadLimits remote_read;
};

class Api {
 public:
  explicit Api(Options options);
  // Answers one request below /api/v1/ (404 JSON for unknown endpoints).
  http::Response Handle(const http::Request& request) const;

 private:
  Options options_;
  SystemClock system_clock_;
};

// The route to pass in http::Endpoints::routes: everything below /api/v1/,
// and /federate.
http::Route NewRoute(Options options);

}  // namespace vigil::api
