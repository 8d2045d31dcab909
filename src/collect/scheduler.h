// Runs each collector on its own interval and thread, enforces timeouts, and
// keeps the latest result of each for /metrics. A failing, slow or stuck
// collector is counted and never delays the others.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "collect/collector.h"

namespace vigil::collect {

struct ScheduledCollector {
  std::shared_ptr<Collector> collector;
  Duration interval{15000};
  Duration timeout{10000};
  bool expose = true;  // false: stored only, not shown on /metrics (rendered fresh there instead)
  bool store = true;   // false: the collector stores its batches itself (it also records between runs)
};

class Scheduler {
 public:
  // `clock` stamps the samples; `sink` (may be null) receives every batch.
  Scheduler(const Clock& clock, std::vector<ScheduledCollector> collectors, BatchSink* sink);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts every collector; the first collection runs at once.
  void Start();
  // Stops and joins; a collector still stuck after `grace` is abandoned
  // (its thread detached) so shutdown stays bounded.
  void Stop(Duration grace);

  // The latest batch of every collector that has completed one.
  std::vector<std::shared_ptr<const MetricBatch>> Latest() const;
  // vigil_collector_* metrics: durations, errors, last success.
  void AppendSelfMetrics(MetricBatch& out) const;
  // Blocks until every collector finished at least one run or `timeout` passed.
  bool WaitForFirstRound(Duration timeout) const;

 private:
  struct Entry;
  // Lock, wake-ups and the stop flag outlive the scheduler: an abandoned
  // worker that returns after shutdown only touches these.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;  // wakes the dispatcher and first-round waiters
    bool stopping = false;
  };

  void DispatchLoop();
  void WorkerLoop(std::shared_ptr<Shared> shared, std::shared_ptr<Entry> entry);
  void Finish(Entry& entry, std::shared_ptr<MetricBatch> batch, Status status, double seconds);

  const Clock& clock_;
  BatchSink* sink_;
  std::vector<std::shared_ptr<Entry>> entries_;
  std::thread dispatcher_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  bool started_ = false;
};

}  // namespace vigil::collect
