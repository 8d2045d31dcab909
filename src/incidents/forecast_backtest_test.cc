// Backtests of the capacity forecast against PromQL's predict_linear over the
// same window: generated histories whose future is known (so the true days to
// full is), and the recorded node_exporter data in tests/testdata. Prints the
// per-case table that docs/capacity.md records.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "incidents/forecast.h"

namespace vigil::incidents {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kDay = 86400;
constexpr double kHistoryDays = 30;
constexpr double kWindow = 7 * kDay;      // predict_linear's window = the forecast's estimate horizon
constexpr double kNeverDays = 5 * 365.0;  // "never" counts as this far away when measuring errors
constexpr double kCapacityGiB = 1000;

struct Case {
  std::string name;
  bool step_or_sawtooth;
  std::function<double(double day)> used_gib;  // the truth, past and future
  double noise_gib = 0;                        // added to the history only
};

double ToDays(const std::optional<double>& seconds) { return seconds ? *seconds / kDay : kNeverDays; }

// First day after `now_day` when the true usage reaches the capacity (10-minute steps).
double TrueDaysToFull(const Case& c, double now_day) {
  for (double d = now_day; d <= now_day + kNeverDays; d += 1.0 / 144) {
    if (c.used_gib(d) >= kCapacityGiB) return d - now_day;
  }
  return kNeverDays;
}

struct Row {
  std::string name;
  double truth = 0, vigil = 0, vigil_low = 0, vigil_high = 0, linear = 0;
  double vigil_error() const { return std::fabs(vigil - truth); }
  double linear_error() const { return std::fabs(linear - truth); }
};

Row Backtest(const Case& c) {
  std::mt19937 rng(42);
  std::normal_distribution<double> noise(0, 1);
  std::vector<UsagePoint> history;  // hourly, as the 1 h downsampled history reads
  for (double h = 0; h <= kHistoryDays * 24; h += 1) {
    double used = c.used_gib(h / 24) + (c.noise_gib > 0 ? c.noise_gib * noise(rng) : 0);
    history.push_back({1.8e9 + h * 3600, used * kGiB});
  }
  auto f = ForecastUsage(history, kCapacityGiB * kGiB);
  EXPECT_TRUE(f.ok()) << c.name << ": " << f.status().message();
  Row r{c.name};
  r.truth = TrueDaysToFull(c, kHistoryDays);
  if (f.ok()) {
    r.vigil = ToDays(f->seconds_to_full);
    r.vigil_low = ToDays(f->seconds_to_full_low);
    r.vigil_high = ToDays(f->seconds_to_full_high);
  }
  r.linear = ToDays(PredictLinearSecondsToFull(history, kWindow, kCapacityGiB * kGiB));
  return r;
}

std::string Fmt(double days) {
  if (days >= kNeverDays) return "never";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", days);
  return buf;
}

void Print(const std::vector<Row>& rows, const char* linear) {
  std::printf("| case | true days to full | vigil (low–high) | vigil error | %s | its error |\n", linear);
  std::printf("|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %s | %s (%s–%s) | %s | %s | %s |\n", r.name.c_str(), Fmt(r.truth).c_str(), Fmt(r.vigil).c_str(),
                Fmt(r.vigil_low).c_str(), Fmt(r.vigil_high).c_str(), Fmt(r.vigil_error()).c_str(),
                Fmt(r.linear).c_str(), Fmt(r.linear_error()).c_str());
  }
}

double Frac(double x) { return x - std::floor(x); }

std::vector<Case> GeneratedCases() {
  return {
      {"linear growth 4 GiB/day", false, [](double d) { return 700 + 4 * d; }},
      {"linear + noise (sd 1 GiB)", false, [](double d) { return 700 + 4 * d; }, 1.0},
      // The chain grows 3 GiB/day; logs 6 GiB/day, deleted at each midnight.
      {"daily log rotation (sawtooth)", true, [](double d) { return 700 + 3 * d + 6 * Frac(d); }},
      {"rotation + noise", true, [](double d) { return 700 + 3 * d + 6 * Frac(d); }, 0.3},
      // 150 GiB of old snapshots deleted two days ago; growth goes on.
      {"one-off step deletion", true, [](double d) { return 700 + 4 * d - (d >= 28 ? 150 : 0); }},
      // A compaction four days ago gave back 10 % of the database.
      {"compaction step + noise", true, [](double d) { return 700 + 4 * d - (d >= 26 ? 0.1 * (700 + 4 * d) : 0); },
       0.5},
      // Pruning switched on 3 days ago: down to the target, then only the
      // indexes grow (1 GiB/day).
      {"pruning step to a plateau", true, [](double d) { return d < 27 ? 750 + 4 * d : 700 + 1 * (d - 27); }},
      // At the prune target: 2 GiB of blocks deleted every 12 h as 4 GiB/day
      // arrive, while the rest of the disk grows 0.5 GiB/day.
      {"pruning plateau (sawtooth at target)", true, [](double d) { return 900 + 2 * Frac(2 * d) + 0.5 * d; }},
      {"flat + noise", false, [](double) { return 900; }, 0.5},
      {"shrinking 2 GiB/day", false, [](double d) { return 950 - 2 * d; }},
  };
}

TEST(ForecastBacktest, GeneratedHistories) {
  std::vector<Row> rows;
  for (const Case& c : GeneratedCases()) {
    Row r = Backtest(c);
    rows.push_back(r);
    if (c.step_or_sawtooth) {
      EXPECT_LT(r.vigil_error(), r.linear_error())
          << c.name << ": vigil " << r.vigil << " predict_linear " << r.linear << " truth " << r.truth;
    }
    // Steady growth: within 10 % of the truth.
    if (r.truth < kNeverDays) {
      EXPECT_LT(r.vigil_error(), 0.1 * r.truth + 0.5) << c.name;
    }
    // Never "full within 7 days" on a disk that will not fill in a year.
    if (r.truth >= 365) {
      EXPECT_GE(r.vigil_low, 7) << c.name;
    }
  }
  Print(rows, "predict_linear[7d]");
}

// --- The recorded node_exporter data --------------------------------------------------
// tests/testdata/tsdb/node_exporter_1s.om.gz: 120 scrapes at 1 s of a real
// host. Its future is not known, so the truth is what the second minute did:
// the forecast from the first minute is scored against the days to full at
// the rate the disk (and memory) actually moved over the next minute.

std::map<std::string, std::vector<UsagePoint>> ReadRecorded() {
  std::map<std::string, std::vector<UsagePoint>> out;
  const std::string path = std::string(VIGIL_TESTDATA_DIR) + "/tsdb/node_exporter_1s.om.gz";
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    ADD_FAILURE() << "cannot open " << path;
    return out;
  }
  char buf[8192];
  while (gzgets(f, buf, sizeof(buf)) != nullptr) {
    std::string line(buf);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    size_t ts = line.rfind(' ');
    size_t val = ts == std::string::npos || ts == 0 ? std::string::npos : line.rfind(' ', ts - 1);
    if (val == std::string::npos) {
      ADD_FAILURE() << path << ": a line without value and timestamp: " << line;
      continue;
    }
    out[line.substr(0, val)].push_back({std::strtod(line.c_str() + ts + 1, nullptr),
                                        std::strtod(line.substr(val + 1, ts - val - 1).c_str(), nullptr)});
  }
  gzclose(f);
  return out;
}

TEST(ForecastBacktest, RecordedNodeExporter) {
  auto series = ReadRecorded();
  const std::string fs = "{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"}";
  const auto& avail = series["node_filesystem_avail_bytes" + fs];
  const auto& size = series["node_filesystem_size_bytes" + fs];
  const auto& mem_avail = series["node_memory_MemAvailable_bytes"];
  const auto& mem_total = series["node_memory_MemTotal_bytes"];
  ASSERT_EQ(avail.size(), 120u);
  ASSERT_EQ(size.size(), 120u);
  ASSERT_EQ(mem_avail.size(), 120u);
  ASSERT_EQ(mem_total.size(), 120u);

  std::vector<Row> rows;
  auto run = [&](const std::string& name, const std::vector<UsagePoint>& free, double capacity) {
    std::vector<UsagePoint> used;
    for (const auto& p : free) used.push_back({p.t_seconds, capacity - p.used});
    std::vector<UsagePoint> first(used.begin(), used.begin() + 60);
    const double minute = used.back().t_seconds - first.back().t_seconds;
    const double rate = (used.back().used - first.back().used) / minute;
    Row r{name};
    r.truth = rate > 0 ? (capacity - first.back().used) / rate / kDay : kNeverDays;
    // A minute of history is refused as a forecast of days (what `vigil capacity` says)...
    auto refused = ForecastUsage(first, capacity);
    EXPECT_FALSE(refused.ok()) << name;
    EXPECT_EQ(refused.status().message(), "capacity forecast: 0.0 h of history, at least 6.0 h are needed") << name;
    // ...and forecast here anyway, to compare with predict_linear on real data's shape.
    ForecastOptions anyway;
    anyway.min_history_seconds = 0;
    auto f = ForecastUsage(first, capacity, anyway);
    EXPECT_TRUE(f.ok()) << name << ": " << f.status().message();
    if (f.ok()) {
      r.vigil = ToDays(f->seconds_to_full);
      r.vigil_low = ToDays(f->seconds_to_full_low);
      r.vigil_high = ToDays(f->seconds_to_full_high);
    }
    r.linear = ToDays(PredictLinearSecondsToFull(first, 60, capacity));
    rows.push_back(r);
  };
  run("recorded / (node_exporter, 1 s)", avail, size.back().used);
  run("recorded memory (node_exporter, 1 s)", mem_avail, mem_total.back().used);
  Print(rows, "predict_linear[60s]");
  // The disk filled steadily in both minutes: the forecast is within a factor two of the truth.
  EXPECT_GT(rows[0].vigil, rows[0].truth / 2);
  EXPECT_LT(rows[0].vigil, rows[0].truth * 2);
}

}  // namespace
}  // namespace vigil::incidents
