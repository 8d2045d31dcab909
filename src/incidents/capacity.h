// Capacity forecasts of the host (docs/capacity.md): every filesystem, the
// host's memory and each service's memory, read from the store's downsampled
// history through PromQL, forecast by incidents/forecast.h and said in words.
// Served as GET /api/v1/capacity, `vigil capacity` and vigil_capacity_* metrics.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/time.h"
#include "collect/collector.h"
#include "http/server.h"
#include "incidents/forecast.h"
#include "promql/engine.h"

namespace vigil::incidents {

// One resource's history, as read from the store.
struct ResourceHistory {
  std::string resource;  // "filesystem", "memory" (the host's), "service_memory", "data_dir"
  std::string name;      // the mountpoint, "host", the service, the data directory
  std::vector<UsagePoint> used;
  double capacity_bytes = 0;
  std::string capacity_source;  // what the capacity is ("filesystem size", "MemTotal", "MemoryMax", …)
  std::string service;          // data_dir: whose data it is
  std::string mountpoint;       // data_dir: the filesystem it fills
};

struct ResourceForecast {
  std::string resource, name, capacity_source, service, mountpoint;
  double used_bytes = 0, capacity_bytes = 0;
  std::optional<Forecast> forecast;  // nullopt: see `error`
  std::string error;                 // why there is no forecast (too little history, …)
  std::string recommendation;        // in words, with numbers
};

struct CapacityReport {
  double time_seconds = 0;
  double compute_seconds = 0;  // reading the histories and forecasting them (0: not measured)
  std::vector<ResourceForecast> resources;
};

// Pure: forecasts each history and words a recommendation at `now_seconds`.
CapacityReport BuildReport(const std::vector<ResourceHistory>& histories, double now_seconds,
                           const ForecastOptions& options = {});

// `/mnt/chain` fills in 23 days (14–35) at 4.1 GiB/day: grow it by 120 GiB or
// free space before 2027-01-04; "bitcoind uses 5.8 GiB of 7.7: headroom 25%".
std::string Recommend(const ResourceForecast& r, double now_seconds);

// The API's answer: {"status":"success","data":{...}} (docs/api.md).
std::string ToResponseJson(const CapacityReport& report);

// vigil_capacity_days_to_full{resource,name,bound}, growth per horizon, headroom.
void AppendMetrics(const CapacityReport& report, MetricBatch& out);

struct CapacityOptions {
  promql::QuerierFactory storage;  // required
  promql::EngineOptions engine;
  const Clock* clock = nullptr;  // required; must outlive the reporter
  ForecastOptions forecast;
  // A report is reused this long: forecasts move slowly and a 30-day read is not free.
  Duration cache_for{5 * 60 * 1000};
};

// Reads the histories (30 days at the 1 h resolution, or the last 2 days at
// 5 m where the long read has too few points) and builds reports.
class CapacityReporter {
 public:
  explicit CapacityReporter(CapacityOptions options);
  ~CapacityReporter();
  CapacityReport Build() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// GET /api/v1/capacity (exactly that path; put it before the Prometheus API's /api/v1/).
http::Route NewCapacityRoute(std::shared_ptr<const CapacityReporter> reporter);

// The vigil_capacity_* metrics, for the scheduler (so the default rules can read them).
std::shared_ptr<collect::Collector> NewCapacityCollector(std::shared_ptr<const CapacityReporter> reporter);

}  // namespace vigil::incidents
