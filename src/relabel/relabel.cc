#include "relabel/relabel.h"

#include <locale.h>
#include <openssl/evp.h>
#include <re2/re2.h>
#include <wctype.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

namespace vigil::relabel {

namespace {

// Go's utf8.DecodeRuneInString: an invalid or truncated sequence is one
// byte decoded as U+FFFD.
char32_t DecodeRune(std::string_view s, size_t i, size_t* width) {
  constexpr char32_t kError = 0xFFFD;
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i + k < s.size() && b(k) >= lo && b(k) <= hi;
  };
  *width = 1;
  unsigned c = b(0);
  if (c < 0x80) return c;
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    *width = 2;
    return ((c & 0x1F) << 6) | (b(1) & 0x3F);
  }
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    if (cont(1, lo, hi) && cont(2)) {
      *width = 3;
      return ((c & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    }
    return kError;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    if (cont(1, lo, hi) && cont(2) && cont(3)) {
      *width = 4;
      return ((c & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    }
  }
  return kError;
}

void EncodeRune(char32_t r, std::string* out) {
  if (r < 0x80) {
    *out += static_cast<char>(r);
  } else if (r < 0x800) {
    *out += static_cast<char>(0xC0 | (r >> 6));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    *out += static_cast<char>(0xE0 | (r >> 12));
    *out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (r >> 18));
    *out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

// Unicode case mapping and classes come from glibc's C.UTF-8 locale (close to
// Go's unicode tables); without it only ASCII is mapped.
locale_t Utf8Locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

// Go's strings.ToLower/ToUpper: simple per-rune case mapping; invalid UTF-8
// bytes become U+FFFD once any byte is non-ASCII.
std::string MapCase(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    for (char c : s) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out += c;
    }
    return out;
  }
  locale_t loc = Utf8Locale();
  for (size_t i = 0; i < s.size();) {
    size_t width;
    char32_t r = DecodeRune(s, i, &width);
    i += width;
    if (loc != nullptr) {
      r = static_cast<char32_t>(upper ? towupper_l(static_cast<wint_t>(r), loc)
                                      : towlower_l(static_cast<wint_t>(r), loc));
    } else if (r < 0x80) {
      r = static_cast<char32_t>(upper ? std::toupper(static_cast<int>(r)) : std::tolower(static_cast<int>(r)));
    }
    EncodeRune(r, &out);
  }
  return out;
}

// Go's unicode.IsLetter || unicode.IsDigit || '_', for $name in templates.
bool IsNameRune(char32_t r) {
  if (r < 0x80) return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_';
  locale_t loc = Utf8Locale();
  return r != 0xFFFD && loc != nullptr && iswalnum_l(static_cast<wint_t>(r), loc);
}

// The submatches of one match: groups[i] has a null data() when group i did
// not take part.
using Groups = std::vector<re2::StringPiece>;

// Go's Regexp.ExpandString: `$$` is `$`; `$name` takes the longest run of
// letters, digits and '_' (so `$1x` is the group named "1x"); `${name}`
// delimits it; an all-digit name is a group number; a `$` not followed by a
// name stays literal; an unknown or unmatched group expands to nothing.
void Expand(const re2::RE2& re, std::string_view tmpl, const Groups& groups, std::string* out) {
  while (!tmpl.empty()) {
    size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out->append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      *out += '$';
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view rest = tmpl;
    bool brace = !rest.empty() && rest[0] == '{';
    if (brace) rest.remove_prefix(1);
    size_t i = 0;
    while (i < rest.size()) {
      size_t width;
      if (!IsNameRune(DecodeRune(rest, i, &width))) break;
      i += width;
    }
    if (i == 0 || (brace && (i >= rest.size() || rest[i] != '}'))) {
      *out += '$';  // malformed: the `$` is literal text
      continue;
    }
    std::string_view name = rest.substr(0, i);
    tmpl = rest.substr(brace ? i + 1 : i);
    int64_t num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') num = -1;
    if (num >= 0) {
      if (static_cast<size_t>(num) < groups.size() && groups[num].data() != nullptr) {
        out->append(groups[num].data(), groups[num].size());
      }
      continue;
    }
    const auto& named = re.NamedCapturingGroups();
    auto it = named.find(std::string(name));
    if (it != named.end() && static_cast<size_t>(it->second) < groups.size() && groups[it->second].data() != nullptr) {
      out->append(groups[it->second].data(), groups[it->second].size());
    }
  }
  out->append(tmpl);
}

// Searches `text` (unanchored; the pattern carries its own anchors) from
// `start`, with `^` still meaning the text's start, as Go's regexp does.
bool Find(const re2::RE2& re, std::string_view text, size_t start, Groups* groups) {
  groups->assign(re.NumberOfCapturingGroups() + 1, re2::StringPiece());
  return re.Match(re2::StringPiece(text.data(), text.size()), start, text.size(), re2::RE2::UNANCHORED, groups->data(),
                  static_cast<int>(groups->size()));
}

bool Matches(const re2::RE2& re, std::string_view text) {
  return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::UNANCHORED, nullptr, 0);
}

// Go's Regexp.ReplaceAllString with `$` expansion (labelmap's rewrite).
std::string ReplaceAll(const re2::RE2& re, std::string_view src, std::string_view replacement) {
  std::string out;
  Groups groups;
  size_t last_end = 0;
  size_t search = 0;
  while (search <= src.size()) {
    if (!Find(re, src, search, &groups)) break;
    size_t begin = groups[0].data() - src.data();
    size_t end = begin + groups[0].size();
    out.append(src.substr(last_end, begin - last_end));
    // No replacement for an empty match right after the previous match.
    if (end > last_end || begin == 0) Expand(re, replacement, groups, &out);
    last_end = end;
    size_t width = 1;
    if (search < src.size()) DecodeRune(src, search, &width);
    if (search + width > end) {
      search += width;
    } else if (search + 1 > end) {
      ++search;
    } else {
      search = end;
    }
  }
  out.append(src.substr(last_end));
  return out;
}

// Prometheus's sum64 over an MD5 sum: shifts of 64 bits or more are zero in
// Go, so only the last 8 bytes count, big-endian.
uint64_t HashModValue(std::string_view value, uint64_t modulus) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(value.data(), value.size(), md.data(), &len, EVP_md5(), nullptr) != 1 || len != 16) {
    std::abort();  // MD5 is in every OpenSSL default provider; failing here is a broken install
  }
  uint64_t sum = 0;
  for (size_t i = 8; i < 16; ++i) sum = (sum << 8) | md[i];
  return sum % modulus;
}

std::shared_ptr<const re2::RE2> CompileAnchored(const std::string& regex) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  return std::make_shared<const re2::RE2>("^(?:" + regex + ")$", options);
}

// RE2's reason about the regex as written, when it fails on its own, so the
// message quotes what the user wrote rather than the anchored form.
std::string CompileError(const std::string& regex, const re2::RE2& anchored) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  re2::RE2 plain(regex, options);
  return plain.ok() ? anchored.error() : plain.error();
}

// Applies one rule to `in` (sorted, possibly holding empty values only before
// the first rule); false when the series is dropped.
bool ApplyOne(const Rule& rule, const re2::RE2& re, const Labels& in, Labels* out) {
  std::string val;
  for (size_t i = 0; i < rule.source_labels.size(); ++i) {
    if (i > 0) val += rule.separator;
    val += in.Get(rule.source_labels[i]);
  }
  // Prometheus's label builder starts from the input without empty values.
  std::vector<Label> kept;
  kept.reserve(in.size());
  for (const Label& l : in) {
    if (!l.value.empty()) kept.push_back(l);
  }
  *out = Labels::FromUnsorted(std::move(kept));
  switch (rule.action) {
    case Action::kDrop: return !Matches(re, val);
    case Action::kKeep: return Matches(re, val);
    case Action::kDropEqual: return in.Get(rule.target_label) != val;
    case Action::kKeepEqual: return in.Get(rule.target_label) == val;
    case Action::kReplace: {
      Groups groups;
      if (!Find(re, val, 0, &groups)) break;  // no match, no change
      std::string target;
      Expand(re, rule.target_label, groups, &target);
      // Prometheus deletes the target as configured (before expansion) when
      // the expanded name is invalid or the replacement is empty.
      if (!IsValidLabelName(target)) {
        out->Set(rule.target_label, "");
        break;
      }
      std::string value;
      Expand(re, rule.replacement, groups, &value);
      if (value.empty()) {
        out->Set(rule.target_label, "");
        break;
      }
      out->Set(target, value);
      break;
    }
    case Action::kLowercase: out->Set(rule.target_label, MapCase(val, false)); break;
    case Action::kUppercase: out->Set(rule.target_label, MapCase(val, true)); break;
    case Action::kHashMod:
      if (rule.modulus == 0) return true;  // rejected by ParseRules; a hand-built rule changes nothing
      out->Set(rule.target_label, std::to_string(HashModValue(val, rule.modulus)));
      break;
    case Action::kLabelMap:
      for (const Label& l : in) {
        if (Matches(re, l.name)) out->Set(ReplaceAll(re, l.name, rule.replacement), l.value);
      }
      break;
    case Action::kLabelDrop:
      for (const Label& l : in) {
        if (Matches(re, l.name)) out->Set(l.name, "");
      }
      break;
    case Action::kLabelKeep:
      for (const Label& l : in) {
        if (!Matches(re, l.name)) out->Set(l.name, "");
      }
      break;
  }
  return true;
}

// --- parsing ---

constexpr std::array<std::pair<std::string_view, Action>, 11> kActions = {{
    {"replace", Action::kReplace},
    {"keep", Action::kKeep},
    {"drop", Action::kDrop},
    {"keepequal", Action::kKeepEqual},
    {"dropequal", Action::kDropEqual},
    {"hashmod", Action::kHashMod},
    {"labelmap", Action::kLabelMap},
    {"labeldrop", Action::kLabelDrop},
    {"labelkeep", Action::kLabelKeep},
    {"lowercase", Action::kLowercase},
    {"uppercase", Action::kUppercase},
}};

constexpr std::array<std::string_view, 7> kKeys = {"source_labels", "separator",   "regex", "modulus",
                                                   "target_label",  "replacement", "action"};

// The target_label (and labelmap replacement) Prometheus accepts: a label
// name in which `$1`, `${1}`, `$name` references may appear.
bool IsValidTarget(const std::string& s) {
  static const re2::RE2 kTarget(R"(^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$)");
  return re2::RE2::FullMatch(s, kTarget);
}

const char* KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing";
    default: return "an undefined value";
  }
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// yaml.v2's reading of a plain scalar into a uint64: integers in Go's base-0
// syntax (0x, 0o, 0b, leading-0 octal) with '_' separators ignored, or a
// non-negative float truncated.
std::optional<uint64_t> ParseModulus(const YAML::Node& node) {
  if (node.Tag() != "?") return std::nullopt;  // quoted: a string, which yaml.v2 refuses
  std::string s;
  for (char c : node.Scalar()) {
    if (c != '_') s += c;
  }
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  if (s.empty() || s[0] == '-' || s[0] == '+') return std::nullopt;
  int base = 10;
  size_t skip = 0;
  if (s.size() > 1 && s[0] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    base = p == 'x' ? 16 : p == 'b' ? 2 : 8;
    skip = p == 'x' || p == 'o' || p == 'b' ? 2 : 1;
  }
  std::string digits = s.substr(skip);
  bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [&](char c) {
    int d = std::isdigit(static_cast<unsigned char>(c))    ? c - '0'
            : std::isxdigit(static_cast<unsigned char>(c)) ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                                                           : 99;
    return d < base;
  });
  if (all_digits) {
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(digits.c_str(), &end, base);
    if (errno == ERANGE || *end != '\0') return std::nullopt;
    return static_cast<uint64_t>(v);
  }
  static const re2::RE2 kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (!re2::RE2::FullMatch(s, kFloat)) return std::nullopt;
  double d = std::strtod(s.c_str(), nullptr);
  if (!(d >= 0) || d >= 18446744073709551616.0) return std::nullopt;
  return static_cast<uint64_t>(d);
}

// yaml-cpp marks an empty value (`key:`, or `- ` with nothing after) at the
// next token, often on a later line, and keeps no text for `~` either: a
// null has no trustworthy position of its own.
bool IsEmptyNull(const YAML::Node& node) { return node.IsNull(); }

class RuleParser {
 public:
  RuleParser(const std::string& field, std::vector<ParseProblem>* problems) : field_(field), problems_(problems) {}

  void Report(const YAML::Node& node, const std::string& field, const std::string& message) {
    ParseProblem p;
    YAML::Mark m = node.Mark();
    if (!m.is_null() && !IsEmptyNull(node)) {
      p.line = m.line + 1;
      p.column = m.column + 1;
    }
    p.field = field;
    p.message = message;
    problems_->push_back(std::move(p));
    ++errors_;
  }

  std::string Field(std::string_view key) const { return field_ + "." + std::string(key); }

  // A scalar as yaml.v2 reads it into a string: null is "".
  bool String(const YAML::Node& node, std::string_view key, std::string* out) {
    if (node.IsNull()) {
      out->clear();
      return true;
    }
    if (!node.IsScalar()) {
      Report(node, Field(key), std::string("expected a string, got ") + KindName(node));
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  std::optional<Rule> Parse(const YAML::Node& node) {
    if (node.IsNull()) {
      Report(node, field_, "empty or null relabel rule");
      return std::nullopt;
    }
    if (!node.IsMap()) {
      Report(node, field_, std::string("expected a mapping, got ") + KindName(node));
      return std::nullopt;
    }
    Rule rule;
    std::map<std::string, YAML::Node> given;  // set keys, for the per-action checks
    std::set<std::string> seen;
    bool regex_given = false;
    bool source_labels_given = false;
    bool action_null = false;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies: yaml-cpp's iterator hands out a temporary pair.
      const YAML::Node key_node = it->first;
      const YAML::Node value = it->second;
      std::string key = key_node.IsScalar() ? key_node.Scalar() : "?";
      if (!seen.insert(key).second) {
        Report(key_node, Field(key), "key already set in this rule");
        continue;
      }
      if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
        Report(key_node, field_,
               "unknown key " + Quote(key) +
                   " (known keys: action, modulus, regex, replacement, separator, source_labels, target_label)");
        continue;
      }
      given.emplace(key, IsEmptyNull(value) ? key_node : value);  // where problems about the field point
      if (key == "source_labels") {
        if (value.IsNull()) continue;  // null is the same as absent
        source_labels_given = true;
        if (!value.IsSequence()) {
          Report(value, Field(key), std::string("expected a list of label names, got ") + KindName(value));
          continue;
        }
        for (size_t i = 0; i < value.size(); ++i) {
          std::string elem_field = Field(key) + "[" + std::to_string(i) + "]";
          std::string name;
          if (value[i].IsNull()) {
            rule.source_labels.emplace_back();
          } else if (!value[i].IsScalar()) {
            Report(value[i], elem_field, std::string("expected a label name, got ") + KindName(value[i]));
          } else if (name = value[i].Scalar(); !IsValidLabelName(name)) {
            Report(value[i], elem_field, Quote(name) + " is not a valid label name");
          } else {
            rule.source_labels.push_back(name);
          }
        }
      } else if (key == "separator") {
        String(value, key, &rule.separator);
      } else if (key == "target_label") {
        String(value, key, &rule.target_label);
      } else if (key == "replacement") {
        String(value, key, &rule.replacement);
      } else if (key == "regex") {
        regex_given = true;
        // A null regex is the empty one (matching only ""), as in Prometheus.
        if (String(value, key, &rule.regex)) {
          rule.compiled = CompileAnchored(rule.regex);
          if (!rule.compiled->ok()) {
            Report(value, Field(key), "invalid regular expression: " + CompileError(rule.regex, *rule.compiled));
          }
        }
      } else if (key == "modulus") {
        if (value.IsNull()) {
          rule.modulus = 0;
        } else if (std::optional<uint64_t> m = value.IsScalar() ? ParseModulus(value) : std::nullopt; m) {
          rule.modulus = *m;
        } else {
          Report(value, Field(key),
                 value.IsScalar() ? "expected a whole number, got " + Quote(value.Scalar())
                                  : std::string("expected a whole number, got ") + KindName(value));
        }
      } else if (key == "action") {
        if (value.IsNull()) {
          action_null = true;
          continue;
        }
        std::string text;
        if (!String(value, key, &text)) continue;
        std::string lower = MapCase(text, false);
        auto a = std::find_if(kActions.begin(), kActions.end(), [&](const auto& p) { return p.first == lower; });
        if (a == kActions.end()) {
          Report(value, Field(key), "unknown relabel action " + Quote(text));
        } else {
          rule.action = a->second;
        }
      }
    }
    if (errors_ > 0) return std::nullopt;
    if (!rule.compiled) rule.compiled = CompileAnchored(rule.regex);

    // Prometheus's checks, in its order; the first failing one is reported.
    auto at = [&](std::string_view key) {
      auto it = given.find(std::string(key));
      return it != given.end() ? it->second : node;
    };
    std::string action(ActionName(rule.action));
    Action a = rule.action;
    bool needs_target = a == Action::kReplace || a == Action::kHashMod || a == Action::kLowercase ||
                        a == Action::kUppercase || a == Action::kKeepEqual || a == Action::kDropEqual;
    bool templated_target = a == Action::kReplace || a == Action::kLowercase || a == Action::kUppercase ||
                            a == Action::kKeepEqual || a == Action::kDropEqual;
    bool fixed_replacement =
        a == Action::kLowercase || a == Action::kUppercase || a == Action::kKeepEqual || a == Action::kDropEqual;
    if (action_null) {
      Report(at("action"), Field("action"), "relabel action cannot be empty");
    } else if (a == Action::kHashMod && rule.modulus == 0) {
      Report(at("modulus"), Field("modulus"), "relabel configuration for hashmod requires non-zero modulus");
    } else if (needs_target && rule.target_label.empty()) {
      Report(at("target_label"), Field("target_label"),
             "relabel configuration for " + action + " action requires 'target_label' value");
    } else if (templated_target && !IsValidTarget(rule.target_label)) {
      Report(at("target_label"), Field("target_label"),
             Quote(rule.target_label) + " is invalid 'target_label' for " + action + " action");
    } else if (fixed_replacement && rule.replacement != "$1") {
      Report(at("replacement"), Field("replacement"), "'replacement' can not be set for " + action + " action");
    } else if (a == Action::kLabelMap && !IsValidTarget(rule.replacement)) {
      Report(at("replacement"), Field("replacement"),
             Quote(rule.replacement) + " is invalid 'replacement' for " + action + " action");
    } else if (a == Action::kHashMod && !IsValidLabelName(rule.target_label)) {
      Report(at("target_label"), Field("target_label"),
             Quote(rule.target_label) + " is invalid 'target_label' for " + action + " action");
    } else if (a == Action::kKeepEqual || a == Action::kDropEqual) {
      // Any regex given, even "(.*)", is a different one in Prometheus's check.
      const char* extra = regex_given             ? "regex"
                          : rule.modulus != 0     ? "modulus"
                          : rule.separator != ";" ? "separator"
                                                  : nullptr;
      if (extra != nullptr) {
        Report(at(extra), Field(extra),
               action + " action requires only 'source_labels' and 'target_label', and no other fields");
      }
    } else if (a == Action::kLabelDrop || a == Action::kLabelKeep) {
      const char* extra = source_labels_given          ? "source_labels"
                          : !rule.target_label.empty() ? "target_label"
                          : rule.modulus != 0          ? "modulus"
                          : rule.separator != ";"      ? "separator"
                          : rule.replacement != "$1"   ? "replacement"
                                                       : nullptr;
      if (extra != nullptr) {
        Report(at(extra), Field(extra), action + " action requires only 'regex', and no other fields");
      }
    }
    if (errors_ > 0) return std::nullopt;
    return rule;
  }

 private:
  std::string field_;
  std::vector<ParseProblem>* problems_;
  int errors_ = 0;
};

}  // namespace

std::string_view ActionName(Action action) {
  for (const auto& [name, a] : kActions) {
    if (a == action) return name;
  }
  return "unknown";
}

Status Rule::Compile() {
  auto re = CompileAnchored(regex);
  if (!re->ok()) return Status::Error("invalid regular expression: " + CompileError(regex, *re));
  compiled = std::move(re);
  return Status::Ok();
}

std::vector<Rule> ParseRules(const YAML::Node& seq, const std::string& path, std::vector<ParseProblem>* problems) {
  std::vector<Rule> rules;
  if (!seq.IsDefined() || seq.IsNull()) return rules;
  if (!seq.IsSequence()) {
    ParseProblem p;
    YAML::Mark m = seq.Mark();
    if (!m.is_null()) {
      p.line = m.line + 1;
      p.column = m.column + 1;
    }
    p.field = path;
    p.message = std::string("expected a list of relabel configs, got ") + KindName(seq);
    problems->push_back(std::move(p));
    return rules;
  }
  for (size_t i = 0; i < seq.size(); ++i) {
    RuleParser parser(path + "[" + std::to_string(i) + "]", problems);
    if (std::optional<Rule> rule = parser.Parse(seq[i])) rules.push_back(std::move(*rule));
  }
  return rules;
}

bool Apply(const std::vector<Rule>& rules, Labels* labels) {
  Labels current = *labels;
  Labels next;
  for (const Rule& rule : rules) {
    std::shared_ptr<const re2::RE2> re = rule.compiled;
    if (!re) re = CompileAnchored(rule.regex);
    if (!re->ok()) {
      // Matches nothing: keep drops, drop keeps, replace changes nothing.
      static const re2::RE2 kNever("[^\\x00-\\x{10FFFF}]");
      if (!ApplyOne(rule, kNever, current, &next)) return false;
    } else if (!ApplyOne(rule, *re, current, &next)) {
      return false;
    }
    std::swap(current, next);
  }
  // With no rules, the input's empty values still go.
  if (rules.empty()) {
    std::vector<Label> kept;
    for (const Label& l : current) {
      if (!l.value.empty()) kept.push_back(l);
    }
    current = Labels::FromUnsorted(std::move(kept));
  }
  *labels = std::move(current);
  return true;
}

}  // namespace vigil::relabel
