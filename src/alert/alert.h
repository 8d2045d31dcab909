// Alerts as routing sees them, and Alertmanager's matcher syntax.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "base/time.h"
#include "tsdb/matcher.h"

namespace vigil::alert {

struct Alert {
  Labels labels;
  Labels annotations;
  TimestampMs starts_at = 0;
  TimestampMs ends_at = 0;  // 0 while firing; the resolve time once resolved
  std::string generator_url;
  std::optional<double> value;  // the expression's value at the last evaluation, when known
  bool resolved() const { return ends_at != 0; }
};

// Alertmanager's fingerprint of a label set: stable across restarts, the
// dedup key receivers see (PagerDuty dedup_key). 16 hex digits.
std::string Fingerprint(const Labels& labels);

using Matchers = std::vector<tsdb::Matcher>;

// Parses Alertmanager matchers: `name="value"`, `name!=value`, `name=~"re"`,
// `name!~re`, several separated by commas, optionally inside braces. Values
// may be unquoted (trimmed) or double-quoted with \" \\ \n escapes; regexes
// are RE2 and fully anchored. Errors say which matcher and why.
Result<Matchers> ParseMatchers(std::string_view text);

// True iff every matcher passes (an empty list matches everything).
bool MatchesAll(const Matchers& matchers, const Labels& labels);

}  // namespace vigil::alert
