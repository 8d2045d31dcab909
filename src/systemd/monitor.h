// Watches systemd units over D-Bus (sd-bus): states arrive as
// PropertiesChanged signals on a dedicated thread, so a unit that fails is
// recorded and announced within milliseconds instead of a scrape interval.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"
#include "collect/collector.h"
#include "systemd/units.h"

namespace vigil::systemd {

enum class Bus { kSystem, kUser };

struct MonitorOptions {
  Bus bus = Bus::kSystem;
  std::vector<UnitSpec> units;
  // How often cgroup counters (memory, CPU, tasks) are re-read; states never wait for this.
  Duration refresh_interval{15000};
  const Clock* clock = nullptr;           // required
  collect::EventSink* events = nullptr;   // told about every state change; may be null
  collect::BatchSink* storage = nullptr;  // receives a fresh batch on every change; may be null
  // ANDed into vigil_service_up (see ServicesUp); null: no health checks.
  HealthCheck probes_ok;
};

struct MainProcess {
  std::string unit;
  std::string service;
  uint32_t pid = 0;
};

// Also the "systemd" Collector: a scheduled run renders the cached state,
// reports current problems, and stores the batch through the same ordered
// path as the change-triggered batches (schedule it with store=false).
class Monitor : public collect::Collector {
 public:
  // Starts the watcher thread; connecting happens there (with retries), so
  // this never blocks on the bus.
  static std::shared_ptr<Monitor> Start(MonitorOptions options);
  ~Monitor() override = default;

  // Stops and joins the watcher thread; idempotent.
  virtual void Stop() = 0;
  // The cached state rendered as metrics; no D-Bus call.
  virtual void Render(MetricBatch& out) const = 0;
  virtual std::vector<MainProcess> MainProcesses() const = 0;
  // The cached state of every watched unit; no D-Bus call.
  virtual std::vector<UnitState> Units() const = 0;
  // A health check of a service reported: vigil_service_up is recorded again,
  // with an event, if that changed it. Returns at once (the watcher records).
  virtual void HealthChanged() = 0;
};

}  // namespace vigil::systemd
