#include "tsdb/chunkenc/decimal_chunk.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tsdb/chunkenc/xor.h"

namespace vigil::tsdb::chunkenc {
namespace {

struct S {
  int64_t t;
  double v;
};

const double kStale = std::bit_cast<double>(0x7ff0000000000002ULL);
const double kInf = std::numeric_limits<double>::infinity();

std::string Encode(const std::vector<S>& in) {
  DecimalEncoder enc;
  for (const S& s : in) enc.Append(s.t, s.v);
  return std::string(enc.bytes());
}

void RoundTrip(const std::vector<S>& in) {
  std::string bytes = Encode(in);
  DecimalDecoder dec(bytes);
  EXPECT_EQ(dec.num_samples(), static_cast<int>(in.size()));
  size_t i = 0;
  while (dec.Next()) {
    ASSERT_LT(i, in.size());
    EXPECT_EQ(dec.t(), in[i].t) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(dec.v()), std::bit_cast<uint64_t>(in[i].v)) << i << ": " << in[i].v;
    ++i;
  }
  EXPECT_FALSE(dec.corrupt());
  EXPECT_EQ(i, in.size());
}

std::vector<S> AtInterval(const std::vector<double>& values) {
  std::vector<S> out;
  for (size_t i = 0; i < values.size(); ++i)
    out.push_back({1700000000000 + static_cast<int64_t>(i) * 15000, values[i]});
  return out;
}

TEST(DecimalChunk, SpecialValuesAfterADecimal) {
  RoundTrip(AtInterval({1.5, std::nan(""), kStale, kInf, -kInf, -0.0, 0.0, -0.0, kStale, kStale, 2.25,
                        std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max(),
                        -std::numeric_limits<double>::max(), 1.5, std::nan(""), -std::nan(""), 3}));
}

TEST(DecimalChunk, SpecialValuesFirst) {
  // A first value that is not a short decimal makes the whole chunk XOR.
  for (double first : {std::nan(""), kStale, kInf, -kInf, -0.0, 0.1 + 0.2, 1e300, 5e-324}) {
    RoundTrip(AtInterval({first, 1, 1.25, kStale, -0.0, 0.0, 7}));
  }
  RoundTrip(AtInterval({0.0, -0.0, 0.0, kStale}));
}

TEST(DecimalChunk, EqualValues) {
  std::vector<S> in;
  for (int i = 0; i < 120; ++i) in.push_back({1700000000000 + i * 15000, 42.5});
  RoundTrip(in);
  EXPECT_LT(Encode(in).size(), 45u);  // ~2 bits per sample after the first two
}

TEST(DecimalChunk, NegativeAndLargeDeltas) {
  RoundTrip(AtInterval({100, -100, 100, 0, -9007199254740991.0, 9007199254740991.0, -9007199254740991.0, 1, 1, 2}));
  RoundTrip(AtInterval({0.01, -0.01, 123456.78, -123456.78, 0.01}));
  // Mantissas at 2^53 and beyond are not exact decimals: exceptions.
  RoundTrip(AtInterval({1, 9007199254740992.0, 18014398509481984.0, -9007199254740994.0, 2}));
}

TEST(DecimalChunk, ScaleGrowsWithinAChunk) {
  RoundTrip(AtInterval({5, 6, 6.5, 6.25, 6.125, 0.001, 1e-15, 123456789.123, 7, 8}));
  // Growing the scale of a large mantissa overflows: the one delta carries it.
  RoundTrip(AtInterval({9007199254740991.0, 0.5, 9007199254740991.0, 1e-15, 4503599627370495.5}));
}

TEST(DecimalChunk, NonDecimalValuesAfterDecimals) {
  std::vector<double> v = {1, 2, 3};
  for (int i = 0; i < 30; ++i) v.push_back(std::sqrt(2.0 + i));  // stops searching after a few
  v.push_back(4.5);
  v.push_back(4.25);  // a scale the chunk no longer looks for: an exception
  v.push_back(5);
  RoundTrip(AtInterval(v));
}

TEST(DecimalChunk, TimestampsNearTheExtremes) {
  int64_t max = std::numeric_limits<int64_t>::max();
  int64_t min = std::numeric_limits<int64_t>::min();
  RoundTrip({{min, 1}, {min + 1, 2}, {0, 3}, {1, 4}, {max - 1, 5}, {max, 6}});
  RoundTrip({{min, 1}, {max, 2}, {min + 5, 3}, {max - 7, 4}});
  RoundTrip({{0, 1}, {10, 2}, {11, 3}, {9000, 4}, {200000, 6}, {5000000, 8}, {900000000000LL, 10}, {-5, 1}});
}

TEST(DecimalChunk, EmptyAndSingle) {
  RoundTrip({});
  RoundTrip({{5, 5}});
  RoundTrip({{5, kStale}});
  RoundTrip({{5, -0.0}});
}

TEST(DecimalChunk, RandomWalksAreSmallerThanXor) {
  std::mt19937_64 rng(7);
  std::vector<S> in;
  int64_t t = 1700000000000;
  int64_t cents = 1234567;
  for (int i = 0; i < 120; ++i) {
    t += 15000 + static_cast<int64_t>(rng() % 7) - 3;
    cents += static_cast<int64_t>(rng() % 2001) - 1000;
    in.push_back({t, static_cast<double>(cents) / 100});
  }
  RoundTrip(in);
  XorEncoder x;
  for (const S& s : in) x.Append(s.t, s.v);
  EXPECT_LT(Encode(in).size() * 2, x.size_bytes());
}

TEST(DecimalChunk, RandomDoublesRoundTrip) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 200; ++round) {
    std::vector<S> in;
    int64_t t = static_cast<int64_t>(rng());
    for (int i = 0; i < 120; ++i) {
      t += static_cast<int64_t>(rng() % 100000);
      double v;
      switch (rng() % 5) {
        case 0: v = std::bit_cast<double>(rng()); break;  // any bits, NaN payloads included
        case 1: v = static_cast<double>(static_cast<int64_t>(rng() % 2000000) - 1000000) / 100; break;
        case 2: v = static_cast<double>(rng() % 1000); break;
        case 3: v = static_cast<double>(static_cast<int64_t>(rng() >> 11)) / 1e15; break;
        default: v = in.empty() ? 0 : in.back().v; break;
      }
      in.push_back({t, v});
    }
    RoundTrip(in);
  }
}

TEST(DecimalChunk, GarbageNeverCrashes) {
  std::mt19937 rng(1);
  for (int n = 0; n < 5000; ++n) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    DecimalDecoder d(junk);
    int guard = 0;
    while (d.Next() && guard < 70000) ++guard;
    EXPECT_LE(guard, 65535);
  }
}

TEST(DecimalChunk, TruncatedChunkIsCorrupt) {
  DecimalEncoder enc;
  for (int i = 0; i < 50; ++i) enc.Append(i * 1000, i * 1.25);
  std::string bytes(enc.bytes());
  bytes.resize(bytes.size() / 2);
  DecimalDecoder d(bytes);
  int n = 0;
  while (d.Next()) ++n;
  EXPECT_LT(n, 50);
  EXPECT_TRUE(d.corrupt());
}

}  // namespace
}  // namespace vigil::tsdb::chunkenc
