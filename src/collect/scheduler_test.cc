#include "collect/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace vigil::collect {
namespace {

// Counts its runs; can be told to fail or to block until released.
class TestCollector final : public Collector {
 public:
  explicit TestCollector(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  Status Collect(const CollectContext&, MetricBatch& out) override {
    int run = ++runs;
    if (block) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return released_; });
    }
    if (partial) out.ReportError("read_failed", "read /proc/x: No such file or directory");
    if (partial) out.ReportError("unit_not_found", "unit x.service is not found", "x.service");
    if (fail) return Status::Error("target unreachable");
    out.AddGauge("test_runs", "Runs so far.", Labels{{"collector", name_}}, run);
    return Status::Ok();
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  std::atomic<int> runs{0};
  std::atomic<bool> fail{false}, block{false}, partial{false};

 private:
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

double Value(const MetricBatch& b, const std::string& name, const Labels& labels) {
  const MetricFamily* f = b.Find(name);
  if (f == nullptr) return -1;
  for (const auto& s : f->samples) {
    if (s.labels == labels) return s.value;
  }
  return -1;
}

// Polls `pred` every 10 ms for at most `limit`; bounded so a bug fails instead of hanging.
template <typename Pred>
bool Eventually(Pred pred, Duration limit = Duration(5000)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

TEST(Scheduler, RunsEachCollectorOnItsInterval) {
  SystemClock clock;
  auto fast = std::make_shared<TestCollector>("fast");
  Scheduler s(clock, {{fast, Duration(20), Duration(20)}}, nullptr);
  s.Start();
  EXPECT_TRUE(s.WaitForFirstRound(Duration(2000)));
  EXPECT_TRUE(Eventually([&] { return fast->runs >= 5; }));
  s.Stop(Duration(1000));
  auto latest = s.Latest();
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_GE(Value(*latest[0], "test_runs", Labels{{"collector", "fast"}}), 1);
}

TEST(Scheduler, StuckCollectorTimesOutAndDoesNotStallOthers) {
  SystemClock clock;
  auto stuck = std::make_shared<TestCollector>("stuck");
  stuck->block = true;
  auto fast = std::make_shared<TestCollector>("fast");
  Scheduler s(clock, {{stuck, Duration(50), Duration(50)}, {fast, Duration(20), Duration(20)}}, nullptr);
  s.Start();
  EXPECT_TRUE(Eventually([&] { return fast->runs >= 10; }));
  EXPECT_EQ(stuck->runs, 1);  // the next run waits for the stuck one instead of piling up threads
  MetricBatch self;
  s.AppendSelfMetrics(self);
  EXPECT_EQ(Value(self, "vigil_collector_errors_total", Labels{{"collector", "stuck"}, {"reason", "timeout"}}), 1);
  EXPECT_EQ(Value(self, "vigil_collector_up", Labels{{"collector", "stuck"}}), 0);
  EXPECT_EQ(Value(self, "vigil_collector_up", Labels{{"collector", "fast"}}), 1);
  // Shutdown is bounded even though "stuck" never returns on its own.
  s.Stop(Duration(100));
  stuck->Release();
}

TEST(Scheduler, FailuresAndPartialErrorsAreCountedByReason) {
  SystemClock clock;
  auto failing = std::make_shared<TestCollector>("failing");
  failing->fail = true;
  auto partial = std::make_shared<TestCollector>("partial");
  partial->partial = true;
  Scheduler s(clock, {{failing, Duration(10), Duration(10)}, {partial, Duration(10), Duration(10)}}, nullptr);
  s.Start();
  EXPECT_TRUE(Eventually([&] { return failing->runs >= 3 && partial->runs >= 3; }));
  s.Stop(Duration(1000));
  MetricBatch self;
  s.AppendSelfMetrics(self);
  EXPECT_GE(Value(self, "vigil_collector_errors_total", Labels{{"collector", "failing"}, {"reason", "error"}}), 3);
  EXPECT_GE(Value(self, "vigil_collector_errors_total", Labels{{"collector", "partial"}, {"reason", "read_failed"}}),
            3);
  EXPECT_EQ(Value(self, "vigil_collector_errors_total", Labels{{"collector", "partial"}, {"reason", "error"}}), 0);
  // A per-target problem carries its target.
  EXPECT_GE(Value(self, "vigil_collector_errors_total",
                  Labels{{"collector", "partial"}, {"reason", "unit_not_found"}, {"target", "x.service"}}),
            3);
  // A failed collection keeps no snapshot; a partial one keeps what it got.
  auto latest = s.Latest();
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_GE(Value(*latest[0], "test_runs", Labels{{"collector", "partial"}}), 1);
}

TEST(Scheduler, FailingCollectorBacksOffAtMostFourIntervals) {
  SystemClock clock;
  auto failing = std::make_shared<TestCollector>("failing");
  failing->fail = true;
  auto healthy = std::make_shared<TestCollector>("healthy");
  Scheduler s(clock, {{failing, Duration(20), Duration(20)}, {healthy, Duration(20), Duration(20)}}, nullptr);
  s.Start();
  EXPECT_TRUE(Eventually([&] { return healthy->runs >= 40; }));
  s.Stop(Duration(1000));
  // Backed off: clearly fewer runs than the healthy one, but it kept trying.
  EXPECT_LT(failing->runs * 2, healthy->runs.load());
  EXPECT_GE(failing->runs, 3);
}

class RecordingSink final : public BatchSink {
 public:
  void Consume(std::string_view collector, const MetricBatch& batch, TimestampMs) override {
    std::lock_guard lock(mu);
    consumed.emplace_back(collector);
    samples += batch.sample_count();
  }
  std::mutex mu;
  std::vector<std::string> consumed;
  size_t samples = 0;
};

TEST(Scheduler, EverySuccessfulBatchReachesTheSink) {
  SystemClock clock;
  auto c = std::make_shared<TestCollector>("c");
  RecordingSink sink;
  Scheduler s(clock, {{c, Duration(10), Duration(10)}}, &sink);
  s.Start();
  EXPECT_TRUE(Eventually([&] {
    std::lock_guard lock(sink.mu);
    return sink.consumed.size() >= 3;
  }));
  s.Stop(Duration(1000));
  std::lock_guard lock(sink.mu);
  EXPECT_EQ(sink.consumed[0], "c");
  EXPECT_EQ(sink.samples, sink.consumed.size());
}

TEST(Scheduler, CollectorsThatStoreThemselvesSkipTheSink) {
  SystemClock clock;
  auto c = std::make_shared<TestCollector>("self_storing");
  RecordingSink sink;
  ScheduledCollector sc{c, Duration(10), Duration(10)};
  sc.store = false;
  Scheduler s(clock, {sc}, &sink);
  s.Start();
  EXPECT_TRUE(Eventually([&] { return c->runs >= 3; }));
  s.Stop(Duration(1000));
  std::lock_guard lock(sink.mu);
  EXPECT_TRUE(sink.consumed.empty());
  EXPECT_EQ(s.Latest().size(), 1u);  // still shown on /metrics
}

}  // namespace
}  // namespace vigil::collect
