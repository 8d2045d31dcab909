// Dispatcher::AlertStates(): what GET /api/v2/alerts lists for each firing alert.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

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

  std::vector<AlertState> all = d.AlertStates();
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

// The index answers exactly as the scan it replaces, on random alerts and
// rules (one whose sides overlap, one with no equal labels).
TEST(InhibitorIndex, AgreesWithTheScan) {
  std::vector<InhibitRule> rules;
  for (const InhibitRuleSpec& spec : std::vector<InhibitRuleSpec>{
           {{"severity=critical"}, {"severity=~high|medium"}, {"service"}},
           {{"severity=~critical|high"}, {"severity=~high|low"}, {"service", "region"}},
           {{"alertname=A0"}, {"alertname=~A[12]"}, {}}}) {
    rules.push_back(*BuildInhibitRule(spec, "r"));
  }
  Inhibitor inhibitor(rules);
  std::mt19937 rng(7);
  const char* sev[] = {"critical", "high", "medium", "low"};
  std::vector<Alert> alerts;
  for (int i = 0; i < 300; ++i) {
    Alert a;
    a.labels = Labels{{"alertname", "A" + std::to_string(rng() % 4)},
                      {"service", "s" + std::to_string(rng() % 5)},
                      {"severity", sev[rng() % 4]}};
    if (rng() % 2) a.labels.Set("region", "r" + std::to_string(rng() % 2));
    if (rng() % 10 == 0) a.ends_at = 1;  // resolved ones never inhibit
    alerts.push_back(std::move(a));
  }
  std::vector<const Alert*> firing;
  for (const auto& a : alerts) firing.push_back(&a);
  Inhibitor::Index index = inhibitor.BuildIndex(firing);
  int inhibited = 0;
  for (const auto& t : alerts) {
    bool scan = inhibitor.Inhibited(t.labels, firing);
    ASSERT_EQ(index.Inhibits(t.labels), scan) << t.labels.ToString();
    ASSERT_EQ(!index.Sources(t.labels).empty(), scan) << t.labels.ToString();
    for (const Alert* s : index.Sources(t.labels)) EXPECT_TRUE(inhibitor.Inhibited(t.labels, {s}));
    inhibited += scan;
  }
  EXPECT_GT(inhibited, 0);
  EXPECT_LT(inhibited, 300);
}

}  // namespace
}  // namespace vigil::alert
