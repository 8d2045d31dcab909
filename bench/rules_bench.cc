// The cost of evaluating rules: 500 synthetic rules (alerting rules with
// templated annotations, recording rules with aggregations) over 10 000
// series in the real store's head, as the agent runs them.
//
//   build/bench/vigil_bench --benchmark_filter=BM_RuleEvaluation
//
// Setup: 100 counter metrics x 100 series (instance x job), 30 minutes of
// 15 s samples (1.2 M samples), in a store under /tmp removed afterwards.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "base/labels.h"
#include "base/log.h"
#include "base/time.h"
#include "promql/engine.h"
#include "rules/group.h"
#include "rules/rule_file.h"
#include "tsdb/tsdb.h"

namespace vigil {
namespace {

constexpr int kMetrics = 100;
constexpr int kSeriesPerMetric = 100;
constexpr int kSamples = 120;  // 30 minutes at 15 s
constexpr int64_t kStepMs = 15000;

std::string RuleFile(int rules) {
  std::string y = "groups:\n";
  for (int g = 0; g < rules / 50; ++g) {
    y += "- name: g" + std::to_string(g) + "\n  rules:\n";
    for (int i = 0; i < 50; ++i) {
      int n = g * 50 + i;
      std::string m = "bench_requests_" + std::to_string(n % kMetrics) + "_total";
      switch (n % 5) {
        case 0:
          y += "  - alert: HighRate" + std::to_string(n) + "\n    expr: rate(" + m +
               "[5m]) > 0.9\n    for: 5m\n    labels: {severity: P2}\n"
               "    annotations: {summary: '{{ $labels.instance }} of {{ $labels.job }} at {{ $value | humanize "
               "}}/s'}\n";
          break;
        case 1: y += "  - record: job:" + m + ":rate5m\n    expr: sum by (job) (rate(" + m + "[5m]))\n"; break;
        case 2:
          y += "  - alert: Stalled" + std::to_string(n) + "\n    expr: increase(" + m +
               "[10m]) == 0\n    for: 10m\n    labels: {severity: high}\n";
          break;
        case 3: y += "  - record: instance:" + m + ":max\n    expr: max by (instance) (" + m + ")\n"; break;
        default:
          y += "  - alert: Many" + std::to_string(n) + "\n    expr: count by (job) (" + m +
               " > 0) > 5\n    labels: {severity: low}\n    annotations: {summary: '{{ $value }} instances'}\n";
      }
    }
  }
  return y;
}

void BM_RuleEvaluation(benchmark::State& state) {
  SetLogLevel(LogLevel::kError);
  const int rules = static_cast<int>(state.range(0));
  std::string dir = (std::filesystem::temp_directory_path() / "vigil-rules-bench.XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  tsdb::Options o;
  o.dir = dir;
  o.wal_fsync = Duration(60000);
  auto db = tsdb::DB::Open(o);
  if (!db.ok()) std::abort();
  const TimestampMs start = SystemClock().NowMs() - kSamples * kStepMs;
  {
    auto app = (*db)->NewAppender();
    std::vector<tsdb::SeriesRef> refs(kMetrics * kSeriesPerMetric, 0);
    for (int s = 0; s < kSamples; ++s) {
      for (int m = 0; m < kMetrics; ++m) {
        for (int i = 0; i < kSeriesPerMetric; ++i) {
          size_t k = static_cast<size_t>(m * kSeriesPerMetric + i);
          Labels l{{"__name__", "bench_requests_" + std::to_string(m) + "_total"},
                   {"instance", "host" + std::to_string(i % 20)},
                   {"job", "job" + std::to_string(i / 20)}};
          auto r = app->Append(refs[k], l, start + s * kStepMs, s * (1 + (i % 3) * 0.5));
          if (r.ok()) refs[k] = *r;
        }
      }
    }
    if (!app->Commit().ok()) std::abort();
  }
  rules::LoadResult loaded = rules::ParseRuleFile(RuleFile(rules), "bench.yml");
  if (!loaded.ok()) std::abort();
  std::vector<std::unique_ptr<rules::Group>> groups;
  for (auto& g : loaded.groups) groups.push_back(std::make_unique<rules::Group>(g, Duration(15000)));
  promql::Engine engine;
  rules::EvalContext ctx;
  ctx.engine = &engine;
  tsdb::DB* raw = db->get();
  ctx.querier = [raw](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints& h) {
    return raw->NewQuerier(mint, maxt, h);
  };
  rules::AppenderFactory appender = [raw] { return raw->NewAppender(); };
  TimestampMs t = start + kSamples * kStepMs;
  int failures = 0;
  for (auto _ : state) {
    for (auto& g : groups) failures += g->Eval(t, ctx, appender);
    t += 1000;  // a later time each round, as a running agent evaluates
  }
  if (failures != 0) state.SkipWithError("rule evaluations failed");
  state.counters["rules"] = rules;
  state.counters["series"] = kMetrics * kSeriesPerMetric;
  (void)(*db)->Close();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RuleEvaluation)->Arg(50)->Arg(500)->Unit(benchmark::kMillisecond)->MinTime(2)->UseRealTime();

}  // namespace
}  // namespace vigil
