// Benchmarks of the exposition parser (expfmt/parse.h) over a real
// prometheus-node-exporter 1.5 scrape (tests/testdata/expfmt/node_exporter.prom).
//
//   build/bench/vigil_bench --benchmark_filter=BM_Parse --benchmark_min_time=0.5
//
// Every benchmark reports samples/s and bytes/s.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "expfmt/parse.h"

namespace vigil {
namespace {

std::string ReadScrape() {
  std::ifstream in(std::string(VIGIL_TESTDATA_DIR) + "/expfmt/node_exporter.prom", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The same scrape as OpenMetrics with a timestamp on every sample, the shape
// `vigil tsdb import` reads: counters named without _total (or unknown), # EOF.
std::string ToOpenMetrics(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.starts_with("# TYPE ")) {
      std::string_view rest = line.substr(7);
      std::string_view name = rest.substr(0, rest.find(' '));
      std::string_view type = rest.substr(name.size() + 1);
      if (type == "untyped") type = "unknown";
      if (type == "counter") {
        if (name.ends_with("_total")) {
          name.remove_suffix(6);
        } else {
          type = "unknown";
        }
      }
      out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    } else if (line.starts_with("# HELP ")) {
      continue;  // a HELP line must name the family as TYPE does; leave it out
    } else if (!line.empty()) {
      out.append(line).append(" 1700000000.125\n");
    }
  }
  return out + "# EOF\n";
}

template <bool kMaterializeLabels>
void ParseLoop(benchmark::State& state, const std::string& input, expfmt::Format format) {
  if (input.empty()) {
    state.SkipWithError("tests/testdata/expfmt/node_exporter.prom is missing");
    return;
  }
  size_t samples = 0;
  for (auto _ : state) {
    expfmt::TextParser p(input, format);
    size_t n = 0;
    for (auto e = p.Next(); e != expfmt::TextParser::kEnd; e = p.Next()) {
      if (e == expfmt::TextParser::kError) {
        state.SkipWithError(p.status().message().c_str());
        return;
      }
      if (e != expfmt::TextParser::kSample) continue;
      ++n;
      benchmark::DoNotOptimize(p.name().data());
      benchmark::DoNotOptimize(p.value());
      if constexpr (kMaterializeLabels) {
        benchmark::DoNotOptimize(p.labels().size());
      } else {
        benchmark::DoNotOptimize(p.label_list().data());
      }
    }
    samples = n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["samples_per_scrape"] = static_cast<double>(samples);
}

// The scrape path: names, values and labels read in place, nothing allocated.
void BM_ParseText(benchmark::State& state) {
  static const std::string input = ReadScrape();
  ParseLoop<false>(state, input, expfmt::Format::kText004);
}
BENCHMARK(BM_ParseText);

// As above, plus a Labels value built for every sample (what an appender keying
// series by Labels pays).
void BM_ParseTextLabels(benchmark::State& state) {
  static const std::string input = ReadScrape();
  ParseLoop<true>(state, input, expfmt::Format::kText004);
}
BENCHMARK(BM_ParseTextLabels);

// The import path: OpenMetrics with float-second timestamps.
void BM_ParseOpenMetrics(benchmark::State& state) {
  static const std::string input = [] {
    std::string text = ReadScrape();
    return text.empty() ? text : ToOpenMetrics(text);
  }();
  ParseLoop<false>(state, input, expfmt::Format::kOpenMetrics100);
}
BENCHMARK(BM_ParseOpenMetrics);

}  // namespace
}  // namespace vigil
