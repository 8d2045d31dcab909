// A recursive-descent, precedence-climbing PromQL parser following the
// grammar and checks of Prometheus 3 (promql/parser/generated_parser.y and
// parse.go): a syntax pass that builds the tree, then a type-check pass.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "promql/ast.h"
#include "promql/lex.h"

namespace vigil::promql {

bool DurationExpr::DependsOnQuery() const {
  if (op == Op::kStep || op == Op::kRange) return true;
  return (lhs && lhs->DependsOnQuery()) || (rhs && rhs->DependsOnQuery());
}

namespace {

double EvalSeconds(const DurationExpr& d, double step, double range) {
  using Op = DurationExpr::Op;
  auto l = [&] { return EvalSeconds(*d.lhs, step, range); };
  auto r = [&] { return EvalSeconds(*d.rhs, step, range); };
  switch (d.op) {
    case Op::kLiteral: return d.seconds;
    case Op::kStep: return step;
    case Op::kRange: return range;
    case Op::kMinOf: return std::min(l(), r());
    case Op::kMaxOf: return std::max(l(), r());
    case Op::kParen: return r();
    case Op::kNeg: return -r();
    case Op::kAdd: return l() + r();
    case Op::kSub: return l() - r();
    case Op::kMul: return l() * r();
    case Op::kDiv: return l() / r();
    case Op::kMod: return std::fmod(l(), r());
    case Op::kPow: return std::pow(l(), r());
  }
  return 0;
}

}  // namespace

Result<Duration> EvalDurationExpr(const DurationExpr& expr, Duration step, Duration range) {
  double secs =
      EvalSeconds(expr, static_cast<double>(step.count()) / 1000.0, static_cast<double>(range.count()) / 1000.0);
  double ms = std::round(secs * 1000);
  if (!std::isfinite(ms) || std::fabs(ms) >= 9.2e18) {
    return Status::Error("duration expression out of range: " + std::to_string(secs));
  }
  return Duration(static_cast<int64_t>(ms));
}

namespace {

using internal::Lower;
using internal::Tok;
using internal::Token;

// Bounds both parser recursion and tree depth, so that parsing, checking,
// formatting and destroying a tree never exhaust the stack. AddressSanitizer
// (clang's at -O0 most of all) makes each frame several times larger, so the
// sanitizer builds allow fewer levels within the same 8 MiB stack.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VIGIL_PROMQL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(VIGIL_PROMQL_ASAN)
constexpr int kMaxDepth = 250;
#else
constexpr int kMaxDepth = 1000;
#endif

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string RawTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone: return "none";
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "vector";
    case ValueType::kMatrix: return "matrix";
    case ValueType::kString: return "string";
  }
  return "none";
}

bool IsAggregatorWord(const std::string& w, AggregateOp* op) {
  static const std::pair<std::string_view, AggregateOp> kOps[] = {
      {"sum", AggregateOp::kSum},           {"avg", AggregateOp::kAvg},
      {"count", AggregateOp::kCount},       {"min", AggregateOp::kMin},
      {"max", AggregateOp::kMax},           {"group", AggregateOp::kGroup},
      {"stddev", AggregateOp::kStddev},     {"stdvar", AggregateOp::kStdvar},
      {"topk", AggregateOp::kTopk},         {"bottomk", AggregateOp::kBottomk},
      {"quantile", AggregateOp::kQuantile}, {"count_values", AggregateOp::kCountValues},
      {"limitk", AggregateOp::kLimitk},     {"limit_ratio", AggregateOp::kLimitRatio},
  };
  for (const auto& [name, o] : kOps) {
    if (w == name) {
      *op = o;
      return true;
    }
  }
  return false;
}

// Keywords that cannot start an operand. Prometheus lets the other keywords
// (`and`, `by`, `offset`, `sum`, …) name a metric there.
bool IsReservedWord(const std::string& w) {
  static const std::string_view kWords[] = {"atan2", "bool", "on", "ignoring", "group_left", "group_right"};
  for (auto k : kWords) {
    if (w == k) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in), toks_(internal::Lex(in)) {}

  Result<ExprPtr> Expression() {
    if (Cur().type == Tok::kEOF) {
      Fail(0, "no expression found in input");
      return Error();
    }
    ExprPtr e = ParseBinary(0);
    if (e && Cur().type != Tok::kEOF) Unexpected("");
    if (!err_ && e) Check(e.get(), false);
    if (err_) return Error();
    return e;
  }

  Result<std::vector<tsdb::Matcher>> Selector() {
    ExprPtr e;
    const Token& t = Cur();
    if (t.type == Tok::kLeftBrace) {
      e = ParseVectorSelector(false);
    } else if (t.type == Tok::kIdentifier || t.type == Tok::kMetricIdentifier) {
      e = ParseVectorSelector(true);
    } else {
      Unexpected("", "metric selector");
    }
    if (e && Cur().type != Tok::kEOF) Unexpected("");
    if (!err_ && e) Check(e.get(), false);
    if (err_) return Error();
    return std::move(static_cast<VectorSelector*>(e.get())->matchers);
  }

 private:
  // ---- tokens and errors ----

  const Token& Cur() const { return toks_[i_]; }
  const Token& Ahead(size_t k = 1) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  void Advance() {
    if (i_ + 1 < toks_.size()) ++i_;
  }
  int PrevEnd() const { return i_ == 0 ? 0 : toks_[i_ - 1].end; }
  bool IsWord(const Token& t, std::string_view lower) const {
    return t.type == Tok::kIdentifier && t.text.size() == lower.size() && Lower(t.text) == lower;
  }

  std::nullptr_t Fail(int pos, std::string msg) {
    if (!err_) err_ = std::make_pair(pos, std::move(msg));
    return nullptr;
  }
  std::nullptr_t Unexpected(std::string_view context, std::string_view expected = "") {
    const Token& t = Cur();
    if (t.type == Tok::kError) return Fail(t.pos, t.text);
    std::string msg = "unexpected " + internal::DescribeToken(t);
    if (!context.empty()) msg += " in " + std::string(context);
    if (!expected.empty()) msg += ", expected " + std::string(expected);
    return Fail(t.pos, std::move(msg));
  }
  bool Expect(Tok type, std::string_view context, std::string_view expected) {
    if (Cur().type != type) {
      Unexpected(context, expected);
      return false;
    }
    Advance();
    return true;
  }

  Status Error() const {
    int pos = std::clamp(err_->first, 0, static_cast<int>(in_.size()));
    int line = 1;
    int last_nl = -1;
    for (int i = 0; i < pos; ++i) {
      if (in_[i] == '\n') {
        ++line;
        last_nl = i;
      }
    }
    return Status::Error(std::to_string(line) + ":" + std::to_string(pos - last_nl) + ": parse error: " + err_->second);
  }

  // Tree depth of a parsed node (leaves are 1).
  int DepthOf(const Expr* e) const {
    if (e == nullptr) return 0;
    auto it = depth_.find(e);
    return it == depth_.end() ? 1 : it->second;
  }

  // Records the tree depth of a new composite node; fails past kMaxDepth.
  bool SetDepth(const Expr* e, int children_depth) {
    depth_[e] = children_depth + 1;
    if (children_depth + 1 > kMaxDepth) {
      Fail(e->pos.start, "expression nesting too deep");
      return false;
    }
    return true;
  }

  bool Track(const Expr* e, std::initializer_list<const Expr*> children) {
    int d = 0;
    for (const Expr* c : children) d = std::max(d, DepthOf(c));
    return SetDepth(e, d);
  }

  // ---- expressions ----

  // The binary operator at the cursor and its precedence (1 = `or` … 6 = `^`).
  std::optional<BinaryOp> CurBinaryOp(int* prec) const {
    const Token& t = Cur();
    switch (t.type) {
      case Tok::kAdd: *prec = 4; return BinaryOp::kAdd;
      case Tok::kSub: *prec = 4; return BinaryOp::kSub;
      case Tok::kMul: *prec = 5; return BinaryOp::kMul;
      case Tok::kDiv: *prec = 5; return BinaryOp::kDiv;
      case Tok::kMod: *prec = 5; return BinaryOp::kMod;
      case Tok::kPow: *prec = 6; return BinaryOp::kPow;
      case Tok::kEqlc: *prec = 3; return BinaryOp::kEql;
      case Tok::kNeq: *prec = 3; return BinaryOp::kNeq;
      case Tok::kGtr: *prec = 3; return BinaryOp::kGtr;
      case Tok::kLss: *prec = 3; return BinaryOp::kLss;
      case Tok::kGte: *prec = 3; return BinaryOp::kGte;
      case Tok::kLte: *prec = 3; return BinaryOp::kLte;
      case Tok::kIdentifier: {
        std::string w = Lower(t.text);
        if (w == "and") return *prec = 2, BinaryOp::kAnd;
        if (w == "unless") return *prec = 2, BinaryOp::kUnless;
        if (w == "or") return *prec = 1, BinaryOp::kOr;
        if (w == "atan2") return *prec = 5, BinaryOp::kAtan2;
        return std::nullopt;
      }
      default: return std::nullopt;
    }
  }

  ExprPtr ParseBinary(int min_prec) {
    if (++recursion_ > kMaxDepth) return Fail(Cur().pos, "expression nesting too deep");
    ExprPtr lhs = ParseUnary();
    while (lhs) {
      int prec = 0;
      std::optional<BinaryOp> op = CurBinaryOp(&prec);
      if (!op || prec < min_prec) break;
      auto bin = std::make_unique<BinaryExpr>();
      bin->op = *op;
      op_pos_[bin.get()] = Cur().pos;
      Advance();
      if (!ParseBinModifiers(bin.get())) return nullptr;
      // `^` is right-associative; the others are left-associative.
      ExprPtr rhs = ParseBinary(*op == BinaryOp::kPow ? prec : prec + 1);
      if (!rhs) return nullptr;
      bin->pos = {lhs->pos.start, rhs->pos.end};
      bin->lhs = std::move(lhs);
      bin->rhs = std::move(rhs);
      if (!Track(bin.get(), {bin->lhs.get(), bin->rhs.get()})) return nullptr;
      lhs = std::move(bin);
    }
    --recursion_;
    return lhs;
  }

  // `bool`, `on(…)`/`ignoring(…)`, `group_left(…)`/`group_right(…)`.
  bool ParseBinModifiers(BinaryExpr* bin) {
    VectorMatching vm;
    if (IsWord(Cur(), "bool")) {
      bin->return_bool = true;
      Advance();
    }
    bool on = IsWord(Cur(), "on");
    if (on || IsWord(Cur(), "ignoring")) {
      vm.on = on;
      Advance();
      if (!ParseGroupingLabels(&vm.labels, "grouping")) return false;
      bool left = IsWord(Cur(), "group_left");
      if (left || IsWord(Cur(), "group_right")) {
        vm.card = left ? VectorMatching::Cardinality::kManyToOne : VectorMatching::Cardinality::kOneToMany;
        Advance();
        if (Cur().type == Tok::kLeftParen && !ParseGroupingLabels(&vm.include, "grouping")) return false;
      }
    }
    bin->matching = std::move(vm);
    // Experimental `fill(v)`, `fill_left(v)`, `fill_right(v)`; `fill` alone
    // (no parenthesis) is a metric name.
    while (Ahead().type == Tok::kLeftParen &&
           (IsWord(Cur(), "fill") || IsWord(Cur(), "fill_left") || IsWord(Cur(), "fill_right"))) {
      std::string which = Lower(Cur().text);
      int pos = Cur().pos;
      Advance();
      Advance();
      double v = 0;
      if (!ParseSignedNumber(&v, "fill modifier")) return false;
      if (!Expect(Tok::kRightParen, "fill modifier", "\")\"")) return false;
      bool left = which != "fill_right", right = which != "fill_left";
      if ((left && bin->fill_left) || (right && bin->fill_right)) {
        Fail(pos, "fill modifier may not be set multiple times");
        return false;
      }
      if (left) bin->fill_left = v;
      if (right) bin->fill_right = v;
    }
    return true;
  }

  // `5`, `-1.5`, `+Inf`, `NaN`, `5m` (as seconds).
  bool ParseSignedNumber(double* out, std::string_view context) {
    bool negative = false;
    if (Cur().type == Tok::kSub || Cur().type == Tok::kAdd) {
      negative = Cur().type == Tok::kSub;
      Advance();
    }
    const Token& t = Cur();
    if (t.type == Tok::kNumber) {
      if (!ParseNumber(t.text, out)) return Fail(t.pos, "error parsing number: " + t.text), false;
    } else if (t.type == Tok::kDuration) {
      int64_t ms = 0;
      if (!DurationTokenMs(t, &ms)) return false;
      *out = static_cast<double>(ms) / 1000.0;
    } else if (IsWord(t, "inf") || IsWord(t, "nan")) {
      *out = IsWord(t, "inf") ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    } else {
      Unexpected(context, "number");
      return false;
    }
    Advance();
    if (negative) *out = -*out;
    return true;
  }

  // `(a, "b", c,)`.
  bool ParseGroupingLabels(std::vector<std::string>* out, std::string_view context) {
    if (!Expect(Tok::kLeftParen, context, "\"(\"")) return false;
    while (Cur().type != Tok::kRightParen) {
      const Token& t = Cur();
      if (t.type != Tok::kIdentifier && t.type != Tok::kMetricIdentifier && t.type != Tok::kString) {
        Unexpected("grouping opts", "label");
        return false;
      }
      if (t.text.empty() || !internal::IsValidUtf8(t.text)) {
        Fail(t.pos, "invalid label name for grouping: " + Quote(t.text));
        return false;
      }
      out->push_back(t.text);
      Advance();
      if (Cur().type == Tok::kComma) {
        Advance();
      } else if (Cur().type != Tok::kRightParen) {
        Unexpected("grouping opts", "\",\" or \")\"");
        return false;
      }
    }
    Advance();
    return true;
  }

  ExprPtr ParseUnary() {
    const Token& t = Cur();
    if (t.type != Tok::kAdd && t.type != Tok::kSub) {
      ExprPtr e = ParsePrimary();
      return e ? ParsePostfix(std::move(e)) : nullptr;
    }
    int start = t.pos;
    bool negate = t.type == Tok::kSub;
    Advance();
    // Unary operators bind like `*`: only `^` binds tighter.
    ExprPtr e = ParseBinary(6);
    if (!e) return nullptr;
    if (e->kind == Expr::Kind::kNumber) {
      auto* n = static_cast<NumberLiteral*>(e.get());
      if (negate) n->value = -n->value;
      n->pos.start = start;
      return e;
    }
    auto u = std::make_unique<UnaryExpr>();
    u->negate = negate;
    u->pos = {start, e->pos.end};
    u->expr = std::move(e);
    if (!Track(u.get(), {u->expr.get()})) return nullptr;
    return u;
  }

  ExprPtr ParsePrimary() {
    const Token& t = Cur();
    switch (t.type) {
      case Tok::kNumber: {
        auto n = std::make_unique<NumberLiteral>();
        if (!ParseNumber(t.text, &n->value)) return Fail(t.pos, "error parsing number: " + t.text);
        n->pos = {t.pos, t.end};
        Advance();
        return n;
      }
      case Tok::kDuration: {
        int64_t ms = 0;
        if (!DurationTokenMs(t, &ms)) return nullptr;
        auto n = std::make_unique<NumberLiteral>();
        n->value = static_cast<double>(ms) / 1000.0;
        n->duration = true;
        n->pos = {t.pos, t.end};
        Advance();
        return n;
      }
      case Tok::kString: {
        auto s = std::make_unique<StringLiteral>();
        s->value = t.text;
        s->pos = {t.pos, t.end};
        Advance();
        return s;
      }
      case Tok::kLeftParen: {
        int start = t.pos;
        Advance();
        ExprPtr inner = ParseBinary(0);
        if (!inner) return nullptr;
        if (!Expect(Tok::kRightParen, "paren expression", "\")\"")) return nullptr;
        auto p = std::make_unique<ParenExpr>();
        p->pos = {start, PrevEnd()};
        p->expr = std::move(inner);
        if (!Track(p.get(), {p->expr.get()})) return nullptr;
        return p;
      }
      case Tok::kLeftBrace: return ParseVectorSelector(false);
      case Tok::kMetricIdentifier: return ParseVectorSelector(true);
      case Tok::kIdentifier: {
        std::string w = Lower(t.text);
        if (w == "inf" || w == "nan") {
          auto n = std::make_unique<NumberLiteral>();
          n->value = w == "inf" ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
          n->pos = {t.pos, t.end};
          Advance();
          return n;
        }
        AggregateOp agg;
        if (IsAggregatorWord(w, &agg) &&
            (Ahead().type == Tok::kLeftParen || IsWord(Ahead(), "by") || IsWord(Ahead(), "without"))) {
          return ParseAggregate(agg);
        }
        if (IsReservedWord(w)) return Unexpected("");
        if (Ahead().type == Tok::kLeftParen) return ParseCall();
        return ParseVectorSelector(true);
      }
      default: return Unexpected("");
    }
  }

  static bool ParseNumber(const std::string& text, double* out) {
    std::string s;
    for (char c : text) {
      if (c != '_') s.push_back(c);
    }
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      errno = 0;
      char* end = nullptr;
      unsigned long long v = std::strtoull(s.c_str() + 2, &end, 16);
      if (errno != 0 || *end != '\0' || v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())) {
        return false;
      }
      *out = static_cast<double>(v);
      return true;
    }
    if (s.size() > 1 && s[0] == '0' && s.find_first_not_of("01234567") == std::string::npos) {
      errno = 0;
      unsigned long long v = std::strtoull(s.c_str(), nullptr, 8);
      if (errno != 0 || v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())) return false;
      *out = static_cast<double>(v);
      return true;
    }
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return end != nullptr && *end == '\0' && !s.empty();
  }

  // `name`, `name{…}`, `{…}`; matchers `l="v"`, `l!="v"`, `l=~"v"`, `l!~"v"`, `"name"`.
  ExprPtr ParseVectorSelector(bool with_name) {
    auto vs = std::make_unique<VectorSelector>();
    vs->pos.start = Cur().pos;
    if (with_name) {
      vs->name = Cur().text;
      Advance();
    }
    if (Cur().type == Tok::kLeftBrace) {
      Advance();
      while (Cur().type != Tok::kRightBrace) {
        if (!ParseMatcher(vs.get())) return nullptr;
        if (Cur().type == Tok::kComma) {
          Advance();
        } else if (Cur().type != Tok::kRightBrace) {
          return Unexpected("label matching", "\",\" or \"}\"");
        }
      }
      Advance();
    }
    vs->pos.end = PrevEnd();
    if (with_name) {
      auto m = tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "__name__", vs->name);
      if (!m.ok()) return Fail(vs->pos.start, m.status().message());
      vs->matchers.insert(vs->matchers.begin(), std::move(m).value());
    }
    return vs;
  }

  bool ParseMatcher(VectorSelector* vs) {
    const Token& label = Cur();
    if (label.type != Tok::kIdentifier && label.type != Tok::kString) {
      Unexpected("label matching", "identifier or \"}\"");
      return false;
    }
    std::string name = label.text;
    int start = label.pos;
    bool quoted = label.type == Tok::kString;
    Advance();
    if (quoted && (Cur().type == Tok::kComma || Cur().type == Tok::kRightBrace)) {
      // Prometheus 3's `{"metric.name", …}`.
      auto m = tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "__name__", name);
      if (!m.ok()) return Fail(start, m.status().message()), false;
      vs->matchers.push_back(std::move(m).value());
      return true;
    }
    tsdb::Matcher::Type type;
    switch (Cur().type) {
      case Tok::kAssign: type = tsdb::Matcher::Type::kEqual; break;
      case Tok::kNeq: type = tsdb::Matcher::Type::kNotEqual; break;
      case Tok::kEqlRegex: type = tsdb::Matcher::Type::kRegexMatch; break;
      case Tok::kNeqRegex: type = tsdb::Matcher::Type::kRegexNoMatch; break;
      default: Unexpected("label matching", "label matching operator"); return false;
    }
    Advance();
    if (Cur().type != Tok::kString) {
      Unexpected("label matching", "string");
      return false;
    }
    auto m = tsdb::Matcher::Make(type, std::move(name), Cur().text);
    if (!m.ok()) return Fail(start, m.status().message()), false;
    vs->matchers.push_back(std::move(m).value());
    Advance();
    return true;
  }

  ExprPtr ParseCall() {
    const Token& name = Cur();
    int start = name.pos;
    std::string fname = name.text;
    Advance();
    std::vector<ExprPtr> args;
    if (!ParseArgs(&args, "function call")) return nullptr;
    const Function* f = FindFunction(fname);
    if (f == nullptr) f = FindFunction(Lower(fname));
    if (f == nullptr) return Fail(start, "unknown function with name " + Quote(fname));
    auto call = std::make_unique<Call>();
    call->func = f;
    call->args = std::move(args);
    call->pos = {start, PrevEnd()};
    int d = 0;
    for (const auto& a : call->args) d = std::max(d, DepthOf(a.get()));
    if (!SetDepth(call.get(), d)) return nullptr;
    return call;
  }

  // `(a, b, c)` after a function or aggregation name.
  bool ParseArgs(std::vector<ExprPtr>* args, std::string_view context) {
    if (!Expect(Tok::kLeftParen, context, "\"(\"")) return false;
    while (Cur().type != Tok::kRightParen) {
      ExprPtr e = ParseBinary(0);
      if (!e) return false;
      args->push_back(std::move(e));
      if (Cur().type == Tok::kComma) {
        if (Ahead().type == Tok::kRightParen) {
          Fail(Cur().pos, "trailing commas not allowed in function call args");
          return false;
        }
        Advance();
      } else if (Cur().type != Tok::kRightParen) {
        Unexpected(context, "\",\" or \")\"");
        return false;
      }
    }
    Advance();
    return true;
  }

  ExprPtr ParseAggregate(AggregateOp op) {
    int start = Cur().pos;
    Advance();
    auto agg = std::make_unique<AggregateExpr>();
    agg->op = op;
    bool grouped = false;
    auto grouping = [&]() {
      agg->without = IsWord(Cur(), "without");
      Advance();
      grouped = true;
      return ParseGroupingLabels(&agg->grouping, "grouping opts");
    };
    if (IsWord(Cur(), "by") || IsWord(Cur(), "without")) {
      if (!grouping()) return nullptr;
    }
    std::vector<ExprPtr> args;
    if (!ParseArgs(&args, "aggregation")) return nullptr;
    if (!grouped && (IsWord(Cur(), "by") || IsWord(Cur(), "without"))) {
      if (!grouping()) return nullptr;
    }
    agg->pos = {start, PrevEnd()};
    if (args.empty()) return Fail(start, "no arguments for aggregate expression provided");
    size_t want = AggregateTakesParam(op) ? 2 : 1;
    if (args.size() != want) {
      return Fail(start, "wrong number of arguments for aggregate expression provided, expected " +
                             std::to_string(want) + ", got " + std::to_string(args.size()));
    }
    if (want == 2) agg->param = std::move(args[0]);
    agg->expr = std::move(args[want - 1]);
    if (!Track(agg.get(), {agg->expr.get(), agg->param.get()})) return nullptr;
    return agg;
  }

  // ---- postfix: [range], [range:step], offset, @ ----

  ExprPtr ParsePostfix(ExprPtr e) {
    while (e) {
      const Token& t = Cur();
      if (t.type == Tok::kLeftBracket) {
        e = ParseRange(std::move(e));
      } else if (IsWord(t, "offset")) {
        e = ParseOffset(std::move(e));
      } else if (t.type == Tok::kAt) {
        e = ParseAt(std::move(e));
      } else if (IsWord(t, "anchored") || IsWord(t, "smoothed")) {
        e = ParseExtendedRange(std::move(e));
      } else {
        break;
      }
    }
    return e;
  }

  // A DURATION token's milliseconds; like Prometheus, zero is an error.
  bool DurationTokenMs(const Token& t, int64_t* ms) {
    auto d = ParseDuration(t.text);
    if (!d.ok()) return Fail(t.pos, "not a valid duration string: " + Quote(t.text)), false;
    if (d->count() == 0) return Fail(t.pos, "duration must be greater than 0"), false;
    *ms = d->count();
    return true;
  }

  // A duration in `[…]` or after `offset`: `5m`, `1h30m`, or seconds `300`
  // (truncated to milliseconds, as Prometheus does).
  bool ParseDurationToken(Duration* out, bool allow_zero, std::string_view context = "",
                          std::string_view expected = "number or duration") {
    const Token& t = Cur();
    int64_t ms = 0;
    if (t.type == Tok::kDuration) {
      if (!DurationTokenMs(t, &ms)) return false;
    } else if (t.type == Tok::kNumber) {
      double secs = 0;
      if (!ParseNumber(t.text, &secs)) return Fail(t.pos, "error parsing number: " + t.text), false;
      double v = std::trunc(secs * 1000);
      if (!std::isfinite(v) || std::fabs(v) >= 9.2e18) return Fail(t.pos, "duration out of range: " + t.text), false;
      ms = static_cast<int64_t>(v);
    } else {
      Unexpected(context, expected);
      return false;
    }
    if (ms == 0 && !allow_zero) return Fail(t.pos, "duration must be greater than 0"), false;
    *out = Duration(ms);
    Advance();
    return true;
  }

  // A duration in `[…]`: a literal, or an experimental duration expression.
  bool ParseBracketDuration(Duration* value, DurationExprPtr* expr) {
    const Token& t = Cur();
    if ((t.type == Tok::kDuration || t.type == Tok::kNumber) &&
        (Ahead().type == Tok::kRightBracket || Ahead().type == Tok::kColon)) {
      return ParseDurationToken(value, false, "subquery selector");
    }
    int start = t.pos;
    if (!StartsDurationExpr(t)) {
      Unexpected("subquery selector", "number or duration");
      return false;
    }
    dur_nodes_ = 0;
    DurationExprPtr e = ParseDurExpr(1);
    if (!e) return false;
    return SetDurationExpr(std::move(e), start, true, value, expr);
  }

  bool StartsDurationExpr(const Token& t) const {
    switch (t.type) {
      case Tok::kNumber:
      case Tok::kDuration:
      case Tok::kLeftParen:
      case Tok::kAdd:
      case Tok::kSub: return true;
      case Tok::kIdentifier: {
        std::string w = Lower(t.text);
        return Ahead().type == Tok::kLeftParen && (w == "step" || w == "range" || w == "min_of" || w == "max_of");
      }
      default: return false;
    }
  }

  // Stores a duration expression, folding it into `value` unless it needs
  // the query's step or range.
  bool SetDurationExpr(DurationExprPtr e, int start, bool positive, Duration* value, DurationExprPtr* out) {
    *value = Duration(0);
    if (!e->DependsOnQuery()) {
      auto v = EvalDurationExpr(*e, Duration(0), Duration(0));
      if (!v.ok()) return Fail(start, v.status().message()), false;
      if (positive && v->count() <= 0) return Fail(start, "duration must be greater than 0"), false;
      *value = *v;
    }
    // A lone literal (`[+1]`) is an ordinary duration.
    if (e->op != DurationExpr::Op::kLiteral) *out = std::move(e);
    return true;
  }

  std::shared_ptr<DurationExpr> MakeDur(DurationExpr::Op op, DurationExprPtr lhs, DurationExprPtr rhs) {
    // Bounds the tree's depth, as kMaxDepth does for expressions.
    if (++dur_nodes_ > kMaxDepth) return Fail(Cur().pos, "duration expression too long");
    auto d = std::make_shared<DurationExpr>();
    d->op = op;
    d->lhs = std::move(lhs);
    d->rhs = std::move(rhs);
    return d;
  }

  DurationExprPtr ParseDurExpr(int min_prec) {
    if (++recursion_ > kMaxDepth) return Fail(Cur().pos, "expression nesting too deep");
    DurationExprPtr lhs = ParseDurUnary();
    while (lhs) {
      using Op = DurationExpr::Op;
      Op op;
      int prec;
      switch (Cur().type) {
        case Tok::kAdd: op = Op::kAdd, prec = 1; break;
        case Tok::kSub: op = Op::kSub, prec = 1; break;
        case Tok::kMul: op = Op::kMul, prec = 2; break;
        case Tok::kDiv: op = Op::kDiv, prec = 2; break;
        case Tok::kMod: op = Op::kMod, prec = 2; break;
        case Tok::kPow: op = Op::kPow, prec = 3; break;
        default: prec = 0; break;
      }
      if (prec == 0 || prec < min_prec) break;
      Advance();
      DurationExprPtr rhs = ParseDurExpr(op == Op::kPow ? 3 : prec + 1);
      if (!rhs) return nullptr;
      lhs = MakeDur(op, std::move(lhs), std::move(rhs));
    }
    --recursion_;
    return lhs;
  }

  DurationExprPtr ParseDurUnary() {
    if (Cur().type != Tok::kAdd && Cur().type != Tok::kSub) return ParseDurPrimary();
    bool negate = Cur().type == Tok::kSub;
    Advance();
    DurationExprPtr e = ParseDurExpr(3);  // like `*`: only `^` binds tighter
    if (!e || !negate) return e;          // unary plus changes nothing, as Prometheus prints it
    return MakeDur(DurationExpr::Op::kNeg, nullptr, std::move(e));
  }

  DurationExprPtr ParseDurPrimary() {
    using Op = DurationExpr::Op;
    const Token& t = Cur();
    if (t.type == Tok::kNumber || t.type == Tok::kDuration) {
      auto d = MakeDur(Op::kLiteral, nullptr, nullptr);
      if (!d) return nullptr;
      DurationExpr* lit = d.get();
      if (t.type == Tok::kNumber) {
        if (!ParseNumber(t.text, &lit->seconds)) return Fail(t.pos, "error parsing number: " + t.text);
        if (!std::isfinite(lit->seconds)) return Fail(t.pos, "duration out of range: " + t.text);
      } else {
        auto v = ParseDuration(t.text);
        if (!v.ok()) return Fail(t.pos, "not a valid duration string: " + Quote(t.text));
        lit->seconds = static_cast<double>(v->count()) / 1000.0;
        lit->duration = true;
      }
      Advance();
      return d;
    }
    if (t.type == Tok::kLeftParen) {
      Advance();
      DurationExprPtr inner = ParseDurExpr(1);
      if (!inner || !Expect(Tok::kRightParen, "duration expression", "\")\"")) return nullptr;
      return MakeDur(Op::kParen, nullptr, std::move(inner));
    }
    if (t.type == Tok::kIdentifier && Ahead().type == Tok::kLeftParen) {
      std::string w = Lower(t.text);
      if (w == "step" || w == "range") {
        Advance();
        Advance();
        if (!Expect(Tok::kRightParen, "duration expression", "\")\"")) return nullptr;
        return MakeDur(w == "step" ? Op::kStep : Op::kRange, nullptr, nullptr);
      }
      if (w == "min_of" || w == "max_of") {
        Advance();
        Advance();
        DurationExprPtr a = ParseDurExpr(1);
        if (!a || !Expect(Tok::kComma, "duration expression", "\",\"")) return nullptr;
        DurationExprPtr b = ParseDurExpr(1);
        if (!b || !Expect(Tok::kRightParen, "duration expression", "\")\"")) return nullptr;
        return MakeDur(w == "min_of" ? Op::kMinOf : Op::kMaxOf, std::move(a), std::move(b));
      }
    }
    return Unexpected("duration expression", "duration");
  }

  ExprPtr ParseRange(ExprPtr e) {
    int bracket = Cur().pos;
    Advance();  // [
    Duration range{0};
    DurationExprPtr range_expr;
    if (!ParseBracketDuration(&range, &range_expr)) return nullptr;
    if (Cur().type == Tok::kColon) {
      Advance();
      auto sq = std::make_unique<SubqueryExpr>();
      sq->range = range;
      sq->range_expr = std::move(range_expr);
      if (Cur().type != Tok::kRightBracket && !ParseBracketDuration(&sq->step, &sq->step_expr)) return nullptr;
      if (!Expect(Tok::kRightBracket, "subquery selector", "\"]\"")) return nullptr;
      sq->pos = {e->pos.start, PrevEnd()};
      sq->expr = std::move(e);
      if (!Track(sq.get(), {sq->expr.get()})) return nullptr;
      return sq;
    }
    if (!Expect(Tok::kRightBracket, "subquery or range", "\":\" or \"]\"")) return nullptr;
    if (e->kind != Expr::Kind::kVectorSelector) return Fail(bracket, "ranges only allowed for vector selectors");
    if (modified_offset_.count(e.get())) return Fail(bracket, "no offset modifiers allowed before range");
    if (modified_at_.count(e.get())) return Fail(bracket, "no @ modifiers allowed before range");
    auto ms = std::make_unique<MatrixSelector>();
    ms->range = range;
    ms->range_expr = std::move(range_expr);
    ms->pos = {e->pos.start, PrevEnd()};
    ms->selector = std::move(e);
    if (!Track(ms.get(), {ms->selector.get()})) return nullptr;
    return ms;
  }

  // The node whose offset/@ a modifier on `e` sets, or nullptr.
  Expr* ModifierTarget(Expr* e) {
    if (e->kind == Expr::Kind::kVectorSelector || e->kind == Expr::Kind::kSubquery) return e;
    if (e->kind == Expr::Kind::kMatrixSelector) return static_cast<MatrixSelector*>(e)->selector.get();
    return nullptr;
  }

  ExprPtr ParseOffset(ExprPtr e) {
    Advance();  // offset
    int start = Cur().pos;
    Tok sign = Cur().type;
    if (sign == Tok::kSub || sign == Tok::kAdd) Advance();
    Duration d{0};
    DurationExprPtr d_expr;
    if (Cur().type == Tok::kNumber || Cur().type == Tok::kDuration) {
      if (!ParseDurationToken(&d, true, "offset")) return nullptr;
      if (sign == Tok::kSub) d = -d;
    } else {
      // Experimental: `offset (1m + 2s)`, `offset -min_of(step(), 1s)`.
      if (!StartsDurationExpr(Cur())) return Unexpected("offset", "number or duration");
      dur_nodes_ = 0;
      DurationExprPtr prim = ParseDurPrimary();
      if (!prim) return nullptr;
      if (sign == Tok::kSub) {
        prim = MakeDur(DurationExpr::Op::kNeg, nullptr, prim);
        if (!prim) return nullptr;
      }
      if (!SetDurationExpr(prim, start, false, &d, &d_expr)) return nullptr;
    }
    Expr* target = ModifierTarget(e.get());
    if (target == nullptr) {
      return Fail(e->pos.start,
                  "offset modifier must be preceded by an instant vector selector or range vector selector or a "
                  "subquery");
    }
    if (!modified_offset_.insert(target).second) return Fail(e->pos.start, "offset may not be set multiple times");
    if (target->kind == Expr::Kind::kVectorSelector) {
      static_cast<VectorSelector*>(target)->offset = d;
      static_cast<VectorSelector*>(target)->offset_expr = std::move(d_expr);
    } else {
      static_cast<SubqueryExpr*>(target)->offset = d;
      static_cast<SubqueryExpr*>(target)->offset_expr = std::move(d_expr);
    }
    e->pos.end = PrevEnd();
    return e;
  }

  // Experimental `anchored` / `smoothed` after a vector or range selector.
  ExprPtr ParseExtendedRange(ExprPtr e) {
    bool anchored = IsWord(Cur(), "anchored");
    std::string word = Lower(Cur().text);
    Advance();
    Expr* target = ModifierTarget(e.get());
    if (target == nullptr || target->kind != Expr::Kind::kVectorSelector) {
      return Fail(e->pos.start,
                  word + " modifier must be preceded by an instant vector selector or range vector selector");
    }
    auto* vs = static_cast<VectorSelector*>(target);
    if (vs->anchored || vs->smoothed) return Fail(e->pos.start, "anchored or smoothed may not be set multiple times");
    (anchored ? vs->anchored : vs->smoothed) = true;
    e->pos.end = PrevEnd();
    return e;
  }

  ExprPtr ParseAt(ExprPtr e) {
    Advance();  // @
    AtKind kind = AtKind::kTimestamp;
    TimestampMs ms = 0;
    if ((IsWord(Cur(), "start") || IsWord(Cur(), "end")) && Ahead().type == Tok::kLeftParen) {
      kind = IsWord(Cur(), "start") ? AtKind::kStart : AtKind::kEnd;
      Advance();
      Advance();
      if (!Expect(Tok::kRightParen, "@ modifier", "\")\"")) return nullptr;
    } else {
      double secs = 0;
      if (!ParseSignedNumber(&secs, "@")) return nullptr;
      double v = std::round(secs * 1000);
      if (!std::isfinite(v) || std::fabs(v) >= 9.2e18) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%f", secs);
        return Fail(e->pos.start, std::string("timestamp out of bounds for @ modifier: ") + buf);
      }
      ms = static_cast<TimestampMs>(v);
    }
    Expr* target = ModifierTarget(e.get());
    if (target == nullptr) {
      return Fail(e->pos.start,
                  "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery");
    }
    if (!modified_at_.insert(target).second) return Fail(e->pos.start, "@ <timestamp> may not be set multiple times");
    if (target->kind == Expr::Kind::kVectorSelector) {
      auto* vs = static_cast<VectorSelector*>(target);
      vs->at = kind;
      vs->at_ms = ms;
    } else {
      auto* sq = static_cast<SubqueryExpr*>(target);
      sq->at = kind;
      sq->at_ms = ms;
    }
    e->pos.end = PrevEnd();
    return e;
  }

  // ---- type checks (Prometheus's checkAST) ----

  bool ExpectType(Expr* e, ValueType want, const std::string& context) {
    if (!Check(e, false)) return false;
    ValueType t = e->Type();
    if (t != want) {
      Fail(e->pos.start, "expected type " + std::string(ValueTypeName(want)) + " in " + context + ", got " +
                             std::string(ValueTypeName(t)));
      return false;
    }
    return true;
  }

  bool Check(Expr* e, bool bypass_empty_matcher) {
    switch (e->kind) {
      case Expr::Kind::kNumber:
      case Expr::Kind::kString: return true;
      case Expr::Kind::kParen: return Check(static_cast<ParenExpr*>(e)->expr.get(), false);
      case Expr::Kind::kMatrixSelector: return Check(static_cast<MatrixSelector*>(e)->selector.get(), false);
      case Expr::Kind::kSubquery: {
        auto* sq = static_cast<SubqueryExpr*>(e);
        if (!Check(sq->expr.get(), false)) return false;
        ValueType t = sq->expr->Type();
        if (t != ValueType::kVector) {
          Fail(e->pos.start, "subquery is only allowed on instant vector, got " + RawTypeName(t) + " instead");
          return false;
        }
        return true;
      }
      case Expr::Kind::kUnary: {
        auto* u = static_cast<UnaryExpr*>(e);
        if (!Check(u->expr.get(), false)) return false;
        ValueType t = u->expr->Type();
        if (t != ValueType::kScalar && t != ValueType::kVector) {
          Fail(e->pos.start, "unary expression only allowed on expressions of type scalar or instant vector, got " +
                                 Quote(ValueTypeName(t)));
          return false;
        }
        return true;
      }
      case Expr::Kind::kVectorSelector: return CheckSelector(static_cast<VectorSelector*>(e), bypass_empty_matcher);
      case Expr::Kind::kAggregate: {
        auto* a = static_cast<AggregateExpr*>(e);
        if (!ExpectType(a->expr.get(), ValueType::kVector, "aggregation expression")) return false;
        if (a->param) {
          ValueType want = a->op == AggregateOp::kCountValues ? ValueType::kString : ValueType::kScalar;
          if (!ExpectType(a->param.get(), want, "aggregation parameter")) return false;
        }
        return true;
      }
      case Expr::Kind::kCall: return CheckCall(static_cast<Call*>(e));
      case Expr::Kind::kBinary: return CheckBinary(static_cast<BinaryExpr*>(e));
    }
    return true;
  }

  bool CheckSelector(VectorSelector* vs, bool bypass_empty_matcher) {
    if (!vs->name.empty()) {
      for (size_t i = 1; i < vs->matchers.size(); ++i) {
        if (vs->matchers[i].name() == "__name__") {
          Fail(vs->pos.start,
               "metric name must not be set twice: " + Quote(vs->name) + " or " + Quote(vs->matchers[i].value()));
          return false;
        }
      }
      return true;
    }
    if (bypass_empty_matcher) return true;
    for (const auto& m : vs->matchers) {
      if (!m.MatchesEmpty()) return true;
    }
    Fail(vs->pos.start, "vector selector must contain at least one non-empty matcher");
    return false;
  }

  bool CheckCall(Call* c) {
    const Function* f = c->func;
    int nargs = static_cast<int>(f->arg_types.size());
    int got = static_cast<int>(c->args.size());
    std::string name = Quote(f->name);
    if (f->variadic == 0) {
      if (nargs != got) {
        Fail(c->pos.start,
             "expected " + std::to_string(nargs) + " argument(s) in call to " + name + ", got " + std::to_string(got));
        return false;
      }
    } else {
      int min = f->variadic > 0 ? nargs - f->variadic : nargs - 1;
      if (got < min) {
        Fail(c->pos.start, "expected at least " + std::to_string(min) + " argument(s) in call to " + name + ", got " +
                               std::to_string(got));
        return false;
      }
      if (f->variadic > 0 && got > nargs) {
        Fail(c->pos.start, "expected at most " + std::to_string(nargs) + " argument(s) in call to " + name + ", got " +
                               std::to_string(got));
        return false;
      }
    }
    bool info = f->name == "info" && got > 1;
    if (info) {
      Expr* sel = c->args[1].get();
      if (sel->kind != Expr::Kind::kVectorSelector) {
        Fail(c->pos.start, "expected type instant vector in call to function \"info\", got " +
                               std::string(ValueTypeName(sel->Type())));
        return false;
      }
      if (!static_cast<VectorSelector*>(sel)->name.empty()) {
        Fail(sel->pos.start, "expected label selectors only, got vector selector instead");
        return false;
      }
    }
    std::string context = "call to function " + name;
    for (int i = 0; i < got; ++i) {
      int k = i;
      if (k >= nargs) {
        if (f->variadic == 0) break;
        k = nargs - 1;
      }
      Expr* arg = c->args[i].get();
      if (info && i == 1) {
        if (!Check(arg, true)) return false;
        continue;
      }
      if (!ExpectType(arg, f->arg_types[k], context)) return false;
    }
    return true;
  }

  bool CheckBinary(BinaryExpr* b) {
    if (!Check(b->lhs.get(), false) || !Check(b->rhs.get(), false)) return false;
    ValueType lt = b->lhs->Type(), rt = b->rhs->Type();
    int op_pos = op_pos_.count(b) ? op_pos_[b] : b->pos.start;
    if (b->return_bool && !IsComparison(b->op)) {
      Fail(op_pos, "bool modifier can only be used on comparison operators");
      return false;
    }
    if (IsComparison(b->op) && !b->return_bool && lt == ValueType::kScalar && rt == ValueType::kScalar) {
      Fail(op_pos, "comparisons between scalars must use BOOL modifier");
      return false;
    }
    if (!b->matching) b->matching = VectorMatching{};
    VectorMatching& vm = *b->matching;
    if (IsSetOperator(b->op) && vm.card == VectorMatching::Cardinality::kOneToOne) {
      vm.card = VectorMatching::Cardinality::kManyToMany;
    }
    if (vm.on) {
      for (const auto& l1 : vm.labels) {
        for (const auto& l2 : vm.include) {
          if (l1 == l2) {
            Fail(op_pos, "label " + Quote(l1) + " must not occur in ON and GROUP clause at once");
            return false;
          }
        }
      }
    }
    if (lt != ValueType::kScalar && lt != ValueType::kVector) {
      Fail(b->lhs->pos.start, "binary expression must contain only scalar and instant vector types");
      return false;
    }
    if (rt != ValueType::kScalar && rt != ValueType::kVector) {
      Fail(b->rhs->pos.start, "binary expression must contain only scalar and instant vector types");
      return false;
    }
    std::string op_name = Quote(BinaryOpName(b->op));
    if (lt != ValueType::kVector || rt != ValueType::kVector) {
      if (!vm.labels.empty()) {
        Fail(b->pos.start, "vector matching only allowed between instant vectors");
        return false;
      }
      b->matching.reset();
    } else if (IsSetOperator(b->op)) {
      if (vm.card == VectorMatching::Cardinality::kOneToMany || vm.card == VectorMatching::Cardinality::kManyToOne) {
        Fail(b->pos.start, "no grouping allowed for " + op_name + " operation");
        return false;
      }
    }
    if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && IsSetOperator(b->op)) {
      Fail(b->pos.start, "set operator " + op_name + " not allowed in binary scalar expression");
      return false;
    }
    return true;
  }

  std::string_view in_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  int recursion_ = 0;
  int dur_nodes_ = 0;  // in the duration expression being parsed
  std::optional<std::pair<int, std::string>> err_;
  std::unordered_map<const Expr*, int> depth_;
  std::unordered_map<const BinaryExpr*, int> op_pos_;
  std::unordered_set<const Expr*> modified_offset_;
  std::unordered_set<const Expr*> modified_at_;
};

}  // namespace

Result<ExprPtr> ParseExpr(std::string_view query) { return Parser(query).Expression(); }

Result<std::vector<tsdb::Matcher>> ParseMetricSelector(std::string_view text) { return Parser(text).Selector(); }

}  // namespace vigil::promql
