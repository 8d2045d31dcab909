#include "recovery/planner.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>

namespace vigil::recovery {
namespace {

constexpr TimestampMs kStart = 1'700'000'000'000;

RestartPolicy Policy() {
  RestartPolicy p;
  p.max_attempts = 3;
  p.window = Duration(15 * 60 * 1000);
  p.backoff = Duration(2000);
  p.max_backoff = Duration(8000);
  p.verify_timeout = Duration(10000);
  p.stable_for = Duration(3000);
  p.unhealthy_for = Duration(5000);
  return p;
}

Observation Active(uint32_t restarts = 0) {
  Observation o;
  o.unit_known = true;
  o.active_state = "active";
  o.sub_state = "running";
  o.result = "success";
  o.n_restarts = restarts;
  o.checked_since_ms = 0;
  return o;
}

Observation Failed(const std::string& result = "signal") {
  Observation o = Active();
  o.active_state = "failed";
  o.sub_state = "failed";
  o.result = result;
  return o;
}

Observation Stopped() {
  Observation o = Active();
  o.active_state = "inactive";
  o.sub_state = "dead";
  return o;
}

Observation AutoRestart(uint32_t restarts) {
  Observation o = Active(restarts);
  o.active_state = "activating";
  o.sub_state = "auto-restart";
  o.result = "signal";
  return o;
}

// Checks that reported after the action, so a verification trusts them.
Observation Fresh(Observation o) {
  o.checked_since_ms = std::numeric_limits<TimestampMs>::max();
  return o;
}

bool Has(const std::vector<Event>& events, Event::Kind kind) {
  for (const auto& e : events) {
    if (e.kind == kind) return true;
  }
  return false;
}

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override { Make({{"app", "app.service", {}, Policy()}}); }
  void Make(std::vector<ServiceSpec> specs) { planner_ = std::make_unique<Planner>(std::move(specs)); }
  // Observations are fresh when given unless they say when they were seen.
  void Observe(const std::string& service, Observation o, TimestampMs t) {
    if (o.state_changed_ms == 0) o.state_changed_ms = t;
    planner_->Observe(service, o, t);
  }
  std::vector<Action> Step(const std::string& service, const Observation& o, TimestampMs t) {
    Observe(service, o, t);
    return planner_->Decide(t);
  }
  std::unique_ptr<Planner> planner_;
};

TEST_F(PlannerTest, RestartsAFailedUnitAtOnceAndVerifiesIt) {
  TimestampMs t = kStart;
  EXPECT_TRUE(Step("app", Active(), t).empty());
  auto actions = Step("app", Failed(), t += 10);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].unit, "app.service");
  EXPECT_EQ(actions[0].attempt, 1);
  planner_->ActionFinished(actions[0].id, true, "done", t += 200);
  // Healthy, but the checks are from before the restart: not yet trusted.
  EXPECT_TRUE(Step("app", Active(), t += 10).empty());
  EXPECT_EQ(planner_->Status(t)[0].phase, "verifying");
  Step("app", Fresh(Active()), t += 100);
  EXPECT_EQ(planner_->Status(t)[0].phase, "stabilizing");
  Step("app", Fresh(Active()), t += 3000);
  auto events = planner_->TakeEvents();
  ASSERT_TRUE(Has(events, Event::Kind::kVerified));
  for (const auto& e : events) {
    if (e.kind == Event::Kind::kVerified) {
      EXPECT_EQ(e.mttr.count(), 10 + 200 + 10 + 100 - 10);
    }
  }
  EXPECT_EQ(planner_->Status(t)[0].phase, "healthy");
  EXPECT_EQ(planner_->Status(t)[0].budget_remaining, 2);
}

TEST_F(PlannerTest, CleanStopIsNotRestarted) {
  TimestampMs t = kStart;
  Step("app", Active(), t);
  Observation stopping = Active();
  stopping.active_state = "deactivating";
  stopping.sub_state = "stop-sigterm";
  EXPECT_TRUE(Step("app", stopping, t += 5).empty());
  EXPECT_TRUE(Step("app", Stopped(), t += 5).empty());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Step("app", Stopped(), t += 60000).empty());
  EXPECT_TRUE(Has(planner_->TakeEvents(), Event::Kind::kStoppedByOperator));
  EXPECT_EQ(planner_->Status(t)[0].phase, "stopped");
  // Started again by the operator, then it crashes: that is a fault again.
  Step("app", Active(), t += 1000);
  EXPECT_EQ(Step("app", Failed(), t += 1000).size(), 1u);
}

TEST_F(PlannerTest, BudgetThenOneEscalationThenNothingUntilReset) {
  TimestampMs t = kStart;
  Step("app", Active(), t);
  int restarts = 0;
  for (int round = 0; round < 20; ++round) {
    auto actions = Step("app", Failed("exit-code"), t += 1000);
    for (const auto& a : actions) {
      ++restarts;
      planner_->ActionFinished(a.id, true, "done", t += 100);
      // It starts, then fails again at once.
      Step("app", Fresh(Active()), t += 50);
    }
  }
  EXPECT_EQ(restarts, 3);
  auto events = planner_->TakeEvents();
  int escalations = 0;
  for (const auto& e : events) {
    if (e.kind == Event::Kind::kEscalated) {
      ++escalations;
      EXPECT_EQ(e.attempts.size(), 3u);
      EXPECT_NE(e.attempts[0].find("restart by vigil"), std::string::npos);
    }
  }
  EXPECT_EQ(escalations, 1);
  EXPECT_TRUE(planner_->Status(t)[0].escalated);
  EXPECT_EQ(planner_->Status(t)[0].budget_remaining, 0);
  planner_->Reset("app", t);
  EXPECT_TRUE(Has(planner_->TakeEvents(), Event::Kind::kEscalationCleared));
  EXPECT_EQ(Step("app", Failed("exit-code"), t += 1000).size(), 1u);
}

TEST_F(PlannerTest, BackoffDoublesUpToTheCap) {
  RestartPolicy p = Policy();
  p.max_attempts = 10;
  Make({{"app", "app.service", {}, p}});
  TimestampMs t = kStart;
  Step("app", Active(), t);
  std::vector<TimestampMs> at;
  for (int ms = 0; ms < 60000 && at.size() < 5; ms += 100) {
    auto actions = Step("app", Failed(), t += 100);
    for (const auto& a : actions) {
      at.push_back(t);
      planner_->ActionFinished(a.id, true, "done", t);
    }
  }
  ASSERT_EQ(at.size(), 5u);
  // Verification fails at once (the unit is failed again), then backoff: 2 s, 4 s, 8 s, 8 s.
  EXPECT_NEAR(at[1] - at[0], 2000, 200);
  EXPECT_NEAR(at[2] - at[1], 4000, 200);
  EXPECT_NEAR(at[3] - at[2], 8000, 200);
  EXPECT_NEAR(at[4] - at[3], 8000, 200);
}

TEST_F(PlannerTest, SystemdsOwnRestartIsVerifiedAndCountedNeverDoubled) {
  TimestampMs t = kStart;
  Step("app", Active(0), t);
  EXPECT_TRUE(Step("app", AutoRestart(1), t += 10).empty());
  Observation starting = Active(1);
  starting.active_state = "activating";
  starting.sub_state = "start";
  EXPECT_TRUE(Step("app", starting, t += 100).empty());
  EXPECT_TRUE(Step("app", Fresh(Active(1)), t += 100).empty());
  EXPECT_TRUE(Step("app", Fresh(Active(1)), t += 3000).empty());
  auto events = planner_->TakeEvents();
  EXPECT_TRUE(Has(events, Event::Kind::kSystemdRestart));
  EXPECT_TRUE(Has(events, Event::Kind::kVerified));
  EXPECT_FALSE(Has(events, Event::Kind::kActionStarted));
  EXPECT_EQ(planner_->Status(t)[0].budget_remaining, 2);
}

TEST_F(PlannerTest, CrashLoopUnderRestartAlwaysIsEscalatedOnce) {
  TimestampMs t = kStart;
  Step("app", Active(0), t);
  for (uint32_t n = 1; n <= 8; ++n) {
    EXPECT_TRUE(Step("app", AutoRestart(n), t += 100).empty());
    Observation starting = Active(n);
    starting.active_state = "activating";
    starting.sub_state = "start";
    EXPECT_TRUE(Step("app", starting, t += 100).empty());
  }
  auto events = planner_->TakeEvents();
  int escalations = 0;
  for (const auto& e : events) escalations += e.kind == Event::Kind::kEscalated ? 1 : 0;
  EXPECT_EQ(escalations, 1);
  EXPECT_FALSE(Has(events, Event::Kind::kActionStarted));
}

TEST_F(PlannerTest, SystemdGivesUpAndVigilTakesOverWithinTheBudget) {
  TimestampMs t = kStart;
  Step("app", Active(0), t);
  Step("app", AutoRestart(1), t += 100);
  // systemd's start limit: the unit is failed for good.
  auto actions = Step("app", Failed("start-limit-hit"), t += 100);
  EXPECT_TRUE(actions.empty());  // backoff from systemd's attempt
  actions = Step("app", Failed("start-limit-hit"), t += 2000);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].attempt, 2);
}

TEST_F(PlannerTest, HungServiceIsRestartedAfterUnhealthyFor) {
  TimestampMs t = kStart;
  Step("app", Active(), t);
  Observation hung = Active();
  hung.checks_ok = false;
  EXPECT_TRUE(Step("app", hung, t += 100).empty());
  EXPECT_TRUE(Step("app", hung, t += 4000).empty());
  auto actions = Step("app", hung, t += 1000);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_NE(actions[0].reason.find("checks fail"), std::string::npos);
}

TEST_F(PlannerTest, RecoveredAloneWithoutAnAction) {
  TimestampMs t = kStart;
  Step("app", Active(), t);
  Observation flaky = Active();
  flaky.checks_ok = false;
  Step("app", flaky, t += 100);
  Step("app", Active(), t += 1000);
  auto events = planner_->TakeEvents();
  EXPECT_TRUE(events.empty()) << events.size();
}

TEST_F(PlannerTest, DependencyOrderRootFirstThenDependentsOnlyIfStillUnhealthy) {
  Make({{"bitcoind", "bitcoind.service", {}, Policy()},
        {"titan", "titan.service", {"bitcoind"}, Policy()},
        {"validator", "validator.service", {"titan"}, Policy()}});
  TimestampMs t = kStart;
  for (const char* s : {"bitcoind", "titan", "validator"}) Observe(s, Active(), t);
  planner_->Decide(t);
  // bitcoind dies; titan fails with it; the validator's RPC goes unready.
  Observe("bitcoind", Failed(), t += 10);
  Observe("titan", Failed("exit-code"), t);
  Observation unready = Active();
  unready.checks_ok = false;
  Observe("validator", unready, t);
  auto actions = planner_->Decide(t);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].service, "bitcoind");
  // Nothing for the dependents while the root is being recovered.
  EXPECT_TRUE(planner_->Decide(t += 1000).empty());
  planner_->ActionFinished(actions[0].id, true, "done", t += 100);
  Observe("bitcoind", Fresh(Active()), t += 100);
  EXPECT_TRUE(planner_->Decide(t).empty());
  t += 3000;
  Observe("bitcoind", Fresh(Active()), t);
  actions = planner_->Decide(t);  // bitcoind verified: titan (failed) goes now
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].service, "titan");
  planner_->ActionFinished(actions[0].id, true, "done", t += 100);
  Observe("titan", Fresh(Active()), t += 100);
  planner_->Decide(t);
  // The validator recovers by itself once titan is back: never restarted.
  Observe("validator", Active(), t += 500);
  t += 3000;
  Observe("titan", Fresh(Active()), t);
  EXPECT_TRUE(planner_->Decide(t).empty());
  auto events = planner_->TakeEvents();
  std::set<uint64_t> episodes;
  for (const auto& e : events) {
    EXPECT_NE(e.kind, Event::Kind::kEscalated);
    if (e.kind == Event::Kind::kFault) episodes.insert(e.episode);
    if (e.kind == Event::Kind::kActionStarted) {
      EXPECT_NE(e.service, "validator");
    }
  }
  EXPECT_EQ(episodes.size(), 1u) << "one fault, one episode";
}

TEST_F(PlannerTest, RootThatCannotRecoverPagesOnceNamingTheChain) {
  Make({{"bitcoind", "bitcoind.service", {}, Policy()},
        {"titan", "titan.service", {"bitcoind"}, Policy()},
        {"validator", "validator.service", {"titan"}, Policy()}});
  TimestampMs t = kStart;
  for (const char* s : {"bitcoind", "titan", "validator"}) Observe(s, Active(), t);
  planner_->Decide(t);
  Observe("titan", Failed("exit-code"), t += 10);
  Observe("validator", Failed("exit-code"), t);
  std::vector<std::string> restarted;
  for (int i = 0; i < 200; ++i) {
    Observe("bitcoind", Failed("exit-code"), t += 500);
    for (const auto& a : planner_->Decide(t)) {
      restarted.push_back(a.service);
      planner_->ActionFinished(a.id, true, "done", t);
    }
  }
  EXPECT_EQ(restarted, (std::vector<std::string>{"bitcoind", "bitcoind", "bitcoind"}));
  int escalations = 0;
  for (const auto& e : planner_->TakeEvents()) {
    if (e.kind != Event::Kind::kEscalated) continue;
    ++escalations;
    EXPECT_EQ(e.service, "bitcoind");
    EXPECT_EQ(e.affected, (std::vector<std::string>{"titan", "validator"}));
  }
  EXPECT_EQ(escalations, 1);
}

TEST_F(PlannerTest, RestoredAttemptsKeepTheBudgetAndTheBackoff) {
  TimestampMs t = kStart;
  planner_->RestoreAttempt({"app", t - 500, "restart by vigil: interrupted"});
  Step("app", Failed(), t);
  EXPECT_TRUE(planner_->Decide(t + 1000).empty()) << "inside the 2 s backoff of the interrupted attempt";
  auto actions = planner_->Decide(t + 1600);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].attempt, 2);
}

TEST_F(PlannerTest, HeldAndDryRunDoNotAct) {
  TimestampMs t = kStart;
  Step("app", Active(), t);
  planner_->SetHeld("app", "recovery is paused until resumed");
  EXPECT_TRUE(Step("app", Failed(), t += 10).empty());
  EXPECT_TRUE(Step("app", Failed(), t += 10000).empty());
  planner_->SetHeld("app", std::nullopt);
  planner_->SetDryRun(true);
  EXPECT_TRUE(Step("app", Failed(), t += 10).empty());
  auto events = planner_->TakeEvents();
  int dry = 0, paused = 0;
  for (const auto& e : events) {
    if (e.kind != Event::Kind::kWaiting) continue;
    dry += e.detail.rfind("dry-run: would restart app.service", 0) == 0 ? 1 : 0;
    paused += e.detail.find("paused") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(dry, 1);
  EXPECT_EQ(paused, 1) << "a reason is recorded once, not on every decision";
  planner_->SetDryRun(false);
  EXPECT_EQ(Step("app", Failed(), t += 10).size(), 1u);
}

TEST_F(PlannerTest, MaxConcurrentHoldsTheSecondService) {
  Make({{"a", "a.service", {}, Policy()}, {"b", "b.service", {}, Policy()}});
  TimestampMs t = kStart;
  Observe("a", Active(), t);
  Observe("b", Active(), t);
  planner_->Decide(t);
  Observe("a", Failed(), t += 10);
  Observe("b", Failed(), t);
  auto first = planner_->Decide(t);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(planner_->Decide(t += 10).empty());
  planner_->ActionFinished(first[0].id, true, "done", t);
  auto second = planner_->Decide(t += 10);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0].service, first[0].service);
}

TEST_F(PlannerTest, NextWakeupCoversBackoffAndVerification) {
  TimestampMs t = kStart;
  Step("app", Active(), t);
  auto a = Step("app", Failed(), t += 10);
  ASSERT_EQ(a.size(), 1u);
  planner_->ActionFinished(a[0].id, true, "done", t);
  Observation starting = Active();
  starting.active_state = "activating";
  starting.sub_state = "start";
  Observe("app", starting, t);
  planner_->Decide(t);
  ASSERT_TRUE(planner_->NextWakeup(t).has_value());
  EXPECT_EQ(*planner_->NextWakeup(t), t + 10000);  // the verify deadline
}

TEST_F(PlannerTest, AStaleStateAfterTheRestartIsNotJudged) {
  TimestampMs t = kStart;
  Step("app", Active(), t);
  Observation failed = Failed();
  failed.state_changed_ms = t + 10;
  auto a = Step("app", failed, t += 10);
  ASSERT_EQ(a.size(), 1u);
  planner_->ActionFinished(a[0].id, true, "done", t += 50);
  // The monitor has not caught up: the cache still says failed, seen before the restart.
  EXPECT_TRUE(Step("app", failed, t += 5).empty());
  EXPECT_FALSE(Has(planner_->TakeEvents(), Event::Kind::kVerifyFailed));
  Step("app", Fresh(Active()), t += 20);
  EXPECT_EQ(planner_->Status(t)[0].phase, "stabilizing");
}

TEST_F(PlannerTest, AFailedUnitWithItsOwnRestartPolicyIsLeftToSystemdFirst) {
  TimestampMs t = kStart;
  Observation up = Active();
  up.restart_policy = "always";
  up.restart_delay = Duration(300);
  Step("app", up, t);
  Observation failed = Failed("exit-code");
  failed.restart_policy = "always";
  failed.restart_delay = Duration(300);
  EXPECT_TRUE(Step("app", failed, t += 10).empty()) << "systemd marks it failed for an instant";
  EXPECT_TRUE(planner_->Decide(t += 1000).empty());
  // systemd did not restart it within RestartSec + 1 s: vigil takes over.
  EXPECT_EQ(planner_->Decide(t += 400).size(), 1u);
  // Once systemd gave up (start limit), there is nothing to wait for.
  Make({{"app", "app.service", {}, Policy()}});
  Step("app", up, t);
  Observation limit = Failed("start-limit-hit");
  limit.restart_policy = "always";
  EXPECT_EQ(Step("app", limit, t += 10).size(), 1u);
}

}  // namespace
}  // namespace vigil::recovery
