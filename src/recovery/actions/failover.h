// Failover decisions for an external dependency with standby endpoints (the
// bitcoind RPC or titan URL a service reads from its env file). Pure and driven
// by the caller's clock, like alert/dispatch.h: no threads, no I/O. The caller
// probes, rewrites the env file (envfile_rewrite.h), restarts and verifies.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"

namespace vigil::recovery {

struct FailoverOptions {
  size_t endpoints = 0;  // index 0 is the primary, the rest standbys in order of preference
  // Fail back only after the primary has been healthy this long without a
  // failed probe, and this long after the last switch.
  Duration hold_down{10 * 60 * 1000};
  int fail_after = 2;  // consecutive failed probes before an endpoint counts as failed
  // After Abort (the switch could not be made or verified), no new switch is proposed for this long.
  Duration retry_after{60 * 1000};
};

struct FailoverSwitch {
  enum class Kind { kActiveFailed, kFailback };
  size_t from;
  size_t to;
  Kind kind;
  std::string reason;  // "primary failed", "endpoint 2 failed", "failback after hold-down"
  TimestampMs decided_at;
};

// What the tracker knows of one endpoint.
struct EndpointHealth {
  bool probed = false;
  bool healthy = false;  // the last probe passed
  int consecutive_failures = 0;
  std::optional<TimestampMs> healthy_since;  // first passing probe after the last failed one
  TimestampMs last_probe = 0;
};

class FailoverTracker {
 public:
  explicit FailoverTracker(FailoverOptions options);

  // The endpoint the consumer uses now (from its env file at start-up);
  // nullopt when the file names none of the endpoints: an operator's manual
  // choice, which the tracker then leaves alone (Decide proposes nothing).
  void SetActive(std::optional<size_t> endpoint);
  std::optional<size_t> Active() const { return active_; }

  // Records one probe result. Out-of-range endpoints are ignored.
  void Observe(size_t endpoint, bool healthy, TimestampMs now);

  // A switch to make now, or nullopt. Proposes one switch at a time: until it
  // is confirmed or aborted, Decide returns nullopt and Pending() holds it.
  // Never proposes an endpoint whose last probe failed or that was never probed.
  std::optional<FailoverSwitch> Decide(TimestampMs now);
  const std::optional<FailoverSwitch>& Pending() const { return pending_; }

  // The caller switched the consumer to `to` and verified it.
  void Confirm(size_t to);
  // The pending switch was not made (or not verified); the active endpoint is
  // unchanged and no switch is proposed for retry_after.
  void Abort();

  const EndpointHealth& Health(size_t endpoint) const { return health_.at(endpoint); }
  const FailoverOptions& options() const { return options_; }

 private:
  bool Failed(size_t endpoint) const;
  bool Usable(size_t endpoint) const;

  FailoverOptions options_;
  std::vector<EndpointHealth> health_;
  std::optional<size_t> active_;
  std::optional<FailoverSwitch> pending_;
  std::optional<TimestampMs> last_switch_at_;
  std::optional<TimestampMs> quiet_until_;
};

}  // namespace vigil::recovery
