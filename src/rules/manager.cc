#include "rules/manager.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"

namespace vigil::rules {

Manager::Manager(ManagerOptions options) : options_(std::move(options)) {
  ctx_.engine = options_.engine;
  ctx_.querier = options_.querier;
  ctx_.external_labels = options_.external_labels;
  ctx_.external_url = options_.external_url;
}

Manager::~Manager() { Stop(); }

LoadResult Manager::Load(const std::vector<std::string>& paths) {
  LoadResult loaded = LoadRuleFiles(paths, options_.parse);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems)
      LogError("rule file problem; keeping the running rules", {{"err", p.ToString()}});
    return loaded;
  }
  std::vector<std::unique_ptr<Group>> fresh;
  for (const auto& spec : loaded.groups) fresh.push_back(std::make_unique<Group>(spec, options_.default_interval));
  std::lock_guard lock(mu_);
  TimestampMs now = options_.clock->NowMs();
  std::map<std::string, TimestampMs> next;
  std::vector<SavedAlert> saved;
  if (options_.state_store != nullptr && groups_.empty()) {
    Result<std::vector<SavedAlert>> all = options_.state_store->LoadAll();
    if (all.ok()) {
      saved = std::move(*all);
    } else {
      LogError("cannot restore alert state; alerts start inactive", {{"err", all.status().message()}});
    }
  }
  std::set<std::string> keys;
  for (auto& g : fresh) {
    keys.insert(g->key());
    bool carried = false;
    for (const auto& old : groups_) {
      if (old->key() == g->key()) {
        g->CopyStateFrom(*old);
        carried = true;
        break;
      }
    }
    if (!carried && !saved.empty()) {
      for (auto& rule : g->rules()) {
        if (!rule->is_alert()) continue;
        std::vector<Alert> alerts;
        for (const auto& a : saved) {
          if (a.group_key == g->key() && a.rule == rule->name() && a.rule_labels == rule->spec().labels) {
            alerts.push_back(a.alert);
          }
        }
        if (!alerts.empty()) rule->SetAlerts(std::move(alerts));
      }
    }
    auto it = next_eval_.find(g->key());
    const int64_t iv = g->interval().count();
    next[g->key()] = it != next_eval_.end() ? std::min(it->second, AlignDown(now, iv) + iv) : AlignDown(now, iv) + iv;
  }
  groups_ = std::move(fresh);
  next_eval_ = std::move(next);
  if (options_.state_store != nullptr) {
    Status pruned = options_.state_store->Prune(keys, now);
    if (!pruned.ok()) LogWarn("cannot prune alert state", {{"err", pruned.message()}});
  }
  cv_.notify_all();
  size_t rules = 0;
  for (const auto& g : groups_) rules += g->rules().size();
  LogInfo("rules loaded", {{"groups", std::to_string(groups_.size())}, {"rules", std::to_string(rules)}});
  return loaded;
}

void Manager::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Manager::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Manager::EvalLocked(Group& g, TimestampMs t) {
  g.Eval(t, ctx_, options_.appender);
  SaveStateLocked(g, t);
  if (!options_.notify) return;
  std::vector<Alert> out;
  for (const auto& r : g.rules()) {
    if (!r->is_alert()) continue;
    for (auto& a : r->Alerts()) {
      if (a.state == AlertState::kFiring || (a.state == AlertState::kInactive && a.resolved_at != 0)) {
        out.push_back(std::move(a));
      }
    }
  }
  if (!out.empty()) options_.notify(out);
}

void Manager::SaveStateLocked(const Group& g, TimestampMs t) {
  if (options_.state_store == nullptr) return;
  std::vector<SavedAlert> alerts;
  std::string fingerprint;
  for (const auto& r : g.rules()) {
    if (!r->is_alert()) continue;
    for (auto& a : r->Alerts()) {
      fingerprint += r->name() + "\x1f" + a.labels.ToString() + "\x1f" + std::string(AlertStateName(a.state)) + "\x1f" +
                     std::to_string(a.active_at) + "," + std::to_string(a.fired_at) + "," +
                     std::to_string(a.resolved_at) + "," + std::to_string(a.keep_firing_since) + "," +
                     std::to_string(a.last_sent_at) + "\x1e";
      alerts.push_back({g.key(), r->name(), r->spec().labels, std::move(a), r->spec().for_duration});
    }
  }
  // Values and annotations change every evaluation; state changes are what must survive.
  auto it = saved_state_.find(g.key());
  if (it != saved_state_.end() && it->second == fingerprint) return;
  Status s = options_.state_store->SaveGroup(g.key(), alerts, t);
  if (!s.ok()) {
    LogWarn("cannot save alert state", {{"group", g.key()}, {"err", s.message()}});
    return;
  }
  saved_state_[g.key()] = std::move(fingerprint);
}

void Manager::Loop() {
  std::unique_lock lock(mu_);
  // Groups triggered again in the millisecond of their last round. A second
  // round at the same time would write its samples (a resolved alert's stale
  // marker) where the first's already are, and the store keeps the first: the
  // alert would stay in ALERTS for the lookback. They run once the clock moves.
  std::set<std::string> deferred;
  while (!stopping_) {
    TimestampMs now = options_.clock->NowMs();
    // Event-triggered groups first: they are why sub-second detection works.
    std::set<std::string> triggered;
    triggered.swap(triggered_);
    triggered.merge(deferred);
    deferred.clear();
    for (auto& g : groups_) {
      if (triggered.count(g->key()) == 0) continue;
      if (g->last_evaluation() >= now) {
        deferred.insert(g->key());
      } else {
        EvalLocked(*g, now);
      }
    }
    TimestampMs earliest = now + 60 * 60 * 1000;
    for (auto& g : groups_) {
      TimestampMs& due = next_eval_[g->key()];
      const int64_t iv = g->interval().count();
      if (due <= now) {
        // A group already evaluated at this very time (by an event) is not evaluated twice.
        if (g->last_evaluation() < now) EvalLocked(*g, now);
        // Skip missed slots rather than catching up with a burst.
        due = AlignDown(now, iv) + iv;
      }
      earliest = std::min(earliest, due);
    }
    if (!deferred.empty()) earliest = std::min(earliest, now + 1);
    if (stopping_ || !triggered_.empty()) continue;
    TimestampMs wait_ms = std::max<TimestampMs>(1, earliest - options_.clock->NowMs());
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stopping_ || !triggered_.empty(); });
  }
}

bool Manager::EvaluateNow(const std::string& group_key, TimestampMs t) {
  std::lock_guard lock(mu_);
  for (auto& g : groups_) {
    if (g->key() == group_key) {
      EvalLocked(*g, t);
      return true;
    }
  }
  return false;
}

std::vector<std::string> Manager::GroupsReading(const std::set<std::string>& metric_names) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& g : groups_) {
    if (g->Reads(metric_names)) out.push_back(g->key());
  }
  return out;
}

void Manager::NotifyMetricsChanged(const std::set<std::string>& metric_names) {
  std::lock_guard lock(mu_);
  bool any = false;
  for (const auto& g : groups_) {
    if (g->Reads(metric_names)) {
      triggered_.insert(g->key());
      any = true;
    }
  }
  if (any) cv_.notify_all();
}

std::vector<GroupSnapshot> Manager::Groups() const {
  std::lock_guard lock(mu_);
  std::vector<GroupSnapshot> out;
  for (const auto& g : groups_) {
    GroupSnapshot s;
    s.file = g->file();
    s.name = g->name();
    s.interval = g->interval();
    s.limit = g->spec().limit;
    s.last_evaluation = g->last_evaluation();
    s.last_duration_seconds = g->last_duration_seconds();
    for (const auto& r : g->rules()) {
      RuleSnapshot rs;
      rs.spec = r->spec();
      rs.health = r->health();
      rs.last_error = r->last_error();
      rs.last_evaluation = r->last_evaluation();
      rs.last_duration_seconds = r->last_duration_seconds();
      for (auto& a : r->Alerts()) {
        if (a.state != AlertState::kInactive) rs.alerts.push_back(std::move(a));
      }
      s.rules.push_back(std::move(rs));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<AlertSnapshot> Manager::Alerts() const {
  std::lock_guard lock(mu_);
  std::vector<AlertSnapshot> out;
  for (const auto& g : groups_) {
    for (const auto& r : g->rules()) {
      if (!r->is_alert()) continue;
      for (auto& a : r->Alerts()) {
        if (a.state != AlertState::kInactive) out.push_back({g->file(), g->name(), r->name(), std::move(a)});
      }
    }
  }
  return out;
}

void Manager::AppendSelfMetrics(MetricBatch& out) const {
  std::lock_guard lock(mu_);
  for (const auto& g : groups_) {
    Labels l{{"rule_group", g->key()}};
    out.AddCounter("vigil_rule_evaluations_total", "Evaluations of a rule group.", l,
                   static_cast<double>(g->evaluations_total()));
    out.AddCounter("vigil_rule_evaluation_failures_total", "Rule evaluations that failed, per group.", l,
                   static_cast<double>(g->evaluation_failures_total()));
    out.AddGauge("vigil_rule_group_last_evaluation_timestamp_seconds", "When the group was last evaluated.", l,
                 static_cast<double>(g->last_evaluation()) / 1000);
    out.AddGauge("vigil_rule_group_last_duration_seconds", "How long the group's last evaluation took.", l,
                 g->last_duration_seconds());
    out.AddGauge("vigil_rule_group_rules", "Rules in the group.", l, static_cast<double>(g->rules().size()));
  }
}

}  // namespace vigil::rules
