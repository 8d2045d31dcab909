#include "tsdb/chunkenc/sealed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tsdb/chunkenc/xor.h"

namespace vigil::tsdb::chunkenc {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kStaleNaN = 0x7ff0000000000002ULL;  // Prometheus' stale marker
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

double FromBits(uint64_t b) { return std::bit_cast<double>(b); }

// Layouts from the header byte (see sealed.cc).
int TsLayout(const std::string& chunk) { return static_cast<uint8_t>(chunk[0]) & 3; }
int ValueLayout(const std::string& chunk) { return (static_cast<uint8_t>(chunk[0]) >> 2) & 3; }
constexpr int kTsGrid = 2;
constexpr int kValConst = 0, kValDecimal = 1, kValXor = 2;

std::vector<int64_t> Regular(size_t n, int64_t start = 1'700'000'000'000, int64_t step = 15'000) {
  std::vector<int64_t> ts(n);
  for (size_t i = 0; i < n; ++i) ts[i] = start + static_cast<int64_t>(i) * step;
  return ts;
}

size_t XorSize(const std::vector<int64_t>& ts, const std::vector<double>& values) {
  XorEncoder x;
  for (size_t i = 0; i < ts.size(); ++i) x.Append(ts[i], values[i]);
  return x.size_bytes();
}

// Encodes, decodes, checks every timestamp and every value bit, and returns the chunk.
std::string RoundTrip(const std::vector<int64_t>& ts, const std::vector<double>& values,
                      const SealedEncodeOptions& options = {}) {
  std::string chunk = EncodeSealed(ts, values, options);
  std::vector<int64_t> got_ts{42};  // decoding appends
  std::vector<double> got_values{4.2};
  Status s = DecodeSealed(chunk, &got_ts, &got_values);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got_ts.size(), ts.size() + 1);
  EXPECT_EQ(got_values.size(), values.size() + 1);
  if (got_ts.size() != ts.size() + 1 || got_values.size() != values.size() + 1) return chunk;
  EXPECT_EQ(got_ts[0], 42);
  for (size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(got_ts[i + 1], ts[i]) << "timestamp " << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(got_values[i + 1]), std::bit_cast<uint64_t>(values[i]))
        << "value " << i << ": want " << values[i] << " got " << got_values[i + 1];
  }
  Result<size_t> count = SealedSampleCount(chunk);
  EXPECT_TRUE(count.ok());
  if (count.ok()) {
    EXPECT_EQ(*count, ts.size());
  }
  return chunk;
}

TEST(SealedTest, EmptyChunk) {
  std::string chunk = RoundTrip({}, {});
  EXPECT_EQ(chunk.size(), 2u);
}

TEST(SealedTest, OneSample) {
  RoundTrip({1234}, {56.78});
  RoundTrip({-1}, {FromBits(kStaleNaN)});
  RoundTrip({kMin}, {-0.0});
  RoundTrip({kMax}, {std::numeric_limits<double>::infinity()});
}

TEST(SealedTest, TwoSamples) {
  RoundTrip({0, 1}, {1, 2});
  RoundTrip({kMax - 1, kMax}, {0.1, 0.30000000000000004});
}

TEST(SealedTest, StaleMarkerAndNaNPayloadsSurviveExactly) {
  const std::vector<uint64_t> nans = {kStaleNaN,
                                      0x7ff8000000000000ULL,
                                      0x7ff0000000000001ULL,
                                      0xfff8000000000000ULL,
                                      0x7ff8deadbeef1234ULL,
                                      0xffffffffffffffffULL};
  // NaNs among decimals go to the exception list.
  std::vector<double> values;
  for (int i = 0; i < 100; ++i) values.push_back(i * 0.25);
  for (size_t i = 0; i < nans.size(); ++i) values[10 * i + 5] = FromBits(nans[i]);
  values.back() = FromBits(kStaleNaN);
  std::string chunk = RoundTrip(Regular(values.size()), values);
  EXPECT_EQ(ValueLayout(chunk), kValDecimal);

  // A series that is only stale markers is a constant.
  chunk = RoundTrip(Regular(50), std::vector<double>(50, FromBits(kStaleNaN)));
  EXPECT_EQ(ValueLayout(chunk), kValConst);

  // NaNs among random floats go through XOR.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> dist(-1e6, 1e6);
  values.clear();
  for (int i = 0; i < 200; ++i) values.push_back(i % 17 == 0 ? FromBits(nans[i % nans.size()]) : dist(rng));
  chunk = RoundTrip(Regular(values.size()), values);
  EXPECT_EQ(ValueLayout(chunk), kValXor);
}

TEST(SealedTest, SpecialDoubles) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> specials = {0.0,
                                        -0.0,
                                        inf,
                                        -inf,
                                        std::numeric_limits<double>::max(),
                                        std::numeric_limits<double>::lowest(),
                                        std::numeric_limits<double>::min(),
                                        std::numeric_limits<double>::denorm_min(),
                                        -std::numeric_limits<double>::denorm_min(),
                                        std::numeric_limits<double>::epsilon(),
                                        1e308,
                                        1e-308,
                                        9007199254740992.0,   // 2^53
                                        9007199254740993.0,   // rounds to 2^53
                                        -9007199254740991.0,  // -(2^53 - 1)
                                        18446744073709551616.0,
                                        1e-15,
                                        1.5e-16};
  RoundTrip(Regular(specials.size()), specials);
  // Each special inside an otherwise decimal series.
  for (double special : specials) {
    std::vector<double> values = {1.5, 2.25, special, 3.75, -0.0, 4.0};
    RoundTrip(Regular(values.size()), values);
  }
  // All -0.0: a constant, and not the same as +0.0.
  std::string chunk = RoundTrip(Regular(10), std::vector<double>(10, -0.0));
  EXPECT_EQ(ValueLayout(chunk), kValConst);
}

TEST(SealedTest, ConstantSeriesIsTiny) {
  std::string chunk = RoundTrip(Regular(7200, 1'700'000'000'000, 1000), std::vector<double>(7200, 1.0));
  EXPECT_LT(chunk.size(), 20u);
  chunk = RoundTrip(Regular(7200), std::vector<double>(7200, 0.1 + 0.2));
  EXPECT_LT(chunk.size(), 25u);
}

TEST(SealedTest, IntegerCounters) {
  std::mt19937_64 rng(1);
  std::vector<double> values;
  double v = 1e9;
  for (int i = 0; i < 1000; ++i) {
    v += static_cast<double>(rng() % 1000);
    values.push_back(v);
  }
  std::string chunk = RoundTrip(Regular(values.size()), values);
  EXPECT_EQ(ValueLayout(chunk), kValDecimal);
  EXPECT_LT(chunk.size(), values.size() * 2);
  // A counter reset is a large negative delta.
  values[500] = 0;
  for (size_t i = 501; i < values.size(); ++i) values[i] = values[i - 1] + 3;
  RoundTrip(Regular(values.size()), values);
}

TEST(SealedTest, TwoDecimalRandomWalk) {
  std::mt19937_64 rng(2);
  std::vector<double> values;
  int64_t cents = 5000;
  for (int i = 0; i < 2000; ++i) {
    cents += static_cast<int64_t>(rng() % 201) - 100;  // negative deltas too
    values.push_back(static_cast<double>(cents) / 100);
  }
  std::string chunk = RoundTrip(Regular(values.size()), values);
  EXPECT_EQ(ValueLayout(chunk), kValDecimal);
}

TEST(SealedTest, MixedDecimalDigits) {
  std::vector<double> values = {1, 0.5, 0.25, 0.125, 0.0625, 1e-12, 123456.789, -0.001, 1e-15, 3};
  RoundTrip(Regular(values.size()), values);
  // Values that need 15 digits next to ones needing 16 significant digits.
  values = {0.000123456789012, 8.999999999999999, 1.0000000000000002, 0.1, 0.2};
  RoundTrip(Regular(values.size()), values);
}

TEST(SealedTest, InexactDecimalsFallBack) {
  // 0.1 + 0.2 is 0.30000000000000004: its mantissa at k = 17 is beyond 2^53.
  std::vector<double> values;
  for (int i = 0; i < 300; ++i) values.push_back(i * 0.01);
  values[100] = 0.1 + 0.2;
  values[200] = 1.0 / 3.0;
  values[250] = std::nextafter(2.5, 3.0);
  std::string chunk = RoundTrip(Regular(values.size()), values);
  EXPECT_EQ(ValueLayout(chunk), kValDecimal);  // corrected or listed, not a fallback

  // Sums that drift from their decimals by an ulp or two, as computed floats do.
  values.clear();
  double acc = 0;
  for (int i = 0; i < 300; ++i) values.push_back(acc += 0.1);
  RoundTrip(Regular(values.size()), values);
  values.clear();
  for (int i = 0; i < 300; ++i) values.push_back(static_cast<double>(1'000'000 + i * 1237) * 1e-6);
  chunk = RoundTrip(Regular(values.size()), values);
  EXPECT_EQ(ValueLayout(chunk), kValDecimal);

  // Nothing decimal about these: never worse than Gorilla.
  values.clear();
  for (int i = 1; i <= 300; ++i) values.push_back(std::sqrt(i));
  chunk = RoundTrip(Regular(values.size()), values);
  EXPECT_LE(chunk.size(), XorSize(Regular(values.size()), values));
}

TEST(SealedTest, LargeIntegers) {
  std::vector<double> values;
  for (int i = 0; i < 100; ++i) values.push_back(std::ldexp(1.0, 52) + i * 7);
  for (int i = 0; i < 100; ++i) values.push_back(std::ldexp(1.0, 60) + std::ldexp(1.0, 10) * i);
  for (int i = 0; i < 100; ++i) values.push_back(-std::ldexp(1.0, 53) + i);
  RoundTrip(Regular(values.size()), values);
  // Page-sized steps: the common divisor is factored out.
  values.clear();
  for (int i = 0; i < 1000; ++i) values.push_back(2.4e10 + 4096.0 * ((i * 7919) % 1000));
  std::string chunk = RoundTrip(Regular(values.size()), values);
  EXPECT_LT(chunk.size(), values.size() * 2);
}

TEST(SealedTest, IrregularTimestamps) {
  std::mt19937_64 rng(3);
  std::vector<int64_t> ts;
  int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 1000; ++i) {
    t += 1000 + static_cast<int64_t>(rng() % 20) - 10;  // jitter
    if (i % 100 == 99) t += 3'600'000;                  // a gap of an hour
    if (i == 500) t += 1'000'000'000'000'000;           // a huge gap
    ts.push_back(t);
  }
  std::vector<double> values(ts.size(), 1.0);
  RoundTrip(ts, values);
}

TEST(SealedTest, JitteredScrapesUseTheGrid) {
  std::mt19937_64 rng(9);
  std::vector<int64_t> ts = Regular(1000, 1'700'000'000'000, 1000);
  for (auto& t : ts) t += static_cast<int64_t>(rng() % 6);
  std::string chunk = RoundTrip(ts, std::vector<double>(ts.size(), 1.0));
  EXPECT_EQ(TsLayout(chunk), kTsGrid);
  EXPECT_LT(chunk.size(), ts.size() * 3 / 8 + 40);  // about log2(6) bits a sample
}

TEST(SealedTest, TimestampsNearInt64Extremes) {
  RoundTrip({kMin, kMin + 1, kMin + 2, kMin + 1000}, {1, 2, 3, 4});
  RoundTrip({kMax - 1000, kMax - 2, kMax - 1, kMax}, {1, 2, 3, 4});
  RoundTrip({kMin, -1, 0, 1, kMax}, {1, 2, 3, 4, 5});
  RoundTrip({kMin, kMax}, {0, 0});
  RoundTrip({kMin, 0, kMax}, {0, 0, 0});
  RoundTrip({-3'000'000, -2'000'000, -1'000'000, 0}, {-1, -2, -3, -4});
  std::vector<int64_t> ts = Regular(100, kMax - 100 * 15'000, 15'000);
  RoundTrip(ts, std::vector<double>(100, 2.0));
  ts = Regular(100, kMin, 15'000);
  RoundTrip(ts, std::vector<double>(100, 2.0));
}

TEST(SealedTest, DivisorOfWrappingDifferences) {
  // Found by sealed_fuzz: deltas whose differences wrap around 2^64 share a
  // divisor modulo 2^64 but not as integers, so none may be factored out.
  RoundTrip({-2960554215211663104, 5208492444338814975, 5208492482996226120, 5208492444341520456, 596806425914132552},
            {1, 2, 3, 4, 5});
}

TEST(SealedTest, RangeCoderFlushAfterCarry) {
  // Found by sealed_fuzz: a carry resolved during the range coder's flush
  // turned pending 0xff bytes into zeros, which were trimmed beyond what the
  // decoder accepts reading past the end.
  const std::vector<int64_t> ts = {144115188073163199,   -5570193308531903822, -5570193308531903822,
                                   -5570193308531903822, -6799976246492876110, -6799976246779207263,
                                   -6799976246779207263, -6799976246779207263, -6799976246779207263,
                                   -6799976246779207263, -6799976246779207263, -5570193308531903822};
  const std::vector<uint64_t> bits = {0xb2b2b2b2b2b2ff00ULL, 0xb2b2b2b2b2b2b2b2ULL, 0xb2b2b2b2b2b2b2b2ULL,
                                      0xb2b2b2b2b2b2b2b2ULL, 0xa1a1a1a1a1a1a1a1ULL, 0xa1a1a1a1a1a1a1a1ULL,
                                      0xa1a1a1a1a1a1a1a1ULL, 0xa1a1a1a1a1a1a1a1ULL, 0xa1a1a1a1a1a1a1a1ULL,
                                      0xa1a1a1a1a1a1a1a1ULL, 0xb2b2b2b2b2b2b2a1ULL, 0xffffffb2b2b2b2b2ULL};
  std::vector<double> values;
  for (uint64_t b : bits) values.push_back(FromBits(b));
  RoundTrip(ts, values);
}

// Uniformly random integer values of each bit width are packed (the values
// section's decimal mantissas, read back with one load per value up to the
// last few bytes): every width and tail length round-trips.
TEST(SealedTest, PackedWidthsAndTailsRoundTrip) {
  std::mt19937_64 rng(12);
  for (int width = 1; width <= 60; ++width) {
    for (size_t n : {2, 3, 7, 8, 9, 17, 64, 65, 300}) {
      std::vector<double> values(n);
      const uint64_t mask = width >= 52 ? (uint64_t{1} << 52) - 1 : (uint64_t{1} << width) - 1;
      for (double& v : values) v = static_cast<double>(rng() & mask);
      values[0] = 0;  // the range spans the whole width
      values[1] = static_cast<double>(mask);
      RoundTrip(Regular(n), values);
      if (HasFailure()) {
        ADD_FAILURE() << "width " << width << " count " << n;
        return;
      }
    }
  }
}

TEST(SealedTest, AnyTimestampOrderRoundTrips) {
  // The contract is increasing timestamps, but wrapping arithmetic makes any sequence exact.
  RoundTrip({10, 5, 5, kMax, kMin, 0}, {1, 2, 3, 4, 5, 6});
}

TEST(SealedTest, ZstdOffStillRoundTrips) {
  std::mt19937_64 rng(4);
  std::vector<double> values;
  int64_t cents = 0;
  for (int i = 0; i < 500; ++i) {
    cents += static_cast<int64_t>(rng() % 9) - 4;
    values.push_back(static_cast<double>(cents) / 100);
  }
  for (int level : {0, 1, 9, 19}) RoundTrip(Regular(values.size()), values, {.zstd_level = level});
}

TEST(SealedTest, RandomSeriesRoundTrip) {
  std::mt19937_64 rng(5);
  for (int iter = 0; iter < 300; ++iter) {
    size_t n = 1 + rng() % 300;
    std::vector<int64_t> ts(n);
    std::vector<double> values(n);
    int64_t t = static_cast<int64_t>(rng());
    int kind = static_cast<int>(rng() % 6);
    for (size_t i = 0; i < n; ++i) {
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + 1 + rng() % (kind == 0 ? 1ULL << 62 : 30000));
      ts[i] = t;
      switch (kind) {
        case 0: values[i] = FromBits(rng()); break;  // any bits, NaNs included
        case 1: values[i] = static_cast<double>(static_cast<int64_t>(rng() % 100000) - 50000) / 1000; break;
        case 2: values[i] = rng() % 4 == 0 ? FromBits(kStaleNaN) : static_cast<double>(rng() % 10); break;
        case 3: values[i] = std::ldexp(static_cast<double>(rng() % 1000), static_cast<int>(rng() % 200) - 100); break;
        case 4: values[i] = static_cast<double>(rng() % 100000) * 1e-6; break;  // inexact decimals
        default: values[i] = static_cast<double>(rng() % 3) * 0.1; break;
      }
    }
    RoundTrip(ts, values);
  }
}

TEST(SealedTest, ShortRandomSeriesRoundTrip) {
  // Many short blocks: range coder flushes, carries and trimmed tails.
  std::mt19937_64 rng(10);
  for (int iter = 0; iter < 5000; ++iter) {
    size_t n = 1 + rng() % 40;
    std::vector<int64_t> ts(n);
    std::vector<double> values(n);
    int64_t t = static_cast<int64_t>(rng() >> (rng() % 64));
    const uint64_t spread = 1 + (rng() >> (rng() % 64));
    for (size_t i = 0; i < n; ++i) {
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + rng() % spread);
      ts[i] = t;
      values[i] = rng() % 2 ? FromBits(rng() | (rng() % 3 == 0 ? 0 : 0xff00ULL))
                            : static_cast<double>(static_cast<int64_t>(rng() % spread)) / 100;
    }
    RoundTrip(ts, values);
  }
}

// --- Garbage ----------------------------------------------------------------

std::vector<std::string> SampleChunks() {
  std::vector<std::string> chunks;
  std::mt19937_64 rng(6);
  std::vector<double> walk, floats, micros;
  int64_t cents = 0;
  for (int i = 0; i < 400; ++i) {
    cents += static_cast<int64_t>(rng() % 41) - 20;
    walk.push_back(static_cast<double>(cents) / 100);
    floats.push_back(std::sqrt(i + 0.5));
    micros.push_back(static_cast<double>(rng() % 1'000'000) * 1e-6);
  }
  std::vector<int64_t> jittered = Regular(400, 1'700'000'000'000, 1000);
  for (auto& t : jittered) t += static_cast<int64_t>(rng() % 7);
  chunks.push_back(EncodeSealed(jittered, walk));
  chunks.push_back(EncodeSealed(Regular(400), floats));
  chunks.push_back(EncodeSealed(jittered, micros));
  chunks.push_back(EncodeSealed(Regular(400), std::vector<double>(400, FromBits(kStaleNaN))));
  chunks.push_back(EncodeSealed(Regular(3), std::vector<double>{1, 0.1 + 0.2, 3}));
  chunks.push_back(EncodeSealed(std::vector<int64_t>{5}, std::vector<double>{-0.0}));
  return chunks;
}

TEST(SealedTest, EveryTruncationIsAnError) {
  for (const std::string& chunk : SampleChunks()) {
    for (size_t len = 0; len < chunk.size(); ++len) {
      std::vector<int64_t> ts{1, 2};
      std::vector<double> values{3};
      Status s = DecodeSealed(std::string_view(chunk).substr(0, len), &ts, &values);
      EXPECT_FALSE(s.ok()) << "prefix of " << len << " of " << chunk.size() << " bytes";
      EXPECT_THAT(s.message(), HasSubstr("sealed chunk: "));
      // On error the output is left as it was.
      EXPECT_EQ(ts, (std::vector<int64_t>{1, 2}));
      EXPECT_EQ(values.size(), 1u);
    }
  }
}

TEST(SealedTest, ErrorMessages) {
  std::vector<int64_t> ts;
  std::vector<double> values;
  EXPECT_THAT(DecodeSealed("", &ts, &values).message(), HasSubstr("empty input"));
  EXPECT_THAT(DecodeSealed(std::string("\xc0\x01", 2), &ts, &values).message(), HasSubstr("reserved header bits"));
  EXPECT_THAT(DecodeSealed(std::string("\x03\x01", 2), &ts, &values).message(), HasSubstr("unknown layout"));
  EXPECT_THAT(DecodeSealed(std::string("\x0c\x01", 2), &ts, &values).message(), HasSubstr("unknown layout"));
  // 2^20 + 1 samples.
  EXPECT_THAT(DecodeSealed(std::string("\x00\x81\x80\x40", 4), &ts, &values).message(),
              HasSubstr("sample count too large"));
  EXPECT_THAT(DecodeSealed(std::string("\x00\x00\x00", 3), &ts, &values).message(), HasSubstr("empty chunk"));
  // One sample, timestamp section of 1 byte (t0 = 0), constant value section of 7 bytes.
  EXPECT_THAT(DecodeSealed(std::string("\x00\x01\x01\x00"
                                       "1234567",
                                       11),
                           &ts, &values)
                  .message(),
              HasSubstr("sealed chunk: truncated value section"));
  // A zstd value section that is not zstd.
  EXPECT_THAT(DecodeSealed(std::string("\x20\x01\x01\x00"
                                       "12345678",
                                       12),
                           &ts, &values)
                  .message(),
              HasSubstr("values: sealed chunk: bad zstd"));
  // Trailing garbage after a valid chunk.
  std::string chunk = EncodeSealed(std::vector<int64_t>{1, 2, 3}, std::vector<double>{1, 2, 3}) + "x";
  EXPECT_THAT(DecodeSealed(chunk, &ts, &values).message(), HasSubstr("trailing bytes"));
  EXPECT_TRUE(ts.empty());
  EXPECT_TRUE(values.empty());
  EXPECT_FALSE(SealedSampleCount("").ok());
}

TEST(SealedTest, MaximalCountFromTinyInputIsBounded) {
  // 2^20 samples of a constant from 16 bytes: the largest output any input can ask for.
  // Header 0x01 (delta timestamps, constant value), count, ts_len 3, t0 0, width-0 block, 1.0.
  std::string chunk(
      "\x01\x80\x80\x40\x03\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00\xf0\x3f",
      16);
  std::vector<int64_t> ts;
  std::vector<double> values;
  Status s = DecodeSealed(chunk, &ts, &values);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ts.size(), kMaxSealedSamples);
  EXPECT_EQ(ts.back(), 0);
  EXPECT_EQ(values.back(), 1.0);
}

TEST(SealedTest, CorruptedChunksNeverCrash) {
  std::mt19937_64 rng(8);
  std::vector<std::string> chunks = SampleChunks();
  for (int iter = 0; iter < 20000; ++iter) {
    std::string data;
    if (iter % 2 == 0) {
      data = chunks[rng() % chunks.size()];
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) data[rng() % data.size()] ^= static_cast<char>(1 << (rng() % 8));
    } else {
      data.resize(rng() % 64);
      for (char& c : data) c = static_cast<char>(rng());
      if (!data.empty()) data[0] = static_cast<char>(data[0] & 0x3f);
    }
    std::vector<int64_t> ts;
    std::vector<double> values;
    Status s = DecodeSealed(data, &ts, &values);
    if (s.ok()) {
      Result<size_t> count = SealedSampleCount(data);
      ASSERT_TRUE(count.ok());
      EXPECT_EQ(ts.size(), *count);
      EXPECT_EQ(values.size(), *count);
    } else {
      EXPECT_TRUE(ts.empty());
      EXPECT_THAT(s.message(), HasSubstr("sealed chunk: "));
    }
  }
}

TEST(SealedSplit, RoundTripsAndEqualTimestampsGiveEqualParts) {
  std::mt19937 rng(9);
  std::vector<int64_t> ts;
  std::vector<double> a, b;
  for (int i = 0; i < 2000; ++i) {
    ts.push_back(1'700'000'000'000 + 1000LL * i + static_cast<int64_t>(rng() % 21) - 10);
    a.push_back(i % 100 == 5 ? FromBits(kStaleNaN) : 0.01 * static_cast<double>(rng() % 100000));
    b.push_back(std::sin(i));
  }
  std::string tp = EncodeSealedTimestamps(ts);
  EXPECT_EQ(tp, EncodeSealedTimestamps(std::vector<int64_t>(ts)));
  for (const auto* vals : {&a, &b}) {
    std::string vp = EncodeSealedValues(*vals);
    std::vector<int64_t> t2{42};
    std::vector<double> v2{1.0};
    ASSERT_TRUE(DecodeSealedSplit(tp, vp, &t2, &v2).ok());
    ASSERT_EQ(t2.size(), ts.size() + 1);
    EXPECT_TRUE(std::equal(ts.begin(), ts.end(), t2.begin() + 1));
    for (size_t i = 0; i < vals->size(); ++i)
      ASSERT_EQ(std::bit_cast<uint64_t>(v2[i + 1]), std::bit_cast<uint64_t>((*vals)[i]));
    // The same sections as the joined chunk, which is never smaller than the two parts' sections.
    std::string joined = EncodeSealed(ts, *vals);
    EXPECT_LE(tp.size() + vp.size(), joined.size() + 4);
  }
  // Mismatched counts, swapped parts and truncation are errors that leave the output alone.
  std::vector<int64_t> t3;
  std::vector<double> v3;
  std::string vp = EncodeSealedValues(a);
  EXPECT_FALSE(DecodeSealedSplit(tp, EncodeSealedValues(std::span<const double>(a).first(10)), &t3, &v3).ok());
  EXPECT_FALSE(DecodeSealedSplit(vp, tp, &t3, &v3).ok());
  EXPECT_FALSE(DecodeSealedSplit(tp.substr(0, tp.size() / 2), vp, &t3, &v3).ok());
  EXPECT_FALSE(DecodeSealedSplit(tp, vp.substr(0, vp.size() - 1), &t3, &v3).ok());
  EXPECT_TRUE(t3.empty() && v3.empty());
}

}  // namespace
}  // namespace vigil::tsdb::chunkenc
