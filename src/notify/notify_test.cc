// The outbox on a real SQLite file and the receivers' payload shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "base/testing/temp_dir.h"
#include "notify/api.h"
#include "notify/outbox.h"
#include "notify/payload.h"

namespace vigil::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using nlohmann::json;

TEST(Outbox, SurvivesReopenAndMovesFinishedToHistory) {
  testing::TempDir dir;
  std::string path = dir.path() + "/state.db";
  {
    auto o = Outbox::Open(path);
    ASSERT_TRUE(o.ok()) << o.status().message();
    ASSERT_TRUE((*o)->Enqueue("pager", "pagerduty", 0, R"({"a":1})", 1000).ok());
    ASSERT_TRUE((*o)->Enqueue("slack", "slack", 0, R"({"b":2})", 1001).ok());
  }
  auto o = Outbox::Open(path);  // as after a crash: what was queued is still there
  ASSERT_TRUE(o.ok());
  auto due = (*o)->Due(2000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_THAT(*due, SizeIs(2));
  EXPECT_EQ((*due)[0].payload, R"({"a":1})");
  ASSERT_TRUE((*o)->Retry((*due)[0], 5000, "HTTP 503").ok());
  ASSERT_TRUE((*o)->Delivered((*due)[1], 2100).ok());
  EXPECT_THAT(*(*o)->Due(2200, 10), SizeIs(0));  // the retry is not due yet
  EXPECT_EQ(**(*o)->NextAttempt(), 5000);
  auto again = (*o)->Due(5000, 10);
  ASSERT_THAT(*again, SizeIs(1));
  EXPECT_EQ((*again)[0].attempts, 1);
  EXPECT_EQ((*again)[0].last_error, "HTTP 503");
  ASSERT_TRUE((*o)->DeadLetter((*again)[0], "HTTP 400: invalid event", 5100).ok());
  auto counts = (*o)->Counts();
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->dead, 1);
  EXPECT_EQ(counts->delivered, 1);
  auto history = (*o)->History(10);
  ASSERT_THAT(*history, SizeIs(2));
  EXPECT_EQ((*history)[0].outcome, "dead");
  EXPECT_EQ((*history)[0].detail, "HTTP 400: invalid event");
  EXPECT_EQ((*history)[0].attempts, 2);
  EXPECT_FALSE((*o)->NextAttempt()->has_value());
}

// Alert quality's time to first notification: only a delivery counts, the
// first one per (fingerprint, startsAt), and an outbox from before the log
// gets its columns added (alerts, group_key).
TEST(Outbox, FirstDeliveryOfEachFiringAlertIsLogged) {
  testing::TempDir dir;
  std::string path = dir.path() + "/state.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, receiver TEXT NOT NULL,"
                           " integration TEXT NOT NULL, idx INTEGER NOT NULL, payload TEXT NOT NULL,"
                           " created_ms INTEGER NOT NULL, next_attempt_ms INTEGER NOT NULL, attempts INTEGER NOT"
                           " NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '');"
                           "INSERT INTO outbox (receiver, integration, idx, payload, created_ms, next_attempt_ms)"
                           " VALUES ('old', 'webhook', 0, '{}', 1, 1)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto o = Outbox::Open(path);
  ASSERT_TRUE(o.ok()) << o.status().message();
  OutboxMessage m;
  m.receiver = "hook";
  m.integration = "webhook";
  m.payload = "{}";
  m.alerts = "aaaa@1000\nbbbb@2000\n";
  m.group_key = "{}:{alertname=\"A\"}";
  OutboxMessage n = m;
  n.receiver = "pager";
  n.alerts = "aaaa@1000\ncccc@3000\n";
  ASSERT_TRUE((*o)->EnqueueAll({m, n}, 4000).ok());
  auto due = (*o)->Due(4000, 10);
  ASSERT_THAT(*due, SizeIs(3));  // the old row, read with no alerts
  EXPECT_EQ((*due)[0].alerts, "");
  EXPECT_EQ((*due)[0].group_key, "");  // the old row has no group: sent in order with the other old ones
  EXPECT_EQ((*due)[1].alerts, m.alerts);
  EXPECT_EQ((*due)[1].group_key, m.group_key);
  ASSERT_TRUE((*o)->Record({{Outbox::Outcome::kDelivered, &(*due)[0], "", 4100},
                            {Outbox::Outcome::kDelivered, &(*due)[1], "", 4200},
                            {Outbox::Outcome::kRetry, &(*due)[2], "HTTP 503", 9000}})
                  .ok());
  auto again = (*o)->Due(9000, 10);
  ASSERT_THAT(*again, SizeIs(1));
  ASSERT_TRUE((*o)->Delivered((*again)[0], 9100).ok());
  auto first = (*o)->FirstDeliveries(0);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_THAT(*first, SizeIs(3));
  EXPECT_EQ((*first)[0].fingerprint, "aaaa");  // at 4200, not again at 9100
  EXPECT_EQ((*first)[0].starts_at, 1000);
  EXPECT_EQ((*first)[0].delivered_at, 4200);
  EXPECT_EQ((*first)[1].fingerprint, "bbbb");
  EXPECT_EQ((*first)[2].fingerprint, "cccc");  // the retried one, when it got through
  EXPECT_EQ((*first)[2].delivered_at, 9100);
  EXPECT_THAT(*(*o)->FirstDeliveries(5000), SizeIs(1));
}

TEST(Outbox, UnopenablePathIsAnErrorNamingIt) {
  auto o = Outbox::Open("/nonexistent/dir/state.db");
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("/nonexistent/dir/state.db"));
}

TEST(Outbox, SentLogRoundTripsDeletesAndPrunesByAge) {
  testing::TempDir dir;
  std::string path = dir.path() + "/state.db";
  {
    auto o = Outbox::Open(path);
    ASSERT_TRUE(o.ok());
    ASSERT_TRUE((*o)->SaveSentLog({{"pager:{a}", alert::SentState{{"f1", "f2"}, {"f3"}, 1000}},
                                   {"slack:{b}", alert::SentState{{"f4"}, {}, 2000}},
                                   {"old:{c}", alert::SentState{{"f5"}, {}, 10}}})
                    .ok());
    ASSERT_TRUE((*o)->SaveSentLog({{"slack:{b}", std::nullopt}, {"pager:{a}", alert::SentState{{"f1"}, {"f2"}, 1500}}})
                    .ok());
  }
  auto o = Outbox::Open(path);
  auto log = (*o)->LoadSentLog(2010, Duration(2000));  // at t=2010 a 2 s age keeps t=10, just
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->size(), 2u);
  EXPECT_EQ(log->at("pager:{a}"), (alert::SentState{{"f1"}, {"f2"}, 1500}));
  log = (*o)->LoadSentLog(2011, Duration(2000));
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_TRUE(log->count("pager:{a}"));
}

TEST(SilenceApi, PostableSilenceOfWrongTypesNamesTheFieldNeverThrows) {
  const std::string times = R"("startsAt":"2030-01-01T00:00:00Z","endsAt":"2031-01-01T00:00:00Z")";
  auto ok = ParsePostableSilence(R"({"matchers":[{"name":"a","value":"b\"c","isRegex":true,"isEqual":false}],)" +
                                 times + R"(,"createdBy":"ops","comment":"x"})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->matchers, std::vector<std::string>{"a!~\"b\\\"c\""});
  auto r = ParsePostableSilence(R"({"matchers":[{"name":"a","value":"b","isRegex":"yes"}],)" + times +
                                R"(,"createdBy":"ops"})");
  EXPECT_EQ(r.status().message(), "matchers[0]: isRegex: must be true or false");
  r = ParsePostableSilence(R"({"matchers":[{"name":"a","value":"b"}],)" + times + R"(,"createdBy":5})");
  EXPECT_EQ(r.status().message(), "createdBy: must be a string");
  r = ParsePostableSilence(R"({"matchers":[{"name":"a","value":1}],)" + times + R"(,"createdBy":"ops"})");
  EXPECT_EQ(r.status().message(), "matchers[0]: needs a name and a value, both strings");
  EXPECT_FALSE(ParsePostableSilence("[5E888888888888]").ok());
}

alert::Notification Sample() {
  alert::Notification n;
  n.receiver = "pager";
  n.group_key = "{}/{severity=\"critical\"}/0:{alertname=\"ServiceDown\", service=\"bitcoind\"}";
  n.group_labels = Labels{{"alertname", "ServiceDown"}, {"service", "bitcoind"}};
  alert::Alert a;
  a.labels = Labels{{"alertname", "ServiceDown"}, {"service", "bitcoind"}, {"severity", "critical"}};
  a.annotations = Labels{{"summary", "bitcoind is down"}};
  a.starts_at = 1795435200000;
  a.value = 0;
  n.alerts.push_back(a);
  alert::Alert r = a;
  r.labels.Set("instance", "b");
  r.ends_at = 1795435260000;
  n.alerts.push_back(r);
  n.downstream[alert::Fingerprint(a.labels)] = {"titan", "validator"};
  return n;
}

TEST(Payload, PagerDutyEventsV2) {
  auto events = PagerDutyEvents(Sample(), {"http://127.0.0.1:9810", "node1"}, true);
  ASSERT_THAT(events, SizeIs(2));
  json t = json::parse(events[0]);
  EXPECT_EQ(t["event_action"], "trigger");
  EXPECT_EQ(t["dedup_key"], alert::Fingerprint(Sample().alerts[0].labels));
  EXPECT_FALSE(t.contains("routing_key"));  // added by the sender, never stored
  EXPECT_EQ(t["payload"]["severity"], "critical");
  EXPECT_EQ(t["payload"]["source"], "node1");
  EXPECT_EQ(t["payload"]["component"], "bitcoind");
  EXPECT_EQ(t["payload"]["summary"], "bitcoind is down (also takes down: titan validator)");
  EXPECT_EQ(t["payload"]["timestamp"], "2026-11-23T12:00:00.000Z");
  EXPECT_EQ(t["payload"]["custom_details"]["downstream_impact"], json({"titan", "validator"}));
  EXPECT_EQ(t["payload"]["custom_details"]["value"], 0);
  EXPECT_EQ(t["payload"]["custom_details"]["automatic_action"], "none: a person is needed");
  json r = json::parse(events[1]);
  EXPECT_EQ(r["event_action"], "resolve");
  EXPECT_THAT(PagerDutyEvents(Sample(), {}, false), SizeIs(1));
  EXPECT_EQ(PagerDutySeverity(Priority::kP1), "error");
  EXPECT_EQ(PagerDutySeverity(Priority::kP2), "warning");
  EXPECT_EQ(PagerDutySeverity(Priority::kP3), "info");
}

TEST(Payload, AlertmanagerWebhookV4Shape) {
  json j = json::parse(AlertmanagerWebhookV4(Sample(), {"http://127.0.0.1:9810", "node1"}, 0, true));
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["receiver"], "pager");
  EXPECT_EQ(j["groupLabels"]["service"], "bitcoind");
  EXPECT_EQ(j["commonLabels"], json({{"alertname", "ServiceDown"}, {"service", "bitcoind"}, {"severity", "critical"}}));
  EXPECT_EQ(j["externalURL"], "http://127.0.0.1:9810");
  ASSERT_EQ(j["alerts"].size(), 2u);
  EXPECT_EQ(j["alerts"][0]["status"], "firing");
  EXPECT_EQ(j["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(j["alerts"][1]["status"], "resolved");
  EXPECT_EQ(j["alerts"][1]["fingerprint"].get<std::string>().size(), 16u);
  json limited = json::parse(AlertmanagerWebhookV4(Sample(), {}, 1, true));
  EXPECT_EQ(limited["truncatedAlerts"], 1);
  EXPECT_EQ(limited["alerts"].size(), 1u);
}

TEST(Payload, SlackColoursAndLists) {
  json j = json::parse(SlackMessage(Sample(), {"", "node1"}, "#ops", true));
  EXPECT_EQ(j["channel"], "#ops");
  EXPECT_EQ(j["text"], "1 firing, 1 resolved on node1");
  ASSERT_EQ(j["attachments"].size(), 2u);
  EXPECT_EQ(j["attachments"][0]["color"], "#d00000");
  EXPECT_EQ(j["attachments"][1]["color"], "#2eb886");
  EXPECT_THAT(j["attachments"][0]["blocks"][0]["text"]["text"].get<std::string>(),
              HasSubstr("also takes down: titan validator"));
}

// The weekly digest is an announcement, not an alert: Slack, email, Telegram
// and Discord say its summary and its description, without "firing" or "resolved".
TEST(Payload, AnAnnouncementIsSaidWithoutFiringOrResolved) {
  alert::Notification n;
  n.receiver = "digest";
  n.announcement = true;
  alert::Alert a;
  a.labels = Labels{{"alertname", "VigilWeeklyDigest"}, {"severity", "P3"}};
  a.annotations = Labels{{"summary", "vigil digest for node1, 2026-11-30 to 2026-12-07"},
                         {"description", "*Uptime per service*\napp 99.9%"}};
  a.starts_at = 1'800'000'000'000;
  n.alerts.push_back(a);
  json slack = json::parse(SlackMessage(n, {"", "node1"}, "", true));
  EXPECT_EQ(slack["text"], "vigil digest for node1, 2026-11-30 to 2026-12-07");
  ASSERT_EQ(slack["attachments"].size(), 1u);
  EXPECT_EQ(slack["attachments"][0]["blocks"][0]["text"]["text"], "*Uptime per service*\napp 99.9%");
  json email = json::parse(EmailMessage(n, {"", "node1"}, true));
  EXPECT_EQ(email["subject"], "vigil digest for node1, 2026-11-30 to 2026-12-07");
  EXPECT_EQ(email["text"], "*Uptime per service*\napp 99.9%\n\n");
  EXPECT_THAT(email["html"].get<std::string>(), HasSubstr("*Uptime per service*\napp 99.9%</pre>"));
  json telegram = json::parse(TelegramMessage(n, {"", "node1"}, "42", true));
  EXPECT_EQ(telegram["text"],
            "<i>node1</i>\n<b>vigil digest for node1, 2026-11-30 to 2026-12-07</b>\n*Uptime per service*\napp 99.9%\n");
  json discord = json::parse(DiscordMessage(n, {"", "node1"}, true));
  EXPECT_EQ(discord["content"], "vigil digest for node1, 2026-11-30 to 2026-12-07");
  ASSERT_EQ(discord["embeds"].size(), 1u);
  EXPECT_EQ(discord["embeds"][0]["description"], "*Uptime per service*\napp 99.9%");
  // An alert with the same text is still an alert.
  n.announcement = false;
  EXPECT_EQ(json::parse(SlackMessage(n, {"", "node1"}, "", true))["text"], "1 firing, 0 resolved on node1");
  EXPECT_THAT(json::parse(EmailMessage(n, {"", "node1"}, true))["text"].get<std::string>(), HasSubstr("Firing:\n"));
  EXPECT_THAT(json::parse(TelegramMessage(n, {"", "node1"}, "42", true))["text"].get<std::string>(),
              HasSubstr("🔥 <b>P3</b>"));
  EXPECT_EQ(json::parse(DiscordMessage(n, {"", "node1"}, true))["content"], "1 firing, 0 resolved on node1");
}

// Public rule packs' severities reach each integration through the severity map.
TEST(Payload, SeveritiesGoThroughTheMap) {
  auto with = [](std::vector<std::string> severities) {
    alert::Notification n;
    n.receiver = "pager";
    for (size_t i = 0; i < severities.size(); ++i) {
      alert::Alert a;
      a.labels = Labels{{"alertname", "A" + std::to_string(i)}, {"severity", severities[i]}};
      a.starts_at = 1795435200000;
      n.alerts.push_back(a);
    }
    return n;
  };
  PayloadContext ctx{"", "node1"};
  auto pd = [&](const std::string& sev) {
    return json::parse(PagerDutyEvents(with({sev}), ctx, true)[0])["payload"]["severity"].get<std::string>();
  };
  EXPECT_EQ(pd("page"), "critical");
  EXPECT_EQ(pd("major"), "error");
  EXPECT_EQ(pd("warning"), "warning");
  EXPECT_EQ(pd("info"), "info");
  EXPECT_EQ(pd("disaster"), "info");  // unmapped: P3
  ctx.severities.Set("disaster", Priority::kP0);
  EXPECT_EQ(pd("disaster"), "critical");

  json slack = json::parse(SlackMessage(with({"warning", "page"}), ctx, "", true));
  EXPECT_EQ(slack["attachments"][0]["color"], "#f2c744");
  EXPECT_EQ(slack["attachments"][1]["color"], "#d00000");
  json email = json::parse(EmailMessage(with({"info", "error", "warning"}), ctx, true));
  EXPECT_THAT(email["subject"].get<std::string>(), ::testing::StartsWith("[error] "));

  // Twilio's default [P0, P1] sends page and error, not warning; a literal value works too.
  std::vector<std::string> sms = SmsMessages(with({"page", "warning", "error"}), ctx, "+1", "+2", {"P0", "P1"}, false);
  ASSERT_EQ(sms.size(), 2u);
  EXPECT_THAT(json::parse(sms[0])["Body"].get<std::string>(), ::testing::StartsWith("P0 node1: "));
  EXPECT_THAT(json::parse(sms[1])["Body"].get<std::string>(), ::testing::StartsWith("P1 node1: "));
  EXPECT_EQ(SmsMessages(with({"warning", "info"}), ctx, "+1", "+2", {"warning"}, false).size(), 1u);
}

}  // namespace
}  // namespace vigil::notify
