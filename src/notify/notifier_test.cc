// The notifier's loop as the watchdog sees it.
#include "notify/notifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "base/testing/temp_dir.h"

namespace vigil::notify {
namespace {

// Idle (no alerts, no receivers) the loop still passes at least once a
// second, so a watchdog can tell "idle" from "stuck".
TEST(Notifier, IdleLoopReportsProgressEverySecond) {
  testing::TempDir dir;
  SystemClock clock;
  std::atomic<int> beats{0};
  NotifierOptions o;
  o.outbox_path = dir.path() + "/state.db";
  o.clock = &clock;
  o.progress = [&] { ++beats; };
  auto n = Notifier::Start(std::move(o));
  ASSERT_TRUE(n.ok()) << n.status().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int first = beats.load();
  EXPECT_GE(first, 1) << "the loop's first pass reports progress";
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_GE(beats.load() - first, 2) << "an idle loop wakes at least once a second";
  (*n)->Stop();
}

// The weekly digest's path: a one-off notification routed by the tree to the
// matched route's receiver and queued once; a silence matching it drops it.
TEST(Notifier, AnnounceRoutesQueuesOnceAndHonoursSilences) {
  testing::TempDir dir;
  SystemClock clock;
  NotifierOptions o;
  o.outbox_path = dir.path() + "/state.db";
  o.clock = &clock;
  o.alerting.route.receiver = "nobody";
  alert::RouteSpec p3;
  p3.matchers = {"severity=\"P3\""};
  p3.receiver = "digest";
  o.alerting.route.routes.push_back(p3);
  config::ReceiverOptions nobody;
  nobody.name = "nobody";
  o.alerting.receivers.push_back(nobody);
  config::ReceiverOptions digest;
  digest.name = "digest";
  digest.webhook_configs.push_back({"http://127.0.0.1:1/hook", true, 0});  // refused: the message stays queued
  o.alerting.receivers.push_back(digest);
  auto n = Notifier::Start(std::move(o));
  ASSERT_TRUE(n.ok()) << n.status().message();
  auto outbox = Outbox::Open(dir.path() + "/state.db");
  ASSERT_TRUE(outbox.ok());
  auto queued = [&] {
    auto c = (*outbox)->Counts();
    return c.ok() ? c->pending : -1;
  };

  AlertUpdate u;
  u.labels = Labels{{"alertname", "VigilWeeklyDigest"}, {"severity", "P3"}};
  u.annotations = Labels{{"summary", "digest"}, {"description", "line 1\nline 2"}};
  u.starts_at = clock.NowMs();
  auto receivers = (*n)->Announce(u);
  ASSERT_TRUE(receivers.ok()) << receivers.status().message();
  EXPECT_EQ(*receivers, std::vector<std::string>{"digest"});
  for (int i = 0; i < 100 && queued() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(queued(), 1);
  EXPECT_TRUE((*n)->AlertStates().empty()) << "an announcement is never held as a firing alert";

  u.labels.Set("severity", "P1");
  receivers = (*n)->Announce(u);
  ASSERT_TRUE(receivers.ok());
  EXPECT_EQ(*receivers, std::vector<std::string>{"nobody"});

  Outbox::StoredSilence s;
  s.matchers = {"alertname=\"VigilWeeklyDigest\""};
  s.ends_at = clock.NowMs() + 3600'000;
  ASSERT_TRUE((*n)->PutSilence(s).ok());
  u.labels.Set("severity", "P3");
  ASSERT_TRUE((*n)->Announce(u).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(queued(), 1) << "the silenced announcement is not queued";
  (*n)->Stop();
}

}  // namespace
}  // namespace vigil::notify
