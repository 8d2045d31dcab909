#include "promql/ast.h"

#include <array>
#include <unordered_map>

namespace vigil::promql {

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kNone: return "none";
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "instant vector";
    case ValueType::kMatrix: return "range vector";
    case ValueType::kString: return "string";
  }
  return "?";
}

std::string_view BinaryOpName(BinaryOp op) {
  static constexpr std::array<std::string_view, 16> kNames = {
      "+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless"};
  return kNames[static_cast<int>(op)];
}

bool IsComparison(BinaryOp op) { return op >= BinaryOp::kEql && op <= BinaryOp::kLte; }
bool IsSetOperator(BinaryOp op) { return op >= BinaryOp::kAnd; }

std::string_view AggregateOpName(AggregateOp op) {
  static constexpr std::array<std::string_view, 14> kNames = {
      "sum",    "avg",  "count",   "min",      "max",          "group",  "stddev",
      "stdvar", "topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio"};
  return kNames[static_cast<int>(op)];
}

bool AggregateTakesParam(AggregateOp op) { return op >= AggregateOp::kTopk; }

namespace {

using VT = ValueType;
constexpr VT S = VT::kScalar, V = VT::kVector, M = VT::kMatrix, Str = VT::kString;

const std::unordered_map<std::string_view, Function>& FunctionTable() {
  static const auto* table = [] {
    auto* t = new std::unordered_map<std::string_view, Function>;
    auto add = [t](Function f) { t->emplace(f.name, std::move(f)); };
    for (std::string_view name :
         {"abs",  "ceil", "floor", "exp",   "ln",   "log2",      "log10", "sqrt",      "sgn",
          "deg",  "rad",  "acos",  "acosh", "asin", "asinh",     "atan",  "atanh",     "cos",
          "cosh", "sin",  "sinh",  "tan",   "tanh", "timestamp", "sort",  "sort_desc", "absent"}) {
      add({name, {V}});
    }
    for (std::string_view name :
         {"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets", "absent_over_time",
          "avg_over_time", "count_over_time", "last_over_time", "max_over_time", "min_over_time", "present_over_time",
          "stddev_over_time", "stdvar_over_time", "sum_over_time"}) {
      add({name, {M}});
    }
    for (std::string_view name : {"mad_over_time", "first_over_time", "ts_of_first_over_time", "ts_of_last_over_time",
                                  "ts_of_max_over_time", "ts_of_min_over_time"}) {
      add({name, {M}, 0, V, true});
    }
    for (std::string_view name :
         {"day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"}) {
      add({name, {V}, 1});
    }
    add({"clamp", {V, S, S}});
    add({"clamp_max", {V, S}});
    add({"clamp_min", {V, S}});
    add({"round", {V, S}, 1});
    add({"predict_linear", {M, S}});
    add({"quantile_over_time", {S, M}});
    add({"histogram_quantile", {S, V}});
    add({"histogram_fraction", {S, S, V}});
    add({"histogram_avg", {V}});
    add({"histogram_count", {V}});
    add({"histogram_sum", {V}});
    add({"histogram_stddev", {V}});
    add({"histogram_stdvar", {V}});
    add({"label_replace", {V, Str, Str, Str, Str}});
    add({"label_join", {V, Str, Str, Str}, -1});
    add({"scalar", {V}, 0, S});
    add({"vector", {S}, 0, V});
    add({"time", {}, 0, S});
    add({"pi", {}, 0, S});
    add({"double_exponential_smoothing", {M, S, S}, 0, V, true});
    add({"sort_by_label", {V, Str}, -1, V, true});
    add({"sort_by_label_desc", {V, Str}, -1, V, true});
    add({"info", {V, V}, 1, V, true});
    return t;
  }();
  return *table;
}

}  // namespace

const Function* FindFunction(std::string_view name) {
  const auto& table = FunctionTable();
  auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

ValueType Expr::Type() const {
  switch (kind) {
    case Kind::kNumber: return ValueType::kScalar;
    case Kind::kString: return ValueType::kString;
    case Kind::kVectorSelector: return ValueType::kVector;
    case Kind::kMatrixSelector:
    case Kind::kSubquery: return ValueType::kMatrix;
    case Kind::kParen: return static_cast<const ParenExpr*>(this)->expr->Type();
    case Kind::kUnary: return static_cast<const UnaryExpr*>(this)->expr->Type();
    case Kind::kBinary: {
      auto* b = static_cast<const BinaryExpr*>(this);
      return b->lhs->Type() == ValueType::kScalar && b->rhs->Type() == ValueType::kScalar ? ValueType::kScalar
                                                                                          : ValueType::kVector;
    }
    case Kind::kAggregate: return ValueType::kVector;
    case Kind::kCall: return static_cast<const Call*>(this)->func->return_type;
  }
  return ValueType::kNone;
}

namespace {
ExprPtr CloneOrNull(const ExprPtr& e) { return e ? e->Clone() : nullptr; }
}  // namespace

ExprPtr Expr::Clone() const {
  ExprPtr out;
  switch (kind) {
    case Kind::kNumber: {
      auto n = std::make_unique<NumberLiteral>();
      n->value = static_cast<const NumberLiteral*>(this)->value;
      n->duration = static_cast<const NumberLiteral*>(this)->duration;
      out = std::move(n);
      break;
    }
    case Kind::kString: {
      auto n = std::make_unique<StringLiteral>();
      n->value = static_cast<const StringLiteral*>(this)->value;
      out = std::move(n);
      break;
    }
    case Kind::kVectorSelector: {
      auto* s = static_cast<const VectorSelector*>(this);
      auto n = std::make_unique<VectorSelector>();
      n->name = s->name;
      n->matchers = s->matchers;
      n->offset = s->offset;
      n->offset_expr = s->offset_expr;
      n->at = s->at;
      n->at_ms = s->at_ms;
      n->anchored = s->anchored;
      n->smoothed = s->smoothed;
      out = std::move(n);
      break;
    }
    case Kind::kMatrixSelector: {
      auto* s = static_cast<const MatrixSelector*>(this);
      auto n = std::make_unique<MatrixSelector>();
      n->selector = s->selector->Clone();
      n->range = s->range;
      n->range_expr = s->range_expr;
      out = std::move(n);
      break;
    }
    case Kind::kSubquery: {
      auto* s = static_cast<const SubqueryExpr*>(this);
      auto n = std::make_unique<SubqueryExpr>();
      n->expr = s->expr->Clone();
      n->range = s->range;
      n->step = s->step;
      n->offset = s->offset;
      n->range_expr = s->range_expr;
      n->step_expr = s->step_expr;
      n->offset_expr = s->offset_expr;
      n->at = s->at;
      n->at_ms = s->at_ms;
      out = std::move(n);
      break;
    }
    case Kind::kParen: {
      auto n = std::make_unique<ParenExpr>();
      n->expr = static_cast<const ParenExpr*>(this)->expr->Clone();
      out = std::move(n);
      break;
    }
    case Kind::kUnary: {
      auto* s = static_cast<const UnaryExpr*>(this);
      auto n = std::make_unique<UnaryExpr>();
      n->negate = s->negate;
      n->expr = s->expr->Clone();
      out = std::move(n);
      break;
    }
    case Kind::kBinary: {
      auto* s = static_cast<const BinaryExpr*>(this);
      auto n = std::make_unique<BinaryExpr>();
      n->op = s->op;
      n->lhs = s->lhs->Clone();
      n->rhs = s->rhs->Clone();
      n->return_bool = s->return_bool;
      n->matching = s->matching;
      n->fill_left = s->fill_left;
      n->fill_right = s->fill_right;
      out = std::move(n);
      break;
    }
    case Kind::kAggregate: {
      auto* s = static_cast<const AggregateExpr*>(this);
      auto n = std::make_unique<AggregateExpr>();
      n->op = s->op;
      n->expr = s->expr->Clone();
      n->param = CloneOrNull(s->param);
      n->grouping = s->grouping;
      n->without = s->without;
      out = std::move(n);
      break;
    }
    case Kind::kCall: {
      auto* s = static_cast<const Call*>(this);
      auto n = std::make_unique<Call>();
      n->func = s->func;
      for (const auto& a : s->args) n->args.push_back(a->Clone());
      out = std::move(n);
      break;
    }
  }
  out->pos = pos;
  return out;
}

const Expr* Unparen(const Expr* e) {
  while (e->kind == Expr::Kind::kParen) e = static_cast<const ParenExpr*>(e)->expr.get();
  return e;
}

}  // namespace vigil::promql
