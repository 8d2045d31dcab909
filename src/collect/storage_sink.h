// Writes every finished collection into the store, with Prometheus's
// staleness markers for series that disappear between collections.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "collect/collector.h"
#include "tsdb/tsdb.h"

namespace vigil::collect {

class StorageSink final : public BatchSink {
 public:
  explicit StorageSink(tsdb::DB* db) : db_(db) {}
  void Consume(std::string_view collector, const MetricBatch& batch, TimestampMs time_ms) override;

 private:
  struct CollectorState {
    std::unique_ptr<tsdb::Appender> appender;
    // Series written by the previous collection and their refs.
    std::map<Labels, tsdb::SeriesRef> previous;
  };
  tsdb::DB* db_;
  std::mutex mu_;  // collections of different collectors may finish at once
  std::unordered_map<std::string, CollectorState> state_;
};

}  // namespace vigil::collect
