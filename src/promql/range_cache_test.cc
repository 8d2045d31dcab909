#include "promql/range_cache.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/testing/temp_dir.h"
#include "tsdb/tsdb.h"

namespace vigil::promql {
namespace {

// A multiple of 2 h, 4 h after a multiple of 6 h: compaction (6 h windows)
// leaves the first 2 h in a block of their own, which retention can drop.
constexpr TimestampMs kT0 = 1'700'020'800'000;
constexpr int64_t kScrape = 15'000;
constexpr int64_t kHour = 3'600'000;

// A real store (its generation is what the cache trusts) with 20 counters
// scraped every 15 s for 6 hours, and a cache over it.
class RangeCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tsdb::Options o;
    o.dir = dir_.path() + "/tsdb";
    o.retention = Duration(100 * kHour);
    o.downsample = false;
    auto db = tsdb::DB::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    for (TimestampMs t = kT0; t <= kT0 + 6 * kHour; t += kScrape) {
      auto app = db_->NewAppender();
      for (int i = 0; i < 20; ++i) {
        Labels l{{"__name__", "c"}, {"i", std::to_string(i)}};
        ASSERT_TRUE(app->Append(0, l, t, static_cast<double>((t - kT0) / 1000 * (i + 1))).ok());
      }
      ASSERT_TRUE(app->Commit().ok());
    }
    cache_ = std::make_unique<RangeCache>(
        RangeCacheOptions{},
        StoreVersion{[this] { return db_->Generation(); }, [this](TimestampMs t) { db_->WatchUpTo(t); }});
  }

  void TearDown() override {
    if (db_) (void)db_->Close();
  }

  QuerierFactory Storage() {
    return [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints& hints) {
      return db_->NewQuerier(mint, maxt, hints);
    };
  }

  // The cached answer, checked against a whole evaluation of the same query.
  QueryResult Check(const std::string& q, TimestampMs start, TimestampMs end, int64_t step, TimestampMs now,
                    EngineOptions options = {}) {
    auto expr = ParseExpr(q);
    EXPECT_TRUE(expr.ok()) << q;
    Engine engine(options);
    QueryResult cached = cache_->Range(engine, Storage(), **expr, start, end, Duration(step), now);
    QueryResult whole = engine.Range(Storage(), **expr, start, end, Duration(step));
    EXPECT_TRUE(cached.ok && whole.ok) << cached.error.message << whole.error.message;
    const auto& a = cached.value.matrix;
    const auto& b = whole.value.matrix;
    EXPECT_EQ(a.size(), b.size()) << q;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      EXPECT_EQ(a[i].labels, b[i].labels) << q;
      EXPECT_EQ(a[i].points.size(), b[i].points.size()) << q << " " << a[i].labels.ToString();
      for (size_t k = 0; k < std::min(a[i].points.size(), b[i].points.size()); ++k) {
        EXPECT_EQ(a[i].points[k].t, b[i].points[k].t);
        EXPECT_NEAR(a[i].points[k].v, b[i].points[k].v, 1e-9 * std::max(1.0, std::fabs(b[i].points[k].v)));
      }
    }
    EXPECT_EQ(cached.warnings, whole.warnings) << q;
    return cached;
  }

  testing::TempDir dir_;
  std::unique_ptr<tsdb::DB> db_;
  std::unique_ptr<RangeCache> cache_;
};

constexpr TimestampMs kNow = kT0 + 6 * kHour + 30'000;  // 30 s after the last scrape

TEST_F(RangeCacheTest, ASlidingWindowComputesOnlyTheNewSteps) {
  const std::string q = "sum by (i) (rate(c[5m]))";
  TimestampMs start = kT0 + 3 * kHour, end = kT0 + 6 * kHour;
  Check(q, start, end, 60'000, kNow);
  EXPECT_EQ(cache_->stats().misses, 1u);
  EXPECT_EQ(cache_->stats().entries, 1u);
  // The dashboard refreshes a minute later: the window slides by one step.
  for (int i = 1; i <= 3; ++i) {
    Check(q, start + i * 60'000, end + i * 60'000, 60'000, kNow + i * 60'000);
    EXPECT_EQ(cache_->stats().partial, static_cast<uint64_t>(i));
  }
  // An older part of the window, wholly older than a minute: all from the cache.
  Check(q, start + 3 * 60'000, end - kHour, 60'000, kNow + 3 * 60'000);
  EXPECT_EQ(cache_->stats().hits, 1u);
  EXPECT_GT(cache_->stats().bytes, 0u);
}

TEST_F(RangeCacheTest, ALateSampleInsideACachedWindowIsSeen) {
  const std::string q = "sum(rate(c[5m]))";
  TimestampMs start = kT0 + 4 * kHour, end = kT0 + 6 * kHour;
  Check(q, start, end, 60'000, kNow);
  uint64_t generation = db_->Generation();
  // A new series whose first sample is an hour old (a late scrape, a
  // textfile with timestamps): inside what the cache holds.
  auto app = db_->NewAppender();
  Labels late{{"__name__", "c"}, {"i", "late"}};
  ASSERT_TRUE(app->Append(0, late, kT0 + 5 * kHour, 0).ok());
  ASSERT_TRUE(app->Append(0, late, kT0 + 5 * kHour + 60'000, 6000).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_NE(db_->Generation(), generation);
  QueryResult r = Check(q, start, end, 60'000, kNow);
  EXPECT_EQ(cache_->stats().hits + cache_->stats().partial, 0u);  // computed again
  // Samples at the present do not disturb what is cached.
  generation = db_->Generation();
  auto now_app = db_->NewAppender();
  ASSERT_TRUE(now_app->Append(0, late, kNow, 7000).ok());
  ASSERT_TRUE(now_app->Commit().ok());
  EXPECT_EQ(db_->Generation(), generation);
  Check(q, start, end, 60'000, kNow);
  EXPECT_EQ(cache_->stats().partial, 1u);  // only the newest step (end) computed
}

TEST_F(RangeCacheTest, AnImportIntoACachedRangeIsSeen) {
  const std::string q = "count(c)";
  TimestampMs start = kT0 + kHour, end = kT0 + 5 * kHour;
  Check(q, start, end, 300'000, kNow);
  tsdb::SeriesSamples imported;
  imported.labels = Labels{{"__name__", "c"}, {"i", "imported"}};
  for (TimestampMs t = kT0 + 2 * kHour; t < kT0 + 3 * kHour; t += kScrape) {
    imported.t.push_back(t);
    imported.v.push_back(1);
  }
  std::vector<tsdb::SeriesSamples> batch;
  batch.push_back(std::move(imported));
  ASSERT_TRUE(db_->ImportSeries(std::move(batch), nullptr).ok());
  QueryResult r = Check(q, start, end, 300'000, kNow);
  ASSERT_EQ(r.value.matrix.size(), 1u);
  double peak = 0;
  for (const Point& p : r.value.matrix[0].points) peak = std::max(peak, p.v);
  EXPECT_EQ(peak, 21);  // the imported series counted where it has data
}

TEST_F(RangeCacheTest, RetentionDroppingTheStartOfACachedWindowIsSeen) {
  ASSERT_TRUE(db_->FlushHead().ok());  // every sample in 2 h blocks
  const std::string q = "count(c)";
  TimestampMs start = kT0, end = kT0 + 6 * kHour;
  Check(q, start, end, 600'000, kNow);
  // Keep 3 h: the first block (kT0 … kT0+2h) goes.
  tsdb::Options o;
  o.dir = dir_.path() + "/tsdb";
  ASSERT_TRUE(db_->Close().ok());
  o.retention = Duration(3 * kHour);
  o.downsample = false;
  auto db = tsdb::DB::Open(o);
  ASSERT_TRUE(db.ok());
  db_ = std::move(*db);
  // The reopened store has a generation of its own: nothing cached before is trusted.
  Check(q, start, end, 600'000, kNow);
  ASSERT_TRUE(db_->Maintain(kT0 + 5 * kHour + 30 * 60'000).ok());
  QueryResult r = Check(q, start, end, 600'000, kNow);
  ASSERT_EQ(r.value.matrix.size(), 1u);
  EXPECT_GT(r.value.matrix[0].points.front().t, kT0 + kHour);  // the first hours are gone
}

TEST_F(RangeCacheTest, AChangedLookbackIsAnotherQuery) {
  const std::string q = "c{i=\"3\"}";
  TimestampMs start = kT0 + 3 * kHour, end = kT0 + 5 * kHour;
  EngineOptions short_lookback;
  short_lookback.lookback_delta = Duration(10'000);  // shorter than the scrape interval: gaps
  Check(q, start, end, 7'000, kNow);
  Check(q, start, end, 7'000, kNow, short_lookback);
  EXPECT_EQ(cache_->stats().misses, 2u);
  Check(q, start, end, 7'000, kNow, short_lookback);
  Check(q, start, end, 7'000, kNow);
  EXPECT_EQ(cache_->stats().hits, 2u);
}

TEST_F(RangeCacheTest, WindowDependentQueriesAreNeverCached) {
  TimestampMs start = kT0 + 3 * kHour, end = kT0 + 6 * kHour;
  for (const char* q :
       {"c @ end()", "c @ start()", "c offset -1m", "rate(c[5m] @ 1700010000)", "max_over_time(c[range()])"}) {
    auto expr = ParseExpr(q);
    ASSERT_TRUE(expr.ok()) << q;
    EXPECT_FALSE(CacheableInRange(**expr)) << q;
    Check(q, start, end, 60'000, kNow);
    Check(q, start + 60'000, end + 60'000, 60'000, kNow + 60'000);
  }
  EXPECT_EQ(cache_->stats().entries, 0u);
  for (const char* q : {"c offset 1h", "sum_over_time(rate(c[1m])[10m:1m])", "time()", "vector(1)"}) {
    auto expr = ParseExpr(q);
    ASSERT_TRUE(expr.ok()) << q;
    EXPECT_TRUE(CacheableInRange(**expr)) << q;
    Check(q, start, end, 60'000, kNow);
    Check(q, start + 60'000, end + 60'000, 60'000, kNow + 60'000);
  }
}

TEST_F(RangeCacheTest, TheNewestStepsAreNeverCached) {
  // The whole window is younger than min_age: computed, not kept.
  Check("sum(c)", kNow - 50'000, kNow, 5'000, kNow);
  EXPECT_EQ(cache_->stats().entries, 0u);
}

}  // namespace
}  // namespace vigil::promql
