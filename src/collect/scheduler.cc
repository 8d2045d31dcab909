#include "collect/scheduler.h"

#include <algorithm>
#include <exception>

#include "base/log.h"

namespace vigil::collect {

using SteadyTime = std::chrono::steady_clock::time_point;

struct Scheduler::Entry {
  ScheduledCollector config;
  std::string name;
  std::thread worker;
  std::condition_variable work_cv;
  // Guarded by Scheduler::shared_->mu.
  bool go = false;
  bool busy = false;
  bool timed_out = false;  // the current run overran and was already counted
  SteadyTime next_due{};
  SteadyTime deadline{};
  int consecutive_failures = 0;
  bool has_run = false;
  double last_duration_seconds = 0;
  TimestampMs last_success_ms = 0;
  uint64_t runs = 0;
  // (reason, target) -> count; target is "" for the collector as a whole.
  std::map<std::pair<std::string, std::string>, uint64_t> errors_by_reason{{{"error", ""}, 0}, {{"timeout", ""}, 0}};
  std::string last_problem;  // logged once until it changes, so a broken target does not flood the log
  std::shared_ptr<const MetricBatch> latest;
};

Scheduler::Scheduler(const Clock& clock, std::vector<ScheduledCollector> collectors, BatchSink* sink)
    : clock_(clock), sink_(sink) {
  for (auto& c : collectors) {
    auto e = std::make_shared<Entry>();
    e->name = std::string(c.collector->name());
    e->config = std::move(c);
    entries_.push_back(std::move(e));
  }
}

Scheduler::~Scheduler() { Stop(Duration(2000)); }

void Scheduler::Start() {
  std::lock_guard lock(shared_->mu);
  if (started_) return;
  started_ = true;
  SteadyTime now = std::chrono::steady_clock::now();
  for (auto& e : entries_) {
    e->next_due = now;
    e->worker = std::thread([this, s = shared_, e] { WorkerLoop(s, e); });
  }
  dispatcher_ = std::thread([this] { DispatchLoop(); });
}

void Scheduler::Stop(Duration grace) {
  {
    std::lock_guard lock(shared_->mu);
    if (!started_ || shared_->stopping) return;
    shared_->stopping = true;
    for (auto& e : entries_) e->work_cv.notify_all();
  }
  shared_->cv.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  SteadyTime give_up = std::chrono::steady_clock::now() + grace;
  std::unique_lock lock(shared_->mu);
  for (auto& e : entries_) {
    shared_->cv.wait_until(lock, give_up, [&] { return !e->busy; });
    if (e->busy) {
      LogWarn("collector still running at shutdown; abandoning it", {{"collector", e->name}});
      e->worker.detach();
    }
  }
  lock.unlock();
  for (auto& e : entries_) {
    if (e->worker.joinable()) e->worker.join();
  }
}

void Scheduler::DispatchLoop() {
  std::unique_lock lock(shared_->mu);
  while (!shared_->stopping) {
    SteadyTime now = std::chrono::steady_clock::now();
    SteadyTime wake = now + std::chrono::hours(1);
    for (auto& e : entries_) {
      if (e->busy) {
        if (!e->timed_out && now >= e->deadline) {
          e->timed_out = true;
          ++e->errors_by_reason[{"timeout", ""}];
          ++e->consecutive_failures;
          LogWarn("collector timed out; its result will be discarded",
                  {{"collector", e->name}, {"timeout", FormatDuration(e->config.timeout)}});
        }
        if (!e->timed_out) wake = std::min(wake, e->deadline);
        continue;  // the next run waits for this one; the worker wakes us when done
      }
      if (now >= e->next_due) {
        e->busy = true;
        e->go = true;
        e->timed_out = false;
        e->deadline = now + e->config.timeout;
        // Back off a failing collector, at most to 4x its interval so recovery is still seen soon.
        auto period = e->config.interval * std::min(1 << std::min(e->consecutive_failures, 2), 4);
        e->next_due += period;
        if (e->next_due <= now) e->next_due = now + period;
        e->work_cv.notify_one();
        wake = std::min(wake, e->deadline);
      } else {
        wake = std::min(wake, e->next_due);
      }
    }
    shared_->cv.wait_until(lock, wake);
  }
}

void Scheduler::WorkerLoop(std::shared_ptr<Shared> shared, std::shared_ptr<Entry> e) {
  std::unique_lock lock(shared->mu);
  while (true) {
    e->work_cv.wait(lock, [&] { return e->go || shared->stopping; });
    if (shared->stopping) return;
    e->go = false;
    CollectContext ctx{clock_.NowMs(), e->deadline};
    lock.unlock();

    auto batch = std::make_shared<MetricBatch>();
    auto started = std::chrono::steady_clock::now();
    Status status;
    try {
      status = e->config.collector->Collect(ctx, *batch);
    } catch (const std::exception& ex) {
      status = Status::Error(std::string("unexpected exception: ") + ex.what());
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    lock.lock();
    if (shared->stopping) {
      e->busy = false;
      shared->cv.notify_all();
      return;
    }
    bool keep = !e->timed_out && status.ok();
    Finish(*e, batch, status, seconds);
    if (sink_ != nullptr && e->config.store) {
      lock.unlock();
      if (keep) {
        sink_->Consume(e->name, *batch, ctx.now_ms);
      } else {
        sink_->Failed(e->name, ctx.now_ms);
      }
      lock.lock();
    }
  }
}

void Scheduler::Finish(Entry& e, std::shared_ptr<MetricBatch> batch, Status status, double seconds) {
  e.last_duration_seconds = seconds;
  ++e.runs;
  e.has_run = true;
  e.busy = false;
  std::string problem;
  if (e.timed_out) {
    problem = "timed out";
  } else {
    if (!status.ok()) {
      ++e.errors_by_reason[{"error", ""}];
      ++e.consecutive_failures;
      problem = status.message();
    } else {
      e.consecutive_failures = 0;
      e.last_success_ms = clock_.NowMs();
      e.latest = batch;
    }
    for (const auto& err : batch->errors()) {
      ++e.errors_by_reason[{err.reason, err.target}];
      if (!problem.empty()) problem += "; ";
      if (!err.target.empty()) problem += "target=" + err.target + " reason=" + err.reason + ": ";
      problem += err.detail;
    }
  }
  if (problem != e.last_problem) {
    if (problem.empty()) {
      LogInfo("collector recovered", {{"collector", e.name}});
    } else if (!e.timed_out) {
      LogWarn("collector problem", {{"collector", e.name}, {"err", problem}});
    }
    e.last_problem = problem;
  }
  shared_->cv.notify_all();
}

std::vector<std::shared_ptr<const MetricBatch>> Scheduler::Latest() const {
  std::lock_guard lock(shared_->mu);
  std::vector<std::shared_ptr<const MetricBatch>> out;
  for (const auto& e : entries_) {
    if (e->latest && e->config.expose) out.push_back(e->latest);
  }
  return out;
}

bool Scheduler::WaitForFirstRound(Duration timeout) const {
  std::unique_lock lock(shared_->mu);
  return shared_->cv.wait_for(lock, timeout, [&] {
    return std::all_of(entries_.begin(), entries_.end(), [](const auto& e) { return e->has_run; });
  });
}

void Scheduler::AppendSelfMetrics(MetricBatch& out) const {
  std::lock_guard lock(shared_->mu);
  for (const auto& e : entries_) {
    Labels l{{"collector", e->name}};
    out.AddGauge("vigil_collector_duration_seconds", "Duration of the collector's last run in seconds.", l,
                 e->last_duration_seconds);
    out.AddCounter("vigil_collector_runs_total", "Runs of the collector.", l, static_cast<double>(e->runs));
    out.AddGauge("vigil_collector_last_success_timestamp_seconds",
                 "Unix time of the collector's last successful run (0: never).", l,
                 static_cast<double>(e->last_success_ms) / 1000.0);
    out.AddGauge("vigil_collector_up", "1 when the collector's last run succeeded within its timeout.", l,
                 e->has_run && e->consecutive_failures == 0 && e->last_problem.empty() ? 1 : 0);
    out.AddGauge("vigil_collector_interval_seconds", "Configured interval of the collector.", l,
                 std::chrono::duration<double>(e->config.interval).count());
    for (const auto& [key, count] : e->errors_by_reason) {
      Labels el{{"collector", e->name}, {"reason", key.first}};
      el.Set("target", key.second);  // only per-target problems carry a target
      out.AddCounter("vigil_collector_errors_total", "Collector failures by reason.", std::move(el),
                     static_cast<double>(count));
    }
  }
}

}  // namespace vigil::collect
