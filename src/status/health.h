// Pure pieces of the snapshot: which stored series are a service's key
// health values and how they read, a filesystem's time to full, and which
// recovery phases count as "recovering".
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "status/snapshot.h"

namespace vigil::status {

// The health value a sample of `metric` is (docs/collectors.md names), or
// nullopt for other metrics. `rule` is vigil_log_value's rule label: "slot"
// and "last_slot" read as last_slot, other gauge rules under their own name.
std::optional<HealthValue> HealthOf(std::string_view metric, std::string_view rule, double value);

// A fixed order (chain first, then lags, then the rest by name), so the
// values do not move around between snapshots.
void SortHealth(std::vector<HealthValue>& values);

// Seconds until `avail_bytes` is used up at `fill_bytes_per_second`; nullopt
// unless the filesystem is filling.
OptDouble FullInSeconds(double avail_bytes, double fill_bytes_per_second);

// An action of the recovery controller is running or being verified.
bool RecoveryPhaseIsRecovering(std::string_view phase);

}  // namespace vigil::status
