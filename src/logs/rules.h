// Line rules: regexes that turn log lines into counters, gauges and on/off
// states. A LineMatcher holds the compiled rules and their current values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace re2 {
class RE2;
}

namespace vigil::logs {

// Lines longer than this are matched on their first kMaxLineBytes bytes and
// counted once; the rest of such a line is skipped, never buffered.
inline constexpr size_t kMaxLineBytes = 64 << 10;

struct CounterRule {
  std::string name;
  std::string match;  // RE2, unanchored
};
struct GaugeRule {
  std::string name;
  std::string match;  // RE2, unanchored, exactly one capture group holding a number
};
struct StateRule {
  std::string name;
  std::string on;   // RE2, unanchored: sets the state to 1
  std::string off;  // RE2, unanchored: sets it to 0
};
struct RuleSet {
  std::vector<CounterRule> counters;
  std::vector<GaugeRule> gauges;
  std::vector<StateRule> states;
};

// What the rules have seen so far; persisted with the read position so a
// restart continues the same totals.
struct RuleValues {
  struct Counter {
    std::string name;
    uint64_t count = 0;
  };
  struct Gauge {
    std::string name;
    bool seen = false;  // no matching line yet: the gauge is not exported
    double value = 0;
    TimestampMs time_ms = 0;  // when the last matching line was read
  };
  struct State {
    std::string name;
    int value = -1;              // -1: unknown (neither pattern seen yet), else 0 or 1
    TimestampMs changed_ms = 0;  // when the value last changed
  };
  uint64_t lines = 0;       // lines applied
  uint64_t long_lines = 0;  // of which longer than kMaxLineBytes
  std::vector<Counter> counters;
  std::vector<Gauge> gauges;
  std::vector<State> states;
};

class LineMatcher {
 public:
  // Compiles every rule; an error names the rule and field (`counters[errors].match: ...`).
  static Result<std::unique_ptr<LineMatcher>> Compile(const RuleSet& rules);
  ~LineMatcher();
  LineMatcher(const LineMatcher&) = delete;
  LineMatcher& operator=(const LineMatcher&) = delete;

  // Applies one line (without its newline) read at `now_ms`. `truncated`
  // says the line was longer than what is passed. Returns true iff a state
  // rule changed its value.
  bool Apply(std::string_view line, TimestampMs now_ms, bool truncated = false);

  const RuleValues& values() const { return values_; }
  // Takes over saved values for rules that still exist (by kind and name);
  // values of rules no longer configured are dropped.
  void Restore(const RuleValues& saved);

 private:
  LineMatcher() = default;
  std::vector<std::unique_ptr<re2::RE2>> counter_re_, gauge_re_, on_re_, off_re_;
  RuleValues values_;
};

// Parses a gauge capture: a decimal or floating-point number, optionally
// signed; false when it is anything else or not finite.
bool ParseCapturedNumber(std::string_view text, double* out);

}  // namespace vigil::logs
