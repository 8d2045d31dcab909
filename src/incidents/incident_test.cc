#include "incidents/incident.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "alert/alert.h"
#include "incidents/incident_store.h"
#include "incidents/ledger.h"

namespace vigil::incidents {
namespace {

constexpr TimestampMs T0 = 1'700'000'000'000;
constexpr TimestampMs S = 1000;

rules::AlertEpisode Episode(int64_t id, const std::string& alertname, const std::string& service,
                            const std::string& severity, TimestampMs active, TimestampMs fired, TimestampMs resolved) {
  rules::AlertEpisode e;
  e.id = id;
  e.group_key = "rules.yml;services";
  e.rule = alertname;
  e.labels.Set("alertname", alertname);
  if (!service.empty()) e.labels.Set("service", service);
  e.labels.Set("severity", severity);
  e.severity = severity;
  e.active_at = active;
  e.fired_at = fired;
  e.resolved_at = resolved;
  return e;
}

std::vector<std::string> Kinds(const Incident& inc) {
  std::vector<std::string> out;
  for (const auto& e : inc.timeline) out.push_back(e.kind + (e.service.empty() ? "" : ":" + e.service));
  return out;
}

// root <- mid <- leaf: the root dies at T0, its dependents with it; the root's page is delivered at +4 s;
// the root is active again at +60 s; the alerts resolve by +63 s.
IncidentInput Chain() {
  IncidentInput in;
  in.depends_on = {{"root", {}}, {"mid", {"root"}}, {"leaf", {"mid"}}};
  in.episodes = {Episode(1, "ServiceDown", "root", "critical", T0 + 2 * S, T0 + 2 * S, T0 + 61 * S),
                 Episode(2, "ServiceDown", "mid", "warning", T0 + 2500, T0 + 2500, T0 + 62 * S),
                 Episode(3, "ServiceDown", "leaf", "warning", T0 + 3 * S, T0 + 3 * S, T0 + 63 * S)};
  in.notifications = {{alert::Fingerprint(in.episodes[0].labels), T0 + 2 * S, T0 + 4 * S}};
  in.transitions["root"] = {
      {T0 - 3600 * S, ServiceState::kUp}, {T0, ServiceState::kDownUnplanned}, {T0 + 60 * S, ServiceState::kUp}};
  in.transitions["mid"] = {
      {T0 - 3600 * S, ServiceState::kUp}, {T0 + 100, ServiceState::kDownUnplanned}, {T0 + 60500, ServiceState::kUp}};
  in.transitions["leaf"] = {
      {T0 - 3600 * S, ServiceState::kUp}, {T0 + 200, ServiceState::kDownUnplanned}, {T0 + 61 * S, ServiceState::kUp}};
  return in;
}

TEST(IncidentGroupingTest, ThreeUnitChainIsOneIncidentRootedAtTheRoot) {
  std::vector<Incident> got = GroupIncidents(Chain());
  ASSERT_EQ(got.size(), 1u);
  const Incident& inc = got[0];
  EXPECT_EQ(inc.root_service, "root");
  EXPECT_EQ(inc.root_alert, "ServiceDown");
  EXPECT_EQ(inc.services, (std::vector<std::string>{"root", "leaf", "mid"}));
  EXPECT_EQ(inc.episode_ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(inc.severity, "critical");
  EXPECT_EQ(inc.start_ms, T0);  // the ledger's down transition, before any alert
  EXPECT_EQ(inc.end_ms, T0 + 63 * S);
  ASSERT_TRUE(inc.mttd_ms.has_value());
  EXPECT_EQ(*inc.mttd_ms, 4 * S);
  EXPECT_FALSE(inc.mttd_from_firing);
  ASSERT_TRUE(inc.mttr_ms.has_value());
  EXPECT_EQ(*inc.mttr_ms, 60 * S);
  EXPECT_EQ(inc.mttr_source, "service_up");
  EXPECT_EQ(Kinds(inc), (std::vector<std::string>{
                            "first_evidence:root", "service_down:root", "service_down:mid", "service_down:leaf",
                            "pending:root", "firing:root", "pending:mid", "firing:mid", "pending:leaf", "firing:leaf",
                            "notified:root", "service_up:root", "service_up:mid", "service_up:leaf", "resolved:root",
                            "resolved:mid", "resolved:leaf", "resolution:root"}));
  for (size_t i = 1; i < inc.timeline.size(); ++i) EXPECT_LE(inc.timeline[i - 1].time_ms, inc.timeline[i].time_ms);
}

TEST(IncidentGroupingTest, RootIsFoundWhateverOrderTheAlertsFire) {
  IncidentInput in = Chain();
  // The leaf's alert first: the root is still the service the others need.
  in.episodes[2].active_at = in.episodes[2].fired_at = T0 + S;
  std::vector<Incident> got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].root_service, "root");
  EXPECT_EQ(got[0].start_ms, T0);
}

TEST(IncidentGroupingTest, ADependentsAlertFromLongBeforeTheRootFailedIsItsOwnIncident) {
  IncidentInput in = Chain();
  // The leaf was already alerting an hour before the root died, and still is.
  in.episodes[2].active_at = in.episodes[2].fired_at = T0 - 3600 * S;
  std::vector<Incident> got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].root_service, "leaf");
  EXPECT_EQ(got[0].services, std::vector<std::string>{"leaf"});
  EXPECT_EQ(got[1].root_service, "root");
  EXPECT_EQ(got[1].services, (std::vector<std::string>{"root", "mid"}));
  EXPECT_EQ(got[1].start_ms, T0);
  // Noticed on the dependent up to 5 minutes first: still what the root took down.
  in.episodes[2].active_at = in.episodes[2].fired_at = T0 + 2 * S - 5 * 60 * S;
  got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].root_service, "root");
}

TEST(IncidentGroupingTest, UnrelatedAlertsAreSeparateIncidents) {
  IncidentInput in;
  in.depends_on = {{"a", {}}, {"b", {}}};
  in.episodes = {Episode(1, "ServiceDown", "a", "critical", T0, T0, T0 + 60 * S),
                 Episode(2, "DiskFull", "b", "warning", T0 + S, T0 + S, T0 + 30 * S),
                 Episode(3, "NoService", "", "info", T0 + 2 * S, T0 + 2 * S, T0 + 10 * S)};
  std::vector<Incident> got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].root_service, "a");
  EXPECT_EQ(got[1].root_service, "b");
  EXPECT_EQ(got[1].severity, "warning");
  EXPECT_EQ(got[2].root_service, "");
  EXPECT_EQ(got[2].root_alert, "NoService");
  // Without a ledger: first evidence is the alert, and MTTR runs to its resolution.
  EXPECT_EQ(got[1].start_ms, T0 + S);
  ASSERT_TRUE(got[1].mttr_ms.has_value());
  EXPECT_EQ(*got[1].mttr_ms, 29 * S);
  EXPECT_EQ(got[1].mttr_source, "alert_resolved");
}

TEST(IncidentGroupingTest, LinkedAlertsThatDoNotOverlapAreSeparate) {
  IncidentInput in = Chain();
  in.episodes[2].active_at = in.episodes[2].fired_at = T0 + 2 * 3600 * S;
  in.episodes[2].resolved_at = T0 + 3 * 3600 * S;
  EXPECT_EQ(GroupIncidents(in).size(), 2u);
}

TEST(IncidentGroupingTest, InhibitionLinksAlertsWithoutDependencies) {
  IncidentInput in;
  auto rule = alert::BuildInhibitRule({{"alertname=HostDown"}, {"alertname=ServiceDown"}, {}}, "inhibit_rules[0]");
  ASSERT_TRUE(rule.ok()) << rule.status().message();
  in.inhibit_rules.push_back(*rule);
  in.episodes = {Episode(1, "HostDown", "host", "critical", T0, T0, T0 + 60 * S),
                 Episode(2, "ServiceDown", "app", "critical", T0 + S, T0 + S, T0 + 50 * S)};
  std::vector<Incident> got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].services.size(), 2u);
  in.inhibit_rules.clear();
  EXPECT_EQ(GroupIncidents(in).size(), 2u);
}

TEST(IncidentGroupingTest, FlappingAlertIsOneIncidentWithinItsWindow) {
  IncidentInput in;
  auto e1 = Episode(1, "ServiceDown", "a", "critical", T0, T0 + 10 * S, T0 + 20 * S);
  auto e2 = Episode(2, "ServiceDown", "a", "critical", T0 + 60 * S, T0 + 70 * S, T0 + 80 * S);
  e1.for_duration = e2.for_duration = Duration(10 * S);  // window: 20 s after it resolved... then 5 m without for
  in.episodes = {e1, e2};
  EXPECT_EQ(GroupIncidents(in).size(), 2u);                                 // 40 s after resolving: beyond 2 x for
  in.episodes[0].for_duration = in.episodes[1].for_duration = Duration(0);  // 5 minutes
  std::vector<Incident> got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].episode_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(got[0].end_ms, T0 + 80 * S);
  ASSERT_TRUE(got[0].mttr_ms.has_value());
  EXPECT_EQ(*got[0].mttr_ms, 80 * S);  // the root alert's last resolution
  int firing = 0;
  for (const auto& e : got[0].timeline) firing += e.kind == "firing" ? 1 : 0;
  EXPECT_EQ(firing, 2);
}

TEST(IncidentGroupingTest, NoNotificationFallsBackToFiringAndFlagsIt) {
  IncidentInput in = Chain();
  in.notifications.clear();
  std::vector<Incident> got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].mttd_from_firing);
  EXPECT_FALSE(got[0].first_notified_ms.has_value());
  ASSERT_TRUE(got[0].mttd_ms.has_value());
  EXPECT_EQ(*got[0].mttd_ms, 2 * S);
  // A delivery for another firing (another startsAt) is not this one's.
  in.notifications = {{alert::Fingerprint(in.episodes[0].labels), T0 - 3600 * S, T0 + 4 * S}};
  EXPECT_TRUE(GroupIncidents(in)[0].mttd_from_firing);
  std::string md = IncidentMarkdown(GroupIncidents(in)[0], {}, "omitted");
  EXPECT_NE(md.find("no notification was delivered"), std::string::npos) << md;
}

TEST(IncidentGroupingTest, RecoveryByVigilIsOnTheTimeline) {
  IncidentInput in = Chain();
  in.recovery = {{"root", T0 + 5 * S, "action", "restart", "root.service", "verified", 55 * S},
                 {"root", T0 + 5 * S, "action", "restart", "root.service", "dry-run", 0},
                 {"unrelated", T0 + 5 * S, "action", "restart", "x.service", "verified", 1000},
                 {"mid", T0 + 7 * S, "action", "restart", "mid.service", "verify_failed", 3 * S}};
  std::vector<Incident> got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 1u);
  std::vector<std::string> kinds = Kinds(got[0]);
  auto at = [&](const std::string& k) { return std::find(kinds.begin(), kinds.end(), k) - kinds.begin(); };
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "recovery_started:root"), 1);
  EXPECT_LT(at("notified:root"), at("recovery_started:root"));
  EXPECT_LT(at("recovery_started:root"), at("recovery_failed:mid"));
  EXPECT_LT(at("service_up:root"), at("recovery_verified:root"));
  EXPECT_EQ(got[0].timeline[at("recovery_verified:root")].time_ms, T0 + 60 * S);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "recovery_started:unrelated"), 0);
  EXPECT_EQ(*got[0].mttr_ms, 60 * S);
}

TEST(IncidentGroupingTest, OngoingIncidentHasNoEndAndNoMttr) {
  IncidentInput in = Chain();
  for (auto& e : in.episodes) e.resolved_at = 0;
  for (const char* s : {"root", "mid", "leaf"}) in.transitions[s].pop_back();
  std::vector<Incident> got = GroupIncidents(in);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].end_ms, 0);
  EXPECT_FALSE(got[0].mttr_ms.has_value());
  EXPECT_EQ(got[0].timeline.back().kind, "notified");
  std::string md = IncidentMarkdown(got[0], {}, "omitted here");
  EXPECT_NE(md.find("ongoing"), std::string::npos);
  EXPECT_NE(md.find("not recovered yet"), std::string::npos);
  EXPECT_NE(md.find("omitted here"), std::string::npos);
}

TEST(IncidentGroupingTest, PostMortemHasSummaryTimelineAndCharts) {
  Incident inc = GroupIncidents(Chain())[0];
  inc.id = 7;
  ChartSeries c = ChangesOnly("root", {{T0 - S, 1}, {T0, 1}, {T0 + S, 0}, {T0 + 2 * S, 0}, {T0 + 60 * S, 1}});
  EXPECT_EQ(c.points.size(), 3u);  // T0 and T0 + 2 s (no change) dropped
  std::string md = IncidentMarkdown(inc, {c}, "unused");
  EXPECT_EQ(md.rfind("# Incident 7: ServiceDown on root\n", 0), 0u) << md;
  EXPECT_NE(md.find("- MTTD: 4.000s (first evidence to the first notification delivered)"), std::string::npos) << md;
  EXPECT_NE(md.find("- MTTR: 60.000s (1m) (first evidence to root active again)"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2023-11-14T22:13:20.000Z | +0.000s | first evidence"), std::string::npos) << md;
  EXPECT_NE(md.find("### vigil_service_up{service=\"root\"}"), std::string::npos) << md;
  EXPECT_EQ(md.find("unused"), std::string::npos);
}

TEST(IncidentRangeTest, ParsesAndNamesBadParameters) {
  auto r = ParseIncidentRange("7d", "", "", T0, "--");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->to_ms - r->from_ms, 7 * 86400 * S);
  EXPECT_NE(ParseIncidentRange("soon", "", "", T0, "--").status().message().find("--since"), std::string::npos);
  EXPECT_NE(ParseIncidentRange("-1h", "", "", T0, "--").status().message().find("--since"), std::string::npos);
  EXPECT_NE(ParseIncidentRange("", "yesterday", "", T0, "").status().message().find("from"), std::string::npos);
  EXPECT_NE(ParseIncidentRange("", "20", "10", T0, "").status().message().find("not before"), std::string::npos);
  EXPECT_TRUE(ParseIncidentId("#12").ok());
  EXPECT_EQ(*ParseIncidentId("12"), 12);
  for (const char* bad : {"", "x", "0", "-3", "1.5", "99999999999999999999"}) {
    EXPECT_FALSE(ParseIncidentId(bad).ok()) << bad;
  }
}

// The store: ids stable across passes and restarts, summaries outliving the episode log, bad rows named.
class IncidentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vigil-incidents-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/state.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  void AddEpisode(int id, const std::string& service, TimestampMs active, TimestampMs resolved) {
    Sql("INSERT INTO alert_episodes (id, group_key, rule, rule_labels, labels, severity, for_ms, active_at_ms,"
        " fired_at_ms, resolved_at_ms) VALUES (" +
        std::to_string(id) + ", 'g', 'ServiceDown', '{}', '{\"alertname\":\"ServiceDown\",\"service\":\"" + service +
        "\"}', 'critical', 0, " + std::to_string(active) + ", " + std::to_string(active) + ", " +
        std::to_string(resolved) + ")");
  }
  IncidentConfig Config() {
    IncidentConfig c;
    c.depends_on = {{"root", {}}, {"mid", {"root"}}};
    return c;
  }
  std::string dir_, path_;
};

TEST_F(IncidentStoreTest, IdsAreStableAndSummariesOutliveTheEpisodes) {
  auto t = IncidentTracker::Open(path_, Config());
  ASSERT_TRUE(t.ok()) << t.status().message();
  AddEpisode(1, "root", T0 + S, 0);
  auto first = (*t)->Pass(T0 + 2 * S);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 1u);
  const int64_t id = (*first)[0].id;
  EXPECT_GT(id, 0);
  // The dependent joins, the root resolves: the same incident, grown.
  AddEpisode(2, "mid", T0 + 2 * S, T0 + 30 * S);
  Sql("UPDATE alert_episodes SET resolved_at_ms = " + std::to_string(T0 + 31 * S) + " WHERE id = 1");
  auto second = (*t)->Pass(T0 + 40 * S);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].id, id);
  t->reset();

  // Reopened (a restart), the episode log trimmed away: the summary is still there.
  Sql("DELETE FROM alert_episodes");
  auto again = IncidentTracker::Open(path_, Config(), /*read_only=*/true);
  ASSERT_TRUE(again.ok());
  auto list = (*again)->List(T0, T0 + 3600 * S);
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, id);
  EXPECT_EQ((*list)[0].root_service, "root");
  EXPECT_EQ((*list)[0].services, (std::vector<std::string>{"root", "mid"}));
  EXPECT_EQ((*list)[0].end_ms, T0 + 31 * S);
  EXPECT_EQ((*list)[0].mttr_ms, 30 * S);
  auto shown = (*again)->Show(id, T0 + 3600 * S);
  ASSERT_TRUE(shown.ok());
  EXPECT_TRUE(shown->timeline.empty());
  EXPECT_EQ(shown->root_alert, "ServiceDown");
  // Outside the range: nothing.
  EXPECT_TRUE((*again)->List(T0 + 7200 * S, T0 + 9000 * S)->empty());
}

TEST_F(IncidentStoreTest, IncidentsJoinedByALaterAlertBecomeTheOlderOne) {
  IncidentConfig config;
  config.depends_on = {{"mid", {"root", "other"}}};
  auto t = IncidentTracker::Open(path_, config);
  ASSERT_TRUE(t.ok());
  AddEpisode(1, "root", T0 + S, 0);
  AddEpisode(2, "other", T0 + 2 * S, 0);
  auto apart = (*t)->Pass(T0 + 3 * S);
  ASSERT_TRUE(apart.ok());
  ASSERT_EQ(apart->size(), 2u);
  const int64_t older = std::min((*apart)[0].id, (*apart)[1].id);
  AddEpisode(3, "mid", T0 + 4 * S, 0);  // needs both
  auto joined = (*t)->Pass(T0 + 5 * S);
  ASSERT_TRUE(joined.ok());
  ASSERT_EQ(joined->size(), 1u);
  EXPECT_EQ((*joined)[0].id, older);
  auto list = (*t)->List(0, T0 + 100 * S);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].episode_ids, (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(IncidentStoreTest, UnknownIdAndMalformedRowsAreNamedErrors) {
  auto t = IncidentTracker::Open(path_, Config());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->Show(42, T0).status().message(), "no incident 42");
  AddEpisode(1, "root", T0 + S, T0 + 5 * S);
  auto filed = (*t)->Pass(T0 + 10 * S);
  ASSERT_TRUE(filed.ok());
  const std::string id = std::to_string((*filed)[0].id);
  Sql("UPDATE incidents SET end_ms = 5 WHERE id = " + id);
  auto list = (*t)->List(0, T0 + 100 * S);
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("incident " + id + ": end_ms 5 before start_ms"), std::string::npos)
      << list.status().message();
  Sql("UPDATE incidents SET end_ms = 'soon' WHERE id = " + id);
  EXPECT_NE((*t)->Show((*filed)[0].id, T0).status().message().find("end_ms is not an integer"), std::string::npos);
}

TEST_F(IncidentStoreTest, TrimKeepsTheNewest) {
  auto t = IncidentTracker::Open(path_, Config());
  ASSERT_TRUE(t.ok());
  (*t)->SetRetention({Duration(3600 * S), 1});
  AddEpisode(1, "root", T0 + S, T0 + 5 * S);
  AddEpisode(2, "root", T0 + 1000 * S, T0 + 1005 * S);  // far apart: two incidents
  auto filed = (*t)->Pass(T0 + 1010 * S);
  ASSERT_TRUE(filed.ok());
  ASSERT_EQ(filed->size(), 2u);
  auto list = (*t)->List(0, T0 + 2000 * S);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);  // max_rows 1
  EXPECT_EQ((*list)[0].start_ms, T0 + 1000 * S);
}

}  // namespace
}  // namespace vigil::incidents
