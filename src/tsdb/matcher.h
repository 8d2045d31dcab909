// Label matchers with Prometheus semantics: =, !=, =~, !~ where regexes are
// RE2 and fully anchored, and an absent label matches as the empty string.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/labels.h"
#include "base/status.h"

namespace re2 {
class RE2;
}

namespace vigil::tsdb {

class Matcher {
 public:
  enum class Type { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

  // Compiles regexes; the error names the bad pattern.
  static Result<Matcher> Make(Type type, std::string name, std::string value);

  bool Matches(std::string_view value) const;
  // True iff the series with these labels passes this matcher.
  bool Matches(const Labels& labels) const { return Matches(labels.Get(name_)); }
  // True iff the empty string passes, i.e. series without the label pass.
  bool MatchesEmpty() const { return matches_empty_; }

  Type type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // "name=\"value\"" etc., as PromQL writes it.
  std::string ToString() const;

 private:
  Type type_ = Type::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;
  bool matches_empty_ = false;
};

}  // namespace vigil::tsdb
