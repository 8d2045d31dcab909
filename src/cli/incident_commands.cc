#include "cli/incident_commands.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/output.h"
#include "http/client.h"

namespace vigil::cli {

namespace {

std::string Seconds(const std::optional<int64_t>& ms) {
  if (!ms) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(*ms) / 1000);
  return buf;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s.empty() ? "-" : s;
}

// The charts' data from the agent's Prometheus API; the error says why not.
Result<std::vector<incidents::ChartSeries>> ChartsFromServer(const std::string& server,
                                                             const incidents::Incident& inc) {
  std::optional<incidents::ChartRequest> req = incidents::IncidentChartRequest(inc, SystemClock().NowMs());
  if (!req) return std::vector<incidents::ChartSeries>{};
  std::string encoded;
  for (unsigned char c : req->query) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%%%02X", c);
    encoded += std::isalnum(c) != 0 ? std::string(1, static_cast<char>(c)) : std::string(hex);
  }
  char range[128];
  std::snprintf(range, sizeof range, "&start=%.3f&end=%.3f&step=%.3f", static_cast<double>(req->start_ms) / 1000,
                static_cast<double>(req->end_ms) / 1000, static_cast<double>(req->step_ms) / 1000);
  auto r = http::Get(server, "/api/v1/query_range?query=" + encoded + range, Duration(30000));
  if (!r.ok()) return r.status();
  if (r->status != 200) return Status::Error(ApiError(*r));
  auto body = nlohmann::json::parse(r->body, nullptr, false);
  if (body.is_discarded() || !body.contains("data") || !body["data"].contains("result")) {
    return Status::Error("the answer is not a Prometheus query result");
  }
  std::vector<incidents::ChartSeries> out;
  for (const auto& s : body["data"]["result"]) {
    std::vector<std::pair<TimestampMs, double>> points;
    for (const auto& p : s.value("values", nlohmann::json::array())) {
      if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_string()) continue;
      points.emplace_back(static_cast<TimestampMs>(p[0].get<double>() * 1000 + 0.5),
                          std::strtod(p[1].get<std::string>().c_str(), nullptr));
    }
    out.push_back(incidents::ChangesOnly(s["metric"].value("service", ""), points));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace

incidents::IncidentConfig IncidentConfigFor(const config::Config& c) {
  incidents::IncidentConfig out;
  for (const auto& s : c.services) out.depends_on[s.name] = s.depends_on;
  if (c.alerting) {
    out.severities = c.alerting->severities;
    for (size_t i = 0; i < c.alerting->inhibit_rules.size(); ++i) {
      auto r =
          alert::BuildInhibitRule(c.alerting->inhibit_rules[i], "alerting.inhibit_rules[" + std::to_string(i) + "]");
      if (r.ok()) out.inhibit_rules.push_back(std::move(*r));
    }
  }
  return out;
}

int Incidents(const IncidentCommandOptions& o) {
  config::LoadResult loaded = o.config_path.empty() ? config::LoadDefault() : config::LoadFile(o.config_path);
  if (!loaded.ok()) {
    std::string all;
    for (const auto& p : loaded.problems) all += (all.empty() ? "" : "\n") + p.ToString();
    return Fail(all);
  }
  const std::string format = o.as_json ? "json" : (o.format.empty() ? "text" : o.format);
  if (format != "text" && format != "json" && format != "md") {
    return Fail("--format: expected text, json or md, got \"" + o.format + "\"");
  }
  if (o.id.empty() && format == "md") return Fail("--format md: only for `vigil incidents show ID`");
  const TimestampMs now = SystemClock().NowMs();
  Result<incidents::TimeRange> range{incidents::TimeRange{}};
  if (o.id.empty()) {
    range = incidents::ParseIncidentRange(o.since, o.from, o.to, now, "--");
    if (!range.ok()) return Fail(range.status().message());
  }
  Result<int64_t> id{0};
  if (!o.id.empty()) {
    id = incidents::ParseIncidentId(o.id);
    if (!id.ok()) return Fail(id.status().message());
  }
  const std::string data_dir = o.data_dir.empty() ? loaded.config.global.data_dir : o.data_dir;
  const std::string path = data_dir + "/state.db";
  if (!std::filesystem::is_regular_file(path)) {
    return Fail(path + ": no such file (is --data-dir the agent's data directory?)");
  }
  auto tracker = incidents::IncidentTracker::Open(path, IncidentConfigFor(loaded.config), /*read_only=*/true);
  if (!tracker.ok()) return Fail(tracker.status().message());
  auto explain = [&](const Status& s) {
    std::string msg = s.message();
    if (msg.find("no such table") != std::string::npos)
      msg += " (no vigil that files incidents has run on " + path + ")";
    return Fail(msg);
  };

  if (o.id.empty()) {
    auto list = (*tracker)->List(range->from_ms, range->to_ms);
    if (!list.ok()) return explain(list.status());
    if (format == "json") {
      std::printf("%s\n", nlohmann::json::parse(incidents::IncidentListJson(*list)).dump(2).c_str());
      return 0;
    }
    std::printf("incidents %s .. %s\n", FormatTime(range->from_ms).c_str(), FormatTime(range->to_ms).c_str());
    std::printf("%-6s %-24s %-9s %-14s %-24s %-24s %10s %10s  %s\n", "ID", "START", "SEVERITY", "ROOT", "ALERT",
                "SERVICES", "MTTD", "MTTR", "END");
    for (const auto& inc : *list) {
      std::string mttd = Seconds(inc.mttd_ms) + (inc.mttd_from_firing ? "*" : "");
      std::printf("%-6lld %-24s %-9s %-14s %-24s %-24s %10s %10s  %s\n", static_cast<long long>(inc.id),
                  FormatTime(inc.start_ms).c_str(), inc.severity.c_str(),
                  inc.root_service.empty() ? "-" : inc.root_service.c_str(), inc.root_alert.c_str(),
                  Join(inc.services).c_str(), mttd.c_str(), Seconds(inc.mttr_ms).c_str(),
                  inc.end_ms != 0 ? FormatTime(inc.end_ms).c_str() : "ongoing");
    }
    if (list->empty()) std::printf("(no incident in this range)\n");
    if (std::any_of(list->begin(), list->end(), [](const auto& i) { return i.mttd_from_firing; })) {
      std::printf("* no notification was delivered: MTTD counts to firing\n");
    }
    return 0;
  }

  auto inc = (*tracker)->Show(*id, now);
  if (!inc.ok()) return explain(inc.status());
  if (format == "json") {
    std::printf("%s\n", nlohmann::json::parse(incidents::IncidentJson(*inc)).dump(2).c_str());
    return 0;
  }
  if (format == "md") {
    std::vector<incidents::ChartSeries> charts;
    std::string note = "Omitted: read offline; give --server URL (the running vigil) for the services' state series.";
    if (!o.server.empty()) {
      auto fetched = ChartsFromServer(o.server, *inc);
      if (fetched.ok()) {
        charts = std::move(*fetched);
        note = "No samples of vigil_service_up for these services on " + o.server + ".";
      } else {
        note = "Omitted: " + o.server + " did not answer: " + fetched.status().message();
      }
    }
    std::printf("%s", incidents::IncidentMarkdown(*inc, charts, note).c_str());
    return 0;
  }
  std::printf("incident %lld: %s on %s (%s)\n", static_cast<long long>(inc->id), inc->root_alert.c_str(),
              inc->root_service.empty() ? "-" : inc->root_service.c_str(), inc->severity.c_str());
  std::printf("services: %s\nalerts: %s\n", Join(inc->services).c_str(), Join(inc->alerts).c_str());
  std::printf("start: %s  end: %s\n", FormatTime(inc->start_ms).c_str(),
              inc->end_ms != 0 ? FormatTime(inc->end_ms).c_str() : "ongoing");
  std::printf("MTTD: %s%s\nMTTR: %s%s\n", Seconds(inc->mttd_ms).c_str(),
              inc->mttd_from_firing ? " (no notification delivered: to firing)" : " (to the first notification)",
              Seconds(inc->mttr_ms).c_str(),
              inc->mttr_source == "service_up" ? " (to the root service active again)"
              : inc->mttr_source.empty()       ? " (not recovered)"
                                               : " (to the root alert resolved)");
  if (inc->timeline.empty()) std::printf("timeline: no longer available (the source tables were trimmed)\n");
  for (const auto& e : inc->timeline) {
    std::printf("  %s  +%9.3fs  %s\n", FormatTime(e.time_ms).c_str(),
                static_cast<double>(e.time_ms - inc->start_ms) / 1000, incidents::DescribeEvent(e).c_str());
  }
  return 0;
}

}  // namespace vigil::cli
