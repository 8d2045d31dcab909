#include "watchdog/watchdog.h"

#include <gtest/gtest.h>

#include <mutex>

namespace vigil::watchdog {
namespace {

// Records what vigil tells systemd.
class FakeManager final : public ServiceManager {
 public:
  struct Sent {
    std::mutex mu;
    std::vector<std::string> states;
  };
  FakeManager(std::shared_ptr<Sent> sent, Duration timeout) : sent_(std::move(sent)), timeout_(timeout) {}
  bool Notify(const std::string& state) override {
    std::lock_guard lock(sent_->mu);
    sent_->states.push_back(state);
    return true;
  }
  Duration WatchdogTimeout() const override { return timeout_; }

 private:
  std::shared_ptr<Sent> sent_;
  Duration timeout_;
};

class WatchdogTest : public ::testing::Test {
 protected:
  std::unique_ptr<Watchdog> Make(Duration timeout) {
    WatchdogOptions o;
    o.manager = std::make_unique<FakeManager>(sent_, timeout);
    o.clock = &clock_;
    o.status = [] { return "watching 3 services"; };
    return std::make_unique<Watchdog>(std::move(o));
  }
  std::vector<std::string> TakeSent() {
    std::lock_guard lock(sent_->mu);
    return std::exchange(sent_->states, {});
  }
  int Count(const std::vector<std::string>& states, const std::string& prefix) {
    int n = 0;
    for (const auto& s : states) n += s.starts_with(prefix) ? 1 : 0;
    return n;
  }
  double Metric(const Watchdog& w, const std::string& name, const std::string& subsystem) {
    MetricBatch b;
    w.AppendMetrics(b);
    for (const auto& f : b.families()) {
      if (f.name != name) continue;
      for (const auto& s : f.samples) {
        if (s.labels.Get("subsystem") == subsystem) return s.value;
      }
    }
    ADD_FAILURE() << "no " << name << "{subsystem=" << subsystem << "}";
    return -1;
  }
  // Advances in check-sized steps, beating the given subsystems each step.
  void Run(Watchdog& w, Duration total, Duration step, const std::vector<std::function<void()>>& beats) {
    for (Duration t(0); t < total; t += step) {
      clock_.Advance(step);
      for (const auto& b : beats) b();
      w.Check();
    }
  }

  FakeClock clock_{1'000'000};
  std::shared_ptr<FakeManager::Sent> sent_ = std::make_shared<FakeManager::Sent>();
};

TEST_F(WatchdogTest, PingsAtHalfTheTimeoutWhileEverythingProgresses) {
  auto w = Make(Duration(2000));  // checks every 500 ms: a quarter of the timeout
  auto all = {w->Heartbeat(kCollection), w->Heartbeat(kStorage), w->Heartbeat(kNotification)};
  Run(*w, Duration(10000), Duration(500), all);
  auto sent = TakeSent();
  // One ping per 500 ms check would be 20; at half the timeout (1 s) it is 10.
  EXPECT_EQ(Count(sent, "WATCHDOG=1"), 10);
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stalls_total", kNotification), 0);
}

TEST_F(WatchdogTest, AStalledNotifierStopsThePingsAndIsReportedOnce) {
  auto w = Make(Duration(2000));  // limits: 5 s (progress.h)
  auto collection = w->Heartbeat(kCollection), storage = w->Heartbeat(kStorage);
  Run(*w, Duration(5000), Duration(500), {collection, storage});  // notification silent for exactly 5 s
  auto sent = TakeSent();
  EXPECT_GT(Count(sent, "WATCHDOG=1"), 0);

  Run(*w, Duration(3000), Duration(500), {collection, storage});
  sent = TakeSent();
  EXPECT_EQ(Count(sent, "WATCHDOG=1"), 0);
  ASSERT_EQ(Count(sent, "STATUS=stalled: "), 1) << "the status changes once, when the stall begins";
  for (const auto& s : sent) {
    if (s.starts_with("STATUS=")) {
      EXPECT_EQ(s, "STATUS=stalled: notification made no progress for 5s (limit 5s); watchdog not pinged");
    }
  }
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stalls_total", kNotification), 1);
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stalls_total", kCollection), 0);
  EXPECT_EQ(Metric(*w, "vigil_watchdog_progress_age_seconds", kNotification), 8);
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stall_limit_seconds", kNotification), 5);

  // It comes back (systemd did not act in time, or does not watch): pings
  // resume at once, the status says so, and the episode stays counted once.
  auto notification = w->Heartbeat(kNotification);
  Run(*w, Duration(500), Duration(500), {collection, storage, notification});
  sent = TakeSent();
  EXPECT_EQ(Count(sent, "WATCHDOG=1"), 1);
  EXPECT_EQ(Count(sent, "STATUS=watching 3 services"), 1);
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stalls_total", kNotification), 1);

  Run(*w, Duration(6000), Duration(500), {collection, storage});  // a second stall
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stalls_total", kNotification), 2);
}

TEST_F(WatchdogTest, WithoutSystemdsWatchdogStallsAreCountedButNothingIsPinged) {
  auto w = Make(Duration(0));  // limits: 60 s
  auto collection = w->Heartbeat(kCollection), notification = w->Heartbeat(kNotification);
  Run(*w, Duration(61000), Duration(1000), {collection, notification});
  auto sent = TakeSent();
  EXPECT_EQ(Count(sent, "WATCHDOG=1"), 0);
  EXPECT_EQ(Count(sent, "STATUS=stalled: storage made no progress for 1m1s (limit 1m)"), 1);
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stalls_total", kStorage), 1);
}

TEST_F(WatchdogTest, StatusRefreshesEveryTenSeconds) {
  auto w = Make(Duration(30000));
  auto all = {w->Heartbeat(kCollection), w->Heartbeat(kStorage), w->Heartbeat(kNotification)};
  Run(*w, Duration(30000), Duration(1000), all);
  EXPECT_EQ(Count(TakeSent(), "STATUS=watching 3 services"), 3);
}

TEST_F(WatchdogTest, ReloadedCadenceChangesTheLimits) {
  auto w = Make(Duration(2000));
  auto storage = w->Heartbeat(kStorage), notification = w->Heartbeat(kNotification);
  Cadence c;
  c.scrape_interval = Duration(60000);  // a reload to one collection a minute
  w->SetCadence(c);
  Run(*w, Duration(100000), Duration(500), {storage, notification});
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stalls_total", kCollection), 0);
  EXPECT_EQ(Metric(*w, "vigil_watchdog_stall_limit_seconds", kCollection), 180);
}

TEST_F(WatchdogTest, ReadyReloadingStopping) {
  auto w = Make(Duration(0));
  w->Ready();
  w->Reloading();
  w->Ready();
  w->Stopping();
  std::vector<std::string> lifecycle;
  for (auto& s : TakeSent()) {
    if (!s.starts_with("STATUS=")) lifecycle.push_back(s.substr(0, s.find('\n')));
  }
  EXPECT_EQ(lifecycle, (std::vector<std::string>{"READY=1", "RELOADING=1", "READY=1", "STOPPING=1"}));
}

class CountingSink final : public collect::BatchSink {
 public:
  void Consume(std::string_view, const MetricBatch&, TimestampMs) override { ++consumed; }
  void Failed(std::string_view, TimestampMs) override { ++failed; }
  int consumed = 0, failed = 0;
};

TEST(ProgressSinkTest, ACollectionBeatsCollectionThenStorage) {
  CountingSink inner;
  std::vector<std::string> order;
  auto sink = NewProgressSink(
      &inner, [&] { order.push_back("collection@" + std::to_string(inner.consumed + inner.failed)); },
      [&] { order.push_back("storage@" + std::to_string(inner.consumed + inner.failed)); });
  MetricBatch batch;
  sink->Consume("host", batch, 1000);
  sink->Failed("host", 2000);
  EXPECT_EQ(inner.consumed, 1);
  EXPECT_EQ(inner.failed, 1);
  // Storage beats only once the store returned.
  EXPECT_EQ(order, (std::vector<std::string>{"collection@0", "storage@1", "collection@1", "storage@2"}));
}

}  // namespace
}  // namespace vigil::watchdog
