// The recovery planner: decides, from what is observed of each service and
// the time, when to restart a unit, when to wait (for systemd's own restart,
// for a dependency, for backoff), when a recovery is verified and when to
// stop and escalate. It holds no threads and does no I/O, so every rule is
// unit-tested with explicit times; the controller (controller.h) feeds it
// observations, executes its actions and audits its events.
#pragma once

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/time.h"

namespace vigil::recovery {

struct RestartPolicy {
  int max_attempts = 3;  // per window; systemd's own restarts count too
  Duration window{15LL * 60 * 1000};
  Duration backoff{2000};  // before the second attempt in the window; doubles per attempt
  Duration max_backoff{120000};
  Duration verify_timeout{60000};
  Duration stable_for{10000};
  Duration unhealthy_for{30000};  // an active unit whose checks fail this long is restarted
};

struct ServiceSpec {
  std::string name;
  std::string unit;                     // empty: not restartable (still a dependency)
  std::vector<std::string> depends_on;  // direct dependencies
  std::optional<RestartPolicy> restart;
};

// What is known of a service at one moment (systemd's view of its unit and
// the result of its probes and module checks).
struct Observation {
  bool unit_known = false;     // the monitor has read the unit
  std::string active_state;    // active, reloading, activating, deactivating, inactive, failed
  std::string sub_state;       // running, auto-restart, dead, …
  std::string result;          // success, exit-code, signal, core-dump, timeout, start-limit-hit, …
  uint32_t n_restarts = 0;     // systemd's NRestarts
  bool job_pending = false;    // systemd has a job queued or running for the unit
  std::string restart_policy;  // the unit's Restart= (no, always, on-failure, …); "" unknown
  Duration restart_delay{0};   // the unit's RestartSec=
  // When this state was first seen (vigil's clock). Judging a restart waits
  // for a state seen after the restart began, never a stale one.
  TimestampMs state_changed_ms = 0;
  bool checks_ok = true;  // probes and module checks pass
  // Every check has reported at or after this time: a verification only
  // trusts checks that ran after the action.
  TimestampMs checked_since_ms = std::numeric_limits<TimestampMs>::max();
};

enum class ActionKind { kRestart };

// Something to do now. The controller must report back with ActionFinished.
struct Action {
  uint64_t id = 0;
  ActionKind kind = ActionKind::kRestart;
  std::string service, unit;
  int attempt = 0;  // 1-based within the window
  std::string reason;
};

// Something that happened, for the audit, metrics and notifications.
struct Event {
  enum class Kind {
    kFault,           // a service became faulty; `detail` says how
    kWaiting,         // not acting: `detail` says why (dependency, systemd restarting, paused, …)
    kSystemdRestart,  // systemd restarted the unit itself; counted as an attempt and verified
    kActionStarted,   // an action of ours (see `action`)
    kActionFinished,  // the action's own result (e.g. the restart job's) in `detail`
    kVerifyFailed,    // the service did not become or stay healthy
    kVerified,        // healthy for stable_for after an attempt; `mttr` from the fault
    kRecoveredAlone,  // healthy again without any attempt
    kEscalated,       // budget spent or nothing more to try: a person is needed
    kEscalationCleared,
    kStoppedByOperator,  // a clean stop: left alone
  };
  Kind kind;
  std::string service;
  TimestampMs time_ms = 0;
  uint64_t episode = 0;  // one fault, one episode, across every attempt
  std::string detail;
  std::optional<Action> action;
  Duration mttr{0};                   // kVerified: from the fault to verified health
  std::vector<std::string> attempts;  // kEscalated: one line per attempt in the window
  std::vector<std::string> affected;  // kEscalated: dependents down because of this service
  // kWaiting: false when no action will follow by itself (paused, maintenance,
  // dry-run, budget spent), so a held page should go out now.
  bool will_act = true;
};

const char* EventKindName(Event::Kind kind);

// A past attempt, as restored from the audit after a restart of vigil.
struct PastAttempt {
  std::string service;
  TimestampMs time_ms = 0;
  std::string summary;  // "restart by vigil: interrupted"
};

class Planner {
 public:
  explicit Planner(std::vector<ServiceSpec> services);

  // Replaces what is known of `service`.
  void Observe(const std::string& service, const Observation& o, TimestampMs now);

  // Acting is held back (events still flow): global pause, a service's
  // pause, or a maintenance window covering it. `reason` is recorded.
  void SetHeld(const std::string& service, std::optional<std::string> reason);
  // Dry run: actions are reported as events but not returned for execution.
  void SetDryRun(bool dry_run) { dry_run_ = dry_run; }
  void SetMaxConcurrent(int n) { max_concurrent_ = n < 1 ? 1 : n; }

  // Runs the rules at `now`: returns actions to execute; events accumulate
  // for TakeEvents().
  std::vector<Action> Decide(TimestampMs now);

  // The outcome of an action returned by Decide (ok: the job completed).
  void ActionFinished(uint64_t id, bool ok, const std::string& detail, TimestampMs now);

  // Attempts made before a restart of vigil (from the audit): they count
  // against the budget and the backoff continues from the last one.
  void RestoreAttempt(const PastAttempt& attempt);

  // Episodes continue their numbering across restarts of vigil.
  void SetNextEpisode(uint64_t next) { next_episode_ = std::max(next_episode_, next); }

  // Forgets a service's attempts and escalation (`vigil recovery reset`).
  void Reset(const std::string& service, TimestampMs now);

  std::vector<Event> TakeEvents();

  // The first time after `now` at which Decide should run even without a new
  // observation (a backoff, a deadline); nullopt: only on change.
  std::optional<TimestampMs> NextWakeup(TimestampMs now) const;

  struct ServiceStatus {
    std::string service;
    std::string unit;
    std::string phase;  // healthy, faulty, waiting, backoff, acting, verifying, stabilizing, escalated, stopped
    std::string detail;
    int attempts_in_window = 0;
    int budget_remaining = 0;
    bool escalated = false;
    uint64_t episode = 0;
    TimestampMs phase_since_ms = 0;
    std::optional<Duration> last_mttr;
  };
  std::vector<ServiceStatus> Status(TimestampMs now) const;

 private:
  enum class Phase { kHealthy, kFaulty, kActing, kVerifying, kStabilizing, kStopped };
  struct Attempt {
    TimestampMs time_ms;
    std::string summary;
  };
  struct State {
    ServiceSpec spec;
    Observation obs;
    bool observed = false;
    Phase phase = Phase::kHealthy;
    TimestampMs phase_since = 0;
    TimestampMs fault_since = 0;
    TimestampMs unhealthy_since = 0;  // checks failing while the unit is up
    std::deque<Attempt> attempts;     // within the window, oldest first
    uint64_t episode = 0;
    uint64_t action_id = 0;  // in flight
    TimestampMs verify_deadline = 0;
    TimestampMs verify_started = 0;
    TimestampMs action_started = 0;  // the state must have changed since then to judge it
    TimestampMs stable_since = 0;
    bool escalated = false;
    std::string waiting;  // the last reason given for not acting (logged once)
    std::optional<std::string> held;
    std::optional<Duration> last_mttr;
  };

  bool UnitUp(const State& s) const;
  bool Healthy(const State& s) const;
  bool SystemdRestarting(const State& s) const;
  bool CleanlyStopped(const State& s) const;
  // While systemd's own Restart= may still act on a failed unit: when it may no longer.
  std::optional<TimestampMs> SystemdMayRestartUntil(const State& s) const;
  // The first dependency (transitively) that is not healthy, or "".
  std::string DownDependency(const State& s) const;
  std::vector<std::string> DownDependents(const std::string& service) const;
  void Prune(State& s, TimestampMs now);
  TimestampMs NextAttemptAt(const State& s) const;
  // Records an event of `s` now and returns it, for the kinds that carry more.
  Event& Emit(Event::Kind kind, State& s, TimestampMs now, std::string detail);
  void Wait(State& s, TimestampMs now, const std::string& why, bool will_act = true);
  void BeginFault(State& s, TimestampMs now, const std::string& why);
  void Escalate(State& s, TimestampMs now, const std::string& why);
  void Recovered(State& s, TimestampMs now);
  void VerificationFailed(State& s, TimestampMs now, const std::string& why);
  // Escalates once no attempt is left in the budget; `last` is the last failure.
  void EscalateIfSpent(State& s, TimestampMs now, const std::string& last);
  std::string FaultDetail(const State& s) const;
  int InFlight() const;

  std::map<std::string, State> services_;
  std::vector<Event> events_;
  uint64_t next_action_id_ = 1;
  uint64_t next_episode_ = 1;
  bool dry_run_ = false;
  int max_concurrent_ = 1;
};

}  // namespace vigil::recovery
