#include "rules/group.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tsdb/memory.h"

namespace vigil::rules {
namespace {

constexpr int64_t kMin = 60 * 1000;

// A group over an in-memory store, evaluated at times the test chooses.
class Harness {
 public:
  explicit Harness(std::string_view yaml) {
    LoadResult r = ParseRuleFile(yaml, "t.yml");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.problems[0].ToString());
    group_ = std::make_unique<Group>(r.groups.at(0), Duration(kMin));
    ctx_.engine = &engine_;
    ctx_.querier = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
      return storage_.NewQuerier(mint, maxt);
    };
    ctx_.external_labels = Labels{{"network", "testnet"}};
  }

  void Set(const Labels& l, TimestampMs t, double v) { storage_.Add(l, t, v); }
  int Eval(TimestampMs t) {
    return group_->Eval(t, ctx_, [this] { return storage_.NewAppender(); });
  }
  Rule& rule(size_t i = 0) { return *group_->rules().at(i); }
  Group& group() { return *group_; }

  // State of the only alert of rule i, or "none".
  std::string State(size_t i = 0) {
    auto alerts = rule(i).Alerts();
    if (alerts.empty()) return "none";
    return std::string(AlertStateName(alerts[0].state));
  }
  // The value of a series at exactly `t`, NaN if absent.
  double At(const Labels& l, TimestampMs t) {
    auto q = storage_.NewQuerier(t, t);
    std::vector<tsdb::Matcher> ms;
    for (const auto& x : l) ms.push_back(*tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, x.name, x.value));
    auto series = q->Select(ms);
    for (const auto& s : *series) {
      if (s->labels() != l) continue;
      auto it = s->Iterator();
      if (it->Next()) return it->v();
    }
    return NAN;
  }

 private:
  promql::Engine engine_;
  tsdb::MemoryStorage storage_;
  EvalContext ctx_;
  std::unique_ptr<Group> group_;
};

const Labels kUp{{"__name__", "up"}, {"instance", "a"}};

TEST(GroupTest, PendingFiringResolved) {
  Harness h(R"(groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
    for: 2m
    labels: {severity: P0}
    annotations: {summary: '{{ $labels.instance }} down ({{ $value }}) in {{ $externalLabels.network }}'}
)");
  for (int i = 0; i <= 10; ++i) h.Set(kUp, i * kMin, i >= 1 && i <= 5 ? 0 : 1);
  h.Eval(0);
  EXPECT_EQ(h.State(), "none");
  h.Eval(1 * kMin);
  EXPECT_EQ(h.State(), "pending");
  Labels pending{{"__name__", "ALERTS"},
                 {"alertname", "Down"},
                 {"alertstate", "pending"},
                 {"instance", "a"},
                 {"severity", "critical"}};
  EXPECT_EQ(h.At(pending, 1 * kMin), 1);
  Labels for_state{
      {"__name__", "ALERTS_FOR_STATE"}, {"alertname", "Down"}, {"instance", "a"}, {"severity", "critical"}};
  EXPECT_EQ(h.At(for_state, 1 * kMin), 60);
  h.Eval(2 * kMin);
  EXPECT_EQ(h.State(), "pending");
  h.Eval(3 * kMin);
  EXPECT_EQ(h.State(), "firing");
  auto a = h.rule().Alerts().at(0);
  EXPECT_EQ(a.active_at, 1 * kMin);
  EXPECT_EQ(a.fired_at, 3 * kMin);
  EXPECT_EQ(a.annotations.at("summary"), "a down (0) in testnet");
  EXPECT_EQ(a.labels.Get("alertname"), "Down");
  // The pending series went stale when the alert fired.
  EXPECT_TRUE(tsdb::IsStaleNaN(h.At(pending, 3 * kMin)));
  Labels firing = pending;
  firing.Set("alertstate", "firing");
  EXPECT_EQ(h.At(firing, 3 * kMin), 1);
  h.Eval(6 * kMin);
  EXPECT_EQ(h.State(), "inactive");
  EXPECT_EQ(h.rule().Alerts().at(0).resolved_at, 6 * kMin);
  EXPECT_TRUE(tsdb::IsStaleNaN(h.At(firing, 6 * kMin)));
  // A resolved alert is forgotten after 15 minutes.
  h.Eval(22 * kMin);
  EXPECT_EQ(h.State(), "none");
}

TEST(GroupTest, FlappingInputRestartsPending) {
  Harness h(R"(groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
    for: 2m
)");
  // 0 1 0 1 0 …: never down for two minutes in a row.
  for (int i = 0; i <= 10; ++i) h.Set(kUp, i * kMin, i % 2);
  for (int i = 0; i <= 10; ++i) {
    h.Eval(i * kMin);
    EXPECT_EQ(h.State(), i % 2 == 0 ? "pending" : "none") << i;
  }
}

TEST(GroupTest, ZeroForFiresAtOnceAndNaNDoesNotMatch) {
  Harness h(R"(groups:
- name: g
  rules:
  - alert: Down
    expr: up < 1
)");
  h.Set(kUp, 0, NAN);
  h.Eval(0);
  EXPECT_EQ(h.State(), "none");
  h.Set(kUp, kMin, 0);
  h.Eval(kMin);
  EXPECT_EQ(h.State(), "firing");
}

TEST(GroupTest, SeriesDisappearingResolves) {
  Harness h(R"(groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
)");
  h.Set(kUp, 0, 0);
  h.Eval(0);
  EXPECT_EQ(h.State(), "firing");
  // No sample for more than the lookback delta: the series is gone.
  h.Eval(6 * kMin);
  EXPECT_EQ(h.State(), "inactive");
}

TEST(GroupTest, KeepFiringFor) {
  Harness h(R"(groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
    keep_firing_for: 3m
)");
  h.Set(kUp, 0, 0);
  for (int i = 1; i <= 10; ++i) h.Set(kUp, i * kMin, i == 4 ? 0 : 1);
  h.Eval(0);
  EXPECT_EQ(h.State(), "firing");
  h.Eval(1 * kMin);  // cleared, kept firing since 1m
  EXPECT_EQ(h.State(), "firing");
  h.Eval(2 * kMin);
  EXPECT_EQ(h.State(), "firing");
  h.Eval(3 * kMin);
  EXPECT_EQ(h.State(), "firing");
  h.Eval(4 * kMin);  // back again: the keep-firing clock resets
  EXPECT_EQ(h.State(), "firing");
  h.Eval(5 * kMin);
  h.Eval(7 * kMin);
  EXPECT_EQ(h.State(), "firing");
  h.Eval(8 * kMin);  // 3m after 5m
  EXPECT_EQ(h.State(), "inactive");
}

TEST(GroupTest, HysteresisKeepsHoveringValueActive) {
  Harness h(R"(groups:
- name: g
  rules:
  - alert: DiskFull
    expr: free_ratio < 0.10
    stay_active_while: free_ratio < 0.12
)");
  Labels free{{"__name__", "free_ratio"}, {"mount", "/"}};
  const double values[] = {0.20, 0.09, 0.105, 0.095, 0.11, 0.115, 0.13, 0.11};
  const char* want[] = {"none", "firing", "firing", "firing", "firing", "firing", "inactive", "inactive"};
  for (int i = 0; i < 8; ++i) {
    h.Set(free, i * kMin, values[i]);
    h.Eval(i * kMin);
    EXPECT_EQ(h.State(), want[i]) << i;
  }
  // The alert carries the last value seen while held.
  h.Set(free, 8 * kMin, 0.05);
  h.Eval(8 * kMin);
  EXPECT_EQ(h.State(), "firing");
  EXPECT_EQ(h.rule().Alerts()[0].value, 0.05);
}

TEST(GroupTest, RecordingRulesFeedLaterRules) {
  Harness h(R"(groups:
- name: g
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
    labels: {source: rule}
  - alert: FewUp
    expr: job:up:sum < 2
)");
  h.Set(Labels{{"__name__", "up"}, {"job", "a"}, {"instance", "1"}}, 0, 1);
  h.Eval(0);
  EXPECT_EQ(h.At(Labels{{"__name__", "job:up:sum"}, {"job", "a"}, {"source", "rule"}}, 0), 1);
  EXPECT_EQ(h.State(1), "firing");
  EXPECT_EQ(h.rule(1).Alerts()[0].labels, (Labels{{"alertname", "FewUp"}, {"job", "a"}, {"source", "rule"}}));
  // The recorded series goes stale when its input disappears.
  h.Eval(10 * kMin);
  EXPECT_TRUE(tsdb::IsStaleNaN(h.At(Labels{{"__name__", "job:up:sum"}, {"job", "a"}, {"source", "rule"}}, 10 * kMin)));
}

TEST(GroupTest, FailuresAreCountedAndOtherRulesRun) {
  Harness h(R"(groups:
- name: g
  rules:
  - record: joined
    expr: a + on(x) b
  - record: fine
    expr: vector(1)
)");
  h.Set(Labels{{"__name__", "a"}, {"x", "1"}}, 0, 1);
  h.Set(Labels{{"__name__", "b"}, {"x", "1"}, {"y", "1"}}, 0, 1);
  h.Set(Labels{{"__name__", "b"}, {"x", "1"}, {"y", "2"}}, 0, 1);
  EXPECT_EQ(h.Eval(0), 1);
  EXPECT_EQ(h.group().evaluation_failures_total(), 1u);
  EXPECT_EQ(h.rule(0).health(), RuleHealth::kError);
  EXPECT_NE(h.rule(0).last_error().find("many-to-many"), std::string::npos) << h.rule(0).last_error();
  EXPECT_EQ(h.rule(1).health(), RuleHealth::kOk);
  EXPECT_EQ(h.At(Labels{{"__name__", "fine"}}, 0), 1);
}

TEST(GroupTest, LimitAndDuplicateLabels) {
  Harness h(R"(groups:
- name: g
  limit: 1
  rules:
  - alert: Many
    expr: up == 0
  - record: dup
    expr: up
    labels: {instance: same}
)");
  h.Set(Labels{{"__name__", "up"}, {"instance", "1"}}, 0, 0);
  h.Set(Labels{{"__name__", "up"}, {"instance", "2"}}, 0, 0);
  EXPECT_EQ(h.Eval(0), 2);
  EXPECT_EQ(h.rule(0).last_error(), "exceeded limit of 1 with 2 alerts");
  EXPECT_TRUE(h.rule(0).Alerts().empty());
  EXPECT_EQ(h.rule(1).last_error(), "vector contains metrics with the same labelset after applying rule labels");
}

TEST(GroupTest, TemplatedLabelsAndMetricRefs) {
  Harness h(R"(groups:
- name: g
  rules:
  - alert: High
    expr: load > 1 or rate(cpu_seconds_total[5m]) > 0
    labels: {bucket: '{{ if gt $value 5.0 }}big{{ else }}small{{ end }}'}
)");
  h.Set(Labels{{"__name__", "load"}}, 0, 7);
  h.Eval(0);
  EXPECT_EQ(h.rule().Alerts().at(0).labels.Get("bucket"), "big");
  const MetricRefs& refs = h.group().metric_refs();
  EXPECT_EQ(refs.names, (std::set<std::string>{"cpu_seconds_total", "load"}));
  EXPECT_FALSE(refs.any);
  EXPECT_TRUE(h.group().Reads({"load"}));
  EXPECT_FALSE(h.group().Reads({"up"}));
}

TEST(GroupTest, CopyStateKeepsPendingTimer) {
  const char* yaml = R"(groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
    for: 5m
)";
  Harness before(yaml), after(yaml);
  before.Set(kUp, 0, 0);
  before.Eval(0);
  after.group().CopyStateFrom(before.group());
  for (int i = 1; i <= 5; ++i) after.Set(kUp, i * kMin, 0);
  after.Eval(4 * kMin);
  EXPECT_EQ(after.State(), "pending");
  after.Eval(5 * kMin);
  EXPECT_EQ(after.State(), "firing");
  EXPECT_EQ(after.rule().Alerts()[0].active_at, 0);
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

TEST(GroupQueryOffsetTest, QueriesAndWritesInThePast) {
  Harness h(R"(groups:
- name: g
  query_offset: 1m
  rules:
  - record: seen
    expr: up
  - alert: Down
    expr: up == 0
)");
  h.Set(kUp, 0, 0);
  h.Set(kUp, 2 * kMin, 1);
  h.Eval(2 * kMin);  // queries at 1m: sees the 0 from t=0, not the 1 from t=2m
  EXPECT_EQ(h.At(Labels{{"__name__", "seen"}, {"instance", "a"}}, kMin), 0);
  EXPECT_EQ(h.State(1), "firing");
  EXPECT_EQ(h.rule(1).Alerts()[0].active_at, 2 * kMin);
  EXPECT_EQ(
      h.At(Labels{{"__name__", "ALERTS"}, {"alertname", "Down"}, {"alertstate", "firing"}, {"instance", "a"}}, kMin),
      1);
}

}  // namespace
}  // namespace vigil::rules
