#include "base/timezone.h"

#include <algorithm>
#include <cctype>

#include "base/file.h"

namespace vigil {
namespace {

int64_t BigEndian(const std::string& d, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(d[pos + i]);
  if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

}  // namespace

Result<TimeZone> TimeZone::Load(const std::string& name, const std::string& zoneinfo_dir) {
  TimeZone tz;
  tz.name_ = name;
  if (name == "UTC" || name == "Z" || name == "Etc/UTC") return tz;
  if ((name.size() == 6) && (name[0] == '+' || name[0] == '-') && name[3] == ':') {
    auto digit = [&](int i) { return name[i] >= '0' && name[i] <= '9'; };
    if (digit(1) && digit(2) && digit(4) && digit(5)) {
      int h = (name[1] - '0') * 10 + (name[2] - '0'), m = (name[4] - '0') * 10 + (name[5] - '0');
      if (h <= 14 && m < 60) {
        tz.initial_offset_ = (name[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
        return tz;
      }
    }
    return Status::Error("time zone \"" + name + "\": expected an offset like +05:30");
  }
  if (name.empty() || name.find("..") != std::string::npos || name[0] == '/') {
    return Status::Error("time zone \"" + name + "\": not a zone name (e.g. Europe/Berlin, UTC, +02:00)");
  }
  Result<std::string> data = ReadFile(zoneinfo_dir + "/" + name, 1 << 20);
  if (!data.ok()) return Status::Error("time zone \"" + name + "\": unknown (" + data.status().message() + ")");
  const std::string& d = *data;
  // RFC 8536: a v1 header and body, then (v2+) a second header and body with 64-bit times.
  auto header = [&](size_t at, int64_t counts[6]) {
    if (d.size() < at + 44 || d.compare(at, 4, "TZif") != 0) return false;
    for (int i = 0; i < 6; ++i) counts[i] = BigEndian(d, at + 20 + 4 * i, 4);
    return true;
  };
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!header(0, c)) return Status::Error("time zone \"" + name + "\": not a TZif file");
  size_t at = 44;
  int time_bytes = 4;
  if (d[4] >= '2') {
    at += c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (!header(at, c)) return Status::Error("time zone \"" + name + "\": truncated TZif file");
    at += 44;
    time_bytes = 8;
  }
  int64_t timecnt = c[3], typecnt = c[4];
  if (typecnt <= 0 || d.size() < at + timecnt * (time_bytes + 1) + typecnt * 6) {
    return Status::Error("time zone \"" + name + "\": truncated TZif file");
  }
  std::vector<int32_t> type_offsets(typecnt);
  size_t types_at = at + timecnt * (time_bytes + 1);
  for (int64_t i = 0; i < typecnt; ++i) type_offsets[i] = static_cast<int32_t>(BigEndian(d, types_at + 6 * i, 4));
  for (int64_t i = 0; i < timecnt; ++i) {
    int idx = static_cast<unsigned char>(d[at + timecnt * time_bytes + i]);
    if (idx >= typecnt) return Status::Error("time zone \"" + name + "\": corrupt TZif file");
    tz.transitions_.push_back(BigEndian(d, at + i * time_bytes, time_bytes));
    tz.offsets_.push_back(type_offsets[idx]);
  }
  tz.initial_offset_ = type_offsets[0];
  return tz;
}

int32_t TimeZone::OffsetSeconds(TimestampMs t) const {
  int64_t s = t >= 0 ? t / 1000 : -((-t + 999) / 1000);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

Status ParseWeekdayTime(std::string_view text, int* weekday, int* minute_of_day) {
  static constexpr std::string_view kDays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                               "thursday", "friday", "saturday"};
  const std::string want =
      "expected a weekday and a 24-hour time like \"Mon 09:00\", got \"" + std::string(text) + "\"";
  size_t space = text.find(' ');
  if (space == std::string_view::npos) return Status::Error(want);
  std::string day(text.substr(0, space));
  std::transform(day.begin(), day.end(), day.begin(), [](unsigned char c) { return std::tolower(c); });
  int wd = -1;
  for (int i = 0; i < 7; ++i) {
    if (day == kDays[i] || (day.size() == 3 && kDays[i].substr(0, 3) == day)) wd = i;
  }
  if (wd < 0) return Status::Error(want + ": \"" + day + "\" is not a weekday");
  std::string_view time = text.substr(space + 1);
  while (!time.empty() && time.front() == ' ') time.remove_prefix(1);
  if (time.size() != 5 || time[2] != ':' || !std::isdigit(static_cast<unsigned char>(time[0])) ||
      !std::isdigit(static_cast<unsigned char>(time[1])) || !std::isdigit(static_cast<unsigned char>(time[3])) ||
      !std::isdigit(static_cast<unsigned char>(time[4]))) {
    return Status::Error(want);
  }
  int h = (time[0] - '0') * 10 + (time[1] - '0'), m = (time[3] - '0') * 10 + (time[4] - '0');
  if (h > 23 || m > 59) return Status::Error(want + ": no such time of day");
  *weekday = wd;
  *minute_of_day = h * 60 + m;
  return Status::Ok();
}

}  // namespace vigil
