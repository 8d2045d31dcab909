// A result cache for range queries, as VictoriaMetrics' rollup cache: a
// dashboard re-asks the same query every few seconds with its window slid
// forward, and only the new steps need computing. The value of a step
// depends on the store's data up to that step, so a step is cached once it
// is older than `min_age` (new samples land after it), and a cached entry
// holds only while the store's generation is unchanged (tsdb::DB: a late
// sample at or before what is cached, an import, retention and rewritten
// blocks all change it). Queries whose steps depend on the window itself
// (`@`, negative offsets, `range()`, smoothed selectors) are never cached.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "promql/engine.h"

namespace vigil::promql {

struct RangeCacheOptions {
  size_t max_bytes = 16 << 20;  // results kept, all queries together
  Duration min_age{60'000};     // steps newer than now - min_age are computed every time
};

// The store beneath: tsdb::DB's Generation and WatchUpTo.
struct StoreVersion {
  std::function<uint64_t()> generation;
  std::function<void(TimestampMs)> watch_up_to;
};

// Whether a step's value depends only on the step's time and the store's
// data (no `@`, negative offset, range() or smoothed selector).
bool CacheableInRange(const Expr& expr);

class RangeCache {
 public:
  RangeCache(RangeCacheOptions options, StoreVersion store);

  // Engine::Range, answered from the cache where it can be.
  QueryResult Range(const Engine& engine, const QuerierFactory& storage, const Expr& expr, TimestampMs start,
                    TimestampMs end, Duration step, TimestampMs now);

  struct Stats {
    uint64_t hits = 0;     // answered entirely from the cache
    uint64_t partial = 0;  // cached steps reused, the newer ones computed
    uint64_t misses = 0;   // computed whole
    size_t entries = 0;
    size_t bytes = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    std::string key;
    uint64_t generation = 0;
    TimestampMs first = 0, last = 0;   // the step times held, inclusive
    std::vector<SeriesPoints> series;  // sorted by labels, points within [first, last]
    std::vector<std::string> warnings, infos;
    size_t bytes = 0;
  };

  void Store(Entry entry);

  const RangeCacheOptions options_;
  const StoreVersion store_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_key_;
  size_t bytes_ = 0;
  Stats stats_;
};

}  // namespace vigil::promql
