#include "alert/dispatch.h"

#include <algorithm>
#include <utility>

namespace vigil::alert {

Dispatcher::Dispatcher(std::shared_ptr<const Route> root, Inhibitor inhibitor, std::vector<MaintenanceWindow> windows,
                       FlapOptions flap, const Clock& clock)
    : root_(std::move(root)),
      inhibitor_(std::move(inhibitor)),
      windows_(std::move(windows)),
      flap_(flap),
      clock_(clock) {}

void Dispatcher::SetSilences(std::vector<Silence> silences) { silences_ = std::move(silences); }

std::vector<const Alert*> Dispatcher::FiringAlerts() const {
  std::vector<const Alert*> out;
  for (const auto& [fp, a] : current_) {
    if (!a.resolved()) out.push_back(&a);
  }
  return out;
}

MuteState Dispatcher::StateOf(const Labels& labels) const {
  MuteState s;
  TimestampMs now = clock_.NowMs();
  for (const auto& sil : silences_) {
    if (sil.Mutes(labels, now)) s.silenced_by.push_back(sil.id);
  }
  s.inhibited = inhibitor_.Inhibited(labels, FiringAlerts());
  for (const auto& w : windows_) {
    if (w.Mutes(labels, now)) {
      s.maintenance = w.name();
      break;
    }
  }
  auto f = flaps_.find(Fingerprint(labels));
  s.flapping = f != flaps_.end() && f->second.flapping;
  if (auto c = current_.find(Fingerprint(labels)); c != current_.end()) s.held_until = HeldUntil(c->second, now);
  return s;
}

void Dispatcher::SetPageHolds(std::map<std::string, Duration> holds, SeverityMap severities) {
  holds_ = std::move(holds);
  hold_severities_ = std::move(severities);
}

void Dispatcher::SetHoldReleased(const std::string& service, bool released) {
  if (!released) {
    released_.erase(service);
    return;
  }
  if (!released_.insert(service).second) return;
  // The held page goes out at the next flush.
  TimestampMs now = clock_.NowMs();
  for (auto& [key, g] : groups_) {
    for (const auto& [fp, a] : g.alerts) {
      if (a.labels.Get("service") == service) g.next_flush = std::min(g.next_flush, now);
    }
  }
}

TimestampMs Dispatcher::HeldUntil(const Alert& a, TimestampMs now) const {
  if (holds_.empty() || a.resolved() || hold_severities_.Of(a.labels.Get("severity")) != Priority::kP0) return 0;
  std::string service(a.labels.Get("service"));
  auto it = holds_.find(service);
  if (it == holds_.end() || released_.count(service)) return 0;
  TimestampMs until = a.starts_at + it->second.count();
  return until > now ? until : 0;
}

bool Dispatcher::Muted(const Labels& labels, TimestampMs now, const Inhibitor::Index& inhibition) const {
  for (const auto& sil : silences_) {
    if (sil.Mutes(labels, now)) return true;
  }
  for (const auto& w : windows_) {
    if (w.Mutes(labels, now)) return true;
  }
  return inhibition.Inhibits(labels);
}

void Dispatcher::Update(const Alert& alert) {
  TimestampMs now = clock_.NowMs();
  std::string fp = Fingerprint(alert.labels);
  if (flap_.enabled) {
    Flap& f = flaps_[fp];
    bool firing = !alert.resolved();
    bool known = !f.changes.empty() || f.latest.starts_at != 0;
    if (!known || firing != f.firing) {
      f.changes.push_back(now);
      f.last_change = now;
    }
    std::erase_if(f.changes, [&](TimestampMs t) { return t < now - flap_.window.count(); });
    f.firing = firing;
    f.latest = alert;
    if (!f.flapping && static_cast<int>(f.changes.size()) > flap_.max_changes) {
      f.flapping = true;
      f.announced = false;
    }
    if (f.flapping) {
      // Held as firing until stable; Flush() releases the real state.
      Alert held = alert;
      held.ends_at = 0;
      Place(held);
      return;
    }
  }
  Place(alert);
}

void Dispatcher::Place(const Alert& alert) {
  TimestampMs now = clock_.NowMs();
  std::string fp = Fingerprint(alert.labels);
  current_[fp] = alert;
  for (const Route* r : root_->Match(alert.labels)) {
    Labels gl = r->GroupLabels(alert.labels);
    std::string key = r->key() + ":" + gl.ToString();
    auto [it, inserted] = groups_.try_emplace(key);
    Group& g = it->second;
    if (inserted) {
      g.route = r;
      g.labels = std::move(gl);
      g.next_flush = now + r->group_wait().count();
      if (auto s = restored_.find(key); s != restored_.end()) {
        g.sent_firing = std::move(s->second.firing);
        g.sent_resolved = std::move(s->second.resolved);
        g.last_sent = s->second.at;
        restored_.erase(s);
      }
    }
    // A resolved alert this group never announced has nothing to say here.
    if (alert.resolved() && !g.alerts.count(fp) && !g.sent_firing.count(fp)) {
      if (g.alerts.empty()) {
        // Keep the log entry for the group's other alerts.
        if (g.last_sent != 0) restored_[key] = {g.sent_firing, g.sent_resolved, g.last_sent};
        groups_.erase(it);
      }
      continue;
    }
    g.alerts[fp] = alert;
    // Alertmanager's rule: an alert that started more than group_wait ago
    // (held by its `for:`, or firing across a restart) has waited already;
    // a group that has not spoken yet sends it at once.
    if (g.last_sent == 0 && !alert.resolved() && alert.starts_at + r->group_wait().count() < now) {
      g.next_flush = std::min(g.next_flush, now);
    }
  }
  if (alert.resolved()) current_.erase(fp);
}

std::vector<Notification> Dispatcher::Flush() {
  TimestampMs now = clock_.NowMs();
  if (!restored_.empty() && now >= restored_until_) {
    for (const auto& [key, s] : restored_) sent_changes_[key] = std::nullopt;
    restored_.clear();
  }
  // Flapping alerts that have kept one state for stable_for get their real state back.
  for (auto it = flaps_.begin(); it != flaps_.end();) {
    Flap& f = it->second;
    std::erase_if(f.changes, [&](TimestampMs t) { return t < now - flap_.window.count(); });
    if (f.flapping && f.last_change <= now - flap_.stable_for.count()) {
      f.flapping = false;
      f.changes.clear();
      Place(f.latest);
    }
    if (!f.flapping && f.changes.empty() && f.latest.resolved()) {
      it = flaps_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<Notification> out;
  // Built once per flush that has a group due, not per alert: with 10 000
  // alerts the per-alert scan of every firing alert was quadratic.
  std::vector<const Alert*> all_firing;
  std::optional<Inhibitor::Index> inhibition;
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = it->second;
    if (g.next_flush > now) {
      ++it;
      continue;
    }
    if (!inhibition) {
      all_firing = FiringAlerts();
      inhibition = inhibitor_.BuildIndex(all_firing);
    }
    Notification n;
    std::set<std::string> firing, resolved;
    bool announce_flap = false;
    TimestampMs hold_ends = 0;
    for (const auto& [fp, a] : g.alerts) {
      if (TimestampMs until = HeldUntil(a, now); until != 0) {
        hold_ends = hold_ends == 0 ? until : std::min(hold_ends, until);
        continue;
      }
      // Recovered inside its hold: the page was never sent, so neither is its resolve.
      if (a.resolved() && !g.sent_firing.count(fp) && holds_.count(std::string(a.labels.Get("service")))) continue;
      if (Muted(a.labels, now, *inhibition)) continue;
      (a.resolved() ? resolved : firing).insert(fp);
      n.alerts.push_back(a);
      auto f = flaps_.find(fp);
      if (f != flaps_.end() && f->second.flapping) {
        n.flapping.insert(fp);
        if (!f->second.announced) announce_flap = true;
      }
      if (!a.resolved()) {
        std::vector<std::string> down = inhibitor_.DownstreamOf(a.labels);
        if (!down.empty()) n.downstream[fp] = std::move(down);
      }
    }
    bool new_firing = !std::includes(g.sent_firing.begin(), g.sent_firing.end(), firing.begin(), firing.end());
    bool new_resolved =
        !std::includes(g.sent_resolved.begin(), g.sent_resolved.end(), resolved.begin(), resolved.end());
    bool gone =
        !std::includes(firing.begin(), firing.end(), g.sent_firing.begin(), g.sent_firing.end()) && !resolved.empty();
    bool repeat = !firing.empty() && now - g.last_sent >= g.route->repeat_interval().count();
    if (!n.alerts.empty() && (new_firing || new_resolved || gone || repeat || announce_flap)) {
      n.receiver = g.route->receiver();
      n.group_key = it->first;
      n.group_labels = g.labels;
      n.time_ms = now;
      for (const auto& fp : n.flapping) flaps_[fp].announced = true;
      g.sent_firing = firing;
      g.sent_resolved = resolved;
      g.last_sent = now;
      sent_changes_[it->first] = SentState{firing, resolved, now};
      out.push_back(std::move(n));
    }
    // Resolved alerts leave the group once a flush has seen them.
    std::erase_if(g.alerts, [](const auto& kv) { return kv.second.resolved(); });
    if (g.alerts.empty()) {
      if (g.last_sent != 0) sent_changes_[it->first] = std::nullopt;
      it = groups_.erase(it);
      continue;
    }
    g.next_flush = now + g.route->group_interval().count();
    if (hold_ends != 0) g.next_flush = std::min(g.next_flush, hold_ends);  // the page goes when its hold ends
    ++it;
  }
  return out;
}

void Dispatcher::RestoreSent(std::map<std::string, SentState> sent, Duration claim_within) {
  for (auto& [key, s] : sent) {
    if (auto g = groups_.find(key); g != groups_.end()) {
      g->second.sent_firing = std::move(s.firing);
      g->second.sent_resolved = std::move(s.resolved);
      g->second.last_sent = s.at;
    } else {
      restored_[key] = std::move(s);
    }
  }
  restored_until_ = clock_.NowMs() + claim_within.count();
}

std::map<std::string, std::optional<SentState>> Dispatcher::TakeSentChanges() {
  return std::exchange(sent_changes_, {});
}

std::map<std::string, SentState> Dispatcher::SentLog() const {
  std::map<std::string, SentState> out = restored_;
  for (const auto& [key, g] : groups_) {
    if (g.last_sent != 0) out[key] = {g.sent_firing, g.sent_resolved, g.last_sent};
  }
  return out;
}

std::vector<Alert> Dispatcher::Alerts() const {
  // Firing alerts, and resolved ones whose resolve a group has yet to send.
  std::map<std::string, Alert> all = current_;
  for (const auto& [key, g] : groups_) {
    for (const auto& [fp, a] : g.alerts) all.try_emplace(fp, a);
  }
  std::vector<Alert> out;
  for (auto& [fp, a] : all) {
    // Flapping alerts are held as firing; carry their real state.
    auto f = flaps_.find(fp);
    out.push_back(f != flaps_.end() ? f->second.latest : a);
  }
  return out;
}

std::optional<TimestampMs> Dispatcher::NextFlush() const {
  std::optional<TimestampMs> next;
  for (const auto& [key, g] : groups_) {
    if (!next || g.next_flush < *next) next = g.next_flush;
  }
  return next;
}

}  // namespace vigil::alert
