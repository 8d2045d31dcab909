// The Collector interface: everything vigil measures comes through it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "base/time.h"

namespace vigil::collect {

struct CollectContext {
  TimestampMs now_ms = 0;
  // Collectors doing I/O that can block (network, statfs on a stuck mount)
  // should give up by this time; the scheduler counts overruns as timeouts.
  std::chrono::steady_clock::time_point deadline;
};

class Collector {
 public:
  virtual ~Collector() = default;
  // A short, stable name used in the collector label ("host", "systemd", …).
  virtual std::string_view name() const = 0;
  // Fills `out`. Per-item problems go to out.ReportError and the rest is kept;
  // a returned error means nothing useful was collected.
  virtual Status Collect(const CollectContext& ctx, MetricBatch& out) = 0;
};

// Something that learned of a change outside the collection schedule (a
// systemd unit changed state) tells the rule evaluator through this.
struct Event {
  std::string source;                     // collector name
  std::vector<std::string> metric_names;  // the families whose values changed
  TimestampMs time_ms = 0;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Publish(const Event& event) = 0;
};

// Where every finished collection goes besides /metrics (the storage appender).
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual void Consume(std::string_view collector, const MetricBatch& batch, TimestampMs time_ms) = 0;
  // The collection at `time_ms` failed or timed out (nothing to store).
  virtual void Failed(std::string_view /*collector*/, TimestampMs /*time_ms*/) {}
};

}  // namespace vigil::collect
