// Fuzzes the log-rule matcher (logs/rules.h) and the log state file decoder
// (logs/state.h). The input's lines up to one that is exactly "--" are rules
// ("c REGEX" a counter, "g REGEX" a gauge, "s ON<TAB>OFF" a state); every
// line after it is applied. Rules that do not compile are fine; anything
// that compiles must take any bytes, and what it counted must survive a
// round trip through the state file. The whole input is also decoded as a
// state file.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "logs/rules.h"
#include "logs/state.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckRoundTrip(const vigil::logs::LogState& s) {
  using namespace vigil::logs;
  auto again = DecodeState(EncodeState(s));
  Check(again.ok());
  Check(again->source == s.source && again->journal_cursor == s.journal_cursor);
  Check(again->has_position == s.has_position && (!s.has_position || again->position == s.position));
  Check(again->values.lines == s.values.lines && again->values.long_lines == s.values.long_lines);
  Check(again->values.counters.size() == s.values.counters.size());
  for (size_t i = 0; i < s.values.counters.size(); ++i) {
    Check(again->values.counters[i].count == s.values.counters[i].count);
  }
  Check(EncodeState(*again) == EncodeState(s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::logs;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  auto decoded = DecodeState(input);
  if (decoded.ok()) CheckRoundTrip(*decoded);

  RuleSet rules;
  size_t pos = 0;
  bool in_rules = true;
  std::vector<std::string_view> lines;
  while (pos <= input.size()) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) nl = input.size();
    std::string_view line = input.substr(pos, nl - pos);
    pos = nl + 1;
    if (in_rules) {
      if (line == "--") {
        in_rules = false;
      } else if (line.size() >= 2 && line[1] == ' ') {
        std::string name = "r" + std::to_string(rules.counters.size() + rules.gauges.size() + rules.states.size());
        std::string body(line.substr(2));
        if (line[0] == 'c') rules.counters.push_back({name, body});
        if (line[0] == 'g') rules.gauges.push_back({name, body});
        if (line[0] == 's') {
          size_t tab = body.find('\t');
          if (tab != std::string::npos) rules.states.push_back({name, body.substr(0, tab), body.substr(tab + 1)});
        }
      }
    } else {
      lines.push_back(line);
    }
    if (rules.counters.size() + rules.gauges.size() + rules.states.size() > 16) break;
  }
  auto compiled = LineMatcher::Compile(rules);
  if (!compiled.ok()) {
    Check(!compiled.status().message().empty());
    return 0;
  }
  LineMatcher& m = **compiled;
  vigil::TimestampMs t = 1700000000000;
  for (std::string_view line : lines) {
    bool long_line = line.size() > kMaxLineBytes;
    m.Apply(line.substr(0, kMaxLineBytes), ++t, long_line);
  }
  const RuleValues& v = m.values();
  Check(v.lines == lines.size());
  for (const auto& c : v.counters) Check(c.count <= v.lines);
  for (const auto& g : v.gauges) Check(!g.seen || std::isfinite(g.value));
  for (const auto& s : v.states) Check(s.value >= -1 && s.value <= 1 && (s.value < 0) == (s.changed_ms == 0));

  LogState s;
  s.source = std::string(input.substr(0, 64));
  s.values = v;
  CheckRoundTrip(s);
  return 0;
}
