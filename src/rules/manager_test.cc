#include "rules/manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/testing/temp_dir.h"
#include "tsdb/memory.h"

namespace vigil::rules {
namespace {

class ManagerTest : public ::testing::Test {
 protected:
  ManagerTest() : clock_(1'000'000) {
    ManagerOptions o;
    o.engine = &engine_;
    o.querier = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
      std::lock_guard lock(storage_mu_);
      return storage_.NewQuerier(mint, maxt);
    };
    o.appender = [this] { return std::make_unique<LockedAppender>(this); };
    o.clock = &clock_;
    o.default_interval = Duration(3600 * 1000);  // only events and EvaluateNow run the groups
    manager_ = std::make_unique<Manager>(o);
  }

  // MemoryStorage is not thread-safe; the evaluation thread writes through this.
  class LockedAppender : public tsdb::Appender {
   public:
    explicit LockedAppender(ManagerTest* t) : t_(t) {}
    Result<tsdb::SeriesRef> Append(tsdb::SeriesRef, const Labels& l, TimestampMs ts, double v) override {
      samples_.push_back({l, ts, v});
      return tsdb::SeriesRef{0};
    }
    Status Commit() override {
      std::lock_guard lock(t_->storage_mu_);
      for (const auto& s : samples_) t_->storage_.Add(s.l, s.t, s.v);
      return Status::Ok();
    }
    void Rollback() override {}

   private:
    struct S {
      Labels l;
      TimestampMs t;
      double v;
    };
    ManagerTest* t_;
    std::vector<S> samples_;
  };

  void Set(const Labels& l, TimestampMs t, double v) {
    std::lock_guard lock(storage_mu_);
    storage_.Add(l, t, v);
  }

  testing::TempDir dir_;
  FakeClock clock_;
  promql::Engine engine_;
  std::mutex storage_mu_;
  tsdb::MemoryStorage storage_;
  std::unique_ptr<Manager> manager_;
};

const char* kRules = R"(groups:
- name: units
  rules:
  - alert: UnitDown
    expr: unit_active == 0
    labels: {severity: P0}
- name: disks
  rules:
  - alert: DiskFull
    expr: disk_free_ratio < 0.1
)";

TEST_F(ManagerTest, LoadEvaluateAndKeepRulesOnBadReload) {
  std::string file = dir_.Write("rules.yml", kRules);
  ASSERT_TRUE(manager_->Load({file}).ok());
  ASSERT_EQ(manager_->Groups().size(), 2u);
  EXPECT_EQ(manager_->GroupsReading({"unit_active"}), std::vector<std::string>{file + ";units"});
  EXPECT_TRUE(manager_->GroupsReading({"nothing"}).empty());

  Set(Labels{{"__name__", "unit_active"}, {"unit", "bitcoind"}}, clock_.NowMs(), 0);
  EXPECT_TRUE(manager_->EvaluateNow(file + ";units", clock_.NowMs()));
  EXPECT_FALSE(manager_->EvaluateNow("nope;units", clock_.NowMs()));
  auto alerts = manager_->Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_name, "UnitDown");
  EXPECT_EQ(alerts[0].alert.state, AlertState::kFiring);
  EXPECT_EQ(alerts[0].alert.labels.Get("severity"), "critical");

  // A broken file is refused; the running rules and their state stay.
  dir_.Write("rules.yml", "groups:\n- name: units\n  rules:\n  - alert: X\n    expr: 'sum('\n");
  LoadResult bad = manager_->Load({file});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.problems[0].line, 5);
  EXPECT_EQ(manager_->Alerts().size(), 1u);
  EXPECT_EQ(manager_->Groups().size(), 2u);

  // A good reload keeps the alert's state.
  dir_.Write("rules.yml", kRules);
  ASSERT_TRUE(manager_->Load({file}).ok());
  ASSERT_EQ(manager_->Alerts().size(), 1u);
  EXPECT_EQ(manager_->Alerts()[0].alert.active_at, 1'000'000);

  MetricBatch batch;
  manager_->AppendSelfMetrics(batch);
  const MetricFamily* evals = batch.Find("vigil_rule_evaluations_total");
  ASSERT_NE(evals, nullptr);
  EXPECT_EQ(evals->samples.size(), 2u);
  EXPECT_NE(batch.Find("vigil_rule_evaluation_failures_total"), nullptr);
}

TEST_F(ManagerTest, EventTriggersEvaluationAtOnce) {
  std::string file = dir_.Write("rules.yml", kRules);
  ASSERT_TRUE(manager_->Load({file}).ok());
  manager_->Start();
  Set(Labels{{"__name__", "unit_active"}, {"unit", "titan"}}, clock_.NowMs(), 0);
  auto start = std::chrono::steady_clock::now();
  manager_->NotifyMetricsChanged({"unit_active"});
  while (manager_->Alerts().empty() && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto took = std::chrono::steady_clock::now() - start;
  manager_->Stop();
  ASSERT_EQ(manager_->Alerts().size(), 1u);
  EXPECT_LT(took, std::chrono::seconds(1));
  // The other group was not evaluated.
  for (const auto& g : manager_->Groups()) {
    if (g.name == "disks") {
      EXPECT_EQ(g.last_evaluation, 0);
    }
  }
}

// An event in the millisecond of the group's last round waits for the clock
// to move: a second round at the same time would put the resolved alert's
// stale marker where the firing sample is, and the store keeps the first.
TEST_F(ManagerTest, SecondEventInOneMillisecondWaitsForTheClock) {
  std::string file = dir_.Write("rules.yml", kRules);
  ASSERT_TRUE(manager_->Load({file}).ok());
  const TimestampMs t = clock_.NowMs();
  const Labels titan{{"__name__", "unit_active"}, {"unit", "titan"}};
  Set(titan, t - 1000, 0);
  manager_->Start();
  manager_->NotifyMetricsChanged({"unit_active"});
  auto wait_until = [](auto&& done) {
    auto start = std::chrono::steady_clock::now();
    while (!done() && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  wait_until([&] { return !manager_->Alerts().empty(); });
  ASSERT_EQ(manager_->Alerts().size(), 1u);

  Set(titan, t - 500, 1);  // titan is back, still within this millisecond
  manager_->NotifyMetricsChanged({"unit_active"});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(manager_->Alerts().size(), 1u) << "evaluated twice at one time";

  clock_.Advance(Duration(1));
  wait_until([&] { return manager_->Alerts().empty(); });
  manager_->Stop();
  EXPECT_TRUE(manager_->Alerts().empty());
  std::lock_guard lock(storage_mu_);
  auto q = storage_.NewQuerier(t - 10'000, t + 10'000);
  auto series = q->Select({*tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "__name__", "ALERTS")});
  ASSERT_TRUE(series.ok());
  std::vector<std::pair<TimestampMs, bool>> written;  // (time, stale)
  for (const auto& s : *series) {
    auto it = s->Iterator();
    while (it->Next()) written.push_back({it->t(), tsdb::IsStaleNaN(it->v())});
  }
  EXPECT_EQ(written, (std::vector<std::pair<TimestampMs, bool>>{{t, false}, {t + 1, true}}));
}

TEST_F(ManagerTest, ScheduledEvaluation) {
  ManagerOptions o;
  o.engine = &engine_;
  o.querier = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
    std::lock_guard lock(storage_mu_);
    return storage_.NewQuerier(mint, maxt);
  };
  o.appender = [this] { return std::make_unique<LockedAppender>(this); };
  SystemClock clock;
  o.clock = &clock;
  Manager m(o);
  std::string file = dir_.Write(
      "fast.yml", "groups:\n- name: fast\n  interval: 50ms\n  rules:\n  - record: one\n    expr: vector(1)\n");
  ASSERT_TRUE(m.Load({file}).ok());
  m.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  m.Stop();
  MetricBatch batch;
  m.AppendSelfMetrics(batch);
  double evals = batch.Find("vigil_rule_evaluations_total")->samples.at(0).value;
  EXPECT_GE(evals, 3);
  EXPECT_LE(evals, 8);
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

// The agent's setup: rule output goes into the real store and is read back
// through the engine, with staleness markers as series disappear.
TEST(ManagerWithStoreTest, AlertsAndRecordedSeriesLandInTheStore) {
  testing::TempDir dir;
  tsdb::Options to;
  to.dir = dir.path() + "/tsdb";
  auto db = tsdb::DB::Open(to);
  ASSERT_TRUE(db.ok()) << db.status().message();
  tsdb::DB* raw = db->get();
  promql::Engine engine;
  SystemClock clock;
  ManagerOptions o;
  o.engine = &engine;
  o.querier = [raw](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints& h) {
    return raw->NewQuerier(mint, maxt, h);
  };
  o.appender = [raw] { return raw->NewAppender(); };
  o.clock = &clock;
  Manager m(o);
  std::string file = dir.Write("r.yml", R"(groups:
- name: g
  rules:
  - record: unit:down
    expr: unit_active == 0
  - alert: UnitDown
    expr: unit:down
    labels: {severity: P0}
)");
  ASSERT_TRUE(m.Load({file}).ok());
  const TimestampMs t0 = clock.NowMs() - 60000;
  const Labels unit{{"__name__", "unit_active"}, {"unit", "bitcoind"}};
  auto put = [&](TimestampMs t, double v) {
    auto app = raw->NewAppender();
    ASSERT_TRUE(app->Append(0, unit, t, v).ok());
    ASSERT_TRUE(app->Commit().ok());
  };
  auto query = [&](const std::string& q, TimestampMs t) {
    auto e = promql::ParseExpr(q);
    EXPECT_TRUE(e.ok());
    promql::QueryResult r = engine.Instant(o.querier, **e, t);
    EXPECT_TRUE(r.ok) << r.error.message;
    return r.value.vector.size();
  };
  put(t0, 0);
  ASSERT_TRUE(m.EvaluateNow(file + ";g", t0));
  ASSERT_TRUE(m.EvaluateNow(file + ";g", t0 + 1000));  // an event right after the scheduled run
  EXPECT_EQ(query("unit:down", t0 + 1000), 1u);
  EXPECT_EQ(query("ALERTS{alertname=\"UnitDown\", alertstate=\"firing\", severity=\"critical\"}", t0 + 1000), 1u);
  EXPECT_EQ(query("ALERTS_FOR_STATE", t0 + 1000), 1u);
  put(t0 + 2000, 1);
  ASSERT_TRUE(m.EvaluateNow(file + ";g", t0 + 2000));
  // Stale at once, not after the 5-minute lookback.
  EXPECT_EQ(query("unit:down", t0 + 2000), 0u);
  EXPECT_EQ(query("ALERTS", t0 + 2000), 0u);
  EXPECT_TRUE(m.Alerts().empty());
  MetricBatch batch;
  m.AppendSelfMetrics(batch);
  EXPECT_EQ(batch.Find("vigil_rule_evaluation_failures_total")->samples.at(0).value, 0);
  ASSERT_TRUE((*db)->Close().ok());
}

}  // namespace
}  // namespace vigil::rules
