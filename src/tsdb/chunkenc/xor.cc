#include "tsdb/chunkenc/xor.h"

#include <bit>
#include <cstring>

namespace vigil::tsdb::chunkenc {
namespace {

uint64_t Bits(double v) { return std::bit_cast<uint64_t>(v); }
double Float(uint64_t b) { return std::bit_cast<double>(b); }

void WriteVarint(BitWriter& w, int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);  // zigzag
  while (u >= 0x80) {
    w.Write((u & 0x7f) | 0x80, 8);
    u >>= 7;
  }
  w.Write(u, 8);
}

bool ReadVarint(BitReader& r, int64_t* out) {
  uint64_t u = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    uint64_t b = r.Read(8);
    if (r.overrun()) return false;
    u |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
      return true;
    }
  }
  return false;
}

// Delta-of-delta buckets: a prefix of 1 bits ending in 0 (or four 1s) picks the width.
struct Bucket {
  int prefix_len;
  uint64_t prefix;
  int bits;
};
constexpr Bucket kBuckets[] = {{2, 0b10, 14}, {3, 0b110, 17}, {4, 0b1110, 20}};

int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

bool FitsSigned(int64_t v, int bits) {
  int64_t lo = -(int64_t{1} << (bits - 1)) + 1;
  int64_t hi = int64_t{1} << (bits - 1);
  return v >= lo && v <= hi;
}

}  // namespace

XorEncoder::XorEncoder() { w_.Write(0, 16); }

void XorEncoder::Append(int64_t t, double v) {
  uint64_t vb = Bits(v);
  if (count_ == 0) {
    WriteVarint(w_, t);
    w_.Write(vb, 64);
  } else if (count_ == 1) {
    t_delta_ = WrappingSub(t, t_);
    WriteVarint(w_, t_delta_);
  } else {
    // Wrapping arithmetic, mirrored by the decoder, so any int64 sequence round-trips.
    int64_t delta = WrappingSub(t, t_);
    int64_t dod = WrappingSub(delta, t_delta_);
    t_delta_ = delta;
    if (dod == 0) {
      w_.WriteBit(false);
    } else {
      bool written = false;
      for (const Bucket& b : kBuckets) {
        if (FitsSigned(dod, b.bits)) {
          w_.Write(b.prefix, b.prefix_len);
          w_.Write(static_cast<uint64_t>(dod), b.bits);
          written = true;
          break;
        }
      }
      if (!written) {
        w_.Write(0b1111, 4);
        w_.Write(static_cast<uint64_t>(dod), 64);
      }
    }
  }
  if (count_ > 0) {
    uint64_t x = vb ^ v_bits_;
    if (x == 0) {
      w_.WriteBit(false);
    } else {
      w_.WriteBit(true);
      int lead = std::countl_zero(x);
      int trail = std::countr_zero(x);
      if (lead > 31) lead = 31;  // the leading count has 5 bits
      if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
        // Fits in the previous window: reuse it.
        w_.WriteBit(false);
        w_.Write(x >> trailing_, 64 - leading_ - trailing_);
      } else {
        leading_ = lead;
        trailing_ = trail;
        int sig = 64 - lead - trail;
        w_.WriteBit(true);
        w_.Write(static_cast<uint64_t>(lead), 5);
        w_.Write(static_cast<uint64_t>(sig & 63), 6);  // 64 is written as 0
        w_.Write(x >> trail, sig);
      }
    }
  }
  t_ = t;
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
  if (read_ == 0) {
    if (!ReadVarint(r_, &t_)) return corrupt_ = true, false;
    v_bits_ = r_.Read(64);
  } else {
    if (read_ == 1) {
      if (!ReadVarint(r_, &t_delta_)) return corrupt_ = true, false;
    } else {
      int64_t dod = 0;
      if (r_.ReadBit()) {
        int width = 64;
        if (!r_.ReadBit()) {
          width = 14;
        } else if (!r_.ReadBit()) {
          width = 17;
        } else if (!r_.ReadBit()) {
          width = 20;
        }
        uint64_t raw = r_.Read(width);
        // The buckets hold -(2^(w-1))+1 .. 2^(w-1), as the encoder writes them.
        if (width < 64 && raw > (1ULL << (width - 1))) raw -= 1ULL << width;
        dod = static_cast<int64_t>(raw);
      }
      // Wrapping arithmetic: garbage input must not be undefined behaviour.
      t_delta_ = static_cast<int64_t>(static_cast<uint64_t>(t_delta_) + static_cast<uint64_t>(dod));
    }
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + static_cast<uint64_t>(t_delta_));
    if (r_.ReadBit()) {
      if (r_.ReadBit()) {
        leading_ = static_cast<int>(r_.Read(5));
        int sig = static_cast<int>(r_.Read(6));
        if (sig == 0) sig = 64;
        if (leading_ + sig > 64) return corrupt_ = true, false;
        trailing_ = 64 - leading_ - sig;
      }
      int sig = 64 - leading_ - trailing_;
      if (sig <= 0) return corrupt_ = true, false;
      uint64_t bits = r_.Read(sig);
      v_bits_ ^= bits << trailing_;
    }
  }
  if (r_.overrun()) return corrupt_ = true, false;
  v_ = Float(v_bits_);
  ++read_;
  return true;
}

}  // namespace vigil::tsdb::chunkenc
