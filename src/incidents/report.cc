#include "incidents/report.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "base/log.h"

namespace vigil::incidents {
namespace {

using json = nlohmann::json;

constexpr int64_t kHourMs = 3600LL * 1000;
constexpr int64_t kDayMs = 24 * kHourMs;

struct NamedLength {
  const char* name;
  int64_t ms;
};
// Rolling windows every service reports.
constexpr NamedLength kRollingWindows[] = {{"24h", kDayMs}, {"7d", 7 * kDayMs}, {"30d", 30 * kDayMs}};
// Burn rates over the multiwindow set of Google's SRE workbook.
constexpr NamedLength kBurnWindows[] = {{"1h", kHourMs}, {"6h", 6 * kHourMs}, {"24h", kDayMs}, {"3d", 3 * kDayMs}};
// The ledger keeps a little more than the longest window reports read.
constexpr int64_t kKeepMs = 400 * kDayMs;

json Number(std::optional<double> v) { return v ? json(*v) : json(nullptr); }

json AvailabilityJson(const std::string& name, const Availability& a) {
  return {{"window", name},
          {"from", static_cast<double>(a.from_ms) / 1000},
          {"to", static_cast<double>(a.to_ms) / 1000},
          {"availability", Number(a.Ratio())},
          {"up_seconds", static_cast<double>(a.up_ms) / 1000},
          {"unplanned_downtime_seconds", static_cast<double>(a.unplanned_ms) / 1000},
          {"planned_downtime_seconds", static_cast<double>(a.planned_ms) / 1000},
          {"unknown_seconds", static_cast<double>(a.unknown_ms) / 1000}};
}

}  // namespace

Result<std::vector<ServiceReport>> BuildReport(Ledger& ledger, const std::vector<ServiceSlaOptions>& services,
                                               const ReportRequest& request) {
  std::map<std::string, const ServiceSlaOptions*> by_name;
  for (const auto& s : services) by_name[s.service] = &s;
  Result<std::vector<std::string>> known = ledger.Services();
  if (!known.ok()) return known.status();
  for (const auto& name : *known) by_name.try_emplace(name, nullptr);
  static const ServiceSlaOptions kNoOptions;
  TimestampMs now = request.now_ms;
  std::vector<ServiceReport> out;
  for (const auto& [name, options_ptr] : by_name) {
    if (!request.service.empty() && name != request.service) continue;
    const ServiceSlaOptions& options = options_ptr != nullptr ? *options_ptr : kNoOptions;
    TimestampMs earliest = now - kRollingWindows[2].ms;
    if (options.slo) earliest = std::min(earliest, now - options.slo->window.count());
    if (request.range) earliest = std::min(earliest, request.range->from_ms);
    Result<std::vector<Transition>> transitions = ledger.Transitions(name, earliest);
    if (!transitions.ok()) return transitions.status();
    const std::vector<Transition>& t = *transitions;
    std::vector<TimeRange> maintenance = options.maintenance;
    if (options.recurring_maintenance) {
      // Maintenance only changes how unplanned down time counts, so weekly
      // windows are expanded over those stretches, not over all 30 days.
      TimestampMs latest = request.range ? std::max(now, request.range->to_ms) : now;
      for (size_t i = 0; i < t.size(); ++i) {
        if (t[i].state != ServiceState::kDownUnplanned) continue;
        TimeRange down{std::max(t[i].time_ms, earliest), i + 1 < t.size() ? t[i + 1].time_ms : latest};
        if (down.to_ms <= down.from_ms) continue;
        for (const auto& m : options.recurring_maintenance(down)) maintenance.push_back(m);
      }
    }
    ServiceReport r;
    r.service = name;
    if (!t.empty()) r.state = t.back().state, r.since_ms = t.back().time_ms;
    for (const auto& w : kRollingWindows) r.windows.push_back({w.name, Compute(t, maintenance, now - w.ms, now)});
    if (request.range) {
      r.windows.push_back({request.range_name, Compute(t, maintenance, request.range->from_ms, request.range->to_ms)});
    }
    if (options.slo) {
      r.slo = options.slo;
      r.slo_window = Compute(t, maintenance, now - options.slo->window.count(), now);
      r.budget = Budget(*r.slo_window, *options.slo);
      for (const auto& w : kBurnWindows) {
        r.burn_rates.emplace_back(w.name, BurnRate(Compute(t, maintenance, now - w.ms, now), *options.slo));
      }
    }
    out.push_back(std::move(r));
  }
  if (!request.service.empty() && out.empty()) {
    return Status::Error("no service named \"" + request.service + "\" in the configuration or the SLA ledger");
  }
  return out;
}

std::string ReportJson(const std::vector<ServiceReport>& reports) {
  json all = json::array();
  for (const auto& r : reports) {
    json s = {{"service", r.service},
              {"state", std::string(StateName(r.state))},
              {"since", r.since_ms > 0 ? json(static_cast<double>(r.since_ms) / 1000) : json(nullptr)}};
    json windows = json::array();
    for (const auto& w : r.windows) windows.push_back(AvailabilityJson(w.name, w.availability));
    s["windows"] = std::move(windows);
    if (r.slo) {
      json burn = json::object();
      for (const auto& [name, rate] : r.burn_rates) burn[name] = Number(rate);
      s["slo"] = {{"objective", r.slo->objective},
                  {"window", FormatDuration(r.slo->window)},
                  {"availability", Number(r.slo_window->Ratio())},
                  {"error_budget_seconds", r.budget->budget_ms / 1000},
                  {"error_budget_spent_seconds", r.budget->spent_ms / 1000},
                  {"error_budget_remaining_ratio", Number(r.budget->remaining_ratio)},
                  {"burn_rate", std::move(burn)}};
    } else {
      s["slo"] = nullptr;
    }
    all.push_back(std::move(s));
  }
  return all.dump();
}

void AppendReportMetrics(const std::vector<ServiceReport>& reports, MetricBatch& out) {
  for (const auto& r : reports) {
    for (const auto& w : r.windows) {
      const Availability& a = w.availability;
      if (auto ratio = a.Ratio()) {
        out.AddGauge("vigil_service_availability_ratio",
                     "Share of the window's known time the service was not down unplanned (planned downtime and "
                     "time vigil was not running do not count).",
                     Labels{{"service", r.service}, {"window", w.name}}, *ratio);
      }
      for (auto [kind, ms] : {std::pair{"planned", a.planned_ms}, std::pair{"unplanned", a.unplanned_ms}}) {
        out.AddGauge("vigil_service_downtime_seconds", "Downtime in the rolling window, by kind.",
                     Labels{{"service", r.service}, {"window", w.name}, {"kind", kind}},
                     static_cast<double>(ms) / 1000);
      }
      out.AddGauge("vigil_service_sla_unknown_seconds",
                   "Time in the rolling window when vigil was not running, so the service's state is unknown.",
                   Labels{{"service", r.service}, {"window", w.name}}, static_cast<double>(a.unknown_ms) / 1000);
    }
    if (!r.slo) continue;
    out.AddGauge("vigil_slo_objective_ratio", "The service's availability objective.", Labels{{"service", r.service}},
                 r.slo->objective);
    if (r.budget->remaining_ratio) {
      out.AddGauge("vigil_slo_error_budget_remaining_ratio",
                   "Share of the error budget over the SLO window not yet spent on unplanned downtime (negative "
                   "once overspent).",
                   Labels{{"service", r.service}}, *r.budget->remaining_ratio);
    }
    for (const auto& [name, rate] : r.burn_rates) {
      if (!rate) continue;
      out.AddGauge("vigil_slo_burn_rate",
                   "How fast unplanned downtime in the window spends the error budget (1: exactly the budget over "
                   "the SLO window).",
                   Labels{{"service", r.service}, {"window", name}}, *rate);
    }
  }
}

Result<std::unique_ptr<Tracker>> Tracker::Open(const std::string& state_path, std::vector<ServiceSlaOptions> services,
                                               TimestampMs now_ms) {
  Result<std::unique_ptr<Ledger>> ledger = Ledger::Open(state_path);
  if (!ledger.ok()) return ledger.status();
  Status s = (*ledger)->CloseInterruptedRun();
  if (s.ok()) s = (*ledger)->Heartbeat(now_ms);
  if (!s.ok()) return s;
  return std::unique_ptr<Tracker>(new Tracker(std::move(*ledger), std::move(services)));
}

void Tracker::SetServices(std::vector<ServiceSlaOptions> services) {
  std::lock_guard lock(mu_);
  services_ = std::move(services);
}

void Tracker::Observe(const std::string& service, ServiceState state, TimestampMs time_ms) {
  std::lock_guard lock(mu_);
  Status s = ledger_->Record(service, time_ms, state);
  if (!s.ok()) LogError("SLA ledger not updated", {{"service", service}, {"err", s.message()}});
}

void Tracker::Heartbeat(TimestampMs time_ms) {
  std::lock_guard lock(mu_);
  Status s = ledger_->Heartbeat(time_ms);
  if (s.ok() && time_ms - last_trim_ms_ > kDayMs) {
    s = ledger_->Trim(time_ms - kKeepMs);
    last_trim_ms_ = time_ms;
  }
  if (!s.ok()) LogError("SLA ledger heartbeat not written", {{"err", s.message()}});
}

Result<std::vector<ServiceReport>> Tracker::Report(const ReportRequest& request) {
  std::lock_guard lock(mu_);
  return BuildReport(*ledger_, services_, request);
}

void Tracker::AppendMetrics(TimestampMs now_ms, MetricBatch& out) {
  ReportRequest request;
  request.now_ms = now_ms;
  Result<std::vector<ServiceReport>> reports = Report(request);
  if (!reports.ok()) {
    out.ReportError("sla", reports.status().message());
    return;
  }
  AppendReportMetrics(*reports, out);
}

}  // namespace vigil::incidents
