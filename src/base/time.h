// Time: wall-clock timestamps in milliseconds, an injectable Clock, and
// Prometheus-style durations ("500ms", "15s", "1h30m", "7d").
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil {

// Milliseconds since the Unix epoch, as Prometheus stores them.
using TimestampMs = int64_t;
using Duration = std::chrono::milliseconds;

// The step of `t` on a grid of `step` ms from the epoch (floor division, so
// negative times fall in the step below), and that step's start.
inline int64_t StepIndex(TimestampMs t, int64_t step) { return t >= 0 ? t / step : -((-t + step - 1) / step); }
inline TimestampMs AlignDown(TimestampMs t, int64_t step) { return StepIndex(t, step) * step; }

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimestampMs NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimestampMs NowMs() const override;
};

// A clock that only moves when told to; for deterministic tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimestampMs start) : now_(start) {}
  TimestampMs NowMs() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void Advance(Duration d) {
    std::lock_guard lock(mu_);
    now_ += d.count();
  }

 private:
  mutable std::mutex mu_;
  TimestampMs now_;
};

// Parses "1h30m", "500ms", "7d", "2w", "1y"; units ms s m h d w y, as Prometheus.
Result<Duration> ParseDuration(std::string_view text);
// Formats the way ParseDuration reads: 90000ms -> "1m30s".
std::string FormatDuration(Duration d);
// Parses a point in time: Unix seconds ("1700000000", "1700000000.5") or
// RFC 3339 ("2026-11-25T16:00:00Z", "2026-11-25T17:00:00.250+01:00").
Result<TimestampMs> ParseTime(std::string_view text);
// RFC 3339 in UTC with milliseconds: "2026-11-25T16:00:00.000Z".
std::string FormatTime(TimestampMs t);

// Parses "512MiB", "20GiB", "1024" (bytes); KB/MB/GB are taken as base 2 like Prometheus.
Result<uint64_t> ParseByteSize(std::string_view text);

}  // namespace vigil
