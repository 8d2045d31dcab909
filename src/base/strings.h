// Small string helpers used by the parsers; none allocate unless they return a string.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

std::string_view Trim(std::string_view s);
// Splits on any run of spaces/tabs; empty fields are dropped.
std::vector<std::string_view> SplitFields(std::string_view s);
// Splits on `sep`, keeping empty fields.
std::vector<std::string_view> Split(std::string_view s, char sep);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
// ASCII case-insensitive equality (HTTP header names, tokens).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Strict number parsing: the whole input must be consumed.
std::optional<double> ParseDouble(std::string_view s);
std::optional<uint64_t> ParseUint64(std::string_view s);
std::optional<int64_t> ParseInt64(std::string_view s);

// Calls `fn(line)` for each line of `text` (without the newline); the last line
// may lack a newline.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace vigil
