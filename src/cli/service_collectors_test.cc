#include "cli/service_collectors.h"

#include <gtest/gtest.h>

namespace vigil::cli {
namespace {

class RecordedEvents final : public collect::EventSink {
 public:
  void Publish(const collect::Event& e) override { events.push_back(e); }
  std::vector<collect::Event> events;
};

// A service's verdict: every check passes, and each was begun at or after the
// time asked about (the service's start), so a check of the process before a
// restart does not make the new one up.
TEST(ServiceHealth, ChecksCountOnlyFromTheTimeAskedAbout) {
  FakeClock clock(5'000);
  RecordedEvents events;
  ServiceHealth health(clock, &events);
  int checks = 0;
  health.SetOnCheck([&] { ++checks; });
  EXPECT_TRUE(health.ProbesOk("titan", 4'000)) << "nothing reported yet";

  health.Record("titan", "titan", true, 3'000);
  health.Record("titan", "probe/titan/rpc", true, 3'500);
  EXPECT_EQ(checks, 2) << "every check is told, passing or not";
  EXPECT_TRUE(events.events.empty()) << "events only when the verdict flips";
  EXPECT_TRUE(health.ProbesOk("titan"));
  EXPECT_TRUE(health.ProbesOk("titan", 3'000));
  EXPECT_FALSE(health.ProbesOk("titan", 3'200)) << "the titan check began before a start at 3.2 s";

  health.Record("titan", "titan", true, 4'100);  // the restarted process answers
  EXPECT_FALSE(health.ProbesOk("titan", 4'000)) << "the rpc probe has not checked the new process yet";
  health.Record("titan", "probe/titan/rpc", false, 4'200);  // still starting: refused
  EXPECT_FALSE(health.ProbesOk("titan", 4'000));
  ASSERT_EQ(events.events.size(), 1u);
  EXPECT_EQ(events.events[0].source, "probe");
  health.Record("titan", "probe/titan/rpc", true, 5'200);
  EXPECT_TRUE(health.ProbesOk("titan", 4'000));
  EXPECT_EQ(events.events.size(), 2u);
  EXPECT_EQ(checks, 5);
  EXPECT_TRUE(health.ProbesOk("bitcoind", 4'000)) << "other services are not affected";
}

}  // namespace
}  // namespace vigil::cli
