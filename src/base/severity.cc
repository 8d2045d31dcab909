#include "base/severity.h"

namespace vigil {

std::string_view PriorityName(Priority p) {
  static constexpr std::string_view kNames[] = {"P0", "P1", "P2", "P3"};
  return kNames[static_cast<int>(p)];
}

std::optional<Priority> ParsePriority(std::string_view s) {
  if (s.size() != 2 || (s[0] != 'P' && s[0] != 'p') || s[1] < '0' || s[1] > '3') return std::nullopt;
  return static_cast<Priority>(s[1] - '0');
}

SeverityMap::SeverityMap() {
  const std::pair<Priority, std::vector<const char*>> kDefaults[] = {
      {Priority::kP0, {"critical", "page"}},
      {Priority::kP1, {"high", "error", "major"}},
      {Priority::kP2, {"warning", "medium", "minor"}},
      {Priority::kP3, {"info", "low", "none"}},
  };
  for (const auto& [p, values] : kDefaults) {
    for (const char* v : values) map_[v] = p;
  }
}

void SeverityMap::Set(std::string value, Priority p) { map_[std::move(value)] = p; }

std::optional<Priority> SeverityMap::Find(std::string_view severity) const {
  if (auto it = map_.find(severity); it != map_.end()) return it->second;
  return ParsePriority(severity);
}

std::vector<std::string> SeverityMap::ValuesOf(Priority p) const {
  std::vector<std::string> out;
  for (const auto& [value, priority] : map_) {
    if (priority == p) out.push_back(value);
  }
  return out;
}

}  // namespace vigil
