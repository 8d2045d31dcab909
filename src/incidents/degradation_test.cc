#include "incidents/degradation.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tsdb/memory.h"

namespace vigil::incidents {
namespace {

constexpr TimestampMs kDayMs = 86'400'000;
constexpr TimestampMs kNowMs = 20843 * kDayMs + 3 * 3'600'000;  // 03:00 UTC, 10 days after 2027-01-15

double Normal(TimestampMs t) {
  const double hour = static_cast<double>(t % kDayMs) / 3'600'000;
  return hour >= 12 && hour < 16 ? 0.3 : 0.1;  // an afternoon peak
}

const Sample* Find(const MetricBatch& b, const std::string& name, const Labels& labels) {
  const MetricFamily* f = b.Find(name);
  if (f == nullptr) return nullptr;
  for (const Sample& s : f->samples) {
    if (s.labels == labels) return &s;
  }
  return nullptr;
}

class DegradationTest : public testing::Test {
 protected:
  DegradationTest() {
    // 10 days of `latency_seconds{service="a"}` every 5 minutes with ±5 %
    // noise; service "b" only since yesterday.
    for (TimestampMs t = kNowMs - 10 * kDayMs; t < kNowMs; t += 300'000) {
      const double wobble = (t / 600'000) % 2 ? 1.05 : 0.95;  // alternates at the 10 m read step
      store_.Add(Labels{{"__name__", "latency_seconds"}, {"service", "a"}}, t, Normal(t) * wobble);
      if (t >= kNowMs - kDayMs) store_.Add(Labels{{"__name__", "latency_seconds"}, {"service", "b"}}, t, 0.1);
    }
  }

  MetricBatch Collect(std::vector<BaselineSpec> specs, TimestampMs now) {
    DegradationOptions o;
    o.storage = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
      return store_.NewQuerier(mint, maxt);
    };
    o.baselines = std::move(specs);
    auto collector = NewBaselineCollector(std::move(o));
    EXPECT_EQ(collector->name(), "baselines");
    MetricBatch out;
    collect::CollectContext ctx;
    ctx.now_ms = now;
    EXPECT_TRUE(collector->Collect(ctx, out).ok());
    return out;
  }

  tsdb::MemoryStorage store_;
};

TEST_F(DegradationTest, RecordsTheBandOfEachSeriesFromTheStore) {
  BaselineSpec up{"latency", "latency_seconds", {}, BaselineDirection::kUp};
  BaselineSpec both{"latency_both", "latency_seconds * 1000", {}, BaselineDirection::kBoth};
  // A query that fails when run (many-to-many) is an error of that baseline only.
  BaselineSpec broken{"broken", "latency_seconds + on() latency_seconds", {}, BaselineDirection::kUp};
  store_.Add(Labels{{"__name__", "latency_seconds"}, {"service", "a"}}, kNowMs, 0.1);
  store_.Add(Labels{{"__name__", "latency_seconds"}, {"service", "b"}}, kNowMs, 0.1);
  MetricBatch b = Collect({up, broken, both}, kNowMs);

  const Labels a{{"baseline", "latency"}, {"service", "a"}};
  ASSERT_TRUE(Find(b, "vigil_baseline_median", a));
  EXPECT_NEAR(Find(b, "vigil_baseline_median", a)->value, 0.1, 0.006);
  // 10 days read every 10 minutes: 1439 steps with a sample in the 5 m lookback.
  EXPECT_NEAR(Find(b, "vigil_baseline_samples", a)->value, 10 * 144, 2);
  EXPECT_EQ(Find(b, "vigil_baseline_value", a)->value, 0.1);
  const double upper = Find(b, "vigil_baseline_upper", a)->value;
  EXPECT_GT(upper, 0.1);
  EXPECT_LT(upper, 0.2);
  EXPECT_FALSE(Find(b, "vigil_baseline_lower", a));  // up: only the bad side

  // One day of history: the value and its samples, but no band (three days needed).
  const Labels bl{{"baseline", "latency"}, {"service", "b"}};
  ASSERT_TRUE(Find(b, "vigil_baseline_value", bl));
  EXPECT_GT(Find(b, "vigil_baseline_samples", bl)->value, 0);
  EXPECT_FALSE(Find(b, "vigil_baseline_median", bl));
  EXPECT_FALSE(Find(b, "vigil_baseline_upper", bl));

  const Labels ab{{"baseline", "latency_both"}, {"service", "a"}};
  ASSERT_TRUE(Find(b, "vigil_baseline_lower", ab));
  ASSERT_TRUE(Find(b, "vigil_baseline_upper", ab));
  EXPECT_NEAR(Find(b, "vigil_baseline_lower", ab)->value + Find(b, "vigil_baseline_upper", ab)->value,
              2 * Find(b, "vigil_baseline_median", ab)->value, 1e-9);

  ASSERT_EQ(b.errors().size(), 2u);  // the history read and the instant query
  EXPECT_EQ(b.errors()[0].reason, "history_query");
  EXPECT_EQ(b.errors()[0].target, "broken");
  EXPECT_NE(b.errors()[0].detail.find("many-to-many"), std::string::npos) << b.errors()[0].detail;
  EXPECT_EQ(b.errors()[1].reason, "query");
}

TEST_F(DegradationTest, TheBandFollowsTheTimeOfDay) {
  const TimestampMs afternoon = kNowMs + 11 * 3'600'000;  // 14:00
  store_.Add(Labels{{"__name__", "latency_seconds"}, {"service", "a"}}, afternoon, 0.9);
  MetricBatch b = Collect({{"latency", "latency_seconds{service=\"a\"}", {}, BaselineDirection::kUp}}, afternoon);
  const Labels a{{"baseline", "latency"}, {"service", "a"}};
  ASSERT_TRUE(Find(b, "vigil_baseline_median", a));
  EXPECT_NEAR(Find(b, "vigil_baseline_median", a)->value, 0.3, 0.02);
  EXPECT_GT(0.9, Find(b, "vigil_baseline_upper", a)->value);  // the value the rule would compare
}

TEST(DegradationLabels, NameDroppedBaselineSet) {
  EXPECT_EQ(BaselineSeriesLabels("x", Labels{{"__name__", "m"}, {"baseline", "old"}, {"job", "node"}}),
            (Labels{{"baseline", "x"}, {"job", "node"}}));
}

}  // namespace
}  // namespace vigil::incidents
