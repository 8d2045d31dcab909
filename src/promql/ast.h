// The PromQL syntax tree, as Prometheus 3 defines it (float samples only).
// The parser builds it, the engine walks it, format_query prints it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"
#include "tsdb/matcher.h"

namespace vigil::promql {

enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };
std::string_view ValueTypeName(ValueType type);  // "scalar", "instant vector", "range vector", "string"

// Byte offsets [start, end) of a node in the query text, for error positions.
struct PosRange {
  int start = 0;
  int end = 0;
};

enum class BinaryOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kEql,
  kNeq,
  kGtr,
  kLss,
  kGte,
  kLte,
  kAnd,
  kOr,
  kUnless,
};
std::string_view BinaryOpName(BinaryOp op);  // "+", "==", "and", "atan2", …
bool IsComparison(BinaryOp op);
bool IsSetOperator(BinaryOp op);

enum class AggregateOp {
  kSum,
  kAvg,
  kCount,
  kMin,
  kMax,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kQuantile,
  kCountValues,
  kLimitk,
  kLimitRatio,
};
std::string_view AggregateOpName(AggregateOp op);  // "sum", "count_values", …
// True for topk, bottomk, quantile, count_values, limitk, limit_ratio.
bool AggregateTakesParam(AggregateOp op);

// A built-in function's signature. `variadic`: 0 = exactly arg_types;
// n > 0 = the last n argument types are optional; -1 = the last type repeats.
struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
  bool experimental = false;
};
// nullptr when `name` is not a function (case-sensitive, like Prometheus).
const Function* FindFunction(std::string_view name);

// `@` modifier.
enum class AtKind { kNone, kTimestamp, kStart, kEnd };

// An experimental duration expression in `[…]`, `[…:…]` or after `offset`:
// `[2m*(10+5)]`, `offset min_of(step(), 1s)`. Values are seconds; step() and
// range() are the query's step and end - start. Immutable once parsed.
struct DurationExpr {
  enum class Op { kLiteral, kStep, kRange, kMinOf, kMaxOf, kParen, kNeg, kAdd, kSub, kMul, kDiv, kMod, kPow };
  Op op = Op::kLiteral;
  double seconds = 0;                       // kLiteral
  bool duration = false;                    // kLiteral written with units (`5m`), printed so
  std::shared_ptr<const DurationExpr> lhs;  // binary ops, min_of/max_of
  std::shared_ptr<const DurationExpr> rhs;  // binary ops, min_of/max_of, unary ops, parentheses
  // True iff step() or range() occurs, i.e. the value depends on the query.
  bool DependsOnQuery() const;
};
using DurationExprPtr = std::shared_ptr<const DurationExpr>;
// Evaluates a duration expression, rounding to milliseconds; fails on a
// non-finite or out-of-range result.
Result<Duration> EvalDurationExpr(const DurationExpr& expr, Duration step, Duration range);

struct Expr {
  enum class Kind {
    kNumber,
    kString,
    kVectorSelector,
    kMatrixSelector,
    kSubquery,
    kParen,
    kUnary,
    kBinary,
    kAggregate,
    kCall,
  };
  explicit Expr(Kind k) : kind(k) {}
  virtual ~Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  ValueType Type() const;
  std::unique_ptr<Expr> Clone() const;

  const Kind kind;
  PosRange pos;
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(Kind::kNumber) {}
  double value = 0;
  bool duration = false;  // written as a duration (`5m` = 300), and printed so
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(Kind::kString) {}
  std::string value;
};

struct VectorSelector : Expr {
  VectorSelector() : Expr(Kind::kVectorSelector) {}
  std::string name;  // the metric name written before `{`, if any
  // Every matcher, including __name__="name" when a name was written.
  std::vector<tsdb::Matcher> matchers;
  Duration offset{0};  // negative offsets allowed
  // Set iff the offset was written as a duration expression; when that does
  // not DependsOnQuery(), `offset` already holds its value, else `offset` is 0.
  DurationExprPtr offset_expr;
  AtKind at = AtKind::kNone;
  TimestampMs at_ms = 0;  // for AtKind::kTimestamp
  // Experimental extended range selectors: `x[5m] anchored`, `x smoothed`.
  bool anchored = false;
  bool smoothed = false;
};

struct MatrixSelector : Expr {
  MatrixSelector() : Expr(Kind::kMatrixSelector) {}
  ExprPtr selector;  // a VectorSelector (carries offset and @)
  Duration range{0};
  DurationExprPtr range_expr;  // as VectorSelector::offset_expr
};

struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(Kind::kSubquery) {}
  ExprPtr expr;
  Duration range{0};
  Duration step{0};  // 0: the engine's default subquery step
  Duration offset{0};
  // As VectorSelector::offset_expr, for the range, step and offset.
  DurationExprPtr range_expr;
  DurationExprPtr step_expr;
  DurationExprPtr offset_expr;
  AtKind at = AtKind::kNone;
  TimestampMs at_ms = 0;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(Kind::kParen) {}
  ExprPtr expr;
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(Kind::kUnary) {}
  bool negate = false;  // '-' (true) or '+' (false)
  ExprPtr expr;
};

struct VectorMatching {
  enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };
  Cardinality card = Cardinality::kOneToOne;
  bool on = false;                   // on(...) rather than ignoring(...)
  std::vector<std::string> labels;   // the on/ignoring list
  std::vector<std::string> include;  // group_left/group_right extra labels
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(Kind::kBinary) {}
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs, rhs;
  bool return_bool = false;
  // Set when both sides are vectors (set operators get kManyToMany).
  std::optional<VectorMatching> matching;
  // Experimental fill modifiers: `a + fill(0) b` sets both, `fill_left(v)`
  // / `fill_right(v)` one side: the value a missing match on that side takes.
  std::optional<double> fill_left;
  std::optional<double> fill_right;
};

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(Kind::kAggregate) {}
  AggregateOp op = AggregateOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // topk's k, quantile's φ, count_values' label, …
  std::vector<std::string> grouping;
  bool without = false;
};

struct Call : Expr {
  Call() : Expr(Kind::kCall) {}
  const Function* func = nullptr;
  std::vector<ExprPtr> args;
};

// Strips any number of enclosing parentheses.
const Expr* Unparen(const Expr* e);

// Parses a PromQL expression. The error reads like Prometheus's, with the
// 1-based line and column: `1:5: parse error: unexpected <op:*>`. The
// experimental syntax (duration expressions, anchored/smoothed, fill
// modifiers) is always accepted; whether to run it is the engine's call.
// Nesting deeper than 1000 levels is an error.
Result<ExprPtr> ParseExpr(std::string_view query);
// Parses a series selector (`up{job="x"}`, `{__name__=~"a.*"}`) into matchers,
// as /api/v1/series' match[] and `vigil tsdb dump --match` take it.
Result<std::vector<tsdb::Matcher>> ParseMetricSelector(std::string_view text);

// One-line canonical text, as Prometheus's String() and /api/v1/format_query
// print it: `sum by (job) (rate(x{a="b"}[5m] offset 1m))`.
std::string Format(const Expr& expr);

}  // namespace vigil::promql
