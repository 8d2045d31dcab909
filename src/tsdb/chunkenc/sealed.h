// The compact encoding for sealed (immutable, on-disk) series data. Unlike the
// Gorilla head chunks it is written once, so it tries several layouts per
// chunk and keeps the smallest:
//   - timestamps as delta-of-delta, as deltas, or as offsets from a fixed grid
//     (a scraper's jitter without its drift);
//   - values as a constant, as decimal-scaled integers (value == m / 10^k with
//     one k per chunk, m absolute, delta- or delta-of-delta-coded, plus an ulp
//     correction for values computed from decimals and an exception list for
//     NaNs and the like), or as Gorilla XOR;
//   - integer residuals bit-packed, as varints, sparse, Exp-Golomb, or with an
//     adaptive binary range coder, after taking out a common divisor;
//   - each section zstd-compressed only when that makes it smaller.
// Every double round-trips bit for bit (NaN payloads, the stale marker, -0.0).
// The byte layout is documented at the top of sealed.cc.
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

// The split form of a sealed chunk (layout at the top of sealed.cc): the
// timestamps and the values encoded apart, so that series with identical
// timestamps can share one timestamps part. Both abort on 0 or more than
// kMaxSealedSamples samples. Equal timestamp sequences (and options) give
// byte-identical parts.
std::string EncodeSealedTimestamps(std::span<const int64_t> timestamps_ms, const SealedEncodeOptions& options = {});
std::string EncodeSealedValues(std::span<const double> values, const SealedEncodeOptions& options = {});
// Decodes a timestamps part and a values part of the same sample count,
// appending as DecodeSealed does (nothing on error).
Status DecodeSealedSplit(std::string_view ts_part, std::string_view value_part, std::vector<int64_t>* timestamps_ms,
                         std::vector<double>* values);

// Decodes only a values part of `count` samples, appending to *values
// (nothing on error): for a reader that already holds the timestamps.
Status DecodeSealedValues(std::string_view value_part, size_t count, std::vector<double>* values);

// Returns the number of samples in a sealed chunk without decoding it.
Result<size_t> SealedSampleCount(std::string_view data);

}  // namespace vigil::tsdb::chunkenc
