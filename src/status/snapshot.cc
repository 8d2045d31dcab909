#include "status/snapshot.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace vigil::status {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 5> kStateNames{"up", "degraded", "down", "recovering", "unknown"};
constexpr std::array<const char*, 4> kPriorityNames{"P0", "P1", "P2", "P3"};

json Opt(const OptDouble& v) { return v ? json(*v) : json(nullptr); }

json Counts(const PriorityCounts& c) {
  json j = json::object();
  for (size_t i = 0; i < c.size(); ++i) j[kPriorityNames[i]] = c[i];
  return j;
}

bool Active(const UnitFacts& u) { return u.active_state == "active" || u.active_state == "reloading"; }
bool Loaded(const UnitFacts& u) { return u.load_state.empty() || u.load_state == "loaded"; }

// Readers tolerate a missing or null field: the snapshot leaves unknowns null.
OptDouble GetOpt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}
double GetNum(const json& j, const char* key) { return GetOpt(j, key).value_or(0); }
std::string GetStr(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
std::vector<std::string> GetStrings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}
PriorityCounts GetCounts(const json& j) {
  PriorityCounts c{};
  if (!j.is_object()) return c;
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<int>(GetNum(j, kPriorityNames[i]));
  return c;
}

}  // namespace

std::string_view ServiceStateName(ServiceState s) { return kStateNames[static_cast<size_t>(s)]; }

std::optional<ServiceState> ParseServiceState(std::string_view s) {
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == s) return static_cast<ServiceState>(i);
  }
  return std::nullopt;
}

std::string_view OverallName(Overall o) {
  switch (o) {
    case Overall::kHealthy: return "healthy";
    case Overall::kWarning: return "warning";
    case Overall::kCritical: return "critical";
  }
  return "healthy";
}

StateDecision DecideServiceState(const ServiceFacts& f) {
  if (f.recovering_since) return {ServiceState::kRecovering, f.recovering_since};
  OptDouble down_since;
  bool any_down = false;
  for (const auto& u : f.units) {
    if (u.active_state.empty() && Loaded(u)) continue;  // its state not read yet
    if (Active(u) && Loaded(u)) continue;
    any_down = true;
    if (u.inactive_enter_seconds > 0) down_since = std::max(down_since.value_or(0), u.inactive_enter_seconds);
  }
  if (any_down) return {ServiceState::kDown, down_since};
  bool unit_seen = std::any_of(f.units.begin(), f.units.end(), [](const UnitFacts& u) { return Active(u); });
  if (!unit_seen && !f.service_up) return {ServiceState::kUnknown, {}};
  // vigil_service_up is 0 when none of its units is loaded: a unit vigil cannot find is down.
  if (f.has_unit && !unit_seen && *f.service_up == 0) return {ServiceState::kDown, {}};
  OptDouble up_since;
  for (const auto& u : f.units) {
    if (u.active_enter_seconds > 0) up_since = std::max(up_since.value_or(0), u.active_enter_seconds);
  }
  if ((f.service_up && *f.service_up == 0) || f.severe_alert_firing) {
    OptDouble since = up_since;
    if (f.severe_alert_firing && f.severe_alert_since) since = std::max(since.value_or(0), *f.severe_alert_since);
    return {ServiceState::kDegraded, since};
  }
  return {ServiceState::kUp, up_since};
}

Overall DecideOverall(const std::vector<Service>& services, const PriorityCounts& firing) {
  Overall o = Overall::kHealthy;
  if (firing[1] > 0 || firing[2] > 0) o = Overall::kWarning;
  for (const auto& s : services) {
    if (s.state == ServiceState::kDown) return Overall::kCritical;
    if (s.state == ServiceState::kDegraded || s.state == ServiceState::kRecovering) o = Overall::kWarning;
  }
  return firing[0] > 0 ? Overall::kCritical : o;
}

void SortFiring(std::vector<FiringAlert>& alerts) {
  // An alert without a priority sorts after P3.
  auto rank = [](const FiringAlert& a) {
    return a.priority.size() == 2 && a.priority[0] == 'P' ? a.priority[1] - '0' : 4;
  };
  std::stable_sort(alerts.begin(), alerts.end(), [&](const FiringAlert& a, const FiringAlert& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if (a.since != b.since) return a.since < b.since;
    return a.name < b.name;
  });
}

std::string ToResponseJson(const Snapshot& s) {
  json fs = json::array();
  for (const auto& f : s.host.filesystems) {
    fs.push_back({{"mountpoint", f.mountpoint},
                  {"device", f.device},
                  {"fstype", f.fstype},
                  {"size_bytes", f.size_bytes},
                  {"avail_bytes", f.avail_bytes},
                  {"used_ratio", f.used_ratio},
                  {"fill_bytes_per_second", Opt(f.fill_bytes_per_second)},
                  {"full_in_seconds", Opt(f.full_in_seconds)}});
  }
  json host = {
      {"name", s.host.name},
      {"cpu_busy_ratio", Opt(s.host.cpu_busy_ratio)},
      {"load1", Opt(s.host.load1)},
      {"cpus", s.host.cpus ? json(*s.host.cpus) : json(nullptr)},
      {"memory",
       {{"total_bytes", Opt(s.host.memory_total_bytes)}, {"available_bytes", Opt(s.host.memory_available_bytes)}}},
      {"filesystems", std::move(fs)}};
  json services = json::array();
  for (const auto& sv : s.services) {
    json health = json::array();
    for (const auto& h : sv.health) health.push_back({{"name", h.name}, {"value", Opt(h.value)}, {"text", h.text}});
    services.push_back({{"name", sv.name},
                        {"units", sv.units},
                        {"state", ServiceStateName(sv.state)},
                        {"since", Opt(sv.since)},
                        {"uptime_24h", Opt(sv.uptime_24h)},
                        {"uptime_30d", Opt(sv.uptime_30d)},
                        {"health", std::move(health)},
                        {"alerts", Counts(sv.alerts)},
                        {"depends_on", sv.depends_on}});
  }
  json firing = json::array();
  for (const auto& a : s.alerts.firing) {
    firing.push_back({{"name", a.name},
                      {"priority", a.priority},
                      {"severity", a.severity},
                      {"service", a.service ? json(*a.service) : json(nullptr)},
                      {"since", a.since},
                      {"summary", a.summary},
                      {"labels", a.labels},
                      {"silenced", a.silenced}});
  }
  json counts = Counts(s.alerts.counts);
  counts["pending"] = s.alerts.pending;
  json data = {{"time", s.time},
               {"overall", OverallName(s.overall)},
               {"host", std::move(host)},
               {"services", std::move(services)},
               {"alerts", {{"counts", std::move(counts)}, {"firing", std::move(firing)}}}};
  // Replace, not throw, on invalid UTF-8 in a label or annotation.
  return json{{"status", "success"}, {"data", std::move(data)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Snapshot> ParseSnapshot(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("the status answer is not a JSON object");
  if (j.contains("data")) j = j["data"];
  if (!j.is_object() || !j.contains("services") || !j.contains("overall")) {
    return Status::Error("the status answer has no services/overall: is this vigil's /api/v1/status?");
  }
  Snapshot s;
  s.time = GetNum(j, "time");
  std::string overall = GetStr(j, "overall");
  s.overall = overall == "critical" ? Overall::kCritical : overall == "warning" ? Overall::kWarning : Overall::kHealthy;
  const json& h = j.contains("host") && j["host"].is_object() ? j["host"] : json::object();
  s.host.name = GetStr(h, "name");
  s.host.cpu_busy_ratio = GetOpt(h, "cpu_busy_ratio");
  s.host.load1 = GetOpt(h, "load1");
  if (auto c = GetOpt(h, "cpus")) s.host.cpus = static_cast<int>(*c);
  if (h.contains("memory") && h["memory"].is_object()) {
    s.host.memory_total_bytes = GetOpt(h["memory"], "total_bytes");
    s.host.memory_available_bytes = GetOpt(h["memory"], "available_bytes");
  }
  if (h.contains("filesystems") && h["filesystems"].is_array()) {
    for (const auto& f : h["filesystems"]) {
      s.host.filesystems.push_back({GetStr(f, "mountpoint"), GetStr(f, "device"), GetStr(f, "fstype"),
                                    GetNum(f, "size_bytes"), GetNum(f, "avail_bytes"), GetNum(f, "used_ratio"),
                                    GetOpt(f, "fill_bytes_per_second"), GetOpt(f, "full_in_seconds")});
    }
  }
  if (j["services"].is_array()) {
    for (const auto& v : j["services"]) {
      Service sv;
      sv.name = GetStr(v, "name");
      sv.units = GetStrings(v, "units");
      sv.state = ParseServiceState(GetStr(v, "state")).value_or(ServiceState::kUnknown);
      sv.since = GetOpt(v, "since");
      sv.uptime_24h = GetOpt(v, "uptime_24h");
      sv.uptime_30d = GetOpt(v, "uptime_30d");
      if (v.contains("health") && v["health"].is_array()) {
        for (const auto& hv : v["health"])
          sv.health.push_back({GetStr(hv, "name"), GetOpt(hv, "value"), GetStr(hv, "text")});
      }
      if (v.contains("alerts")) sv.alerts = GetCounts(v["alerts"]);
      sv.depends_on = GetStrings(v, "depends_on");
      s.services.push_back(std::move(sv));
    }
  }
  if (j.contains("alerts") && j["alerts"].is_object()) {
    const json& a = j["alerts"];
    if (a.contains("counts")) {
      s.alerts.counts = GetCounts(a["counts"]);
      s.alerts.pending = static_cast<int>(GetNum(a["counts"], "pending"));
    }
    if (a.contains("firing") && a["firing"].is_array()) {
      for (const auto& f : a["firing"]) {
        FiringAlert fa;
        fa.name = GetStr(f, "name");
        fa.priority = GetStr(f, "priority");
        fa.severity = GetStr(f, "severity");
        if (f.contains("service") && f["service"].is_string()) fa.service = f["service"].get<std::string>();
        fa.since = GetNum(f, "since");
        fa.summary = GetStr(f, "summary");
        fa.silenced = f.contains("silenced") && f["silenced"].is_boolean() && f["silenced"].get<bool>();
        if (f.contains("labels") && f["labels"].is_object()) {
          for (auto it = f["labels"].begin(); it != f["labels"].end(); ++it) {
            if (it.value().is_string()) fa.labels[it.key()] = it.value().get<std::string>();
          }
        }
        s.alerts.firing.push_back(std::move(fa));
      }
    }
  }
  return s;
}

Result<std::string> DataJson(std::string_view response_json) {
  json j = json::parse(response_json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data")) {
    return Status::Error("the status answer has no \"data\" object");
  }
  return j["data"].dump();
}

}  // namespace vigil::status
