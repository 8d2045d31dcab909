#include "recovery/api.h"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace vigil::recovery {
namespace {

using json = nlohmann::json;

http::Response Json(int status, const json& body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

// Prometheus's API error shape, so the same clients read both.
http::Response Error(int status, const std::string& type, const std::string& message) {
  return Json(status, {{"status", "error"}, {"errorType", type}, {"error", message}});
}

json EntryJson(const AuditEntry& e) {
  json j = {{"id", e.id},           {"time", FormatTime(e.time_ms)},
            {"service", e.service}, {"episode", e.episode},
            {"kind", e.kind},       {"detail", e.detail}};
  if (!e.action.empty()) {
    j["action"] = e.action;
    j["target"] = e.target;
    j["outcome"] = e.outcome;
  }
  if (e.attempt > 0) j["attempt"] = e.attempt;
  if (e.duration_ms > 0) j["durationSeconds"] = static_cast<double>(e.duration_ms) / 1000.0;
  return j;
}

http::Response Overview(Controller& c, const http::Request& r) {
  int limit = 100;
  if (r.HasParam("limit")) {
    auto v = ParseInt64(r.Param("limit"));
    if (!v || *v < 1 || *v > 10000) return Error(400, "bad_data", "invalid parameter \"limit\": expected 1 to 10000");
    limit = static_cast<int>(*v);
  }
  Controller::State st = c.Current();
  json services = json::array();
  for (const auto& s : st.services) {
    json j = {{"service", s.service},
              {"unit", s.unit},
              {"phase", s.phase},
              {"since", FormatTime(s.phase_since_ms)},
              {"detail", s.detail},
              {"attemptsInWindow", s.attempts_in_window},
              {"budgetRemaining", s.budget_remaining},
              {"escalated", s.escalated},
              {"episode", s.episode}};
    if (s.last_mttr) j["lastMttrSeconds"] = static_cast<double>(s.last_mttr->count()) / 1000.0;
    services.push_back(std::move(j));
  }
  json pauses = json::object();
  for (const auto& [service, until] : st.pauses) pauses[service] = until == 0 ? "until resumed" : FormatTime(until);
  json cleanup = json::array();
  for (const auto& cl : st.cleanup) {
    cleanup.push_back({{"filesystem", cl.filesystem},
                       {"roots", cl.roots},
                       {"match", cl.match},
                       {"below", cl.below_free_ratio},
                       {"until", cl.until_free_ratio},
                       {"olderThanSeconds", static_cast<double>(cl.older_than.count()) / 1000.0}});
  }
  auto history = c.History(limit, r.Param("service"));
  if (!history.ok()) return Error(500, "internal", history.status().message());
  json entries = json::array();
  for (const auto& e : *history) entries.push_back(EntryJson(e));
  return Json(200, {{"status", "success"},
                    {"data",
                     {{"mode", ModeName(st.mode)},
                      {"pauses", pauses},
                      {"services", services},
                      {"cleanup", cleanup},
                      {"history", entries}}}});
}

}  // namespace

http::Route NewApiRoute(std::function<std::shared_ptr<Controller>()> current) {
  return {"/api/v1/recovery", [current](const http::Request& r) -> http::Response {
            std::shared_ptr<Controller> c = current();
            if (r.path == "/api/v1/recovery") {
              if (r.method != "GET") return Error(405, "bad_data", "method not allowed: use GET");
              if (!c) {
                return Json(200, {{"status", "success"},
                                  {"data",
                                   {{"mode", "off"},
                                    {"pauses", json::object()},
                                    {"services", json::array()},
                                    {"history", json::array()}}}});
              }
              return Overview(*c, r);
            }
            std::string op = r.path.rfind("/api/v1/recovery/", 0) == 0 ? r.path.substr(17) : "";
            if (op != "pause" && op != "resume" && op != "reset" && op != "drill") {
              return Error(404, "not_found", "not found");
            }
            if (r.method != "POST") return Error(405, "bad_data", "method not allowed: use POST");
            if (!c) return Error(409, "unavailable", "recovery is not configured on this host");
            std::string service = r.Param("service");
            Status s;
            if (op == "pause") {
              Duration d{0};
              if (r.HasParam("for") && !r.Param("for").empty()) {
                auto parsed = ParseDuration(r.Param("for"));
                if (!parsed.ok() || parsed->count() <= 0) {
                  return Error(400, "bad_data", "invalid parameter \"for\": expected a duration such as 30m");
                }
                d = *parsed;
              }
              s = c->Pause(service, d);
            } else if (op == "resume") {
              s = c->Resume(service);
            } else if (op == "drill") {
              Controller::DrillResult d;
              d.service = service;
              d.fault = r.Param("fault");
              for (auto [name, out] : {std::pair{"detect", &d.detect_seconds}, std::pair{"notify", &d.notify_seconds},
                                       std::pair{"recover", &d.recover_seconds}}) {
                if (!r.HasParam(name)) continue;
                char* end = nullptr;
                std::string text = r.Param(name);
                double v = std::strtod(text.c_str(), &end);
                if (text.empty() || *end != '\0' || !std::isfinite(v)) {
                  return Error(400, "bad_data", std::string("invalid parameter \"") + name + "\": expected seconds");
                }
                *out = v;
              }
              s = c->RecordDrill(d);
            } else {
              if (service.empty()) return Error(400, "bad_data", "missing parameter \"service\"");
              s = c->Reset(service);
            }
            if (!s.ok()) return Error(400, "bad_data", s.message());
            return Json(200, {{"status", "success"}});
          }};
}

}  // namespace vigil::recovery
