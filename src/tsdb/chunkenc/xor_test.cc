#include "tsdb/chunkenc/xor.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace vigil::tsdb::chunkenc {
namespace {

struct S {
  int64_t t;
  double v;
};

void RoundTrip(const std::vector<S>& in) {
  XorEncoder enc;
  for (const S& s : in) enc.Append(s.t, s.v);
  std::string bytes(enc.bytes());
  XorDecoder dec(bytes);
  size_t i = 0;
  while (dec.Next()) {
    ASSERT_LT(i, in.size());
    EXPECT_EQ(dec.t(), in[i].t) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(dec.v()), std::bit_cast<uint64_t>(in[i].v)) << i;
    ++i;
  }
  EXPECT_FALSE(dec.corrupt());
  EXPECT_EQ(i, in.size());
}

TEST(Xor, SpecialValues) {
  double stale = std::bit_cast<double>(0x7ff0000000000002ULL);
  RoundTrip({{1000, 1.5},
             {2000, std::nan("")},
             {3000, stale},
             {4000, INFINITY},
             {5000, -INFINITY},
             {6000, -0.0},
             {7000, 0.0},
             {8000, std::numeric_limits<double>::denorm_min()},
             {9000, std::numeric_limits<double>::max()},
             {10000, stale}});
}

TEST(Xor, EqualValuesAndRegularTimestampsAreTiny) {
  std::vector<S> in;
  for (int i = 0; i < 120; ++i) in.push_back({1700000000000 + i * 15000, 42});
  RoundTrip(in);
  XorEncoder enc;
  for (const S& s : in) enc.Append(s.t, s.v);
  EXPECT_LT(enc.size_bytes(), 50u);  // ~2 bits per sample after the first two
}

TEST(Xor, LargeGapsNegativeDeltasAndExtremes) {
  int64_t max = std::numeric_limits<int64_t>::max();
  int64_t min = std::numeric_limits<int64_t>::min();
  RoundTrip({{min, 1}, {min + 1, 2}, {0, 3}, {1, 4}, {max - 1, 5}, {max, 6}});
  // Irregular deltas exercise every delta-of-delta bucket.
  RoundTrip({{0, 1},
             {10, 2},
             {11, 3},
             {9000, 4},
             {9001, 5},
             {200000, 6},
             {200001, 7},
             {5000000, 8},
             {5000001, 9},
             {900000000000LL, 10},
             {900000000001LL, 11}});
  RoundTrip({{-5000, 1}, {-4000, 2}, {-1, 3}});
}

TEST(Xor, RegressionDeltasThatOverflowWrapLikeTheDecoder) {
  int64_t max = std::numeric_limits<int64_t>::max();
  int64_t min = std::numeric_limits<int64_t>::min();
  RoundTrip({{min, 1}, {max, 2}, {min + 5, 3}, {max - 7, 4}});
}

TEST(Xor, RegressionDeltaOfDeltaAtTheTopOfEachBucket) {
  // dod = +2^13, +2^16, +2^19 are the largest values of their buckets.
  for (int64_t dod : {8192LL, 8191LL, -8191LL, 65536LL, -65535LL, 524288LL, -524287LL, 524289LL}) {
    RoundTrip({{0, 1}, {1000, 2}, {2000 + dod, 3}, {3000 + 2 * dod, 4}});
  }
}

TEST(Xor, RandomWalks) {
  std::mt19937_64 rng(7);
  std::vector<S> in;
  int64_t t = 1700000000000;
  double v = 100;
  for (int i = 0; i < 5000; ++i) {
    t += 1000 + static_cast<int64_t>(rng() % 7) - 3;
    v += std::round((static_cast<double>(rng() % 2001) - 1000) / 10.0) / 100.0;
    in.push_back({t, v});
  }
  RoundTrip(in);
}

TEST(Xor, EmptyAndSingle) {
  RoundTrip({});
  RoundTrip({{5, 5}});
}

TEST(Xor, GarbageNeverCrashes) {
  std::mt19937 rng(1);
  for (int n = 0; n < 2000; ++n) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    XorDecoder d(junk);
    int guard = 0;
    while (d.Next() && guard < 70000) ++guard;
    EXPECT_LE(guard, 65535);
  }
}

TEST(Xor, TruncatedChunkIsCorrupt) {
  XorEncoder enc;
  for (int i = 0; i < 50; ++i) enc.Append(i * 1000, i * 1.25);
  std::string bytes(enc.bytes());
  bytes.resize(bytes.size() / 2);
  XorDecoder d(bytes);
  int n = 0;
  while (d.Next()) ++n;
  EXPECT_LT(n, 50);
  EXPECT_TRUE(d.corrupt());
}

}  // namespace
}  // namespace vigil::tsdb::chunkenc
