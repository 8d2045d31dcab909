// Prometheus's own XOR chunk bytes (tsdb/chunkenc/xor.go), for remote read's
// STREAMED_XOR_CHUNKS. vigil's head chunks (xor.h) differ in one place: the
// second timestamp's delta is a zigzag varint there and an unsigned varint
// here, so their bytes cannot be sent as they are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tsdb/chunkenc/bitstream.h"
#include "tsdb/chunkenc/gorilla.h"

namespace vigil::tsdb::chunkenc {

// Prometheus cuts chunks at this many samples; its readers accept up to 65535.
inline constexpr int kPrometheusChunkSamples = 120;

class PromXorEncoder {
 public:
  PromXorEncoder();
  // Appends a sample; timestamps must increase. At most 65535 samples.
  void Append(int64_t t, double v);
  int num_samples() const { return count_; }
  // The chunk: 2-byte big-endian sample count, then the bit stream.
  std::string_view bytes() const { return w_.bytes(); }

 private:
  BitWriter w_;
  int count_ = 0;
  int64_t t_ = 0;
  uint64_t delta_ = 0;
  uint64_t v_bits_ = 0;
  XorValueWriter values_;
};

class PromXorDecoder {
 public:
  explicit PromXorDecoder(std::string_view chunk);
  // Advances to the next sample; false at the end or on corrupt input.
  bool Next();
  int64_t t() const { return t_; }
  double v() const { return v_; }
  bool corrupt() const { return corrupt_; }
  int num_samples() const { return total_; }

 private:
  BitReader r_;
  int total_ = 0;
  int read_ = 0;
  int64_t t_ = 0;
  uint64_t delta_ = 0;
  uint64_t v_bits_ = 0;
  double v_ = 0;
  XorValueReader values_;
  bool corrupt_ = false;
};

}  // namespace vigil::tsdb::chunkenc
