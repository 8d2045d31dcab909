#include "tsdb/packed_labels.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil::tsdb {
namespace {

TEST(PackedLabels, RoundTripsAndLooksUp) {
  Labels l{{"__name__", "node_cpu_seconds_total"},
           {"cpu", "0"},
           {"instance", "host-001.example.org:9100"},
           {"mode", std::string(200, 'x')}};
  PackedLabels p(l);
  EXPECT_EQ(p.ToLabels(), l);
  EXPECT_TRUE(p == l);
  EXPECT_EQ(p.size(), 4u);
  EXPECT_EQ(p.Get("cpu"), "0");
  EXPECT_EQ(p.Get("mode"), std::string(200, 'x'));  // a two-byte length
  EXPECT_EQ(p.Get("job"), "");
  EXPECT_FALSE(p == Labels({{"__name__", "node_cpu_seconds_total"}}));
  EXPECT_FALSE(PackedLabels(Labels({{"a", "1"}})) == Labels({{"a", "1"}, {"b", "2"}}));
  EXPECT_FALSE(PackedLabels(Labels({{"a", "1"}, {"b", "2"}})) == Labels({{"a", "1"}}));
}

TEST(PackedLabels, Empty) {
  PackedLabels p{Labels{}};
  EXPECT_EQ(p.size(), 0u);
  EXPECT_TRUE(p.ToLabels().empty());
  EXPECT_TRUE(p == Labels{});
  EXPECT_EQ(p.Get("a"), "");
}

TEST(PackedLabels, OrdersLikeLabels) {
  std::vector<Labels> sets = {Labels{},
                              Labels{{"a", "1"}},
                              Labels{{"a", "1"}, {"b", "1"}},
                              Labels{{"a", "1"}, {"c", "0"}},
                              Labels{{"a", "10"}},
                              Labels{{"a", "2"}},
                              Labels{{"ab", ""}},
                              Labels{{"b", "\xff"}},
                              Labels{{"b", "a"}}};
  for (const Labels& x : sets) {
    for (const Labels& y : sets) {
      EXPECT_EQ(PackedLabels(x) < PackedLabels(y), x < y) << x.ToString() << " " << y.ToString();
    }
  }
}

}  // namespace
}  // namespace vigil::tsdb
