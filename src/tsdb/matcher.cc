#include "tsdb/matcher.h"

#include <re2/re2.h>

namespace vigil::tsdb {

Result<Matcher> Matcher::Make(Type type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == Type::kRegexMatch || type == Type::kRegexNoMatch) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_dot_nl(true);  // Prometheus compiles with (?s)
    // Fully anchored, like Prometheus.
    auto re = std::make_shared<RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) {
      return Status::Error("invalid regular expression \"" + m.value_ + "\" for label " + m.name_ + ": " + re->error());
    }
    m.re_ = std::move(re);
  }
  m.matches_empty_ = m.Matches(std::string_view());
  return m;
}

bool Matcher::Matches(std::string_view value) const {
  switch (type_) {
    case Type::kEqual: return value == value_;
    case Type::kNotEqual: return value != value_;
    case Type::kRegexMatch: return RE2::FullMatch(value, *re_);
    case Type::kRegexNoMatch: return !RE2::FullMatch(value, *re_);
  }
  return false;
}

std::string Matcher::ToString() const {
  static constexpr const char* kOps[] = {"=", "!=", "=~", "!~"};
  std::string escaped;
  for (char c : value_) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return name_ + kOps[static_cast<int>(type_)] + "\"" + escaped + "\"";
}

}  // namespace vigil::tsdb
