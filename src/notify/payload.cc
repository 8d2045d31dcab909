#include "notify/payload.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace vigil::notify {
namespace {

using nlohmann::json;

json LabelsJson(const Labels& labels) {
  json j = json::object();
  for (const auto& l : labels) j[l.name] = l.value;
  return j;
}

std::string FormatValue(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string Rfc3339(TimestampMs t) { return t == 0 ? "0001-01-01T00:00:00Z" : FormatTime(t); }

// What a page must say: what broke, where, since when, the value, the likely
// cause and what it takes down with it.
std::string Summary(const alert::Alert& a, const std::vector<std::string>* downstream) {
  std::string s(a.annotations.Get("summary"));
  if (s.empty()) s = std::string(a.labels.Get("alertname"));
  if (std::string_view svc = a.labels.Get("service"); !svc.empty() && s.find(svc) == std::string::npos) {
    s = std::string(svc) + ": " + s;
  }
  if (downstream && !downstream->empty()) {
    s += " (also takes down:";
    for (const auto& d : *downstream) s += " " + d;
    s += ")";
  }
  return s;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string Cut(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max >= 3 ? max - 3 : max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  if (max >= 3) s += "...";
  return s;
}

std::string HtmlEscape(std::string_view in) {
  std::string out;
  for (char ch : in) {
    if (ch == '<') {
      out += "&lt;";
    } else if (ch == '>') {
      out += "&gt;";
    } else if (ch == '&') {
      out += "&amp;";
    } else {
      out += ch;
    }
  }
  return out;
}

// The one firing alert an announcement (the weekly digest) carries; null
// for an ordinary notification.
const alert::Alert* Announced(const alert::Notification& n) {
  if (!n.announcement || n.alerts.size() != 1 || n.alerts[0].resolved()) return nullptr;
  return &n.alerts[0];
}

int DiscordColour(Priority p, bool resolved) {
  if (resolved) return 0x2eb886;
  static constexpr int kColours[] = {0xd00000, 0xff8c00, 0xf2c744, 0x439fe0};
  return kColours[static_cast<int>(p)];
}

const char* SlackColour(Priority p) {
  static constexpr const char* kColours[] = {"#d00000", "#ff8c00", "#f2c744", "#439fe0"};
  return kColours[static_cast<int>(p)];
}

const std::vector<std::string>* DownstreamOf(const alert::Notification& n, const alert::Alert& a) {
  auto it = n.downstream.find(alert::Fingerprint(a.labels));
  return it == n.downstream.end() ? nullptr : &it->second;
}

// The most urgent alert among `firing` by the severity map (the first of
// equals); null when none fires.
const alert::Alert* MostUrgent(const std::vector<const alert::Alert*>& firing, const SeverityMap& severities) {
  const alert::Alert* worst = nullptr;
  for (const auto* a : firing) {
    if (!worst || severities.Of(a->labels.Get("severity")) < severities.Of(worst->labels.Get("severity"))) worst = a;
  }
  return worst;
}

// Labels (or annotations) every alert has with the same value.
Labels Common(const std::vector<const alert::Alert*>& alerts, Labels alert::Alert::*field) {
  if (alerts.empty()) return {};
  Labels common = alerts[0]->*field;
  for (const auto* a : alerts) {
    Labels keep;
    for (const auto& l : common) {
      if ((a->*field).Get(l.name) == l.value) keep.Set(l.name, l.value);
    }
    common = std::move(keep);
  }
  return common;
}

std::vector<const alert::Alert*> Shown(const alert::Notification& n, bool send_resolved) {
  std::vector<const alert::Alert*> out;
  for (const auto& a : n.alerts) {
    if (!a.resolved() || send_resolved) out.push_back(&a);
  }
  return out;
}

}  // namespace

std::string PagerDutySeverity(Priority p) {
  static constexpr const char* kNames[] = {"critical", "error", "warning", "info"};
  return kNames[static_cast<int>(p)];
}

tmpl::Value TemplateData(const alert::Notification& n, const PayloadContext& ctx,
                         const std::vector<const alert::Alert*>& alerts) {
  using tmpl::Value;
  std::vector<Value> all, firing, resolved;
  for (const auto* a : alerts) {
    std::string fp = alert::Fingerprint(a->labels);
    auto down = n.downstream.find(fp);
    const std::vector<std::string>* downstream = down == n.downstream.end() ? nullptr : &down->second;
    std::vector<Value> impact;
    if (downstream) {
      for (const auto& d : *downstream) impact.push_back(Value::String(d));
    }
    Value v = Value::Struct({{"Status", Value::String(a->resolved() ? "resolved" : "firing")},
                             {"Labels", Value::FromLabels(a->labels)},
                             {"Annotations", Value::FromLabels(a->annotations)},
                             // RFC 3339 text: the engine has no time.Time (and so no .Format).
                             {"StartsAt", Value::String(Rfc3339(a->starts_at))},
                             {"EndsAt", Value::String(Rfc3339(a->ends_at))},
                             {"GeneratorURL", Value::String(a->generator_url)},
                             {"Fingerprint", Value::String(fp)},
                             {"Value", a->value ? Value::Float(*a->value) : Value::Nil()},
                             {"Downstream", Value::List(std::move(impact))},
                             {"Flapping", Value::Bool(n.flapping.count(fp) != 0)},
                             {"Summary", Value::String(Summary(*a, downstream))}});
    (a->resolved() ? resolved : firing).push_back(v);
    all.push_back(std::move(v));
  }
  bool any_firing = !firing.empty();
  return Value::Struct({{"Status", Value::String(any_firing ? "firing" : "resolved")},
                        {"Receiver", Value::String(n.receiver)},
                        {"GroupLabels", Value::FromLabels(n.group_labels)},
                        {"CommonLabels", Value::FromLabels(Common(alerts, &alert::Alert::labels))},
                        {"CommonAnnotations", Value::FromLabels(Common(alerts, &alert::Alert::annotations))},
                        {"ExternalURL", Value::String(ctx.external_url)},
                        {"Alerts", Value::List(std::move(all), {{"Firing", Value::List(std::move(firing))},
                                                                {"Resolved", Value::List(std::move(resolved))}})},
                        {"Host", Value::String(ctx.host)},
                        {"Action", Value::String(std::string(kAutomaticAction))}});
}

std::string AlertmanagerWebhookV4(const alert::Notification& n, const PayloadContext& ctx, int max_alerts,
                                  bool send_resolved) {
  json alerts = json::array();
  bool any_firing = false;
  size_t truncated = 0;
  Labels common;
  bool first = true;
  for (const auto& a : n.alerts) {
    if (a.resolved() && !send_resolved) continue;
    any_firing = any_firing || !a.resolved();
    if (first) {
      common = a.labels;
      first = false;
    } else {
      Labels keep;
      for (const auto& l : common) {
        if (a.labels.Get(l.name) == l.value) keep.Set(l.name, l.value);
      }
      common = std::move(keep);
    }
    if (max_alerts > 0 && alerts.size() >= static_cast<size_t>(max_alerts)) {
      ++truncated;
      continue;
    }
    alerts.push_back({{"status", a.resolved() ? "resolved" : "firing"},
                      {"labels", LabelsJson(a.labels)},
                      {"annotations", LabelsJson(a.annotations)},
                      {"startsAt", Rfc3339(a.starts_at)},
                      {"endsAt", Rfc3339(a.ends_at)},
                      {"generatorURL", a.generator_url},
                      {"fingerprint", alert::Fingerprint(a.labels)}});
  }
  if (alerts.empty()) return "";
  json j = {{"version", "4"},
            {"groupKey", n.group_key},
            {"truncatedAlerts", truncated},
            {"status", any_firing ? "firing" : "resolved"},
            {"receiver", n.receiver},
            {"groupLabels", LabelsJson(n.group_labels)},
            {"commonLabels", LabelsJson(common)},
            {"commonAnnotations", json::object()},
            {"externalURL", ctx.external_url},
            {"alerts", alerts}};
  return j.dump();
}

std::vector<std::string> PagerDutyEvents(const alert::Notification& n, const PayloadContext& ctx, bool send_resolved,
                                         const Texts& texts) {
  std::vector<std::string> out;
  for (const auto& a : n.alerts) {
    std::string fp = alert::Fingerprint(a.labels);
    if (a.resolved()) {
      if (send_resolved) out.push_back(json{{"event_action", "resolve"}, {"dedup_key", fp}}.dump());
      continue;
    }
    auto down = n.downstream.find(fp);
    const std::vector<std::string>* downstream = down == n.downstream.end() ? nullptr : &down->second;
    std::string summary = Summary(a, downstream);
    if (n.flapping.count(fp)) summary += " [flapping: further changes held back until stable]";
    // Each event covers one alert, so its templates see just that one.
    auto data = [&] { return TemplateData(n, ctx, {&a}); };
    summary = texts.Render("description", data, std::move(summary));
    if (summary.size() > 1024) {  // the API's limit, cut between UTF-8 sequences
      size_t n = 1024;
      while (n > 0 && (static_cast<unsigned char>(summary[n]) & 0xC0) == 0x80) --n;
      summary.resize(n);
    }
    json details = {{"labels", LabelsJson(a.labels)},
                    {"annotations", LabelsJson(a.annotations)},
                    {"firing_since", Rfc3339(a.starts_at)},
                    // vigil does not act on its own yet (recovery is a later step); the page says so.
                    {"automatic_action", kAutomaticAction}};
    if (a.value) details["value"] = *a.value;
    if (downstream) details["downstream_impact"] = *downstream;
    for (const auto& name : texts.FieldsUnder("details.")) {
      if (auto v = texts.Try("details." + name, data)) details[name] = std::move(*v);
    }
    json payload = {{"summary", summary},
                    {"source", ctx.host.empty() ? std::string("vigil") : ctx.host},
                    {"severity", PagerDutySeverity(ctx.severities.Of(a.labels.Get("severity")))},
                    {"timestamp", Rfc3339(a.starts_at)},
                    {"class", std::string(a.labels.Get("alertname"))},
                    {"custom_details", details}};
    if (std::string_view svc = a.labels.Get("service"); !svc.empty()) payload["component"] = std::string(svc);
    json event = {{"event_action", "trigger"}, {"dedup_key", fp}, {"payload", payload}, {"client", "vigil"}};
    if (!ctx.external_url.empty()) {
      event["client_url"] = ctx.external_url;
      event["links"] = json::array({{{"href", ctx.external_url + "/api/v1/alerts"}, {"text", "vigil alerts"}}});
    }
    out.push_back(event.dump());
  }
  return out;
}

std::string SlackMessage(const alert::Notification& n, const PayloadContext& ctx, const std::string& channel,
                         bool send_resolved, const Texts& texts) {
  std::vector<const alert::Alert*> firing, resolved;
  for (const auto& a : n.alerts) (a.resolved() ? resolved : firing).push_back(&a);
  if (!send_resolved) resolved.clear();
  if (firing.empty() && resolved.empty()) return "";
  auto colour = [&](std::string_view sev) { return SlackColour(ctx.severities.Of(sev)); };
  std::string title = std::to_string(firing.size()) + " firing, " + std::to_string(resolved.size()) + " resolved";
  if (!ctx.host.empty()) title += " on " + ctx.host;
  json attachments = json::array();
  auto add = [&](const alert::Alert& a, bool is_resolved) {
    std::string fp = alert::Fingerprint(a.labels);
    auto down = n.downstream.find(fp);
    std::string text = (is_resolved ? "*Resolved* " : "*Firing* ") +
                       Summary(a, down == n.downstream.end() ? nullptr : &down->second) + "\nsince " +
                       Rfc3339(a.starts_at);
    if (a.value && !is_resolved) text += ", value " + FormatValue(*a.value);
    if (std::string_view d = a.annotations.Get("description"); !d.empty()) text += "\n" + std::string(d);
    if (n.flapping.count(fp)) text += "\n_flapping: further changes held back until stable_";
    attachments.push_back({{"color", is_resolved ? "#2eb886" : colour(a.labels.Get("severity"))},
                           {"blocks", json::array({{{"type", "section"},
                                                    // Slack refuses a section over 3000 characters.
                                                    {"text", {{"type", "mrkdwn"}, {"text", Cut(text, 3000)}}}}})}});
  };
  if (const alert::Alert* announced = Announced(n)) {
    // Its summary is the title and its description the message.
    const alert::Alert& a = *announced;
    title = Summary(a, nullptr);
    std::string_view d = a.annotations.Get("description");
    attachments.push_back({{"color", colour(a.labels.Get("severity"))},
                           {"blocks", json::array({{{"type", "section"},
                                                    {"text", {{"type", "mrkdwn"},
                                                              {"text", Cut(std::string(d.empty() ? title : d), 3000)}}}}})}});
  } else {
    for (const auto* a : firing) add(*a, false);
    for (const auto* a : resolved) add(*a, true);
  }
  auto data = [&] { return TemplateData(n, ctx, Shown(n, send_resolved)); };
  title = texts.Render("title", data, std::move(title));
  if (auto text = texts.Try("text", data)) {
    // One attachment, coloured by the worst firing severity.
    const alert::Alert* worst = MostUrgent(firing, ctx.severities);
    attachments = json::array(
        {{{"color", worst ? colour(worst->labels.Get("severity")) : "#2eb886"},
          {"blocks",
           json::array({{{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", Cut(*text, 3000)}}}}})}}});
  }
  json j = {{"text", title}, {"attachments", attachments}};
  if (!channel.empty()) j["channel"] = channel;
  return j.dump();
}

std::string TelegramMessage(const alert::Notification& n, const PayloadContext& ctx, const std::string& chat_id,
                            bool send_resolved, const Texts& texts) {
  std::string text;
  int shown = 0;
  if (const alert::Alert* a = Announced(n)) {
    // Its summary in bold and its description as the message.
    shown = 1;
    std::string_view d = a->annotations.Get("description");
    text = "<b>" + HtmlEscape(Summary(*a, nullptr)) + "</b>\n" + (d.empty() ? "" : HtmlEscape(d) + "\n");
  } else {
    for (const auto& a : n.alerts) {
      if (a.resolved() && !send_resolved) continue;
      ++shown;
      text += std::string(a.resolved() ? "✅ <b>RESOLVED</b> " : "🔥 <b>") +
              (a.resolved() ? "" : std::string(a.labels.Get("severity")) + "</b> ") +
              HtmlEscape(Summary(a, DownstreamOf(n, a))) + "\nsince " + Rfc3339(a.starts_at) + "\n";
    }
  }
  if (shown == 0) return "";
  if (!ctx.host.empty()) text = "<i>" + HtmlEscape(ctx.host) + "</i>\n" + text;
  text = texts.Render(
      "message", [&] { return TemplateData(n, ctx, Shown(n, send_resolved)); }, std::move(text));
  return json{{"chat_id", chat_id}, {"text", Cut(text, 4096)}, {"parse_mode", "HTML"},
              {"disable_web_page_preview", true}}
      .dump();
}

std::string DiscordMessage(const alert::Notification& n, const PayloadContext& ctx, bool send_resolved,
                           const Texts& texts) {
  json embeds = json::array();
  int firing = 0, resolved = 0;
  std::string content;
  if (const alert::Alert* a = Announced(n)) {
    // Its summary is the message line and its description the embed.
    content = Summary(*a, nullptr);
    std::string_view d = a->annotations.Get("description");
    embeds.push_back({{"title", Cut(content, 256)},
                      {"description", Cut(std::string(d.empty() ? content : d), 4096)},
                      {"color", DiscordColour(ctx.severities.Of(a->labels.Get("severity")), false)}});
  } else {
    for (const auto& a : n.alerts) {
      if (a.resolved() && !send_resolved) continue;
      (a.resolved() ? resolved : firing)++;
      if (embeds.size() >= 10) continue;  // Discord's limit; the content line counts them all
      std::string description = "since " + Rfc3339(a.starts_at);
      if (std::string_view d = a.annotations.Get("description"); !d.empty()) description += "\n" + std::string(d);
      embeds.push_back(
          {{"title", Cut((a.resolved() ? "Resolved: " : "Firing: ") + Summary(a, DownstreamOf(n, a)), 256)},
           {"description", Cut(description, 4096)},
           {"color", DiscordColour(ctx.severities.Of(a.labels.Get("severity")), a.resolved())}});
    }
  }
  if (embeds.empty()) return "";
  if (content.empty()) {
    content = std::to_string(firing) + " firing, " + std::to_string(resolved) + " resolved";
    if (!ctx.host.empty()) content += " on " + ctx.host;
  }
  auto data = [&] { return TemplateData(n, ctx, Shown(n, send_resolved)); };
  content = texts.Render("title", data, std::move(content));
  if (auto message = texts.Try("message", data)) {
    std::vector<const alert::Alert*> firing_alerts;
    for (const auto* a : Shown(n, send_resolved)) {
      if (!a->resolved()) firing_alerts.push_back(a);
    }
    const alert::Alert* worst = MostUrgent(firing_alerts, ctx.severities);
    embeds = json::array(
        {{{"title", Cut(content, 256)},
          {"description", Cut(*message, 4096)},
          {"color", DiscordColour(worst ? ctx.severities.Of(worst->labels.Get("severity")) : SeverityMap::kUnmapped,
                                  worst == nullptr)}}});
  }
  return json{{"content", Cut(content, 2000)}, {"embeds", embeds}}.dump();
}

std::string EmailMessage(const alert::Notification& n, const PayloadContext& ctx, bool send_resolved,
                         const Texts& texts) {
  std::vector<const alert::Alert*> firing, resolved;
  for (const auto& a : n.alerts) (a.resolved() ? resolved : firing).push_back(&a);
  if (!send_resolved) resolved.clear();
  if (firing.empty() && resolved.empty()) return "";
  // The subject names the most urgent alert's severity as its rule wrote it.
  const alert::Alert* worst = MostUrgent(firing, ctx.severities);
  std::string top_severity = worst ? std::string(worst->labels.Get("severity")) : "";
  if (top_severity.empty()) top_severity = "low";
  std::string subject = firing.empty() ? "[RESOLVED] " : "[" + top_severity + "] ";
  subject += firing.size() + resolved.size() == 1
                 ? Summary(firing.empty() ? *resolved[0] : *firing[0], nullptr)
                 : std::to_string(firing.size()) + " firing, " + std::to_string(resolved.size()) + " resolved";
  if (!ctx.host.empty()) subject += " on " + ctx.host;
  std::string text, html = "<html><body>";
  auto section = [&](const char* title, const std::vector<const alert::Alert*>& list) {
    if (list.empty()) return;
    text += std::string(title) + ":\n";
    html += std::string("<h3>") + title + "</h3><ul>";
    for (const auto* a : list) {
      std::string line = Summary(*a, DownstreamOf(n, *a)) + " (since " + Rfc3339(a->starts_at);
      if (a->value && !a->resolved()) line += ", value " + FormatValue(*a->value);
      line += ")";
      text += "- " + line + "\n";
      html += "<li>" + HtmlEscape(line);
      if (std::string_view d = a->annotations.Get("description"); !d.empty()) {
        text += "  " + std::string(d) + "\n";
        // pre-wrap: a multi-line description (the weekly digest) keeps its lines.
        html += "<br><small style=\"white-space:pre-wrap\">" + HtmlEscape(d) + "</small>";
      }
      html += "</li>";
    }
    text += "\n";
    html += "</ul>";
  };
  if (const alert::Alert* announced = Announced(n)) {
    // Its summary is the subject and its description the message.
    subject = Summary(*announced, nullptr);
    std::string_view d = announced->annotations.Get("description");
    text = std::string(d.empty() ? subject : d) + "\n\n";
    html += "<pre style=\"white-space:pre-wrap;font-family:inherit\">" + HtmlEscape(d.empty() ? subject : d) + "</pre>";
  } else {
    section("Firing", firing);
    section("Resolved", resolved);
  }
  if (!ctx.external_url.empty()) {
    text += "Alerts: " + ctx.external_url + "/api/v1/alerts\n";
    html += "<p><a href=\"" + HtmlEscape(ctx.external_url) + "/api/v1/alerts\">vigil alerts</a></p>";
  }
  html += "</body></html>";
  auto data = [&] { return TemplateData(n, ctx, Shown(n, send_resolved)); };
  subject = texts.Render("subject", data, std::move(subject));
  // The subject becomes a header line: a template's line breaks must not add headers.
  std::replace_if(
      subject.begin(), subject.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  text = texts.Render("text", data, std::move(text));
  html = texts.Render("html", data, std::move(html));
  return json{{"subject", Cut(subject, 200)}, {"text", text}, {"html", html}}.dump();
}

std::vector<std::string> SmsMessages(const alert::Notification& n, const PayloadContext& ctx, const std::string& from,
                                     const std::string& to, const std::vector<std::string>& severities,
                                     bool send_resolved, const Texts& texts) {
  std::vector<std::string> out;
  for (const auto& a : n.alerts) {
    if (a.resolved() && !send_resolved) continue;
    std::string_view sev = a.labels.Get("severity");
    Priority priority = ctx.severities.Of(sev);
    // An entry is a priority (P0..P3) or a literal severity value.
    bool wanted = std::any_of(severities.begin(), severities.end(), [&](const std::string& s) {
      std::optional<Priority> p = ParsePriority(s);
      return p ? *p == priority : s == sev;
    });
    if (!wanted) continue;
    std::string body = std::string(a.resolved() ? "RESOLVED " : "") + std::string(PriorityName(priority)) + " " +
                       (ctx.host.empty() ? "" : ctx.host + ": ") + Summary(a, DownstreamOf(n, a));
    // One SMS per alert, so its template sees just that one.
    body = texts.Render(
        "text", [&] { return TemplateData(n, ctx, {&a}); }, std::move(body));
    out.push_back(json{{"To", to}, {"From", from}, {"Body", Cut(body, 160)}}.dump());
  }
  return out;
}

}  // namespace vigil::notify
