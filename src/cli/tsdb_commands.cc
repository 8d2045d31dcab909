#include "cli/tsdb_commands.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "expfmt/expfmt.h"
#include "expfmt/parse.h"
#include "promql/ast.h"
#include "tsdb/tsdb.h"

namespace vigil::cli {
namespace {

std::string StoreDir(const std::string& data_dir) { return data_dir + "/tsdb"; }

// Opens a store read-only (also beside a running vigil); prints why not.
std::unique_ptr<tsdb::DB> OpenReadOnly(const std::string& data_dir) {
  SetLogLevel(LogLevel::kWarn);
  tsdb::Options o;
  o.dir = StoreDir(data_dir);
  o.read_only = true;
  auto db = tsdb::DB::Open(o);
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().message().c_str());
    return nullptr;
  }
  return std::move(*db);
}

void PrintProgress(const char* what, double fraction) {
  if (!::isatty(STDOUT_FILENO)) return;
  int width = 40;
  int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width);
  std::printf("\r%-10s [%s%s] %3d%%", what, std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(),
              static_cast<int>(fraction * 100));
  std::fflush(stdout);
}

}  // namespace

int TsdbImport(const std::string& data_dir, const std::string& file) {
  SetLogLevel(LogLevel::kWarn);
  Result<std::string> text = ReadFile(file, 64ULL << 30);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", text.status().message().c_str());
    return 1;
  }
  // promtool's backfill input is OpenMetrics, which ends with "# EOF"; plain
  // text 0.0.4 (with timestamps) is accepted too.
  std::string_view trimmed = Trim(*text);
  bool open_metrics = trimmed.size() >= 5 && trimmed.substr(trimmed.size() - 5) == "# EOF";
  expfmt::TextParser parser(*text, open_metrics ? expfmt::Format::kOpenMetrics100 : expfmt::Format::kText004);
  std::map<Labels, tsdb::SeriesSamples> series;
  uint64_t samples = 0;
  const double total_lines = static_cast<double>(std::max<size_t>(1, std::count(text->begin(), text->end(), '\n')));
  size_t next_report = 0;
  for (auto e = parser.Next(); e != expfmt::TextParser::kEnd; e = parser.Next()) {
    if (e == expfmt::TextParser::kError) {
      std::fprintf(stderr, "%s: %s\n", file.c_str(), parser.status().message().c_str());
      return 1;
    }
    if (e != expfmt::TextParser::kSample) continue;
    if (!parser.timestamp_ms()) {
      std::fprintf(stderr, "%s: line %zu: sample without a timestamp (backfill needs one on every sample)\n",
                   file.c_str(), parser.line());
      return 1;
    }
    Labels labels = parser.labels();
    labels.Set("__name__", parser.name());
    tsdb::SeriesSamples& s = series[labels];
    if (s.labels.empty()) s.labels = labels;
    s.t.push_back(*parser.timestamp_ms());
    s.v.push_back(parser.value());
    ++samples;
    if (samples >= next_report) {
      next_report = samples + 100000;
      PrintProgress("parsing", static_cast<double>(parser.line()) / total_lines);
    }
  }
  std::vector<tsdb::SeriesSamples> all;
  all.reserve(series.size());
  uint64_t dropped = 0;
  for (auto& entry : series) {
    tsdb::SeriesSamples& s = entry.second;
    // Sort by time; a repeated timestamp keeps the first value, as promtool's backfill does.
    std::vector<size_t> order(s.t.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.t[a] < s.t[b]; });
    tsdb::SeriesSamples sorted;
    sorted.labels = s.labels;
    for (size_t i : order) {
      if (!sorted.t.empty() && sorted.t.back() == s.t[i]) {
        ++dropped;
        continue;
      }
      sorted.t.push_back(s.t[i]);
      sorted.v.push_back(s.v[i]);
    }
    all.push_back(std::move(sorted));
  }
  tsdb::Options o;
  o.dir = StoreDir(data_dir);
  auto db = tsdb::DB::Open(o);
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().message().c_str());
    return 1;
  }
  auto blocks = (*db)->ImportSeries(std::move(all), [](double f) { PrintProgress("writing", f); });
  if (::isatty(STDOUT_FILENO)) std::printf("\n");
  if (!blocks.ok()) {
    std::fprintf(stderr, "import failed: %s\n", blocks.status().message().c_str());
    return 1;
  }
  uint64_t bytes = 0;
  for (const auto& b : *blocks) bytes += b.size_bytes;
  std::printf("imported %llu samples of %zu series into %zu blocks (%llu bytes, %.3f bytes/sample)%s\n",
              static_cast<unsigned long long>(samples - dropped), series.size(), blocks->size(),
              static_cast<unsigned long long>(bytes),
              samples > dropped ? static_cast<double>(bytes) / static_cast<double>(samples - dropped) : 0.0,
              dropped ? (", " + std::to_string(dropped) + " samples with a repeated timestamp dropped").c_str() : "");
  Status s = (*db)->Close();
  return s.ok() ? 0 : 1;
}

int TsdbStats(const std::string& data_dir, bool json) {
  auto db = OpenReadOnly(data_dir);
  if (!db) return 1;
  tsdb::Stats st = db->GetStats();
  uint64_t block_samples = 0;
  for (const auto& b : st.blocks) block_samples += b.num_samples;
  // Series: distinct label sets across head and blocks.
  auto q = db->NewQuerier(std::numeric_limits<TimestampMs>::min(), std::numeric_limits<TimestampMs>::max());
  auto all = q->Select({*tsdb::Matcher::Make(tsdb::Matcher::Type::kRegexMatch, "__name__", ".+")});
  uint64_t series = all.ok() ? all->size() : 0;
  uint64_t samples = block_samples + st.head_samples;
  uint64_t bytes = st.blocks_bytes + st.wal_bytes;
  double bps = block_samples ? static_cast<double>(st.blocks_bytes) / static_cast<double>(block_samples) : 0;
  if (json) {
    nlohmann::json j = {{"series", series},
                        {"samples", samples},
                        {"headSeries", st.head_series},
                        {"headSamples", st.head_samples},
                        {"blockSamples", block_samples},
                        {"bytes", bytes},
                        {"blockBytes", st.blocks_bytes},
                        {"walBytes", st.wal_bytes},
                        {"blockBytesPerSample", bps},
                        {"blocks", nlohmann::json::array()}};
    for (const auto& b : st.blocks) {
      j["blocks"].push_back({{"id", b.id},
                             {"minTime", b.min_time},
                             {"maxTime", b.max_time},
                             {"series", b.num_series},
                             {"samples", b.num_samples},
                             {"bytes", b.size_bytes},
                             {"level", b.level}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("storage:       %s\n", StoreDir(data_dir).c_str());
  std::printf("series:        %llu (head %llu)\n", static_cast<unsigned long long>(series),
              static_cast<unsigned long long>(st.head_series));
  std::printf("samples:       %llu (blocks %llu, head %llu)\n", static_cast<unsigned long long>(samples),
              static_cast<unsigned long long>(block_samples), static_cast<unsigned long long>(st.head_samples));
  std::printf("bytes on disk: %llu (blocks %llu, WAL %llu)\n", static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(st.blocks_bytes), static_cast<unsigned long long>(st.wal_bytes));
  std::printf("bytes/sample:  %.3f (blocks)\n\n", bps);
  std::printf("%-44s %-24s %-24s %8s %12s %12s %9s %5s\n", "BLOCK", "MIN TIME", "MAX TIME", "SERIES", "SAMPLES",
              "BYTES", "B/SAMPLE", "LEVEL");
  for (const auto& b : st.blocks) {
    std::printf("%-44s %-24s %-24s %8llu %12llu %12llu %9.3f %5d\n", b.id.c_str(), FormatTime(b.min_time).c_str(),
                FormatTime(b.max_time).c_str(), static_cast<unsigned long long>(b.num_series),
                static_cast<unsigned long long>(b.num_samples), static_cast<unsigned long long>(b.size_bytes),
                b.num_samples ? static_cast<double>(b.size_bytes) / static_cast<double>(b.num_samples) : 0.0, b.level);
  }
  return 0;
}

int TsdbDump(const std::string& data_dir, const std::string& selector, const std::string& from, const std::string& to) {
  auto matchers = promql::ParseMetricSelector(selector);
  if (!matchers.ok()) {
    std::fprintf(stderr, "--match %s: %s\n", selector.c_str(), matchers.status().message().c_str());
    return 1;
  }
  TimestampMs mint = std::numeric_limits<TimestampMs>::min(), maxt = std::numeric_limits<TimestampMs>::max();
  if (!from.empty()) {
    auto t = ParseTime(from);
    if (!t.ok()) {
      std::fprintf(stderr, "--from: %s\n", t.status().message().c_str());
      return 1;
    }
    mint = *t;
  }
  if (!to.empty()) {
    auto t = ParseTime(to);
    if (!t.ok()) {
      std::fprintf(stderr, "--to: %s\n", t.status().message().c_str());
      return 1;
    }
    maxt = *t;
  }
  auto db = OpenReadOnly(data_dir);
  if (!db) return 1;
  auto series = db->NewQuerier(mint, maxt)->Select(*matchers);
  if (!series.ok()) {
    std::fprintf(stderr, "%s\n", series.status().message().c_str());
    return 1;
  }
  std::string line;
  for (const auto& s : *series) {
    std::string labels = s->labels().ToString();
    auto it = s->Iterator();
    while (it->Next()) {
      line = labels;
      line += ' ';
      expfmt::AppendValue(it->v(), &line);
      line += ' ';
      line += std::to_string(it->t());
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
    if (Status err = it->err(); !err.ok()) {
      std::fprintf(stderr, "reading %s: %s\n", labels.c_str(), err.message().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace vigil::cli
