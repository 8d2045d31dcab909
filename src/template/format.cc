// Go's number formatting (fmt, strconv) and Prometheus's humanize functions.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <string>

#include "template/template.h"

namespace vigil::tmpl {
namespace {

std::string NonFinite(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

}  // namespace

std::string GoFormatFloat(double v) {
  if (!std::isfinite(v)) return NonFinite(v);
  // Shortest round-trip digits in scientific form, e.g. "-1.234567e+06".
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  bool neg = sci[0] == '-';
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(neg ? 1 : 0, e - (neg ? 1 : 0));
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out = neg ? "-" : "";
  // strconv's 'g' with the shortest precision: %e when exp < -4 || exp >= 6.
  if (exp < -4 || exp >= 6) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + ebuf;
  }
  int dp = exp + 1;  // digits before the decimal point
  if (dp <= 0) {
    out += "0." + std::string(static_cast<size_t>(-dp), '0') + digits;
  } else if (static_cast<size_t>(dp) >= digits.size()) {
    out += digits + std::string(dp - digits.size(), '0');
  } else {
    out += digits.substr(0, dp) + "." + digits.substr(dp);
  }
  return out;
}

// Go's %.Ng is C's for finite values (same rounding, exponent form and zero stripping).
std::string GoFormatG(double v, int prec) {
  if (!std::isfinite(v)) return NonFinite(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", prec, v);
  return buf;
}

std::string Humanize(double v) {
  if (v == 0 || !std::isfinite(v)) return GoFormatG(v, 4);
  static const char* kBig[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
  static const char* kSmall[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  if (std::fabs(v) >= 1) {
    for (const char* p : kBig) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return GoFormatG(v, 4) + prefix;
  }
  for (const char* p : kSmall) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return GoFormatG(v, 4) + prefix;
}

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || !std::isfinite(v)) return GoFormatG(v, 4);
  static const char* kPrefixes[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
  std::string prefix;
  for (const char* p : kPrefixes) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return GoFormatG(v, 4) + prefix;
}

std::string HumanizeDuration(double v) {
  if (!std::isfinite(v)) return GoFormatG(v, 4);
  if (v == 0) return GoFormatG(v, 4) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    // Go's int64(v) on amd64 gives math.MinInt64 past 2^63 (the CPU's
    // "integer indefinite"); C++ leaves that cast undefined, so it is spelled out.
    constexpr double kTwoTo63 = 9223372036854775808.0;
    int64_t duration = v < kTwoTo63 ? static_cast<int64_t>(v) : std::numeric_limits<int64_t>::min();
    int64_t seconds = duration % 60;
    int64_t minutes = (duration / 60) % 60;
    int64_t hours = (duration / 60 / 60) % 24;
    int64_t days = duration / 60 / 60 / 24;
    char buf[128];
    if (days != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldd %lldh %lldm %llds", sign.c_str(), static_cast<long long>(days),
                    static_cast<long long>(hours), static_cast<long long>(minutes), static_cast<long long>(seconds));
      return buf;
    }
    if (hours != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldh %lldm %llds", sign.c_str(), static_cast<long long>(hours),
                    static_cast<long long>(minutes), static_cast<long long>(seconds));
      return buf;
    }
    if (minutes != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldm %llds", sign.c_str(), static_cast<long long>(minutes),
                    static_cast<long long>(seconds));
      return buf;
    }
    return sign + GoFormatG(v, 4) + "s";
  }
  static const char* kSmall[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  for (const char* p : kSmall) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return GoFormatG(v, 4) + prefix + "s";
}

std::string HumanizePercentage(double v) { return GoFormatG(v * 100, 4) + "%"; }

std::string HumanizeTimestamp(double v) {
  if (!std::isfinite(v)) return GoFormatG(v, 4);
  // Prometheus goes through model.Time: nanoseconds truncated to milliseconds.
  double ns = v * 1e9;
  if (ns >= 9.2e18 || ns <= -9.2e18) return GoFormatG(v, 4);
  int64_t ms = static_cast<int64_t>(ns) / 1000000;
  int64_t frac_ms = ms % 1000;
  auto secs = static_cast<time_t>(ms / 1000);
  if (frac_ms < 0) {
    frac_ms += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (frac_ms != 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(frac_ms));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + " +0000 UTC";
}

}  // namespace vigil::tmpl
