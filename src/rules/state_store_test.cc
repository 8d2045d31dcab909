#include "rules/state_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "base/testing/temp_dir.h"
#include "rules/manager.h"
#include "tsdb/memory.h"

namespace vigil::rules {
namespace {

constexpr int64_t kMin = 60 * 1000;

TEST(AlertStateStoreTest, RoundTrip) {
  testing::TempDir dir;
  auto store = AlertStateStore::Open(dir.path() + "/state.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  SavedAlert a;
  a.group_key = "f.yml;g";
  a.rule = "Down";
  a.rule_labels = Labels{{"severity", "critical"}};
  a.alert.state = AlertState::kFiring;
  a.alert.labels = Labels{{"alertname", "Down"}, {"instance", "a \"quoted\""}};
  a.alert.annotations = {{"summary", "down\nsince 5m"}};
  a.alert.value = 0.25;
  a.alert.active_at = 1000;
  a.alert.fired_at = 2000;
  a.alert.last_sent_at = 2500;
  ASSERT_TRUE((*store)->SaveGroup("f.yml;g", {a}, 3000).ok());
  ASSERT_TRUE((*store)->SaveGroup("f.yml;other", {a}, 3000).ok());
  auto all = (*store)->LoadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  const SavedAlert& b = (*all)[0];
  EXPECT_EQ(b.group_key, "f.yml;g");
  EXPECT_EQ(b.rule, "Down");
  EXPECT_EQ(b.rule_labels, a.rule_labels);
  EXPECT_EQ(b.alert.state, AlertState::kFiring);
  EXPECT_EQ(b.alert.labels, a.alert.labels);
  EXPECT_EQ(b.alert.annotations, a.alert.annotations);
  EXPECT_EQ(b.alert.value, 0.25);
  EXPECT_EQ(b.alert.active_at, 1000);
  EXPECT_EQ(b.alert.fired_at, 2000);
  EXPECT_EQ(b.alert.last_sent_at, 2500);
  ASSERT_TRUE((*store)->Prune({"f.yml;g"}, 3000).ok());
  EXPECT_EQ((*store)->LoadAll()->size(), 1u);
  ASSERT_TRUE((*store)->SaveGroup("f.yml;g", {}, 3000).ok());
  EXPECT_TRUE((*store)->LoadAll()->empty());
}

TEST(AlertStateStoreTest, OpenFailsWithReason) {
  auto store = AlertStateStore::Open("/nonexistent-dir/state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/nonexistent-dir/state.db"), std::string::npos);
}

// A manager over one store file and one in-memory series store, restarted at will.
class RestartTest : public ::testing::Test {
 protected:
  void Start() {
    store_.reset();
    manager_.reset();
    auto s = AlertStateStore::Open(dir_.path() + "/state.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    ManagerOptions o;
    o.engine = &engine_;
    o.querier = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
      return storage_.NewQuerier(mint, maxt);
    };
    o.appender = [this] { return storage_.NewAppender(); };
    o.clock = &clock_;
    o.state_store = store_.get();
    manager_ = std::make_unique<Manager>(o);
    ASSERT_TRUE(manager_->Load({rules_}).ok());
  }
  void Up(TimestampMs t, double v) { storage_.Add(Labels{{"__name__", "up"}, {"instance", "a"}}, t, v); }
  void Eval(TimestampMs t) { ASSERT_TRUE(manager_->EvaluateNow(rules_ + ";g", t)); }
  std::string State() {
    auto alerts = manager_->Alerts();
    if (alerts.empty()) {
      for (const auto& g : manager_->Groups()) {
        for (const auto& r : g.rules) {
          if (!r.alerts.empty()) return "?";
        }
      }
      return "none";
    }
    return std::string(AlertStateName(alerts[0].alert.state));
  }
  Alert Only() { return manager_->Alerts().at(0).alert; }

  testing::TempDir dir_;
  std::string rules_ =
      dir_.Write("rules.yml", "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 5m\n");
  FakeClock clock_{0};
  promql::Engine engine_;
  tsdb::MemoryStorage storage_;
  std::unique_ptr<AlertStateStore> store_;
  std::unique_ptr<Manager> manager_;
};

TEST_F(RestartTest, PendingKeepsCountingAcrossRestart) {
  Start();
  for (int i = 0; i <= 10; ++i) Up(i * kMin, 0);
  Eval(1 * kMin);
  EXPECT_EQ(State(), "pending");
  Start();  // restart: state comes back from disk
  EXPECT_EQ(State(), "pending");
  EXPECT_EQ(Only().active_at, 1 * kMin);
  Eval(4 * kMin);
  EXPECT_EQ(State(), "pending");
  Eval(6 * kMin);  // 5m after the saved activeAt, not after the restart
  EXPECT_EQ(State(), "firing");
}

TEST_F(RestartTest, FiringIsNotNewAfterRestart) {
  Start();
  for (int i = 0; i <= 10; ++i) Up(i * kMin, 0);
  Eval(0);
  Eval(5 * kMin);
  ASSERT_EQ(State(), "firing");
  Start();
  EXPECT_EQ(State(), "firing");
  Eval(7 * kMin);
  EXPECT_EQ(State(), "firing");
  EXPECT_EQ(Only().active_at, 0);
  EXPECT_EQ(Only().fired_at, 5 * kMin);
}

TEST_F(RestartTest, ResolvedWhileDownResolvesAtFirstEvaluation) {
  Start();
  for (int i = 0; i <= 5; ++i) Up(i * kMin, 0);
  Eval(0);
  Eval(5 * kMin);
  ASSERT_EQ(State(), "firing");
  manager_.reset();
  // vigil is down; the service recovers.
  for (int i = 6; i <= 30; ++i) Up(i * kMin, 1);
  Start();
  EXPECT_EQ(State(), "firing");  // what was last known
  Eval(30 * kMin);
  EXPECT_TRUE(manager_->Alerts().empty());
  // Kept as resolved for notifiers, then forgotten.
  Start();
  EXPECT_TRUE(manager_->Alerts().empty());
  Eval(46 * kMin);
  Start();
  EXPECT_TRUE(store_->LoadAll()->empty());
}

TEST_F(RestartTest, RemovedGroupIsPruned) {
  Start();
  Up(0, 0);
  Eval(0);
  ASSERT_EQ(store_->LoadAll()->size(), 1u);
  dir_.Write("rules.yml", "groups:\n- name: other\n  rules:\n  - alert: Down\n    expr: up == 0\n");
  Start();
  EXPECT_TRUE(store_->LoadAll()->empty());
}

// The episode log through the manager: a pending alert that clears, one that
// fires and resolves, one that comes back, and a restart in between.
TEST_F(RestartTest, AlertEpisodeLogFollowsTransitions) {
  Start();
  Up(0, 0);
  Eval(0);  // pending at 0
  Up(2 * kMin, 1);
  Eval(2 * kMin);  // cleared before `for`: an episode that never fired
  for (int i = 3; i <= 9; ++i) Up(i * kMin, 0);
  Eval(3 * kMin);  // pending again
  Eval(8 * kMin);  // fires
  Start();         // a restart keeps the same episode open
  Eval(9 * kMin);
  Up(10 * kMin, 1);
  Eval(10 * kMin);  // resolves
  Up(11 * kMin, 0);
  Eval(11 * kMin);  // back: a new episode
  auto episodes = store_->Episodes(0, 60 * kMin);
  ASSERT_TRUE(episodes.ok()) << episodes.status().message();
  ASSERT_EQ(episodes->size(), 3u);
  const AlertEpisode& cleared = (*episodes)[0];
  EXPECT_EQ(cleared.rule, "Down");
  EXPECT_EQ(cleared.group_key, rules_ + ";g");
  EXPECT_EQ(cleared.labels.Get("instance"), "a");
  EXPECT_EQ(cleared.for_duration, Duration(5 * kMin));
  EXPECT_EQ(cleared.active_at, 0);
  EXPECT_EQ(cleared.fired_at, 0);
  EXPECT_EQ(cleared.resolved_at, 2 * kMin);
  const AlertEpisode& fired = (*episodes)[1];
  EXPECT_EQ(fired.active_at, 3 * kMin);
  EXPECT_EQ(fired.fired_at, 8 * kMin);
  EXPECT_EQ(fired.resolved_at, 10 * kMin);
  const AlertEpisode& open = (*episodes)[2];
  EXPECT_EQ(open.active_at, 11 * kMin);
  EXPECT_EQ(open.fired_at, 0);
  EXPECT_EQ(open.resolved_at, 0);
  // Only what overlaps the range.
  EXPECT_EQ(store_->Episodes(3 * kMin, 11 * kMin)->size(), 1u);
  // A removed rule ends its open episode at the reload.
  dir_.Write("rules.yml", "groups:\n- name: g\n  rules:\n  - alert: Other\n    expr: up == 0\n");
  clock_.Advance(Duration(12 * kMin));
  ASSERT_TRUE(manager_->Load({rules_}).ok());
  Eval(12 * kMin);
  EXPECT_EQ(store_->Episodes(0, 60 * kMin)->at(2).resolved_at, 12 * kMin);
}

TEST_F(RestartTest, AlertEpisodeLogIsBounded) {
  Start();
  store_->SetEpisodeRetention({Duration(30 * kMin), 2});
  for (int i = 0; i < 8; ++i) {  // eight short episodes, each pending then cleared
    Up(2 * i * kMin, 0);
    Eval(2 * i * kMin);
    Up((2 * i + 1) * kMin, 1);
    Eval((2 * i + 1) * kMin);
  }
  auto episodes = store_->Episodes(0, 100 * kMin);
  ASSERT_TRUE(episodes.ok());
  ASSERT_EQ(episodes->size(), 2u);  // the row cap
  EXPECT_EQ(episodes->back().active_at, 14 * kMin);
  Up(60 * kMin, 0);
  Eval(60 * kMin);  // everything that began before 30m is older than max_age
  EXPECT_EQ(store_->Episodes(0, 100 * kMin)->size(), 1u);
}

TEST(AlertEpisodeTest, CorruptRowIsNamed) {
  testing::TempDir dir;
  auto store = AlertStateStore::Open(dir.path() + "/state.db");
  ASSERT_TRUE(store.ok());
  SavedAlert a;
  a.group_key = "f.yml;g";
  a.rule = "Down";
  a.alert.state = AlertState::kPending;
  a.alert.labels = Labels{{"alertname", "Down"}};
  a.alert.active_at = 1000;
  ASSERT_TRUE((*store)->SaveGroup("f.yml;g", {a}, 1000).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() + "/state.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE alert_episodes SET labels = 'nope'", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto episodes = (*store)->Episodes(0, 5000);
  ASSERT_FALSE(episodes.ok());
  EXPECT_NE(episodes.status().message().find("alert_episodes row id 1: labels is not a JSON object"), std::string::npos)
      << episodes.status().message();
}

}  // namespace
}  // namespace vigil::rules
