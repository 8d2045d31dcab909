// Benchmarks of log following (logs/): the validator's rules applied to a
// realistic line mix, and one collector run over a file of such lines (read,
// split, match, save the position).
//
//   build/bench/vigil_bench --benchmark_filter=BM_Log --benchmark_min_time=0.5
//
// Both report lines/s and bytes/s.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "logs/log_collector.h"
#include "logs/rules.h"

namespace vigil {
namespace {

logs::RuleSet ValidatorRules() {
  logs::RuleSet r;
  r.counters = {{"errors", "ERROR"}, {"warnings", "WARN"}};
  r.gauges = {{"slot", R"(Processing slot (\d+))"}};
  r.states = {{"titan_connected", "Connected to server at titan", "Detected disconnection"}};
  return r;
}

// Mostly slot progress and routine info, now and then a warning, an error or a reconnect.
std::vector<std::string> ValidatorLines(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string ts = "2026-11-25T16:00:00.123456Z ";
    if (i % 500 == 0) {
      out.push_back(ts +
                    "INFO arch_node::titan: Connected to server at titan-public-tcp.test.aws.archnetwork.xyz:3030");
    } else if (i % 500 == 250) {
      out.push_back(ts + "WARN arch_node::titan: Detected disconnection, reconnecting in 5s");
    } else if (i % 97 == 0) {
      out.push_back(ts + "ERROR arch_node::rpc: failed to fetch block 123456: connection reset by peer");
    } else if (i % 2 == 0) {
      out.push_back(ts + "INFO arch_node::runtime: Processing slot " + std::to_string(1000000 + i));
    } else {
      out.push_back(ts + "INFO arch_node::p2p: received 3 transactions from peer 12D3KooWAbCdEf (queue 17)");
    }
  }
  return out;
}

void BM_LogMatcherValidatorRules(benchmark::State& state) {
  auto m = logs::LineMatcher::Compile(ValidatorRules());
  std::vector<std::string> lines = ValidatorLines(10000);
  size_t bytes = 0;
  for (const auto& l : lines) bytes += l.size() + 1;
  TimestampMs t = 0;
  for (auto _ : state) {
    for (const auto& l : lines) (*m)->Apply(l, ++t);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_LogMatcherValidatorRules);

// One run reading a whole 16 MiB backlog (the per-run limit) and saving its position.
void BM_LogCollectorRun(benchmark::State& state) {
  char tmpl[] = "/tmp/vigil-bench.XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/validator.log";
  std::vector<std::string> lines = ValidatorLines(10000);
  std::string block;
  for (const auto& l : lines) block += l + "\n";
  {
    std::ofstream f(path, std::ios::binary);
    while (static_cast<size_t>(f.tellp()) + block.size() <= (16u << 20)) f << block;
  }
  uint64_t size = std::filesystem::file_size(path);
  int64_t line_count = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir + "/state");
    logs::LogCollectorOptions o;
    o.service = "validator";
    o.path = path;
    o.rules = ValidatorRules();
    o.state_dir = dir + "/state";
    auto c = logs::NewLogCollector(std::move(o));
    MetricBatch batch;
    state.ResumeTiming();
    (void)(*c)->Collect({0, {}}, batch);
    line_count = static_cast<int64_t>(batch.Find("vigil_log_lines_total")->samples[0].value);
  }
  state.SetItemsProcessed(state.iterations() * line_count);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_LogCollectorRun)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil
