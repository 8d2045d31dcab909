// Acting on systemd units over D-Bus: restart a unit and wait for its job's
// result, send a signal to its main process (for drills). Every call opens
// its own short-lived bus connection, so callers on any thread are safe and
// never share the monitor's connection.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "base/time.h"
#include "systemd/monitor.h"

namespace vigil::systemd {

struct JobOutcome {
  std::string result;  // systemd's job result: done, failed, timeout, canceled, dependency, skipped
  Duration took{0};
  bool ok() const { return result == "done"; }
};

// Clears a failed state (and the start rate limit), then RestartUnit with
// mode "replace" and waits up to `timeout` for the JobRemoved signal of that job.
Result<JobOutcome> RestartUnit(Bus bus, const std::string& unit, Duration timeout);

// The unit's main PID (0 when none) and NRestarts, read directly.
struct UnitRuntime {
  uint32_t main_pid = 0;
  uint32_t n_restarts = 0;
  std::string active_state, sub_state, result;
};
Result<UnitRuntime> ReadUnit(Bus bus, const std::string& unit);

// StopUnit, waiting for the job (drills' "stop").
Result<JobOutcome> StopUnit(Bus bus, const std::string& unit, Duration timeout);

}  // namespace vigil::systemd
