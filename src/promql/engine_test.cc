#include "promql/engine.h"

#include <gtest/gtest.h>

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
