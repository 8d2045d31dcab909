// Receivers' custom templates: exact output per integration, the data they
// see, and the fall back to the default text when one fails at render time.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/log.h"
#include "base/testing/temp_dir.h"
#include "notify/delivery.h"
#include "notify/payload.h"

namespace vigil::notify {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// One firing P0 that takes titan and validator down, and one resolved alert.
alert::Notification Sample() {
  alert::Notification n;
  n.receiver = "pager";
  n.group_labels = Labels{{"alertname", "ServiceDown"}};
  alert::Alert a;
  a.labels = Labels{{"alertname", "ServiceDown"}, {"service", "bitcoind"}, {"severity", "critical"}};
  a.annotations = Labels{{"summary", "bitcoind is down"}};
  a.starts_at = 1795435200000;
  a.value = 0;
  a.generator_url = "http://vigil/graph";
  n.alerts.push_back(a);
  alert::Alert r = a;
  r.labels.Set("instance", "b");
  r.ends_at = 1795435260000;
  r.value.reset();
  n.alerts.push_back(r);
  n.downstream[alert::Fingerprint(a.labels)] = {"titan", "validator"};
  return n;
}

using Fields = std::map<std::string, std::string>;
const PayloadContext kCtx{"http://127.0.0.1:9810", "node1"};

TEST(TemplateData, AlertmanagerShapePlusVigilExtras) {
  alert::Notification n = Sample();
  std::vector<const alert::Alert*> all = {&n.alerts[0], &n.alerts[1]};
  auto run = [&](const char* text, const std::vector<const alert::Alert*>& alerts) {
    auto t = tmpl::Template::Parse(text);
    EXPECT_TRUE(t.ok()) << t.status().message();
    auto out = t->Execute(TemplateData(n, kCtx, alerts), {});
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? *out : "";
  };
  EXPECT_EQ(run("{{ .Status }} {{ .Receiver }} {{ .GroupLabels.alertname }} {{ .ExternalURL }} {{ .Host }}", all),
            "firing pager ServiceDown http://127.0.0.1:9810 node1");
  // Common labels leave out `instance`, which only the resolved alert has.
  EXPECT_EQ(run("{{ range $k, $v := .CommonLabels }}{{ $k }}={{ $v }} {{ end }}{{ .CommonAnnotations.summary }}", all),
            "alertname=ServiceDown service=bitcoind severity=critical bitcoind is down");
  EXPECT_EQ(run("{{ len .Alerts }} {{ len .Alerts.Firing }} {{ len .Alerts.Resolved }}", all), "2 1 1");
  EXPECT_EQ(run("{{ range .Alerts }}{{ .Status }} {{ .StartsAt }} {{ .EndsAt }} {{ .Value }} [{{ .Downstream | join "
                "\",\" }}] "
                "{{ .Flapping }} {{ .GeneratorURL }} {{ len .Fingerprint }}|{{ end }}",
                all),
            "firing 2026-11-23T12:00:00.000Z 0001-01-01T00:00:00Z 0 [titan,validator] false http://vigil/graph 16|"
            "resolved 2026-11-23T12:00:00.000Z 2026-11-23T12:01:00.000Z <no value> [] false http://vigil/graph 16|");
  EXPECT_EQ(run("{{ range .Alerts.Firing }}{{ .Summary }}; {{ $.Action }}{{ end }}", all),
            "bitcoind is down (also takes down: titan validator); none: a person is needed");
  EXPECT_EQ(run("{{ .Status }} {{ len .Alerts.Firing }}", {&n.alerts[1]}), "resolved 0");
}

TEST(Templates, PagerDutyDescriptionAndDetails) {
  Texts texts(Fields{{"description",
                      "{{ .CommonLabels.service }} is down on {{ .Host }}{{ range .Alerts }} since "
                      "{{ .StartsAt }}, value {{ .Value }}, impact: {{ .Downstream | join \"+\" }}{{ end }}"},
                     {"details.runbook", "https://runbooks.example/{{ .CommonLabels.alertname }}"},
                     {"details.value", "{{ range .Alerts }}{{ .Value | printf \"%.1f\" }}{{ end }}"}});
  auto events = PagerDutyEvents(Sample(), kCtx, true, texts);
  ASSERT_THAT(events, SizeIs(2));
  json t = json::parse(events[0]);
  EXPECT_EQ(t["payload"]["summary"],
            "bitcoind is down on node1 since 2026-11-23T12:00:00.000Z, value 0, impact: titan+validator");
  EXPECT_EQ(t["payload"]["custom_details"]["runbook"], "https://runbooks.example/ServiceDown");
  EXPECT_EQ(t["payload"]["custom_details"]["value"], "0.0");  // replaces the default of that name
  EXPECT_EQ(t["payload"]["custom_details"]["downstream_impact"], json({"titan", "validator"}));  // the rest stays
  EXPECT_EQ(t["payload"]["severity"], "critical");
  EXPECT_EQ(json::parse(events[1])["event_action"], "resolve");
  EXPECT_THAT(texts.errors(), SizeIs(0));
}

TEST(Templates, SlackTitleAndText) {
  Texts texts(
      Fields{{"title", "[{{ .Status | toUpper }}] {{ len .Alerts.Firing }} down on {{ .Host }}"},
             {"text",
              "{{ range .Alerts.Firing }}{{ .Labels.service }}: {{ .Annotations.summary }} since "
              "{{ .StartsAt }} (value {{ .Value }}); takes down {{ .Downstream | join \", \" }}; vigil: "
              "{{ $.Action }}\n{{ end }}{{ range .Alerts.Resolved }}resolved: {{ .Labels.instance }}{{ end }}"}});
  json j = json::parse(SlackMessage(Sample(), kCtx, "#ops", true, texts));
  EXPECT_EQ(j, json::parse(R"({"channel": "#ops", "text": "[FIRING] 1 down on node1", "attachments": [{
      "color": "#d00000", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text":
      "bitcoind: bitcoind is down since 2026-11-23T12:00:00.000Z (value 0); takes down titan, validator; vigil: none: a person is needed\nresolved: b"}}]}]})"));
  // With send_resolved off the data holds only what the message covers.
  j = json::parse(SlackMessage(Sample(), kCtx, "", false, Texts(Fields{{"title", "{{ len .Alerts }}"}})));
  EXPECT_EQ(j["text"], "1");
  EXPECT_THAT(j["attachments"], SizeIs(1));  // no `text` template: one attachment per alert, as by default
}

TEST(Templates, TelegramMessage) {
  Texts texts(
      Fields{{"message", "<b>{{ .CommonLabels.alertname | html }}</b> on {{ .Host }}: {{ len .Alerts }} alerts"}});
  json j = json::parse(TelegramMessage(Sample(), kCtx, "-100", true, texts));
  EXPECT_EQ(j["text"], "<b>ServiceDown</b> on node1: 2 alerts");
  EXPECT_EQ(j["parse_mode"], "HTML");
  EXPECT_EQ(json::parse(TelegramMessage(Sample(), kCtx, "-100", false, texts))["text"],
            "<b>ServiceDown</b> on node1: 1 alerts");
}

TEST(Templates, DiscordTitleAndMessage) {
  Texts texts(Fields{{"title", "{{ .Receiver }}: {{ .Status }}"},
                     {"message", "{{ range .Alerts }}{{ .Summary }} ({{ .Status }})\n{{ end }}"}});
  json j = json::parse(DiscordMessage(Sample(), kCtx, true, texts));
  EXPECT_EQ(j, json::parse(R"({"content": "pager: firing", "embeds": [{"title": "pager: firing",
      "description": "bitcoind is down (also takes down: titan validator) (firing)\nbitcoind is down (resolved)\n",
      "color": 13631488}]})"));
}

TEST(Templates, TwilioTextPerAlert) {
  Texts texts(Fields{{"text",
                      "{{ range .Alerts }}{{ .Labels.severity | toUpper }} {{ $.Host }}: {{ .Labels.service }} "
                      "down since {{ .StartsAt }}{{ end }}"}});
  auto sms = SmsMessages(Sample(), kCtx, "+1", "+2", {"critical"}, false, texts);
  ASSERT_THAT(sms, SizeIs(1));
  EXPECT_EQ(json::parse(sms[0]), json::parse(R"({"To": "+2", "From": "+1",
      "Body": "CRITICAL node1: bitcoind down since 2026-11-23T12:00:00.000Z"})"));
}

TEST(Templates, EmailSubjectTextAndHtml) {
  Texts texts(Fields{{"subject", "{{ .Status }}\r\nBcc: x@example.org"},
                     {"text", "{{ len .Alerts.Firing }} firing, {{ len .Alerts.Resolved }} resolved"},
                     {"html", "<p>{{ .CommonAnnotations.summary | html }}</p>"}});
  json j = json::parse(EmailMessage(Sample(), kCtx, true, texts));
  // A line break in the subject would start a new header: it becomes a space.
  EXPECT_EQ(j, json::parse(R"({"subject": "firing  Bcc: x@example.org", "text": "1 firing, 1 resolved",
      "html": "<p>bitcoind is down</p>"})"));
}

TEST(Templates, RenderFailureFallsBackToTheDefaultText) {
  Texts texts(Fields{{"title", "custom {{ .Host }}"}, {"text", "{{ .NoSuchField }}"}});
  json j = json::parse(SlackMessage(Sample(), kCtx, "#ops", true, texts));
  json d = json::parse(SlackMessage(Sample(), kCtx, "#ops", true));
  EXPECT_EQ(j["text"], "custom node1");           // the working template is used
  EXPECT_EQ(j["attachments"], d["attachments"]);  // the failing one leaves the default
  ASSERT_THAT(texts.errors(), SizeIs(1));
  EXPECT_THAT(texts.errors()[0], HasSubstr("text: "));
  EXPECT_THAT(texts.errors()[0], HasSubstr("NoSuchField"));
  // No template at all: exactly the default.
  EXPECT_EQ(SlackMessage(Sample(), kCtx, "#ops", true, Texts(Fields{{"title", ""}})), d.dump());
}

// What a receiver would reject, or JSON cannot hold, is a failure too: the default goes out.
TEST(Templates, EmptyOrInvalidUtf8ResultFallsBack) {
  Texts texts(Fields{{"description", "{{ if false }}x{{ end }}  \n"}, {"details.raw", "\xff{{ .Status }}"}});
  auto events = PagerDutyEvents(Sample(), kCtx, true, texts);
  json t = json::parse(events[0]);
  EXPECT_EQ(t["payload"]["summary"], "bitcoind is down (also takes down: titan validator)");
  EXPECT_FALSE(t["payload"]["custom_details"].contains("raw"));
  ASSERT_THAT(texts.errors(), SizeIs(2));
  EXPECT_EQ(texts.errors()[0], "description: the template rendered nothing");
  EXPECT_EQ(texts.errors()[1], "details.raw: the template rendered invalid UTF-8");
  // A long summary is cut at 1 024 bytes between UTF-8 sequences (ä is 2 bytes: 511 fit, then 1 byte is left).
  Texts umlauts(Fields{{"description", "a{{ range $i := 600 }}ä{{ end }}"}});
  std::string summary = json::parse(PagerDutyEvents(Sample(), kCtx, false, umlauts)[0])["payload"]["summary"];
  EXPECT_EQ(summary.size(), 1023u);
  EXPECT_THAT(umlauts.errors(), SizeIs(0));
}

TEST(Templates, RenderForCallsTheTemplateFiles) {
  config::ReceiverOptions rc;
  rc.name = "digest";
  config::SlackConfig s;
  s.api_url = "https://hooks.slack.example/x";
  s.title = "{{ template \"vigil.title\" . }}";
  rc.slack_configs.push_back(s);
  // Two files define vigil.title: the later one wins, as in Alertmanager.
  rc.template_files = std::make_shared<std::vector<config::TemplateFile>>(std::vector<config::TemplateFile>{
      {"a.tmpl", "{{ define \"vigil.title\" }}old{{ end }}{{ define \"vigil.host\" }}{{ .Host }}{{ end }}"},
      {"b.tmpl", "{{ define \"vigil.title\" }}{{ .Status }} on {{ template \"vigil.host\" . }}{{ end }}"}});
  std::vector<Rendered> out = RenderFor(rc, Sample(), kCtx);
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(json::parse(out[0].payload)["text"], "firing on node1");
}

TEST(Templates, RenderForLogsTheFailureWithoutSecrets) {
  vigil::testing::TempDir dir;
  std::string log_path = dir.path() + "/log";
  int fd = ::open(log_path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  config::ReceiverOptions rc;
  rc.name = "oncall";
  config::SlackConfig s;
  s.api_url = "https://hooks.slack.example/services/T0/B0/slack-secret-token";
  s.text = "{{ .Alerts.Nope }}";
  rc.slack_configs.push_back(s);
  config::PagerDutyConfig p;
  p.routing_key = "pd-secret-key";
  p.description = "{{ index .Alerts 7 }}";
  rc.pagerduty_configs.push_back(p);
  SetLogFd(fd);
  std::vector<Rendered> out = RenderFor(rc, Sample(), kCtx);
  SetLogFd(2);
  ::close(fd);
  ASSERT_THAT(out, SizeIs(3));  // two PagerDuty events and one Slack message: nothing lost
  EXPECT_EQ(out[0].payload, PagerDutyEvents(Sample(), kCtx, true)[0]);
  EXPECT_EQ(out[2].payload, SlackMessage(Sample(), kCtx, "", true));
  std::string log = *ReadFile(log_path, 1 << 20);
  EXPECT_THAT(log, HasSubstr("notification template failed"));
  EXPECT_THAT(log, HasSubstr("receiver=oncall"));
  EXPECT_THAT(log, HasSubstr("slack[0]"));
  EXPECT_THAT(log, HasSubstr("pagerduty[0]"));
  EXPECT_THAT(log, HasSubstr("Nope"));
  EXPECT_THAT(log, Not(HasSubstr("slack-secret-token")));
  EXPECT_THAT(log, Not(HasSubstr("pd-secret-key")));
}

}  // namespace
}  // namespace vigil::notify
