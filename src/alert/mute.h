// What keeps a firing alert from being sent without losing it: silences
// (Alertmanager's, with matchers and a time range) and recurring maintenance
// windows (weekdays and times of day in a time zone, which Alertmanager lacks).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "base/timezone.h"

namespace vigil::alert {

struct Silence {
  std::string id;
  Matchers matchers;
  TimestampMs starts_at = 0;
  TimestampMs ends_at = 0;
  std::string created_by;
  std::string comment;
  bool Active(TimestampMs now) const { return starts_at <= now && now < ends_at; }
  bool Mutes(const Labels& labels, TimestampMs now) const { return Active(now) && MatchesAll(matchers, labels); }
};

struct MaintenanceWindowSpec {
  std::string name;
  std::vector<std::string> weekdays;  // "monday", "mon", ranges "mon-fri"; empty: every day
  struct Range {
    std::string start, end;  // "HH:MM"; end "24:00" allowed; end before start crosses midnight
  };
  std::vector<Range> times;  // empty: the whole day
  std::string location = "UTC";
  std::vector<std::string> matchers;  // empty: every alert
};

class MaintenanceWindow {
 public:
  // Errors name the field: "maintenance_windows[0].times[1].end: expected HH:MM, got \"25:00\"".
  static Result<MaintenanceWindow> Build(const MaintenanceWindowSpec& spec, const std::string& path,
                                         const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

  bool Active(TimestampMs now) const;
  bool Mutes(const Labels& labels, TimestampMs now) const { return Active(now) && MatchesAll(matchers_, labels); }
  const std::string& name() const { return name_; }

 private:
  MaintenanceWindow(TimeZone tz) : tz_(std::move(tz)) {}
  struct Minutes {
    int start, end;  // minutes of the day, end exclusive; end < start crosses midnight
  };
  bool InDay(int weekday, int minute) const;

  std::string name_;
  TimeZone tz_;
  std::array<bool, 7> days_{};  // 0 = Sunday, as tm_wday
  std::vector<Minutes> times_;
  Matchers matchers_;
};

}  // namespace vigil::alert
