// The two halves of a Gorilla bit stream, shared by the XOR and decimal head
// chunks (docs/format/chunks.md): delta-of-delta timestamps (sample 0 as a
// zigzag varint, sample 1 as a zigzag varint delta, then bucketed
// delta-of-deltas) and XOR'ed value bits with a reusable window. Arithmetic
// wraps, so any int64 sequence round-trips and garbage input is never
// undefined behaviour.
#pragma once

#include <bit>
#include <cstdint>

#include "tsdb/chunkenc/bitstream.h"

namespace vigil::tsdb::chunkenc {

// Go's binary.PutUvarint / Uvarint inside a bit stream (Prometheus's XOR
// chunks write the second timestamp's delta so).
inline void WriteUvarint(BitWriter& w, uint64_t u) {
  while (u >= 0x80) {
    w.Write((u & 0x7f) | 0x80, 8);
    u >>= 7;
  }
  w.Write(u, 8);
}

inline bool ReadUvarint(BitReader& r, uint64_t* out) {
  uint64_t u = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    uint64_t b = r.Read(8);
    if (r.overrun()) return false;
    u |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = u;
      return true;
    }
  }
  return false;
}

// Go's binary.PutVarint / Varint: zigzag, then a uvarint.
inline void WriteZigZagVarint(BitWriter& w, int64_t v) {
  WriteUvarint(w, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

inline bool ReadZigZagVarint(BitReader& r, int64_t* out) {
  uint64_t u = 0;
  if (!ReadUvarint(r, &u)) return false;
  *out = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

// A timestamp's delta of delta in Gorilla's buckets, as Prometheus writes
// them: '0' for none, else 10, 110 or 1110 and 14, 17 or 20 bits, or 1111
// and 64. A bucket holds -(2^(b-1))+1 .. 2^(b-1).
inline void WriteDeltaOfDelta(BitWriter& w, int64_t dod) {
  auto fits = [&](int bits) { return dod >= -(int64_t{1} << (bits - 1)) + 1 && dod <= int64_t{1} << (bits - 1); };
  if (dod == 0) {
    w.WriteBit(false);
  } else if (fits(14)) {
    w.Write(0b10, 2);
    w.Write(static_cast<uint64_t>(dod), 14);
  } else if (fits(17)) {
    w.Write(0b110, 3);
    w.Write(static_cast<uint64_t>(dod), 17);
  } else if (fits(20)) {
    w.Write(0b1110, 4);
    w.Write(static_cast<uint64_t>(dod), 20);
  } else {
    w.Write(0b1111, 4);
    w.Write(static_cast<uint64_t>(dod), 64);
  }
}

inline int64_t ReadDeltaOfDelta(BitReader& r) {
  if (!r.ReadBit()) return 0;
  int width = 64;
  if (!r.ReadBit()) {
    width = 14;
  } else if (!r.ReadBit()) {
    width = 17;
  } else if (!r.ReadBit()) {
    width = 20;
  }
  uint64_t raw = r.Read(width);
  if (width < 64 && raw > (1ULL << (width - 1))) raw -= 1ULL << width;
  return static_cast<int64_t>(raw);
}

class TimestampWriter {
 public:
  // Appends timestamp number `index` (0, 1, 2, ... in order).
  void Append(BitWriter& w, int index, int64_t t) {
    if (index == 0) {
      WriteZigZagVarint(w, t);
    } else if (index == 1) {
      delta_ = Sub(t, t_);
      WriteZigZagVarint(w, delta_);
    } else {
      int64_t delta = Sub(t, t_);
      int64_t dod = Sub(delta, delta_);
      delta_ = delta;
      WriteDeltaOfDelta(w, dod);
    }
    t_ = t;
  }

 private:
  static int64_t Sub(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  }
  int64_t t_ = 0;
  int64_t delta_ = 0;
};

class TimestampReader {
 public:
  // Reads timestamp number `index`; false when the input ends early.
  bool Next(BitReader& r, int index) {
    if (index == 0) return ReadZigZagVarint(r, &t_);
    if (index == 1) {
      if (!ReadZigZagVarint(r, &delta_)) return false;
    } else {
      int64_t dod = ReadDeltaOfDelta(r);
      delta_ = static_cast<int64_t>(static_cast<uint64_t>(delta_) + static_cast<uint64_t>(dod));
    }
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + static_cast<uint64_t>(delta_));
    return !r.overrun();
  }
  int64_t t() const { return t_; }

 private:
  int64_t t_ = 0;
  int64_t delta_ = 0;
};

// Writes x = bits(v) XOR bits(previous v) for samples 1, 2, ...
class XorValueWriter {
 public:
  void Append(BitWriter& w, uint64_t x) {
    if (x == 0) {
      w.WriteBit(false);
      return;
    }
    w.WriteBit(true);
    int lead = std::countl_zero(x);
    int trail = std::countr_zero(x);
    if (lead > 31) lead = 31;  // the leading count has 5 bits
    if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
      // Fits in the previous window: reuse it.
      w.WriteBit(false);
      w.Write(x >> trailing_, 64 - leading_ - trailing_);
      return;
    }
    leading_ = static_cast<uint8_t>(lead);
    trailing_ = static_cast<uint8_t>(trail);
    int sig = 64 - lead - trail;
    w.WriteBit(true);
    w.Write(static_cast<uint64_t>(lead), 5);
    w.Write(static_cast<uint64_t>(sig & 63), 6);  // 64 is written as 0
    w.Write(x >> trail, sig);
  }

 private:
  // Bytes, not ints: a head series keeps one writer in its open chunk.
  uint8_t leading_ = 0xff;  // 0xff: no previous window
  uint8_t trailing_ = 0;
};

class XorValueReader {
 public:
  // Reads one XOR'ed value into *x; false on an impossible window (the caller
  // checks the reader's overrun flag).
  bool Next(BitReader& r, uint64_t* x) {
    *x = 0;
    if (!r.ReadBit()) return true;
    if (r.ReadBit()) {
      leading_ = static_cast<int>(r.Read(5));
      int sig = static_cast<int>(r.Read(6));
      if (sig == 0) sig = 64;
      if (leading_ + sig > 64) return false;
      trailing_ = 64 - leading_ - sig;
    }
    int sig = 64 - leading_ - trailing_;
    if (sig <= 0) return false;
    *x = r.Read(sig) << trailing_;
    return true;
  }

 private:
  int leading_ = 0;
  int trailing_ = 0;
};

}  // namespace vigil::tsdb::chunkenc
