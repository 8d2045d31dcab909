#include "api/format.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace vigil::api {

void AppendSampleValue(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[400];
  double abs = std::fabs(v);
  auto fmt = (abs != 0 && (abs < 1e-6 || abs >= 1e21)) ? std::chars_format::scientific : std::chars_format::fixed;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, fmt);
  if (ec != std::errc()) {
    out->append("NaN");  // cannot happen: the buffer fits any double
    return;
  }
  out->append(buf, end);
}

std::string FormatSampleValue(double v) {
  std::string out;
  AppendSampleValue(&out, v);
  return out;
}

void AppendTimestamp(std::string* out, TimestampMs t) {
  char buf[32];
  char* p = buf;
  uint64_t abs = t < 0 ? static_cast<uint64_t>(-(t + 1)) + 1 : static_cast<uint64_t>(t);
  if (t < 0) *p++ = '-';
  p = std::to_chars(p, buf + sizeof buf, abs / 1000).ptr;
  uint64_t fraction = abs % 1000;
  if (fraction != 0) {
    *p++ = '.';  // always three digits, as Prometheus writes them
    *p++ = static_cast<char>('0' + fraction / 100);
    *p++ = static_cast<char>('0' + fraction / 10 % 10);
    *p++ = static_cast<char>('0' + fraction % 10);
  }
  out->append(buf, p);
}

std::string FormatTimestamp(TimestampMs t) {
  std::string out;
  AppendTimestamp(&out, t);
  return out;
}

std::string FormatTimestampAsFloat(TimestampMs t) { return FormatSampleValue(static_cast<double>(t) / 1000); }

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
  }
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(i + k) & 0x3f);
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
        continue;
      }
      std::string_view seq = s.substr(i, n);
      if (seq == "\xe2\x80\xa8") {
        out->append("\\u2028");
      } else if (seq == "\xe2\x80\xa9") {
        out->append("\\u2029");
      } else {
        out->append(seq);
      }
      i += n;
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

namespace {

// strtod over the whole text; nullopt unless it all parses.
std::optional<double> ParseFloatStrict(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

}  // namespace

Result<TimestampMs> ParseTimeParam(std::string_view text) {
  auto error = [&] { return Status::Error("cannot parse \"" + std::string(text) + "\" to a valid timestamp"); };
  if (std::optional<double> secs = ParseFloatStrict(text)) {
    if (!std::isfinite(*secs) || std::fabs(*secs) > 9.2e15) return error();
    // Like Prometheus: whole seconds plus the fraction rounded to milliseconds.
    double whole = 0;
    double frac = std::modf(*secs, &whole);
    return static_cast<TimestampMs>(whole) * 1000 + static_cast<TimestampMs>(std::round(frac * 1000));
  }
  Result<TimestampMs> t = ParseTime(text);
  if (!t.ok()) return error();
  return *t;
}

Result<Duration> ParseDurationParam(std::string_view text) {
  if (std::optional<double> secs = ParseFloatStrict(text)) {
    double ms = *secs * 1000;
    if (!std::isfinite(ms) || std::fabs(ms) >= 9.2e15) {
      return Status::Error("cannot parse \"" + std::string(text) + "\" to a valid duration. It overflows int64");
    }
    return Duration(static_cast<int64_t>(std::llround(ms)));
  }
  Result<Duration> d = ParseDuration(text);
  if (!d.ok()) return Status::Error("cannot parse \"" + std::string(text) + "\" to a valid duration");
  return *d;
}

std::string_view ErrorTypeName(promql::ErrorKind kind) {
  switch (kind) {
    case promql::ErrorKind::kBadData: return "bad_data";
    case promql::ErrorKind::kExecution: return "execution";
    case promql::ErrorKind::kTooManySamples: return "execution";
    case promql::ErrorKind::kTimeout: return "timeout";
    case promql::ErrorKind::kCanceled: return "canceled";
  }
  return "internal";
}

int HttpStatus(promql::ErrorKind kind) {
  switch (kind) {
    case promql::ErrorKind::kBadData: return 400;
    case promql::ErrorKind::kExecution: return 422;
    case promql::ErrorKind::kTooManySamples: return 422;
    case promql::ErrorKind::kTimeout: return 503;
    case promql::ErrorKind::kCanceled: return 499;  // Prometheus's "client closed request"
  }
  return 500;
}

http::Response JsonResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

http::Response ErrorResponse(int status, std::string_view type, std::string_view message) {
  std::string b = R"({"status":"error","errorType":)";
  AppendJsonString(&b, type);
  b += R"(,"error":)";
  AppendJsonString(&b, message);
  b += '}';
  return JsonResponse(status, std::move(b));
}

}  // namespace vigil::api
