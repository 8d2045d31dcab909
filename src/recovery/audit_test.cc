#include "recovery/audit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace vigil::recovery {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vigil-audit.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Reopen();
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    log_.reset();
    auto opened = AuditLog::Open(dir_ + "/state.db");
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    log_ = std::move(*opened);
  }
  AuditEntry Restart(TimestampMs t, const std::string& service, int attempt) {
    AuditEntry e;
    e.time_ms = t;
    e.service = service;
    e.episode = 7;
    e.action = "restart";
    e.target = service + ".service";
    e.attempt = attempt;
    e.detail = "restart " + service;
    return e;
  }
  std::string dir_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, AnActionACrashLeftStartedIsInterruptedAndStillCounts) {
  auto done = log_->BeginAction(Restart(1000, "app", 1));
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(log_->FinishAction(*done, "done", "job done", 40).ok());
  auto verifying = log_->BeginAction(Restart(5000, "app", 2));
  ASSERT_TRUE(log_->FinishAction(*verifying, "verifying", "job done", 30).ok());  // vigil dies while verifying
  Reopen();
  auto interrupted = log_->MarkInterrupted("vigil stopped before the action finished");
  ASSERT_TRUE(interrupted.ok());
  ASSERT_EQ(interrupted->size(), 1u);
  EXPECT_EQ((*interrupted)[0].attempt, 2);
  auto attempts = log_->AttemptsSince(0);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[1].time_ms, 5000);
  EXPECT_EQ((*attempts)[1].summary, "restart by vigil: interrupted");
  EXPECT_EQ(log_->MarkInterrupted("again")->size(), 0u) << "marked once";
  auto recent = log_->Recent(10, "app");
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ((*recent)[0].outcome, "interrupted");
  EXPECT_NE((*recent)[0].detail.find("vigil stopped before the action finished"), std::string::npos);
  EXPECT_EQ(*log_->MaxEpisode(), 7u);
}

TEST_F(AuditLogTest, DryRunsAreNotAttemptsButSystemdRestartsAre) {
  auto dry = log_->BeginAction(Restart(1000, "app", 1));
  ASSERT_TRUE(log_->FinishAction(*dry, "dry-run", "", 0).ok());
  AuditEntry sd;
  sd.time_ms = 2000;
  sd.service = "app";
  sd.kind = "systemd_restart";
  ASSERT_TRUE(log_->Record(sd).ok());
  auto attempts = log_->AttemptsSince(0);
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].summary, "restart by systemd");
  EXPECT_TRUE(log_->AttemptsSince(2000)->empty()) << "only attempts after the horizon";
}

TEST_F(AuditLogTest, TrimKeepsTheNewestRows) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(log_->Record(Restart(i, "app", 1)).ok());
  ASSERT_TRUE(log_->Trim(10).ok());
  auto all = log_->Recent(1000);
  ASSERT_EQ(all->size(), 10u);
  EXPECT_EQ(all->back().time_ms, 40);
}

TEST_F(AuditLogTest, SinceReadsFromATimeOnOldestFirst) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(log_->Record(Restart(i, "app", 1)).ok());
  auto rows = log_->Since(Restart(7, "app", 1).time_ms);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].time_ms, Restart(7, "app", 1).time_ms);
  EXPECT_EQ((*rows)[2].time_ms, Restart(9, "app", 1).time_ms);
}

TEST_F(AuditLogTest, PausesSurviveAReopen) {
  ASSERT_TRUE(log_->SetPause("*", 0).ok());
  ASSERT_TRUE(log_->SetPause("app", 99000).ok());
  Reopen();
  auto pauses = log_->Pauses();
  ASSERT_EQ(pauses->size(), 2u);
  EXPECT_EQ(pauses->at("app"), 99000);
  ASSERT_TRUE(log_->ClearPause("*").ok());
  EXPECT_EQ(log_->Pauses()->count("*"), 0u);
}

}  // namespace
}  // namespace vigil::recovery
