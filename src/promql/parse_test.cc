#include <gtest/gtest.h>

#include <fstream>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "promql/ast.h"

namespace vigil::promql {
namespace {

// Structural equality of two trees, positions aside.
bool SameDuration(const DurationExprPtr& a, const DurationExprPtr& b) {
  if (!a || !b) return !a && !b;
  if (a->op != b->op || a->duration != b->duration) return false;
  if (a->op == DurationExpr::Op::kLiteral && a->seconds != b->seconds) return false;
  return SameDuration(a->lhs, b->lhs) && SameDuration(a->rhs, b->rhs);
}

bool SameTree(const Expr& a, const Expr& b) {
  if (a.kind != b.kind) return false;
  auto same_ptr = [](const ExprPtr& x, const ExprPtr& y) { return (!x && !y) || (x && y && SameTree(*x, *y)); };
  switch (a.kind) {
    case Expr::Kind::kNumber: {
      auto& x = static_cast<const NumberLiteral&>(a);
      auto& y = static_cast<const NumberLiteral&>(b);
      return (x.value == y.value || (x.value != x.value && y.value != y.value)) && x.duration == y.duration;
    }
    case Expr::Kind::kString:
      return static_cast<const StringLiteral&>(a).value == static_cast<const StringLiteral&>(b).value;
    case Expr::Kind::kVectorSelector: {
      auto& x = static_cast<const VectorSelector&>(a);
      auto& y = static_cast<const VectorSelector&>(b);
      if (x.name != y.name || x.matchers.size() != y.matchers.size() || x.offset != y.offset || x.at != y.at ||
          x.at_ms != y.at_ms || x.anchored != y.anchored || x.smoothed != y.smoothed ||
          !SameDuration(x.offset_expr, y.offset_expr)) {
        return false;
      }
      // Matchers may come back in a different order (Format sorts them).
      std::multiset<std::string> mx, my;
      for (const auto& m : x.matchers) mx.insert(m.ToString());
      for (const auto& m : y.matchers) my.insert(m.ToString());
      return mx == my;
    }
    case Expr::Kind::kMatrixSelector: {
      auto& x = static_cast<const MatrixSelector&>(a);
      auto& y = static_cast<const MatrixSelector&>(b);
      return x.range == y.range && SameDuration(x.range_expr, y.range_expr) && SameTree(*x.selector, *y.selector);
    }
    case Expr::Kind::kSubquery: {
      auto& x = static_cast<const SubqueryExpr&>(a);
      auto& y = static_cast<const SubqueryExpr&>(b);
      return x.range == y.range && x.step == y.step && x.offset == y.offset && x.at == y.at && x.at_ms == y.at_ms &&
             SameDuration(x.range_expr, y.range_expr) && SameDuration(x.step_expr, y.step_expr) &&
             SameDuration(x.offset_expr, y.offset_expr) && SameTree(*x.expr, *y.expr);
    }
    case Expr::Kind::kParen:
      return SameTree(*static_cast<const ParenExpr&>(a).expr, *static_cast<const ParenExpr&>(b).expr);
    case Expr::Kind::kUnary: {
      auto& x = static_cast<const UnaryExpr&>(a);
      auto& y = static_cast<const UnaryExpr&>(b);
      return x.negate == y.negate && SameTree(*x.expr, *y.expr);
    }
    case Expr::Kind::kBinary: {
      auto& x = static_cast<const BinaryExpr&>(a);
      auto& y = static_cast<const BinaryExpr&>(b);
      if (x.op != y.op || x.return_bool != y.return_bool || x.matching.has_value() != y.matching.has_value() ||
          x.fill_left.has_value() != y.fill_left.has_value() || x.fill_right.has_value() != y.fill_right.has_value()) {
        return false;
      }
      if (x.matching && (x.matching->card != y.matching->card || x.matching->on != y.matching->on ||
                         x.matching->labels != y.matching->labels || x.matching->include != y.matching->include)) {
        return false;
      }
      return SameTree(*x.lhs, *y.lhs) && SameTree(*x.rhs, *y.rhs);
    }
    case Expr::Kind::kAggregate: {
      auto& x = static_cast<const AggregateExpr&>(a);
      auto& y = static_cast<const AggregateExpr&>(b);
      return x.op == y.op && x.grouping == y.grouping && x.without == y.without && same_ptr(x.param, y.param) &&
             SameTree(*x.expr, *y.expr);
    }
    case Expr::Kind::kCall: {
      auto& x = static_cast<const Call&>(a);
      auto& y = static_cast<const Call&>(b);
      if (x.func != y.func || x.args.size() != y.args.size()) return false;
      for (size_t i = 0; i < x.args.size(); ++i) {
        if (!SameTree(*x.args[i], *y.args[i])) return false;
      }
      return true;
    }
  }
  return false;
}

struct FormatCase {
  const char* input;
  const char* want;
};

// Readable, single-line parameter names for test listings.
std::string Printable(const char* s) {
  std::string out;
  for (; *s != '\0'; ++s) out.push_back(*s >= 0x20 && *s < 0x7f ? *s : '?');
  return out;
}
void PrintTo(const FormatCase& c, std::ostream* os) { *os << Printable(c.input); }

class ParseFormatTest : public testing::TestWithParam<FormatCase> {};

TEST_P(ParseFormatTest, FormatsCanonically) {
  const FormatCase& c = GetParam();
  auto e = ParseExpr(c.input);
  ASSERT_TRUE(e.ok()) << c.input << ": " << e.status().message();
  std::string got = Format(**e);
  EXPECT_EQ(got, c.want) << c.input;
  auto again = ParseExpr(got);
  ASSERT_TRUE(again.ok()) << got << ": " << again.status().message();
  EXPECT_EQ(Format(**again), got);
  EXPECT_TRUE(SameTree(**e, **again)) << c.input;
  EXPECT_TRUE(SameTree(**e, *(*e)->Clone())) << c.input;
}

INSTANTIATE_TEST_SUITE_P(
    Valid, ParseFormatTest,
    testing::Values(
        // Numbers.
        FormatCase{"1", "1"}, FormatCase{"1.5", "1.5"}, FormatCase{".5", "0.5"}, FormatCase{"5.", "5"},
        FormatCase{"1e3", "1000"}, FormatCase{"1E-3", "0.001"}, FormatCase{"0x1f", "31"}, FormatCase{"0X1F", "31"},
        FormatCase{"010", "8"}, FormatCase{"089", "89"}, FormatCase{"1_000", "1000"}, FormatCase{"Inf", "+Inf"},
        FormatCase{"-inf", "-Inf"}, FormatCase{"Inf ^ 2", "Inf ^ 2"}, FormatCase{"1 - Inf ^ -1", "1 - Inf ^ -1"},
        FormatCase{"NaN", "NaN"}, FormatCase{"nAn", "NaN"}, FormatCase{"+5", "5"}, FormatCase{"-5", "-5"},
        FormatCase{"--5", "5"}, FormatCase{"1e21", "1000000000000000000000"}, FormatCase{"5m", "5m"},
        FormatCase{"1h30m", "1h30m"}, FormatCase{"100ms", "100ms"}, FormatCase{"-5m", "-5m"},
        FormatCase{"time() - 1h", "time() - 1h"}, FormatCase{"90s", "1m30s"},
        // Strings.
        FormatCase{"\"a\\x41\\u00e9\\101\\n\"", "\"aAéA\\n\""}, FormatCase{"'it\\'s'", "\"it's\""},
        FormatCase{"'say \"hi\"'", "\"say \\\"hi\\\"\""}, FormatCase{"`raw\\n`", "\"raw\\\\n\""},
        // Selectors.
        FormatCase{"foo", "foo"}, FormatCase{"foo:bar:baz", "foo:bar:baz"}, FormatCase{":foo", ":foo"},
        FormatCase{"foo{}", "foo"},
        FormatCase{"foo{c!=\"d\",a=\"b\",e=~\"x.*\",f!~\"y\",}", "foo{a=\"b\",c!=\"d\",e=~\"x.*\",f!~\"y\"}"},
        FormatCase{"{__name__=\"foo\"}", "{__name__=\"foo\"}"},
        FormatCase{"{\"foo\", a=\"b\"}", "{__name__=\"foo\",a=\"b\"}"},
        FormatCase{"{\"a.b\"=\"c\", x=\"y\"}", "{\"a.b\"=\"c\",x=\"y\"}"},
        FormatCase{"foo{on=\"1\", by=\"2\", bool=\"3\", sum=\"4\", offset=\"5\"}",
                   "foo{bool=\"3\",by=\"2\",offset=\"5\",on=\"1\",sum=\"4\"}"},
        FormatCase{"start", "start"}, FormatCase{"end{a=\"b\"}", "end{a=\"b\"}"}, FormatCase{"x[5m]", "x[5m]"},
        FormatCase{"x[1800]", "x[30m]"}, FormatCase{"x[90s]", "x[1m30s]"}, FormatCase{"x[1h30m]", "x[1h30m]"},
        FormatCase{"x[1y]", "x[1y]"}, FormatCase{"x[100ms]", "x[100ms]"}, FormatCase{"x offset 5m", "x offset 5m"},
        FormatCase{"x offset -50", "x offset -50s"}, FormatCase{"x OFFSET 1h", "x offset 1h"},
        FormatCase{"x[5m] offset 1m", "x[5m] offset 1m"}, FormatCase{"x @ 100", "x @ 100.000"},
        FormatCase{"x @ 1.5", "x @ 1.500"}, FormatCase{"x @ -5", "x @ -5.000"}, FormatCase{"x @ 2m", "x @ 120.000"},
        FormatCase{"x @ start()", "x @ start()"}, FormatCase{"x @ END()", "x @ end()"},
        FormatCase{"x offset 5m @ 100", "x @ 100.000 offset 5m"},
        FormatCase{"x @ 100 offset 5m", "x @ 100.000 offset 5m"},
        FormatCase{"x[1m] @ 100 offset 1m", "x[1m] @ 100.000 offset 1m"},
        // Subqueries.
        FormatCase{"x[5m:1m]", "x[5m:1m]"}, FormatCase{"x[5m:]", "x[5m:]"},
        FormatCase{"rate(x[1m])[1h:5m] @ end() offset 10m", "rate(x[1m])[1h:5m] @ end() offset 10m"},
        FormatCase{"last_over_time(abs(m{env=\"1\"})[10m:])", "last_over_time(abs(m{env=\"1\"})[10m:])"},
        FormatCase{"x[2m1s:30s] @ 2m", "x[2m1s:30s] @ 120.000"}, FormatCase{"(x)[5m:]", "(x)[5m:]"},
        // Operators and precedence.
        FormatCase{"-2^2", "-2 ^ 2"}, FormatCase{"2^3^2", "2 ^ 3 ^ 2"}, FormatCase{"a+b*c", "a + b * c"},
        FormatCase{"a-b-c", "a - b - c"}, FormatCase{"a - -1", "a - -1"}, FormatCase{"-a", "-a"},
        FormatCase{"+a", "+a"}, FormatCase{"1 == bool 2", "1 == bool 2"}, FormatCase{"a > bool 1", "a > bool 1"},
        FormatCase{"a atan2 b", "a atan2 b"}, FormatCase{"a ATAN2 b", "a atan2 b"}, FormatCase{"a AND b", "a and b"},
        FormatCase{"a or b unless c", "a or b unless c"}, FormatCase{"a + on(b, c) d", "a + on (b, c) d"},
        FormatCase{"a + on() d", "a + on () d"}, FormatCase{"a + ignoring(b) d", "a + ignoring (b) d"},
        FormatCase{"a * on(b) group_left(c) d", "a * on (b) group_left (c) d"},
        FormatCase{"a * ignoring(b) group_right d", "a * ignoring (b) group_right () d"},
        FormatCase{"a * ignoring() group_left d", "a * ignoring () group_left () d"},
        FormatCase{"a and on(x) b", "a and on (x) b"}, FormatCase{"a > bool on(x) b", "a > bool on (x) b"},
        FormatCase{"1 + a", "1 + a"}, FormatCase{"(1 + 2) * 3", "(1 + 2) * 3"}, FormatCase{"a % b / c", "a % b / c"},
        FormatCase{"a != b", "a != b"}, FormatCase{"a <= b < c >= d > e", "a <= b < c >= d > e"},
        // Aggregations.
        FormatCase{"sum(x)", "sum(x)"}, FormatCase{"SUM BY (group) (x)", "sum by (group) (x)"},
        FormatCase{"sum(x) by (a, b)", "sum by (a, b) (x)"}, FormatCase{"sum without (a) (x)", "sum without (a) (x)"},
        FormatCase{"avg(x) without ()", "avg without () (x)"}, FormatCase{"sum by () (x)", "sum(x)"},
        FormatCase{"topk(3, x)", "topk(3, x)"}, FormatCase{"quantile(0.5, x)", "quantile(0.5, x)"},
        FormatCase{"count_values(\"l\", x)", "count_values(\"l\", x)"}, FormatCase{"limitk(2, x)", "limitk(2, x)"},
        FormatCase{"limit_ratio(0.5, x)", "limit_ratio(0.5, x)"},
        FormatCase{"sum by (\"a.b\", c) (x)", "sum by (\"a.b\", c) (x)"},
        FormatCase{"sum by (on, by, bool, sum) (x)", "sum by (on, by, bool, sum) (x)"},
        FormatCase{"sum by (a:b) (x)", "sum by (a:b) (x)"}, FormatCase{"sum", "sum"},
        FormatCase{"sum{job=\"x\"} + by + offset", "sum{job=\"x\"} + by + offset"},
        FormatCase{"and or without", "and or without"},
        // Functions.
        FormatCase{"rate(x[5m])", "rate(x[5m])"}, FormatCase{"time()", "time()"}, FormatCase{"round(x)", "round(x)"},
        FormatCase{"round(x, 5)", "round(x, 5)"},
        FormatCase{"label_join(x, \"d\", \",\", \"a\", \"b\")", "label_join(x, \"d\", \",\", \"a\", \"b\")"},
        FormatCase{"sort_by_label(x, \"a\", \"b\")", "sort_by_label(x, \"a\", \"b\")"},
        FormatCase{"histogram_quantile(0.9, sum by (le) (rate(x[5m])))",
                   "histogram_quantile(0.9, sum by (le) (rate(x[5m])))"},
        FormatCase{"sum by (job) (rate(x{a=\"b\"}[5m] offset 1m))", "sum by (job) (rate(x{a=\"b\"}[5m] offset 1m))"},
        FormatCase{"x # a comment", "x"}, FormatCase{"sum(\n  x\n)", "sum(x)"},
        // Experimental: extended range selectors and fill modifiers.
        FormatCase{"rate(x[5m] anchored)", "rate(x[5m] anchored)"}, FormatCase{"x SMOOTHED", "x smoothed"},
        FormatCase{"x offset 1m smoothed @ 10", "x @ 10.000 smoothed offset 1m"},
        FormatCase{"x[1m] offset 1m anchored @ 10", "x[1m] anchored @ 10.000 offset 1m"},
        FormatCase{"x offset +(1m)", "x offset (1m)"}, FormatCase{"x[+1m+2m]", "x[1m + 2m]"},
        FormatCase{"x[+90]", "x[1m30s]"}, FormatCase{"x[5m] smoothed offset 1m", "x[5m] smoothed offset 1m"},
        FormatCase{"a + fill(0) b", "a + fill(0) b"},
        FormatCase{"a + fill_left(5) fill_right(7) b", "a + fill_left(5) fill_right(7) b"},
        FormatCase{"a + fill_right(-Inf) b", "a + fill_right(-Inf) b"},
        FormatCase{"a + fill(NaN) b", "a + fill(NaN) b"},
        FormatCase{"a > bool on(x) group_left fill(1) b", "a > bool on (x) group_left () fill(1) b"},
        FormatCase{"fill + fill(0) fill", "fill + fill(0) fill"}, FormatCase{"other + fill_left", "other + fill_left"},
        // Experimental: duration expressions.
        FormatCase{"x[2m*(10+5)]", "x[2m * (10 + 5)]"}, FormatCase{"x[-5m+35m]", "x[-5m + 35m]"},
        FormatCase{"x[1h30m % 1h]", "x[1h30m % 1h]"}, FormatCase{"x[STEP()]", "x[step()]"},
        FormatCase{"x[29s+1s:20*500ms] offset -(20*(7s % 4))", "x[29s + 1s:20 * 500ms] offset -(20 * (7s % 4))"},
        FormatCase{"x offset min_of(step(), 1s)^0", "x offset min_of(step(), 1s) ^ 0"},
        FormatCase{"x offset (100 + 2)", "x offset (100 + 2)"}, FormatCase{"x offset 100 + 2", "x offset 1m40s + 2"},
        FormatCase{"x offset -2 ^ 2", "x offset -2s ^ 2"}, FormatCase{"x offset +5m", "x offset 5m"},
        FormatCase{"x[max_of(range(), 1m):]", "x[max_of(range(), 1m):]"}));

TEST(ParseTest, TreeShape) {
  auto e = ParseExpr("-2^2");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ((*e)->kind, Expr::Kind::kUnary);
  EXPECT_EQ(static_cast<UnaryExpr&>(**e).expr->kind, Expr::Kind::kBinary);

  e = ParseExpr("a - b - c");
  ASSERT_TRUE(e.ok());
  auto& b = static_cast<BinaryExpr&>(**e);
  EXPECT_EQ(b.lhs->kind, Expr::Kind::kBinary);
  ASSERT_TRUE(b.matching.has_value());
  EXPECT_EQ(b.matching->card, VectorMatching::Cardinality::kOneToOne);

  e = ParseExpr("a or b");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(static_cast<BinaryExpr&>(**e).matching->card, VectorMatching::Cardinality::kManyToMany);

  e = ParseExpr("a + 1");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(static_cast<BinaryExpr&>(**e).matching.has_value());

  e = ParseExpr("foo{a=\"b\"} offset -1m @ 1.5");
  ASSERT_TRUE(e.ok());
  auto& vs = static_cast<VectorSelector&>(**e);
  EXPECT_EQ(vs.name, "foo");
  ASSERT_EQ(vs.matchers.size(), 2u);
  EXPECT_EQ(vs.matchers[0].name(), "__name__");
  EXPECT_EQ(vs.matchers[0].value(), "foo");
  EXPECT_EQ(vs.offset, Duration(-60000));
  EXPECT_EQ(vs.at, AtKind::kTimestamp);
  EXPECT_EQ(vs.at_ms, 1500);
  EXPECT_EQ(vs.pos.start, 0);

  e = ParseExpr("a + fill_left(1) b");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(static_cast<BinaryExpr&>(**e).fill_left, 1.0);
  EXPECT_FALSE(static_cast<BinaryExpr&>(**e).fill_right.has_value());

  e = ParseExpr("rate(x[5m] anchored)");
  ASSERT_TRUE(e.ok());
  auto& call = static_cast<Call&>(**e);
  auto& ms = static_cast<MatrixSelector&>(*call.args[0]);
  EXPECT_TRUE(static_cast<VectorSelector&>(*ms.selector).anchored);

  e = ParseExpr("x[2m*(10+5)] offset (1m + 1s)");
  ASSERT_TRUE(e.ok());
  {
    auto& m = static_cast<MatrixSelector&>(**e);
    EXPECT_EQ(m.range, Duration(30 * 60 * 1000));
    ASSERT_NE(m.range_expr, nullptr);
    EXPECT_FALSE(m.range_expr->DependsOnQuery());
    EXPECT_EQ(static_cast<VectorSelector&>(*m.selector).offset, Duration(61000));
  }

  e = ParseExpr("x[step()+1:] offset -min_of(step(), 1s)");
  ASSERT_TRUE(e.ok());
  {
    auto& sq = static_cast<SubqueryExpr&>(**e);
    EXPECT_EQ(sq.range, Duration(0));
    ASSERT_NE(sq.range_expr, nullptr);
    EXPECT_TRUE(sq.range_expr->DependsOnQuery());
    auto r = EvalDurationExpr(*sq.range_expr, Duration(5000), Duration(0));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, Duration(6000));
    ASSERT_NE(sq.offset_expr, nullptr);
    auto o = EvalDurationExpr(*sq.offset_expr, Duration(500), Duration(0));
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(*o, Duration(-500));
  }

  e = ParseExpr("x[5m:]");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(static_cast<SubqueryExpr&>(**e).step, Duration(0));

  e = ParseExpr("(((x)))");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Unparen(e->get())->kind, Expr::Kind::kVectorSelector);
  EXPECT_EQ((*e)->pos.start, 0);
  EXPECT_EQ((*e)->pos.end, 7);

  e = ParseExpr("  sum(rate(x[5m]))");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->pos.start, 2);
  EXPECT_EQ((*e)->pos.end, 18);
  EXPECT_EQ((*e)->Type(), ValueType::kVector);
}

struct ErrorCase {
  const char* input;
  const char* want;   // substring of the message
  const char* where;  // "line:col"
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << Printable(c.input); }

class ParseErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrorTest, Fails) {
  const ErrorCase& c = GetParam();
  auto e = ParseExpr(c.input);
  ASSERT_FALSE(e.ok()) << c.input << " parsed as " << Format(**e);
  const std::string msg = e.status().message();  // a copy: status() returns a temporary
  EXPECT_NE(msg.find(c.want), std::string::npos) << c.input << ": " << msg;
  EXPECT_EQ(msg.rfind(std::string(c.where) + ": parse error: ", 0), 0u) << c.input << ": " << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Invalid, ParseErrorTest,
    testing::Values(
        ErrorCase{"", "no expression found in input", "1:1"}, ErrorCase{"1 *", "unexpected end of input", "1:4"},
        ErrorCase{"*1", "unexpected <op:*>", "1:1"}, ErrorCase{"foo{", "inside braces", "1:5"},
        ErrorCase{"(1", "unclosed left parenthesis", "1:3"}, ErrorCase{"1)", "unexpected right parenthesis", "1:2"},
        ErrorCase{"{}", "vector selector must contain at least one non-empty matcher", "1:1"},
        ErrorCase{"{a=\"\"}", "at least one non-empty matcher", "1:1"},
        ErrorCase{"{a=~\".*\"}", "at least one non-empty matcher", "1:1"},
        ErrorCase{"foo{__name__=\"bar\"}", "metric name must not be set twice", "1:1"},
        ErrorCase{"foo{\"bar\"}", "metric name must not be set twice", "1:1"}, ErrorCase{"foo{a=~\"(\"}", "", "1:5"},
        ErrorCase{"foo{a=1}", "unexpected", "1:7"},
        ErrorCase{"1 and 2", "set operator \"and\" not allowed in binary scalar expression", "1:1"},
        ErrorCase{"a and 1", "set operator \"and\" not allowed in binary scalar expression", "1:1"},
        ErrorCase{"1 < 2", "comparisons between scalars must use BOOL modifier", "1:3"},
        ErrorCase{"a + bool b", "bool modifier can only be used on comparison operators", "1:3"},
        ErrorCase{"a and on(x) group_left b", "no grouping allowed for \"and\" operation", "1:1"},
        ErrorCase{"a + group_left b", "unexpected <group_left>", "1:5"},
        ErrorCase{"a + on(x) group_left(x) b", "label \"x\" must not occur in ON and GROUP clause at once", "1:3"},
        ErrorCase{"1 + on(x) a", "vector matching only allowed between instant vectors", "1:1"},
        ErrorCase{"x[5m] + 1", "binary expression must contain only scalar and instant vector types", "1:1"},
        ErrorCase{"abs(1, 2)", "expected 1 argument(s) in call to \"abs\", got 2", "1:1"},
        ErrorCase{"rate(x)", "expected type range vector in call to function \"rate\", got instant vector", "1:6"},
        ErrorCase{"round()", "expected at least 1 argument(s) in call to \"round\", got 0", "1:1"},
        ErrorCase{"round(x, 1, 2)", "expected at most 2 argument(s) in call to \"round\", got 3", "1:1"},
        ErrorCase{"label_join(x, \"a\")", "expected at least 3 argument(s)", "1:1"},
        ErrorCase{"foo(x)", "unknown function with name \"foo\"", "1:1"},
        ErrorCase{"sum()", "no arguments for aggregate expression provided", "1:1"},
        ErrorCase{"topk(x)", "wrong number of arguments for aggregate expression provided, expected 2, got 1", "1:1"},
        ErrorCase{"sum(x[5m])", "expected type instant vector in aggregation expression, got range vector", "1:5"},
        ErrorCase{"topk(\"a\", x)", "expected type scalar in aggregation parameter, got string", "1:6"},
        ErrorCase{"count_values(1, x)", "expected type string in aggregation parameter, got scalar", "1:14"},
        ErrorCase{"sum by (a) (x) by (b)", "unexpected <by>", "1:16"},
        ErrorCase{"x offset 1m offset 2m", "offset may not be set multiple times", "1:1"},
        ErrorCase{"x @ 1 @ 2", "@ <timestamp> may not be set multiple times", "1:1"},
        ErrorCase{"sum(x) offset 1m", "offset modifier must be preceded by an instant vector selector", "1:1"},
        ErrorCase{"(x) @ 1", "@ modifier must be preceded by an instant vector selector", "1:1"},
        ErrorCase{"x @ Inf", "timestamp out of bounds for @ modifier", "1:1"},
        ErrorCase{"x offset 1m [5m]", "no offset modifiers allowed before range", "1:13"},
        ErrorCase{"x @ 1 [5m]", "no @ modifiers allowed before range", "1:7"},
        ErrorCase{"(x)[5m]", "ranges only allowed for vector selectors", "1:4"},
        ErrorCase{"x[5m][5m]", "ranges only allowed for vector selectors", "1:6"},
        ErrorCase{"x[5m][10m:]", "subquery is only allowed on instant vector, got matrix instead", "1:1"},
        ErrorCase{"x[0s]", "duration must be greater than 0", "1:3"}, ErrorCase{"x[5m:0s]", "greater than 0", "1:6"},
        ErrorCase{"x[5x]", "bad number or duration syntax", "1:3"}, ErrorCase{"x[1.5h]", "not a valid duration", "1:3"},
        ErrorCase{"-x[5m]", "unary expression only allowed on expressions of type scalar or instant vector", "1:1"},
        ErrorCase{"\"abc", "unterminated quoted string", "1:1"}, ErrorCase{"`abc", "unterminated raw string", "1:1"},
        ErrorCase{"\"\\q\"", "unknown escape sequence", "1:2"}, ErrorCase{"\"a\nb\"", "unterminated", "1:1"},
        ErrorCase{"sum(x,)", "trailing commas not allowed in function call args", "1:6"},
        ErrorCase{"rate(x[5m],)", "trailing commas not allowed", "1:11"}, ErrorCase{"bool", "unexpected <bool>", "1:1"},
        ErrorCase{"sum by (\"\") (x)", "invalid label name for grouping: \"\"", "1:9"},
        ErrorCase{"x offset 0s", "duration must be greater than 0", "1:10"},
        ErrorCase{"x offset", "unexpected end of input in offset, expected number or duration", "1:9"},
        ErrorCase{"x[]", "unexpected \"]\" in subquery selector, expected number or duration", "1:3"},
        ErrorCase{"x y", "unexpected identifier \"y\"", "1:3"}, ErrorCase{"foo ~ bar", "unexpected character", "1:5"},
        ErrorCase{"1 +\n  *", "unexpected <op:*>", "2:3"}, ErrorCase{"x[5m", "unclosed left bracket", "1:5"},
        ErrorCase{"x]", "unexpected right bracket", "1:2"},
        ErrorCase{"a + fill(0) fill_left(1) b", "fill modifier may not be set multiple times", "1:13"},
        ErrorCase{"a + fill(x) b", "unexpected identifier \"x\"", "1:10"},
        ErrorCase{"sum(x) anchored", "anchored modifier must be preceded by", "1:1"},
        ErrorCase{"x anchored smoothed", "may not be set multiple times", "1:1"},
        ErrorCase{"x[1m-1m]", "duration must be greater than 0", "1:3"},
        ErrorCase{"x[1m/0]", "duration expression out of range", "1:3"},
        ErrorCase{"x[1m+1e999]", "duration out of range", "1:6"}, ErrorCase{"x[1e999]", "duration out of range", "1:3"},
        ErrorCase{"x[foo()]", "unexpected identifier \"foo\" in subquery selector", "1:3"},
        ErrorCase{"x[1m+foo]", "unexpected identifier \"foo\" in duration expression", "1:6"},
        ErrorCase{"x offset foo", "unexpected identifier \"foo\" in offset, expected number or duration", "1:10"}));

TEST(ParseTest, NeverCrashesOnDeepNesting) {
  std::string deep(100000, '(');
  EXPECT_FALSE(ParseExpr(deep + "1" + std::string(100000, ')')).ok());
  EXPECT_FALSE(ParseExpr(std::string(100000, '-') + "x").ok());
  std::string chain = "x";
  for (int i = 0; i < 5000; ++i) chain += " + x";
  EXPECT_FALSE(ParseExpr(chain).ok());
  std::string calls;
  for (int i = 0; i < 5000; ++i) calls += "abs(";
  EXPECT_FALSE(ParseExpr(calls + "x" + std::string(5000, ')')).ok());
  // Moderate nesting is fine.
  EXPECT_TRUE(ParseExpr(std::string(200, '(') + "1" + std::string(200, ')')).ok());
}

TEST(ParseTest, MetricSelector) {
  auto m = ParseMetricSelector("up{job=\"node\", mode!~\"idle|iowait\"}");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].ToString(), "__name__=\"up\"");
  EXPECT_EQ((*m)[1].name(), "job");
  EXPECT_EQ((*m)[2].type(), tsdb::Matcher::Type::kRegexNoMatch);

  m = ParseMetricSelector("{__name__=~\"node_.*\"}");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 1u);

  EXPECT_FALSE(ParseMetricSelector("").ok());
  EXPECT_FALSE(ParseMetricSelector("{}").ok());
  EXPECT_FALSE(ParseMetricSelector("up[5m]").ok());
  EXPECT_FALSE(ParseMetricSelector("up + 1").ok());
  EXPECT_FALSE(ParseMetricSelector("rate(up)").ok());
  auto bad = ParseMetricSelector("up{a=~\"(\"}");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("1:4: parse error:", 0), 0u) << bad.status().message();
}

// Every expression of the conformance suite that uses no experimental
// syntax must parse, and Format must be a fixed point.
TEST(ParseTest, ConformanceExpressionsRoundTrip) {
  std::ifstream in(std::string(VIGIL_PROMQL_CONFORMANCE_DIR) + "/EVALS.tsv");
  if (!in) GTEST_SKIP() << "no EVALS.tsv under " << VIGIL_PROMQL_CONFORMANCE_DIR;
  std::string line;
  std::getline(in, line);  // header
  int parsed = 0, required = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 7) continue;
    const std::string& expr = cols[6];
    // Native-histogram trim operators (</, >/) are outside the float-only AST.
    bool must = (cols[5] == "-" || cols[5] == "anno") && expr.find("</") == std::string::npos &&
                expr.find(">/") == std::string::npos;
    required += must;
    auto e = ParseExpr(expr);
    if (!e.ok()) {
      EXPECT_FALSE(must) << cols[0] << ":" << cols[1] << ": " << expr << ": " << e.status().message();
      continue;
    }
    ++parsed;
    std::string text = Format(**e);
    auto again = ParseExpr(text);
    ASSERT_TRUE(again.ok()) << expr << " -> " << text << ": " << again.status().message();
    EXPECT_EQ(Format(**again), text) << expr;
    EXPECT_TRUE(SameTree(**e, **again)) << expr << " -> " << text;
    EXPECT_EQ(Format(*(*e)->Clone()), text) << expr;
  }
  EXPECT_GT(required, 1000);
  std::printf("parsed %d EVALS.tsv expressions (%d required)\n", parsed, required);
}

}  // namespace
}  // namespace vigil::promql
