// Evaluation of recording and alerting rules: the alert state machine
// (inactive → pending → firing → resolved, with `for`, `keep_firing_for` and
// vigil's `stay_active_while` hysteresis), ALERTS / ALERTS_FOR_STATE output
// and staleness markers, as Prometheus's rules package does it. Time and the
// query function are arguments, so tests drive evaluation deterministically.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "base/time.h"
#include "promql/engine.h"
#include "rules/rule_file.h"
#include "tsdb/tsdb.h"

namespace vigil::rules {

enum class AlertState { kInactive, kPending, kFiring };
std::string_view AlertStateName(AlertState state);  // "inactive", "pending", "firing"

struct Alert {
  AlertState state = AlertState::kInactive;
  Labels labels;  // with alertname and the rule's labels
  std::map<std::string, std::string> annotations;
  double value = 0;
  TimestampMs active_at = 0;  // when it became pending
  TimestampMs fired_at = 0;
  TimestampMs resolved_at = 0;  // 0 while active
  TimestampMs keep_firing_since = 0;
  TimestampMs last_sent_at = 0;  // for the notifier (later)
};

// What evaluation reads from: the engine and the storage.
struct EvalContext {
  const promql::Engine* engine = nullptr;
  promql::QuerierFactory querier;
  Labels external_labels;
  std::string external_url;
};

// Opens an appender for rule output; each rule's output is committed before
// the next rule of the group runs, so later rules see earlier rules' output.
using AppenderFactory = std::function<std::unique_ptr<tsdb::Appender>()>;

enum class RuleHealth { kUnknown, kOk, kError };

class Rule {
 public:
  explicit Rule(RuleSpec spec) : spec_(std::move(spec)) {}

  const RuleSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name(); }
  bool is_alert() const { return spec_.is_alert(); }

  // Evaluates at `t` (querying at t - query_offset) and returns the samples
  // to write: the recorded series, or ALERTS and ALERTS_FOR_STATE.
  Result<std::vector<promql::Sample>> Eval(TimestampMs t, const EvalContext& ctx, Duration query_offset, int limit);

  // Alerts that are pending or firing (and, for 15 minutes, resolved ones), sorted by labels.
  std::vector<Alert> Alerts() const;
  // Replaces the alert state (reload carries state over; restore from disk).
  void SetAlerts(std::vector<Alert> alerts);

  RuleHealth health() const { return health_; }
  const std::string& last_error() const { return last_error_; }
  TimestampMs last_evaluation() const { return last_evaluation_; }
  double last_duration_seconds() const { return last_duration_seconds_; }
  void RecordResult(const Status& s, TimestampMs t, double seconds);

 private:
  Result<promql::Value> Query(const promql::Expr& expr, TimestampMs t, const EvalContext& ctx) const;
  Result<std::vector<promql::Sample>> EvalRecording(TimestampMs t, const EvalContext& ctx, Duration query_offset,
                                                    int limit);
  Result<std::vector<promql::Sample>> EvalAlerting(TimestampMs t, const EvalContext& ctx, Duration query_offset,
                                                   int limit);

  RuleSpec spec_;
  std::map<Labels, Alert> active_;
  RuleHealth health_ = RuleHealth::kUnknown;
  std::string last_error_;
  TimestampMs last_evaluation_ = 0;
  double last_duration_seconds_ = 0;
};

// The samples in `v` as an instant vector; a scalar becomes one sample with no labels.
Result<std::vector<promql::Sample>> ToVector(const promql::Value& v);

// Metric names an expression reads; `any` is set when a selector may match
// any name (no name, or a regular expression on __name__).
struct MetricRefs {
  std::set<std::string> names;
  bool any = false;
};
void CollectMetricRefs(const promql::Expr& expr, MetricRefs* refs);

class Group {
 public:
  Group(GroupSpec spec, Duration default_interval);

  const std::string& name() const { return spec_.name; }
  const std::string& file() const { return spec_.file; }
  // "file;name", the rule_group label of vigil_rule_* metrics.
  std::string key() const { return spec_.file + ";" + spec_.name; }
  Duration interval() const { return interval_; }
  const GroupSpec& spec() const { return spec_; }
  std::vector<std::unique_ptr<Rule>>& rules() { return rules_; }
  const std::vector<std::unique_ptr<Rule>>& rules() const { return rules_; }

  // Evaluates every rule in order at `t`. A failing rule is recorded (its
  // health, the failure counter) and the others still run. Returns the
  // number of rules that failed.
  int Eval(TimestampMs t, const EvalContext& ctx, const AppenderFactory& appender);

  // What the group's expressions read (for event-triggered evaluation).
  const MetricRefs& metric_refs() const { return refs_; }
  bool Reads(const std::set<std::string>& metric_names) const;

  uint64_t evaluations_total() const { return evaluations_; }
  uint64_t evaluation_failures_total() const { return failures_; }
  TimestampMs last_evaluation() const { return last_evaluation_; }
  double last_duration_seconds() const { return last_duration_seconds_; }

  // Takes over the alert state of `old`'s rules with the same name and labels.
  void CopyStateFrom(const Group& old);

 private:
  GroupSpec spec_;
  Duration interval_;
  std::vector<std::unique_ptr<Rule>> rules_;
  // Series each rule wrote last time, to write staleness markers for those that vanish.
  std::vector<std::set<Labels>> previous_series_;
  MetricRefs refs_;
  uint64_t evaluations_ = 0;
  uint64_t failures_ = 0;
  TimestampMs last_evaluation_ = 0;
  double last_duration_seconds_ = 0;
};

}  // namespace vigil::rules
