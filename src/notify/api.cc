#include "notify/api.h"

#include <nlohmann/json.hpp>

#include "alert/alert.h"

namespace vigil::notify {
namespace {

using nlohmann::json;

http::Response Json(int status, const json& body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

// Alertmanager answers bad requests with a plain JSON string.
http::Response Error(int status, const std::string& message) { return Json(status, json(message)); }

json SilenceJson(const Outbox::StoredSilence& s, TimestampMs now) {
  json matchers = json::array();
  for (const auto& text : s.matchers) {
    auto parsed = alert::ParseMatchers(text);
    if (!parsed.ok()) continue;
    for (const auto& m : *parsed) {
      using T = tsdb::Matcher::Type;
      matchers.push_back({{"name", m.name()},
                          {"value", m.value()},
                          {"isRegex", m.type() == T::kRegexMatch || m.type() == T::kRegexNoMatch},
                          {"isEqual", m.type() == T::kEqual || m.type() == T::kRegexMatch}});
    }
  }
  std::string state = now < s.starts_at ? "pending" : now < s.ends_at ? "active" : "expired";
  return {{"id", s.id},
          {"status", {{"state", state}}},
          {"updatedAt", FormatTime(s.updated_at)},
          {"matchers", matchers},
          {"startsAt", FormatTime(s.starts_at)},
          {"endsAt", FormatTime(s.ends_at)},
          {"createdBy", s.created_by},
          {"comment", s.comment}};
}

// Alertmanager's PostableSilence: matchers as {name, value, isRegex, isEqual}.
Result<Outbox::StoredSilence> ParsePostable(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::Error("body is not a JSON object");
  Outbox::StoredSilence s;
  if (j.contains("id") && j["id"].is_string()) s.id = j["id"];
  if (!j.contains("matchers") || !j["matchers"].is_array() || j["matchers"].empty()) {
    return Status::Error("matchers: at least one matcher is required");
  }
  for (const auto& m : j["matchers"]) {
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || !m.contains("value") ||
        !m["value"].is_string()) {
      return Status::Error("matchers: each needs a name and a value");
    }
    bool is_regex = m.value("isRegex", false), is_equal = m.value("isEqual", true);
    std::string op = is_regex ? (is_equal ? "=~" : "!~") : (is_equal ? "=" : "!=");
    std::string value = m["value"].get<std::string>(), quoted;
    for (char ch : value) {
      if (ch == '"' || ch == '\\') quoted += '\\';
      quoted += ch;
    }
    s.matchers.push_back(m["name"].get<std::string>() + op + "\"" + quoted + "\"");
  }
  for (const char* key : {"startsAt", "endsAt"}) {
    if (!j.contains(key) || !j[key].is_string()) return Status::Error(std::string(key) + ": an RFC 3339 time is required");
    Result<TimestampMs> t = ParseTime(j[key].get<std::string>());
    if (!t.ok()) return Status::Error(std::string(key) + ": " + t.status().message());
    (std::string(key) == "startsAt" ? s.starts_at : s.ends_at) = *t;
  }
  s.created_by = j.value("createdBy", "");
  s.comment = j.value("comment", "");
  if (s.created_by.empty()) return Status::Error("createdBy: required");
  return s;
}

}  // namespace

std::vector<http::Route> NewApiRoutes(Notifier* n, const Clock* clock) {
  std::vector<http::Route> routes;
  routes.push_back({"/api/v2/silence", [n, clock](const http::Request& r) -> http::Response {
                      TimestampMs now = clock->NowMs();
                      if (r.path == "/api/v2/silences") {
                        if (r.method == "GET") {
                          auto all = n->Silences();
                          if (!all.ok()) return Error(500, all.status().message());
                          json out = json::array();
                          for (const auto& s : *all) out.push_back(SilenceJson(s, now));
                          return Json(200, out);
                        }
                        if (r.method == "POST") {
                          auto s = ParsePostable(r.body);
                          if (!s.ok()) return Error(400, s.status().message());
                          auto id = n->PutSilence(std::move(*s));
                          if (!id.ok()) {
                            bool missing = id.status().message().find("not found") != std::string::npos;
                            return Error(missing ? 404 : 400, id.status().message());
                          }
                          return Json(200, {{"silenceID", *id}});
                        }
                        return Error(405, "method not allowed");
                      }
                      const std::string prefix = "/api/v2/silence/";
                      if (r.path.rfind(prefix, 0) == 0 && r.path.size() > prefix.size()) {
                        std::string id = r.path.substr(prefix.size());
                        if (r.method == "DELETE") {
                          Status st = n->ExpireSilence(id);
                          if (!st.ok()) {
                            bool missing = st.message().find("not found") != std::string::npos;
                            return Error(missing ? 404 : 400, st.message());
                          }
                          return Json(200, json::object());
                        }
                        if (r.method == "GET") {
                          auto all = n->Silences();
                          if (!all.ok()) return Error(500, all.status().message());
                          for (const auto& s : *all) {
                            if (s.id == id) return Json(200, SilenceJson(s, now));
                          }
                          return Error(404, "silence " + id + " not found");
                        }
                        return Error(405, "method not allowed");
                      }
                      return Error(404, "not found");
                    }});
  routes.push_back({"/api/v1/notifications", [n](const http::Request& r) -> http::Response {
                      if (r.method != "GET") return Error(405, "method not allowed");
                      auto history = n->History(200);
                      if (!history.ok()) return Error(500, history.status().message());
                      json items = json::array();
                      for (const auto& h : *history) {
                        items.push_back({{"id", h.id},
                                         {"receiver", h.receiver},
                                         {"integration", h.integration},
                                         {"outcome", h.outcome},
                                         {"detail", h.detail},
                                         {"createdAt", FormatTime(h.created_ms)},
                                         {"finishedAt", FormatTime(h.finished_ms)},
                                         {"attempts", h.attempts}});
                      }
                      return Json(200, {{"status", "success"}, {"data", {{"history", items}}}});
                    }});
  return routes;
}

}  // namespace vigil::notify
