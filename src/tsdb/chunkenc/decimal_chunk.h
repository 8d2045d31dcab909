// The head's chunk encoding: Gorilla timestamps, and values that are decimals
// with few digits (most of what hosts export: counts, bytes, 2-decimal gauges)
// as deltas of scaled integers m / 10^k instead of XOR'ed bits, which costs a
// quarter of the bits for such series. A chunk whose first value is not a
// short decimal is XOR-coded throughout; a later value that is not one is
// stored as an exception. Every double round-trips bit for bit (NaN payloads,
// the stale marker, ±Inf, -0.0). Layout in docs/format/chunks.md.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "tsdb/chunkenc/bitstream.h"
#include "tsdb/chunkenc/gorilla.h"

namespace vigil::tsdb::chunkenc {

class DecimalEncoder {
 public:
  DecimalEncoder();
  // Appends a sample; timestamps must increase (the head checks that), at
  // most 65535 samples.
  void Append(int64_t t, double v);
  int num_samples() const { return count_; }
  // The encoded chunk, valid until the next Append.
  std::string_view bytes() const { return w_.bytes(); }
  size_t size_bytes() const { return w_.bytes().size(); }

 private:
  void AppendDecimal(double v, uint64_t vb);
  void WriteDelta(int64_t delta);

  // Every head series holds one encoder: the small fields share a word.
  BitWriter w_;
  TimestampWriter ts_;
  uint64_t v_bits_ = 0;  // the previous value
  int64_t m_ = 0;        // the previous decimal value's mantissa
  XorValueWriter xor_;
  uint16_t count_ = 0;
  bool decimal_ = false;  // false: XOR values throughout
  uint8_t k_ = 0;         // current scale; only grows within a chunk
  uint8_t width_ = 0;     // the last delta width written; 0: none yet
  uint8_t searches_ = 0;  // failed searches for a new scale so far (bounds the cost of non-decimals)
};

class DecimalDecoder {
 public:
  explicit DecimalDecoder(std::string_view chunk);
  // Advances to the next sample; false at the end or on corrupt input.
  bool Next();
  int64_t t() const { return ts_.t(); }
  double v() const { return std::bit_cast<double>(v_bits_); }
  // True iff decoding stopped because the input was malformed.
  bool corrupt() const { return corrupt_; }
  int num_samples() const { return total_; }

 private:
  bool NextDecimal();
  int ReadPrefix();
  bool ReadDelta(int prefix, int64_t* delta);

  BitReader r_;
  TimestampReader ts_;
  XorValueReader xor_;
  int total_ = 0;
  int read_ = 0;
  uint64_t v_bits_ = 0;
  int64_t m_ = 0;
  int k_ = 0;
  int width_ = 0;
  bool decimal_ = false;
  bool corrupt_ = false;
};

}  // namespace vigil::tsdb::chunkenc
