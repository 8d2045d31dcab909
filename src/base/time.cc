#include "base/time.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <utility>

namespace vigil {

TimestampMs SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
constexpr std::pair<std::string_view, int64_t> kUnits[] = {
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
};
}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  std::string_view s = text;
  if (s.empty()) return Status::Error("empty duration");
  if (s == "0") return Duration(0);
  int64_t total = 0;
  int last_rank = -1;  // units must appear from largest to smallest, each once
  while (!s.empty()) {
    size_t digits = 0;
    while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
    if (digits == 0) {
      return Status::Error("invalid duration \"" + std::string(text) +
                           "\": expected a number followed by a unit (ms, s, m, h, d, w, y)");
    }
    uint64_t n = 0;
    for (size_t i = 0; i < digits; ++i) {
      n = n * 10 + static_cast<uint64_t>(s[i] - '0');
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Status::Error("duration \"" + std::string(text) + "\" is too large");
      }
    }
    s.remove_prefix(digits);
    size_t unit_len = 0;
    while (unit_len < s.size() && std::isalpha(static_cast<unsigned char>(s[unit_len]))) ++unit_len;
    std::string_view unit = s.substr(0, unit_len);
    int rank = -1;
    for (int i = 0; i < static_cast<int>(std::size(kUnits)); ++i) {
      if (kUnits[i].first == unit) rank = i;
    }
    if (rank < 0) {
      return Status::Error("invalid duration \"" + std::string(text) + "\": unknown unit \"" + std::string(unit) +
                           "\" (use ms, s, m, h, d, w, y)");
    }
    if (rank <= last_rank) {
      return Status::Error("invalid duration \"" + std::string(text) +
                           "\": units must go from largest to smallest, each once");
    }
    last_rank = rank;
    int64_t mult = kUnits[rank].second;
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / mult) ||
        total > std::numeric_limits<int64_t>::max() - static_cast<int64_t>(n) * mult) {
      return Status::Error("duration \"" + std::string(text) + "\" is too large");
    }
    total += static_cast<int64_t>(n) * mult;
    s.remove_prefix(unit_len);
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (const auto& [unit, mult] : kUnits) {
    if (ms >= mult) {
      out += std::to_string(ms / mult) + std::string(unit);
      ms %= mult;
    }
  }
  return out;
}

Result<TimestampMs> ParseTime(std::string_view text) {
  std::string s(text);
  if (s.empty()) return Status::Error("empty time");
  if (s.find('-') == std::string::npos || s[0] == '-') {
    char* end = nullptr;
    errno = 0;
    double secs = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || errno != 0 || !std::isfinite(secs) || std::fabs(secs) > 9.2e15) {
      return Status::Error("invalid time \"" + s + "\": expected Unix seconds or RFC 3339 (2026-11-25T16:00:00Z)");
    }
    return static_cast<TimestampMs>(std::llround(secs * 1000));
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return Status::Error("invalid time \"" + s + "\": expected RFC 3339 like 2026-11-25T16:00:00Z");
  }
  std::string rest = s.substr(19);
  int64_t ms = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    int64_t scale = 100;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
      ms += (rest[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == 1) return Status::Error("invalid time \"" + s + "\": empty fraction");
    rest = rest.substr(i);
  }
  int64_t offset_s = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int h = 0, m = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d", &h, &m) != 2)
      return Status::Error("invalid time zone in \"" + s + "\"");
    offset_s = (rest[0] == '+' ? 1 : -1) * (h * 3600 + m * 60);
  } else {
    return Status::Error("invalid time \"" + s + "\": expected Z or +HH:MM after the seconds");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return Status::Error("invalid time \"" + s + "\": a field is out of range");
  }
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_s;
  return secs * 1000 + ms;
}

std::string FormatTime(TimestampMs t) {
  std::time_t secs = static_cast<std::time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
  int ms = static_cast<int>(t - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return Status::Error("invalid size \"" + std::string(text) + "\": expected e.g. 512MiB or 20GiB");
  uint64_t n = 0;
  for (size_t i = 0; i < digits; ++i) {
    if (n > (std::numeric_limits<uint64_t>::max() - 9) / 10) {
      return Status::Error("size \"" + std::string(text) + "\" is too large");
    }
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  std::string_view unit = text.substr(digits);
  static constexpr std::pair<std::string_view, int> kSizeUnits[] = {
      {"", 0},    {"B", 0},  {"KiB", 1}, {"KB", 1}, {"MiB", 2}, {"MB", 2},
      {"GiB", 3}, {"GB", 3}, {"TiB", 4}, {"TB", 4}, {"PiB", 5}, {"PB", 5},
  };
  for (const auto& [name, power] : kSizeUnits) {
    if (unit != name) continue;
    uint64_t mult = 1ULL << (10 * power);
    if (n > std::numeric_limits<uint64_t>::max() / mult) {
      return Status::Error("size \"" + std::string(text) + "\" is too large");
    }
    return n * mult;
  }
  return Status::Error("invalid size \"" + std::string(text) + "\": unknown unit \"" + std::string(unit) +
                       "\" (use B, KiB, MiB, GiB, TiB)");
}

}  // namespace vigil
