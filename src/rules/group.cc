#include "rules/group.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "template/template.h"

namespace vigil::rules {

namespace {

// A resolved alert is kept this long so notifiers can send the resolution.
constexpr int64_t kResolvedRetentionMs = 15 * 60 * 1000;

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Templates' `query`: an instant query at the rule's evaluation time.
tmpl::QueryFunction TemplateQuery(TimestampMs t, const EvalContext& ctx) {
  return [t, &ctx](const std::string& q) -> Result<std::vector<tmpl::QueryResultSample>> {
    Result<promql::ExprPtr> expr = promql::ParseExpr(q);
    if (!expr.ok()) return expr.status();
    promql::QueryResult r = ctx.engine->Instant(ctx.querier, **expr, t);
    if (!r.ok) return Status::Error(r.error.message);
    std::vector<tmpl::QueryResultSample> out;
    if (r.value.type == promql::ValueType::kScalar) out.push_back({{}, r.value.scalar});
    for (const promql::Sample& s : r.value.vector) out.push_back({s.labels, s.v});
    return out;
  };
}

}  // namespace

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kInactive: return "inactive";
    case AlertState::kPending: return "pending";
    case AlertState::kFiring: return "firing";
  }
  return "inactive";
}

Result<std::vector<promql::Sample>> ToVector(const promql::Value& v) {
  switch (v.type) {
    case promql::ValueType::kVector: return v.vector;
    case promql::ValueType::kScalar: return std::vector<promql::Sample>{{Labels{}, v.t, v.scalar}};
    default: return Status::Error("rule result is not a vector or scalar");
  }
}

void CollectMetricRefs(const promql::Expr& e, MetricRefs* refs) {
  using K = promql::Expr::Kind;
  switch (e.kind) {
    case K::kNumber:
    case K::kString: break;
    case K::kVectorSelector: {
      const auto& vs = static_cast<const promql::VectorSelector&>(e);
      bool named = false;
      for (const auto& m : vs.matchers) {
        if (m.name() == "__name__" && m.type() == tsdb::Matcher::Type::kEqual) {
          refs->names.insert(m.value());
          named = true;
        }
      }
      if (!named) refs->any = true;
      break;
    }
    case K::kMatrixSelector: CollectMetricRefs(*static_cast<const promql::MatrixSelector&>(e).selector, refs); break;
    case K::kSubquery: CollectMetricRefs(*static_cast<const promql::SubqueryExpr&>(e).expr, refs); break;
    case K::kParen: CollectMetricRefs(*static_cast<const promql::ParenExpr&>(e).expr, refs); break;
    case K::kUnary: CollectMetricRefs(*static_cast<const promql::UnaryExpr&>(e).expr, refs); break;
    case K::kBinary: {
      const auto& b = static_cast<const promql::BinaryExpr&>(e);
      CollectMetricRefs(*b.lhs, refs);
      CollectMetricRefs(*b.rhs, refs);
      break;
    }
    case K::kAggregate: {
      const auto& a = static_cast<const promql::AggregateExpr&>(e);
      CollectMetricRefs(*a.expr, refs);
      if (a.param) CollectMetricRefs(*a.param, refs);
      break;
    }
    case K::kCall:
      for (const auto& arg : static_cast<const promql::Call&>(e).args) CollectMetricRefs(*arg, refs);
      break;
  }
}

// ---------------------------------------------------------------------------

Result<promql::Value> Rule::Query(const promql::Expr& expr, TimestampMs t, const EvalContext& ctx) const {
  promql::QueryResult r = ctx.engine->Instant(ctx.querier, expr, t);
  if (!r.ok) return Status::Error(r.error.message);
  return std::move(r.value);
}

Result<std::vector<promql::Sample>> Rule::Eval(TimestampMs t, const EvalContext& ctx, Duration query_offset,
                                               int limit) {
  return is_alert() ? EvalAlerting(t, ctx, query_offset, limit) : EvalRecording(t, ctx, query_offset, limit);
}

void Rule::RecordResult(const Status& s, TimestampMs t, double seconds) {
  health_ = s.ok() ? RuleHealth::kOk : RuleHealth::kError;
  last_error_ = s.message();
  last_evaluation_ = t;
  last_duration_seconds_ = seconds;
}

Result<std::vector<promql::Sample>> Rule::EvalRecording(TimestampMs t, const EvalContext& ctx, Duration query_offset,
                                                        int limit) {
  Result<promql::Value> v = Query(*spec_.parsed_expr, t - query_offset.count(), ctx);
  if (!v.ok()) return v.status();
  Result<std::vector<promql::Sample>> vec = ToVector(*v);
  if (!vec.ok()) return vec.status();
  std::set<Labels> seen;
  for (auto& s : *vec) {
    s.labels.Set("__name__", spec_.record);
    for (const auto& l : spec_.labels) s.labels.Set(l.name, l.value);
    s.t = t - query_offset.count();
    if (!seen.insert(s.labels).second) {
      return Status::Error("vector contains metrics with the same labelset after applying rule labels");
    }
  }
  if (limit > 0 && static_cast<int>(vec->size()) > limit) {
    return Status::Error("exceeded limit of " + std::to_string(limit) + " with " + std::to_string(vec->size()) +
                         " series");
  }
  return vec;
}

Result<std::vector<promql::Sample>> Rule::EvalAlerting(TimestampMs t, const EvalContext& ctx, Duration query_offset,
                                                       int limit) {
  const TimestampMs qt = t - query_offset.count();
  struct Candidate {
    Labels labels;
    std::map<std::string, std::string> annotations;
    double value;
  };
  // Turns query output into alert candidates keyed by their final labels.
  auto candidates = [&](const promql::Expr& expr, std::map<Labels, Candidate>* out) -> Status {
    Result<promql::Value> v = Query(expr, qt, ctx);
    if (!v.ok()) return v.status();
    Result<std::vector<promql::Sample>> vec = ToVector(*v);
    if (!vec.ok()) return vec.status();
    for (const auto& s : *vec) {
      tmpl::AlertData data{s.labels, s.v, ctx.external_labels, ctx.external_url, TemplateQuery(qt, ctx)};
      Labels labels = s.labels;
      labels.Set("__name__", "");
      for (const auto& l : spec_.labels) labels.Set(l.name, tmpl::ExpandAlert(l.value, data, spec_.alert));
      labels.Set("alertname", spec_.alert);
      Candidate c{labels, {}, s.v};
      for (const auto& [k, text] : spec_.annotations) c.annotations[k] = tmpl::ExpandAlert(text, data, spec_.alert);
      if (!out->emplace(labels, std::move(c)).second) {
        return Status::Error("vector contains metrics with the same labelset after applying alert labels");
      }
    }
    return Status::Ok();
  };

  std::map<Labels, Candidate> current;
  Status s = candidates(*spec_.parsed_expr, &current);
  if (!s.ok()) return s;
  std::map<Labels, Candidate> holding;
  if (spec_.parsed_stay_active_while) {
    bool any_active = std::any_of(active_.begin(), active_.end(),
                                  [](const auto& kv) { return kv.second.state != AlertState::kInactive; });
    if (any_active) {
      Status hs = candidates(*spec_.parsed_stay_active_while, &holding);
      if (!hs.ok()) return hs.WithContext("stay_active_while");
    }
  }

  for (auto& [labels, c] : current) {
    auto it = active_.find(labels);
    if (it != active_.end() && it->second.state != AlertState::kInactive) {
      it->second.value = c.value;
      it->second.annotations = std::move(c.annotations);
      continue;
    }
    Alert a;
    a.state = AlertState::kPending;
    a.labels = labels;
    a.annotations = std::move(c.annotations);
    a.value = c.value;
    a.active_at = t;
    active_[labels] = std::move(a);
  }

  std::vector<promql::Sample> out;
  int active_count = 0;
  for (auto it = active_.begin(); it != active_.end();) {
    Alert& a = it->second;
    bool present = current.count(it->first) != 0;
    if (!present && a.state != AlertState::kInactive) {
      auto h = holding.find(it->first);
      if (h != holding.end()) {  // hysteresis: still within the looser condition
        present = true;
        a.value = h->second.value;
        a.annotations = std::move(h->second.annotations);
      }
    }
    if (!present) {
      bool keep_firing = false;
      if (a.state == AlertState::kFiring && spec_.keep_firing_for.count() > 0) {
        if (a.keep_firing_since == 0) a.keep_firing_since = t;
        if (t - a.keep_firing_since < spec_.keep_firing_for.count()) keep_firing = true;
      }
      if (a.state == AlertState::kPending || (a.resolved_at != 0 && t - a.resolved_at > kResolvedRetentionMs)) {
        it = active_.erase(it);
        continue;
      }
      if (a.state != AlertState::kInactive && !keep_firing) {
        a.state = AlertState::kInactive;
        a.resolved_at = t;
      }
      if (!keep_firing) {
        ++it;
        continue;
      }
    } else {
      a.keep_firing_since = 0;
    }
    ++active_count;
    if (a.state == AlertState::kPending && t - a.active_at >= spec_.for_duration.count()) {
      a.state = AlertState::kFiring;
      a.fired_at = t;
    }
    Labels alerts = a.labels;
    alerts.Set("__name__", "ALERTS");
    alerts.Set("alertstate", AlertStateName(a.state));
    out.push_back({std::move(alerts), qt, 1});
    Labels for_state = a.labels;
    for_state.Set("__name__", "ALERTS_FOR_STATE");
    out.push_back({std::move(for_state), qt, static_cast<double>(AlignDown(a.active_at, 1000) / 1000)});
    ++it;
  }
  if (limit > 0 && active_count > limit) {
    active_.clear();
    return Status::Error("exceeded limit of " + std::to_string(limit) + " with " + std::to_string(active_count) +
                         " alerts");
  }
  return out;
}

std::vector<Alert> Rule::Alerts() const {
  std::vector<Alert> out;
  for (const auto& [labels, a] : active_) out.push_back(a);
  return out;
}

void Rule::SetAlerts(std::vector<Alert> alerts) {
  active_.clear();
  for (auto& a : alerts) {
    Labels key = a.labels;
    active_[key] = std::move(a);
  }
}

// ---------------------------------------------------------------------------

Group::Group(GroupSpec spec, Duration default_interval) : spec_(std::move(spec)) {
  interval_ = spec_.interval.count() > 0 ? spec_.interval : default_interval;
  for (const auto& r : spec_.rules) {
    rules_.push_back(std::make_unique<Rule>(r));
    if (r.parsed_expr) CollectMetricRefs(*r.parsed_expr, &refs_);
    if (r.parsed_stay_active_while) CollectMetricRefs(*r.parsed_stay_active_while, &refs_);
  }
  previous_series_.resize(rules_.size());
}

bool Group::Reads(const std::set<std::string>& metric_names) const {
  if (refs_.any) return true;
  return std::any_of(metric_names.begin(), metric_names.end(),
                     [&](const std::string& n) { return refs_.names.count(n) != 0; });
}

int Group::Eval(TimestampMs t, const EvalContext& ctx, const AppenderFactory& appender) {
  double group_start = SteadySeconds();
  int failed = 0;
  const TimestampMs out_t = t - spec_.query_offset.count();
  for (size_t i = 0; i < rules_.size(); ++i) {
    Rule& rule = *rules_[i];
    double start = SteadySeconds();
    Result<std::vector<promql::Sample>> samples = rule.Eval(t, ctx, spec_.query_offset, spec_.limit);
    if (!samples.ok()) {
      ++failed;
      ++failures_;
      rule.RecordResult(samples.status(), t, SteadySeconds() - start);
      LogWarn("rule evaluation failed", {{"group", key()}, {"rule", rule.name()}, {"err", samples.status().message()}});
      continue;
    }
    std::set<Labels> written;
    std::unique_ptr<tsdb::Appender> app = appender();
    Status status;
    for (const auto& s : *samples) {
      Result<tsdb::SeriesRef> ref = app->Append(0, s.labels, s.t, s.v);
      if (!ref.ok() && status.ok()) status = ref.status();
      written.insert(s.labels);
    }
    for (const auto& old : previous_series_[i]) {
      if (written.count(old) == 0) {
        Result<tsdb::SeriesRef> ref = app->Append(0, old, out_t, tsdb::StaleNaN());
        (void)ref;  // a series that received a later sample elsewhere cannot be marked; that is fine
      }
    }
    Status committed = app->Commit();
    if (status.ok()) status = committed;
    if (!status.ok()) {
      LogWarn("writing rule output failed", {{"group", key()}, {"rule", rule.name()}, {"err", status.message()}});
    }
    previous_series_[i] = std::move(written);
    rule.RecordResult(Status::Ok(), t, SteadySeconds() - start);
  }
  ++evaluations_;
  last_evaluation_ = t;
  last_duration_seconds_ = SteadySeconds() - group_start;
  return failed;
}

void Group::CopyStateFrom(const Group& old) {
  // As Prometheus does; the manager reads it so as never to evaluate twice at one time.
  last_evaluation_ = old.last_evaluation_;
  for (auto& rule : rules_) {
    if (!rule->is_alert()) continue;
    for (const auto& o : old.rules_) {
      if (o->is_alert() && o->name() == rule->name() && o->spec().labels == rule->spec().labels) {
        rule->SetAlerts(o->Alerts());
        break;
      }
    }
  }
  for (size_t i = 0; i < rules_.size(); ++i) {
    for (size_t j = 0; j < old.rules_.size(); ++j) {
      if (old.rules_[j]->name() == rules_[i]->name() && old.rules_[j]->spec().labels == rules_[i]->spec().labels) {
        previous_series_[i] = old.previous_series_[j];
        break;
      }
    }
  }
}

}  // namespace vigil::rules
