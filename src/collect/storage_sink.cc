#include "collect/storage_sink.h"

#include "base/log.h"

namespace vigil::collect {

void StorageSink::Consume(std::string_view collector, const MetricBatch& batch, TimestampMs time_ms) {
  std::lock_guard lock(mu_);
  CollectorState& st = state_[std::string(collector)];
  if (!st.appender) st.appender = db_->NewAppender();
  std::map<Labels, tsdb::SeriesRef> current;
  uint64_t rejected = 0;
  std::string first_error;
  for (const MetricFamily& f : batch.families()) {
    for (const Sample& s : f.samples) {
      Labels labels = s.labels;
      labels.Set("__name__", f.name);
      auto prev = st.previous.find(labels);
      tsdb::SeriesRef ref = prev != st.previous.end() ? prev->second : 0;
      Result<tsdb::SeriesRef> r = st.appender->Append(ref, labels, time_ms, s.value);
      if (!r.ok()) {
        if (++rejected == 1) first_error = r.status().message();
        continue;
      }
      current.emplace(std::move(labels), *r);
    }
  }
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

}  // namespace vigil::collect
