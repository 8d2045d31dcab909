#include "tsdb/chunkenc/prom_xor.h"

#include <bit>

namespace vigil::tsdb::chunkenc {
PromXorEncoder::PromXorEncoder() { w_.Write(0, 16); }

void PromXorEncoder::Append(int64_t t, double v) {
  const uint64_t vb = std::bit_cast<uint64_t>(v);
  if (count_ == 0) {
    WriteZigZagVarint(w_, t);  // Go's binary.PutVarint
    w_.Write(vb, 64);
  } else {
    const uint64_t delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
    if (count_ == 1) {
      WriteUvarint(w_, delta);  // Go's binary.PutUvarint
    } else {
      WriteDeltaOfDelta(w_, static_cast<int64_t>(delta - delta_));
    }
    delta_ = delta;
    values_.Append(w_, vb ^ v_bits_);
  }
  t_ = t;
  v_bits_ = vb;
  ++count_;
  std::string& bytes = w_.bytes();
  bytes[0] = static_cast<char>((count_ >> 8) & 0xff);
  bytes[1] = static_cast<char>(count_ & 0xff);
}

PromXorDecoder::PromXorDecoder(std::string_view chunk) {
  if (chunk.size() < 2) {
    corrupt_ = true;
    return;
  }
  total_ = (static_cast<uint8_t>(chunk[0]) << 8) | static_cast<uint8_t>(chunk[1]);
  r_ = BitReader(chunk.substr(2));
}

bool PromXorDecoder::Next() {
  if (corrupt_ || read_ >= total_) return false;
  if (read_ == 0) {
    if (!ReadZigZagVarint(r_, &t_)) return corrupt_ = true, false;
    v_bits_ = r_.Read(64);
  } else {
    if (read_ == 1) {
      if (!ReadUvarint(r_, &delta_)) return corrupt_ = true, false;
    } else {
      delta_ += static_cast<uint64_t>(ReadDeltaOfDelta(r_));
    }
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + delta_);
    uint64_t x = 0;
    if (!values_.Next(r_, &x)) return corrupt_ = true, false;
    v_bits_ ^= x;
  }
  if (r_.overrun()) return corrupt_ = true, false;
  v_ = std::bit_cast<double>(v_bits_);
  ++read_;
  return true;
}

}  // namespace vigil::tsdb::chunkenc
