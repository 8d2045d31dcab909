// The recovery controller: the I/O around the Planner. A thread feeds it
// observations (on every change event and every poll), writes each event to
// the audit, writes each action's "started" row before running it on its
// own thread, and reports outcomes back. Crash safety: at start, actions a
// crash left unfinished are marked interrupted and still count.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "base/time.h"
#include "recovery/audit.h"
#include "recovery/planner.h"

namespace vigil::recovery {

enum class Mode { kEnforce, kDryRun, kOff };
const char* ModeName(Mode mode);

struct RestartOutcome {
  bool ok = false;
  std::string detail;  // the job's result, or the error
};

// A cleanup policy as the API shows it (drills fill a disk inside its roots).
struct CleanupSummary {
  std::string filesystem;
  std::vector<std::string> roots, match;
  double below_free_ratio = 0, until_free_ratio = 0;
  Duration older_than{0};
};

struct ControllerOptions {
  std::vector<ServiceSpec> services;
  std::vector<CleanupSummary> cleanup;  // shown by the API; run by HostActions
  Mode mode = Mode::kEnforce;
  int max_concurrent = 1;
  std::string state_path;  // SQLite database (<data_dir>/state.db)
  const Clock* clock = nullptr;
  // A snapshot of every service's observation, by service name.
  std::function<std::map<std::string, Observation>()> observe;
  // Restarts a unit and waits for the job (systemd::RestartUnit in production).
  std::function<RestartOutcome(const std::string& unit, Duration timeout)> restart;
  // The name of a maintenance window covering `service` now, if any.
  std::function<std::optional<std::string>(const std::string& service, TimestampMs now)> maintenance;
  // Every event, after it is audited (escalations become alerts there).
  std::function<void(const Event&)> on_event;
  Duration poll_interval{500};
};

class Controller {
 public:
  static Result<std::unique_ptr<Controller>> Start(ControllerOptions options);
  ~Controller();
  // Stops deciding and waits for running actions (each bounded by its timeout).
  void Stop();

  // Something changed (a unit, a probe): decide now instead of at the next poll.
  void Poke();

  struct State {
    Mode mode;
    std::map<std::string, TimestampMs> pauses;  // "*" = all; 0 = until resumed
    std::vector<Planner::ServiceStatus> services;
    std::vector<CleanupSummary> cleanup;
  };
  State Current() const;
  Result<std::vector<AuditEntry>> History(int limit, const std::string& service = "") const;

  // `service` "*" or empty: every service. `for_ms` 0: until resumed. Errors name an unknown service.
  Status Pause(const std::string& service, Duration for_ms);
  Status Resume(const std::string& service);
  Status Reset(const std::string& service);
  // Why acting on `service` ("" for host-wide actions) is held back now (a
  // pause, a maintenance window, mode off), or nullopt.
  std::optional<std::string> HeldReason(const std::string& service) const;

  // A fault drill's figures (seconds from the injection; negative: not seen),
  // audited and exposed as vigil_drill_* metrics.
  struct DrillResult {
    std::string service, fault;
    double detect_seconds = -1, notify_seconds = -1, recover_seconds = -1;
  };
  Status RecordDrill(const DrillResult& drill);

  void AppendMetrics(MetricBatch& out) const;

 private:
  explicit Controller(ControllerOptions o);
  void Loop();
  void DecideLocked(TimestampMs now);
  void RecordLocked(const std::vector<Event>& events);
  void RunAction(Action action, int64_t audit_id, Duration timeout);
  bool KnownService(const std::string& service) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::recovery
