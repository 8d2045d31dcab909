// Internal to the agent: turns each configured service's probes, peer modules
// (bitcoind, titan, validator) and update check, and every scrape target, into
// scheduled collectors, and keeps the per-service probe verdict that
// vigil_service_up ANDs in.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"
#include "collect/collector.h"
#include "collect/scheduler.h"
#include "config/config.h"

namespace vigil::cli {

// The latest verdict of every health-bearing collector (probes and peer
// modules, not update checks), by service. A service whose collectors have
// not reported yet counts as passing, so a fresh start never pages on
// "down" before the first probe ran.
class ServiceHealth {
 public:
  // `events` (may be null) hears of every change of a service's verdict.
  ServiceHealth(const Clock& clock, collect::EventSink* events) : clock_(clock), events_(events) {}

  // A check of `service` by `collector`, begun at `started_ms`, passed or not.
  void Record(const std::string& service, const std::string& collector, bool ok, TimestampMs started_ms);
  // Every check of the service passes, each begun at or after `since_ms`
  // (the service's start: checks of the process before count for nothing).
  // True before any check has reported.
  bool ProbesOk(std::string_view service, TimestampMs since_ms = 0) const;
  // Called after every check (the systemd monitor re-records vigil_service_up).
  void SetOnCheck(std::function<void()> on_check);
  // The time by which each of the service's `expected` checks has reported at
  // least once (the oldest latest verdict); 0 while one has never reported.
  TimestampMs AllCheckedSince(std::string_view service, size_t expected) const;

 private:
  const Clock& clock_;
  collect::EventSink* events_;
  mutable std::mutex mu_;
  struct Verdict {
    bool ok = true;
    TimestampMs at_ms = 0;
  };
  std::map<std::string, std::map<std::string, Verdict>, std::less<>> verdicts_;  // service -> collector -> verdict
  std::function<void()> on_check_;
};

struct ServiceCollectors {
  std::vector<collect::ScheduledCollector> scheduled;
  std::shared_ptr<ServiceHealth> health;
};

// Builds the collectors of every service in `c`. A collector that cannot be
// built (the configuration loader normally prevents it) is logged with its
// service and skipped; the others still run.
ServiceCollectors BuildServiceCollectors(const config::Config& c, const Clock& clock, collect::EventSink* events);

}  // namespace vigil::cli
