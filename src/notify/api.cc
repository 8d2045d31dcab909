#include "notify/api.h"

#include <nlohmann/json.hpp>

#include "alert/alert.h"
#include "notify/ingest.h"

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
    for (auto& m : AlertmanagerMatchers(*parsed)) matchers.push_back(std::move(m));
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

}  // namespace

Result<Outbox::StoredSilence> ParsePostableSilence(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::Error("body is not a JSON object");
  // A member of the wrong type is an error naming it, never an exception.
  auto text = [](const json& o, const char* key, std::string* out) -> Status {
    if (!o.contains(key) || o[key].is_null()) return Status::Ok();
    if (!o[key].is_string()) return Status::Error(std::string(key) + ": must be a string");
    *out = o[key].get<std::string>();
    return Status::Ok();
  };
  auto flag = [](const json& o, const char* key, bool* out) -> Status {
    if (!o.contains(key) || o[key].is_null()) return Status::Ok();
    if (!o[key].is_boolean()) return Status::Error(std::string(key) + ": must be true or false");
    *out = o[key].get<bool>();
    return Status::Ok();
  };
  Outbox::StoredSilence s;
  if (Status st = text(j, "id", &s.id); !st.ok()) return st;
  if (!j.contains("matchers") || !j["matchers"].is_array() || j["matchers"].empty()) {
    return Status::Error("matchers: at least one matcher is required");
  }
  for (size_t i = 0; i < j["matchers"].size(); ++i) {
    const json& m = j["matchers"][i];
    std::string where = "matchers[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || !m.contains("value") ||
        !m["value"].is_string()) {
      return Status::Error(where + ": needs a name and a value, both strings");
    }
    bool is_regex = false, is_equal = true;
    if (Status st = flag(m, "isRegex", &is_regex); !st.ok()) return st.WithContext(where);
    if (Status st = flag(m, "isEqual", &is_equal); !st.ok()) return st.WithContext(where);
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
  if (Status st = text(j, "createdBy", &s.created_by); !st.ok()) return st;
  if (Status st = text(j, "comment", &s.comment); !st.ok()) return st;
  if (s.created_by.empty()) return Status::Error("createdBy: required");
  return s;
}

namespace {

// A query parameter that is true unless it says "false" (Alertmanager's defaults).
Result<bool> BoolParam(const http::Request& r, const char* name) {
  if (!r.HasParam(name)) return true;
  std::string v = r.Param(name);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return Status::Error(std::string(name) + ": expected true or false");
}

// GET /api/v2/alerts: Alertmanager's gettableAlert list, sorted by fingerprint.
http::Response ListAlerts(const http::Request& r, Notifier* n, const AlertIngest& ingest) {
  bool want[4];
  const char* names[4] = {"active", "silenced", "inhibited", "unprocessed"};
  for (int i = 0; i < 4; ++i) {
    Result<bool> b = BoolParam(r, names[i]);
    if (!b.ok()) return Error(400, b.status().message());
    want[i] = *b;
  }
  alert::Matchers filter;
  for (const auto& f : r.Params("filter")) {
    auto m = alert::ParseMatchers(f);
    if (!m.ok()) return Error(400, "filter: " + m.status().message());
    filter.insert(filter.end(), m->begin(), m->end());
  }
  std::optional<alert::Matchers> receiver;
  if (r.HasParam("receiver")) {
    std::string quoted;
    for (char ch : r.Param("receiver")) {
      if (ch == '"' || ch == '\\') quoted += '\\';
      quoted += ch;
    }
    auto m = alert::ParseMatchers("receiver=~\"" + quoted + "\"");
    if (!m.ok()) return Error(400, "receiver: " + m.status().message());
    receiver = std::move(*m);
  }
  std::map<std::string, AlertIngest::Posted> posted = ingest.Snapshot();
  json out = json::array();
  for (const auto& s : n->AlertStates()) {
    const alert::Alert& a = s.alert;
    if (!alert::MatchesAll(filter, a.labels)) continue;
    if (receiver) {
      bool any = false;
      for (const auto& name : s.receivers) any = any || alert::MatchesAll(*receiver, Labels{{"receiver", name}});
      if (!any) continue;
    }
    bool suppressed = s.mute.muted();
    if (!want[0] && !suppressed) continue;
    if (!want[1] && !s.mute.silenced_by.empty()) continue;
    if (!want[2] && s.mute.inhibited) continue;
    std::string fp = alert::Fingerprint(a.labels);
    json labels = json::object(), annotations = json::object(), receivers = json::array();
    for (const auto& l : a.labels) labels[l.name] = l.value;
    for (const auto& l : a.annotations) annotations[l.name] = l.value;
    for (const auto& name : s.receivers) receivers.push_back({{"name", name}});
    // A posted alert ends at its expiry; one of vigil's own rules when the
    // rule says so (Go's zero time until then).
    auto p = posted.find(fp);
    std::string ends = p != posted.end() ? FormatTime(p->second.ends_at) : "0001-01-01T00:00:00.000Z";
    TimestampMs updated = p != posted.end() ? p->second.updated_at : a.starts_at;
    json muted_by = json::array();
    if (!s.mute.maintenance.empty()) muted_by.push_back(s.mute.maintenance);
    out.push_back({{"labels", labels},
                   {"annotations", annotations},
                   {"startsAt", FormatTime(a.starts_at)},
                   {"endsAt", ends},
                   {"updatedAt", FormatTime(updated)},
                   {"generatorURL", a.generator_url},
                   {"fingerprint", fp},
                   {"receivers", receivers},
                   {"status",
                    {{"state", suppressed ? "suppressed" : "active"},
                     {"silencedBy", s.mute.silenced_by},
                     {"inhibitedBy", s.inhibited_by},
                     {"mutedBy", muted_by}}}});
  }
  return Json(200, out);
}

}  // namespace

json AlertmanagerMatchers(const alert::Matchers& matchers) {
  json out = json::array();
  for (const auto& m : matchers) {
    using T = tsdb::Matcher::Type;
    out.push_back({{"name", m.name()},
                   {"value", m.value()},
                   {"isRegex", m.type() == T::kRegexMatch || m.type() == T::kRegexNoMatch},
                   {"isEqual", m.type() == T::kEqual || m.type() == T::kRegexMatch}});
  }
  return out;
}

std::vector<http::Route> NewApiRoutes(Notifier* n, const Clock* clock) {
  std::vector<http::Route> routes;
  // Owned by the route: it lives (and its expiry thread runs) as long as the server's routes.
  auto ingest = std::make_shared<AlertIngest>([n](std::vector<AlertUpdate> a) { n->Update(std::move(a)); }, clock);
  ingest->StartExpiryThread();
  routes.push_back({"/api/v2/alerts", [n, ingest](const http::Request& r) -> http::Response {
                      if (r.path != "/api/v2/alerts") return Error(404, "not found");
                      if (r.method == "POST") {
                        Status st = ingest->Post(r.body);
                        if (!st.ok()) return Error(400, st.message());
                        return Json(200, json::object());
                      }
                      if (r.method == "GET") return ListAlerts(r, n, *ingest);
                      return Error(405, "method not allowed");
                    }});
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
                          auto s = ParsePostableSilence(r.body);
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
