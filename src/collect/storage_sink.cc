#include "collect/storage_sink.h"

#include "base/log.h"

namespace vigil::collect {

namespace {

// Prometheus's rule without honor_labels: a label the target already set is
// kept as exported_<name>, and the target's value wins.
void SetTargetLabel(Labels& labels, const std::string& name, const std::string& value) {
  if (value.empty()) return;
  if (std::string_view own = labels.Get(name); !own.empty() && own != value) {
    labels.Set("exported_" + name, std::string(own));
  }
  labels.Set(name, value);
}

}  // namespace

CollectorTarget StorageSink::TargetOf(std::string_view collector) const {
  auto it = targets_.collectors.find(collector);
  if (it != targets_.collectors.end()) return it->second;
  return {targets_.default_job, false};
}

void StorageSink::SetTargets(TargetLabels targets) {
  std::lock_guard lock(mu_);
  targets_ = std::move(targets);
}

void StorageSink::AppendUp(CollectorState& st, const CollectorTarget& target, TimestampMs time_ms, double value,
                           std::map<Labels, tsdb::SeriesRef>* current) {
  Labels up{{"__name__", "up"}, {"instance", targets_.instance}, {"job", target.job}};
  auto prev = st.previous.find(up);
  Result<tsdb::SeriesRef> r = st.appender->Append(prev != st.previous.end() ? prev->second : 0, up, time_ms, value);
  if (r.ok() && current) current->emplace(std::move(up), *r);
}

void StorageSink::Consume(std::string_view collector, const MetricBatch& batch, TimestampMs time_ms) {
  std::lock_guard lock(mu_);
  CollectorState& st = state_[std::string(collector)];
  if (!st.appender) st.appender = db_->NewAppender();
  CollectorTarget target = TargetOf(collector);
  std::map<Labels, tsdb::SeriesRef> current;
  uint64_t rejected = 0;
  std::string first_error;
  auto append = [&](Labels labels, const std::string& job, const std::string& name, double value) {
    if (!job.empty()) {
      SetTargetLabel(labels, "job", job);
      SetTargetLabel(labels, "instance", targets_.instance);
    }
    labels.Set("__name__", name);
    auto prev = st.previous.find(labels);
    tsdb::SeriesRef ref = prev != st.previous.end() ? prev->second : 0;
    Result<tsdb::SeriesRef> r = st.appender->Append(ref, labels, time_ms, value);
    if (!r.ok()) {
      if (++rejected == 1) first_error = r.status().message();
      return;
    }
    current.emplace(std::move(labels), *r);
  };
  for (const MetricFamily& f : batch.families()) {
    bool mirror = !target.process_metrics_also_job.empty() && target.process_metrics_also_job != target.job &&
                  f.name.starts_with("process_");
    for (const Sample& s : f.samples) {
      append(s.labels, target.job, f.name, s.value);
      if (mirror) append(s.labels, target.process_metrics_also_job, f.name, s.value);
    }
  }
  if (target.reports_up && !target.job.empty()) AppendUp(st, target, time_ms, 1, &current);
  // A series the collector no longer reports is marked stale, so queries stop
  // returning it at once instead of after the lookback window.
  for (const auto& [labels, ref] : st.previous) {
    if (!current.count(labels)) (void)st.appender->Append(ref, labels, time_ms, tsdb::StaleNaN());
  }
  if (Status s = st.appender->Commit(); !s.ok()) {
    LogDebug("storing collection failed", {{"collector", std::string(collector)}, {"err", s.message()}});
  }
  if (rejected > 0) {
    LogDebug("samples rejected by the store",
             {{"collector", std::string(collector)}, {"count", std::to_string(rejected)}, {"first", first_error}});
  }
  st.previous = std::move(current);
}

void StorageSink::Failed(std::string_view collector, TimestampMs time_ms) {
  std::lock_guard lock(mu_);
  CollectorTarget target = TargetOf(collector);
  if (!target.reports_up || target.job.empty()) return;
  CollectorState& st = state_[std::string(collector)];
  if (!st.appender) st.appender = db_->NewAppender();
  // The collector's other series keep their last values until it recovers,
  // as its /metrics does; up says the data is old.
  AppendUp(st, target, time_ms, 0, nullptr);
  (void)st.appender->Commit();
}

}  // namespace vigil::collect
