#include "alert/alert.h"

#include <cstdio>

namespace vigil::alert {

std::string Fingerprint(const Labels& labels) {
  // Prometheus's model.LabelSet.Fingerprint: FNV-1a 64 over the sorted
  // name, 0xff, value, 0xff of every label, so vigil's keys equal
  // Alertmanager's for the same alert.
  uint64_t h = 14695981039346656037ULL;
  auto add = [&h](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ULL;
    }
  };
  for (const auto& [name, value] : labels) {
    add(name);
    add("\xff");
    add(value);
    add("\xff");
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

bool IsSpace(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// One `name op value`; `text` is already trimmed.
Result<tsdb::Matcher> ParseOne(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
  std::string name(text.substr(0, i));
  if (!IsValidLabelName(name)) {
    return Status::Error("matcher \"" + std::string(text) + "\": expected a label name first");
  }
  std::string_view rest = Trim(text.substr(i));
  tsdb::Matcher::Type type;
  if (rest.starts_with("=~")) {
    type = tsdb::Matcher::Type::kRegexMatch;
  } else if (rest.starts_with("!~")) {
    type = tsdb::Matcher::Type::kRegexNoMatch;
  } else if (rest.starts_with("!=")) {
    type = tsdb::Matcher::Type::kNotEqual;
  } else if (rest.starts_with("=")) {
    type = tsdb::Matcher::Type::kEqual;
  } else {
    return Status::Error("matcher \"" + std::string(text) + "\": expected =, !=, =~ or !~ after " + name);
  }
  rest = Trim(rest.substr(type == tsdb::Matcher::Type::kEqual ? 1 : 2));
  std::string value;
  if (!rest.empty() && rest.front() == '"') {
    size_t j = 1;
    bool closed = false;
    for (; j < rest.size(); ++j) {
      char ch = rest[j];
      if (ch == '"') {
        closed = true;
        break;
      }
      if (ch == '\\' && j + 1 < rest.size()) {
        char next = rest[++j];
        value += next == 'n' ? '\n' : next;
        continue;
      }
      value += ch;
    }
    if (!closed) return Status::Error("matcher \"" + std::string(text) + "\": unterminated quoted value");
    if (!Trim(rest.substr(j + 1)).empty()) {
      return Status::Error("matcher \"" + std::string(text) + "\": unexpected text after the quoted value");
    }
  } else {
    if (rest.find('"') != std::string_view::npos) {
      return Status::Error("matcher \"" + std::string(text) + "\": a value with quotes must be fully quoted");
    }
    value = std::string(rest);
  }
  Result<tsdb::Matcher> m = tsdb::Matcher::Make(type, std::move(name), std::move(value));
  if (!m.ok()) return Status::Error("matcher \"" + std::string(text) + "\": " + m.status().message());
  return m;
}

}  // namespace

Result<Matchers> ParseMatchers(std::string_view text) {
  text = Trim(text);
  if (text.starts_with("{")) {
    if (!text.ends_with("}")) return Status::Error("matchers \"" + std::string(text) + "\": missing closing }");
    text = Trim(text.substr(1, text.size() - 2));
  }
  Matchers out;
  // Split at commas outside double quotes.
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size()) {
      char ch = text[i];
      if (quoted && ch == '\\') {
        ++i;
        continue;
      }
      if (ch == '"') quoted = !quoted;
      if (ch != ',' || quoted) continue;
    }
    std::string_view part = Trim(text.substr(start, i - start));
    start = i + 1;
    if (part.empty()) {
      if (i == text.size() && !out.empty()) break;  // a trailing comma
      return Status::Error("matchers \"" + std::string(text) + "\": empty matcher");
    }
    Result<tsdb::Matcher> m = ParseOne(part);
    if (!m.ok()) return m.status();
    out.push_back(std::move(*m));
  }
  return out;
}

bool MatchesAll(const Matchers& matchers, const Labels& labels) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels)) return false;
  }
  return true;
}

}  // namespace vigil::alert
