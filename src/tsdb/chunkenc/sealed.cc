// Byte layout of a sealed chunk (varints are LEB128; "svarint" is zigzag):
//
//   chunk  := header:u8 count:uvarint [ts_len:uvarint ts_section value_section]
//   header := bits 0-1 timestamp layout, bits 2-3 value layout,
//             bit 4 ts_section is zstd, bit 5 value_section is zstd, bits 6-7 zero
//
// Sections are present iff count > 0. A zstd section is one zstd frame (with
// its content size) minus the 4-byte magic number, which the decoder restores.
// After decompression:
//
//   ts 0 dod    := t0:svarint [d1:svarint ints(count-2)]   t[i] = t[i-1] + d[i], d[i] = d[i-1] + r
//   ts 1 delta  := t0:svarint ints(count-1)                 t[i] = t[i-1] + r[i-1]
//   ts 2 grid   := t0:svarint step:svarint ints(count-1)    t[i] = t0 + i*step + r[i-1]
//   v 0 const   := bits:u64le
//   v 1 decimal := kind:u8 nexc:uvarint (gap:uvarint bits:u64le)*nexc m_head ints(..) [ints(count)]
//       kind: bits 0-3 k, bits 4-5 order, bit 6 an ulps block follows.
//       order 0: ints(count) of m; 1: m0:svarint, ints(count-1) of deltas;
//       2: m0:svarint [d1:svarint], ints(count-2) of delta-of-deltas.
//       value[i] = bits(double(m[i]) / 10^k) + ulps[i], except at the listed
//       positions (gap = position - previous position - 1), which hold raw bits.
//   v 2 xor     := the Gorilla XOR bit stream of the values alone
//
//   ints(c) := nothing if c == 0, else tag:u8 base:svarint [divisor:uvarint] body
//     x = base + divisor * r (divisor present for the "gcd" tags, else 1); r is:
//     tag 0x00-0x3f, 0x40-0x7f (gcd): packed, width = tag & 63; r = width-bit unsigned, MSB first
//     0x80 / 0x81: varint         r = unzigzag(uvarint) each
//     0x82 / 0x83: sparse         n:uvarint (gap:uvarint u:uvarint)*n; r = 0 elsewhere
//     0x84 / 0x85: Exp-Golomb     k:u8 len:uvarint stream (order-k codes of zigzag(r))
//     0x86 / 0x87: range-coded    model:u8 (bits 0-2 adaptation, 3-5 width tree depth)
//                                 len:uvarint stream (see WidthModel)
//
// Split form (blocks with shared timestamps, docs/format/block.md): the same
// sections stored apart, each with its own header and count:
//
//   ts_part    := header:u8 count:uvarint ts_section      (header bits 2-3, 5-7 zero)
//   value_part := header:u8 count:uvarint value_section   (header bits 0-1, 4, 6-7 zero)
//
// The timestamp section depends on the timestamps alone, so equal timestamp
// sequences give byte-identical ts_parts, which a block stores once.
//
// All integer arithmetic wraps modulo 2^64, so any int64 sequence round-trips
// and garbage input cannot cause undefined behaviour. Decoding allocates at
// most 16 bytes per sample for kMaxSealedSamples and a bounded zstd buffer.
#include "tsdb/chunkenc/sealed.h"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>

#include "tsdb/chunkenc/bitstream.h"
#include "tsdb/chunkenc/decimal_digits.h"

namespace vigil::tsdb::chunkenc {
namespace {

constexpr uint8_t kTsDod = 0;
constexpr uint8_t kTsDelta = 1;
constexpr uint8_t kTsGrid = 2;
constexpr uint8_t kValConst = 0;
constexpr uint8_t kValDecimal = 1;
constexpr uint8_t kValXor = 2;
constexpr uint8_t kTsZstdBit = 1 << 4;
constexpr uint8_t kValZstdBit = 1 << 5;
constexpr uint8_t kReservedBits = 0xC0;
// Integer block tags: below 0x80, bits 0-5 are the packed width and bit 6 says a divisor follows.
constexpr uint8_t kIntsPackedGcdBit = 0x40;
constexpr int kMaxPackedWidth = 63;
constexpr uint8_t kIntsVarint = 0x80;
constexpr uint8_t kIntsVarintGcd = 0x81;
constexpr uint8_t kIntsSparse = 0x82;
constexpr uint8_t kIntsSparseGcd = 0x83;
constexpr uint8_t kIntsExpGolomb = 0x84;
constexpr uint8_t kIntsExpGolombGcd = 0x85;
constexpr uint8_t kIntsAdaptive = 0x86;
constexpr uint8_t kIntsAdaptiveGcd = 0x87;
constexpr size_t kSteadyModelMinCount = 300;
constexpr int kMaxExpGolombOrder = 48;
constexpr uint64_t kMaxExpGolombValue = uint64_t{1} << 56;
constexpr size_t kZstdTriesPerSection = 3;
// Range coding decodes at a fraction of the speed of the other integer codecs;
// a range-coded section is kept only when it is more than 1/N smaller than the
// best alternative (N = 8: 12.5 %). Before this, it won by a single byte and
// made up most of the CPU time of queries over long ranges.
constexpr size_t kSlowCodecMinGainInverse = 8;
constexpr uint64_t kMaxIntsDivisor = uint64_t{1} << 32;  // keeps (x - base) / g clear of INT64_MIN / -1

constexpr uint8_t kDecimalUlpsBit = 0x40;
// A bound on any decompressed section: a few varints and an exception per sample.
size_t MaxSectionBytes(size_t count) { return 64 + 48 * count; }

uint64_t Bits(double v) { return std::bit_cast<uint64_t>(v); }
uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }
int64_t Add(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
int64_t Sub(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
int64_t Mul(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }

void PutUvarint(std::string* out, uint64_t v) {
  if (v < 0x80) {
    out->push_back(static_cast<char>(v));
    return;
  }
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}
void PutSvarint(std::string* out, int64_t v) { PutUvarint(out, ZigZag(v)); }
void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
int UvarintLen(uint64_t v) { return v == 0 ? 1 : (std::bit_width(v) + 6) / 7; }
// Writes v's varint at p, which has room for it; returns the end.
char* PutUvarintAt(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  size_t remaining() const { return data_.size() - pos_; }
  bool Byte(uint8_t* out) {
    if (pos_ >= data_.size()) return false;
    *out = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Uvarint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      uint8_t b;
      if (!Byte(&b)) return false;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;  // longer than any 64-bit varint
  }
  bool Svarint(int64_t* out) {
    uint64_t u;
    if (!Uvarint(&u)) return false;
    *out = UnZigZag(u);
    return true;
  }
  bool Fixed64(uint64_t* out) {
    if (remaining() < 8) return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += 8;
    *out = v;
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (remaining() < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Status Corrupt(const char* what) { return Status::Error(std::string("sealed chunk: ") + what); }

// --- Bit-level coders ---------------------------------------------------------

// Bytes gathered in a small buffer and appended to a string a few dozen at a
// time: a string append per byte or per word costs more than the coding.
class ByteSink {
 public:
  explicit ByteSink(std::string* out) : out_(out) {}
  ~ByteSink() { Flush(); }
  ByteSink(const ByteSink&) = delete;
  ByteSink& operator=(const ByteSink&) = delete;

  void Push(char c) {
    if (used_ == sizeof(buf_)) Flush();
    buf_[used_++] = c;
  }
  // Appends the low `bytes` (1..8) bytes of `v`, most significant first.
  void PushBigEndian(uint64_t v, int bytes) {
    if (used_ + 8 > sizeof(buf_)) Flush();
    const uint64_t be = __builtin_bswap64(v << (64 - 8 * bytes));
    std::memcpy(buf_ + used_, &be, 8);
    used_ += static_cast<size_t>(bytes);
  }
  void Flush() {
    out_->append(buf_, used_);
    used_ = 0;
  }
  std::string* out() { return out_; }

 private:
  std::string* out_;
  char buf_[64];
  size_t used_ = 0;
};

// An MSB-first bit writer with a 64-bit accumulator: the encoder's hot loop.
class FastBitWriter {
 public:
  explicit FastBitWriter(std::string* out) : sink_(out) {}
  ~FastBitWriter() { Flush(); }
  // Writes out the last partial byte, zero-padded.
  void Flush() {
    Drain();
    if (pending_ > 0) sink_.Push(static_cast<char>(acc_ << (8 - pending_)));
    acc_ = 0;
    pending_ = 0;
    sink_.Flush();
  }
  FastBitWriter(const FastBitWriter&) = delete;
  FastBitWriter& operator=(const FastBitWriter&) = delete;

  // Appends the low `nbits` (0..64) of `value`.
  void Write(uint64_t value, int nbits) {
    if (nbits > 32) {
      Write(value >> 32, nbits - 32);
      nbits = 32;
    }
    // Bits gather in the accumulator and leave it several bytes at a time.
    if (pending_ + nbits > 64) Drain();
    acc_ = nbits == 0 ? acc_ : (acc_ << nbits) | (value & ((uint64_t{1} << nbits) - 1));
    pending_ += nbits;
  }

 private:
  // Appends the accumulator's whole bytes, most significant first; fewer than 8 bits stay.
  void Drain() {
    const int bytes = pending_ / 8;
    if (bytes == 0) return;
    pending_ %= 8;
    sink_.PushBigEndian(acc_ >> pending_, bytes);
    acc_ &= (uint64_t{1} << pending_) - 1;
  }

  ByteSink sink_;
  uint64_t acc_ = 0;
  int pending_ = 0;  // bits in acc_ not yet written (at most 64)
};

// Adaptive binary range coding as in LZMA (32-bit range, carry propagation),
// with 15-bit probabilities whose adaptation slows from 1/2 to 1/2^max_shift as
// a context sees more bits, which approximates counting for short blocks.
constexpr int kProbBits = 15;
constexpr uint32_t kRangeTop = 1u << 24;
constexpr int kRangeFlushBytes = 5;

class AdaptiveBit {
 public:
  uint32_t p0() const { return p0_; }  // probability of a 0, in 1/2^15
  void Update(uint32_t bit, int max_shift) {
    const int shift = std::min(static_cast<int>(std::bit_width(static_cast<unsigned>(seen_) + 1u)), max_shift);
    if (seen_ < 255) ++seen_;
    if (bit == 0) {
      p0_ = static_cast<uint16_t>(p0_ + (((1u << kProbBits) - p0_) >> shift));
    } else {
      p0_ = static_cast<uint16_t>(p0_ - (p0_ >> shift));
    }
  }

 private:
  uint16_t p0_ = 1u << (kProbBits - 1);
  uint8_t seen_ = 0;
};

class RangeEncoder {
 public:
  RangeEncoder(std::string* out, int shift) : sink_(out), shift_(shift) {}

  void Bit(AdaptiveBit& prob, uint32_t bit) {
    const uint32_t bound = (range_ >> kProbBits) * prob.p0();
    if (bit == 0) {
      range_ = bound;
    } else {
      low_ += bound;
      range_ -= bound;
    }
    prob.Update(bit, shift_);
    Normalize();
  }
  // Writes the low `nbits` of `value` at probability 1/2, most significant first.
  void Direct(uint64_t value, int nbits) {
    while (nbits > 0) {
      // While the range stays at or above kRangeTop no normalization is due:
      // that many bits go without the check (the same bytes as one at a time).
      const int batch = std::min(nbits, static_cast<int>(std::bit_width(range_)) - 24);
      for (int i = 0; i < batch; ++i) {
        range_ >>= 1;
        low_ += range_ & (0 - static_cast<uint32_t>((value >> --nbits) & 1));
      }
      Normalize();
    }
  }
  // Ends the stream with the value in the final range that has the most
  // trailing zero bytes, and leaves those out: the decoder reads zeros past
  // the end (at most kRangeFlushBytes of them).
  void Finish() {
    for (int bits = 8; bits <= 32; bits += 8) {
      const uint64_t mask = (uint64_t{1} << (32 - bits)) - 1;
      const uint64_t rounded = (low_ + mask) & ~mask;
      if (rounded + mask < low_ + range_ || mask == 0) {
        low_ = rounded;
        break;
      }
    }
    for (int i = 0; i < kRangeFlushBytes; ++i) ShiftLow();
    sink_.Flush();
    // The decoder reads exactly the untrimmed length; it tolerates only this many zeros past the end.
    std::string* out = sink_.out();
    for (int i = 0; i < kRangeFlushBytes && !out->empty() && out->back() == '\0'; ++i) out->pop_back();
  }

 private:
  void Normalize() {
    while (range_ < kRangeTop) {
      range_ <<= 8;
      ShiftLow();
    }
  }
  void ShiftLow() {
    if (static_cast<uint32_t>(low_) < 0xFF000000u || (low_ >> 32) != 0) {
      const uint8_t carry = static_cast<uint8_t>(low_ >> 32);
      uint8_t pending = cache_;
      do {
        // The first byte is always 0 (the coded value is below 1): leave it out.
        if (started_) sink_.Push(static_cast<char>(pending + carry));
        started_ = true;
        pending = 0xFF;
      } while (--cache_size_ != 0);
      cache_ = static_cast<uint8_t>(low_ >> 24);
    }
    ++cache_size_;
    low_ = (low_ & 0x00FFFFFFu) << 8;
  }

  ByteSink sink_;
  int shift_;
  uint64_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  uint8_t cache_ = 0;
  uint64_t cache_size_ = 1;
  bool started_ = false;
};

class RangeDecoder {
 public:
  RangeDecoder(std::string_view in, int shift) : in_(in), shift_(shift) {
    for (int i = 0; i < 4; ++i) code_ = (code_ << 8) | Next();
  }

  uint32_t Bit(AdaptiveBit& prob) {
    const uint32_t bound = (range_ >> kProbBits) * prob.p0();
    uint32_t bit = 0;
    if (code_ < bound) {
      range_ = bound;
    } else {
      code_ -= bound;
      range_ -= bound;
      bit = 1;
    }
    prob.Update(bit, shift_);
    Normalize();
    return bit;
  }
  uint64_t Direct(int nbits) {
    uint64_t value = 0;
    while (nbits > 0) {
      const int batch = std::min(nbits, static_cast<int>(std::bit_width(range_)) - 24);  // as the encoder's
      nbits -= batch;
      for (int i = 0; i < batch; ++i) {
        range_ >>= 1;
        const uint32_t bit = code_ >= range_ ? 1 : 0;
        code_ -= range_ & (0 - bit);
        value = (value << 1) | bit;
      }
      Normalize();
    }
    return value;
  }
  // True iff decoding used every byte of the stream (beyond it, it reads zeros).
  bool consumed_all() const { return pos_ == in_.size(); }
  // True iff decoding read past the end further than an encoder's flush reaches.
  bool overrun() const { return past_end_ > kRangeFlushBytes; }

 private:
  void Normalize() {
    while (range_ < kRangeTop) {  // range_ never reaches 0, so this ends
      range_ <<= 8;
      code_ = (code_ << 8) | Next();
    }
  }
  uint32_t Next() {
    if (pos_ < in_.size()) return static_cast<uint8_t>(in_[pos_++]);
    ++past_end_;
    return 0;
  }

  std::string_view in_;
  int shift_;
  size_t pos_ = 0;
  size_t past_end_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  uint32_t code_ = 0;
};

// The adaptive model of an integer block: each zigzagged residual's bit width
// through a binary tree of `depth` levels (enough for the block's widest value),
// then its two bits below the leading one in the context of that width; lower
// bits go at probability 1/2.
struct WidthModel {
  explicit WidthModel(int tree_depth) : depth(tree_depth) {}
  int depth;  // 0..7
  std::array<AdaptiveBit, 128> width_tree{};
  std::array<std::array<AdaptiveBit, 4>, 65> top_bits{};
};
constexpr int kModelledBits = 2;

void EncodeAdaptive(RangeEncoder& rc, WidthModel& m, uint64_t u) {
  const int width = std::bit_width(u);
  uint32_t node = 1;
  for (int i = m.depth - 1; i >= 0; --i) {
    uint32_t b = (static_cast<uint32_t>(width) >> i) & 1;
    rc.Bit(m.width_tree[node], b);
    node = (node << 1) | b;
  }
  if (width <= 1) return;
  const int below = width - 1;
  const int modelled = std::min(below, kModelledBits);
  uint32_t ctx = 1;
  for (int i = 0; i < modelled; ++i) {
    uint32_t b = static_cast<uint32_t>(u >> (below - 1 - i)) & 1;
    rc.Bit(m.top_bits[static_cast<size_t>(width)][ctx], b);
    ctx = (ctx << 1) | b;
  }
  rc.Direct(u, below - modelled);
}

// Returns false on a width beyond 64, which no encoder writes.
bool DecodeAdaptive(RangeDecoder& rc, WidthModel& m, uint64_t* u) {
  uint32_t node = 1;
  for (int i = 0; i < m.depth; ++i) node = (node << 1) | rc.Bit(m.width_tree[node]);
  const int width = static_cast<int>(node - (1u << m.depth));
  if (width > 64) return false;
  if (width <= 1) {
    *u = static_cast<uint64_t>(width);
    return true;
  }
  const int below = width - 1;
  const int modelled = std::min(below, kModelledBits);
  uint64_t v = 1;
  uint32_t ctx = 1;
  for (int i = 0; i < modelled; ++i) {
    uint32_t b = rc.Bit(m.top_bits[static_cast<size_t>(width)][ctx]);
    ctx = (ctx << 1) | b;
    v = (v << 1) | b;
  }
  const int rest = below - modelled;
  *u = rest > 0 ? (v << rest) | rc.Direct(rest) : v;
  return true;
}

// --- Integer blocks -------------------------------------------------------------

// In order of decoding speed: on a tie in size the faster codec wins.
enum class IntCodec { kPacked, kVarint, kSparse, kExpGolomb, kAdaptive };
constexpr IntCodec kIntCodecs[] = {IntCodec::kPacked, IntCodec::kVarint, IntCodec::kSparse, IntCodec::kExpGolomb,
                                   IntCodec::kAdaptive};

int64_t Median(std::span<const int64_t> xs) {
  std::vector<int64_t> copy(xs.begin(), xs.end());
  auto mid = copy.begin() + static_cast<std::ptrdiff_t>(copy.size() / 2);
  std::nth_element(copy.begin(), mid, copy.end());
  return *mid;
}

// What every integer codec needs to know about a sequence, computed once.
struct IntStats {
  explicit IntStats(std::span<const int64_t> values) : xs(values) {
    std::vector<int64_t> copy(xs.begin(), xs.end());
    auto mid = copy.begin() + static_cast<std::ptrdiff_t>(copy.size() / 2);
    std::nth_element(copy.begin(), mid, copy.end());
    median = *mid;
    min = *std::min_element(copy.begin(), mid + 1);
    // Every base used is one of the values, so a divisor of all x - min divides
    // x - base too, as long as no difference wraps around 2^64.
    max = *std::max_element(mid, copy.end());
    if (static_cast<uint64_t>(Sub(max, min)) < (uint64_t{1} << 63)) {
      uint64_t g = 0;
      for (int64_t x : xs) {
        g = std::gcd(g, static_cast<uint64_t>(Sub(x, min)));
        if (g == 1) break;
      }
      if (g > 1 && g < kMaxIntsDivisor) divisor = g;
    }
    residuals.resize(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      int64_t d = Sub(xs[i], median);
      residuals[i] = ZigZag(divisor > 1 ? d / static_cast<int64_t>(divisor) : d);
    }
  }

  // Bits per value of the packed codec (64: not packable).
  int PackedWidth() const { return std::bit_width(static_cast<uint64_t>(Sub(max, min)) / divisor); }
  size_t PackedBytes() const {
    const size_t header =
        1 + static_cast<size_t>(UvarintLen(ZigZag(min))) + (divisor > 1 ? static_cast<size_t>(UvarintLen(divisor)) : 0);
    return header + (xs.size() * static_cast<size_t>(PackedWidth()) + 7) / 8;
  }

  std::span<const int64_t> xs;
  int64_t median = 0;
  int64_t min = 0;
  int64_t max = 0;
  uint64_t divisor = 1;
  std::vector<uint64_t> residuals;  // zigzag((x - median) / divisor)
};

void PutIntsHeader(std::string* out, uint8_t tag, uint8_t gcd_tag, int64_t base, uint64_t divisor) {
  out->push_back(static_cast<char>(divisor > 1 ? gcd_tag : tag));
  PutSvarint(out, base);
  if (divisor > 1) PutUvarint(out, divisor);
}

void PutIntsVarint(std::string* out, const IntStats& st) {
  PutIntsHeader(out, kIntsVarint, kIntsVarintGcd, st.median, st.divisor);
  size_t bytes = 0;
  for (uint64_t u : st.residuals) bytes += static_cast<size_t>(UvarintLen(u));
  const size_t at = out->size();
  out->resize(at + bytes);
  char* p = out->data() + at;
  for (uint64_t u : st.residuals) p = PutUvarintAt(p, u);
}

void PutIntsSparse(std::string* out, const IntStats& st) {
  PutIntsHeader(out, kIntsSparse, kIntsSparseGcd, st.median, st.divisor);
  uint64_t nonzero = 0;
  size_t bytes = 0;
  for (size_t i = 0, next = 0; i < st.xs.size(); ++i) {
    if (st.xs[i] == st.median) continue;
    ++nonzero;
    bytes += static_cast<size_t>(UvarintLen(i - next) + UvarintLen(st.residuals[i]));
    next = i + 1;
  }
  PutUvarint(out, nonzero);
  const size_t at = out->size();
  out->resize(at + bytes);
  char* p = out->data() + at;
  for (size_t i = 0, next = 0; i < st.xs.size(); ++i) {
    if (st.xs[i] == st.median) continue;
    p = PutUvarintAt(p, i - next);
    p = PutUvarintAt(p, st.residuals[i]);
    next = i + 1;
  }
}

void PutIntsPacked(std::string* out, const IntStats& st) {
  auto offset = [&](int64_t x) {
    uint64_t d = static_cast<uint64_t>(Sub(x, st.min));
    return st.divisor > 1 ? d / st.divisor : d;
  };
  const int width = st.PackedWidth();
  if (width > kMaxPackedWidth) {  // the tag has 6 bits of width; varint is as good here
    PutIntsVarint(out, st);
    return;
  }
  out->push_back(static_cast<char>(width | (st.divisor > 1 ? kIntsPackedGcdBit : 0)));
  PutSvarint(out, st.min);
  if (st.divisor > 1) PutUvarint(out, st.divisor);
  FastBitWriter w(out);
  for (int64_t x : st.xs) w.Write(offset(x), width);
}

// Exp-Golomb code of order k: u + 2^k in binary, after as many zeros as it has bits beyond k + 1.
void PutIntsExpGolomb(std::string* out, const IntStats& st) {
  // Pick the order from a histogram of residual widths (exact for u < 2^k, close otherwise).
  std::array<uint64_t, 65> per_width{};
  for (uint64_t u : st.residuals) {
    if (u >= kMaxExpGolombValue) {
      PutIntsVarint(out, st);
      return;
    }
    ++per_width[static_cast<size_t>(std::bit_width(u))];
  }
  int max_width = 56;
  while (max_width > 0 && per_width[static_cast<size_t>(max_width)] == 0) --max_width;
  int best_k = 0;
  uint64_t best_bits = ~0ULL;
  for (int k = 0; k <= std::min(max_width, kMaxExpGolombOrder); ++k) {
    uint64_t bits = 0;
    for (int w = 0; w <= max_width; ++w)
      bits += per_width[static_cast<size_t>(w)] * static_cast<uint64_t>(2 * std::max(w, k + 1) - 1 - k);
    if (bits < best_bits) {
      best_k = k;
      best_bits = bits;
    }
  }
  std::string stream;
  {
    FastBitWriter w(&stream);
    for (uint64_t u : st.residuals) {
      uint64_t v = u + (uint64_t{1} << best_k);
      int nbits = std::bit_width(v);
      w.Write(0, nbits - 1 - best_k);
      w.Write(v, nbits);
    }
  }
  PutIntsHeader(out, kIntsExpGolomb, kIntsExpGolombGcd, st.median, st.divisor);
  out->push_back(static_cast<char>(best_k));
  PutUvarint(out, stream.size());
  out->append(stream);
}

std::string AdaptiveStream(const IntStats& st, int max_shift, int depth) {
  std::string stream;
  RangeEncoder rc(&stream, max_shift);
  WidthModel model(depth);
  for (uint64_t u : st.residuals) EncodeAdaptive(rc, model, u);
  rc.Finish();
  return stream;
}

void PutIntsAdaptive(std::string* out, const IntStats& st) {
  uint64_t all = 0;
  for (uint64_t u : st.residuals) all |= u;
  const int depth = std::bit_width(static_cast<unsigned>(std::bit_width(all)));
  // How far adaptation slows down: long blocks do better with a steadier model.
  const int best_shift = st.residuals.size() >= kSteadyModelMinCount ? 7 : 5;
  const std::string best = AdaptiveStream(st, best_shift, depth);
  PutIntsHeader(out, kIntsAdaptive, kIntsAdaptiveGcd, st.median, st.divisor);
  out->push_back(static_cast<char>(best_shift | (depth << 3)));
  PutUvarint(out, best.size());
  out->append(best);
}

// c * log2(c), from a table for the small counts the estimates below mostly see.
double CountTimesLog2(size_t c) {
  constexpr size_t kTableSize = 4096;
  static const std::array<double, kTableSize> table = [] {
    std::array<double, kTableSize> t{};
    for (size_t i = 1; i < kTableSize; ++i) t[i] = static_cast<double>(i) * std::log2(static_cast<double>(i));
    return t;
  }();
  if (c < kTableSize) return table[c];
  return static_cast<double>(c) * std::log2(static_cast<double>(c));
}

// About the smallest a range-coded block of these residuals can be: the
// empirical entropy of their widths, the bits below the modelled ones, and
// half of the modelled bits.
size_t AdaptiveEstimate(const IntStats& st) {
  std::array<uint32_t, 65> per_width{};
  for (uint64_t u : st.residuals) ++per_width[static_cast<size_t>(std::bit_width(u))];
  // sum c * log2(n / c) = n * log2(n) - sum c * log2(c)
  double bits = CountTimesLog2(st.residuals.size());
  for (int w = 0; w <= 64; ++w) {
    const uint32_t c = per_width[static_cast<size_t>(w)];
    if (c == 0) continue;
    const int below = std::max(w - 1, 0);
    const int modelled = std::min(below, kModelledBits);
    bits += static_cast<double>(c) * ((below - modelled) + 0.5 * modelled) - CountTimesLog2(c);
  }
  return static_cast<size_t>(bits / 8) + 4;
}

void PutInts(std::string* out, const IntStats& st, IntCodec codec) {
  if (st.xs.empty()) return;
  switch (codec) {
    case IntCodec::kPacked: PutIntsPacked(out, st); break;
    case IntCodec::kVarint: PutIntsVarint(out, st); break;
    case IntCodec::kSparse: PutIntsSparse(out, st); break;
    case IntCodec::kExpGolomb: PutIntsExpGolomb(out, st); break;
    case IntCodec::kAdaptive: PutIntsAdaptive(out, st); break;
  }
}

// Reads an ints(count) block into out[0..count).
Status GetInts(Reader& r, std::span<int64_t> out) {
  if (out.empty()) return Status::Ok();
  const size_t count = out.size();
  uint8_t tag;
  int64_t base;
  if (!r.Byte(&tag) || !r.Svarint(&base)) return Corrupt("truncated integer block");
  const bool has_gcd = tag < 0x80 ? (tag & kIntsPackedGcdBit) != 0
                                  : tag == kIntsVarintGcd || tag == kIntsSparseGcd || tag == kIntsExpGolombGcd ||
                                        tag == kIntsAdaptiveGcd;
  uint64_t g = 1;
  if (has_gcd && (!r.Uvarint(&g) || g == 0)) return Corrupt("bad integer block divisor");
  auto value = [&](uint64_t u) { return Add(base, static_cast<int64_t>(g * u)); };
  if (tag == kIntsVarint || tag == kIntsVarintGcd) {
    if (r.remaining() < count) return Corrupt("truncated integer block");
    for (int64_t& x : out) {
      uint64_t u;
      if (!r.Uvarint(&u)) return Corrupt("truncated integer block");
      x = value(static_cast<uint64_t>(UnZigZag(u)));
    }
    return Status::Ok();
  }
  if (tag == kIntsSparse || tag == kIntsSparseGcd) {
    uint64_t nonzero;
    if (!r.Uvarint(&nonzero) || nonzero > count || nonzero > r.remaining() / 2) {
      return Corrupt("truncated integer block");
    }
    std::fill(out.begin(), out.end(), base);
    size_t next = 0;
    for (uint64_t i = 0; i < nonzero; ++i) {
      uint64_t gap, u;
      if (!r.Uvarint(&gap) || !r.Uvarint(&u)) return Corrupt("truncated integer block");
      if (gap >= count - next) return Corrupt("integer block position out of range");
      next += static_cast<size_t>(gap);
      out[next++] = value(static_cast<uint64_t>(UnZigZag(u)));
    }
    return Status::Ok();
  }
  if (tag == kIntsExpGolomb || tag == kIntsExpGolombGcd) {
    uint8_t k;
    uint64_t len;
    std::string_view stream;
    if (!r.Byte(&k) || !r.Uvarint(&len) || len > r.remaining() || !r.Bytes(static_cast<size_t>(len), &stream)) {
      return Corrupt("truncated integer block");
    }
    if (k > kMaxExpGolombOrder) return Corrupt("bad integer block order");
    if (stream.size() * 8 < count) return Corrupt("truncated integer block");  // at least a bit each
    BitReader bits(stream);
    for (int64_t& x : out) {
      // Most codes fit in the next 8 bytes: one load, the zeros counted in it.
      if (uint64_t w; bits.Peek(&w) && w != 0) {
        const int zeros = std::countl_zero(w);
        const int length = 2 * zeros + k + 1;  // zeros, the 1, zeros + k bits
        if (zeros <= 63 - k && length <= 57) {
          bits.Skip(length);
          x = value(static_cast<uint64_t>(UnZigZag((w >> (64 - length)) - (uint64_t{1} << k))));
          continue;
        }
      }
      const int zeros = bits.ReadZerosThenOne(63 - k);
      if (zeros < 0) return Corrupt("bad Exp-Golomb code");
      int rest = zeros + k;
      uint64_t v = (uint64_t{1} << rest) | bits.Read(rest);
      if (bits.overrun()) return Corrupt("truncated integer block");
      x = value(static_cast<uint64_t>(UnZigZag(v - (uint64_t{1} << k))));
    }
    return Status::Ok();
  }
  if (tag == kIntsAdaptive || tag == kIntsAdaptiveGcd) {
    uint8_t shift;
    uint64_t len;
    std::string_view stream;
    if (!r.Byte(&shift) || !r.Uvarint(&len) || len > r.remaining() || !r.Bytes(static_cast<size_t>(len), &stream)) {
      return Corrupt("truncated integer block");
    }
    const int adaptation = shift & 7;
    const int depth = shift >> 3;
    if (adaptation < 1 || depth > 7) return Corrupt("bad integer block model");
    RangeDecoder rc(stream, adaptation);
    WidthModel model(depth);
    for (int64_t& x : out) {
      uint64_t u;
      if (!DecodeAdaptive(rc, model, &u)) return Corrupt("bad integer block width");
      if (rc.overrun()) return Corrupt("truncated integer block");
      x = value(static_cast<uint64_t>(UnZigZag(u)));
    }
    if (!rc.consumed_all()) return Corrupt("bad integer block length");
    return Status::Ok();
  }
  if (tag >= 0x80) return Corrupt("bad integer block tag");
  const int width = tag & kMaxPackedWidth;
  const size_t nbytes = (count * static_cast<size_t>(width) + 7) / 8;  // count <= kMaxSealedSamples
  std::string_view packed;
  if (!r.Bytes(nbytes, &packed)) return Corrupt("truncated integer block");
  // Value i starts at bit i * width: each is read with its own 8-byte load,
  // so no position carries from one to the next and the loop pipelines. The
  // last few, whose load would pass the end, go through a BitReader.
  size_t fast = 0;
  if (width > 0 && width <= 56 && nbytes >= 8) {
    fast = std::min(count, ((nbytes - 8) * 8) / static_cast<size_t>(width) + 1);
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(packed.data());
  for (size_t i = 0; i < fast; ++i) {
    const size_t bit = i * static_cast<size_t>(width);
    uint64_t w;
    std::memcpy(&w, bytes + bit / 8, 8);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    out[i] = value((w << (bit % 8)) >> (64 - width));
  }
  const size_t rest_bit = fast * static_cast<size_t>(width);
  BitReader bits(packed.substr(rest_bit / 8));
  (void)bits.Read(static_cast<int>(rest_bit % 8));
  for (size_t i = fast; i < count; ++i) out[i] = value(bits.Read(width));
  return Status::Ok();
}

// --- zstd ------------------------------------------------------------------------

// One compression context per thread, reused: a fresh context allocates and
// zeroes its tables on first use, which cost more than compressing the small
// sections of a block's parts.
ZSTD_CCtx* ThreadCompressionContext() {
  struct CCtxDeleter {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}

class ZstdCompressor {
 public:
  explicit ZstdCompressor(int level) : level_(level), ctx_(level > 0 ? ThreadCompressionContext() : nullptr) {}
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  bool enabled() const { return ctx_ != nullptr; }
  // Sets *out to the zstd frame of `src` without its magic number; false if disabled or failed.
  bool Compress(std::string_view src, std::string* out) {
    if (ctx_ == nullptr) return false;
    out->resize(ZSTD_compressBound(src.size()));
    size_t n = ZSTD_compressCCtx(ctx_, out->data(), out->size(), src.data(), src.size(), level_);
    if (ZSTD_isError(n) || n < 4) return false;
    out->resize(n);
    out->erase(0, 4);
    return true;
  }

 private:
  int level_;
  ZSTD_CCtx* ctx_;
};

Status Decompress(std::string_view frame_without_magic, size_t max_bytes, std::string* out) {
  std::string frame;
  frame.reserve(frame_without_magic.size() + 4);
  for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((ZSTD_MAGICNUMBER >> (8 * i)) & 0xff));
  frame.append(frame_without_magic);
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) return Corrupt("bad zstd frame header");
  if (size > max_bytes) return Corrupt("zstd section larger than its sample count allows");
  if (ZSTD_findFrameCompressedSize(frame.data(), frame.size()) != frame.size()) {
    return Corrupt("bad zstd frame length");
  }
  out->resize(static_cast<size_t>(size));
  // One context per thread, reused: creating one costs more than decompressing
  // a typical section (it was 15 % of a long range query's CPU).
  struct DCtxDeleter {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  if (ctx == nullptr) return Status::Error("sealed chunk: out of memory");
  size_t n = ZSTD_decompressDCtx(ctx.get(), out->data(), out->size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != size) return Corrupt("bad zstd data");
  return Status::Ok();
}

// --- Choosing a section's layout ----------------------------------------------------

// A chosen section: its layout id and its stored bytes.
struct Section {
  uint8_t layout = 0;
  bool zstd = false;
  std::string bytes;
};

// An estimate of what zstd makes of `raw` when it finds no repeats: an order-0
// entropy coder plus its table. Repeats only make zstd do better.
size_t EstimateZstdBytes(std::string_view raw) {
  // Four histograms, summed after: runs of one byte value do not serialise the
  // increments on one counter.
  std::array<std::array<uint32_t, 256>, 4> counts{};
  const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
  size_t i = 0;
  for (; i + 4 <= raw.size(); i += 4) {
    ++counts[0][p[i]];
    ++counts[1][p[i + 1]];
    ++counts[2][p[i + 2]];
    ++counts[3][p[i + 3]];
  }
  for (; i < raw.size(); ++i) ++counts[0][p[i]];
  // sum c * log2(total / c) = total * log2(total) - sum c * log2(c)
  double sum_c_log2_c = 0;
  size_t symbols = 0;
  for (size_t b = 0; b < 256; ++b) {
    const uint32_t c = counts[0][b] + counts[1][b] + counts[2][b] + counts[3][b];
    if (c == 0) continue;
    ++symbols;
    sum_c_log2_c += CountTimesLog2(c);
  }
  const double bits = CountTimesLog2(raw.size()) - sum_c_log2_c;
  return static_cast<size_t>(bits / 8) + symbols / 2 + 12;
}

// Keeps the smallest of the candidate sections offered to it. Every candidate
// is measured raw; only the few that zstd looks likeliest to shrink most are
// actually compressed, which keeps encoding within a few zstd calls a section.
class SectionChooser {
 public:
  SectionChooser(ZstdCompressor& zstd, size_t count) : zstd_(zstd), count_(count) {}

  // `slow`: the section is range-coded, which decodes several times slower
  // than the other codecs (it dominates the CPU of long range queries).
  void Offer(uint8_t layout, std::string raw, bool slow = false) {
    // A zstd frame costs at least 6 bytes, so tiny sections are not worth trying;
    // the decoder refuses to inflate a section beyond MaxSectionBytes.
    bool try_zstd = raw.size() > 8 && raw.size() <= MaxSectionBytes(count_) && zstd_.enabled();
    size_t estimate = try_zstd ? EstimateZstdBytes(raw) : ~size_t{0};
    if (!slow) best_raw_size_ = std::min(best_raw_size_, raw.size());
    candidates_.push_back({layout, estimate, std::move(raw), slow});
  }

  Section Take() {
    Section best;
    bool set = false;
    size_t best_cost = 0;
    // A range-coded section must be kSlowCodecMinGain smaller to be kept.
    auto cost = [](size_t bytes, bool slow) { return slow ? bytes + bytes / kSlowCodecMinGainInverse : bytes; };
    auto consider = [&](uint8_t layout, bool zstd, std::string& bytes, bool slow) {
      if (set && cost(bytes.size(), slow) >= best_cost) return;
      best_cost = cost(bytes.size(), slow);
      best = {layout, zstd, std::move(bytes)};
      set = true;
    };
    std::vector<size_t> by_estimate;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      if (candidates_[i].zstd_estimate != ~size_t{0}) by_estimate.push_back(i);
    }
    const size_t tries = std::min(by_estimate.size(), kZstdTriesPerSection);
    std::partial_sort(by_estimate.begin(), by_estimate.begin() + static_cast<std::ptrdiff_t>(tries), by_estimate.end(),
                      [&](size_t a, size_t b) { return candidates_[a].zstd_estimate < candidates_[b].zstd_estimate; });
    for (size_t t = 0; t < tries; ++t) {
      Candidate& c = candidates_[by_estimate[t]];
      std::string packed;
      if (zstd_.Compress(c.raw, &packed) && packed.size() < c.raw.size()) consider(c.layout, true, packed, c.slow);
    }
    for (Candidate& c : candidates_) consider(c.layout, false, c.raw, c.slow);
    return best;
  }

  // Considers `prefix`, then `residuals` in each integer codec, then `suffix`.
  void OfferInts(uint8_t layout, const std::string& prefix, std::span<const int64_t> residuals,
                 std::string_view suffix = {}) {
    if (residuals.empty()) {
      Offer(layout, prefix + std::string(suffix));
      return;
    }
    const IntStats stats(residuals);
    for (IntCodec codec : kIntCodecs) {
      // Range coding is the slowest codec to try: skip it when even the
      // entropy of the residuals' widths cannot beat what is already offered.
      const size_t adaptive_floor = prefix.size() + suffix.size() + AdaptiveEstimate(stats);
      if (codec == IntCodec::kAdaptive &&
          best_raw_size_ <= adaptive_floor + adaptive_floor / kSlowCodecMinGainInverse) {
        continue;
      }
      if (codec == IntCodec::kPacked && best_raw_size_ <= prefix.size() + suffix.size() + stats.PackedBytes()) {
        continue;
      }
      std::string raw = prefix;
      PutInts(&raw, stats, codec);
      raw += suffix;
      Offer(layout, std::move(raw), codec == IntCodec::kAdaptive);
    }
  }

 private:
  struct Candidate {
    uint8_t layout;
    size_t zstd_estimate;  // ~0: not worth compressing
    std::string raw;
    bool slow;
  };
  ZstdCompressor& zstd_;
  size_t count_;
  size_t best_raw_size_ = ~size_t{0};
  std::vector<Candidate> candidates_;
};

// --- Timestamps ------------------------------------------------------------------

Section EncodeTimestamps(std::span<const int64_t> ts, ZstdCompressor& z) {
  const size_t n = ts.size();
  SectionChooser best(z, n);
  std::string prefix;
  PutSvarint(&prefix, ts[0]);
  if (n == 1) {
    best.Offer(kTsDod, prefix);
    return best.Take();
  }
  std::vector<int64_t> deltas(n - 1);
  for (size_t i = 1; i < n; ++i) deltas[i - 1] = Sub(ts[i], ts[i - 1]);

  best.OfferInts(kTsDelta, prefix, deltas);

  std::string dod_prefix = prefix;
  PutSvarint(&dod_prefix, deltas[0]);
  std::vector<int64_t> dods(n - 2);
  for (size_t i = 2; i < n; ++i) dods[i - 2] = Sub(deltas[i - 1], deltas[i - 2]);
  best.OfferInts(kTsDod, dod_prefix, dods);

  // Offsets from a grid at the median step: a scraper's jitter without its drift.
  int64_t step = Median(deltas);
  std::string grid_prefix = prefix;
  PutSvarint(&grid_prefix, step);
  std::vector<int64_t> offsets(n - 1);
  for (size_t i = 1; i < n; ++i) offsets[i - 1] = Sub(Sub(ts[i], ts[0]), Mul(static_cast<int64_t>(i), step));
  best.OfferInts(kTsGrid, grid_prefix, offsets);
  return best.Take();
}

Status DecodeTimestamps(uint8_t layout, std::string_view section, size_t n, int64_t* out) {
  Reader r(section);
  if (!r.Svarint(&out[0])) return Corrupt("truncated timestamp section");
  if (layout == kTsDod) {
    if (n >= 2) {
      int64_t d1;
      if (!r.Svarint(&d1)) return Corrupt("truncated timestamp section");
      Status s = GetInts(r, std::span<int64_t>(out + 2, n - 2));  // dods, in place
      if (!s.ok()) return s.WithContext("timestamps");
      int64_t delta = d1;
      out[1] = Add(out[0], d1);
      for (size_t i = 2; i < n; ++i) {
        delta = Add(delta, out[i]);
        out[i] = Add(out[i - 1], delta);
      }
    }
  } else if (layout == kTsDelta) {
    Status s = GetInts(r, std::span<int64_t>(out + 1, n - 1));
    if (!s.ok()) return s.WithContext("timestamps");
    for (size_t i = 1; i < n; ++i) out[i] = Add(out[i - 1], out[i]);
  } else {
    int64_t step;
    if (!r.Svarint(&step)) return Corrupt("truncated timestamp section");
    Status s = GetInts(r, std::span<int64_t>(out + 1, n - 1));
    if (!s.ok()) return s.WithContext("timestamps");
    for (size_t i = 1; i < n; ++i) out[i] = Add(Add(out[0], Mul(static_cast<int64_t>(i), step)), out[i]);
  }
  if (r.remaining() != 0) return Corrupt("trailing bytes in timestamp section");
  return Status::Ok();
}

// --- Values: decimal -------------------------------------------------------------

// Beyond this many ulps of correction a raw exception is about as cheap.
constexpr int64_t kMaxUlpCorrection = int64_t{1} << 40;
// A value this close to a decimal was computed from one (e.g. micros * 1e-6).
constexpr int64_t kNearUlps = 2;

// The decimal view of a chunk's values: which scales are worth trying, and
// each value's mantissa and ulp correction at a scale.
class DecimalAnalysis {
 public:
  explicit DecimalAnalysis(std::span<const double> values)
      : values_(values), exact_k_(values.size()), exact_m_(values.size()) {
    std::array<bool, kMaxDecimalDigits + 1> seen{};
    for (size_t i = 0; i < values.size(); ++i) {
      int k = ExactDigits(values[i], &exact_m_[i]);
      exact_k_[i] = static_cast<int8_t>(k);
      if (k < 0) k = NearDigits(values[i]);
      if (k >= 0) seen[static_cast<size_t>(k)] = true;
    }
    for (int k = 0; k <= kMaxDecimalDigits; ++k) {
      if (seen[static_cast<size_t>(k)]) candidates_.push_back(k);
    }
  }

  // The scales worth trying: those at which some value is exact or nearly so.
  const std::vector<int>& candidates() const { return candidates_; }

  // Sets the mantissa of value i at scale k and the ulps to add to the bits of
  // double(m) / 10^k; false if the value must be stored raw.
  bool At(size_t i, int k, int64_t* m, int64_t* ulps) const {
    const int exact_k = exact_k_[i];
    if (exact_k >= 0 && exact_k <= k) {
      int64_t factor = kPow10Int[static_cast<size_t>(k - exact_k)];
      int64_t limit = (kMaxMantissa - 1) / factor;
      if (exact_m_[i] <= limit && exact_m_[i] >= -limit) {
        *m = exact_m_[i] * factor;  // exact at k too: the same rational, correctly rounded
        *ulps = 0;
        return true;
      }
    }
    return Approximate(values_[i], k, m, ulps) && *ulps <= kMaxUlpCorrection && *ulps >= -kMaxUlpCorrection;
  }

 private:
  static bool Approximate(double v, int k, int64_t* m, int64_t* ulps) {
    double scaled = std::nearbyint(v * kPow10[static_cast<size_t>(k)]);
    if (!(std::fabs(scaled) < static_cast<double>(kMaxMantissa))) return false;  // also NaN and Inf
    *m = static_cast<int64_t>(scaled);
    *ulps = static_cast<int64_t>(Bits(v) - Bits(static_cast<double>(*m) / kPow10[static_cast<size_t>(k)]));
    return true;
  }

  // The smallest k at which v is within kNearUlps of a decimal, or -1.
  static int NearDigits(double v) {
    for (int k = 0; k <= kMaxDecimalDigits; ++k) {
      int64_t m, ulps;
      if (!Approximate(v, k, &m, &ulps)) return -1;
      if (ulps <= kNearUlps && ulps >= -kNearUlps) return k;
    }
    return -1;
  }

  std::span<const double> values_;
  std::vector<int8_t> exact_k_;  // -1: not an exact decimal
  std::vector<int64_t> exact_m_;
  std::vector<int> candidates_;
};

struct DecimalPlan {
  int k = 0;
  std::vector<int64_t> m;     // exceptions repeat the previous m
  std::vector<int64_t> ulps;  // added to the bits of double(m) / 10^k
  bool has_ulps = false;
  std::vector<uint32_t> exceptions;  // positions whose value is stored raw
};

// Picks the scale that minimises an estimate of the encoded size, or nullopt
// when the values are not decimals often enough for the layout to pay off.
std::optional<DecimalPlan> PlanDecimal(std::span<const double> values) {
  const size_t n = values.size();
  DecimalAnalysis a(values);
  int best_k = -1;
  size_t best_cost = 0;
  for (int k : a.candidates()) {
    size_t cost = 0;
    bool any_ulps = false;
    int64_t prev = 0;
    for (size_t i = 0; i < n; ++i) {
      int64_t m, ulps;
      if (!a.At(i, k, &m, &ulps)) {
        cost += 9;
        continue;
      }
      cost += static_cast<size_t>(UvarintLen(ZigZag(Sub(m, prev))));
      prev = m;
      if (ulps != 0) {
        cost += static_cast<size_t>(UvarintLen(ZigZag(ulps)));
        any_ulps = true;
      }
    }
    if (any_ulps) cost += n / 8;
    if (best_k < 0 || cost < best_cost) {
      best_k = k;
      best_cost = cost;
    }
  }
  // Beyond ~8 bytes a sample, XOR or raw bits do as well without the bookkeeping.
  if (best_k < 0 || best_cost > 8 * n + 16) return std::nullopt;

  DecimalPlan plan;
  plan.k = best_k;
  plan.m.resize(n);
  plan.ulps.resize(n);
  int64_t prev = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t m, ulps = 0;
    if (a.At(i, best_k, &m, &ulps)) {
      prev = m;
      plan.has_ulps |= ulps != 0;
    } else {
      plan.exceptions.push_back(static_cast<uint32_t>(i));
      ulps = 0;
    }
    plan.m[i] = prev;
    plan.ulps[i] = ulps;
  }
  return plan;
}

// The smallest raw encoding of `xs` over the integer codecs.
std::string SmallestInts(std::span<const int64_t> xs) {
  std::string best;
  const IntStats stats(xs);
  for (IntCodec codec : kIntCodecs) {
    std::string candidate;
    PutInts(&candidate, stats, codec);
    if (best.empty() || candidate.size() < best.size()) best = std::move(candidate);
  }
  return best;
}

void OfferDecimal(SectionChooser& best, std::span<const double> values, const DecimalPlan& plan, bool constant) {
  const size_t n = plan.m.size();
  std::string exceptions;
  PutUvarint(&exceptions, plan.exceptions.size());
  uint32_t next = 0;
  for (uint32_t pos : plan.exceptions) {
    PutUvarint(&exceptions, pos - next);
    PutFixed64(&exceptions, Bits(values[pos]));
    next = pos + 1;
  }
  const std::string ulps = plan.has_ulps ? SmallestInts(plan.ulps) : std::string();
  const std::span<const int64_t> m = plan.m;
  for (int order = constant ? 1 : 0; order <= (constant ? 1 : 2); ++order) {
    std::string prefix;
    prefix.push_back(static_cast<char>(plan.k | (order << 4) | (plan.has_ulps ? kDecimalUlpsBit : 0)));
    prefix += exceptions;
    std::vector<int64_t> residuals;
    if (order == 0) {
      residuals.assign(m.begin(), m.end());
    } else {
      PutSvarint(&prefix, m[0]);
      std::vector<int64_t> deltas(n - 1);
      for (size_t i = 1; i < n; ++i) deltas[i - 1] = Sub(m[i], m[i - 1]);
      if (order == 1) {
        residuals = std::move(deltas);
      } else if (n >= 2) {
        PutSvarint(&prefix, deltas[0]);
        residuals.resize(n - 2);
        for (size_t i = 2; i < n; ++i) residuals[i - 2] = Sub(deltas[i - 1], deltas[i - 2]);
      }
    }
    best.OfferInts(kValDecimal, prefix, residuals, ulps);
  }
}

Status DecodeDecimal(std::string_view section, size_t n, double* out) {
  Reader r(section);
  uint8_t kind;
  uint64_t nexc;
  if (!r.Byte(&kind) || !r.Uvarint(&nexc)) return Corrupt("truncated value section");
  const int k = kind & 0x0f;
  const int order = (kind >> 4) & 3;
  if (order > 2 || (kind & 0x80) != 0) return Corrupt("bad decimal kind");
  if (nexc > n || nexc > r.remaining() / 9) return Corrupt("truncated value section");
  std::vector<std::pair<size_t, uint64_t>> exceptions(static_cast<size_t>(nexc));
  size_t next = 0;
  for (auto& [pos, bits] : exceptions) {
    uint64_t gap;
    if (!r.Uvarint(&gap) || !r.Fixed64(&bits)) return Corrupt("truncated value section");
    if (gap >= n - next) return Corrupt("exception position out of range");
    pos = next + static_cast<size_t>(gap);
    next = pos + 1;
  }
  std::vector<int64_t> m(n);
  size_t head = 0;  // leading m values stored as svarints
  if (order >= 1) head = 1;
  if (order == 2 && n >= 2) head = 2;
  for (size_t i = 0; i < head; ++i) {
    if (!r.Svarint(&m[i])) return Corrupt("truncated value section");
  }
  Status s = GetInts(r, std::span<int64_t>(m).subspan(head));
  if (!s.ok()) return s.WithContext("values");
  std::vector<int64_t> ulps;
  if (kind & kDecimalUlpsBit) {
    ulps.resize(n);
    s = GetInts(r, ulps);
    if (!s.ok()) return s.WithContext("value corrections");
  }
  if (r.remaining() != 0) return Corrupt("trailing bytes in value section");
  // One pass: the running sums stay in registers (summing in place makes each
  // step wait for the previous store), and k = 0 needs no division.
  const double scale = kPow10[static_cast<size_t>(k)];
  auto undo_differences = [&](auto to_value) {
    if (order == 0 || (order == 2 && n < 2)) {
      for (size_t i = 0; i < n; ++i) out[i] = to_value(m[i]);
    } else if (order == 1) {
      int64_t x = 0;
      for (size_t i = 0; i < n; ++i) {
        x = Add(x, m[i]);
        out[i] = to_value(x);
      }
    } else {
      int64_t x = m[0], delta = m[1];
      out[0] = to_value(x);
      x = Add(x, delta);
      out[1] = to_value(x);
      for (size_t i = 2; i < n; ++i) {
        delta = Add(delta, m[i]);
        x = Add(x, delta);
        out[i] = to_value(x);
      }
    }
  };
  if (k == 0) {
    undo_differences([](int64_t x) { return static_cast<double>(x); });
  } else {
    undo_differences([scale](int64_t x) { return static_cast<double>(x) / scale; });
  }
  if (!ulps.empty()) {
    for (size_t i = 0; i < n; ++i) out[i] = std::bit_cast<double>(Bits(out[i]) + static_cast<uint64_t>(ulps[i]));
  }
  for (const auto& [pos, bits] : exceptions) out[pos] = std::bit_cast<double>(bits);
  return Status::Ok();
}

// --- Values: Gorilla XOR ---------------------------------------------------------

std::string EncodeXor(std::span<const double> values) {
  std::string out;
  FastBitWriter w(&out);
  uint64_t prev = Bits(values[0]);
  w.Write(prev, 64);
  int leading = -1;  // -1: no window yet
  int trailing = 0;
  for (size_t i = 1; i < values.size(); ++i) {
    uint64_t cur = Bits(values[i]);
    uint64_t x = cur ^ prev;
    prev = cur;
    if (x == 0) {
      w.Write(0, 1);
      continue;
    }
    w.Write(1, 1);
    int lead = std::min(std::countl_zero(x), 31);  // 5 bits
    int trail = std::countr_zero(x);
    if (leading >= 0 && lead >= leading && trail >= trailing) {
      w.Write(0, 1);
      w.Write(x >> trailing, 64 - leading - trailing);
    } else {
      leading = lead;
      trailing = trail;
      int sig = 64 - lead - trail;
      w.Write(1, 1);
      w.Write(static_cast<uint64_t>(lead), 5);
      w.Write(static_cast<uint64_t>(sig & 63), 6);  // 64 is written as 0
      w.Write(x >> trail, sig);
    }
  }
  w.Flush();
  return out;
}

Status DecodeXor(std::string_view section, size_t n, double* out) {
  // Every value after the first costs at least one bit.
  if (section.size() < 8 || (section.size() - 8) * 8 < n - 1) return Corrupt("truncated value section");
  BitReader r(section);
  uint64_t bits = r.Read(64);
  out[0] = std::bit_cast<double>(bits);
  int leading = -1;
  int trailing = 0;
  for (size_t i = 1; i < n; ++i) {
    if (r.ReadBit()) {
      if (r.ReadBit()) {
        leading = static_cast<int>(r.Read(5));
        int sig = static_cast<int>(r.Read(6));
        if (sig == 0) sig = 64;
        if (leading + sig > 64) return Corrupt("bad XOR window");
        trailing = 64 - leading - sig;
      } else if (leading < 0) {
        return Corrupt("XOR window reused before it was set");
      }
      bits ^= r.Read(64 - leading - trailing) << trailing;
    }
    if (r.overrun()) return Corrupt("truncated value section");
    out[i] = std::bit_cast<double>(bits);
  }
  // Only the padding of the last byte may remain.
  r.Read(8);
  if (!r.overrun()) return Corrupt("trailing bytes in value section");
  return Status::Ok();
}

Section EncodeValues(std::span<const double> values, ZstdCompressor& z) {
  SectionChooser best(z, values.size());
  const uint64_t first = Bits(values[0]);
  bool constant = std::all_of(values.begin(), values.end(), [&](double v) { return Bits(v) == first; });
  if (constant) {
    std::string raw;
    PutFixed64(&raw, first);
    best.Offer(kValConst, std::move(raw));
  }
  if (std::optional<DecimalPlan> plan = PlanDecimal(values)) {
    OfferDecimal(best, values, *plan, constant);
  }
  if (!constant) best.Offer(kValXor, EncodeXor(values));
  return best.Take();
}

Status DecodeValues(uint8_t layout, std::string_view section, size_t n, double* out) {
  if (layout == kValConst) {
    Reader r(section);
    uint64_t bits;
    if (!r.Fixed64(&bits)) return Corrupt("truncated value section");
    if (r.remaining() != 0) return Corrupt("trailing bytes in value section");
    std::fill(out, out + n, std::bit_cast<double>(bits));
    return Status::Ok();
  }
  if (layout == kValDecimal) return DecodeDecimal(section, n, out);
  return DecodeXor(section, n, out);
}

struct Header {
  uint8_t byte = 0;
  size_t count = 0;
};

Status ReadHeader(Reader& r, Header* h) {
  uint64_t count;
  if (!r.Byte(&h->byte)) return Corrupt("empty input");
  if (!r.Uvarint(&count)) return Corrupt("truncated header");
  if ((h->byte & kReservedBits) != 0) return Corrupt("reserved header bits set");
  if ((h->byte & 3) > kTsGrid || ((h->byte >> 2) & 3) > kValXor) return Corrupt("unknown layout");
  if (count > kMaxSealedSamples) return Corrupt("sample count too large");
  h->count = static_cast<size_t>(count);
  return Status::Ok();
}

}  // namespace

std::string EncodeSealed(std::span<const int64_t> timestamps_ms, std::span<const double> values,
                         const SealedEncodeOptions& options) {
  if (timestamps_ms.size() != values.size() || values.size() > kMaxSealedSamples) {
    std::fprintf(stderr, "EncodeSealed: %zu timestamps, %zu values (limit %zu)\n", timestamps_ms.size(), values.size(),
                 kMaxSealedSamples);
    std::abort();
  }
  std::string out;
  out.push_back('\0');
  PutUvarint(&out, values.size());
  if (values.empty()) return out;

  ZstdCompressor z(options.zstd_level);
  Section ts = EncodeTimestamps(timestamps_ms, z);
  Section vs = EncodeValues(values, z);
  out[0] = static_cast<char>(ts.layout | (vs.layout << 2) | (ts.zstd ? kTsZstdBit : 0) | (vs.zstd ? kValZstdBit : 0));
  PutUvarint(&out, ts.bytes.size());
  out += ts.bytes;
  out += vs.bytes;
  return out;
}

std::string EncodeSealedTimestamps(std::span<const int64_t> timestamps_ms, const SealedEncodeOptions& options) {
  if (timestamps_ms.empty() || timestamps_ms.size() > kMaxSealedSamples) {
    std::fprintf(stderr, "EncodeSealedTimestamps: %zu timestamps (1..%zu)\n", timestamps_ms.size(), kMaxSealedSamples);
    std::abort();
  }
  ZstdCompressor z(options.zstd_level);
  Section ts = EncodeTimestamps(timestamps_ms, z);
  std::string out;
  out.push_back(static_cast<char>(ts.layout | (ts.zstd ? kTsZstdBit : 0)));
  PutUvarint(&out, timestamps_ms.size());
  out += ts.bytes;
  return out;
}

std::string EncodeSealedValues(std::span<const double> values, const SealedEncodeOptions& options) {
  if (values.empty() || values.size() > kMaxSealedSamples) {
    std::fprintf(stderr, "EncodeSealedValues: %zu values (1..%zu)\n", values.size(), kMaxSealedSamples);
    std::abort();
  }
  ZstdCompressor z(options.zstd_level);
  Section vs = EncodeValues(values, z);
  std::string out;
  out.push_back(static_cast<char>((vs.layout << 2) | (vs.zstd ? kValZstdBit : 0)));
  PutUvarint(&out, values.size());
  out += vs.bytes;
  return out;
}

namespace {

// Decompresses the two sections as their header bytes say and appends the n
// samples: what the one-part and the split form share. On an error the
// vectors are left as they were.
// Points *section at its inflated bytes (kept in *buf) when it is zstd-compressed.
Status InflateIf(bool zstd, size_t n, const char* what, std::string_view* section, std::string* buf) {
  if (!zstd) return Status::Ok();
  Status s = Decompress(*section, MaxSectionBytes(n), buf);
  if (!s.ok()) return s.WithContext(what);
  *section = *buf;
  return Status::Ok();
}

// Reads a values part's header (which must hold no timestamp bits) and the section after it.
Status ReadValuesPart(std::string_view part, Header* h, std::string_view* section) {
  Reader r(part);
  Status s = ReadHeader(r, h);
  if (!s.ok()) return s.WithContext("values");
  if ((h->byte & ~((3 << 2) | kValZstdBit)) != 0) return Corrupt("timestamp bits set in a values part");
  (void)r.Bytes(r.remaining(), section);
  return Status::Ok();
}

Status DecodeSections(std::string_view ts_section, uint8_t ts_header, std::string_view value_section,
                      uint8_t value_header, size_t n, std::vector<int64_t>* timestamps_ms,
                      std::vector<double>* values) {
  std::string ts_buf, value_buf;
  Status s = InflateIf(ts_header & kTsZstdBit, n, "timestamps", &ts_section, &ts_buf);
  if (s.ok()) s = InflateIf(value_header & kValZstdBit, n, "values", &value_section, &value_buf);
  if (!s.ok()) return s;
  const size_t old_ts = timestamps_ms->size();
  const size_t old_values = values->size();
  timestamps_ms->resize(old_ts + n);
  values->resize(old_values + n);
  s = DecodeTimestamps(ts_header & 3, ts_section, n, timestamps_ms->data() + old_ts);
  if (s.ok()) s = DecodeValues((value_header >> 2) & 3, value_section, n, values->data() + old_values);
  if (!s.ok()) {
    timestamps_ms->resize(old_ts);
    values->resize(old_values);
  }
  return s;
}

}  // namespace

Status DecodeSealedSplit(std::string_view ts_part, std::string_view value_part, std::vector<int64_t>* timestamps_ms,
                         std::vector<double>* values) {
  Reader tr(ts_part);
  Header th, vh;
  Status s = ReadHeader(tr, &th);
  if (!s.ok()) return s.WithContext("timestamps");
  std::string_view ts_section, value_section;
  s = ReadValuesPart(value_part, &vh, &value_section);
  if (!s.ok()) return s;
  if ((th.byte & ~(3 | kTsZstdBit)) != 0) return Corrupt("value bits set in a timestamps part");
  if (th.count == 0 || th.count != vh.count) return Corrupt("timestamp and value counts differ");
  (void)tr.Bytes(tr.remaining(), &ts_section);
  return DecodeSections(ts_section, th.byte, value_section, vh.byte, th.count, timestamps_ms, values);
}

Status DecodeSealedValues(std::string_view value_part, size_t count, std::vector<double>* values) {
  Header vh;
  std::string_view section;
  Status s = ReadValuesPart(value_part, &vh, &section);
  if (!s.ok()) return s;
  if (vh.count == 0 || vh.count != count) return Corrupt("timestamp and value counts differ");
  std::string buf;
  s = InflateIf(vh.byte & kValZstdBit, count, "values", &section, &buf);
  if (!s.ok()) return s;
  const size_t old_size = values->size();
  values->resize(old_size + count);
  s = DecodeValues((vh.byte >> 2) & 3, section, count, values->data() + old_size);
  if (!s.ok()) values->resize(old_size);
  return s;
}

Result<size_t> SealedSampleCount(std::string_view data) {
  Reader r(data);
  Header h;
  Status s = ReadHeader(r, &h);
  if (!s.ok()) return s;
  return h.count;
}

Status DecodeSealed(std::string_view data, std::vector<int64_t>* timestamps_ms, std::vector<double>* values) {
  Reader r(data);
  Header h;
  Status s = ReadHeader(r, &h);
  if (!s.ok()) return s;
  const size_t n = h.count;
  if (n == 0) {
    if (h.byte != 0 || r.remaining() != 0) return Corrupt("bytes after an empty chunk");
    return Status::Ok();
  }
  uint64_t ts_len;
  std::string_view ts_section;
  if (!r.Uvarint(&ts_len) || ts_len > r.remaining() || !r.Bytes(static_cast<size_t>(ts_len), &ts_section)) {
    return Corrupt("truncated timestamp section");
  }
  std::string_view value_section;
  (void)r.Bytes(r.remaining(), &value_section);
  return DecodeSections(ts_section, h.byte, value_section, h.byte, n, timestamps_ms, values);
}

}  // namespace vigil::tsdb::chunkenc
