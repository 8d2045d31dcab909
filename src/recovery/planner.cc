#include "recovery/planner.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace vigil::recovery {

const char* EventKindName(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::kFault: return "fault";
    case Event::Kind::kWaiting: return "waiting";
    case Event::Kind::kSystemdRestart: return "systemd_restart";
    case Event::Kind::kActionStarted: return "action_started";
    case Event::Kind::kActionFinished: return "action_finished";
    case Event::Kind::kVerifyFailed: return "verify_failed";
    case Event::Kind::kVerified: return "verified";
    case Event::Kind::kRecoveredAlone: return "recovered_alone";
    case Event::Kind::kEscalated: return "escalated";
    case Event::Kind::kEscalationCleared: return "escalation_cleared";
    case Event::Kind::kStoppedByOperator: return "stopped_by_operator";
  }
  return "unknown";
}

Planner::Planner(std::vector<ServiceSpec> services) {
  for (auto& spec : services) {
    State s;
    s.spec = std::move(spec);
    std::string name = s.spec.name;
    services_.emplace(name, std::move(s));
  }
}

bool Planner::UnitUp(const State& s) const {
  if (s.spec.unit.empty()) return true;  // nothing but its checks to go by
  return s.obs.unit_known && (s.obs.active_state == "active" || s.obs.active_state == "reloading");
}

bool Planner::Healthy(const State& s) const { return !s.observed || (UnitUp(s) && s.obs.checks_ok); }

// systemd is between a crash and its own restart (Restart=), or in the middle of a job.
bool Planner::SystemdRestarting(const State& s) const {
  return s.obs.active_state == "activating" || s.obs.sub_state == "auto-restart" ||
         s.obs.active_state == "deactivating" || (s.obs.job_pending && !UnitUp(s));
}

// An operator's `systemctl stop` (or a clean exit): inactive with Result=success.
bool Planner::CleanlyStopped(const State& s) const {
  // Inactive with a job pending is a restart passing through "dead", not a stop.
  return s.obs.unit_known && s.obs.active_state == "inactive" && !s.obs.job_pending &&
         (s.obs.result.empty() || s.obs.result == "success");
}

std::optional<TimestampMs> Planner::SystemdMayRestartUntil(const State& s) const {
  if (s.obs.restart_policy.empty() || s.obs.restart_policy == "no") return std::nullopt;
  // systemd gave up: its start rate limit was hit.
  if (s.obs.result == "start-limit-hit") return std::nullopt;
  // systemd marks a crashed unit failed for an instant before its auto-restart.
  return s.obs.state_changed_ms + s.obs.restart_delay.count() + 1000;
}

std::string Planner::DownDependency(const State& s) const {
  std::set<std::string> seen;
  std::function<std::string(const State&)> visit = [&](const State& st) -> std::string {
    for (const auto& dep : st.spec.depends_on) {
      if (!seen.insert(dep).second) continue;
      auto it = services_.find(dep);
      if (it == services_.end()) continue;
      // The deepest broken dependency is the one to name: it is the root cause.
      std::string deeper = visit(it->second);
      if (!deeper.empty()) return deeper;
      // A dependency under recovery counts as down until its recovery is verified.
      const State& d = it->second;
      bool settled = Healthy(d) && (!d.spec.restart || d.phase == Phase::kHealthy);
      if (!settled) return dep;
    }
    return "";
  };
  return visit(s);
}

std::vector<std::string> Planner::DownDependents(const std::string& service) const {
  std::vector<std::string> out;
  std::set<std::string> reached{service};
  bool grew = true;
  while (grew) {  // services are few: a fixed point is cheap
    grew = false;
    for (const auto& [name, st] : services_) {
      if (reached.count(name)) continue;
      bool depends = std::any_of(st.spec.depends_on.begin(), st.spec.depends_on.end(),
                                 [&](const std::string& d) { return reached.count(d) > 0; });
      if (depends) {
        reached.insert(name);
        grew = true;
        if (!Healthy(st)) out.push_back(name);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Planner::Prune(State& s, TimestampMs now) {
  if (!s.spec.restart) return;
  TimestampMs horizon = now - s.spec.restart->window.count();
  while (!s.attempts.empty() && s.attempts.front().time_ms <= horizon) s.attempts.pop_front();
}

TimestampMs Planner::NextAttemptAt(const State& s) const {
  if (s.attempts.empty() || !s.spec.restart) return 0;
  const RestartPolicy& p = *s.spec.restart;
  int64_t wait = p.backoff.count();
  for (size_t i = 1; i < s.attempts.size() && wait < p.max_backoff.count(); ++i) wait *= 2;
  wait = std::min<int64_t>(wait, p.max_backoff.count());
  return s.attempts.back().time_ms + wait;
}

Event& Planner::Emit(Event::Kind kind, State& s, TimestampMs now, std::string detail) {
  Event e;
  e.kind = kind;
  e.service = s.spec.name;
  e.time_ms = now;
  e.episode = s.episode;
  e.detail = std::move(detail);
  events_.push_back(std::move(e));
  return events_.back();
}

// Reasons for not acting are recorded once each, not on every decision.
void Planner::Wait(State& s, TimestampMs now, const std::string& why, bool will_act) {
  if (s.waiting == why) return;
  s.waiting = why;
  Emit(Event::Kind::kWaiting, s, now, why).will_act = will_act;
}

std::string Planner::FaultDetail(const State& s) const {
  if (!s.spec.unit.empty() && !s.obs.unit_known) return "unit " + s.spec.unit + " is not known to systemd";
  if (!UnitUp(s)) {
    std::string d = "unit " + s.spec.unit + " is " + s.obs.active_state;
    if (!s.obs.sub_state.empty()) d += " (" + s.obs.sub_state + ")";
    if (!s.obs.result.empty() && s.obs.result != "success") d += ", Result=" + s.obs.result;
    return d;
  }
  return "unit active but its checks fail";
}

void Planner::BeginFault(State& s, TimestampMs now, const std::string& why) {
  // A dependent taken down by a dependency's fault belongs to that fault's episode.
  uint64_t episode = 0;
  std::string dep = DownDependency(s);
  if (!dep.empty()) {
    const State& d = services_.at(dep);
    if (d.phase != Phase::kHealthy && d.phase != Phase::kStopped) episode = d.episode;
  }
  s.episode = episode != 0 ? episode : next_episode_++;
  s.phase = Phase::kFaulty;
  s.phase_since = now;
  s.fault_since = now;
  s.waiting.clear();
  Emit(Event::Kind::kFault, s, now, why);
}

void Planner::Escalate(State& s, TimestampMs now, const std::string& why) {
  if (s.escalated) return;
  s.escalated = true;
  Event& e = Emit(Event::Kind::kEscalated, s, now, why);
  for (const auto& a : s.attempts) e.attempts.push_back(a.summary);
  e.affected = DownDependents(s.spec.name);
}

void Planner::Recovered(State& s, TimestampMs now) {
  s.phase = Phase::kHealthy;
  s.phase_since = now;
  s.unhealthy_since = 0;
  s.waiting.clear();
  if (s.escalated) {
    s.escalated = false;
    Emit(Event::Kind::kEscalationCleared, s, now, "healthy again");
  }
}

// The attempt did not bring the service back: back to faulty, and a person
// is needed once no attempt is left in the budget.
void Planner::VerificationFailed(State& s, TimestampMs now, const std::string& why) {
  Emit(Event::Kind::kVerifyFailed, s, now, why);
  s.phase = Phase::kFaulty;
  s.phase_since = now;
  EscalateIfSpent(s, now, why);
}

void Planner::EscalateIfSpent(State& s, TimestampMs now, const std::string& last) {
  const RestartPolicy& p = *s.spec.restart;
  if (static_cast<int>(s.attempts.size()) < p.max_attempts) return;
  Escalate(s, now,
           "all " + std::to_string(s.attempts.size()) + " attempts within " + FormatDuration(p.window) +
               " failed; last: " + last);
}

int Planner::InFlight() const {
  int n = 0;
  for (const auto& [_, s] : services_) n += s.phase == Phase::kActing ? 1 : 0;
  return n;
}

void Planner::Observe(const std::string& service, const Observation& o, TimestampMs now) {
  auto it = services_.find(service);
  if (it == services_.end()) return;
  State& s = it->second;
  bool had = s.observed && s.obs.unit_known;
  uint32_t before = s.obs.n_restarts;
  s.obs = o;
  s.observed = true;
  if (!s.spec.restart || !had || o.n_restarts <= before) return;
  // systemd restarted the unit on its own (Restart=): count it, never add a
  // restart of ours, and verify it as we verify our own.
  Prune(s, now);
  if (s.phase == Phase::kHealthy || s.phase == Phase::kStopped) BeginFault(s, now, FaultDetail(s));
  for (uint32_t i = before; i < o.n_restarts; ++i) {
    s.attempts.push_back({now, "restart by systemd (NRestarts=" + std::to_string(i + 1) + ")"});
  }
  if (s.phase == Phase::kVerifying || s.phase == Phase::kStabilizing) {
    Emit(Event::Kind::kVerifyFailed, s, now, "crashed again; systemd restarted it");
  }
  Emit(Event::Kind::kSystemdRestart, s, now,
       "systemd restarted " + s.spec.unit + " (NRestarts " + std::to_string(before) + " -> " +
           std::to_string(o.n_restarts) + "); attempt " + std::to_string(s.attempts.size()) + " of " +
           std::to_string(s.spec.restart->max_attempts));
  if (s.phase == Phase::kActing) return;  // our own restart's job is still running
  if (static_cast<int>(s.attempts.size()) > s.spec.restart->max_attempts) {
    Escalate(s, now,
             "systemd keeps restarting " + s.spec.unit + ": " + std::to_string(s.attempts.size()) +
                 " restarts within " + FormatDuration(s.spec.restart->window) + " without a verified recovery");
  }
  s.phase = Phase::kVerifying;
  s.phase_since = now;
  s.verify_started = now;
  s.action_started = 0;  // this very observation is the fresh state
  s.verify_deadline = now + s.spec.restart->verify_timeout.count();
  s.waiting.clear();
}

void Planner::SetHeld(const std::string& service, std::optional<std::string> reason) {
  auto it = services_.find(service);
  if (it != services_.end()) it->second.held = std::move(reason);
}

std::vector<Action> Planner::Decide(TimestampMs now) {
  std::vector<Action> out;
  // Dependencies first, so a root cause acts before what depends on it.
  std::vector<State*> order;
  std::set<std::string> placed;
  while (order.size() < services_.size()) {
    size_t before = order.size();
    for (auto& [name, s] : services_) {
      if (placed.count(name)) continue;
      bool ready = std::all_of(s.spec.depends_on.begin(), s.spec.depends_on.end(),
                               [&](const std::string& d) { return placed.count(d) || !services_.count(d); });
      if (ready) {
        order.push_back(&s);
        placed.insert(name);
      }
    }
    if (order.size() == before) break;  // a cycle; the config loader refuses those
  }

  for (State* sp : order) {
    State& s = *sp;
    // Never act on a unit systemd has not described to us (vigil just
    // started, the bus is down, or the unit does not exist).
    if (!s.spec.restart || !s.observed || (!s.spec.unit.empty() && !s.obs.unit_known)) continue;
    const RestartPolicy& p = *s.spec.restart;
    Prune(s, now);
    bool healthy = Healthy(s);

    // unhealthy_since: how long the unit has been up with failing checks, continuously.
    if (!UnitUp(s) || s.obs.checks_ok) {
      s.unhealthy_since = 0;
    } else if (s.unhealthy_since == 0) {
      s.unhealthy_since = now;
    }
    if (s.phase == Phase::kHealthy || s.phase == Phase::kStopped) {
      if (healthy) {
        if (s.phase == Phase::kStopped) Recovered(s, now);
        s.unhealthy_since = 0;
        continue;
      }
      if (CleanlyStopped(s)) {
        if (s.phase != Phase::kStopped) {
          s.phase = Phase::kStopped;
          s.phase_since = now;
          Emit(Event::Kind::kStoppedByOperator, s, now,
               "unit " + s.spec.unit + " was stopped cleanly (Result=success): not restarting");
        }
        continue;
      }
      if (UnitUp(s) || (SystemdRestarting(s) && s.obs.sub_state != "auto-restart")) {
        // Up but failing its checks (or a start job running): give it unhealthy_for.
        if (s.unhealthy_since == 0) s.unhealthy_since = now;
        if (now - s.unhealthy_since < p.unhealthy_for.count()) continue;
      }
      BeginFault(s, now, FaultDetail(s));
    }

    if (s.phase == Phase::kActing) continue;  // ActionFinished moves it on

    if (s.phase == Phase::kVerifying) {
      if (healthy && s.obs.checked_since_ms >= s.verify_started) {
        s.phase = Phase::kStabilizing;
        s.phase_since = now;
        s.stable_since = now;
      } else if (s.obs.state_changed_ms <= s.action_started && now < s.verify_deadline) {
        continue;  // nothing seen since the restart began: the cache has not caught up yet
      } else if (!UnitUp(s) && !SystemdRestarting(s)) {
        std::string why = FaultDetail(s);
        VerificationFailed(s, now, why);
      } else if (now >= s.verify_deadline) {
        std::string why =
            "not healthy within verify_timeout " + FormatDuration(p.verify_timeout) + " (" + FaultDetail(s) + ")";
        VerificationFailed(s, now, why);
      } else {
        continue;
      }
    }

    if (s.phase == Phase::kStabilizing) {
      if (!healthy) {
        std::string why =
            "unhealthy again after " + FormatDuration(Duration(now - s.stable_since)) + ": " + FaultDetail(s);
        VerificationFailed(s, now, why);
      } else if (now - s.stable_since >= p.stable_for.count()) {
        Duration mttr(std::max<TimestampMs>(0, s.stable_since - s.fault_since));
        s.last_mttr = mttr;
        Emit(Event::Kind::kVerified, s, now,
             "active and healthy for " + FormatDuration(p.stable_for) + "; healthy again " + FormatDuration(mttr) +
                 " after the fault")
            .mttr = mttr;
        Recovered(s, now);
        continue;
      } else {
        continue;
      }
    }

    // kFaulty: decide whether to act.
    if (healthy) {
      bool tried = std::any_of(s.attempts.begin(), s.attempts.end(),
                               [&](const Attempt& a) { return a.time_ms >= s.fault_since; });
      if (tried) {  // an earlier attempt came good late: verify it like any other
        s.phase = Phase::kStabilizing;
        s.phase_since = now;
        s.stable_since = now;
      } else {
        Emit(Event::Kind::kRecoveredAlone, s, now, "healthy again without an action");
        Recovered(s, now);
      }
      continue;
    }
    if (CleanlyStopped(s)) {
      s.phase = Phase::kStopped;
      s.phase_since = now;
      Emit(Event::Kind::kStoppedByOperator, s, now,
           "unit " + s.spec.unit + " was stopped cleanly (Result=success): not restarting");
      continue;
    }
    if (SystemdRestarting(s)) {
      Wait(s, now, "systemd is " + s.obs.active_state + " the unit (" + s.obs.sub_state + "): not interfering");
      continue;
    }
    if (auto until = SystemdMayRestartUntil(s); until && now < *until) {
      Wait(s, now, "the unit has Restart=" + s.obs.restart_policy + ": leaving the restart to systemd");
      continue;
    }
    if (std::string dep = DownDependency(s); !dep.empty()) {
      Wait(s, now, "waiting for dependency " + dep + " to recover first");
      s.unhealthy_since = now;  // after the dependency recovers, give this one unhealthy_for again
      continue;
    }
    if (UnitUp(s) && now - s.unhealthy_since < p.unhealthy_for.count()) {
      Wait(s, now, "checks failing; giving it " + FormatDuration(p.unhealthy_for) + " after its dependency recovered");
      continue;
    }
    if (static_cast<int>(s.attempts.size()) >= p.max_attempts) {
      Escalate(s, now,
               "budget of " + std::to_string(p.max_attempts) + " attempts within " + FormatDuration(p.window) +
                   " spent; " + FaultDetail(s));
      Wait(s, now,
           "budget spent: no further restarts until `vigil recovery reset " + s.spec.name + "` or the window passes",
           /*will_act=*/false);
      continue;
    }
    if (s.held) {
      Wait(s, now, *s.held, /*will_act=*/false);
      continue;
    }
    if (TimestampMs at = NextAttemptAt(s); now < at) {
      Wait(s, now, "backing off: attempt " + std::to_string(s.attempts.size() + 1) + " not before " + FormatTime(at));
      continue;
    }
    if (dry_run_) {
      Wait(s, now, "dry-run: would restart " + s.spec.unit + " (" + FaultDetail(s) + ")", /*will_act=*/false);
      continue;
    }
    if (InFlight() >= max_concurrent_) {
      Wait(s, now, "another recovery is under way (max_concurrent " + std::to_string(max_concurrent_) + ")");
      continue;
    }
    Action a;
    a.id = next_action_id_++;
    a.kind = ActionKind::kRestart;
    a.service = s.spec.name;
    a.unit = s.spec.unit;
    a.attempt = static_cast<int>(s.attempts.size()) + 1;
    a.reason = FaultDetail(s);
    s.attempts.push_back({now, "restart by vigil"});
    s.phase = Phase::kActing;
    s.phase_since = now;
    s.action_started = now;
    s.action_id = a.id;
    s.waiting.clear();
    Emit(Event::Kind::kActionStarted, s, now,
         "restart " + a.unit + " (attempt " + std::to_string(a.attempt) + " of " + std::to_string(p.max_attempts) +
             "): " + a.reason)
        .action = a;
    out.push_back(std::move(a));
  }
  return out;
}

void Planner::ActionFinished(uint64_t id, bool ok, const std::string& detail, TimestampMs now) {
  for (auto& [name, s] : services_) {
    if (s.phase != Phase::kActing || s.action_id != id) continue;
    s.action_id = 0;
    for (auto it = s.attempts.rbegin(); it != s.attempts.rend(); ++it) {
      if (it->summary == "restart by vigil") {
        it->summary += ok ? ": job done" : ": " + detail;
        break;
      }
    }
    Emit(Event::Kind::kActionFinished, s, now, ok ? detail : "failed: " + detail);
    const RestartPolicy& p = *s.spec.restart;
    if (ok) {
      s.phase = Phase::kVerifying;
      s.verify_started = now;
      s.verify_deadline = now + p.verify_timeout.count();
    } else {
      s.phase = Phase::kFaulty;
      EscalateIfSpent(s, now, detail);
    }
    s.phase_since = now;
    return;
  }
}

void Planner::RestoreAttempt(const PastAttempt& a) {
  auto it = services_.find(a.service);
  if (it == services_.end() || !it->second.spec.restart) return;
  auto& attempts = it->second.attempts;
  auto pos = std::upper_bound(attempts.begin(), attempts.end(), a.time_ms,
                              [](TimestampMs t, const Attempt& x) { return t < x.time_ms; });
  attempts.insert(pos, {a.time_ms, a.summary});
}

void Planner::Reset(const std::string& service, TimestampMs now) {
  auto it = services_.find(service);
  if (it == services_.end()) return;
  State& s = it->second;
  s.attempts.clear();
  s.waiting.clear();
  if (s.escalated) {
    s.escalated = false;
    Emit(Event::Kind::kEscalationCleared, s, now, "reset by an operator");
  }
}

std::vector<Event> Planner::TakeEvents() { return std::exchange(events_, {}); }

std::optional<TimestampMs> Planner::NextWakeup(TimestampMs now) const {
  std::optional<TimestampMs> next;
  auto consider = [&](TimestampMs t) {
    if (t > now && (!next || t < *next)) next = t;
  };
  for (const auto& [_, s] : services_) {
    if (!s.spec.restart || !s.observed) continue;
    const RestartPolicy& p = *s.spec.restart;
    switch (s.phase) {
      case Phase::kHealthy:
        if (s.unhealthy_since != 0) consider(s.unhealthy_since + p.unhealthy_for.count());
        break;
      case Phase::kFaulty:
        if (!s.attempts.empty()) {
          consider(NextAttemptAt(s));
          consider(s.attempts.front().time_ms + p.window.count() + 1);  // the budget frees up
        }
        if (s.unhealthy_since != 0) consider(s.unhealthy_since + p.unhealthy_for.count());
        if (auto until = SystemdMayRestartUntil(s)) consider(*until);
        break;
      case Phase::kVerifying: consider(s.verify_deadline); break;
      case Phase::kStabilizing: consider(s.stable_since + p.stable_for.count()); break;
      case Phase::kActing:
      case Phase::kStopped: break;
    }
  }
  return next;
}

std::vector<Planner::ServiceStatus> Planner::Status(TimestampMs now) const {
  std::vector<ServiceStatus> out;
  for (const auto& [name, s] : services_) {
    if (!s.spec.restart) continue;
    ServiceStatus st;
    st.service = name;
    st.unit = s.spec.unit;
    int in_window = 0;
    for (const auto& a : s.attempts) in_window += a.time_ms > now - s.spec.restart->window.count() ? 1 : 0;
    st.attempts_in_window = in_window;
    st.budget_remaining = std::max(0, s.spec.restart->max_attempts - in_window);
    st.escalated = s.escalated;
    st.episode = s.episode;
    st.phase_since_ms = s.phase_since;
    st.last_mttr = s.last_mttr;
    st.detail = s.waiting;
    switch (s.phase) {
      case Phase::kHealthy: st.phase = "healthy"; break;
      case Phase::kFaulty: st.phase = s.escalated ? "escalated" : "faulty"; break;
      case Phase::kActing: st.phase = "acting"; break;
      case Phase::kVerifying: st.phase = "verifying"; break;
      case Phase::kStabilizing: st.phase = "stabilizing"; break;
      case Phase::kStopped: st.phase = "stopped"; break;
    }
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace vigil::recovery
