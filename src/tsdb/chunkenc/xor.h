// The Gorilla encoding (Pelkonen et al., VLDB 2015) as Prometheus uses it:
// delta-of-delta timestamps and XOR'ed float values in one bit stream,
// prefixed by a 2-byte big-endian sample count. Head chunks use it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tsdb/chunkenc/bitstream.h"

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
  int count_ = 0;
  int64_t t_ = 0;
  int64_t t_delta_ = 0;
  uint64_t v_bits_ = 0;
  int leading_ = 0xff;  // 0xff: no previous XOR window
  int trailing_ = 0;
};

class XorDecoder {
 public:
  explicit XorDecoder(std::string_view chunk);
  // Advances to the next sample; false at the end or on corrupt input.
  bool Next();
  int64_t t() const { return t_; }
  double v() const { return v_; }
  // True iff decoding stopped because the input was malformed.
  bool corrupt() const { return corrupt_; }
  int num_samples() const { return total_; }

 private:
  BitReader r_;
  int total_ = 0;
  int read_ = 0;
  int64_t t_ = 0;
  int64_t t_delta_ = 0;
  uint64_t v_bits_ = 0;
  double v_ = 0;
  int leading_ = 0;
  int trailing_ = 0;
  bool corrupt_ = false;
};

}  // namespace vigil::tsdb::chunkenc
