#include "base/time.h"

#include <cctype>
#include <limits>
#include <utility>

namespace vigil {

TimestampMs SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
constexpr std::pair<std::string_view, int64_t> kUnits[] = {
    {"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000}, {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},            {"m", 60LL * 1000},            {"s", 1000},
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
      return Status::Error("invalid duration \"" + std::string(text) + "\": unknown unit \"" +
                           std::string(unit) + "\" (use ms, s, m, h, d, w, y)");
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
      {"", 0},   {"B", 0},   {"KiB", 1}, {"KB", 1}, {"MiB", 2}, {"MB", 2},
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
