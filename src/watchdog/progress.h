// The watchdog's decision, pure and clock-driven: given when each subsystem
// last made progress, how long it may go without, and the time now, either
// ping systemd's watchdog or name the subsystems that stalled. Times are
// monotonic milliseconds (a wall-clock step must never look like a stall).
#pragma once

#include <string>
#include <vector>

#include "base/time.h"

namespace vigil::watchdog {

// The subsystems whose progress keeps vigil alive (docs/deploy.md).
inline constexpr const char* kCollection = "collection";
inline constexpr const char* kStorage = "storage";
inline constexpr const char* kNotification = "notification";

struct Progress {
  std::string subsystem;
  int64_t last_ms = 0;   // monotonic time of its last heartbeat
  Duration stall_after;  // longer without a heartbeat is a stall
};

struct Stall {
  std::string subsystem;
  Duration stalled_for;  // since its last heartbeat
  Duration limit;
};

struct Verdict {
  bool ping = true;
  std::vector<Stall> stalled;  // longest first; empty iff ping
};

Verdict Decide(const std::vector<Progress>& progress, int64_t now_ms);

// What the limits are derived from.
struct Cadence {
  Duration watchdog_timeout{0};  // WATCHDOG_USEC; 0: systemd does not watch (limits still apply to the log and metrics)
  Duration scrape_interval{15000};
  bool delivers = false;  // notifications or Alertmanager forwarding go over the network
  Duration send_timeout{10000};
};

// How long each subsystem may go without progress: twice the watchdog
// timeout (60 s without one), but never less than its own slowest legitimate
// gap: collection and storage three scrape intervals (every interval vigil
// stores its own metrics), notification 5 s (its loop wakes every second)
// plus two send timeouts when it talks to the network (a send that times out,
// then a forward to Alertmanager that does).
std::vector<Progress> StallLimits(const Cadence& cadence);

// One line for STATUS= and the log: "notification made no progress for 34s (limit 4s)".
std::string Describe(const std::vector<Stall>& stalled);

}  // namespace vigil::watchdog
