// Benchmarks of the host collection path: collecting node_exporter's default
// metric set from /proc and /sys, and rendering it for /metrics.
//
//   build/bench/vigil_bench --benchmark_min_time=0.5
//
// Every benchmark reports samples/s (series produced or rendered per second).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/time.h"
#include "collect/collector.h"
#include "collect/host/host_collector.h"
#include "collect/scheduler.h"
#include "collect/self/self_collector.h"
#include "config/config.h"
#include "expfmt/expfmt.h"

namespace vigil {
namespace {

// The options `vigil run` uses with the default configuration: node_exporter's
// default excludes, real /proc and /sys.
collect::HostCollectorOptions DefaultOptions() {
  collect::HostCollectorOptions o;
  o.exclude_mountpoints = std::string(config::kDefaultExcludeMountpoints);
  o.exclude_fstypes = std::string(config::kDefaultExcludeFsTypes);
  o.exclude_disks = std::string(config::kDefaultExcludeDisks);
  return o;
}

collect::CollectContext Context(const Clock& clock) {
  return collect::CollectContext{clock.NowMs(), std::chrono::steady_clock::now() + std::chrono::seconds(10)};
}

void SetSampleRate(benchmark::State& state, size_t samples_per_iteration) {
  state.counters["samples"] = static_cast<double>(samples_per_iteration);
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(samples_per_iteration) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void RunCollect(benchmark::State& state, collect::Collector& collector) {
  SystemClock clock;
  size_t samples = 0;
  for (auto _ : state) {
    MetricBatch batch;
    Status s = collector.Collect(Context(clock), batch);
    if (!s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
    samples = batch.sample_count();
    benchmark::DoNotOptimize(batch);
  }
  SetSampleRate(state, samples);
}

// One full host collection, as the scheduler runs it every interval.
void BM_HostCollect(benchmark::State& state) {
  auto collector = collect::NewHostCollector(DefaultOptions());
  RunCollect(state, *collector);
}
BENCHMARK(BM_HostCollect)->Unit(benchmark::kMicrosecond);

// The same against recorded fixtures (tests/testdata/proc, …/sys), so the
// figure does not depend on this machine's disks, mounts and interfaces.
void BM_HostCollectRecorded(benchmark::State& state) {
  const std::string root = VIGIL_TESTDATA_DIR;
  if (!std::filesystem::is_directory(root + "/proc")) {
    state.SkipWithError(("no recorded fixtures in " + root + "/proc").c_str());
    return;
  }
  collect::HostCollectorOptions o = DefaultOptions();
  o.proc_root = root + "/proc";
  o.sys_root = root + "/sys";  // may be absent: network class metrics are then left out
  o.clock_ticks_per_second = 100;
  o.page_size = 4096;
  // Recorded mounts need not exist here: answer statfs without touching the disk.
  o.statfs = [](const std::string&) -> Result<collect::FsUsage> {
    collect::FsUsage u;
    u.size_bytes = 100ull << 30;
    u.free_bytes = 40ull << 30;
    u.avail_bytes = 35ull << 30;
    u.files = 6'000'000;
    u.files_free = 5'000'000;
    return u;
  };
  auto collector = collect::NewHostCollector(std::move(o));
  RunCollect(state, *collector);
}
BENCHMARK(BM_HostCollectRecorded)->Unit(benchmark::kMicrosecond);

// What /metrics serves: one real host batch plus the self batch
// (process_*, vigil_build_info, vigil_collector_*), collected once.
struct ScrapeInput {
  SystemClock clock;
  MetricBatch host;
  MetricBatch self;
  std::vector<const MetricBatch*> batches() const { return {&host, &self}; }
};

std::unique_ptr<ScrapeInput> CollectScrapeInput(std::string* error) {
  auto in = std::make_unique<ScrapeInput>();
  auto host = collect::NewHostCollector(DefaultOptions());
  if (Status s = host->Collect(Context(in->clock), in->host); !s.ok()) {
    *error = s.message();
    return nullptr;
  }
  auto self = collect::NewSelfCollector({"bench", "bench", "bench"});
  if (Status s = self->Collect(Context(in->clock), in->self); !s.ok()) {
    *error = s.message();
    return nullptr;
  }
  // A scheduler that is never started still reports its collectors' metrics.
  std::vector<collect::ScheduledCollector> scheduled;
  scheduled.push_back({std::move(host), Duration(15000), Duration(10000)});
  collect::Scheduler scheduler(in->clock, std::move(scheduled), nullptr);
  scheduler.AppendSelfMetrics(in->self);
  return in;
}

void RunRender(benchmark::State& state, expfmt::Format format) {
  std::string error;
  auto in = CollectScrapeInput(&error);
  if (!in) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::vector<const MetricBatch*> batches = in->batches();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out;
    expfmt::Render(batches, format, &out);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  SetSampleRate(state, in->host.sample_count() + in->self.sample_count());
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}

void BM_RenderText(benchmark::State& state) { RunRender(state, expfmt::Format::kText004); }
BENCHMARK(BM_RenderText)->Unit(benchmark::kMicrosecond);

void BM_RenderOpenMetrics(benchmark::State& state) { RunRender(state, expfmt::Format::kOpenMetrics100); }
BENCHMARK(BM_RenderOpenMetrics)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();
