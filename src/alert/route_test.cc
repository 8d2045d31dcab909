// Matchers, the routing tree and inhibition with Alertmanager's semantics
// (cases after Alertmanager's dispatch/route_test.go and inhibit_test.go).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "alert/alert.h"
#include "alert/inhibit.h"
#include "alert/route.h"

namespace vigil::alert {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Matchers, AlertmanagerSyntax) {
  Result<Matchers> m = ParseMatchers(R"({severity="critical", service=~"bit.*", team!=ops, env!~"dev|test"})");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->size(), 4u);
  EXPECT_EQ((*m)[0].ToString(), "severity=\"critical\"");
  EXPECT_EQ((*m)[2].ToString(), "team!=\"ops\"");
  EXPECT_TRUE(MatchesAll(*m, Labels{{"service", "bitcoind"}, {"severity", "critical"}}));
  EXPECT_FALSE(MatchesAll(*m, Labels{{"service", "xbitcoind"}, {"severity", "critical"}}));  // anchored
  EXPECT_FALSE(MatchesAll(*m, Labels{{"env", "dev"}, {"service", "bitcoind"}, {"severity", "critical"}}));
  m = ParseMatchers(R"(msg="a, \"quoted\" value")");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)[0].value(), "a, \"quoted\" value");
  EXPECT_TRUE(ParseMatchers("severity = P0").ok());
}

TEST(Matchers, ErrorsSayWhichAndWhy) {
  EXPECT_THAT(ParseMatchers("1bad=x").status().message(), HasSubstr("expected a label name first"));
  EXPECT_THAT(ParseMatchers("a<>b").status().message(), HasSubstr("expected =, !=, =~ or !~ after a"));
  EXPECT_THAT(ParseMatchers(R"(a="open)").status().message(), HasSubstr("unterminated quoted value"));
  EXPECT_THAT(ParseMatchers("a=~(").status().message(), HasSubstr("matcher \"a=~(\""));
  EXPECT_THAT(ParseMatchers("a=b,,c=d").status().message(), HasSubstr("empty matcher"));
  EXPECT_THAT(ParseMatchers("{a=b").status().message(), HasSubstr("missing closing }"));
}

TEST(Fingerprint, FnvOverSortedLabelsLikePrometheusModel) {
  // The empty set hashes to FNV-1a 64's offset basis, as model.LabelSet{}.Fingerprint() does.
  EXPECT_EQ(Fingerprint(Labels{}), "cbf29ce484222325");
  EXPECT_EQ(Fingerprint(Labels{{"a", "b"}}).size(), 16u);
  EXPECT_NE(Fingerprint(Labels{{"a", "b"}}), Fingerprint(Labels{{"a", "c"}}));
  EXPECT_NE(Fingerprint(Labels{{"ab", ""}}), Fingerprint(Labels{{"a", "b"}}));
}

RouteSpec Spec() {
  RouteSpec root;
  root.receiver = "default";
  root.group_by = std::vector<std::string>{"alertname"};
  RouteSpec critical;
  critical.matchers = {"severity=critical"};
  critical.receiver = "pager";
  critical.group_wait = Duration(0);
  critical.continue_matching = true;
  RouteSpec slack;
  slack.matchers = {"severity=~\"critical|high\""};
  slack.receiver = "slack";
  slack.group_by = std::vector<std::string>{"service", "alertname"};
  RouteSpec low;
  low.matchers = {"severity=~\"medium|low\""};
  low.receiver = "digest";
  low.group_interval = Duration(3600000);
  RouteSpec bitcoind;
  bitcoind.matchers = {"service=bitcoind"};
  bitcoind.receiver = "btc-team";
  low.routes.push_back(bitcoind);
  root.routes = {critical, slack, low};
  return root;
}

std::vector<std::string> Receivers(const Route& root, const Labels& labels) {
  std::vector<std::string> out;
  for (const Route* r : root.Match(labels)) out.push_back(r->receiver());
  return out;
}

TEST(Route, FirstMatchWinsUnlessContinue) {
  auto root = Route::Build(Spec());
  ASSERT_TRUE(root.ok()) << root.status().message();
  const Route& r = **root;
  EXPECT_THAT(Receivers(r, Labels{{"severity", "critical"}}), ElementsAre("pager", "slack"));
  EXPECT_THAT(Receivers(r, Labels{{"severity", "high"}}), ElementsAre("slack"));
  EXPECT_THAT(Receivers(r, Labels{{"severity", "low"}}), ElementsAre("digest"));
  EXPECT_THAT(Receivers(r, Labels{{"service", "bitcoind"}, {"severity", "medium"}}), ElementsAre("btc-team"));
  EXPECT_THAT(Receivers(r, Labels{{"severity", "none"}}), ElementsAre("default"));
}

TEST(Route, SettingsInheritAndGroupLabels) {
  auto root = Route::Build(Spec());
  ASSERT_TRUE(root.ok());
  const Route& r = **root;
  EXPECT_EQ(r.group_wait(), kDefaultGroupWait);
  const Route& critical = *r.routes()[0];
  EXPECT_EQ(critical.group_wait(), Duration(0));
  EXPECT_EQ(critical.repeat_interval(), kDefaultRepeatInterval);
  const Route& bitcoind = *r.routes()[2]->routes()[0];
  EXPECT_EQ(bitcoind.group_interval(), Duration(3600000));  // from its parent
  Labels alert{{"alertname", "Down"}, {"instance", "x"}, {"service", "titan"}};
  EXPECT_EQ(critical.GroupLabels(alert), (Labels{{"alertname", "Down"}}));
  EXPECT_EQ(r.routes()[1]->GroupLabels(alert), (Labels{{"alertname", "Down"}, {"service", "titan"}}));
  RouteSpec all;
  all.receiver = "x";
  all.group_by = std::vector<std::string>{"..."};
  EXPECT_EQ((*Route::Build(all))->GroupLabels(alert), alert);
  EXPECT_NE(r.routes()[0]->key(), r.routes()[1]->key());
}

TEST(Route, BadRoutesAreErrorsWithTheirPath) {
  RouteSpec s = Spec();
  s.routes[2].routes[0].matchers = {"service=~\"(\""};
  EXPECT_THAT(Route::Build(s).status().message(), HasSubstr("route.routes[2].routes[0].matchers[0]: matcher"));
  s = Spec();
  s.receiver.clear();
  EXPECT_THAT(Route::Build(s).status().message(), HasSubstr("the root route needs a receiver"));
  s = Spec();
  s.routes[1].group_by = std::vector<std::string>{"...", "service"};
  EXPECT_THAT(Route::Build(s).status().message(), HasSubstr("route.routes[1].group_by"));
}

Alert Firing(Labels l) {
  Alert a;
  a.labels = std::move(l);
  a.starts_at = 1;
  return a;
}

TEST(Inhibit, AlertmanagerRules) {
  auto rule = BuildInhibitRule({{"severity=critical"}, {"severity=warning"}, {"instance"}}, "inhibit_rules[0]");
  ASSERT_TRUE(rule.ok()) << rule.status().message();
  Inhibitor inh({*rule});
  Alert source = Firing({{"alertname", "Down"}, {"instance", "a"}, {"severity", "critical"}});
  std::vector<const Alert*> firing{&source};
  EXPECT_TRUE(inh.Inhibited({{"alertname", "Slow"}, {"instance", "a"}, {"severity", "warning"}}, firing));
  EXPECT_FALSE(inh.Inhibited({{"alertname", "Slow"}, {"instance", "b"}, {"severity", "warning"}}, firing));
  EXPECT_FALSE(inh.Inhibited({{"alertname", "Other"}, {"instance", "a"}, {"severity", "critical"}}, firing));
  source.ends_at = 5;  // a resolved source inhibits nothing
  EXPECT_FALSE(inh.Inhibited({{"alertname", "Slow"}, {"instance", "a"}, {"severity", "warning"}}, firing));
  EXPECT_THAT(BuildInhibitRule({{"a=~("}, {}, {}}, "inhibit_rules[3]").status().message(),
              HasSubstr("inhibit_rules[3].source_matchers[0]"));
}

TEST(Inhibit, BothSidesMatchingDoesNotInhibitEachOther) {
  auto rule = BuildInhibitRule({{"alertname=Down"}, {"alertname=Down"}, {}}, "r");
  ASSERT_TRUE(rule.ok());
  Inhibitor inh({*rule});
  Alert a = Firing({{"alertname", "Down"}, {"instance", "a"}});
  Alert b = Firing({{"alertname", "Down"}, {"instance", "b"}});
  std::vector<const Alert*> firing{&a, &b};
  EXPECT_FALSE(inh.Inhibited(a.labels, firing));
  EXPECT_FALSE(inh.Inhibited(b.labels, firing));
}

TEST(Inhibit, DependenciesHoldBackDependentsAndNameThem) {
  std::map<std::string, std::vector<std::string>> deps{{"validator", {"titan"}}, {"titan", {"bitcoind"}}};
  Inhibitor inh(DependencyInhibitRules(deps));
  Alert btc_down = Firing({{"alertname", "ServiceDown"}, {"service", "bitcoind"}, {"severity", "critical"}});
  std::vector<const Alert*> firing{&btc_down};
  EXPECT_TRUE(inh.Inhibited({{"alertname", "TitanLag"}, {"service", "titan"}, {"severity", "high"}}, firing));
  EXPECT_TRUE(inh.Inhibited({{"alertname", "ServiceDown"}, {"service", "validator"}, {"severity", "critical"}},
                            firing));
  EXPECT_FALSE(inh.Inhibited(btc_down.labels, firing));
  EXPECT_THAT(inh.DownstreamOf(btc_down.labels), ElementsAre("titan", "validator"));
  // Only a P0 of the dependency holds others back.
  Alert btc_slow = Firing({{"alertname", "Slow"}, {"service", "bitcoind"}, {"severity", "medium"}});
  std::vector<const Alert*> slow{&btc_slow};
  EXPECT_FALSE(inh.Inhibited({{"alertname", "TitanLag"}, {"service", "titan"}}, slow));
  Alert titan_down = Firing({{"alertname", "ServiceDown"}, {"service", "titan"}, {"severity", "critical"}});
  EXPECT_THAT(inh.DownstreamOf(titan_down.labels), ElementsAre("validator"));
}

// A P0 is whatever the severity map says: `page` from a public rule pack counts.
TEST(Inhibit, DependencyP0ComesFromTheSeverityMap) {
  std::map<std::string, std::vector<std::string>> deps{{"titan", {"bitcoind"}}};
  SeverityMap map;
  map.Set("sev.1", Priority::kP0);  // regex metacharacters are quoted
  Inhibitor inh(DependencyInhibitRules(deps, map));
  Labels lag{{"alertname", "TitanLag"}, {"service", "titan"}};
  for (const char* sev : {"critical", "page", "sev.1"}) {
    Alert down = Firing({{"alertname", "Down"}, {"service", "bitcoind"}, {"severity", sev}});
    EXPECT_TRUE(inh.Inhibited(lag, {&down})) << sev;
  }
  for (const char* sev : {"warning", "sevX1", "error"}) {
    Alert down = Firing({{"alertname", "Down"}, {"service", "bitcoind"}, {"severity", sev}});
    EXPECT_FALSE(inh.Inhibited(lag, {&down})) << sev;
  }
}

}  // namespace
}  // namespace vigil::alert
