// The rule packs of deploy/rules/*.yml, embedded in the binary at build time
// so the default configuration has host alerts without any file installed.
// A `rule_files` entry `builtin:NAME` names the pack deploy/rules/NAME.yml.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::rules {

inline constexpr std::string_view kBuiltinPackPrefix = "builtin:";

// True iff `entry` is written as `builtin:NAME` (known or not).
bool IsBuiltinPackRef(std::string_view entry);
// The text of the pack `builtin:NAME`, or nullopt when no pack has that name.
std::optional<std::string_view> BuiltinPack(std::string_view entry);
// "builtin:host", … in name order, for listings.
std::vector<std::string> BuiltinPackRefs();
// The same joined by ", ", for problems that name what exists.
std::string BuiltinPackList();

}  // namespace vigil::rules
