#include "logs/rules.h"

#include <re2/re2.h>

#include <charconv>
#include <cmath>

namespace vigil::logs {

LineMatcher::~LineMatcher() = default;

namespace {

Result<std::unique_ptr<RE2>> CompileOne(const std::string& pattern, const std::string& field, int want_groups) {
  if (pattern.empty()) return Status::Error(field + ": empty pattern");
  auto re = std::make_unique<RE2>(pattern, RE2::Quiet);
  if (!re->ok()) return Status::Error(field + ": invalid regex: " + re->error());
  if (want_groups >= 0 && re->NumberOfCapturingGroups() != want_groups) {
    return Status::Error(field + ": needs exactly one capture group around the number");
  }
  return re;
}

}  // namespace

Result<std::unique_ptr<LineMatcher>> LineMatcher::Compile(const RuleSet& rules) {
  std::unique_ptr<LineMatcher> m(new LineMatcher());
  for (const auto& r : rules.counters) {
    auto re = CompileOne(r.match, "counters[" + r.name + "].match", -1);
    if (!re.ok()) return re.status();
    m->counter_re_.push_back(std::move(*re));
    m->values_.counters.push_back({r.name, 0});
  }
  for (const auto& r : rules.gauges) {
    auto re = CompileOne(r.match, "gauges[" + r.name + "].match", 1);
    if (!re.ok()) return re.status();
    m->gauge_re_.push_back(std::move(*re));
    m->values_.gauges.push_back({r.name});
  }
  for (const auto& r : rules.states) {
    auto on = CompileOne(r.on, "states[" + r.name + "].on", -1);
    if (!on.ok()) return on.status();
    auto off = CompileOne(r.off, "states[" + r.name + "].off", -1);
    if (!off.ok()) return off.status();
    m->on_re_.push_back(std::move(*on));
    m->off_re_.push_back(std::move(*off));
    m->values_.states.push_back({r.name});
  }
  return m;
}

bool LineMatcher::Apply(std::string_view line, TimestampMs now_ms, bool truncated) {
  ++values_.lines;
  if (truncated) ++values_.long_lines;
  const re2::StringPiece text(line.data(), line.size());
  for (size_t i = 0; i < counter_re_.size(); ++i) {
    if (RE2::PartialMatch(text, *counter_re_[i])) ++values_.counters[i].count;
  }
  for (size_t i = 0; i < gauge_re_.size(); ++i) {
    re2::StringPiece capture;
    if (!RE2::PartialMatch(text, *gauge_re_[i], &capture)) continue;
    double v = 0;
    if (!ParseCapturedNumber(std::string_view(capture.data(), capture.size()), &v)) continue;
    auto& g = values_.gauges[i];
    g.seen = true;
    g.value = v;
    g.time_ms = now_ms;
  }
  bool changed = false;
  for (size_t i = 0; i < on_re_.size(); ++i) {
    // A line matching both patterns is taken as "off": losing a connection
    // should never be hidden by a coincidental "on".
    int v = -1;
    if (RE2::PartialMatch(text, *off_re_[i])) {
      v = 0;
    } else if (RE2::PartialMatch(text, *on_re_[i])) {
      v = 1;
    }
    auto& s = values_.states[i];
    if (v < 0 || v == s.value) continue;
    s.value = v;
    s.changed_ms = now_ms;
    changed = true;
  }
  return changed;
}

void LineMatcher::Restore(const RuleValues& saved) {
  values_.lines = saved.lines;
  values_.long_lines = saved.long_lines;
  for (auto& c : values_.counters) {
    for (const auto& s : saved.counters) {
      if (s.name == c.name) c.count = s.count;
    }
  }
  for (auto& g : values_.gauges) {
    for (const auto& s : saved.gauges) {
      if (s.name == g.name) g = s;
    }
  }
  for (auto& st : values_.states) {
    for (const auto& s : saved.states) {
      if (s.name == st.name && s.value >= -1 && s.value <= 1) st = s;
    }
  }
}

bool ParseCapturedNumber(std::string_view text, double* out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.size() > 64) return false;
  // from_chars also takes "inf", "nan" and hex-free exponents; only finite decimals are kept.
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace vigil::logs
