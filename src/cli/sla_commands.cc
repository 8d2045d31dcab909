#include "cli/sla_commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "alert/mute.h"
#include "cli/output.h"
#include "incidents/api.h"
#include "incidents/ledger.h"

namespace vigil::cli {
namespace {

// A weekly window's active ranges inside `range`: it can only change at a
// minute boundary, so minutes are stepped (44 640 in a 31-day month).
std::vector<incidents::TimeRange> ActiveRanges(const alert::MaintenanceWindow& w, incidents::TimeRange range) {
  std::vector<incidents::TimeRange> out;
  constexpr int64_t kMinuteMs = 60000;
  for (TimestampMs t = AlignDown(range.from_ms, kMinuteMs); t < range.to_ms; t += kMinuteMs) {
    if (!w.Active(t)) continue;
    if (!out.empty() && out.back().to_ms == t) {
      out.back().to_ms = t + kMinuteMs;
    } else {
      out.push_back({t, t + kMinuteMs});
    }
  }
  return out;
}

std::string Seconds(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.3fs", s);
  } else {
    std::snprintf(buf, sizeof buf, "%s", FormatDuration(Duration(static_cast<int64_t>(s * 1000))).c_str());
  }
  return buf;
}

std::string Percent(std::optional<double> ratio) {
  if (!ratio) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f%%", *ratio * 100);
  return buf;
}

}  // namespace

std::vector<incidents::ServiceSlaOptions> SlaOptionsFor(const config::Config& c) {
  std::vector<incidents::ServiceSlaOptions> out;
  for (const auto& s : c.services) {
    if (s.unit.empty()) continue;
    incidents::ServiceSlaOptions o;
    o.service = s.name;
    if (s.slo) o.slo = incidents::Slo{s.slo->objective, s.slo->window};
    std::vector<std::shared_ptr<alert::MaintenanceWindow>> weekly;
    auto add_weekly = [&](const alert::MaintenanceWindowSpec& spec, const std::string& path) {
      Result<alert::MaintenanceWindow> w = alert::MaintenanceWindow::Build(spec, path);
      if (w.ok()) weekly.push_back(std::make_shared<alert::MaintenanceWindow>(std::move(*w)));
    };
    for (size_t i = 0; i < s.maintenance_windows.size(); ++i) {
      const auto& m = s.maintenance_windows[i];
      if (m.weekly) {
        add_weekly(*m.weekly, "services." + s.name + ".maintenance_windows[" + std::to_string(i) + "]");
      } else {
        o.maintenance.push_back({m.start_ms, m.end_ms});
      }
    }
    if (c.alerting) {
      for (size_t i = 0; i < c.alerting->maintenance_windows.size(); ++i) {
        const auto& spec = c.alerting->maintenance_windows[i];
        bool selects = true;
        for (const auto& text : spec.matchers) {
          Result<alert::Matchers> m = alert::ParseMatchers(text);
          selects = selects && m.ok() && alert::MatchesAll(*m, Labels{{"service", s.name}});
        }
        if (selects) add_weekly(spec, "alerting.maintenance_windows[" + std::to_string(i) + "]");
      }
    }
    if (!weekly.empty()) {
      o.recurring_maintenance = [weekly](incidents::TimeRange range) {
        std::vector<incidents::TimeRange> out;
        for (const auto& w : weekly) {
          for (const auto& r : ActiveRanges(*w, range)) out.push_back(r);
        }
        return out;
      };
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::optional<incidents::ServiceState> SlaStateOf(const std::string& service,
                                                  const std::vector<systemd::UnitState>& units, bool probes_ok) {
  bool seen = false, any = false, all_up = true, all_clean = true;
  for (const auto& u : units) {
    if (u.service != service) continue;
    if (!u.fetched) return std::nullopt;
    seen = true;
    if (u.load_state == "not-found") continue;
    any = true;
    if (systemd::IsUp(u)) continue;
    all_up = false;
    // A stop (or restart) job in progress is the operator's; it ends inactive with success.
    bool stopping = u.active_state == "deactivating" && u.job_id != 0;
    all_clean = all_clean && ((u.active_state == "inactive" && u.result == "success") || stopping);
  }
  // None tracked yet (vigil is starting, or a glob matches nothing): not known.
  if (!seen) return std::nullopt;
  if (!any) return incidents::ServiceState::kDownUnplanned;
  if (all_up) return probes_ok ? incidents::ServiceState::kUp : incidents::ServiceState::kDownUnplanned;
  return all_clean ? incidents::ServiceState::kDownPlanned : incidents::ServiceState::kDownUnplanned;
}

bool DependencyStops::DependsOnUnplanned(const std::string& service,
                                         const std::map<std::string, incidents::ServiceState>& states,
                                         std::set<std::string>& seen) const {
  auto deps = depends_on_.find(service);
  if (deps == depends_on_.end()) return false;
  for (const auto& dep : deps->second) {
    if (!seen.insert(dep).second) continue;  // a cycle, or already looked at
    auto it = states.find(dep);
    if (it != states.end() && it->second == incidents::ServiceState::kDownUnplanned) return true;
    if (DependsOnUnplanned(dep, states, seen)) return true;
  }
  return false;
}

void DependencyStops::SetDependsOn(std::map<std::string, std::vector<std::string>> depends_on) {
  depends_on_ = std::move(depends_on);
  std::erase_if(taken_down_, [&](const std::string& service) { return !depends_on_.contains(service); });
}

void DependencyStops::Attribute(std::map<std::string, incidents::ServiceState>& states) {
  using incidents::ServiceState;
  // The stops already attributed first, so a dependent of theirs sees them unplanned whatever the order.
  for (auto& [service, state] : states) {
    if (state == ServiceState::kUp) taken_down_.erase(service);
    if (state == ServiceState::kDownPlanned && taken_down_.count(service)) state = ServiceState::kDownUnplanned;
  }
  for (auto& [service, state] : states) {
    std::set<std::string> seen{service};
    if (state == ServiceState::kDownPlanned && DependsOnUnplanned(service, states, seen)) {
      taken_down_.insert(service);
      state = ServiceState::kDownUnplanned;
    }
  }
}

TimestampMs SlaStateSince(const std::string& service, const std::vector<systemd::UnitState>& units,
                          incidents::ServiceState state, bool probes_ok) {
  constexpr uint64_t kUsPerMs = 1000;
  uint64_t since_us = 0;
  bool up = state == incidents::ServiceState::kUp;
  if (up && !probes_ok) return 0;
  for (const auto& u : units) {
    if (u.service != service) continue;
    if (u.load_state == "not-found") return 0;
    if (up) {
      since_us = std::max(since_us, u.active_enter_us);
      continue;
    }
    if (systemd::IsUp(u)) continue;
    // Still deactivating, or down since before it was last active: systemd has no time for this down yet.
    if (u.active_state == "deactivating" || u.inactive_enter_us <= u.active_enter_us) return 0;
    since_us = since_us == 0 ? u.inactive_enter_us : std::min(since_us, u.inactive_enter_us);
  }
  return static_cast<TimestampMs>(since_us / kUsPerMs);
}

int ShowSla(const SlaCommandOptions& o) {
  config::LoadResult loaded = o.config_path.empty() ? config::LoadDefault() : config::LoadFile(o.config_path);
  if (!loaded.ok()) {
    std::string all;
    for (const auto& p : loaded.problems) all += (all.empty() ? "" : "\n") + p.ToString();
    return Fail(all);
  }
  std::string data_dir = o.data_dir.empty() ? loaded.config.global.data_dir : o.data_dir;
  std::string path = data_dir + "/state.db";
  if (!std::filesystem::exists(path)) {
    return Fail(path + " does not exist: no vigil has recorded service states in " + data_dir +
                " (give --data-dir or --config)");
  }
  Result<std::unique_ptr<incidents::Ledger>> ledger = incidents::Ledger::Open(path, /*read_only=*/true);
  if (!ledger.ok()) return Fail(ledger.status().message());
  Result<incidents::ReportRequest> request =
      incidents::ParseReportRequest(o.service, o.month, o.from, o.to, SystemClock().NowMs());
  if (!request.ok()) return Fail("--" + request.status().message());
  Result<std::vector<incidents::ServiceReport>> reports =
      incidents::BuildReport(**ledger, SlaOptionsFor(loaded.config), *request);
  if (!reports.ok()) return Fail(reports.status().message());
  if (o.as_json) {
    std::printf("%s\n", incidents::ReportJson(*reports).c_str());
    return 0;
  }
  std::printf("%-14s  %-12s  %-8s  %-11s  %-10s  %-10s  %-10s  %s\n", "SERVICE", "STATE", "WINDOW", "AVAILABILITY",
              "UNPLANNED", "PLANNED", "UNKNOWN", "SLO");
  for (const auto& r : *reports) {
    std::string slo = "-";
    if (r.slo) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "%s over %s, budget left %s", Percent(r.slo->objective).c_str(),
                    FormatDuration(r.slo->window).c_str(), Percent(r.budget->remaining_ratio).c_str());
      slo = buf;
    }
    bool first = true;
    for (const auto& w : r.windows) {
      const incidents::Availability& a = w.availability;
      std::printf("%-14s  %-12s  %-8s  %-12s  %-10s  %-10s  %-10s  %s\n", first ? r.service.c_str() : "",
                  first ? std::string(incidents::StateName(r.state)).c_str() : "", w.name.c_str(),
                  Percent(a.Ratio()).c_str(), Seconds(static_cast<double>(a.unplanned_ms) / 1000).c_str(),
                  Seconds(static_cast<double>(a.planned_ms) / 1000).c_str(),
                  Seconds(static_cast<double>(a.unknown_ms) / 1000).c_str(), first ? slo.c_str() : "");
      first = false;
    }
  }
  return 0;
}

}  // namespace vigil::cli
