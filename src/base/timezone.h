// IANA time zones from the system's zoneinfo (TZif files), for schedules
// given in local time (maintenance windows). Thread-safe and independent of
// the process's TZ variable, unlike localtime_r.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace vigil {

class TimeZone {
 public:
  // "UTC", a fixed offset ("+05:30", "-08:00") or an IANA name read from
  // `zoneinfo_dir` ("Europe/Berlin"). Errors name the zone and why.
  static Result<TimeZone> Load(const std::string& name, const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

  // Seconds east of UTC in force at `t`.
  int32_t OffsetSeconds(TimestampMs t) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // Unix seconds, ascending
  std::vector<int32_t> offsets_;      // offsets_[i] applies from transitions_[i]
  int32_t initial_offset_ = 0;        // before the first transition (or always, without any)
};

// A weekly time, "Mon 09:00": a weekday (full or three-letter name, any
// case; 0 = Sunday, as tm_wday) and a 24-hour time. Errors say what was expected.
Status ParseWeekdayTime(std::string_view text, int* weekday, int* minute_of_day);

}  // namespace vigil
