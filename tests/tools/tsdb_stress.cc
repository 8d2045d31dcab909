// Test helper for the crash test: `tsdb_stress ingest DIR` appends a known
// pattern as fast as it can and prints "committed <t>" after each commit;
// `tsdb_stress verify DIR MIN_T` checks that every series holds the whole
// pattern up to at least MIN_T, with exact values and nothing else.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "base/log.h"
#include "tsdb/tsdb.h"

namespace {

constexpr int kSeries = 50;
constexpr int64_t kStart = 1'700'000'000'000;
constexpr int64_t kStep = 10;  // ms between samples

double Expected(int series, int64_t t) { return static_cast<double>((t - kStart) / kStep) * 0.25 + series; }

vigil::Labels SeriesLabels(int i) { return vigil::Labels{{"__name__", "stress"}, {"series", std::to_string(i)}}; }

vigil::tsdb::Options StoreOptions(const char* dir) {
  vigil::tsdb::Options o;
  o.dir = dir;
  o.block_range = vigil::Duration(5000);  // small, so blocks and checkpoints happen while killed
  o.wal_segment_bytes = 256 << 10;
  return o;
}

int64_t LastTimestamp(vigil::tsdb::DB& db) {
  auto q = db.NewQuerier(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  auto series = q->Select({*vigil::tsdb::Matcher::Make(vigil::tsdb::Matcher::Type::kEqual, "__name__", "stress")});
  int64_t last = kStart - kStep;
  if (!series.ok()) return last;
  // Series are appended together; resume after the lowest last timestamp.
  int64_t lowest = std::numeric_limits<int64_t>::max();
  for (const auto& s : *series) {
    auto it = s->Iterator();
    int64_t l = kStart - kStep;
    while (it->Next()) l = it->t();
    lowest = std::min(lowest, l);
  }
  return series->size() == kSeries ? lowest : last;
}

int Ingest(const char* dir) {
  auto db = vigil::tsdb::DB::Open(StoreOptions(dir));
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().message().c_str());
    return 1;
  }
  int64_t t = LastTimestamp(**db) + kStep;
  auto app = (*db)->NewAppender();
  uint64_t refs[kSeries] = {};
  for (int round = 0;; ++round) {
    for (int k = 0; k < 20; ++k, t += kStep) {
      for (int i = 0; i < kSeries; ++i) {
        auto r = app->Append(refs[i], SeriesLabels(i), t, Expected(i, t));
        if (r.ok()) refs[i] = *r;  // a series already at t (resumed mid-batch) is simply skipped
      }
    }
    if (vigil::Status s = app->Commit(); !s.ok()) {
      std::fprintf(stderr, "commit: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("committed %" PRId64 "\n", t - kStep);
    std::fflush(stdout);
    // After every commit: a child killed within its first rounds (a slow
    // ASan build on a loaded machine) still cuts blocks, and kills land
    // inside persistence and compaction as often as possible.
    (void)(*db)->Maintain(t);
  }
}

int Verify(const char* dir, int64_t min_t) {
  auto o = StoreOptions(dir);
  auto db = vigil::tsdb::DB::Open(o);
  if (!db.ok()) {
    std::printf("FAIL open: %s\n", db.status().message().c_str());
    return 1;
  }
  auto q = (*db)->NewQuerier(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  auto series = q->Select({*vigil::tsdb::Matcher::Make(vigil::tsdb::Matcher::Type::kEqual, "__name__", "stress")});
  if (!series.ok() || (series->size() != kSeries && min_t >= kStart)) {
    std::printf("FAIL: %zu series\n", series.ok() ? series->size() : 0);
    return 1;
  }
  int64_t lowest = std::numeric_limits<int64_t>::max();
  for (const auto& s : *series) {
    int i = std::atoi(std::string(s->labels().Get("series")).c_str());
    auto it = s->Iterator();
    int64_t want = kStart;
    while (it->Next()) {
      if (it->t() != want || it->v() != Expected(i, want)) {
        std::printf("FAIL series %d: got (%" PRId64 ", %g), want (%" PRId64 ", %g)\n", i, it->t(), it->v(), want,
                    Expected(i, want));
        return 1;
      }
      want += kStep;
    }
    if (!it->err().ok()) {
      std::printf("FAIL series %d: %s\n", i, it->err().message().c_str());
      return 1;
    }
    lowest = std::min(lowest, want - kStep);
  }
  if (lowest < min_t) {
    std::printf("FAIL: data ends at %" PRId64 ", but %" PRId64 " was committed before the kill\n", lowest, min_t);
    return 1;
  }
  std::printf("ok %" PRId64 " samples per series, last %" PRId64 "\n", (lowest - kStart) / kStep + 1, lowest);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  vigil::SetLogLevel(vigil::LogLevel::kWarn);
  if (argc == 3 && std::strcmp(argv[1], "ingest") == 0) return Ingest(argv[2]);
  if (argc == 4 && std::strcmp(argv[1], "verify") == 0) return Verify(argv[2], std::atoll(argv[3]));
  std::fprintf(stderr, "usage: tsdb_stress ingest DIR | verify DIR MIN_T\n");
  return 2;
}
