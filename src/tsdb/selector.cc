#include "tsdb/selector.h"

#include <cctype>

namespace vigil::tsdb {
namespace {

class SelectorParser {
 public:
  explicit SelectorParser(std::string_view s) : s_(s) {}

  Result<std::vector<Matcher>> Parse() {
    std::vector<Matcher> out;
    Skip();
    if (pos_ < s_.size() &&
        (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' || s_[pos_] == ':')) {
      std::string name = Ident(true);
      auto m = Matcher::Make(Matcher::Type::kEqual, "__name__", name);
      out.push_back(*m);
      Skip();
    }
    if (pos_ < s_.size() && s_[pos_] == '{') {
      ++pos_;
      Skip();
      while (pos_ < s_.size() && s_[pos_] != '}') {
        if (!std::isalpha(static_cast<unsigned char>(s_[pos_])) && s_[pos_] != '_') return Error("expected label name");
        std::string name = Ident(false);
        Skip();
        Matcher::Type type;
        if (s_.substr(pos_, 2) == "=~") {
          type = Matcher::Type::kRegexMatch;
          pos_ += 2;
        } else if (s_.substr(pos_, 2) == "!~") {
          type = Matcher::Type::kRegexNoMatch;
          pos_ += 2;
        } else if (s_.substr(pos_, 2) == "!=") {
          type = Matcher::Type::kNotEqual;
          pos_ += 2;
        } else if (pos_ < s_.size() && s_[pos_] == '=') {
          type = Matcher::Type::kEqual;
          ++pos_;
        } else {
          return Error("expected one of =, !=, =~, !~ after label name");
        }
        Skip();
        Result<std::string> value = Quoted();
        if (!value.ok()) return value.status();
        auto m = Matcher::Make(type, name, *value);
        if (!m.ok()) return Error(m.status().message());
        out.push_back(*m);
        Skip();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          Skip();
        } else if (pos_ < s_.size() && s_[pos_] != '}') {
          return Error("expected \",\" or \"}\"");
        }
      }
      if (pos_ >= s_.size()) return Error("unclosed \"{\"");
      ++pos_;
      Skip();
    }
    if (pos_ != s_.size()) return Error("unexpected text");
    if (out.empty()) return Error("empty selector");
    bool narrowing = false;
    for (const Matcher& m : out) narrowing |= !m.MatchesEmpty();
    if (!narrowing) return Status::Error("vector selector must contain at least one non-empty matcher");
    return out;
  }

 private:
  void Skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  std::string Ident(bool colon) {
    size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' || (colon && s_[pos_] == ':')))
      ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }
  Result<std::string> Quoted() {
    if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'' && s_[pos_] != '`')) {
      return Error("expected a quoted label value");
    }
    char q = s_[pos_++];
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != q) {
      char c = s_[pos_++];
      if (c == '\\' && q != '`' && pos_ < s_.size()) {
        char e = s_[pos_++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case '\\': out += '\\'; break;
          case '"': out += '"'; break;
          case '\'': out += '\''; break;
          default: out += '\\'; out += e;  // RE2 escapes like \d pass through
        }
      } else {
        out += c;
      }
    }
    if (pos_ >= s_.size()) return Error("unterminated quoted string");
    ++pos_;
    return out;
  }
  Status Error(const std::string& why) const {
    return Status::Error("selector column " + std::to_string(pos_ + 1) + ": " + why);
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<Matcher>> ParseSeriesSelector(std::string_view text) { return SelectorParser(text).Parse(); }

}  // namespace vigil::tsdb
