#include "expfmt/parse.h"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

namespace vigil::expfmt {

std::string_view FamilyTypeName(FamilyType type, Format format) {
  switch (type) {
    case FamilyType::kCounter: return "counter";
    case FamilyType::kGauge: return "gauge";
    case FamilyType::kHistogram: return "histogram";
    case FamilyType::kGaugeHistogram: return "gaugehistogram";
    case FamilyType::kSummary: return "summary";
    case FamilyType::kInfo: return "info";
    case FamilyType::kStateset: return "stateset";
    case FamilyType::kUnknown: break;
  }
  return format == Format::kOpenMetrics100 ? "unknown" : "untyped";
}

MetricType ToMetricType(FamilyType type) {
  switch (type) {
    case FamilyType::kCounter: return MetricType::kCounter;
    case FamilyType::kGauge: return MetricType::kGauge;
    default: return MetricType::kUntyped;
  }
}

namespace {

// Character classes, one bit each, looked up once per byte on the hot path.
constexpr uint8_t kMetricStart = 1;  // [a-zA-Z_:]
constexpr uint8_t kMetricChar = 2;   // [a-zA-Z0-9_:]
constexpr uint8_t kLabelStart = 4;   // [a-zA-Z_]
constexpr uint8_t kLabelChar = 8;    // [a-zA-Z0-9_]
constexpr uint8_t kPlainValue = 16;  // ASCII other than '"', '\\' and '\n'

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    uint8_t v = 0;
    if (alpha || c == ':') v |= kMetricStart | kMetricChar;
    if (digit) v |= kMetricChar | kLabelChar;
    if (alpha) v |= kLabelStart | kLabelChar;
    if (c < 0x80 && c != '"' && c != '\\' && c != '\n') v |= kPlainValue;
    t[c] = v;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kClasses = MakeClasses();

inline bool Is(char c, uint8_t cls) { return (kClasses[static_cast<unsigned char>(c)] & cls) != 0; }

// Prometheus's value.NormalNaN: a NaN that is never the staleness marker.
constexpr uint64_t kNormalNaNBits = 0x7ff8000000000001ULL;

constexpr std::string_view kCrlf = "unexpected carriage return: CRLF line endings are not supported";

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

enum class FloatResult { kOk, kInvalid, kOutOfRange };

// The common case of a sample value or timestamp, digits with an optional
// fraction and no exponent, parsed without from_chars: a mantissa below 2^53
// divided by a power of ten up to 10^22 (both exact in a double) is the
// correctly rounded value, as IEEE division rounds once (Clinger's fast path).
// False when the text is not of that shape; the caller then parses it fully.
bool ParsePlainDecimal(const char* q, const char* e, double* out) {
  static constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                            1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  // Unsigned arithmetic: a mantissa of too many digits wraps, and is refused below.
  uint64_t mantissa = 0;
  const char* p = q;
  for (; p < e && static_cast<unsigned char>(*p - '0') < 10; ++p) mantissa = mantissa * 10 + (*p - '0');
  const char* point = p;
  int fraction_digits = 0;
  if (p < e && *p == '.') {
    for (++p; p < e && static_cast<unsigned char>(*p - '0') < 10; ++p) mantissa = mantissa * 10 + (*p - '0');
    fraction_digits = static_cast<int>(p - point - 1);
  }
  const long digits = (point - q) + fraction_digits;
  // 10^15 < 2^53: every mantissa of up to 15 digits is exact in a double.
  if (p != e || digits == 0 || digits > 15) return false;
  const double m = static_cast<double>(mantissa);
  *out = fraction_digits > 0 ? m / kPowersOfTen[fraction_digits] : m;
  return true;
}

// Parses a float the way Prometheus does (Go's strconv.ParseFloat without hex
// or '_'): optional sign, decimal digits with optional fraction and exponent,
// Inf/Infinity in any case with optional sign, NaN in any case without sign.
// Overflow is an error; underflow rounds to zero or a subnormal, as in Go.
FloatResult ParseGoFloat(std::string_view s, double* out) {
  if (s.empty()) return FloatResult::kInvalid;
  const char* b = s.data();
  const char* e = b + s.size();
  const char* q = b;
  bool negative = false;
  if (*q == '+' || *q == '-') {
    negative = *q == '-';
    if (++q == e) return FloatResult::kInvalid;
  }
  char c = *q;
  if (c == 'i' || c == 'I' || c == 'n' || c == 'N') {
    std::string_view word(q, e - q);
    if (EqualsIgnoreCase(word, "inf") || EqualsIgnoreCase(word, "infinity")) {
      *out = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
      return FloatResult::kOk;
    }
    if (q == b && EqualsIgnoreCase(word, "nan")) {
      *out = std::bit_cast<double>(kNormalNaNBits);
      return FloatResult::kOk;
    }
    return FloatResult::kInvalid;
  }
  if (!((c >= '0' && c <= '9') || c == '.')) return FloatResult::kInvalid;
  double v = 0;
  if (ParsePlainDecimal(q, e, &v)) {
    *out = negative ? -v : v;
    return FloatResult::kOk;
  }
  auto [ptr, ec] = std::from_chars(q, e, v, std::chars_format::general);
  if (ptr != e) return FloatResult::kInvalid;
  if (ec == std::errc::result_out_of_range) {
    // from_chars reports underflow and overflow alike; strtod tells them apart.
    std::string copy(q, e);
    v = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(v)) return FloatResult::kOutOfRange;
  } else if (ec != std::errc()) {
    return FloatResult::kInvalid;
  }
  *out = negative ? -v : v;
  return FloatResult::kOk;
}

// True iff `s` is valid UTF-8 (as Go's utf8.Valid: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* e = p + s.size();
  while (p < e) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (static_cast<size_t>(e - p) <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (size_t i = 2; i <= n; ++i) {
      if (p[i] < 0x80 || p[i] > 0xbf) return false;
    }
    p += n + 1;
  }
  return true;
}

bool HasHighByte(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// Decodes \\ and \n (and \" when `quote`); other escapes stay as written, as in Prometheus.
void Unescape(std::string_view raw, bool quote, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i < raw.size()) {
    size_t bs = raw.find('\\', i);
    if (bs == std::string_view::npos) {
      out->append(raw.substr(i));
      return;
    }
    out->append(raw.substr(i, bs - i));
    if (bs + 1 == raw.size()) {
      out->push_back('\\');
      return;
    }
    char c = raw[bs + 1];
    if (c == '\\') {
      out->push_back('\\');
    } else if (c == 'n') {
      out->push_back('\n');
    } else if (c == '"' && quote) {
      out->push_back('"');
    } else {
      out->push_back('\\');
      out->push_back(c);
    }
    i = bs + 2;
  }
}

// Quotes `s` for an error message, escaping what would not print and cutting
// it short so a megabyte-long token makes a short message.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 48;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (s.size() > kMax) out += "...";
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

TextParser::TextParser(std::string_view input, Format format)
    : begin_(input.data()),
      end_(input.data() + input.size()),
      open_metrics_(format == Format::kOpenMetrics100),
      p_(begin_),
      line_start_(begin_) {}

const Labels& TextParser::labels() const {
  if (!labels_cached_) {
    const std::span<const Label> list = label_list();
    labels_cache_ = Labels::FromUnsorted(std::vector<Label>(list.begin(), list.end()));
    labels_cached_ = true;
  }
  return labels_cache_;
}

const char* TextParser::LineEnd(const char* from) const {
  if (from >= end_) return end_;
  const void* nl = std::memchr(from, '\n', static_cast<size_t>(end_ - from));
  return nl ? static_cast<const char*>(nl) : end_;
}

bool TextParser::SetError(const char* pos, std::string_view reason) {
  state_ = State::kFailed;
  status_ = Status::Error(fmt::format("line {}:{}: {}", line_, pos - line_start_ + 1, reason));
  return false;
}

std::string TextParser::Describe(const char* pos) const {
  if (pos >= end_) return "end of input";
  unsigned char c = static_cast<unsigned char>(*pos);
  if (c == '\n') return "end of line";
  if (c == '\t') return "'\\t'";
  if (c == '\r') return "'\\r'";
  if (c == '\'') return "\"'\"";
  if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", static_cast<char>(c));
  return fmt::format("byte 0x{:02x}", c);
}

bool TextParser::SetExpected(const char* pos, std::string_view expected) {
  if (pos < end_ && *pos == '\r' && (pos + 1 == end_ || pos[1] == '\n')) return SetError(pos, kCrlf);
  if (open_metrics_ && pos >= end_) return SetError(pos, "data does not end with # EOF");
  return SetError(pos, fmt::format("{}, got {}", expected, Describe(pos)));
}

TextParser::Entry TextParser::Next() {
  if (state_ == State::kFailed) return kError;
  if (state_ == State::kDone) return kEnd;
  label_count_ = 0;
  label_text_ = {};
  as_expected_ = false;
  labels_cached_ = false;
  has_timestamp_ = false;
  for (;;) {
    ++line_;
    line_start_ = p_;
    if (p_ == end_) {
      if (open_metrics_) return Error(p_, "data does not end with # EOF");
      state_ = State::kDone;
      return kEnd;
    }
    char c = *p_;
    if (Is(c, kMetricStart)) return ParseSample();
    if (c == '#') return open_metrics_ ? ParseHashOpenMetrics() : ParseHashText();
    if (open_metrics_) {
      if (c == '\n') return Error(p_, "empty line (OpenMetrics allows none)");
      return Expected(p_, "expected metric name, '# HELP', '# TYPE', '# UNIT' or '# EOF'");
    }
    // Text 0.0.4 allows blank lines and blanks before a comment, but not before
    // a sample (Prometheus would take them as part of the metric name).
    SkipBlanks();
    if (p_ == end_) {
      state_ = State::kDone;
      return kEnd;
    }
    c = *p_;
    if (c == '\n') {
      ++p_;
      continue;
    }
    if (c == '#') return ParseHashText();
    if (p_ > line_start_ && Is(c, kMetricStart)) return Error(line_start_, "unexpected whitespace before metric name");
    return Expected(p_, "expected metric name or comment");
  }
}

TextParser::Entry TextParser::ParseSample() {
  const char* start = p_++;
  while (p_ < end_ && Is(*p_, kMetricChar)) ++p_;
  name_ = std::string_view(start, p_ - start);
  labels_sorted_ = true;

  const char* name_end = p_;
  if (!open_metrics_) SkipBlanks();  // text 0.0.4 allows "name {labels}"
  int c = Peek();
  if (c == '{') {
    const char* open = p_;
    const size_t expected = expected_label_text_.size();
    if (expected != 0 && name_ == expected_name_ && static_cast<size_t>(end_ - p_) >= expected &&
        std::memcmp(p_, expected_label_text_.data(), expected) == 0) {
      // The same bytes parsed before give the same labels: skip them.
      p_ += expected;
      as_expected_ = true;
    } else {
      ++p_;
      if (!ParseLabels(false)) return kError;
      FinishLabels();
    }
    label_text_ = std::string_view(open, static_cast<size_t>(p_ - open));
    if (open_metrics_) {
      if (Peek() != ' ') return Expected(p_, "expected ' ' before value");
      ++p_;
    } else {
      SkipBlanks();
    }
  } else if (open_metrics_ && c == ' ') {
    ++p_;
  } else if (!open_metrics_ && p_ > name_end && c != '\n' && c != -1) {
    // The blanks before the value are skipped.
  } else if (c == -1 || c == '\n' || c == '\t' || c == '\r') {
    return Expected(p_, open_metrics_ ? "expected ' ' or '{' after metric name" : "expected value after metric name");
  } else {
    return Error(p_, fmt::format("invalid character {} in metric name", Describe(p_)));
  }

  const char* value_start = p_;
  if (open_metrics_) {
    while (p_ < end_ && *p_ != ' ' && *p_ != '\n') ++p_;
  } else {
    while (p_ < end_ && *p_ != ' ' && *p_ != '\t' && *p_ != '\n') ++p_;
  }
  if (p_ == value_start) return Expected(p_, "expected value");
  if (!ParseValueToken(value_start, p_, &value_, "value")) return kError;

  if (!open_metrics_) {
    SkipBlanks();
    if (p_ < end_ && *p_ != '\n') {
      // Prometheus's text timestamps are plain digits: no sign, no fraction.
      const char* ts = p_;
      while (p_ < end_ && *p_ != ' ' && *p_ != '\t' && *p_ != '\n') ++p_;
      std::string_view tok(ts, p_ - ts);
      if (tok.back() == '\r' && (p_ == end_ || *p_ == '\n')) return Error(p_ - 1, kCrlf);
      if (!(tok[0] >= '0' && tok[0] <= '9')) return Expected(ts, "expected timestamp or end of line");
      auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), timestamp_ms_);
      if (ptr != tok.data() + tok.size()) return Error(ts, "invalid timestamp " + Quote(tok));
      if (ec != std::errc()) return Error(ts, "timestamp out of range " + Quote(tok));
      has_timestamp_ = true;
      SkipBlanks();
      if (p_ < end_ && *p_ != '\n') return Expected(p_, "expected end of line after timestamp");
    }
    if (p_ < end_) ++p_;
    return kSample;
  }

  // OpenMetrics: value [" " timestamp] [" # {" exemplar] "\n", single spaces only.
  bool exemplar = false;
  if (p_ < end_ && *p_ == ' ') {
    ++p_;
    if (end_ - p_ >= 3 && std::memcmp(p_, "# {", 3) == 0) {
      if (!ParseExemplar()) return kError;
      exemplar = true;
    } else {
      const char* ts = p_;
      while (p_ < end_ && *p_ != ' ' && *p_ != '\n') ++p_;
      if (p_ == ts) return Expected(p_, "expected timestamp or exemplar");
      double seconds = 0;
      if (!ParseValueToken(ts, p_, &seconds, "timestamp")) return kError;
      std::string_view tok(ts, p_ - ts);
      if (!std::isfinite(seconds)) return Error(ts, "invalid timestamp " + Quote(tok));
      // promtool (Prometheus 2.42) does int64(seconds * 1000): truncation.
      double ms = seconds * 1000.0;
      if (!(ms >= -9223372036854775808.0 && ms < 9223372036854775808.0)) {
        return Error(ts, "timestamp out of range " + Quote(tok));
      }
      timestamp_ms_ = static_cast<int64_t>(ms);
      has_timestamp_ = true;
      if (p_ < end_ && *p_ == ' ') {
        ++p_;
        if (!(end_ - p_ >= 3 && std::memcmp(p_, "# {", 3) == 0)) {
          return Expected(p_, "expected an exemplar (\"# {\") after timestamp and ' '");
        }
        if (!ParseExemplar()) return kError;
        exemplar = true;
      }
    }
  }
  if (p_ == end_) return Error(p_, "data does not end with # EOF");
  if (*p_ != '\n') {
    SetExpected(p_, exemplar ? "expected end of line after exemplar"
                             : (has_timestamp_ ? "expected end of line after timestamp" : "expected end of line"));
    return kError;
  }
  ++p_;
  return kSample;
}

bool TextParser::ParseValueToken(const char* start, const char* stop, double* out, std::string_view what) {
  std::string_view tok(start, stop - start);
  switch (ParseGoFloat(tok, out)) {
    case FloatResult::kOk: return true;
    case FloatResult::kOutOfRange: return SetError(start, fmt::format("{} out of range {}", what, Quote(tok)));
    case FloatResult::kInvalid: break;
  }
  if (tok.back() == '\r' && (stop == end_ || *stop == '\n')) return SetError(stop - 1, kCrlf);
  return SetError(start, fmt::format("invalid {} {}", what, Quote(tok)));
}

bool TextParser::ParseLabels(bool exemplar) {
  // p_ is just past '{'. Text 0.0.4 allows blanks between tokens and a
  // trailing comma; OpenMetrics allows neither.
  const bool text = !open_metrics_;
  if (text) SkipBlanks();
  if (Peek() == '}') {
    ++p_;
    return true;
  }
  for (;;) {
    const char* name_start = p_;
    if (p_ < end_ && Is(*p_, kLabelStart)) {
      ++p_;
      while (p_ < end_ && Is(*p_, kLabelChar)) ++p_;
    }
    if (p_ == name_start) return SetExpected(p_, "expected label name");
    std::string_view label_name(name_start, p_ - name_start);
    if (text) SkipBlanks();
    if (Peek() != '=') return SetExpected(p_, "expected '=' after label name");
    ++p_;
    if (text) SkipBlanks();
    if (Peek() != '"') return SetExpected(p_, "expected '\"' to open the label value");

    Label* dest = nullptr;
    if (!exemplar) {
      if (label_name == "__name__") {
        return SetError(name_start, "label name \"__name__\" is not allowed: the metric name comes before the labels");
      }
      if (label_count_ > 0 && (!labels_sorted_ || !(std::string_view(labels_[label_count_ - 1].name) < label_name))) {
        // Out of order: a duplicate could be anywhere before. In order (the
        // usual case) every earlier name is smaller, so none can be equal.
        labels_sorted_ = false;
        for (size_t i = 0; i < label_count_; ++i) {
          if (labels_[i].name == label_name) {
            return SetError(name_start, fmt::format("duplicate label name {}", Quote(label_name)));
          }
        }
      }
      if (label_count_ == labels_.size()) labels_.emplace_back();
      dest = &labels_[label_count_++];
      dest->name.assign(label_name);
    }
    if (!ParseLabelValue(p_, dest)) return false;

    if (text) SkipBlanks();
    int c = Peek();
    if (c == ',') {
      ++p_;
      if (text) {
        SkipBlanks();
        if (Peek() == '}') {
          ++p_;
          return true;
        }
      }
      continue;
    }
    if (c == '}') {
      ++p_;
      return true;
    }
    return SetExpected(p_, "expected ',' or '}' after label value");
  }
}

bool TextParser::ParseLabelValue(const char* open_quote, Label* dest) {
  const char* start = open_quote + 1;
  p_ = start;
  bool escaped = false;
  bool high = false;
  for (;;) {
    if (p_ == end_) return SetExpected(p_, "unterminated label value: expected '\"'");
    char c = *p_;
    if (Is(c, kPlainValue)) {
      ++p_;
      continue;
    }
    if (c == '"') break;
    if (c == '\\') {
      if (p_ + 1 == end_) return SetExpected(p_ + 1, "unterminated label value: expected '\"'");
      if (p_[1] == '\n') return SetError(p_ + 1, "line feed in label value (escape it as \\n)");
      high |= static_cast<unsigned char>(p_[1]) >= 0x80;
      escaped = true;
      p_ += 2;
      continue;
    }
    if (c == '\n') return SetError(p_, "line feed in label value (escape it as \\n)");
    high = true;
    ++p_;
  }
  std::string_view raw(start, p_ - start);
  ++p_;  // the closing quote
  if (high && !ValidUtf8(raw)) return SetError(start, "invalid UTF-8 in label value");
  if (dest != nullptr) {
    if (escaped) {
      Unescape(raw, true, &dest->value);
    } else {
      dest->value.assign(raw);
    }
  }
  return true;
}

void TextParser::FinishLabels() {
  // Drop labels with empty values, keeping every string's buffer for reuse.
  size_t kept = 0;
  for (size_t i = 0; i < label_count_; ++i) {
    if (labels_[i].value.empty()) continue;
    if (kept != i) std::swap(labels_[kept], labels_[i]);
    ++kept;
  }
  label_count_ = kept;
  if (!labels_sorted_) {
    // Insertion sort: label sets are small and usually nearly sorted.
    for (size_t i = 1; i < label_count_; ++i) {
      for (size_t j = i; j > 0 && labels_[j].name < labels_[j - 1].name; --j) std::swap(labels_[j], labels_[j - 1]);
    }
  }
}

bool TextParser::ParseExemplar() {
  // p_ is at "# {". Prometheus (2.42) allows exemplars on *_total and *_bucket samples only.
  if (!EndsWith(name_, "_total") && !EndsWith(name_, "_bucket")) {
    return SetError(p_, fmt::format("metric name {} does not support exemplars (only *_total and *_bucket samples do)",
                                    Quote(name_)));
  }
  p_ += 3;
  if (!ParseLabels(true)) return false;
  if (Peek() != ' ') return SetExpected(p_, "expected ' ' before exemplar value");
  ++p_;
  const char* v = p_;
  while (p_ < end_ && *p_ != ' ' && *p_ != '\n') ++p_;
  if (p_ == v) return SetExpected(p_, "expected exemplar value");
  double value = 0;
  if (!ParseValueToken(v, p_, &value, "exemplar value")) return false;
  if (p_ < end_ && *p_ == ' ') {
    ++p_;
    const char* ts = p_;
    while (p_ < end_ && *p_ != ' ' && *p_ != '\n') ++p_;
    if (p_ == ts) return SetExpected(p_, "expected exemplar timestamp");
    double seconds = 0;
    if (!ParseValueToken(ts, p_, &seconds, "exemplar timestamp")) return false;
    if (!std::isfinite(seconds))
      return SetError(ts, "invalid exemplar timestamp " + Quote(std::string_view(ts, p_ - ts)));
  }
  return true;
}

TextParser::Entry TextParser::ParseHashText() {
  // "#" [blanks] ("HELP"|"TYPE") blanks name ... is metadata; any other line
  // starting with '#' is a comment.
  ++p_;
  const char* after_hash = p_;
  SkipBlanks();
  if (p_ > after_hash && end_ - p_ > 4 && (p_[4] == ' ' || p_[4] == '\t')) {
    Entry kind = kComment;
    if (std::memcmp(p_, "HELP", 4) == 0) kind = kHelp;
    if (std::memcmp(p_, "TYPE", 4) == 0) kind = kType;
    if (kind != kComment) {
      p_ += 4;
      SkipBlanks();
      return ParseMetadata(kind);
    }
  }
  const char* e = LineEnd(p_);
  if (e > p_ && e[-1] == '\r') return Error(e - 1, kCrlf);
  text_ = std::string_view(p_, e - p_);
  p_ = e < end_ ? e + 1 : e;
  return kComment;
}

TextParser::Entry TextParser::ParseHashOpenMetrics() {
  if (end_ - p_ >= 2 && p_[1] == ' ') {
    const char* k = p_ + 2;
    size_t rest = end_ - k;
    auto starts = [&](std::string_view word) {
      return rest >= word.size() && std::memcmp(k, word.data(), word.size()) == 0;
    };
    for (Entry kind : {kHelp, kType, kUnit}) {
      if (starts(kind == kHelp ? "HELP " : kind == kType ? "TYPE " : "UNIT ")) {
        p_ = k + 5;
        return ParseMetadata(kind);
      }
    }
    if (starts("EOF")) {
      p_ = k + 3;
      if (p_ < end_ && *p_ != '\n') {
        if (*p_ == '\r' && (p_ + 1 == end_ || p_[1] == '\n')) return Error(p_, kCrlf);
        return Error(p_, "unexpected data after # EOF");
      }
      if (p_ < end_) ++p_;
      if (p_ < end_) {
        ++line_;
        line_start_ = p_;
        return Error(p_, "unexpected data after # EOF");
      }
      state_ = State::kDone;
      return kEof;
    }
  }
  return Error(p_, "expected '# HELP', '# TYPE', '# UNIT' or '# EOF' (OpenMetrics has no other comments)");
}

TextParser::Entry TextParser::ParseMetadata(Entry kind) {
  std::string_view keyword = kind == kHelp ? "HELP" : kind == kType ? "TYPE" : "UNIT";
  const char* name_start = p_;
  if (p_ < end_ && Is(*p_, kMetricStart)) {
    ++p_;
    while (p_ < end_ && Is(*p_, kMetricChar)) ++p_;
  }
  if (p_ == name_start) return Expected(p_, fmt::format("expected metric name after {}", keyword));
  name_ = std::string_view(name_start, p_ - name_start);

  const char* e = LineEnd(p_);
  if (open_metrics_) {
    // Exactly one space, then the text up to the line feed (which must exist).
    if (p_ == end_ || *p_ != ' ') {
      if (p_ < end_ && *p_ != '\n' && *p_ != '\r') {
        return Error(p_, fmt::format("invalid character {} in metric name", Describe(p_)));
      }
      return Expected(p_, fmt::format("expected ' ' and text after metric name in {}", keyword));
    }
    ++p_;
    if (e == end_) return Error(e, "data does not end with # EOF");
  } else if (p_ < end_ && *p_ != '\n') {
    if (*p_ != ' ' && *p_ != '\t') {
      if (*p_ == '\r') return Expected(p_, "expected blank after metric name");
      return Error(p_, fmt::format("invalid character {} in metric name", Describe(p_)));
    }
    // The text starts after one blank, as in Prometheus.
    ++p_;
  }
  std::string_view raw(p_, e - p_);
  if (!raw.empty() && raw.back() == '\r') return Error(e - 1, kCrlf);
  const char* raw_start = p_;
  p_ = e < end_ ? e + 1 : e;

  switch (kind) {
    case kHelp:
      if (HasHighByte(raw) && !ValidUtf8(raw)) return Error(raw_start, "invalid UTF-8 in help text");
      if (raw.find('\\') != std::string_view::npos) {
        Unescape(raw, open_metrics_, &text_buf_);
        text_ = text_buf_;
      } else {
        text_ = raw;
      }
      return kHelp;
    case kType: {
      static constexpr std::pair<std::string_view, FamilyType> kText[] = {
          {"counter", FamilyType::kCounter}, {"gauge", FamilyType::kGauge},     {"histogram", FamilyType::kHistogram},
          {"summary", FamilyType::kSummary}, {"untyped", FamilyType::kUnknown},
      };
      static constexpr std::pair<std::string_view, FamilyType> kOpenMetrics[] = {
          {"counter", FamilyType::kCounter},     {"gauge", FamilyType::kGauge},
          {"histogram", FamilyType::kHistogram}, {"gaugehistogram", FamilyType::kGaugeHistogram},
          {"summary", FamilyType::kSummary},     {"info", FamilyType::kInfo},
          {"stateset", FamilyType::kStateset},   {"unknown", FamilyType::kUnknown},
      };
      std::span<const std::pair<std::string_view, FamilyType>> table(kText);
      if (open_metrics_) table = kOpenMetrics;
      for (const auto& [spelling, type] : table) {
        if (raw == spelling) {
          type_ = type;
          return kType;
        }
      }
      return Error(raw_start, fmt::format("invalid metric type {}", Quote(raw)));
    }
    default:  // kUnit
      if (!raw.empty() &&
          !(name_.size() > raw.size() && EndsWith(name_, raw) && name_[name_.size() - raw.size() - 1] == '_')) {
        return Error(raw_start, fmt::format("unit {} is not a suffix of metric {}", Quote(raw), Quote(name_)));
      }
      text_ = raw;
      return kUnit;
  }
}

}  // namespace vigil::expfmt
