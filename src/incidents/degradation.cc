#include "incidents/degradation.h"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>

#include "promql/ast.h"

namespace vigil::incidents {

Labels BaselineSeriesLabels(const std::string& baseline, const Labels& series) {
  Labels l = series;
  l.Set("__name__", "");
  l.Set("baseline", baseline);
  return l;
}

void AppendBaselineMetrics(const std::string& baseline, const Labels& series, double value, const BaselineModel& model,
                           BaselineDirection direction, double t_seconds, MetricBatch& out) {
  Labels l = BaselineSeriesLabels(baseline, series);
  out.AddGauge("vigil_baseline_value", "The baseline's expression now, beside its learned band.", l, value);
  out.AddGauge("vigil_baseline_samples", "Samples of history the series' model learned from (0: none yet).", l,
               static_cast<double>(model.samples()));
  std::optional<Band> band = model.At(t_seconds);
  if (!band) return;
  out.AddGauge("vigil_baseline_median", "Median of the series at this time of day (or week), learned from its history.",
               l, band->median);
  // Only the side that is a degradation gets a bound, so one rule per side fits every baseline.
  if (direction != BaselineDirection::kDown) {
    out.AddGauge("vigil_baseline_upper",
                 "Upper edge of the series' normal range now (median + tolerance robust sigmas).", l, band->upper);
  }
  if (direction != BaselineDirection::kUp) {
    out.AddGauge("vigil_baseline_lower",
                 "Lower edge of the series' normal range now (median - tolerance robust sigmas).", l, band->lower);
  }
}

namespace {

class BaselineCollector : public collect::Collector {
 public:
  explicit BaselineCollector(DegradationOptions o) : o_(std::move(o)) {
    for (const BaselineSpec& spec : o_.baselines) {
      State st;
      st.spec = spec;
      if (auto e = promql::ParseExpr(spec.expr); e.ok()) {
        st.expr = std::move(*e);
      } else {
        st.parse_error = e.status().message();
      }
      states_.push_back(std::move(st));
    }
  }
  std::string_view name() const override { return "baselines"; }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    std::lock_guard lock(mu_);
    for (State& st : states_) {
      if (!st.expr) {
        out.ReportError("bad_expr", st.parse_error, st.spec.name);
        continue;
      }
      if (ctx.now_ms - st.learned_at_ms >= o_.refresh.count()) Learn(st, ctx.now_ms, out);
      promql::QueryResult r = promql::Engine(o_.engine).Instant(o_.storage, *st.expr, ctx.now_ms);
      if (!r.ok) {
        out.ReportError("query", r.error.message, st.spec.name);
        continue;
      }
      for (const promql::Sample& s : r.value.vector) {
        Labels key = BaselineSeriesLabels(st.spec.name, s.labels);
        auto it = st.models.find(key);
        static const BaselineModel kUnlearned;
        AppendBaselineMetrics(st.spec.name, s.labels, s.v, it == st.models.end() ? kUnlearned : it->second,
                              st.spec.direction, static_cast<double>(ctx.now_ms) / 1000, out);
      }
    }
    return Status::Ok();
  }

 private:
  struct State {
    BaselineSpec spec;
    promql::ExprPtr expr;
    std::string parse_error;
    TimestampMs learned_at_ms = std::numeric_limits<TimestampMs>::min() / 2;
    std::map<Labels, BaselineModel> models;  // by BaselineSeriesLabels
  };

  // Reads the history at a sixth of a bucket (downsampled data where the
  // store has it) and relearns every series' model.
  void Learn(State& st, TimestampMs now, MetricBatch& out) {
    const Duration step{std::max<int64_t>(60000, static_cast<int64_t>(st.spec.model.bucket_seconds * 1000 / 6))};
    promql::EngineOptions eo = o_.engine;
    eo.max_read_resolution = step;
    promql::QueryResult r = promql::Engine(eo).Range(o_.storage, *st.expr, now - st.spec.history.count(), now, step);
    st.learned_at_ms = now;
    if (!r.ok) {
      out.ReportError("history_query", r.error.message, st.spec.name);
      return;  // keeps the models it had
    }
    st.models.clear();
    for (const promql::SeriesPoints& s : r.value.matrix) {
      std::vector<BaselineSample> history;
      history.reserve(s.points.size());
      for (const promql::Point& p : s.points) history.push_back({static_cast<double>(p.t) / 1000, p.v});
      st.models.emplace(BaselineSeriesLabels(st.spec.name, s.labels), BaselineModel::Learn(history, st.spec.model));
    }
  }

  DegradationOptions o_;
  std::mutex mu_;  // the scheduler runs one collection at a time; this keeps that assumption safe
  std::vector<State> states_;
};

}  // namespace

std::shared_ptr<collect::Collector> NewBaselineCollector(DegradationOptions options) {
  return std::make_shared<BaselineCollector>(std::move(options));
}

}  // namespace vigil::incidents
