// Degradation detection in the agent (docs/degradation.md): each configured
// baseline's PromQL is read back over its history, a BaselineModel is learned
// per series, and every collection records the series' value and its band as
// vigil_baseline_{value,median,lower,upper,samples}, so rules (the default
// MetricAboveBaseline / MetricBelowBaseline), the API and Grafana see them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/time.h"
#include "collect/collector.h"
#include "incidents/baseline.h"
#include "promql/engine.h"

namespace vigil::incidents {

struct BaselineSpec {
  std::string name;  // the `baseline` label
  std::string expr;  // an instant-vector PromQL expression
  BaselineOptions model;
  BaselineDirection direction = BaselineDirection::kUp;
  Duration history{28LL * 86400 * 1000};
};

struct DegradationOptions {
  promql::QuerierFactory storage;  // required
  promql::EngineOptions engine;
  std::vector<BaselineSpec> baselines;
  // Models are relearned this often: a bucket moves little in minutes, and a
  // 28-day read per baseline is not free.
  Duration refresh{5 * 60 * 1000};
};

// The labels of a baseline's recorded series: the expression's series
// labels without __name__, plus baseline="<name>".
Labels BaselineSeriesLabels(const std::string& baseline, const Labels& series);

// Appends the recorded series of one baseline series at `t_seconds`: the
// value always; median, samples, and the bound(s) `direction` makes bad when
// the model has a band then.
void AppendBaselineMetrics(const std::string& baseline, const Labels& series, double value, const BaselineModel& model,
                           BaselineDirection direction, double t_seconds, MetricBatch& out);

// The collector the scheduler runs ("baselines"); a failed query is a
// per-baseline error in the batch, the other baselines are still recorded.
std::shared_ptr<collect::Collector> NewBaselineCollector(DegradationOptions options);

}  // namespace vigil::incidents
