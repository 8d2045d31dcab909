#include "watchdog/progress.h"

#include <algorithm>

namespace vigil::watchdog {

Verdict Decide(const std::vector<Progress>& progress, int64_t now_ms) {
  Verdict v;
  for (const auto& p : progress) {
    // A heartbeat stamped after `now` (read before a beat landed) is no stall.
    Duration age(std::max<int64_t>(0, now_ms - p.last_ms));
    if (age > p.stall_after) v.stalled.push_back({p.subsystem, age, p.stall_after});
  }
  std::stable_sort(v.stalled.begin(), v.stalled.end(),
                   [](const Stall& a, const Stall& b) { return a.stalled_for > b.stalled_for; });
  v.ping = v.stalled.empty();
  return v;
}

std::vector<Progress> StallLimits(const Cadence& c) {
  const Duration base = c.watchdog_timeout.count() > 0 ? 2 * c.watchdog_timeout : Duration(60000);
  const Duration collection = std::max({base, 3 * c.scrape_interval, Duration(5000)});
  Duration notification = Duration(5000);
  if (c.delivers) notification += 2 * c.send_timeout;
  return {{kCollection, 0, collection}, {kStorage, 0, collection}, {kNotification, 0, std::max(base, notification)}};
}

std::string Describe(const std::vector<Stall>& stalled) {
  std::string out;
  for (const auto& s : stalled) {
    if (!out.empty()) out += "; ";
    out += s.subsystem + " made no progress for " + FormatDuration(Duration(s.stalled_for.count() / 1000 * 1000)) +
           " (limit " + FormatDuration(s.limit) + ")";
  }
  return out;
}

}  // namespace vigil::watchdog
