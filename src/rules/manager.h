// Runs the rule groups of the configured rule files on their intervals, and
// at once when an event says the metrics a group reads have changed.
// Reloading with a bad rule file keeps the running rules and returns why.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/metrics.h"
#include "base/time.h"
#include "promql/engine.h"
#include "rules/group.h"
#include "rules/rule_file.h"
#include "rules/state_store.h"

namespace vigil::rules {

struct ManagerOptions {
  const promql::Engine* engine = nullptr;  // must outlive the manager
  promql::QuerierFactory querier;
  AppenderFactory appender;
  const Clock* clock = nullptr;      // must outlive the manager
  Duration default_interval{15000};  // global.evaluation_interval
  Labels external_labels;
  std::string external_url;
  ParseOptions parse;
  // Where alert state is kept across restarts (may be null: memory only);
  // must outlive the manager.
  AlertStateStore* state_store = nullptr;
  // Told after each evaluation of a group about its alerts that fire and those
  // resolved recently (as Prometheus's notifier is): the notification path.
  // Called on the evaluation thread with the manager's lock held: must not
  // call back into the manager. May be null.
  std::function<void(const std::vector<Alert>& alerts)> notify;
};

// A snapshot of one alert for the API and the CLI.
struct AlertSnapshot {
  std::string group_file, group_name, rule_name;
  Alert alert;
};

// A snapshot of one group for /api/v1/rules.
struct RuleSnapshot {
  RuleSpec spec;
  RuleHealth health = RuleHealth::kUnknown;
  std::string last_error;
  TimestampMs last_evaluation = 0;
  double last_duration_seconds = 0;
  std::vector<Alert> alerts;
};
struct GroupSnapshot {
  std::string file, name;
  Duration interval{0};
  int limit = 0;
  TimestampMs last_evaluation = 0;
  double last_duration_seconds = 0;
  std::vector<RuleSnapshot> rules;
};

class Manager {
 public:
  explicit Manager(ManagerOptions options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Loads the rule files (paths or globs) and replaces the running groups;
  // alert state of rules that keep their group, name and labels carries over
  // (from the running rules, or on the first load from the state store).
  // On any problem nothing changes and the problems are returned (and logged).
  LoadResult Load(const std::vector<std::string>& paths);

  // Starts the evaluation thread; each group first runs one interval after Start.
  void Start();
  void Stop();

  // Evaluates the group (file;name key, see Group::key) at `t` now, on the
  // caller's thread. False when there is no such group.
  bool EvaluateNow(const std::string& group_key, TimestampMs t);
  // Keys of the groups whose expressions read any of the metric names.
  std::vector<std::string> GroupsReading(const std::set<std::string>& metric_names) const;
  // For event sinks: schedules the groups reading these metrics for
  // evaluation at once on the evaluation thread (returns without waiting).
  void NotifyMetricsChanged(const std::set<std::string>& metric_names);

  std::vector<GroupSnapshot> Groups() const;
  // Pending and firing alerts of every rule.
  std::vector<AlertSnapshot> Alerts() const;
  // vigil_rule_evaluations_total, vigil_rule_evaluation_failures_total,
  // vigil_rule_group_last_evaluation_timestamp_seconds,
  // vigil_rule_group_last_duration_seconds, vigil_rule_group_rules, labelled rule_group="file;name".
  void AppendSelfMetrics(MetricBatch& out) const;

 private:
  void Loop();
  void EvalLocked(Group& g, TimestampMs t);
  void SaveStateLocked(const Group& g, TimestampMs t);

  ManagerOptions options_;
  EvalContext ctx_;
  mutable std::mutex mu_;  // guards everything below; evaluation holds it
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::map<std::string, TimestampMs> next_eval_;    // by group key
  std::set<std::string> triggered_;                 // group keys to evaluate at once
  std::map<std::string, std::string> saved_state_;  // by group key: what the store holds, to skip no-op writes
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigil::rules
