// What the ledger adds up to for each service, now: rolling windows, an
// optional calendar month or explicit range, and the SLO's error budget and
// burn rates. One builder feeds /metrics, GET /api/v1/sla and `vigil sla`.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "base/time.h"
#include "incidents/ledger.h"
#include "incidents/sla.h"

namespace vigil::incidents {

// A service's SLA settings from the configuration.
struct ServiceSlaOptions {
  std::string service;
  std::optional<Slo> slo;
  std::vector<TimeRange> maintenance;  // down time inside these is planned
  // Recurring maintenance (weekly windows) as ranges overlapping the one asked; may be empty.
  std::function<std::vector<TimeRange>(TimeRange)> recurring_maintenance;
};

struct WindowReport {
  std::string name;  // "24h", "7d", "30d", "2026-11", or "range"
  Availability availability;
};

struct ServiceReport {
  std::string service;
  ServiceState state = ServiceState::kUnknown;  // the latest recorded
  TimestampMs since_ms = 0;                     // when it began; 0: never recorded
  std::vector<WindowReport> windows;
  std::optional<Slo> slo;
  std::optional<Availability> slo_window;  // the SLO's own rolling window
  std::optional<ErrorBudget> budget;
  std::vector<std::pair<std::string, std::optional<double>>> burn_rates;  // window name -> rate
};

struct ReportRequest {
  TimestampMs now_ms = 0;
  std::string service;             // empty: every service
  std::optional<TimeRange> range;  // an extra window, e.g. a calendar month
  std::string range_name = "range";
};

// Services are the configured ones plus any the ledger knows (a service
// removed from the config keeps its history), sorted by name.
Result<std::vector<ServiceReport>> BuildReport(Ledger& ledger, const std::vector<ServiceSlaOptions>& services,
                                               const ReportRequest& request);

// The reports as the JSON array the API's "data" holds (docs/api.md).
std::string ReportJson(const std::vector<ServiceReport>& reports);

// vigil_service_availability_ratio and friends (docs/sla.md).
void AppendReportMetrics(const std::vector<ServiceReport>& reports, MetricBatch& out);

// The agent's side: records what it observes and answers reports; thread-safe.
class Tracker {
 public:
  // Closes the previous run's books (unknown from its last heartbeat).
  static Result<std::unique_ptr<Tracker>> Open(const std::string& state_path, std::vector<ServiceSlaOptions> services,
                                               TimestampMs now_ms);
  // After a configuration reload.
  void SetServices(std::vector<ServiceSlaOptions> services);
  // Records `state` for `service` at `time_ms` if it changed; errors are logged.
  void Observe(const std::string& service, ServiceState state, TimestampMs time_ms);
  // vigil is still watching; on shutdown the final beat ends the known time.
  void Heartbeat(TimestampMs time_ms);
  Result<std::vector<ServiceReport>> Report(const ReportRequest& request);
  void AppendMetrics(TimestampMs now_ms, MetricBatch& out);

 private:
  Tracker(std::unique_ptr<Ledger> ledger, std::vector<ServiceSlaOptions> services)
      : ledger_(std::move(ledger)), services_(std::move(services)) {}
  std::mutex mu_;
  std::unique_ptr<Ledger> ledger_;
  std::vector<ServiceSlaOptions> services_;
  TimestampMs last_trim_ms_ = 0;
};

}  // namespace vigil::incidents
