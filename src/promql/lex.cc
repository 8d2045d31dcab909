#include "promql/lex.h"

#include <cstdint>
#include <cstdio>

namespace vigil::promql::internal {

namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int HexVal(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

void AppendUtf8(std::string* out, uint32_t r) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
int Utf8Len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  int n;
  uint32_t r;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    r = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    r = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    r = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (int k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    r = (r << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 2 && r < 0x80) || (n == 3 && r < 0x800) || (n == 4 && (r < 0x10000 || r > 0x10FFFF))) return 0;
  if (r >= 0xD800 && r <= 0xDFFF) return 0;
  return n;
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    while (true) {
      SkipSpaceAndComments();
      if (pos_ >= in_.size()) {
        if (paren_depth_ > 0) return Fail(static_cast<int>(pos_), "unclosed left parenthesis");
        if (brace_open_) return Fail(static_cast<int>(pos_), "unexpected end of input inside braces");
        if (bracket_open_) return Fail(static_cast<int>(pos_), "unclosed left bracket");
        Emit(Tok::kEOF, pos_, pos_);
        return std::move(out_);
      }
      if (!Next()) return std::move(out_);
    }
  }

 private:
  // Appends the error token that ends the stream.
  void PushError(int at, std::string msg) {
    Token t;
    t.type = Tok::kError;
    t.pos = at;
    t.end = static_cast<int>(in_.size());
    t.text = std::move(msg);
    out_.push_back(std::move(t));
  }
  std::vector<Token> Fail(int at, std::string msg) {
    PushError(at, std::move(msg));
    return std::move(out_);
  }
  bool FailB(size_t at, std::string msg) {
    PushError(static_cast<int>(at), std::move(msg));
    return false;
  }

  void Emit(Tok type, size_t start, size_t end, std::string text = {}) {
    Token t;
    t.type = type;
    t.pos = static_cast<int>(start);
    t.end = static_cast<int>(end);
    t.text = text.empty() && type != Tok::kString ? std::string(in_.substr(start, end - start)) : std::move(text);
    out_.push_back(std::move(t));
  }

  char Peek(size_t k = 0) const { return pos_ + k < in_.size() ? in_[pos_ + k] : '\0'; }

  void SkipSpaceAndComments() {
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (IsSpace(c)) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  bool Next() {
    size_t start = pos_;
    char c = in_[pos_];
    auto op = [&](Tok t, size_t len) {
      pos_ += len;
      Emit(t, start, pos_);
      return true;
    };
    switch (c) {
      case ',': return op(Tok::kComma, 1);
      case '(': ++paren_depth_; return op(Tok::kLeftParen, 1);
      case ')':
        if (paren_depth_ == 0) return FailB(start, "unexpected right parenthesis ')'");
        --paren_depth_;
        return op(Tok::kRightParen, 1);
      case '{':
        if (brace_open_) return FailB(start, "unexpected left brace '{'");
        brace_open_ = true;
        return op(Tok::kLeftBrace, 1);
      case '}':
        if (!brace_open_) return FailB(start, "unexpected right brace '}'");
        brace_open_ = false;
        return op(Tok::kRightBrace, 1);
      case '[':
        if (bracket_open_) return FailB(start, "unexpected left bracket '['");
        bracket_open_ = true;
        return op(Tok::kLeftBracket, 1);
      case ']':
        if (!bracket_open_) return FailB(start, "unexpected right bracket ']'");
        bracket_open_ = false;
        return op(Tok::kRightBracket, 1);
      case ':':
        if (bracket_open_) return op(Tok::kColon, 1);
        if (!brace_open_) return LexIdentifier();
        return FailB(start, "unexpected colon ':'");
      case '@': return op(Tok::kAt, 1);
      case '+': return op(Tok::kAdd, 1);
      case '-': return op(Tok::kSub, 1);
      case '*': return op(Tok::kMul, 1);
      case '/': return op(Tok::kDiv, 1);
      case '%': return op(Tok::kMod, 1);
      case '^': return op(Tok::kPow, 1);
      case '=':
        if (Peek(1) == '=') return op(Tok::kEqlc, 2);
        if (Peek(1) == '~') return op(Tok::kEqlRegex, 2);
        return op(Tok::kAssign, 1);
      case '!':
        if (Peek(1) == '=') return op(Tok::kNeq, 2);
        if (Peek(1) == '~') return op(Tok::kNeqRegex, 2);
        return FailB(start, "unexpected character after '!': '" + std::string(1, Peek(1)) + "'");
      case '<':
        if (Peek(1) == '=') return op(Tok::kLte, 2);
        return op(Tok::kLss, 1);
      case '>':
        if (Peek(1) == '=') return op(Tok::kGte, 2);
        return op(Tok::kGtr, 1);
      case '"':
      case '\'': return LexString(c);
      case '`': return LexRawString();
      default: break;
    }
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return LexNumberOrDuration();
    if (IsAlpha(c) || (c == ':' && !brace_open_)) return LexIdentifier();
    char buf[64];
    std::snprintf(buf, sizeof(buf), "unexpected character: '%c'", c);
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      std::snprintf(buf, sizeof(buf), "unexpected character: '\\x%02x'", static_cast<unsigned char>(c));
    }
    return FailB(start, buf);
  }

  bool LexIdentifier() {
    size_t start = pos_;
    bool colon = false;
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (IsAlnum(c)) {
        ++pos_;
      } else if (c == ':' && !brace_open_ && !bracket_open_) {
        colon = true;
        ++pos_;
      } else {
        break;
      }
    }
    Emit(colon ? Tok::kMetricIdentifier : Tok::kIdentifier, start, pos_);
    return true;
  }

  // Digits of `digits` with single underscores between them.
  void AcceptDigits(bool hex) {
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (hex ? IsHex(c) : IsDigit(c)) {
        ++pos_;
      } else if (c == '_' && pos_ + 1 < in_.size() && (hex ? IsHex(in_[pos_ + 1]) : IsDigit(in_[pos_ + 1])) &&
                 pos_ > 0 && (hex ? IsHex(in_[pos_ - 1]) : IsDigit(in_[pos_ - 1]))) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  bool LexNumberOrDuration() {
    size_t start = pos_;
    bool hex = false;
    if (Peek() == '0' && (Peek(1) == 'x' || Peek(1) == 'X')) {
      pos_ += 2;
      if (Peek() == '_') ++pos_;
      hex = true;
    }
    AcceptDigits(hex);
    if (!hex) {
      if (Peek() == '.') {
        ++pos_;
        AcceptDigits(false);
      }
      if (Peek() == 'e' || Peek() == 'E') {
        size_t save = pos_;
        ++pos_;
        if (Peek() == '+' || Peek() == '-') ++pos_;
        if (IsDigit(Peek())) {
          AcceptDigits(false);
        } else {
          pos_ = save;  // "1e" is not an exponent; it may be a bad duration
        }
      }
    }
    if (!IsAlnum(Peek())) {
      Emit(Tok::kNumber, start, pos_);
      return true;
    }
    // A duration: units (ms s m h d w y) after the digits, possibly repeated.
    auto accept_unit = [&](std::string_view units) {
      if (units.find(Peek()) == std::string_view::npos || Peek() == '\0') return false;
      ++pos_;
      if (Peek() == 's') ++pos_;  // "ms"; bad pairs are caught by ParseDuration
      return true;
    };
    if (accept_unit("smhdwy")) {
      while (IsDigit(Peek())) {
        while (IsDigit(Peek())) ++pos_;
        if (!accept_unit("smhdw")) return FailB(start, BadNumber(start));
      }
      if (!IsAlnum(Peek())) {
        Emit(Tok::kDuration, start, pos_);
        return true;
      }
    }
    return FailB(start, BadNumber(start));
  }

  std::string BadNumber(size_t start) {
    size_t end = pos_ + 1;
    if (end > in_.size()) end = in_.size();
    return "bad number or duration syntax: \"" + std::string(in_.substr(start, end - start)) + "\"";
  }

  bool LexString(char quote) {
    size_t start = pos_;
    ++pos_;
    std::string value;
    while (true) {
      if (pos_ >= in_.size() || in_[pos_] == '\n') return FailB(start, "unterminated quoted string");
      char c = in_[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c == '\\') {
        if (!LexEscape(quote, &value)) return false;
        continue;
      }
      int n = Utf8Len(in_, pos_);
      if (n == 0) return FailB(pos_, "invalid UTF-8 rune");
      value.append(in_.substr(pos_, n));
      pos_ += n;
    }
    Emit(Tok::kString, start, pos_, std::move(value));
    return true;
  }

  bool LexEscape(char quote, std::string* value) {
    size_t esc = pos_;
    ++pos_;  // the backslash
    if (pos_ >= in_.size()) return FailB(esc, "escape sequence not terminated");
    char c = in_[pos_++];
    switch (c) {
      case 'a': value->push_back('\a'); return true;
      case 'b': value->push_back('\b'); return true;
      case 'f': value->push_back('\f'); return true;
      case 'n': value->push_back('\n'); return true;
      case 'r': value->push_back('\r'); return true;
      case 't': value->push_back('\t'); return true;
      case 'v': value->push_back('\v'); return true;
      case '\\': value->push_back('\\'); return true;
      default: break;
    }
    if (c == quote) {
      value->push_back(c);
      return true;
    }
    int n = 0, base = 0;
    uint32_t max = 0;
    switch (c) {
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
        n = 3;
        base = 8;
        max = 255;
        --pos_;
        break;
      case 'x':
        n = 2;
        base = 16;
        max = 255;
        break;
      case 'u':
        n = 4;
        base = 16;
        max = 0x10FFFF;
        break;
      case 'U':
        n = 8;
        base = 16;
        max = 0x10FFFF;
        break;
      default:
        if (c == '\n' || pos_ > in_.size()) return FailB(esc, "escape sequence not terminated");
        return FailB(esc, std::string("unknown escape sequence '") + c + "'");
    }
    uint32_t x = 0;
    for (int i = 0; i < n; ++i) {
      if (pos_ >= in_.size()) return FailB(esc, "escape sequence not terminated");
      char d = in_[pos_];
      int v = base == 8 ? (d >= '0' && d <= '7' ? d - '0' : -1) : (IsHex(d) ? HexVal(d) : -1);
      if (v < 0) return FailB(esc, std::string("illegal character '") + d + "' in escape sequence");
      x = x * base + static_cast<uint32_t>(v);
      ++pos_;
    }
    if (x > max || (base == 16 && n >= 4 && x >= 0xD800 && x < 0xE000)) {
      return FailB(esc, "escape sequence is invalid Unicode code point");
    }
    if (n >= 4) {
      AppendUtf8(value, x);
    } else {
      value->push_back(static_cast<char>(x));
    }
    return true;
  }

  bool LexRawString() {
    size_t start = pos_;
    ++pos_;
    while (true) {
      if (pos_ >= in_.size()) return FailB(start, "unterminated raw string");
      if (in_[pos_] == '`') break;
      int n = Utf8Len(in_, pos_);
      if (n == 0) return FailB(pos_, "invalid UTF-8 rune");
      pos_ += n;
    }
    std::string value(in_.substr(start + 1, pos_ - start - 1));
    ++pos_;
    Emit(Tok::kString, start, pos_, std::move(value));
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  int paren_depth_ = 0;
  bool brace_open_ = false;
  bool bracket_open_ = false;
  std::vector<Token> out_;
};

bool IsOneOf(const std::string& w, std::initializer_list<std::string_view> words) {
  for (auto x : words) {
    if (w == x) return true;
  }
  return false;
}

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

std::vector<Token> Lex(std::string_view input) { return Lexer(input).Run(); }

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    int n = Utf8Len(s, i);
    if (n == 0) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string DescribeToken(const Token& t) {
  switch (t.type) {
    case Tok::kEOF: return "end of input";
    case Tok::kError: return t.text;
    case Tok::kIdentifier: {
      std::string w = Lower(t.text);
      if (IsOneOf(w, {"and", "or", "unless", "atan2"})) return "<op:" + t.text + ">";
      if (IsOneOf(w, {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "smoothed",
                      "anchored"})) {
        return "<" + t.text + ">";
      }
      if (IsOneOf(w, {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
                      "count_values", "limitk", "limit_ratio"})) {
        return "<aggr:" + t.text + ">";
      }
      if (IsOneOf(w, {"inf", "nan"})) return "number " + GoQuote(t.text);
      return "identifier " + GoQuote(t.text);
    }
    case Tok::kMetricIdentifier: return "metric identifier " + GoQuote(t.text);
    case Tok::kNumber: return "number " + GoQuote(t.text);
    case Tok::kDuration: return "duration " + GoQuote(t.text);
    case Tok::kString: return "string " + GoQuote(t.text);
    case Tok::kLeftParen: return "\"(\"";
    case Tok::kRightParen: return "\")\"";
    case Tok::kLeftBrace: return "\"{\"";
    case Tok::kRightBrace: return "\"}\"";
    case Tok::kLeftBracket: return "\"[\"";
    case Tok::kRightBracket: return "\"]\"";
    case Tok::kComma: return "\",\"";
    case Tok::kColon: return "\":\"";
    case Tok::kAt: return "<@>";
    case Tok::kAssign: return "\"=\"";
    default: return "<op:" + t.text + ">";
  }
}

}  // namespace vigil::promql::internal
