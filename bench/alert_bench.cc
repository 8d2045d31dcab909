// Alert routing and the outbox (issue 7): how many alert updates per second
// the dispatcher takes through routing, grouping and inhibition with 10 000
// active alerts, and how many notifications per second the SQLite outbox
// queues and retires (synchronous=FULL, so each is on disk before it counts).
//
//   build/bench/vigil_bench --benchmark_filter='BM_Dispatch|BM_Outbox'
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "alert/dispatch.h"
#include "notify/outbox.h"

namespace vigil {
namespace {

// The severity routes of the default alerting example, plus dependency
// inhibition over 30 services in chains of three.
std::unique_ptr<alert::Dispatcher> NewDispatcher(const Clock& clock) {
  alert::RouteSpec root;
  root.receiver = "slack";
  root.group_by = std::vector<std::string>{"alertname", "service"};
  alert::RouteSpec critical;
  critical.matchers = {"severity=\"critical\""};
  critical.receiver = "pager";
  critical.group_wait = Duration(0);
  alert::RouteSpec digest;
  digest.matchers = {"severity=~\"medium|low\""};
  digest.receiver = "digest";
  digest.group_by = std::vector<std::string>{};
  root.routes = {critical, digest};
  auto route = alert::Route::Build(root);
  std::map<std::string, std::vector<std::string>> deps;
  for (int s = 0; s < 30; ++s) {
    if (s % 3 != 0) deps["svc" + std::to_string(s)] = {"svc" + std::to_string(s - 1)};
  }
  return std::make_unique<alert::Dispatcher>(std::shared_ptr<const alert::Route>(std::move(*route)),
                                             alert::Inhibitor(alert::DependencyInhibitRules(deps)),
                                             std::vector<alert::MaintenanceWindow>{}, alert::FlapOptions{}, clock);
}

alert::Alert MakeAlert(int i) {
  static const char* kSeverities[] = {"critical", "high", "medium", "low"};
  alert::Alert a;
  a.labels = Labels{{"alertname", "Rule" + std::to_string(i % 50)},
                    {"instance", "host" + std::to_string(i % 200)},
                    {"service", "svc" + std::to_string(i % 30)},
                    {"severity", kSeverities[i % 4]}};
  a.annotations = Labels{{"summary", "something about " + std::to_string(i)}};
  a.starts_at = 1;
  return a;
}

void BM_DispatchUpdates(benchmark::State& state) {
  const int active = static_cast<int>(state.range(0));
  FakeClock clock(1795435200000);
  auto d = NewDispatcher(clock);
  std::vector<alert::Alert> alerts;
  for (int i = 0; i < active; ++i) alerts.push_back(MakeAlert(i));
  for (const auto& a : alerts) d->Update(a);
  (void)d->Flush();
  size_t i = 0;
  int64_t updates = 0;
  for (auto _ : state) {
    // The steady state after each rule evaluation: every active alert reported again.
    d->Update(alerts[i]);
    if (++i == alerts.size()) {
      i = 0;
      clock.Advance(Duration(1000));
      benchmark::DoNotOptimize(d->Flush());
    }
    ++updates;
  }
  state.SetItemsProcessed(updates);
  state.counters["groups"] = static_cast<double>(d->group_count());
}
BENCHMARK(BM_DispatchUpdates)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_DispatchFlushChanged(benchmark::State& state) {
  // A flush after 1 % of 10 000 active alerts changed state.
  FakeClock clock(1795435200000);
  auto d = NewDispatcher(clock);
  std::vector<alert::Alert> alerts;
  for (int i = 0; i < 10000; ++i) alerts.push_back(MakeAlert(i));
  for (const auto& a : alerts) d->Update(a);
  (void)d->Flush();
  int round = 0;
  size_t notifications = 0;
  for (auto _ : state) {
    for (int k = 0; k < 100; ++k) {
      alert::Alert a = alerts[(round * 100 + k) % alerts.size()];
      if (round % 2) a.ends_at = clock.NowMs();
      d->Update(a);
    }
    clock.Advance(Duration(300000));
    notifications += d->Flush().size();
    ++round;
  }
  state.counters["notifications/flush"] =
      benchmark::Counter(static_cast<double>(notifications) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_DispatchFlushChanged)->Unit(benchmark::kMillisecond);

void BM_OutboxEnqueueDeliver(benchmark::State& state) {
  std::string dir = (std::filesystem::temp_directory_path() / "vigil-outbox-bench.XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  auto o = notify::Outbox::Open(dir + "/state.db");
  if (!o.ok()) std::abort();
  const std::string payload(800, 'x');  // about one PagerDuty event
  TimestampMs now = 1795435200000;
  for (auto _ : state) {
    auto id = (*o)->Enqueue("pager", "pagerduty", 0, payload, now);
    auto due = (*o)->Due(now, 1);
    if (!id.ok() || !due.ok() || due->empty()) std::abort();
    if (!(*o)->Delivered(due->front(), now).ok()) std::abort();
    ++now;
  }
  state.SetItemsProcessed(state.iterations());
  o->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_OutboxEnqueueDeliver)->Unit(benchmark::kMicrosecond)->UseRealTime();

// As the notifier works: a flush's notifications queued in one transaction,
// then delivered in passes of 64 whose outcomes are recorded together.
void BM_OutboxBatchedPasses(benchmark::State& state) {
  std::string dir = (std::filesystem::temp_directory_path() / "vigil-outbox-bench.XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  auto o = notify::Outbox::Open(dir + "/state.db");
  if (!o.ok()) std::abort();
  notify::OutboxMessage m;
  m.receiver = "pager";
  m.integration = "pagerduty";
  m.payload.assign(800, 'x');
  const std::vector<notify::OutboxMessage> flush(state.range(0), m);
  TimestampMs now = 1795435200000;
  for (auto _ : state) {
    if (!(*o)->EnqueueAll(flush, now).ok()) std::abort();
    while (true) {
      auto due = (*o)->Due(now, 64);
      if (!due.ok()) std::abort();
      if (due->empty()) break;
      std::vector<notify::Outbox::Outcome> outcomes;
      for (const auto& d : *due) outcomes.push_back({notify::Outbox::Outcome::kDelivered, &d, "", now});
      if (!(*o)->Record(outcomes).ok()) std::abort();
    }
    ++now;
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  o->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_OutboxBatchedPasses)->Arg(1)->Arg(64)->Arg(940)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace vigil
