#include "incidents/incident.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <numeric>
#include <set>
#include <tuple>

#include "alert/alert.h"

namespace vigil::incidents {

namespace {

constexpr TimestampMs kOpenEnd = INT64_MAX;

TimestampMs EndOf(const rules::AlertEpisode& e) { return e.resolved_at != 0 ? e.resolved_at : kOpenEnd; }

std::string AlertName(const rules::AlertEpisode& e) {
  std::string_view name = e.labels.Get("alertname");
  return name.empty() ? e.rule : std::string(name);
}

// How much earlier than its dependency's alert a dependent's may begin and
// still be what the dependency took down (the dependent noticed first: its
// probe failed before the dependency's alert became pending).
constexpr Duration kCauseSlack{5 * 60 * 1000};

// service -> every service it needs, directly or through others.
std::map<std::string, std::set<std::string>> DependencyClosure(
    const std::map<std::string, std::vector<std::string>>& depends_on) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [service, direct] : depends_on) {
    std::set<std::string>& seen = out[service];
    std::vector<std::string> todo(direct.begin(), direct.end());
    while (!todo.empty()) {
      std::string next = std::move(todo.back());
      todo.pop_back();
      if (next == service || !seen.insert(next).second) continue;
      if (auto it = depends_on.find(next); it != depends_on.end())
        todo.insert(todo.end(), it->second.begin(), it->second.end());
    }
  }
  return out;
}

bool Needs(const std::map<std::string, std::set<std::string>>& closure, const std::string& a, const std::string& b) {
  auto it = closure.find(a);
  return it != closure.end() && it->second.count(b) > 0;
}

bool Inhibits(const alert::InhibitRule& r, const Labels& source, const Labels& target) {
  if (!alert::MatchesAll(r.source, source) || !alert::MatchesAll(r.target, target)) return false;
  for (const auto& name : r.equal) {
    if (source.Get(name) != target.Get(name)) return false;
  }
  return true;
}

struct Linker {
  const IncidentInput& in;
  std::map<std::string, std::set<std::string>> closure = DependencyClosure(in.depends_on);

  // `a` began no later than `b`. A dependency's failure takes its dependents
  // down, not the other way round: an alert on a dependent that began well
  // before its dependency's (a validator lagging for hours before bitcoind
  // died) is its own problem, not part of what the dependency took down.
  // kCauseSlack allows for the dependent being noticed first.
  bool Linked(const rules::AlertEpisode& a, const rules::AlertEpisode& b) const {
    std::string sa(a.labels.Get("service")), sb(b.labels.Get("service"));
    if (!sa.empty() && !sb.empty()) {
      if (sa == sb || Needs(closure, sb, sa)) return true;
      if (Needs(closure, sa, sb) && b.active_at - a.active_at <= kCauseSlack.count()) return true;
    }
    for (const auto& r : in.inhibit_rules) {
      if (Inhibits(r, a.labels, b.labels) || Inhibits(r, b.labels, a.labels)) return true;
    }
    return false;
  }
};

int Find(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

// Ties in time: evidence first, resolution last, the rest in the order things happen.
int KindOrder(const std::string& kind) {
  static const char* kOrder[] = {"first_evidence",    "service_down",    "pending",          "firing",
                                 "notified",          "systemd_restart", "recovery_started", "service_up",
                                 "recovery_verified", "recovery_failed", "recovery_done",    "resolved",
                                 "resolution"};
  for (size_t i = 0; i < std::size(kOrder); ++i) {
    if (kind == kOrder[i]) return static_cast<int>(i);
  }
  return static_cast<int>(std::size(kOrder));
}

// Milliseconds as seconds to the millisecond, with minutes and hours spelled out past a minute.
std::string Ms(int64_t ms) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ms) / 1000);
  if (ms < 60000) return buf;
  return std::string(buf) + " (" + FormatDuration(Duration(ms / 1000 * 1000)) + ")";
}

}  // namespace

std::optional<Incident> BuildIncident(const std::vector<int64_t>& episode_ids, const IncidentInput& in) {
  std::set<int64_t> wanted(episode_ids.begin(), episode_ids.end());
  std::vector<const rules::AlertEpisode*> members;
  for (const auto& e : in.episodes) {
    if (wanted.count(e.id) && e.fired_at != 0) members.push_back(&e);
  }
  if (members.empty()) return std::nullopt;
  std::sort(members.begin(), members.end(),
            [](const auto* a, const auto* b) { return std::tie(a->active_at, a->id) < std::tie(b->active_at, b->id); });
  Incident inc;
  std::set<std::string> services, alerts;
  Priority top = SeverityMap::kUnmapped;
  bool open = false;
  TimestampMs end = 0;
  for (const auto* e : members) {
    inc.episode_ids.push_back(e->id);
    if (std::string_view s = e->labels.Get("service"); !s.empty()) services.emplace(s);
    alerts.insert(AlertName(*e));
    Priority p = in.severities.Of(e->severity);
    if (inc.severity.empty() || p < top) {
      top = p;
      inc.severity = e->severity;
    }
    if (e->resolved_at == 0) open = true;
    end = std::max(end, e->resolved_at);
  }
  std::sort(inc.episode_ids.begin(), inc.episode_ids.end());
  inc.end_ms = open ? 0 : end;

  // The root: a member service needing no other member service; of several,
  // the one whose alert came first (members are in that order).
  const auto closure = DependencyClosure(in.depends_on);
  for (const auto* e : members) {
    std::string s(e->labels.Get("service"));
    if (s.empty()) continue;
    bool needs_another = std::any_of(services.begin(), services.end(),
                                     [&](const std::string& other) { return other != s && Needs(closure, s, other); });
    if (!needs_another) {
      inc.root_service = s;
      break;
    }
  }
  const rules::AlertEpisode* root = members.front();
  for (const auto* e : members) {
    if (e->labels.Get("service") == inc.root_service) {
      root = e;
      break;
    }
  }
  inc.root_alert = AlertName(*root);
  if (!inc.root_service.empty()) inc.services.push_back(inc.root_service);
  for (const auto& s : services) {
    if (s != inc.root_service) inc.services.push_back(s);
  }
  inc.alerts.assign(alerts.begin(), alerts.end());

  // First evidence: the root service's down transition (systemd's own time)
  // starting the stretch its first alert fired in, else the earliest alert.
  TimestampMs root_down = 0;  // 0: no down transition found (an optional trips GCC 12's maybe-uninitialized)
  const std::vector<Transition>* root_ledger = nullptr;
  if (auto it = in.transitions.find(inc.root_service); it != in.transitions.end()) root_ledger = &it->second;
  if (root_ledger != nullptr) {
    ServiceState previous = ServiceState::kUnknown;
    for (const Transition& t : *root_ledger) {
      if (t.time_ms > root->fired_at) break;
      const bool down = t.state == ServiceState::kDownUnplanned || t.state == ServiceState::kDownPlanned;
      const bool was_down = previous == ServiceState::kDownUnplanned || previous == ServiceState::kDownPlanned;
      if (down && !was_down) root_down = t.time_ms;
      if (t.state == ServiceState::kUp) root_down = 0;
      previous = t.state;
    }
  }
  inc.start_ms = members.front()->active_at;
  if (root_down != 0) inc.start_ms = std::min(inc.start_ms, root_down);
  const TimestampMs window_end = open ? kOpenEnd : inc.end_ms;

  std::vector<TimelineEvent>& tl = inc.timeline;
  tl.push_back({inc.start_ms, "first_evidence", inc.root_service, root_down != 0 ? "" : inc.root_alert,
                root_down != 0 ? "the SLA ledger's down transition" : "the earliest alert became pending"});
  std::map<std::pair<std::string, TimestampMs>, TimestampMs> delivered;  // (fingerprint, startsAt) -> first
  for (const auto& n : in.notifications) {
    auto [it, fresh] = delivered.emplace(std::make_pair(n.fingerprint, n.starts_at), n.delivered_at);
    if (!fresh) it->second = std::min(it->second, n.delivered_at);
  }
  TimestampMs first_fired = kOpenEnd;
  for (const auto* e : members) {
    std::string service(e->labels.Get("service")), name = AlertName(*e);
    tl.push_back({e->active_at, "pending", service, name, e->severity});
    tl.push_back({e->fired_at, "firing", service, name, e->severity});
    first_fired = std::min(first_fired, e->fired_at);
    if (e->resolved_at != 0) tl.push_back({e->resolved_at, "resolved", service, name, ""});
    if (auto d = delivered.find({alert::Fingerprint(e->labels), e->fired_at}); d != delivered.end()) {
      tl.push_back({d->second, "notified", service, name, "first notification delivered"});
      if (!inc.first_notified_ms || d->second < *inc.first_notified_ms) inc.first_notified_ms = d->second;
    }
  }
  // What the ledger saw of each affected service during the incident.
  std::optional<TimestampMs> root_up;
  for (const auto& s : inc.services) {
    auto it = in.transitions.find(s);
    if (it == in.transitions.end()) continue;
    for (const Transition& t : it->second) {
      if (t.time_ms < inc.start_ms || t.time_ms > window_end) continue;
      if (t.state == ServiceState::kUp) {
        tl.push_back({t.time_ms, "service_up", s, "", "active again"});
        if (s == inc.root_service && root_down != 0 && !root_up) root_up = t.time_ms;
      } else if (t.state != ServiceState::kUnknown) {
        tl.push_back({t.time_ms, "service_down", s, "", std::string(StateName(t.state))});
      }
    }
  }
  // The root may come back after its alerts resolved (a `for` on the way down is rare, but a ledger is exact).
  if (root_down != 0 && !root_up && root_ledger != nullptr) {
    for (const Transition& t : *root_ledger) {
      if (t.time_ms > root_down && t.state == ServiceState::kUp) {
        root_up = t.time_ms;
        tl.push_back({t.time_ms, "service_up", inc.root_service, "", "active again"});
        break;
      }
    }
  }
  for (const auto& r : in.recovery) {
    if (!services.count(r.service) || r.time_ms < inc.start_ms || r.time_ms > window_end) continue;
    if (r.kind == "systemd_restart") {
      tl.push_back({r.time_ms, "systemd_restart", r.service, "", "systemd restarted " + r.target});
      continue;
    }
    if (r.kind != "action" || r.outcome == "dry-run") continue;
    std::string what = r.action + (r.target.empty() ? "" : " " + r.target);
    tl.push_back({r.time_ms, "recovery_started", r.service, "", what});
    const TimestampMs done = r.time_ms + std::max<int64_t>(0, r.duration_ms);
    if (r.outcome == "verified") {
      tl.push_back({done, "recovery_verified", r.service, "", what + ": verified"});
    } else if (r.outcome == "verify_failed" || r.outcome == "failed" || r.outcome == "interrupted") {
      tl.push_back({done, "recovery_failed", r.service, "", what + ": " + r.outcome});
    } else if (r.outcome == "done" || r.outcome == "partial") {
      tl.push_back({done, "recovery_done", r.service, "", what + ": " + r.outcome});
    }
  }
  if (!open) tl.push_back({inc.end_ms, "resolution", inc.root_service, "", "every alert resolved"});
  std::stable_sort(tl.begin(), tl.end(), [](const TimelineEvent& a, const TimelineEvent& b) {
    return std::make_tuple(a.time_ms, KindOrder(a.kind)) < std::make_tuple(b.time_ms, KindOrder(b.kind));
  });

  if (inc.first_notified_ms) {
    inc.mttd_ms = std::max<int64_t>(0, *inc.first_notified_ms - inc.start_ms);
  } else {
    inc.mttd_ms = std::max<int64_t>(0, first_fired - inc.start_ms);
    inc.mttd_from_firing = true;
  }
  if (root_up) {
    inc.mttr_ms = *root_up - inc.start_ms;
    inc.mttr_source = "service_up";
  } else {
    // The root alert's resolution: its last episode in this incident, if that ended.
    TimestampMs resolved = 0;
    bool root_open = false;
    for (const auto* e : members) {
      if (e->group_key != root->group_key || e->rule != root->rule || e->labels != root->labels) continue;
      if (e->resolved_at == 0) root_open = true;
      resolved = std::max(resolved, e->resolved_at);
    }
    if (!root_open && resolved != 0) {
      inc.mttr_ms = resolved - inc.start_ms;
      inc.mttr_source = "alert_resolved";
    }
  }
  return inc;
}

std::vector<Incident> GroupIncidents(const IncidentInput& in) {
  std::vector<int> idx;
  for (size_t i = 0; i < in.episodes.size(); ++i) {
    if (in.episodes[i].fired_at != 0) idx.push_back(static_cast<int>(i));
  }
  std::sort(idx.begin(), idx.end(), [&](int a, int b) {
    return std::tie(in.episodes[a].active_at, in.episodes[a].id) <
           std::tie(in.episodes[b].active_at, in.episodes[b].id);
  });
  std::vector<int> parent(in.episodes.size());
  std::iota(parent.begin(), parent.end(), 0);
  Linker linker{in};
  // A sweep in start order: each episode meets the earlier ones still open
  // (or, for the same alert, resolved within its flap window); the others
  // can meet no later episode either, so they leave the sweep.
  std::vector<int> open;
  for (int j : idx) {
    const rules::AlertEpisode& b = in.episodes[j];
    std::erase_if(open, [&](int i) {
      const rules::AlertEpisode& a = in.episodes[i];
      return EndOf(a) != kOpenEnd && EndOf(a) + AlertQualityWindow(a.for_duration).count() < b.active_at;
    });
    for (int i : open) {
      const rules::AlertEpisode& a = in.episodes[i];
      const bool same_alert = a.group_key == b.group_key && a.rule == b.rule && a.labels == b.labels;
      const TimestampMs a_end = EndOf(a);
      if (b.active_at < a_end ? linker.Linked(a, b)
                              : same_alert && b.active_at - a_end <= AlertQualityWindow(a.for_duration).count()) {
        parent[Find(parent, i)] = Find(parent, j);
      }
    }
    open.push_back(j);
  }
  std::map<int, std::vector<int64_t>> groups;
  for (int i : idx) groups[Find(parent, i)].push_back(in.episodes[i].id);
  std::vector<Incident> out;
  for (const auto& [_, ids] : groups) {
    if (auto inc = BuildIncident(ids, in)) out.push_back(std::move(*inc));
  }
  std::sort(out.begin(), out.end(), [](const Incident& a, const Incident& b) {
    return std::tie(a.start_ms, a.episode_ids) < std::tie(b.start_ms, b.episode_ids);
  });
  return out;
}

std::string DescribeEvent(const TimelineEvent& e) {
  auto on = [&](const std::string& text) { return e.service.empty() ? text : text + " (" + e.service + ")"; };
  if (e.kind == "first_evidence") return on("first evidence: " + e.detail);
  if (e.kind == "pending") return on(e.alert + " pending");
  if (e.kind == "firing") return on(e.alert + " firing, " + e.detail);
  if (e.kind == "resolved") return on(e.alert + " resolved");
  if (e.kind == "notified") return on(e.alert + ": first notification delivered");
  if (e.kind == "service_down") return e.service + " down (" + e.detail + ")";
  if (e.kind == "service_up") return e.service + " up again";
  if (e.kind == "systemd_restart") return on(e.detail);
  if (e.kind == "recovery_started") return on("recovery: " + e.detail + " started");
  if (e.kind == "recovery_verified" || e.kind == "recovery_failed" || e.kind == "recovery_done") {
    return on("recovery: " + e.detail);
  }
  if (e.kind == "resolution") return "resolved: " + e.detail;
  return on(e.kind + (e.detail.empty() ? "" : ": " + e.detail));
}

std::string IncidentMarkdown(const Incident& inc, const std::vector<ChartSeries>& charts,
                             const std::string& charts_note) {
  std::string md = "# Incident " + std::to_string(inc.id) + ": " + inc.root_alert +
                   (inc.root_service.empty() ? "" : " on " + inc.root_service) + "\n\n";
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("-") : s;
  };
  md += "## Summary\n\n";
  md += "- Severity: " + (inc.severity.empty() ? std::string("-") : inc.severity) + "\n";
  md += "- Root: " + (inc.root_service.empty() ? std::string("(no service label)") : inc.root_service) + ", alert " +
        inc.root_alert + "\n";
  md += "- Services affected: " + join(inc.services) + "\n";
  md += "- Alerts: " + join(inc.alerts) + "\n";
  md += "- Start (first evidence): " + FormatTime(inc.start_ms) + "\n";
  md += "- End: " +
        (inc.end_ms != 0 ? FormatTime(inc.end_ms) + " (lasted " + Ms(inc.end_ms - inc.start_ms) + ")"
                         : std::string("ongoing")) +
        "\n\n";
  md += "## MTTD and MTTR\n\n";
  if (!inc.mttd_ms) {
    md += "- MTTD: unknown\n";
  } else if (inc.mttd_from_firing) {
    md += "- MTTD: " + Ms(*inc.mttd_ms) + " to firing; no notification was delivered (flagged)\n";
  } else {
    md += "- MTTD: " + Ms(*inc.mttd_ms) + " (first evidence to the first notification delivered)\n";
  }
  if (inc.mttr_ms) {
    md += "- MTTR: " + Ms(*inc.mttr_ms) +
          (inc.mttr_source == "service_up" ? " (first evidence to " + inc.root_service + " active again)"
                                           : std::string(" (first evidence to the root alert resolved)")) +
          "\n\n";
  } else {
    md += "- MTTR: not recovered yet\n\n";
  }
  md += "## Timeline\n\n| Time (UTC) | Since start | Event |\n|---|---|---|\n";
  for (const auto& e : inc.timeline) {
    md += "| " + FormatTime(e.time_ms) + " | +" + Ms(e.time_ms - inc.start_ms) + " | " + DescribeEvent(e) + " |\n";
  }
  md += "\n## Charts' data\n\n";
  if (charts.empty()) md += charts_note + "\n";
  for (const auto& c : charts) {
    md += "### " + c.name + "\n\n| Time (UTC) | Value |\n|---|---|\n";
    for (const auto& [t, v] : c.points) {
      char value[32];
      std::snprintf(value, sizeof value, "%g", v);
      md += "| " + FormatTime(t) + " | " + value + " |\n";
    }
    md += "\n";
  }
  return md;
}

}  // namespace vigil::incidents
