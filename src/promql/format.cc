// Format: the canonical one-line text of an expression, as Prometheus's
// String() (promql/parser/printer.go) prints it.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "promql/ast.h"

namespace vigil::promql {

namespace {

// Go's strconv.Quote: printable runes as they are, the rest escaped.
std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            std::snprintf(buf, sizeof(buf), "\\x%02x", c);
            out += buf;
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence; invalid bytes are written as \xNN.
    int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    uint32_t r = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = n > 0 && i + n <= s.size();
    for (int k = 1; ok && k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) ok = false;
      r = (r << 6) | (b & 0x3F);
    }
    if (ok && ((n == 2 && r < 0x80) || (n == 3 && r < 0x800) || (n == 4 && (r < 0x10000 || r > 0x10FFFF)) ||
               (r >= 0xD800 && r <= 0xDFFF))) {
      ok = false;
    }
    if (!ok) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
      ++i;
      continue;
    }
    if (r < 0xA0 || r == 0xAD || (r >= 0x2028 && r <= 0x2029) || r == 0xFEFF) {
      std::snprintf(buf, sizeof(buf), "\\u%04x", r);
      out += buf;
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out + "\"";
}

bool IsPlainLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string LabelName(std::string_view s) { return IsPlainLabelName(s) ? std::string(s) : GoQuote(s); }

// Grouping and on/ignoring labels, unquoted when a legacy metric name (which
// may contain ':') as Prometheus prints them, else quoted.
std::string JoinLabels(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ", ";
    std::string_view l = labels[i];
    bool plain = !l.empty();
    for (size_t k = 0; k < l.size(); ++k) {
      char c = l[k];
      plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                        (k > 0 && c >= '0' && c <= '9'));
    }
    out += plain ? std::string(l) : GoQuote(l);
  }
  return out;
}

// Go's strconv.FormatFloat(v, 'f', -1, 64).
std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, res.ptr);
}

// A duration literal's text (`5m`), when its seconds convert to whole
// milliseconds exactly enough to read back the same; else nullopt.
std::optional<std::string> DurationLiteral(double seconds) {
  double ms = std::round(seconds * 1000);
  if (!std::isfinite(ms) || std::fabs(ms) >= 1e15) return std::nullopt;
  return FormatDuration(Duration(static_cast<int64_t>(ms)));
}

std::string MatcherString(const tsdb::Matcher& m) {
  std::string out = LabelName(m.name());
  switch (m.type()) {
    case tsdb::Matcher::Type::kEqual: out += "="; break;
    case tsdb::Matcher::Type::kNotEqual: out += "!="; break;
    case tsdb::Matcher::Type::kRegexMatch: out += "=~"; break;
    case tsdb::Matcher::Type::kRegexNoMatch: out += "!~"; break;
  }
  return out + GoQuote(m.value());
}

std::string DurationExprString(const DurationExpr& d) {
  using Op = DurationExpr::Op;
  auto bin = [&](const char* op) { return DurationExprString(*d.lhs) + " " + op + " " + DurationExprString(*d.rhs); };
  switch (d.op) {
    case Op::kLiteral: {
      std::optional<std::string> text;
      if (d.duration) text = DurationLiteral(d.seconds);
      return text ? *text : FormatNumber(d.seconds);
    }
    case Op::kStep: return "step()";
    case Op::kRange: return "range()";
    case Op::kMinOf: return "min_of(" + DurationExprString(*d.lhs) + ", " + DurationExprString(*d.rhs) + ")";
    case Op::kMaxOf: return "max_of(" + DurationExprString(*d.lhs) + ", " + DurationExprString(*d.rhs) + ")";
    case Op::kParen: return "(" + DurationExprString(*d.rhs) + ")";
    case Op::kNeg: return "-" + DurationExprString(*d.rhs);
    case Op::kAdd: return bin("+");
    case Op::kSub: return bin("-");
    case Op::kMul: return bin("*");
    case Op::kDiv: return bin("/");
    case Op::kMod: return bin("%");
    case Op::kPow: return bin("^");
  }
  return "";
}

std::string DurationText(Duration d, const DurationExprPtr& expr) {
  return expr ? DurationExprString(*expr) : FormatDuration(d);
}

std::string AtOffset(AtKind at, TimestampMs at_ms, Duration offset, const DurationExprPtr& offset_expr) {
  std::string out;
  switch (at) {
    case AtKind::kNone: break;
    case AtKind::kTimestamp: {
      // Prometheus prints "%.3f" of the seconds; integer arithmetic gives the
      // same digits without losing precision on huge values.
      uint64_t abs_ms = at_ms < 0 ? 0 - static_cast<uint64_t>(at_ms) : static_cast<uint64_t>(at_ms);
      char buf[64];
      std::snprintf(buf, sizeof(buf), " @ %s%llu.%03llu", at_ms < 0 ? "-" : "",
                    static_cast<unsigned long long>(abs_ms / 1000), static_cast<unsigned long long>(abs_ms % 1000));
      out += buf;
      break;
    }
    case AtKind::kStart: out += " @ start()"; break;
    case AtKind::kEnd: out += " @ end()"; break;
  }
  if (offset_expr) {
    out += " offset " + DurationExprString(*offset_expr);
  } else if (offset.count() != 0) {
    out += " offset " + FormatDuration(offset);
  }
  return out;
}

const char* ExtendedRange(const VectorSelector& vs) {
  if (vs.anchored) return " anchored";
  if (vs.smoothed) return " smoothed";
  return "";
}

bool SameValue(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void Write(const Expr& e, std::string* out);

void WriteSelector(const VectorSelector& vs, std::string* out) {
  std::vector<std::string> parts;
  for (const auto& m : vs.matchers) {
    if (m.name() == "__name__" && m.type() == tsdb::Matcher::Type::kEqual && m.value() == vs.name && !vs.name.empty()) {
      continue;
    }
    parts.push_back(MatcherString(m));
  }
  *out += vs.name;
  if (!parts.empty() || vs.name.empty()) {
    std::sort(parts.begin(), parts.end());
    *out += "{";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) *out += ",";
      *out += parts[i];
    }
    *out += "}";
  }
}

void Write(const Expr& e, std::string* out) {
  switch (e.kind) {
    case Expr::Kind::kNumber: {
      const auto& n = static_cast<const NumberLiteral&>(e);
      std::optional<std::string> text;
      if (n.duration) text = DurationLiteral(n.value);
      *out += text ? *text : FormatNumber(n.value);
      return;
    }
    case Expr::Kind::kString: *out += GoQuote(static_cast<const StringLiteral&>(e).value); return;
    case Expr::Kind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      WriteSelector(vs, out);
      *out += AtOffset(vs.at, vs.at_ms, Duration(0), nullptr);
      *out += ExtendedRange(vs);
      *out += AtOffset(AtKind::kNone, 0, vs.offset, vs.offset_expr);
      return;
    }
    case Expr::Kind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      const auto& vs = static_cast<const VectorSelector&>(*ms.selector);
      WriteSelector(vs, out);
      *out += "[" + DurationText(ms.range, ms.range_expr) + "]";
      *out += ExtendedRange(vs);
      *out += AtOffset(vs.at, vs.at_ms, vs.offset, vs.offset_expr);
      return;
    }
    case Expr::Kind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      Write(*sq.expr, out);
      *out += "[" + DurationText(sq.range, sq.range_expr) + ":";
      if (sq.step_expr || sq.step.count() != 0) *out += DurationText(sq.step, sq.step_expr);
      *out += "]";
      *out += AtOffset(sq.at, sq.at_ms, sq.offset, sq.offset_expr);
      return;
    }
    case Expr::Kind::kParen:
      *out += "(";
      Write(*static_cast<const ParenExpr&>(e).expr, out);
      *out += ")";
      return;
    case Expr::Kind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      *out += u.negate ? "-" : "+";
      Write(*u.expr, out);
      return;
    }
    case Expr::Kind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      if (b.op == BinaryOp::kPow && b.lhs->kind == Expr::Kind::kNumber &&
          std::isinf(static_cast<const NumberLiteral&>(*b.lhs).value) &&
          static_cast<const NumberLiteral&>(*b.lhs).value > 0) {
        // "+Inf ^ 2" would read back as +(Inf ^ 2).
        *out += "Inf";
      } else {
        Write(*b.lhs, out);
      }
      *out += " ";
      *out += BinaryOpName(b.op);
      if (b.return_bool) *out += " bool";
      if (b.matching) {
        const VectorMatching& vm = *b.matching;
        bool grouped =
            vm.card == VectorMatching::Cardinality::kManyToOne || vm.card == VectorMatching::Cardinality::kOneToMany;
        if (vm.on || !vm.labels.empty() || grouped) {
          *out += vm.on ? " on (" : " ignoring (";
          *out += JoinLabels(vm.labels) + ")";
          if (grouped) {
            *out += vm.card == VectorMatching::Cardinality::kManyToOne ? " group_left (" : " group_right (";
            *out += JoinLabels(vm.include) + ")";
          }
        }
      }
      if (b.fill_left && b.fill_right && SameValue(*b.fill_left, *b.fill_right)) {
        *out += " fill(" + FormatNumber(*b.fill_left) + ")";
      } else {
        if (b.fill_left) *out += " fill_left(" + FormatNumber(*b.fill_left) + ")";
        if (b.fill_right) *out += " fill_right(" + FormatNumber(*b.fill_right) + ")";
      }
      *out += " ";
      Write(*b.rhs, out);
      return;
    }
    case Expr::Kind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      *out += AggregateOpName(a.op);
      if (a.without) {
        *out += " without (" + JoinLabels(a.grouping) + ") ";
      } else if (!a.grouping.empty()) {
        *out += " by (" + JoinLabels(a.grouping) + ") ";
      }
      *out += "(";
      if (a.param) {
        Write(*a.param, out);
        *out += ", ";
      }
      Write(*a.expr, out);
      *out += ")";
      return;
    }
    case Expr::Kind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      *out += c.func->name;
      *out += "(";
      for (size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) *out += ", ";
        Write(*c.args[i], out);
      }
      *out += ")";
      return;
    }
  }
}

}  // namespace

std::string Format(const Expr& expr) {
  std::string out;
  Write(expr, &out);
  return out;
}

}  // namespace vigil::promql
