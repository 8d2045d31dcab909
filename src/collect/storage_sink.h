// Writes every finished collection into the store, with Prometheus's
// staleness markers for series that disappear between collections, and the
// target labels (`job`, `instance`) a Prometheus scraping vigil would attach,
// so public dashboards and rule packs select vigil's series as they select
// node_exporter's.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "collect/collector.h"
#include "tsdb/tsdb.h"

namespace vigil::collect {

// Which target a collector's series belong to.
struct CollectorTarget {
  std::string job;  // empty: the collector labels its own series (a scrape sets its target's job and instance)
  // Writes up{job,instance} (1 after a collection, 0 after a failed one); one
  // collector per job, so no two collectors write the same series.
  bool reports_up = false;
  // Also stores the process_* families under this job: vigil is the process
  // that exports the host metrics, and dashboards chart "the exporter
  // process" with {job="node"}, as a scrape of node_exporter would give.
  std::string process_metrics_also_job;
};

struct TargetLabels {
  std::string instance;                                            // global.instance (the host name by default)
  std::string default_job = "vigil";                               // collectors not in `collectors`
  std::map<std::string, CollectorTarget, std::less<>> collectors;  // by collector name
};

class StorageSink final : public BatchSink {
 public:
  explicit StorageSink(tsdb::DB* db, TargetLabels targets = {}) : db_(db), targets_(std::move(targets)) {}
  void Consume(std::string_view collector, const MetricBatch& batch, TimestampMs time_ms) override;
  void Failed(std::string_view collector, TimestampMs time_ms) override;
  // A reload's targets; series under the old labels are marked stale at the
  // next collection.
  void SetTargets(TargetLabels targets);

 private:
  struct CollectorState {
    std::unique_ptr<tsdb::Appender> appender;
    // Series written by the previous collection and their refs.
    std::map<Labels, tsdb::SeriesRef> previous;
  };
  CollectorTarget TargetOf(std::string_view collector) const;
  void AppendUp(CollectorState& st, const CollectorTarget& target, TimestampMs time_ms, double value,
                std::map<Labels, tsdb::SeriesRef>* current);

  tsdb::DB* db_;
  std::mutex mu_;  // collections of different collectors may finish at once
  TargetLabels targets_;
  std::unordered_map<std::string, CollectorState> state_;
};

}  // namespace vigil::collect
