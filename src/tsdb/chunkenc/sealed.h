// The compact encoding for sealed (immutable, on-disk) series data. Unlike the
// Gorilla head chunks it is written once, so it can afford to try several
// layouts per chunk and keep the smallest:
//   - timestamps as delta-of-delta, as the deviation of each delta from the
//     median step, or as the offset from a fixed grid;
//   - values as a constant, as decimal-scaled integers (value == m / 10^k,
//     one k per chunk, m delta- or delta-of-delta-coded, with an exception
//     list for samples that are not exact decimals), or as Gorilla XOR;
//   - integer residuals as zigzag varints or frame-of-reference bit-packed;
//   - each section zstd-compressed only when that makes it smaller.
// Every double round-trips bit for bit (NaN payloads, the stale marker, -0.0).
// The byte layout is documented in sealed.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::tsdb::chunkenc {

// The most samples one sealed chunk may hold; it bounds what a decoder will
// allocate for any input (16 bytes per sample).
inline constexpr size_t kMaxSealedSamples = size_t{1} << 20;

// The zstd level EncodeSealed uses unless told otherwise (see sealed_sizes_test.cc).
inline constexpr int kDefaultSealedZstdLevel = 3;

struct SealedEncodeOptions {
  int zstd_level = kDefaultSealedZstdLevel;  // 1..19; 0 disables zstd
};

// Encodes the samples. Requires timestamps_ms.size() == values.size() <=
// kMaxSealedSamples (aborts otherwise). Timestamps should increase, but any
// int64 sequence round-trips.
std::string EncodeSealed(std::span<const int64_t> timestamps_ms, std::span<const double> values,
                         const SealedEncodeOptions& options = {});

// Appends the samples of a sealed chunk to *timestamps_ms and *values. On error
// both vectors are left as they were.
Status DecodeSealed(std::string_view data, std::vector<int64_t>* timestamps_ms, std::vector<double>* values);

// Returns the number of samples in a sealed chunk without decoding it.
Result<size_t> SealedSampleCount(std::string_view data);

}  // namespace vigil::tsdb::chunkenc
