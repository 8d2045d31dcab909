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

}  // namespace
}  // namespace vigil::notify
