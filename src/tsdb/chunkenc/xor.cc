#include "tsdb/chunkenc/xor.h"

#include <bit>

namespace vigil::tsdb::chunkenc {

XorEncoder::XorEncoder() { w_.Write(0, 16); }

void XorEncoder::Append(int64_t t, double v) {
  uint64_t vb = std::bit_cast<uint64_t>(v);
  ts_.Append(w_, count_, t);
  if (count_ == 0) {
    w_.Write(vb, 64);
  } else {
    values_.Append(w_, vb ^ v_bits_);
  }
  v_bits_ = vb;
  ++count_;
  std::string& bytes = w_.bytes();
  bytes[0] = static_cast<char>((count_ >> 8) & 0xff);
  bytes[1] = static_cast<char>(count_ & 0xff);
}

XorDecoder::XorDecoder(std::string_view chunk) {
  if (chunk.size() < 2) {
    corrupt_ = !chunk.empty();
    return;
  }
  total_ = (static_cast<uint8_t>(chunk[0]) << 8) | static_cast<uint8_t>(chunk[1]);
  r_ = BitReader(chunk.substr(2));
}

bool XorDecoder::Next() {
  if (corrupt_ || read_ >= total_) return false;
  if (!ts_.Next(r_, read_)) return corrupt_ = true, false;
  if (read_ == 0) {
    v_bits_ = r_.Read(64);
  } else {
    uint64_t x;
    if (!values_.Next(r_, &x)) return corrupt_ = true, false;
    v_bits_ ^= x;
  }
  if (r_.overrun()) return corrupt_ = true, false;
  v_ = std::bit_cast<double>(v_bits_);
  ++read_;
  return true;
}

}  // namespace vigil::tsdb::chunkenc
