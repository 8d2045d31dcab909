#include "alert/mute.h"

#include <cctype>

namespace vigil::alert {
namespace {

// "mon", "monday", "Mon" -> 0..6 with Sunday 0; -1 when unknown.
int ParseWeekday(std::string s) {
  static const char* kNames[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (int i = 0; i < 7; ++i) {
    std::string full = kNames[i];
    if (s == full || (s.size() == 3 && full.compare(0, 3, s) == 0)) return i;
  }
  return -1;
}

// "HH:MM" -> minutes of the day; "24:00" allowed only as an end.
int ParseClock(const std::string& s, bool is_end) {
  if (s.size() != 5 || s[2] != ':' || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])) || !std::isdigit(static_cast<unsigned char>(s[3])) ||
      !std::isdigit(static_cast<unsigned char>(s[4]))) {
    return -1;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m >= 60 || h > 24 || (h == 24 && (m != 0 || !is_end))) return -1;
  return h * 60 + m;
}

}  // namespace

Result<MaintenanceWindow> MaintenanceWindow::Build(const MaintenanceWindowSpec& spec, const std::string& path,
                                                   const std::string& zoneinfo_dir) {
  Result<TimeZone> tz = TimeZone::Load(spec.location, zoneinfo_dir);
  if (!tz.ok()) return Status::Error(path + ".location: " + tz.status().message());
  MaintenanceWindow w(std::move(*tz));
  w.name_ = spec.name;
  if (spec.weekdays.empty()) w.days_.fill(true);
  for (size_t i = 0; i < spec.weekdays.size(); ++i) {
    const std::string& d = spec.weekdays[i];
    size_t dash = d.find('-');
    int from = ParseWeekday(d.substr(0, dash)), to = dash == std::string::npos ? from : ParseWeekday(d.substr(dash + 1));
    if (from < 0 || to < 0) {
      return Status::Error(path + ".weekdays[" + std::to_string(i) + "]: expected a weekday or a range like mon-fri, got \"" +
                           d + "\"");
    }
    for (int day = from;; day = (day + 1) % 7) {  // sat-sun wraps through the week's end
      w.days_[day] = true;
      if (day == to) break;
    }
  }
  for (size_t i = 0; i < spec.times.size(); ++i) {
    std::string field = path + ".times[" + std::to_string(i) + "]";
    int start = ParseClock(spec.times[i].start, false), end = ParseClock(spec.times[i].end, true);
    if (start < 0) return Status::Error(field + ".start: expected HH:MM, got \"" + spec.times[i].start + "\"");
    if (end < 0) return Status::Error(field + ".end: expected HH:MM (or 24:00), got \"" + spec.times[i].end + "\"");
    if (start == end) return Status::Error(field + ": start and end are equal (an empty window)");
    w.times_.push_back({start, end});
  }
  if (w.times_.empty()) w.times_.push_back({0, 24 * 60});
  for (size_t i = 0; i < spec.matchers.size(); ++i) {
    Result<Matchers> m = ParseMatchers(spec.matchers[i]);
    if (!m.ok()) return Status::Error(path + ".matchers[" + std::to_string(i) + "]: " + m.status().message());
    w.matchers_.insert(w.matchers_.end(), m->begin(), m->end());
  }
  return w;
}

bool MaintenanceWindow::InDay(int weekday, int minute) const {
  for (const auto& t : times_) {
    if (t.start < t.end) {
      if (days_[weekday] && minute >= t.start && minute < t.end) return true;
    } else {
      // Crossing midnight: the evening part belongs to `weekday`, the morning part to the day before.
      if (days_[weekday] && minute >= t.start) return true;
      if (days_[(weekday + 6) % 7] && minute < t.end) return true;
    }
  }
  return false;
}

bool MaintenanceWindow::Active(TimestampMs now) const {
  int64_t local = now / 1000 + tz_.OffsetSeconds(now);
  int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  int minute = static_cast<int>((local - days * 86400) / 60);
  int weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  return InDay(weekday, minute);
}

}  // namespace vigil::alert
