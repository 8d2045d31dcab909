#include "incidents/alert_quality.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "alert/alert.h"

namespace vigil::incidents {

namespace {

constexpr Duration kWindowWithoutFor{5 * 60 * 1000};

bool Silenced(const rules::AlertEpisode& e, TimestampMs end, const std::vector<alert::Silence>& silences) {
  for (const auto& s : silences) {
    // Overlap of [fired_at, end) with [starts_at, ends_at).
    if (s.starts_at < end && e.fired_at < s.ends_at && alert::MatchesAll(s.matchers, e.labels)) return true;
  }
  return false;
}

bool ActedOn(const rules::AlertEpisode& e, TimestampMs end, const std::vector<RecoveryActionRun>& actions) {
  std::string_view service = e.labels.Get("service");
  if (service.empty()) return false;
  for (const auto& a : actions) {
    if (a.service == service && e.active_at <= a.time_ms && a.time_ms <= end) return true;
  }
  return false;
}

}  // namespace

Duration AlertQualityWindow(Duration for_duration) {
  return for_duration.count() > 0 ? 2 * for_duration : kWindowWithoutFor;
}

AlertQualityReport ComputeAlertQuality(const AlertQualityInput& in) {
  // One alert = group, rule and labels; its episodes in time order, for flaps.
  using AlertKey = std::tuple<std::string, std::string, Labels>;
  std::map<AlertKey, std::vector<const rules::AlertEpisode*>> by_alert;
  for (const auto& e : in.episodes) {
    if (e.fired_at != 0) by_alert[{e.group_key, e.rule, e.labels}].push_back(&e);
  }
  std::map<std::pair<std::string, TimestampMs>, TimestampMs> delivered;  // (fingerprint, startsAt) -> first
  for (const auto& n : in.notifications) {
    auto [it, fresh] = delivered.emplace(std::make_pair(n.fingerprint, n.starts_at), n.delivered_at);
    if (!fresh) it->second = std::min(it->second, n.delivered_at);
  }
  struct Acc {
    RuleQuality q;
    TimestampMs newest = 0;
    double firing_ms = 0;
    std::vector<double> notify_seconds;
  };
  std::map<std::string, Acc> by_rule;
  for (auto& [key, eps] : by_alert) {
    std::sort(eps.begin(), eps.end(), [](const auto* a, const auto* b) { return a->fired_at < b->fired_at; });
    const rules::AlertEpisode* previous = nullptr;
    for (const rules::AlertEpisode* e : eps) {
      const rules::AlertEpisode* before = previous;
      previous = e;
      if (e->fired_at < in.from_ms || e->fired_at >= in.to_ms) continue;
      Acc& acc = by_rule[e->rule];
      RuleQuality& q = acc.q;
      q.rule = e->rule;
      if (e->fired_at >= acc.newest) {
        acc.newest = e->fired_at;
        q.severity = e->severity;
      }
      const Duration window = AlertQualityWindow(e->for_duration);
      ++q.fired;
      if (before != nullptr && before->resolved_at != 0 && e->fired_at - before->resolved_at <= window.count()) {
        ++q.flaps;
      }
      const TimestampMs end = e->resolved_at != 0 ? e->resolved_at : in.to_ms;
      const bool silenced = Silenced(*e, end, in.silences);
      const bool acted = ActedOn(*e, end, in.actions);
      q.silenced += silenced ? 1 : 0;
      q.acted_on += acted ? 1 : 0;
      if (auto d = delivered.find({alert::Fingerprint(e->labels), e->fired_at}); d != delivered.end()) {
        acc.notify_seconds.push_back(static_cast<double>(std::max<TimestampMs>(0, d->second - e->fired_at)) / 1000);
      }
      if (e->resolved_at == 0) continue;
      ++q.resolved;
      acc.firing_ms += static_cast<double>(e->resolved_at - e->fired_at);
      if (!silenced && !acted && e->resolved_at - e->fired_at <= window.count()) ++q.self_resolved;
    }
  }
  AlertQualityReport report;
  for (auto& [rule, acc] : by_rule) {
    if (acc.q.resolved > 0) acc.q.mean_firing_seconds = acc.firing_ms / 1000.0 / static_cast<double>(acc.q.resolved);
    std::vector<double>& ns = acc.notify_seconds;
    if (!ns.empty()) {
      std::sort(ns.begin(), ns.end());
      acc.q.notified = static_cast<int64_t>(ns.size());
      double sum = 0;
      for (double x : ns) sum += x;
      acc.q.mean_notify_seconds = sum / static_cast<double>(ns.size());
      const size_t mid = ns.size() / 2;
      acc.q.median_notify_seconds = ns.size() % 2 == 1 ? ns[mid] : (ns[mid - 1] + ns[mid]) / 2;
      acc.q.max_notify_seconds = ns.back();
    }
    report.fired += acc.q.fired;
    report.self_resolved += acc.q.self_resolved;
    report.rules.push_back(std::move(acc.q));
  }
  // Noisiest first: false positives, then flaps, then how often it fires.
  std::sort(report.rules.begin(), report.rules.end(), [](const RuleQuality& a, const RuleQuality& b) {
    return std::make_tuple(-a.self_resolved, -a.flaps, -a.fired, a.rule) <
           std::make_tuple(-b.self_resolved, -b.flaps, -b.fired, b.rule);
  });
  return report;
}

}  // namespace vigil::incidents
