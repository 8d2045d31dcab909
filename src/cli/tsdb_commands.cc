#include "cli/tsdb_commands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

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

// "\rparsing    [#####      ]  42%  2.61 M samples/s  0:12 left", on a TTY only.
class ProgressLine {
 public:
  explicit ProgressLine(const char* what) : what_(what), start_(std::chrono::steady_clock::now()) {}
  void Update(double fraction, uint64_t samples) {
    if (!tty_) return;
    fraction = std::clamp(fraction, 0.0, 1.0);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    int width = 30;
    int filled = static_cast<int>(fraction * width);
    std::string left = "--:--";
    if (fraction > 0.001 && elapsed > 0.5) {
      int secs = static_cast<int>(elapsed * (1 - fraction) / fraction);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%d:%02d", secs / 60, secs % 60);
      left = buf;
    }
    std::printf("\r%-8s [%s%s] %3d%%  %6.2f M samples/s  %s left ", what_, std::string(filled, '#').c_str(),
                std::string(width - filled, ' ').c_str(), static_cast<int>(fraction * 100),
                elapsed > 0 ? static_cast<double>(samples) / elapsed / 1e6 : 0.0, left.c_str());
    std::fflush(stdout);
  }
  void Done() {
    if (tty_) std::printf("\n");
  }

 private:
  const char* what_;
  const std::chrono::steady_clock::time_point start_;
  const bool tty_ = ::isatty(STDOUT_FILENO) != 0;
};

// The series of a parsed sample as one string: its name, then each label as
// name '=' length value (names hold neither '=' nor NUL, so keys are unambiguous).
void SeriesKey(const expfmt::TextParser& parser, std::string* key) {
  key->assign(parser.name());
  for (const Label& l : parser.label_list()) {
    key->push_back('\0');
    key->append(l.name);
    key->push_back('=');
    uint32_t n = static_cast<uint32_t>(l.value.size());
    key->append(reinterpret_cast<const char*>(&n), sizeof n);
    key->append(l.value);
  }
}

// Finds the import's number for each parsed sample's series. A dump lists its
// series in the same order at every timestamp, so the series that followed
// the previous one last time is expected next: the parser compares its label
// text and skips parsing it when it is the same (no key, no hash).
class SeriesNumbers {
 public:
  explicit SeriesNumbers(tsdb::Import& import) : import_(import) {}

  Result<uint32_t> Of(expfmt::TextParser& parser) {
    size_t guess = current_ < seen_.size() ? seen_[current_].next : kNone;
    if (guess != kNone && (parser.as_expected() || seen_[guess].Is(parser))) {
      current_ = guess;
      ExpectNext(parser);
      return seen_[current_].number;
    }
    SeriesKey(parser, &key_);
    auto it = index_.find(key_);
    if (it == index_.end()) {
      Labels labels = parser.labels();
      labels.Set("__name__", parser.name());
      Result<uint32_t> number = import_.AddSeries(labels);
      if (!number.ok()) return number.status();
      Seen& added = seen_.emplace_back();
      added.name = parser.name();
      added.labels.assign(parser.label_list().begin(), parser.label_list().end());
      added.label_text = parser.label_text();
      added.number = *number;
      it = index_.emplace(key_, seen_.size() - 1).first;
    }
    if (current_ < seen_.size()) seen_[current_].next = it->second;
    current_ = it->second;
    ExpectNext(parser);
    return seen_[current_].number;
  }

  size_t size() const { return seen_.size(); }

 private:
  static constexpr size_t kNone = SIZE_MAX;
  struct Seen {
    std::string name;
    std::vector<Label> labels;
    std::string label_text;  // as first written
    uint32_t number = 0;
    size_t next = kNone;  // the series that came after this one last time
    bool Is(const expfmt::TextParser& parser) const {
      auto list = parser.label_list();
      return parser.name() == name && std::equal(list.begin(), list.end(), labels.begin(), labels.end());
    }
  };
  void ExpectNext(expfmt::TextParser& parser) const {
    const size_t next = seen_[current_].next;
    if (next == kNone) {
      parser.Expect({}, {}, {});  // nothing to expect: an old hint would name another series
      return;
    }
    parser.Expect(seen_[next].name, seen_[next].label_text, seen_[next].labels);
  }

  tsdb::Import& import_;
  std::vector<Seen> seen_;
  std::unordered_map<std::string, size_t> index_;
  std::string key_;
  size_t current_ = kNone;
};

}  // namespace

// One pass over the file, mapped and released as it is read: each sample is
// handed to the store's import, which spills it per block window; memory
// follows the number of series, not the size of the file.
int TsdbImport(const std::string& data_dir, const std::string& file) {
  SetLogLevel(LogLevel::kWarn);
  Result<MappedFile> mapped = MappedFile::Open(file);
  if (!mapped.ok()) {
    std::fprintf(stderr, "%s\n", mapped.status().message().c_str());
    return 1;
  }
  std::string_view text = mapped->view();
  tsdb::Options o;
  o.dir = StoreDir(data_dir);
  auto db = tsdb::DB::Open(o);
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().message().c_str());
    return 1;
  }
  Result<std::unique_ptr<tsdb::Import>> import = (*db)->NewImport();
  if (!import.ok()) {
    std::fprintf(stderr, "%s\n", import.status().message().c_str());
    return 1;
  }
  // promtool's backfill input is OpenMetrics, which ends with "# EOF"; plain
  // text 0.0.4 (with timestamps) is accepted too.
  std::string_view trimmed = Trim(text);
  bool open_metrics = trimmed.size() >= 5 && trimmed.substr(trimmed.size() - 5) == "# EOF";
  expfmt::TextParser parser(text, open_metrics ? expfmt::Format::kOpenMetrics100 : expfmt::Format::kText004);
  SeriesNumbers numbers(**import);
  uint64_t samples = 0, next_report = 0;
  size_t released = 0;
  ProgressLine parsing("parsing");
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
    Result<uint32_t> number = numbers.Of(parser);
    if (!number.ok()) {
      std::fprintf(stderr, "%s: line %zu: %s\n", file.c_str(), parser.line(), number.status().message().c_str());
      return 1;
    }
    if (Status s = (*import)->Add(*number, *parser.timestamp_ms(), parser.value()); !s.ok()) {
      std::fprintf(stderr, "import failed: %s\n", s.message().c_str());
      return 1;
    }
    if (++samples >= next_report) {
      next_report = samples + 100000;
      parsing.Update(static_cast<double>(parser.offset()) / static_cast<double>(std::max<size_t>(1, text.size())),
                     samples);
      // What is parsed is not read again: give its pages back (keeping a
      // margin for the line in progress).
      if (parser.offset() > released + (16 << 20)) {
        released = parser.offset() - (1 << 20);
        mapped->ReleaseBefore(released);
      }
    }
  }
  parsing.Update(1.0, samples);
  parsing.Done();
  mapped->ReleaseBefore(text.size());
  ProgressLine writing("writing");
  Result<tsdb::ImportSummary> summary =
      (*import)->Finish([&](double f) { writing.Update(f, static_cast<uint64_t>(f * static_cast<double>(samples))); });
  writing.Done();
  if (!summary.ok()) {
    std::fprintf(stderr, "import failed: %s\n", summary.status().message().c_str());
    return 1;
  }
  uint64_t bytes = 0;
  for (const auto& b : summary->blocks) bytes += b.size_bytes;
  std::printf("imported %llu samples of %zu series into %zu blocks (%llu bytes, %.3f bytes/sample)%s\n",
              static_cast<unsigned long long>(summary->samples), numbers.size(), summary->blocks.size(),
              static_cast<unsigned long long>(bytes),
              summary->samples ? static_cast<double>(bytes) / static_cast<double>(summary->samples) : 0.0,
              summary->repeats
                  ? (", " + std::to_string(summary->repeats) + " samples with a repeated timestamp dropped").c_str()
                  : "");
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
