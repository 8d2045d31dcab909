#include "promql/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>

#include "tsdb/memory.h"

namespace vigil::promql {
namespace {

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 100 counters, one sample every 10 s for 10 minutes.
    for (int s = 0; s < 100; ++s) {
      Labels l{{"__name__", "c"}, {"i", std::to_string(s)}};
      for (int k = 0; k <= 60; ++k) storage_.Add(l, k * 10'000, k * 1.0 + s);
    }
  }

  QueryResult Instant(const std::string& q, TimestampMs t, EngineOptions opts = {}) {
    auto expr = ParseExpr(q);
    EXPECT_TRUE(expr.ok()) << expr.status().message();
    Engine engine(opts);
    return engine.Instant(Factory(), **expr, t);
  }

  QuerierFactory Factory() {
    return
        [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) { return storage_.NewQuerier(mint, maxt); };
  }

  tsdb::MemoryStorage storage_;
};

TEST_F(EngineTest, SumOfRates) {
  auto r = Instant("sum(rate(c[1m]))", 600'000);
  ASSERT_TRUE(r.ok) << r.error.message;
  ASSERT_EQ(r.value.type, ValueType::kVector);
  ASSERT_EQ(r.value.vector.size(), 1u);
  EXPECT_NEAR(r.value.vector[0].v, 100 * 0.1, 1e-9);
  EXPECT_TRUE(r.value.vector[0].labels.empty());
}

// The opt-in downsampled reads: each selector asks storage for the aggregate
// that stands for its samples, and only when the options allow it.
TEST_F(EngineTest, DownsampledReadsAskForTheAggregateEachFunctionNeeds) {
  std::vector<tsdb::ReadHints> asked;
  QuerierFactory recording = [&](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints& h) {
    asked.push_back(h);
    return storage_.NewQuerier(mint, maxt);
  };
  auto run = [&](const std::string& q, Duration resolution) {
    asked.clear();
    EngineOptions opts;
    opts.max_read_resolution = resolution;
    auto expr = ParseExpr(q);
    EXPECT_TRUE(expr.ok()) << q;
    auto r = Engine(opts).Range(recording, **expr, 300'000, 600'000, Duration(60'000));
    EXPECT_TRUE(r.ok) << q << ": " << r.error.message;
    EXPECT_EQ(asked.size(), 1u) << q;
    return asked.empty() ? tsdb::ReadHints{} : asked[0];
  };
  using Use = tsdb::ReadHints::Use;
  const Duration hour(3'600'000);
  EXPECT_EQ(run("rate(c[5m])", Duration(0)).max_resolution.count(), 0);  // off unless asked
  for (auto [q, use] : {std::pair{"rate(c[5m])", Use::kCounter}, std::pair{"increase(c[5m])", Use::kCounter},
                        std::pair{"max_over_time(c[5m])", Use::kMax}, std::pair{"min_over_time(c[5m])", Use::kMin},
                        std::pair{"avg_over_time(c[5m])", Use::kAverage}, std::pair{"c", Use::kLast},
                        std::pair{"deriv(c[5m])", Use::kLast}}) {
    tsdb::ReadHints h = run(q, hour);
    EXPECT_EQ(h.max_resolution, hour) << q;
    EXPECT_EQ(h.use, use) << q;
  }
  // Counting resets or changes needs every raw sample.
  EXPECT_EQ(run("resets(c[5m])", hour).max_resolution.count(), 0);
  EXPECT_EQ(run("changes(c[5m])", hour).max_resolution.count(), 0);
}

TEST(EngineDownsampled, PlainSelectorsLookBackOneResolution) {
  tsdb::MemoryStorage hourly;  // what a 1h-resolution block holds: a point per hour
  Labels l{{"__name__", "g"}};
  for (int h = 0; h <= 24; ++h) hourly.Add(l, h * 3'600'000LL, h);
  QuerierFactory f = [&](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
    return hourly.NewQuerier(mint, maxt);
  };
  auto expr = ParseExpr("g");
  ASSERT_TRUE(expr.ok());
  EngineOptions raw;
  auto gaps = Engine(raw).Range(f, **expr, 0, 24 * 3'600'000LL, Duration(1'800'000));
  ASSERT_TRUE(gaps.ok);
  EXPECT_EQ(gaps.value.matrix[0].points.size(), 25u);  // the half hours fall outside the 5m lookback
  EngineOptions coarse;
  coarse.max_read_resolution = Duration(3'600'000);
  auto full = Engine(coarse).Range(f, **expr, 0, 24 * 3'600'000LL, Duration(1'800'000));
  ASSERT_TRUE(full.ok);
  ASSERT_EQ(full.value.matrix[0].points.size(), 49u);
  EXPECT_EQ(full.value.matrix[0].points[1].v, 0);  // 00:30 shows 00:00's point
}

TEST_F(EngineTest, TooManySamplesIsAnErrorNotACrash) {
  EngineOptions opts;
  opts.max_samples = 500;
  auto r = Instant("sum(c)", 600'000, opts);  // 100 series, one point each: fits
  EXPECT_TRUE(r.ok) << r.error.message;
  r = Instant("sum(count_over_time(c[10m]))", 600'000, opts);  // 6 000 samples
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::kTooManySamples);
  EXPECT_NE(r.error.message.find("too many samples"), std::string::npos);
}

TEST_F(EngineTest, TimeoutIsReported) {
  EngineOptions opts;
  opts.timeout = Duration(0);
  auto expr = ParseExpr("count_over_time(c[10m:10ms])");
  ASSERT_TRUE(expr.ok());
  auto r = Engine(opts).Instant(Factory(), **expr, 600'000);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::kTimeout);
}

// A range query's aggregations (summed series by series for sum, min, max,
// count and group) equal the instant query at each step, bit for bit and in
// the same order: values that need Kahan compensation, NaN, ±Inf and series
// with gaps in groups that appear at different steps.
TEST(EngineAggregate, RangeEqualsInstantAtEveryStep) {
  tsdb::MemoryStorage storage;
  std::mt19937_64 rng(5);
  const double special[] = {std::nan(""), HUGE_VAL, -HUGE_VAL, 1e100, -1e100, 1e-300};
  for (int s = 0; s < 40; ++s) {
    Labels l{{"__name__", "g"}, {"i", std::to_string(s)}, {"grp", std::to_string(s % 7)}};
    for (int k = 0; k <= 60; ++k) {
      if ((s + k) % 11 == 0) continue;  // gaps
      double v = static_cast<double>(rng() % 1000000) / 7.0;
      if (rng() % 17 == 0) v = special[rng() % 6];
      storage.Add(l, k * 10'000, v);
    }
  }
  QuerierFactory f = [&](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
    return storage.NewQuerier(mint, maxt);
  };
  EngineOptions opts;
  opts.lookback_delta = Duration(10'000);  // gaps show as absent series
  Engine engine(opts);
  for (const char* q : {"sum by (grp) (g)", "min by (grp) (g)", "max by (grp) (g)", "count by (grp) (g)",
                        "group by (grp) (g)", "sum(g)", "sum without (i) (g)", "max by (i) (g)"}) {
    auto expr = ParseExpr(q);
    ASSERT_TRUE(expr.ok()) << q;
    auto range = engine.Range(f, **expr, 0, 600'000, Duration(10'000));
    ASSERT_TRUE(range.ok) << q << ": " << range.error.message;
    std::vector<std::string> got, want;
    for (const auto& series : range.value.matrix) {
      for (const auto& p : series.points) {
        got.push_back(std::to_string(p.t) + " " + series.labels.ToString() + " " +
                      std::to_string(std::bit_cast<uint64_t>(p.v)));
      }
    }
    for (TimestampMs t = 0; t <= 600'000; t += 10'000) {
      auto instant = engine.Instant(f, **expr, t);
      ASSERT_TRUE(instant.ok) << q;
      for (const auto& e : instant.value.vector) {
        want.push_back(std::to_string(t) + " " + e.labels.ToString() + " " +
                       std::to_string(std::bit_cast<uint64_t>(e.v)));
      }
    }
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << q;
  }
}

// Windows of a large range query are evaluated on several threads: the
// answer, its order and its annotations are those of one thread.
TEST(EngineWindows, ThreadsGiveTheOneThreadAnswer) {
  tsdb::MemoryStorage storage;
  for (int s = 0; s < 150; ++s) {
    Labels c{{"__name__", "c_total"}, {"i", std::to_string(s)}};
    Labels g{{"__name__", "g"}, {"i", std::to_string(s)}};
    for (int k = 0; k <= 720; ++k) {
      storage.Add(c, k * 10'000, (k % 97) * 1.5 + s);  // resets every 97 samples
      storage.Add(g, k * 10'000, std::sin(k + s));
    }
  }
  QuerierFactory f = [&](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
    return storage.NewQuerier(mint, maxt);
  };
  for (const char* q : {"rate(c_total[1m])", "sum by (i) (increase(c_total[2m]))", "deriv(g[1m])",
                        "quantile_over_time(0.9, g[5m])", "quantile_over_time(2, g[1m])"}) {
    auto expr = ParseExpr(q);
    ASSERT_TRUE(expr.ok()) << q;
    EngineOptions one, four;
    one.max_decode_threads = 1;
    four.max_decode_threads = 4;
    auto a = Engine(one).Range(f, **expr, 60'000, 7'200'000, Duration(10'000));
    auto b = Engine(four).Range(f, **expr, 60'000, 7'200'000, Duration(10'000));
    ASSERT_TRUE(a.ok && b.ok) << q;
    EXPECT_EQ(a.warnings, b.warnings) << q;
    EXPECT_EQ(a.infos, b.infos) << q;
    ASSERT_EQ(a.value.matrix.size(), b.value.matrix.size()) << q;
    for (size_t i = 0; i < a.value.matrix.size(); ++i) {
      ASSERT_EQ(a.value.matrix[i].labels, b.value.matrix[i].labels) << q;
      ASSERT_EQ(a.value.matrix[i].points.size(), b.value.matrix[i].points.size()) << q;
      for (size_t k = 0; k < a.value.matrix[i].points.size(); ++k) {
        ASSERT_EQ(a.value.matrix[i].points[k].t, b.value.matrix[i].points[k].t);
        ASSERT_EQ(std::bit_cast<uint64_t>(a.value.matrix[i].points[k].v),
                  std::bit_cast<uint64_t>(b.value.matrix[i].points[k].v));
      }
    }
    if (std::string(q) == "quantile_over_time(2, g[1m])") {
      EXPECT_FALSE(a.warnings.empty()) << q;
    }
  }
}

TEST_F(EngineTest, RangeQueryHasOnePointPerStep) {
  auto expr = ParseExpr("c{i=\"3\"}");
  ASSERT_TRUE(expr.ok());
  auto r = Engine().Range(Factory(), **expr, 0, 600'000, Duration(60'000));
  ASSERT_TRUE(r.ok) << r.error.message;
  ASSERT_EQ(r.value.matrix.size(), 1u);
  ASSERT_EQ(r.value.matrix[0].points.size(), 11u);
  EXPECT_EQ(r.value.matrix[0].points[10].t, 600'000);
  EXPECT_EQ(r.value.matrix[0].points[10].v, 63);
}

TEST_F(EngineTest, RangeQueryRejectsBadSteps) {
  auto expr = ParseExpr("c");
  ASSERT_TRUE(expr.ok());
  auto r = Engine().Range(Factory(), **expr, 0, 600'000, Duration(0));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::kBadData);
  r = Engine().Range(Factory(), **expr, 10, 0, Duration(1));
  EXPECT_FALSE(r.ok);
}

}  // namespace
}  // namespace vigil::promql
