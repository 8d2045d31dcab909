#include "notify/delivery.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "http/outbound.h"

namespace vigil::notify {
namespace {

// Twilio takes form fields; the outbox keeps them as a JSON object.
std::string FormEncode(const std::string& json_object) {
  nlohmann::json j = nlohmann::json::parse(json_object, nullptr, false);
  std::string out;
  if (!j.is_object()) return out;
  auto escape = [](const std::string& v) {
    std::string e;
    for (unsigned char ch : v) {
      if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
        e += static_cast<char>(ch);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", ch);
        e += buf;
      }
    }
    return e;
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) continue;
    out += (out.empty() ? "" : "&") + escape(it.key()) + "=" + escape(it.value().get<std::string>());
  }
  return out;
}

struct Delivery {
  std::string url;
  std::string body;
  std::string content_type = "application/json";
  std::string user, password;
};

SendResult Post(const Delivery& d, Duration timeout) {
  std::optional<http::ParsedUrl> u = http::ParseUrl(d.url);
  if (!u) return {SendResult::kDead, "the receiver's URL is not http(s)://host/…"};
  http::HttpRequest req;
  req.url = *u;
  req.method = "POST";
  req.body = d.body;
  req.content_type = d.content_type;
  req.user = d.user.empty() ? u->user : d.user;
  req.password = d.user.empty() ? u->password : d.password;
  req.deadline = std::chrono::steady_clock::now() + timeout;
  req.max_body_bytes = 64 << 10;
  http::HttpResponse res;
  if (auto f = http::HttpExchange(req, &res)) return {SendResult::kRetry, f->reason + ": " + f->detail};
  if (res.status >= 200 && res.status <= 299) return {SendResult::kDelivered, ""};
  std::string body_start = res.body.substr(0, 200);
  for (auto& ch : body_start) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  SendResult o;
  o.detail = "HTTP " + std::to_string(res.status) + (body_start.empty() ? "" : ": " + body_start);
  // 408, 429 and 5xx can succeed later; any other 4xx never will.
  o.kind = res.status == 408 || res.status == 429 || res.status >= 500 ? SendResult::kRetry : SendResult::kDead;
  if (!res.retry_after.empty()) {
    char* end = nullptr;
    long seconds = std::strtol(res.retry_after.c_str(), &end, 10);
    if (end != res.retry_after.c_str() && seconds >= 0 && seconds < 24 * 3600) o.after = Duration(seconds * 1000);
  }
  return o;
}

}  // namespace

std::vector<Rendered> RenderFor(const config::ReceiverOptions& rc, const alert::Notification& n,
                                const PayloadContext& ctx) {
  std::vector<Rendered> out;
  auto add = [&](const char* integration, size_t index, std::string payload) {
    if (!payload.empty()) out.push_back({integration, static_cast<int>(index), std::move(payload)});
  };
  for (size_t i = 0; i < rc.webhook_configs.size(); ++i) {
    const auto& w = rc.webhook_configs[i];
    add("webhook", i, AlertmanagerWebhookV4(n, ctx, w.max_alerts, w.send_resolved));
  }
  for (size_t i = 0; i < rc.pagerduty_configs.size(); ++i) {
    for (auto& e : PagerDutyEvents(n, ctx, rc.pagerduty_configs[i].send_resolved)) add("pagerduty", i, std::move(e));
  }
  for (size_t i = 0; i < rc.slack_configs.size(); ++i) {
    add("slack", i, SlackMessage(n, ctx, rc.slack_configs[i].channel, rc.slack_configs[i].send_resolved));
  }
  for (size_t i = 0; i < rc.telegram_configs.size(); ++i) {
    add("telegram", i, TelegramMessage(n, ctx, rc.telegram_configs[i].chat_id, rc.telegram_configs[i].send_resolved));
  }
  for (size_t i = 0; i < rc.discord_configs.size(); ++i) {
    add("discord", i, DiscordMessage(n, ctx, rc.discord_configs[i].send_resolved));
  }
  for (size_t i = 0; i < rc.twilio_configs.size(); ++i) {
    const auto& t = rc.twilio_configs[i];
    for (auto& sms : SmsMessages(n, ctx, t.from, t.to, t.severities, t.send_resolved)) add("twilio", i, std::move(sms));
  }
  return out;
}

SendResult Send(const config::ReceiverOptions& rc, const std::string& integration, int index,
                const std::string& payload, Duration timeout) {
  Delivery d;
  d.body = payload;
  auto in = [&](const auto& list) { return index >= 0 && index < static_cast<int>(list.size()); };
  if (integration == "webhook" && in(rc.webhook_configs)) {
    d.url = rc.webhook_configs[index].url;
  } else if (integration == "slack" && in(rc.slack_configs)) {
    d.url = rc.slack_configs[index].api_url;
  } else if (integration == "pagerduty" && in(rc.pagerduty_configs)) {
    const auto& pd = rc.pagerduty_configs[index];
    d.url = pd.url;
    if (d.body.size() < 2 || d.body[0] != '{') return {SendResult::kDead, "not a JSON object", std::nullopt};
    d.body.insert(1, "\"routing_key\":" + nlohmann::json(pd.routing_key).dump() + ",");
  } else if (integration == "telegram" && in(rc.telegram_configs)) {
    const auto& t = rc.telegram_configs[index];
    d.url = t.api_url + "/bot" + t.bot_token + "/sendMessage";
  } else if (integration == "discord" && in(rc.discord_configs)) {
    d.url = rc.discord_configs[index].webhook_url;
  } else if (integration == "twilio" && in(rc.twilio_configs)) {
    const auto& t = rc.twilio_configs[index];
    d.url = t.api_url + "/2010-04-01/Accounts/" + t.account_sid + "/Messages.json";
    d.body = FormEncode(payload);
    d.content_type = "application/x-www-form-urlencoded";
    d.user = t.account_sid;
    d.password = t.auth_token;
  } else {
    return {SendResult::kDead, "the receiver no longer has this integration", std::nullopt};
  }
  return Post(d, timeout);
}

SendResult PostJson(const std::string& url, const std::string& body, Duration timeout) {
  Delivery d;
  d.url = url;
  d.body = body;
  return Post(d, timeout);
}

alert::Notification TestNotification(const std::string& receiver, const std::string& severity, TimestampMs now) {
  alert::Notification n;
  n.receiver = receiver;
  n.group_key = "{}:{alertname=\"VigilTestNotification\"}";
  n.group_labels = Labels{{"alertname", "VigilTestNotification"}};
  alert::Alert a;
  a.labels = Labels{{"alertname", "VigilTestNotification"}, {"service", "vigil"}, {"severity", severity}};
  a.annotations = Labels{{"summary", "Test notification from vigil: this receiver works"},
                         {"description", "Sent by `vigil notify test`; nothing is wrong."}};
  a.starts_at = now;
  n.alerts.push_back(std::move(a));
  n.time_ms = now;
  return n;
}

}  // namespace vigil::notify
