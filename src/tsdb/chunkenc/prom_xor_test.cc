#include "tsdb/chunkenc/prom_xor.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "tsdb/chunkenc/xor.h"
#include "tsdb/tsdb.h"

namespace vigil::tsdb::chunkenc {
namespace {

std::string Hex(std::string_view b) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

// Worked by hand from Prometheus's xorAppender: count 2; varint(1000) = d00f;
// 1.0 = 3ff0000000000000; uvarint(1000) = e807 (vigil's head chunk writes
// the zigzag d00f there); an unchanged value is one 0 bit.
TEST(PromXorTest, BytesMatchPrometheusXorAppender) {
  PromXorEncoder e;
  e.Append(1000, 1.0);
  e.Append(2000, 1.0);
  EXPECT_EQ(Hex(e.bytes()), "0002d00f3ff0000000000000e80700");
  XorEncoder head;
  head.Append(1000, 1.0);
  head.Append(2000, 1.0);
  EXPECT_NE(Hex(head.bytes()), Hex(e.bytes())) << "head chunks differ in the second timestamp's varint";
}

// A third sample 10 ms on: delta-of-delta 0 and the same value, one 0 bit each.
TEST(PromXorTest, DeltaOfDeltaBuckets) {
  PromXorEncoder e;
  e.Append(0, 0);
  e.Append(10, 0);
  e.Append(20, 0);  // dod 0: bit 0, value same: bit 0
  EXPECT_EQ(Hex(e.bytes()), "00030000000000000000000a00");
}

TEST(PromXorTest, RoundTripsAwkwardSeries) {
  std::vector<std::pair<int64_t, double>> samples = {
      {-5000, 1.5},
      {-4999, -2},
      {1'700'000'000'000, std::numeric_limits<double>::infinity()},
      {1'700'000'000'001, StaleNaN()},
      {1'700'000'000'002, 0.1},
      {1'700'000'009'000, 0.1},
      {1'700'000'009'000 + (1 << 16), 1e300},
      {1'700'000'009'000 + (1 << 16) + (1 << 19) - 3, -0.0},
      {std::numeric_limits<int64_t>::max() / 2, 42},
  };
  PromXorEncoder e;
  for (auto [t, v] : samples) e.Append(t, v);
  EXPECT_EQ(e.num_samples(), static_cast<int>(samples.size()));
  PromXorDecoder d(e.bytes());
  EXPECT_EQ(d.num_samples(), static_cast<int>(samples.size()));
  for (auto [t, v] : samples) {
    ASSERT_TRUE(d.Next());
    EXPECT_EQ(d.t(), t);
    EXPECT_EQ(std::bit_cast<uint64_t>(d.v()), std::bit_cast<uint64_t>(v));
  }
  EXPECT_FALSE(d.Next());
  EXPECT_FALSE(d.corrupt());
}

TEST(PromXorTest, TruncatedChunkIsCorrupt) {
  PromXorEncoder e;
  for (int i = 0; i < 10; ++i) e.Append(i * 1000, i * 0.5);
  std::string bytes(e.bytes());
  PromXorDecoder d(std::string_view(bytes).substr(0, bytes.size() - 3));
  int n = 0;
  while (d.Next()) ++n;
  EXPECT_LT(n, 10);
  EXPECT_TRUE(d.corrupt());
  EXPECT_TRUE(PromXorDecoder("x").corrupt());
}

}  // namespace
}  // namespace vigil::tsdb::chunkenc
