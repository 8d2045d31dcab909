#include "tsdb/chunkenc/decimal_chunk.h"

#include <bit>

#include "tsdb/chunkenc/decimal_digits.h"

namespace vigil::tsdb::chunkenc {
namespace {

// Value codes after sample 0 in a decimal chunk (MSB first):
//   0                      the same mantissa as before
//   10   + width bits      zigzag(delta of m) in the previous width
//   110  + 6 + w bits      a new width w (64 written as 0), then zigzag(delta) in w bits
//   1110 + 4 bits k'       the scale grows to k' (the previous m is scaled up), then one of the above
//   1111 + 0               an exception repeating the previous value's bits
//   1111 + 1 + 5 + 6 + s   an exception: bits XOR previous bits, as leading zeros (≤ 31),
//                          significant-bit count s (64 written as 0) and the s bits
constexpr uint64_t kReuseWidth = 0b10;
constexpr uint64_t kNewWidth = 0b110;
constexpr uint64_t kRescale = 0b1110;
constexpr uint64_t kException = 0b1111;

// A chunk stops looking for a larger scale after this many values that have
// none: a series of arbitrary doubles must not cost a 16-step search per sample.
constexpr int kMaxFailedSearches = 4;

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }
int64_t Add(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
int64_t Sub(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
int64_t Mul(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }

}  // namespace

DecimalEncoder::DecimalEncoder() { w_.Write(0, 16); }

void DecimalEncoder::Append(int64_t t, double v) {
  const uint64_t vb = std::bit_cast<uint64_t>(v);
  ts_.Append(w_, count_, t);
  if (count_ == 0) {
    int64_t m = 0;
    int k = ExactDigits(v, &m);
    decimal_ = k >= 0;
    if (decimal_) {
      w_.WriteBit(false);
      w_.Write(static_cast<uint64_t>(k), 4);
      WriteZigZagVarint(w_, m);
      k_ = static_cast<uint8_t>(k);
      m_ = m;
    } else {
      w_.WriteBit(true);
      w_.Write(vb, 64);
    }
  } else if (decimal_) {
    AppendDecimal(v, vb);
  } else {
    xor_.Append(w_, vb ^ v_bits_);
  }
  v_bits_ = vb;
  ++count_;
  std::string& bytes = w_.bytes();
  bytes[0] = static_cast<char>(count_ >> 8);
  bytes[1] = static_cast<char>(count_ & 0xff);
}

void DecimalEncoder::AppendDecimal(double v, uint64_t vb) {
  int64_t m = 0;
  if (ExactAtDigits(v, k_, &m)) {
    WriteDelta(Sub(m, m_));
    m_ = m;
    return;
  }
  if (searches_ < kMaxFailedSearches && std::isfinite(v)) {
    int k = ExactDigits(v, &m);
    if (k > k_) {
      // Wrapping: an overflowing scaled m only makes this one delta large.
      w_.Write(kRescale, 4);
      w_.Write(static_cast<uint64_t>(k), 4);
      m_ = Mul(m_, kPow10Int[static_cast<size_t>(k - k_)]);
      k_ = static_cast<uint8_t>(k);
      WriteDelta(Sub(m, m_));
      m_ = m;
      return;
    }
    if (k < 0) ++searches_;
  }
  w_.Write(kException, 4);
  uint64_t x = vb ^ v_bits_;
  if (x == 0) {
    w_.WriteBit(false);
    return;
  }
  w_.WriteBit(true);
  int lead = std::countl_zero(x);
  int trail = std::countr_zero(x);
  if (lead > 31) lead = 31;
  int sig = 64 - lead - trail;
  w_.Write(static_cast<uint64_t>(lead), 5);
  w_.Write(static_cast<uint64_t>(sig & 63), 6);
  w_.Write(x >> trail, sig);
}

void DecimalEncoder::WriteDelta(int64_t delta) {
  const uint64_t zz = ZigZag(delta);
  if (zz == 0) {
    w_.WriteBit(false);
    return;
  }
  const int bits = std::bit_width(zz);
  // A new width costs 7 bits more than reusing one; reuse up to 7 wasted bits.
  if (width_ != 0 && bits <= width_ && width_ - bits <= 7) {
    w_.Write(kReuseWidth, 2);
    w_.Write(zz, width_);
    return;
  }
  width_ = static_cast<uint8_t>(bits);
  w_.Write(kNewWidth, 3);
  w_.Write(static_cast<uint64_t>(bits & 63), 6);
  w_.Write(zz, bits);
}

DecimalDecoder::DecimalDecoder(std::string_view chunk) {
  if (chunk.size() < 2) {
    corrupt_ = !chunk.empty();
    return;
  }
  total_ = (static_cast<uint8_t>(chunk[0]) << 8) | static_cast<uint8_t>(chunk[1]);
  r_ = BitReader(chunk.substr(2));
}

bool DecimalDecoder::Next() {
  if (corrupt_ || read_ >= total_) return false;
  if (!ts_.Next(r_, read_)) return corrupt_ = true, false;
  if (read_ == 0) {
    decimal_ = !r_.ReadBit();
    if (decimal_) {
      k_ = static_cast<int>(r_.Read(4));
      if (!ReadZigZagVarint(r_, &m_)) return corrupt_ = true, false;
      v_bits_ = std::bit_cast<uint64_t>(DecimalValue(m_, k_));
    } else {
      v_bits_ = r_.Read(64);
    }
  } else if (decimal_) {
    if (!NextDecimal()) return corrupt_ = true, false;
  } else {
    uint64_t x;
    if (!xor_.Next(r_, &x)) return corrupt_ = true, false;
    v_bits_ ^= x;
  }
  if (r_.overrun()) return corrupt_ = true, false;
  ++read_;
  return true;
}

// The number of 1 bits before a 0, at most 4: which value code follows.
int DecimalDecoder::ReadPrefix() {
  int ones = 0;
  while (ones < 4 && r_.ReadBit()) ++ones;
  return ones;
}

bool DecimalDecoder::ReadDelta(int prefix, int64_t* delta) {
  if (prefix == 0) {
    *delta = 0;
  } else if (prefix == 1) {
    if (width_ == 0) return false;  // no width to reuse yet
    *delta = UnZigZag(r_.Read(width_));
  } else if (prefix == 2) {
    width_ = static_cast<int>(r_.Read(6));
    if (width_ == 0) width_ = 64;
    *delta = UnZigZag(r_.Read(width_));
  } else {
    return false;
  }
  return true;
}

bool DecimalDecoder::NextDecimal() {
  int prefix = ReadPrefix();
  if (prefix == 4) {
    if (r_.ReadBit()) {
      int lead = static_cast<int>(r_.Read(5));
      int sig = static_cast<int>(r_.Read(6));
      if (sig == 0) sig = 64;
      if (lead + sig > 64) return false;
      v_bits_ ^= r_.Read(sig) << (64 - lead - sig);
    }
    return true;
  }
  if (prefix == 3) {
    int k = static_cast<int>(r_.Read(4));
    if (k <= k_) return false;  // the encoder only grows the scale
    m_ = Mul(m_, kPow10Int[static_cast<size_t>(k - k_)]);
    k_ = k;
    prefix = ReadPrefix();
  }
  int64_t delta = 0;
  if (!ReadDelta(prefix, &delta)) return false;
  m_ = Add(m_, delta);
  v_bits_ = std::bit_cast<uint64_t>(DecimalValue(m_, k_));
  return true;
}

}  // namespace vigil::tsdb::chunkenc
