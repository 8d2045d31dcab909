// The Gorilla encoding (Pelkonen et al., VLDB 2015) as Prometheus uses it:
// delta-of-delta timestamps and XOR'ed float values in one bit stream,
// prefixed by a 2-byte big-endian sample count. Head chunks use it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tsdb/chunkenc/bitstream.h"
#include "tsdb/chunkenc/gorilla.h"

namespace vigil::tsdb::chunkenc {

class XorEncoder {
 public:
  XorEncoder();
  // Appends a sample; timestamps must increase (the head checks that).
  void Append(int64_t t, double v);
  int num_samples() const { return count_; }
  // The encoded chunk, valid until the next Append.
  std::string_view bytes() const { return w_.bytes(); }
  size_t size_bytes() const { return w_.bytes().size(); }

 private:
  BitWriter w_;
  TimestampWriter ts_;
  int count_ = 0;
  XorValueWriter values_;
  uint64_t v_bits_ = 0;
};

class XorDecoder {
 public:
  explicit XorDecoder(std::string_view chunk);
  // Advances to the next sample; false at the end or on corrupt input.
  bool Next();
  int64_t t() const { return ts_.t(); }
  double v() const { return v_; }
  // True iff decoding stopped because the input was malformed.
  bool corrupt() const { return corrupt_; }
  int num_samples() const { return total_; }

 private:
  BitReader r_;
  TimestampReader ts_;
  int total_ = 0;
  int read_ = 0;
  XorValueReader values_;
  uint64_t v_bits_ = 0;
  double v_ = 0;
  bool corrupt_ = false;
};

}  // namespace vigil::tsdb::chunkenc
