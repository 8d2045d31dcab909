// Benchmarks of vigil's time-series store (src/tsdb): appending, reading a
// block back, and the head's memory per series.
//
//   build/bench/vigil_bench --benchmark_filter=BM_Append\|BM_Range\|BM_HeadMemory
//
// Every store lives in its own directory under /tmp, removed afterwards. The
// setup of each benchmark is bounded (well under 30 s on a loaded 2-CPU VM).
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/log.h"
#include "base/time.h"
#include "tsdb/matcher.h"
#include "tsdb/tsdb.h"

namespace vigil {
namespace {

constexpr int64_t kBlockRangeMs = 2LL * 3600 * 1000;

// A fresh directory under /tmp for one store; removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-tsdb-bench.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The start of the 2 h block before the current one: every benchmark's data
// lies in one block range, recent enough for retention, old enough to be done.
TimestampMs PreviousBlockStart() {
  TimestampMs now = SystemClock().NowMs();
  return (now / kBlockRangeMs - 1) * kBlockRangeMs;
}

// Label sets shaped like host metrics: 100 metric names, a job, an instance and
// an id that makes each series unique.
std::vector<Labels> MakeLabels(size_t n) {
  std::vector<Labels> out;
  out.reserve(n);
  char name[48], instance[48], id[24];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(name, sizeof name, "bench_metric_%02zu_total", i % 100);
    std::snprintf(instance, sizeof instance, "host-%03zu.example.org:9100", (i / 100) % 1000);
    std::snprintf(id, sizeof id, "%zu", i);
    out.push_back(Labels{{"__name__", name}, {"id", id}, {"instance", instance}, {"job", "node"}});
  }
  return out;
}

// Per-series values: half counters increasing irregularly (integer counts),
// half gauges random-walking with 2-decimal values (as in
// bench/gen_datasets.py). The random steps are drawn up front (kRows rows of
// one step per series, used in turn) so that Next() costs an add and a
// divide, not a random draw, inside the timed loops.
class Values {
 public:
  static constexpr size_t kRows = 64;
  Values(size_t n, uint32_t seed) : n_(n), cents_(n), delta_(kRows * n) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    for (size_t i = 0; i < n; ++i) {
      double level = 1 + u(rng) * 100000;
      bool counter = i % 2 == 0;
      cents_[i] = counter ? 0 : static_cast<int64_t>(level * 100);
      double step = counter ? level / 1000 : level * 0.5 + 1;  // counters: events; gauges: cents
      for (size_t r = 0; r < kRows; ++r) {
        int64_t d = 0;
        if (counter) {
          if (u(rng) >= 0.3) d = 100 * static_cast<int64_t>(std::floor(-std::log(1 - u(rng)) * step + 0.5));
        } else if (u(rng) >= 0.4) {
          d = static_cast<int64_t>(std::llround((u(rng) - 0.5) * step));
        }
        delta_[r * n + i] = d;
      }
    }
  }
  // The value of series i at scrape k (call with k = 0, 1, 2, ... per series).
  double Next(size_t i, size_t k) {
    int64_t& c = cents_[i];
    c = std::max<int64_t>(0, c + delta_[(k % kRows) * n_ + i]);
    return static_cast<double>(c) / 100;
  }

 private:
  size_t n_;
  std::vector<int64_t> cents_;
  std::vector<int64_t> delta_;
};

std::unique_ptr<tsdb::DB> OpenOrDie(const std::string& dir, benchmark::State& state) {
  tsdb::Options o;
  o.dir = dir;
  o.wal_fsync = Duration(1000);
  auto db = tsdb::DB::Open(o);
  if (!db.ok()) {
    state.SkipWithError(db.status().message().c_str());
    return nullptr;
  }
  return std::move(*db);
}

uint64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Bytes the allocator has handed out and not taken back (all arenas, plus
// mmapped blocks): the memory the program really allocated, without the free
// space and fragmentation that RSS also counts.
uint64_t HeapBytes() {
  struct mallinfo2 mi = ::mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void QuietLogs() { SetLogLevel(LogLevel::kWarn); }

// One appender, 10k series whose refs are cached after the first scrape; each
// iteration appends one sample to every series (one "scrape" of 10k samples)
// and commits. The WAL is written (group fsync every 1 s, the default), so
// this is the full ingest path of `vigil run`, not the head alone.
// Arg 1: pass the labels with the ref, as collect::StorageSink does (the
// appender then checks they match); arg 0: the ref alone.
void BM_AppendThroughput(benchmark::State& state) {
  QuietLogs();
  constexpr size_t kSeries = 10000;
  const bool with_labels = state.range(0) != 0;
  TempDir dir;
  auto db = OpenOrDie(dir.path(), state);
  if (!db) return;
  std::vector<Labels> labels = MakeLabels(kSeries);
  std::vector<tsdb::SeriesRef> refs(kSeries, 0);
  Values values(kSeries, 42);
  TimestampMs t = PreviousBlockStart();
  auto app = db->NewAppender();
  for (size_t i = 0; i < kSeries; ++i) {  // first scrape: creates the series
    auto r = app->Append(0, labels[i], t, values.Next(i, 0));
    if (!r.ok()) {
      state.SkipWithError(r.status().message().c_str());
      return;
    }
    refs[i] = *r;
  }
  if (Status s = app->Commit(); !s.ok()) {
    state.SkipWithError(s.message().c_str());
    return;
  }
  const Labels none;
  int64_t k = 0;
  for (auto _ : state) {
    ++k;
    TimestampMs ts = t + k * 1000 + (k * 7) % 5;  // 1 s scrapes with a few ms of jitter
    for (size_t i = 0; i < kSeries; ++i) {
      auto r = app->Append(refs[i], with_labels ? labels[i] : none, ts, values.Next(i, static_cast<size_t>(k)));
      if (!r.ok()) {
        state.SkipWithError(r.status().message().c_str());
        return;
      }
    }
    if (Status s = app->Commit(); !s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
  }
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(kSeries) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  app.reset();
  (void)db->Close();
}
// samples/s is per CPU second of the appending thread (Google Benchmark's CPU
// time); the wall-clock rate is lower on a shared machine.
BENCHMARK(BM_AppendThroughput)->ArgName("labels")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

// Every sample of the series `matcher` selects in [mint, maxt], read through
// Select and Iterator() as queries do; returns how many.
Result<uint64_t> ReadEverySample(tsdb::DB& db, TimestampMs mint, TimestampMs maxt, const tsdb::Matcher& matcher) {
  auto q = db.NewQuerier(mint, maxt);
  auto sel = q->Select({matcher});
  if (!sel.ok()) return sel.status();
  uint64_t count = 0;
  double sum = 0;
  TimestampMs last = 0;
  for (const auto& s : *sel) {
    auto it = s->Iterator();
    while (it->Next()) {
      sum += it->v();
      last = it->t();
      ++count;
    }
    if (Status st = it->err(); !st.ok()) return st;
  }
  benchmark::DoNotOptimize(sum);
  benchmark::DoNotOptimize(last);
  return count;
}

// Reads back N series x 2 h at 1 s (7,200 samples each) from one block written
// by ImportSeries: NewQuerier + Select + every sample through Iterator().
void BM_RangeReadDecode(benchmark::State& state) {
  QuietLogs();
  const size_t n = static_cast<size_t>(state.range(0));
  constexpr size_t kSamples = 7200;
  TempDir dir;
  auto db = OpenOrDie(dir.path(), state);
  if (!db) return;
  const TimestampMs start = PreviousBlockStart() - kBlockRangeMs;
  std::vector<tsdb::SeriesSamples> series;
  {
    std::vector<Labels> labels = MakeLabels(n);
    Values values(n, 7);
    series.resize(n);
    for (size_t i = 0; i < n; ++i) {
      series[i].labels = labels[i];
      series[i].t.reserve(kSamples);
      series[i].v.reserve(kSamples);
    }
    std::mt19937 jitter(3);
    for (size_t k = 0; k < kSamples; ++k) {
      TimestampMs ts = start + 500 + static_cast<TimestampMs>(k) * 1000 + static_cast<TimestampMs>(jitter() % 7) - 3;
      for (size_t i = 0; i < n; ++i) {
        series[i].t.push_back(ts);
        series[i].v.push_back(values.Next(i, k));
      }
    }
  }
  auto blocks = db->ImportSeries(std::move(series), nullptr);
  if (!blocks.ok()) {
    state.SkipWithError(blocks.status().message().c_str());
    return;
  }
  auto matcher = tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "job", "node");
  uint64_t total = 0;
  for (auto _ : state) {
    auto count = ReadEverySample(*db, start, start + kBlockRangeMs - 1, *matcher);
    if (!count.ok()) {
      state.SkipWithError(count.status().message().c_str());
      return;
    }
    total += *count;
    if (*count != n * kSamples) {
      state.SkipWithError("read back a different number of samples than written");
      return;
    }
  }
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
  uint64_t bytes = 0;
  for (const auto& b : *blocks) bytes += b.size_bytes;
  state.counters["block_bytes/sample"] = static_cast<double>(bytes) / static_cast<double>(n * kSamples);
  (void)db->Close();
}
BENCHMARK(BM_RangeReadDecode)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// Appends `samples` scrapes of `series` series at `interval_ms` (plus a few
// ms of jitter) into a fresh store, scrape by scrape, committing every 10k
// samples, and reports the RSS growth (/proc/self/statm, after malloc_trim so
// freed commit buffers do not count) divided by the series count.
// Reads back the head: 1k series x 2 h at 1 s, appended as scrapes (so 60
// full chunks per series in head_chunks/ and an open one), then each iteration
// reads the last `window_s` seconds of every series through NewQuerier +
// Select + Iterator(). Arg 7200: the whole head; 300: the last 5 minutes, as
// alerting rules read it.
void BM_HeadRangeRead(benchmark::State& state) {
  QuietLogs();
  constexpr size_t kSeries = 1000, kSamples = 7200;
  const int64_t window_ms = state.range(0) * 1000;
  TempDir dir;
  auto db = OpenOrDie(dir.path(), state);
  if (!db) return;
  std::vector<Labels> labels = MakeLabels(kSeries);
  std::vector<tsdb::SeriesRef> refs(kSeries, 0);
  Values values(kSeries, 5);
  const TimestampMs start = PreviousBlockStart();
  auto app = db->NewAppender();
  for (size_t k = 0; k < kSamples; ++k) {
    TimestampMs ts = start + 500 + static_cast<TimestampMs>(k) * 1000;
    for (size_t i = 0; i < kSeries; ++i) {
      auto r = app->Append(refs[i], labels[i], ts, values.Next(i, k));
      if (!r.ok()) {
        state.SkipWithError(r.status().message().c_str());
        return;
      }
      refs[i] = *r;
    }
    if (k % 10 == 9 && !app->Commit().ok()) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  if (!app->Commit().ok()) {
    state.SkipWithError("commit failed");
    return;
  }
  app.reset();
  const TimestampMs end = start + kBlockRangeMs - 1;
  auto matcher = tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "job", "node");
  uint64_t total = 0;
  for (auto _ : state) {
    auto count = ReadEverySample(*db, end - window_ms + 1, end, *matcher);
    if (!count.ok()) {
      state.SkipWithError(count.status().message().c_str());
      return;
    }
    total += *count;
    if (*count != kSeries * static_cast<uint64_t>(window_ms / 1000)) {
      state.SkipWithError("read back a different number of samples than written");
      return;
    }
  }
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
  (void)db->Close();
}
BENCHMARK(BM_HeadRangeRead)->ArgName("window_s")->Arg(7200)->Arg(300)->Unit(benchmark::kMillisecond);

void MeasureHeadMemory(benchmark::State& state, size_t series, size_t samples, int64_t interval_ms,
                       TimestampMs start_offset = 0) {
  QuietLogs();
  constexpr size_t kCommitEvery = 10000;
  TempDir dir;
  std::vector<Labels> labels = MakeLabels(series);
  std::vector<tsdb::SeriesRef> refs(series, 0);
  Values values(series, 11);
  auto db = OpenOrDie(dir.path(), state);
  if (!db) return;
  const TimestampMs start = PreviousBlockStart() + start_offset;
  for (auto _ : state) {
    ::malloc_trim(0);
    const uint64_t rss0 = RssBytes();
    const uint64_t heap0 = HeapBytes();
    auto app = db->NewAppender();
    size_t pending = 0;
    const double cpu0 = ThreadCpuSeconds();
    for (size_t k = 0; k < samples; ++k) {
      TimestampMs ts = start + 1000 + static_cast<TimestampMs>(k) * interval_ms + static_cast<TimestampMs>(k % 5);
      for (size_t i = 0; i < series; ++i) {
        auto r = app->Append(refs[i], labels[i], ts, values.Next(i, k));
        if (!r.ok()) {
          state.SkipWithError(r.status().message().c_str());
          return;
        }
        refs[i] = *r;
        if (++pending == kCommitEvery) {
          if (Status s = app->Commit(); !s.ok()) {
            state.SkipWithError(s.message().c_str());
            return;
          }
          pending = 0;
        }
      }
    }
    if (Status s = app->Commit(); !s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
    app.reset();
    const double secs = ThreadCpuSeconds() - cpu0;
    ::malloc_trim(0);
    const uint64_t rss1 = RssBytes();
    const uint64_t heap1 = HeapBytes();
    tsdb::Stats st = db->GetStats();
    // RSS growth, the figure the target was set on, and the heap in use
    // (mallinfo2), which fragmentation and page granularity do not blur.
    state.counters["bytes_per_series"] =
        static_cast<double>(rss1 > rss0 ? rss1 - rss0 : 0) / static_cast<double>(series);
    state.counters["heap_bytes_per_series"] =
        static_cast<double>(heap1 > heap0 ? heap1 - heap0 : 0) / static_cast<double>(series);
    state.counters["rss_growth_MiB"] = static_cast<double>(rss1 > rss0 ? rss1 - rss0 : 0) / (1 << 20);
    state.counters["head_series"] = static_cast<double>(st.head_series);
    state.counters["head_chunks"] = static_cast<double>(st.head_chunks);
    state.counters["head_span_h"] = static_cast<double>(st.head_max_time - st.head_min_time) / 3.6e6;
    state.counters["append_samples/cpu_s"] = static_cast<double>(series * samples) / secs;
  }
  (void)db->Close();
}

// Head memory: 100k series x 120 samples at 15 s (one full chunk each). Run once.
void BM_HeadMemoryPerSeries(benchmark::State& state) { MeasureHeadMemory(state, 100000, 120, 15000); }
BENCHMARK(BM_HeadMemoryPerSeries)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Head memory at steady state: the head spans 1-3 h before its oldest range
// becomes a block, so this fills 2 h and half a chunk, leaving full chunks in
// head_chunks/ (one record each in memory) and a half-full open chunk.
// Arg: the scrape interval in seconds (10k series at 15 s, 1k at 1 s, to
// bound the setup). Run once.
void BM_HeadMemorySteadyState(benchmark::State& state) {
  const int64_t interval_s = state.range(0);
  const size_t samples = static_cast<size_t>(2 * 3600 / interval_s + 60);
  MeasureHeadMemory(state, interval_s >= 15 ? 10000 : 1000, samples, interval_s * 1000);
}
BENCHMARK(BM_HeadMemorySteadyState)
    ->ArgName("interval_s")
    ->Arg(15)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The peak of the steady state: the head spans just under 3 h (1.5 block
// ranges) right before its oldest range becomes a block. It starts a block
// range earlier, so it ends no later than the run above. Arg as above.
void BM_HeadMemoryBeforeBlockCut(benchmark::State& state) {
  const int64_t interval_s = state.range(0);
  const size_t samples = static_cast<size_t>(3 * 3600 / interval_s - 2);
  MeasureHeadMemory(state, interval_s >= 15 ? 10000 : 1000, samples, interval_s * 1000, -kBlockRangeMs);
}
BENCHMARK(BM_HeadMemoryBeforeBlockCut)
    ->ArgName("interval_s")
    ->Arg(15)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace vigil
