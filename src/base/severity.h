// The `severity` label values alerts carry, mapped to vigil's priorities P0
// (page a person now) .. P3 (for the record). Public rule packs use their own
// words (warning, info, page, …); everything that acts on urgency — paging
// integrations, SMS, colours, dependency inhibition — asks this map.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

enum class Priority { kP0 = 0, kP1 = 1, kP2 = 2, kP3 = 3 };

// "P0".."P3".
std::string_view PriorityName(Priority p);
// "P0".."P3" in either case; nullopt otherwise.
std::optional<Priority> ParsePriority(std::string_view s);

class SeverityMap {
 public:
  // What a value the map does not name (or a missing severity) counts as.
  static constexpr Priority kUnmapped = Priority::kP3;

  // The default: critical/page P0, high/error/major P1, warning/medium/minor
  // P2, info/low/none P3.
  SeverityMap();

  // Adds or replaces one value's priority.
  void Set(std::string value, Priority p);
  // The priority the map gives `severity`; a bare "P0".."P3" is its own
  // priority; nullopt for any other value the map does not name.
  std::optional<Priority> Find(std::string_view severity) const;
  // Find(), or kUnmapped.
  Priority Of(std::string_view severity) const { return Find(severity).value_or(kUnmapped); }
  // Every value mapped to `p`, sorted (without "P0".."P3").
  std::vector<std::string> ValuesOf(Priority p) const;

  const std::map<std::string, Priority, std::less<>>& entries() const { return map_; }

 private:
  std::map<std::string, Priority, std::less<>> map_;
};

}  // namespace vigil
