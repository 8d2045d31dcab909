#include "status/health.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

namespace vigil::status {
namespace {

struct Known {
  std::string_view metric, name;
  enum Kind { kCount, kYesNo, kReady } kind;
};

constexpr std::array<Known, 11> kKnown{{
    {"vigil_bitcoind_blocks", "blocks", Known::kCount},
    {"vigil_bitcoind_headers", "headers", Known::kCount},
    {"vigil_bitcoind_peers", "peers", Known::kCount},
    {"vigil_bitcoind_initial_block_download", "ibd", Known::kYesNo},
    {"vigil_bitcoind_sync_lag_blocks", "sync_lag", Known::kCount},
    {"vigil_titan_block_height", "height", Known::kCount},
    {"vigil_titan_height_lag_blocks", "titan_lag", Known::kCount},
    {"vigil_validator_ready", "ready", Known::kReady},
    {"vigil_validator_block_height", "height", Known::kCount},
    {"vigil_validator_height_lag_blocks", "height_lag", Known::kCount},
    {"vigil_validator_peers", "peers", Known::kCount},
}};

constexpr std::array<std::string_view, 10> kOrder{"ready",    "ibd",       "blocks",     "headers", "height",
                                                  "sync_lag", "titan_lag", "height_lag", "peers",   "last_slot"};

std::string Number(double v) {
  char buf[64];
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  }
  return buf;
}

}  // namespace

std::optional<HealthValue> HealthOf(std::string_view metric, std::string_view rule, double value) {
  if (metric == "vigil_log_value") {
    if (rule.empty()) return std::nullopt;
    std::string name = rule == "slot" || rule == "last_slot" ? "last_slot" : std::string(rule);
    return HealthValue{name, value, Number(value)};
  }
  for (const auto& k : kKnown) {
    if (k.metric != metric) continue;
    std::string text = k.kind == Known::kYesNo   ? (value != 0 ? "yes" : "no")
                       : k.kind == Known::kReady ? (value != 0 ? "ready" : "not ready")
                                                 : Number(value);
    return HealthValue{std::string(k.name), value, text};
  }
  return std::nullopt;
}

void SortHealth(std::vector<HealthValue>& values) {
  auto rank = [](const HealthValue& h) {
    auto it = std::find(kOrder.begin(), kOrder.end(), h.name);
    return static_cast<size_t>(it - kOrder.begin());
  };
  std::stable_sort(values.begin(), values.end(), [&](const HealthValue& a, const HealthValue& b) {
    return std::pair(rank(a), a.name) < std::pair(rank(b), b.name);
  });
}

OptDouble FullInSeconds(double avail_bytes, double fill_bytes_per_second) {
  if (!(fill_bytes_per_second > 0) || !std::isfinite(fill_bytes_per_second)) return std::nullopt;
  return std::max(0.0, avail_bytes) / fill_bytes_per_second;
}

bool RecoveryPhaseIsRecovering(std::string_view phase) {
  return phase == "acting" || phase == "verifying" || phase == "stabilizing";
}

}  // namespace vigil::status
