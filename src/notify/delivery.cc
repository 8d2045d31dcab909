#include "notify/delivery.h"

#include <curl/curl.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "base/log.h"
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
  req.keep_alive = true;  // one connection per receiver, as Alertmanager keeps
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

// RFC 2047 for a header with non-ASCII text.
std::string EncodedWord(const std::string& text) {
  bool ascii = true;
  for (unsigned char ch : text) ascii = ascii && ch >= 0x20 && ch < 0x7f;
  if (ascii) return text;
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    uint32_t v = (uint8_t(text[i]) << 16) | (uint8_t(text[i + 1]) << 8) | uint8_t(text[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kB64[(v >> k) & 63];
  }
  if (i < text.size()) {
    uint32_t v = uint8_t(text[i]) << 16;
    if (i + 1 < text.size()) v |= uint8_t(text[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < text.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return "=?UTF-8?B?" + out + "?=";
}

// Normalises line ends to CRLF, as SMTP requires.
std::string Crlf(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += in[i];
  }
  return out;
}

std::string MimeMessage(const config::EmailConfig& e, const nlohmann::json& m) {
  std::mt19937_64 rng{std::random_device{}()};
  char boundary[40];
  std::snprintf(boundary, sizeof boundary, "vigil-%016llx", static_cast<unsigned long long>(rng()));
  char date[64];
  time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string msg = "From: " + e.from + "\nTo: " + e.to + "\nSubject: " + EncodedWord(m.value("subject", "")) +
                    "\nDate: " + date + "\nMessage-ID: <" + std::string(boundary) + "@vigil>\nMIME-Version: 1.0\n" +
                    "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\n\n";
  msg += "--" + std::string(boundary) +
         "\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + m.value("text", "") + "\n";
  msg += "--" + std::string(boundary) +
         "\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + m.value("html", "") + "\n";
  msg += "--" + std::string(boundary) + "--\n";
  return Crlf(msg);
}

SendResult SendMail(const config::EmailConfig& e, const std::string& payload, Duration timeout) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  nlohmann::json m = nlohmann::json::parse(payload, nullptr, false);
  if (!m.is_object()) return {SendResult::kDead, "the stored email is not a JSON object", std::nullopt};
  std::string body = MimeMessage(e, m);
  size_t offset = 0;
  CURL* c = curl_easy_init();
  if (c == nullptr) return {SendResult::kRetry, "cannot create a curl handle", std::nullopt};
  std::string url = "smtp://" + e.smarthost;
  std::string from = "<" + e.from + ">";
  curl_slist* rcpt = nullptr;
  size_t start = 0;
  while (start <= e.to.size()) {  // "a@x, b@y"
    size_t comma = e.to.find(',', start);
    std::string one = e.to.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!one.empty() && one.front() == ' ') one.erase(0, 1);
    while (!one.empty() && one.back() == ' ') one.pop_back();
    if (!one.empty()) rcpt = curl_slist_append(rcpt, ("<" + one + ">").c_str());
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(e.require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
  if (e.tls_insecure_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!e.auth_username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, e.auth_username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, e.auth_password.c_str());
  }
  struct Reader {
    const std::string* body;
    size_t* offset;
  } reader{&body, &offset};
  using ReadFn = size_t (*)(char*, size_t, size_t, void*);
  ReadFn read = [](char* buf, size_t size, size_t n, void* p) -> size_t {
    auto* r = static_cast<Reader*>(p);
    size_t left = r->body->size() - *r->offset, take = std::min(left, size * n);
    std::memcpy(buf, r->body->data() + *r->offset, take);
    *r->offset += take;
    return take;
  };
  curl_easy_setopt(c, CURLOPT_READDATA, &reader);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read);
  CURLcode rc = curl_easy_perform(c);
  long smtp = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &smtp);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
  if (rc == CURLE_OK) return {SendResult::kDelivered, "", std::nullopt};
  // A 5xx reply is the server's final word (unknown recipient, refused sender); the rest may pass later.
  std::string detail =
      std::string("SMTP: ") + curl_easy_strerror(rc) + (smtp ? " (reply " + std::to_string(smtp) + ")" : "");
  return {smtp >= 500 ? SendResult::kDead : SendResult::kRetry, detail, std::nullopt};
}

}  // namespace

std::vector<Rendered> RenderFor(const config::ReceiverOptions& rc, const alert::Notification& n,
                                const PayloadContext& ctx) {
  std::vector<Rendered> out;
  auto add = [&](const char* integration, size_t index, std::string payload) {
    if (!payload.empty()) out.push_back({integration, static_cast<int>(index), std::move(payload)});
  };
  // A template that fails to render leaves the default text in its place; the
  // failure is logged (receiver, integration, reason: a template holds no secret).
  auto report = [&](const char* integration, size_t index, const Texts& texts) {
    for (const auto& error : texts.errors()) {
      LogWarn("notification template failed; the default text was sent instead",
              {{"receiver", rc.name},
               {"integration", integration + ("[" + std::to_string(index) + "]")},
               {"error", error}});
    }
  };
  // alerting.templates, as read at load: a later file's {{define}} wins.
  std::optional<tmpl::Template> library;
  if (rc.template_files && !rc.template_files->empty()) {
    library.emplace();
    for (auto it = rc.template_files->rbegin(); it != rc.template_files->rend(); ++it) {
      if (Result<tmpl::Template> t = tmpl::Template::Parse(it->text); t.ok()) {
        library->Use(*t);
      } else {  // `vigil check config` rejects this; only a bug gets here
        LogWarn("notification template file failed to parse", {{"file", it->path}, {"error", t.status().message()}});
      }
    }
  }
  for (size_t i = 0; i < rc.webhook_configs.size(); ++i) {
    const auto& w = rc.webhook_configs[i];
    add("webhook", i, AlertmanagerWebhookV4(n, ctx, w.max_alerts, w.send_resolved));
  }
  for (size_t i = 0; i < rc.pagerduty_configs.size(); ++i) {
    const auto& p = rc.pagerduty_configs[i];
    std::map<std::string, std::string> fields{{"description", p.description}};
    for (const auto& [name, text] : p.details) fields["details." + name] = text;
    Texts texts(fields, library);
    for (auto& e : PagerDutyEvents(n, ctx, p.send_resolved, texts)) add("pagerduty", i, std::move(e));
    report("pagerduty", i, texts);
  }
  for (size_t i = 0; i < rc.slack_configs.size(); ++i) {
    const auto& s = rc.slack_configs[i];
    Texts texts({{"title", s.title}, {"text", s.text}}, library);
    add("slack", i, SlackMessage(n, ctx, s.channel, s.send_resolved, texts));
    report("slack", i, texts);
  }
  for (size_t i = 0; i < rc.telegram_configs.size(); ++i) {
    const auto& t = rc.telegram_configs[i];
    Texts texts({{"message", t.message}}, library);
    add("telegram", i, TelegramMessage(n, ctx, t.chat_id, t.send_resolved, texts));
    report("telegram", i, texts);
  }
  for (size_t i = 0; i < rc.discord_configs.size(); ++i) {
    const auto& d = rc.discord_configs[i];
    Texts texts({{"title", d.title}, {"message", d.message}}, library);
    add("discord", i, DiscordMessage(n, ctx, d.send_resolved, texts));
    report("discord", i, texts);
  }
  for (size_t i = 0; i < rc.twilio_configs.size(); ++i) {
    const auto& t = rc.twilio_configs[i];
    Texts texts({{"text", t.text}}, library);
    for (auto& sms : SmsMessages(n, ctx, t.from, t.to, t.severities, t.send_resolved, texts)) {
      add("twilio", i, std::move(sms));
    }
    report("twilio", i, texts);
  }
  for (size_t i = 0; i < rc.email_configs.size(); ++i) {
    const auto& e = rc.email_configs[i];
    Texts texts({{"subject", e.subject}, {"text", e.text}, {"html", e.html}}, library);
    add("email", i, EmailMessage(n, ctx, e.send_resolved, texts));
    report("email", i, texts);
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
  } else if (integration == "email" && in(rc.email_configs)) {
    return SendMail(rc.email_configs[index], payload, timeout);
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
