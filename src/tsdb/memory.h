// An in-memory series store behind the Querier interface, for rule unit tests
// and the PromQL conformance runner: samples may arrive in any order.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "tsdb/tsdb.h"

namespace vigil::tsdb {

class MemoryStorage {
 public:
  // Adds or replaces the sample at `t`.
  void Add(const Labels& labels, TimestampMs t, double v);
  // Removes every sample of `labels`.
  void Erase(const Labels& labels) { series_.erase(labels); }
  void Clear() { series_.clear(); }
  // A querier over [mint, maxt]; it reads a snapshot, so later Adds do not affect it.
  std::unique_ptr<Querier> NewQuerier(TimestampMs mint, TimestampMs maxt) const;
  // An appender whose Commit() Adds its samples (any order, replacing
  // samples at the same time); for rule output in tests. Not thread-safe.
  std::unique_ptr<Appender> NewAppender();

 private:
  std::map<Labels, std::map<TimestampMs, double>> series_;
};

}  // namespace vigil::tsdb
