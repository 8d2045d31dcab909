// Dispatcher::Alerts(): what GET /api/v2/alerts lists for each firing alert.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "alert/dispatch.h"

namespace vigil::alert {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr TimestampMs kNow = 1795435200000;

TEST(DispatcherAlerts, ListsFiringWithReceiversSilencesAndInhibitingFingerprints) {
  RouteSpec root;
  root.receiver = "default";
  root.group_by = std::vector<std::string>{"alertname", "service"};
  RouteSpec critical;
  critical.matchers = {"severity=critical"};
  critical.receiver = "pager";
  root.routes.push_back(critical);
  auto route = Route::Build(root);
  ASSERT_TRUE(route.ok()) << route.status().message();
  auto rule = BuildInhibitRule({{"severity=critical"}, {"severity=~high|medium"}, {"service"}}, "inhibit_rules[0]");
  ASSERT_TRUE(rule.ok()) << rule.status().message();
  FakeClock clock(kNow);
  Dispatcher d(std::shared_ptr<const Route>(std::move(*route)), Inhibitor({*rule}), {}, FlapOptions{}, clock);
  auto firing = [](Labels l) {
    Alert a;
    a.labels = std::move(l);
    a.starts_at = kNow;
    return a;
  };
  Labels down{{"alertname", "Down"}, {"service", "db"}, {"severity", "critical"}};
  Labels slow{{"alertname", "Slow"}, {"service", "db"}, {"severity", "high"}};
  Labels web{{"alertname", "Slow"}, {"service", "web"}, {"severity", "high"}};
  d.Update(firing(down));
  d.Update(firing(slow));
  d.Update(firing(web));
  Alert gone = firing({{"alertname", "Gone"}});
  d.Update(gone);
  gone.ends_at = kNow + 1;
  d.Update(gone);  // resolved: not listed
  Silence s{"sil-1", {}, kNow - 1, kNow + 60000, "me", ""};
  s.matchers = *ParseMatchers("service=web");
  d.SetSilences({s});

  std::vector<AlertState> all = d.Alerts();
  ASSERT_THAT(all, SizeIs(3));
  std::map<std::string, AlertState> by_name;
  for (auto& a : all) by_name[std::string(a.alert.labels.Get("alertname")) + "/" +
                              std::string(a.alert.labels.Get("service"))] = a;
  EXPECT_THAT(by_name["Down/db"].receivers, ElementsAre("pager"));
  EXPECT_FALSE(by_name["Down/db"].mute.muted());
  EXPECT_TRUE(by_name["Slow/db"].mute.inhibited);
  EXPECT_THAT(by_name["Slow/db"].inhibited_by, ElementsAre(Fingerprint(down)));
  EXPECT_THAT(by_name["Slow/db"].receivers, ElementsAre("default"));
  EXPECT_THAT(by_name["Slow/web"].mute.silenced_by, ElementsAre("sil-1"));
  EXPECT_THAT(by_name["Slow/web"].inhibited_by, IsEmpty());
}

}  // namespace
}  // namespace vigil::alert
