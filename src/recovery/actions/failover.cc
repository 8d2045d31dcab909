#include "recovery/actions/failover.h"

#include <algorithm>

namespace vigil::recovery {

FailoverTracker::FailoverTracker(FailoverOptions options) : options_(options), health_(options.endpoints) {
  options_.fail_after = std::max(1, options_.fail_after);
  if (options_.endpoints > 0) active_ = 0;
}

void FailoverTracker::SetActive(std::optional<size_t> endpoint) {
  active_ = endpoint && *endpoint < health_.size() ? endpoint : std::nullopt;
}

void FailoverTracker::Observe(size_t endpoint, bool healthy, TimestampMs now) {
  if (endpoint >= health_.size()) return;
  EndpointHealth& h = health_[endpoint];
  h.probed = true;
  h.last_probe = now;
  if (healthy) {
    if (!h.healthy || !h.healthy_since) h.healthy_since = now;
    h.healthy = true;
    h.consecutive_failures = 0;
  } else {
    h.healthy = false;
    h.healthy_since.reset();
    ++h.consecutive_failures;
  }
}

bool FailoverTracker::Failed(size_t endpoint) const {
  return health_[endpoint].consecutive_failures >= options_.fail_after;
}

bool FailoverTracker::Usable(size_t endpoint) const { return health_[endpoint].probed && health_[endpoint].healthy; }

std::optional<FailoverSwitch> FailoverTracker::Decide(TimestampMs now) {
  if (pending_ || !active_) return std::nullopt;
  if (quiet_until_ && now < *quiet_until_) return std::nullopt;
  const size_t active = *active_;
  if (Failed(active)) {
    for (size_t e = 0; e < health_.size(); ++e) {
      if (e == active || !Usable(e)) continue;
      std::string reason = active == 0 ? "primary failed" : "endpoint " + std::to_string(active) + " failed";
      pending_ = FailoverSwitch{active, e, FailoverSwitch::Kind::kActiveFailed, std::move(reason), now};
      return pending_;
    }
    return std::nullopt;
  }
  if (active != 0 && Usable(0)) {
    const EndpointHealth& primary = health_[0];
    bool primary_held = primary.healthy_since && now - *primary.healthy_since >= options_.hold_down.count();
    // A switch restarts the hold-down, so a primary that recovers right after a failover is not trusted at once.
    bool switch_held = !last_switch_at_ || now - *last_switch_at_ >= options_.hold_down.count();
    if (primary_held && switch_held) {
      pending_ = FailoverSwitch{active, 0, FailoverSwitch::Kind::kFailback, "failback after hold-down", now};
      return pending_;
    }
  }
  return std::nullopt;
}

void FailoverTracker::Confirm(size_t to) {
  if (to >= health_.size()) return;
  TimestampMs at = 0;
  if (pending_) {
    at = pending_->decided_at;
  } else {
    for (const EndpointHealth& h : health_) at = std::max(at, h.last_probe);
  }
  last_switch_at_ = at;
  active_ = to;
  pending_.reset();
  quiet_until_.reset();
}

void FailoverTracker::Abort() {
  if (!pending_) return;
  quiet_until_ = pending_->decided_at + options_.retry_after.count();
  pending_.reset();
}

}  // namespace vigil::recovery
