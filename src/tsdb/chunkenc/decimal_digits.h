// Values as decimal-scaled integers (v == m / 10^k), shared by the sealed
// encoding and the head's decimal chunks so both agree on what "exact" means.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace vigil::tsdb::chunkenc {

inline constexpr int kMaxDecimalDigits = 15;
inline constexpr int64_t kMaxMantissa = int64_t{1} << 53;  // |m| below this converts to double exactly
inline constexpr std::array<double, kMaxDecimalDigits + 1> kPow10 = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
inline constexpr std::array<int64_t, kMaxDecimalDigits + 1> kPow10Int = {
    1,         10,         100,         1000,         10000,         100000,         1000000,         10000000,
    100000000, 1000000000, 10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000, 1000000000000000};

// The value a decoder produces for mantissa m at scale k (0 <= k <= 15).
// Both operands are exact and IEEE division rounds correctly, so every
// decoder computes the same bits.
inline double DecimalValue(int64_t m, int k) { return static_cast<double>(m) / kPow10[static_cast<size_t>(k)]; }

// True iff v == DecimalValue(*m, k) bit for bit for an |m| < 2^53 (so never
// for NaN, ±Inf or -0.0); sets *m. The head calls this for every sample:
// llrint is one instruction, where nearbyint saves and restores the
// floating-point environment. Below 2^53 both round to nearest even.
inline bool ExactAtDigits(double v, int k, int64_t* m) {
  double scaled = v * kPow10[static_cast<size_t>(k)];
  if (!(std::fabs(scaled) < static_cast<double>(kMaxMantissa))) return false;  // also NaN and Inf
  int64_t candidate = std::llrint(scaled);
  if (std::bit_cast<uint64_t>(DecimalValue(candidate, k)) != std::bit_cast<uint64_t>(v)) return false;
  *m = candidate;
  return true;
}

// Returns the smallest k with v == double(m) / 10^k exactly for an |m| < 2^53, or -1.
inline int ExactDigits(double v, int64_t* m) {
  if (!std::isfinite(v)) return -1;
  for (int k = 0; k <= kMaxDecimalDigits; ++k) {
    if (!(std::fabs(v * kPow10[static_cast<size_t>(k)]) < static_cast<double>(kMaxMantissa))) return -1;
    if (ExactAtDigits(v, k, m)) return k;
  }
  return -1;
}

}  // namespace vigil::tsdb::chunkenc
