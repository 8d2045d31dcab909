// The cost of evaluating rules: 500 synthetic rules (alerting rules with
// templated annotations, recording rules with aggregations) over 10 000
// series in the real store's head, as the agent runs them, alone and with
// the shipped default packs (deploy/rules/*.yml) on top.
//
//   build/bench/vigil_bench --benchmark_filter=BM_RuleEvaluation
//
// Setup: 100 counter metrics x 100 series (instance x job), 30 minutes of
// 15 s samples (1.2 M samples), plus what the default packs read on a
// validator host (20 units, 3 services, 10 probes, 6 filesystems, …), in a
// store under /tmp removed afterwards.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// The series the default packs read, as a validator host has them.
std::vector<std::pair<Labels, double>> HostSeries() {
  std::vector<std::pair<Labels, double>> out;
  for (const char* svc : {"bitcoind", "titan", "validator"}) {
    out.push_back({{{"__name__", "vigil_service_up"}, {"service", svc}}, 1});
    out.push_back({{{"__name__", "vigil_service_processes"}, {"service", svc}}, 1});
    out.push_back({{{"__name__", "vigil_service_processes_expected"}, {"service", svc}}, 1});
    out.push_back({{{"__name__", "vigil_log_matches_total"}, {"rule", "errors"}, {"service", svc}}, 3});
  }
  for (int u = 0; u < 20; ++u) {
    out.push_back({{{"__name__", "node_systemd_service_restart_total"}, {"name", "unit" + std::to_string(u)}}, 0});
  }
  for (int p = 0; p < 10; ++p) {
    out.push_back({{{"__name__", "vigil_probe_success"}, {"probe", "p" + std::to_string(p)}, {"service", "validator"}}, 1});
    out.push_back({{{"__name__", "vigil_probe_tls_cert_expiry_seconds"}, {"probe", "p" + std::to_string(p)},
                    {"service", "validator"}},
                   2e9});
  }
  for (int f = 0; f < 6; ++f) {
    std::string mp = "/data" + std::to_string(f);
    out.push_back({{{"__name__", "node_filesystem_avail_bytes"}, {"fstype", "ext4"}, {"mountpoint", mp}}, 4e11});
    out.push_back({{{"__name__", "node_filesystem_size_bytes"}, {"fstype", "ext4"}, {"mountpoint", mp}}, 1e12});
  }
  for (const char* n : {"vigil_bitcoind_best_block_age_seconds", "vigil_bitcoind_initial_block_download",
                        "vigil_bitcoind_peers", "vigil_bitcoind_up", "vigil_bitcoind_blocks", "vigil_bitcoind_headers",
                        "vigil_titan_height_lag_blocks", "vigil_titan_up", "vigil_validator_ready",
                        "vigil_validator_height_lag_blocks", "vigil_validator_up", "node_memory_MemAvailable_bytes",
                        "node_memory_MemTotal_bytes", "node_load1", "vigil_update_available"}) {
    out.push_back({{{"__name__", n}}, 1});
  }
  for (int c = 0; c < 8; ++c) {
    out.push_back({{{"__name__", "node_cpu_seconds_total"}, {"cpu", std::to_string(c)}, {"mode", "idle"}}, 1});
    out.push_back({{{"__name__", "vigil_collector_up"}, {"collector", "c" + std::to_string(c)}}, 1});
  }
  return out;
}

void BM_RuleEvaluation(benchmark::State& state) {
  SetLogLevel(LogLevel::kError);
  const int rules = static_cast<int>(state.range(0));
  const bool with_packs = state.range(1) != 0;
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
    std::vector<std::pair<Labels, double>> host = HostSeries();
    std::vector<tsdb::SeriesRef> host_refs(host.size(), 0);
    for (int s = 0; s < kSamples; ++s) {
      for (size_t k = 0; k < host.size(); ++k) {
        auto r = app->Append(host_refs[k], host[k].first, start + s * kStepMs, host[k].second);
        if (r.ok()) host_refs[k] = *r;
      }
    }
    if (!app->Commit().ok()) std::abort();
  }
  rules::LoadResult loaded = rules::ParseRuleFile(RuleFile(rules), "bench.yml");
  if (!loaded.ok()) std::abort();
  size_t pack_rules = 0;
  if (with_packs) {
    rules::LoadResult packs = rules::LoadRuleFiles({std::string(VIGIL_SOURCE_DIR) + "/deploy/rules/*.yml"});
    if (!packs.ok()) std::abort();
    for (auto& g : packs.groups) {
      pack_rules += g.rules.size();
      loaded.groups.push_back(std::move(g));
    }
  }
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
  state.counters["rules"] = static_cast<double>(rules + pack_rules);
  state.counters["series"] = kMetrics * kSeriesPerMetric;
  (void)(*db)->Close();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RuleEvaluation)
    ->Args({50, 0})
    ->Args({500, 0})
    ->Args({0, 1})
    ->Args({500, 1})
    ->ArgNames({"synthetic", "default_packs"})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2)
    ->UseRealTime();

}  // namespace
}  // namespace vigil
