#include "notify/payload.h"

#include <nlohmann/json.hpp>

namespace vigil::notify {
namespace {

using nlohmann::json;

json LabelsJson(const Labels& labels) {
  json j = json::object();
  for (const auto& l : labels) j[l.name] = l.value;
  return j;
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

}  // namespace

std::string PagerDutySeverity(std::string_view severity) {
  if (severity == "critical") return "critical";
  if (severity == "high") return "error";
  if (severity == "medium") return "warning";
  return "info";
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

std::vector<std::string> PagerDutyEvents(const alert::Notification& n, const PayloadContext& ctx, bool send_resolved) {
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
    if (summary.size() > 1024) summary.resize(1024);  // the API's limit
    json details = {{"labels", LabelsJson(a.labels)},
                    {"annotations", LabelsJson(a.annotations)},
                    {"firing_since", Rfc3339(a.starts_at)}};
    if (downstream) details["downstream_impact"] = *downstream;
    json payload = {{"summary", summary},
                    {"source", ctx.host.empty() ? std::string("vigil") : ctx.host},
                    {"severity", PagerDutySeverity(a.labels.Get("severity"))},
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
                         bool send_resolved) {
  std::vector<const alert::Alert*> firing, resolved;
  for (const auto& a : n.alerts) (a.resolved() ? resolved : firing).push_back(&a);
  if (!send_resolved) resolved.clear();
  if (firing.empty() && resolved.empty()) return "";
  auto colour = [](std::string_view sev) {
    if (sev == "critical") return "#d00000";
    if (sev == "high") return "#ff8c00";
    if (sev == "medium") return "#f2c744";
    return "#439fe0";
  };
  std::string title = std::to_string(firing.size()) + " firing, " + std::to_string(resolved.size()) + " resolved";
  if (!ctx.host.empty()) title += " on " + ctx.host;
  json attachments = json::array();
  auto add = [&](const alert::Alert& a, bool is_resolved) {
    std::string fp = alert::Fingerprint(a.labels);
    auto down = n.downstream.find(fp);
    std::string text = (is_resolved ? "*Resolved* " : "*Firing* ") +
                       Summary(a, down == n.downstream.end() ? nullptr : &down->second) + "\nsince " +
                       Rfc3339(a.starts_at);
    if (std::string_view d = a.annotations.Get("description"); !d.empty()) text += "\n" + std::string(d);
    if (n.flapping.count(fp)) text += "\n_flapping: further changes held back until stable_";
    attachments.push_back({{"color", is_resolved ? "#2eb886" : colour(a.labels.Get("severity"))},
                           {"blocks", json::array({{{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", text}}}}})}});
  };
  for (const auto* a : firing) add(*a, false);
  for (const auto* a : resolved) add(*a, true);
  json j = {{"text", title}, {"attachments", attachments}};
  if (!channel.empty()) j["channel"] = channel;
  return j.dump();
}

}  // namespace vigil::notify
