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
//   ts dod     := t0:svarint [d1:svarint ints(count-2)]    delta-of-delta
//   ts delta   := t0:svarint ints(count-1)                  t[i] = t[i-1] + r[i-1]
//   ts grid    := t0:svarint step:svarint ints(count-1)     t[i] = t0 + i*step + r[i-1]
//   v const    := bits:u64le
//   v decimal  := kind:u8 (bits 0-3 k, bits 4-5 order) nexc:uvarint (gap:uvarint bits:u64le)*nexc
//                 order 0: ints(count) of m; 1: m0:svarint ints(count-1) of deltas;
//                 2: m0:svarint [d1:svarint ints(count-2)] of delta-of-deltas;
//                 value[i] = double(m[i]) / 10^k, except at the listed positions
//                 (gap = position - previous position - 1), which hold raw bits.
//   v xor      := Gorilla XOR bit stream of the values alone
//   ints(c)    := nothing if c == 0, else
//                 0x80 base:svarint uvarint*c           x = base + unzigzag(u)
//                 | w:u8 (0..64) base:svarint packed    x = base + (w-bit unsigned, MSB first)
//
// All integer arithmetic wraps modulo 2^64, so any int64 sequence round-trips
// and garbage input cannot cause undefined behaviour.
#include "tsdb/chunkenc/sealed.h"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "tsdb/chunkenc/bitstream.h"

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
constexpr uint8_t kIntsVarint = 0x80;

constexpr int kMaxDecimalDigits = 15;
constexpr int64_t kMaxMantissa = int64_t{1} << 53;  // |m| below this converts to double exactly
constexpr std::array<double, kMaxDecimalDigits + 1> kPow10 = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
constexpr std::array<int64_t, kMaxDecimalDigits + 1> kPow10Int = {1,
                                                                   10,
                                                                   100,
                                                                   1000,
                                                                   10000,
                                                                   100000,
                                                                   1000000,
                                                                   10000000,
                                                                   100000000,
                                                                   1000000000,
                                                                   10000000000,
                                                                   100000000000,
                                                                   1000000000000,
                                                                   10000000000000,
                                                                   100000000000000,
                                                                   1000000000000000};

// Worst-case decompressed section size: about 10 bytes per varint and 9 per exception.
size_t MaxSectionBytes(size_t count) { return 64 + 32 * count; }

uint64_t Bits(double v) { return std::bit_cast<uint64_t>(v); }
uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }
int64_t Add(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
int64_t Sub(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
int64_t Mul(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }

void PutUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutSvarint(std::string* out, int64_t v) { PutUvarint(out, ZigZag(v)); }
void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
int UvarintLen(uint64_t v) { return v == 0 ? 1 : (std::bit_width(v) + 6) / 7; }

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

// --- Integer blocks -------------------------------------------------------

int64_t Median(std::span<const int64_t> xs) {
  std::vector<int64_t> copy(xs.begin(), xs.end());
  auto mid = copy.begin() + static_cast<std::ptrdiff_t>(copy.size() / 2);
  std::nth_element(copy.begin(), mid, copy.end());
  return *mid;
}

void PutIntsVarint(std::string* out, std::span<const int64_t> xs) {
  if (xs.empty()) return;
  int64_t base = Median(xs);
  out->push_back(static_cast<char>(kIntsVarint));
  PutSvarint(out, base);
  for (int64_t x : xs) PutUvarint(out, ZigZag(Sub(x, base)));
}

void PutIntsPacked(std::string* out, std::span<const int64_t> xs) {
  if (xs.empty()) return;
  int64_t base = *std::min_element(xs.begin(), xs.end());
  uint64_t span_bits = 0;
  for (int64_t x : xs) span_bits |= static_cast<uint64_t>(Sub(x, base));
  int width = std::bit_width(span_bits);
  out->push_back(static_cast<char>(width));
  PutSvarint(out, base);
  if (width == 0) return;
  BitWriter w;
  for (int64_t x : xs) w.Write(static_cast<uint64_t>(Sub(x, base)), width);
  out->append(w.bytes());
}

// Reads an ints(count) block into out[0..count).
Status GetInts(Reader& r, std::span<int64_t> out) {
  if (out.empty()) return Status::Ok();
  uint8_t tag;
  int64_t base;
  if (!r.Byte(&tag) || !r.Svarint(&base)) return Corrupt("truncated integer block");
  if (tag == kIntsVarint) {
    if (r.remaining() < out.size()) return Corrupt("truncated integer block");
    for (int64_t& x : out) {
      uint64_t u;
      if (!r.Uvarint(&u)) return Corrupt("truncated integer block");
      x = Add(base, UnZigZag(u));
    }
    return Status::Ok();
  }
  if (tag > 64) return Corrupt("bad integer block tag");
  int width = tag;
  size_t nbytes = (out.size() * static_cast<size_t>(width) + 7) / 8;  // out.size() <= kMaxSealedSamples
  std::string_view packed;
  if (!r.Bytes(nbytes, &packed)) return Corrupt("truncated integer block");
  BitReader bits(packed);
  for (int64_t& x : out) x = Add(base, static_cast<int64_t>(bits.Read(width)));
  return Status::Ok();
}

// --- zstd -----------------------------------------------------------------

class ZstdCompressor {
 public:
  explicit ZstdCompressor(int level) : level_(level), ctx_(level > 0 ? ZSTD_createCCtx() : nullptr) {}
  ~ZstdCompressor() { ZSTD_freeCCtx(ctx_); }
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

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
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx == nullptr) return Status::Error("sealed chunk: out of memory");
  size_t n = ZSTD_decompressDCtx(ctx, out->data(), out->size(), frame.data(), frame.size());
  ZSTD_freeDCtx(ctx);
  if (ZSTD_isError(n) || n != size) return Corrupt("bad zstd data");
  return Status::Ok();
}

// A chosen section: its layout id and its stored bytes.
struct Section {
  uint8_t layout = 0;
  bool zstd = false;
  std::string bytes;
};

// Keeps the smallest of the candidate sections offered to it.
class SectionChooser {
 public:
  SectionChooser(ZstdCompressor& zstd, size_t count) : zstd_(zstd), count_(count) {}

  // Considers `raw`, stored as is or zstd-compressed, whichever is smaller.
  void Offer(uint8_t layout, std::string raw) {
    std::string packed;
    // A zstd frame costs at least 6 bytes, so tiny sections are not worth trying;
    // the decoder refuses to inflate a section beyond MaxSectionBytes.
    bool use_zstd = raw.size() > 8 && raw.size() <= MaxSectionBytes(count_) && zstd_.Compress(raw, &packed) &&
                    packed.size() < raw.size();
    size_t size = use_zstd ? packed.size() : raw.size();
    if (set_ && size >= best_.bytes.size()) return;
    best_.layout = layout;
    best_.zstd = use_zstd;
    best_.bytes = use_zstd ? std::move(packed) : std::move(raw);
    set_ = true;
  }

  // Considers `prefix` followed by `residuals` in each integer codec.
  void OfferInts(uint8_t layout, const std::string& prefix, std::span<const int64_t> residuals) {
    std::string varint = prefix;
    PutIntsVarint(&varint, residuals);
    Offer(layout, std::move(varint));
    std::string packed = prefix;
    PutIntsPacked(&packed, residuals);
    Offer(layout, std::move(packed));
  }

  Section Take() { return std::move(best_); }

 private:
  ZstdCompressor& zstd_;
  size_t count_;
  Section best_;
  bool set_ = false;
};

// --- Timestamps -------------------------------------------------------------

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

// --- Values: decimal --------------------------------------------------------

// Returns the smallest k with v == double(m) / 10^k exactly for an |m| < 2^53, or -1.
int DecimalDigits(double v, int64_t* m) {
  if (!std::isfinite(v)) return -1;
  const uint64_t bits = Bits(v);
  for (int k = 0; k <= kMaxDecimalDigits; ++k) {
    double scaled = std::nearbyint(v * kPow10[k]);
    if (!(std::fabs(scaled) < static_cast<double>(kMaxMantissa))) return -1;
    int64_t candidate = static_cast<int64_t>(scaled);
    if (Bits(static_cast<double>(candidate) / kPow10[k]) == bits) {
      *m = candidate;
      return k;
    }
  }
  return -1;
}

struct DecimalPlan {
  int k = 0;
  std::vector<int64_t> m;           // exceptions repeat the previous m
  std::vector<uint32_t> exceptions;  // positions whose value is stored raw
};

// Picks the scale k that minimises an estimate of the encoded size, or nullopt
// when too few values are decimals for the layout to pay off.
std::optional<DecimalPlan> PlanDecimal(std::span<const double> values) {
  const size_t n = values.size();
  std::vector<int8_t> digits(n);
  std::vector<int64_t> mantissa(n);
  std::array<size_t, kMaxDecimalDigits + 1> per_k{};
  for (size_t i = 0; i < n; ++i) {
    digits[i] = static_cast<int8_t>(DecimalDigits(values[i], &mantissa[i]));
    if (digits[i] >= 0) ++per_k[static_cast<size_t>(digits[i])];
  }
  // m at scale k, or false if it does not fit.
  auto scaled = [&](size_t i, int k, int64_t* m) {
    if (digits[i] < 0 || digits[i] > k) return false;
    int64_t factor = kPow10Int[static_cast<size_t>(k - digits[i])];
    int64_t limit = (kMaxMantissa - 1) / factor;
    if (mantissa[i] > limit || mantissa[i] < -limit) return false;
    *m = mantissa[i] * factor;
    return true;
  };

  int best_k = -1;
  size_t best_cost = 0;
  for (int k = 0; k <= kMaxDecimalDigits; ++k) {
    if (per_k[static_cast<size_t>(k)] == 0) continue;
    size_t cost = 0;
    int64_t prev = 0;
    for (size_t i = 0; i < n; ++i) {
      int64_t m;
      if (!scaled(i, k, &m)) {
        cost += 9;
        continue;
      }
      cost += static_cast<size_t>(UvarintLen(ZigZag(Sub(m, prev))));
      prev = m;
    }
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
  int64_t prev = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t m;
    // Exact by construction; the check guards against a platform whose division is not IEEE.
    if (scaled(i, best_k, &m) && Bits(static_cast<double>(m) / kPow10[static_cast<size_t>(best_k)]) == Bits(values[i])) {
      prev = m;
    } else {
      plan.exceptions.push_back(static_cast<uint32_t>(i));
    }
    plan.m[i] = prev;
  }
  return plan;
}

void OfferDecimal(SectionChooser& best, std::span<const double> values, const DecimalPlan& plan, bool constant) {
  const size_t n = plan.m.size();
  std::string exc;
  PutUvarint(&exc, plan.exceptions.size());
  uint32_t next = 0;
  for (uint32_t pos : plan.exceptions) {
    PutUvarint(&exc, pos - next);
    PutFixed64(&exc, Bits(values[pos]));
    next = pos + 1;
  }
  const std::span<const int64_t> m = plan.m;
  for (int order = constant ? 1 : 0; order <= (constant ? 1 : 2); ++order) {
    std::string prefix;
    prefix.push_back(static_cast<char>(plan.k | (order << 4)));
    prefix += exc;
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
    best.OfferInts(kValDecimal, prefix, residuals);
  }
}

Status DecodeDecimal(std::string_view section, size_t n, double* out) {
  Reader r(section);
  uint8_t kind;
  uint64_t nexc;
  if (!r.Byte(&kind) || !r.Uvarint(&nexc)) return Corrupt("truncated value section");
  const int k = kind & 0x0f;
  const int order = kind >> 4;
  if (order > 2) return Corrupt("bad decimal order");
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
  if (r.remaining() != 0) return Corrupt("trailing bytes in value section");
  if (order == 1) {
    for (size_t i = 1; i < n; ++i) m[i] = Add(m[i - 1], m[i]);
  } else if (order == 2 && n >= 2) {
    int64_t delta = m[1];
    m[1] = Add(m[0], delta);
    for (size_t i = 2; i < n; ++i) {
      delta = Add(delta, m[i]);
      m[i] = Add(m[i - 1], delta);
    }
  }
  const double scale = kPow10[static_cast<size_t>(k)];
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<double>(m[i]) / scale;
  for (const auto& [pos, bits] : exceptions) out[pos] = std::bit_cast<double>(bits);
  return Status::Ok();
}

// --- Values: Gorilla XOR --------------------------------------------------------

std::string EncodeXor(std::span<const double> values) {
  BitWriter w;
  uint64_t prev = Bits(values[0]);
  w.Write(prev, 64);
  int leading = -1;  // -1: no window yet
  int trailing = 0;
  for (size_t i = 1; i < values.size(); ++i) {
    uint64_t cur = Bits(values[i]);
    uint64_t x = cur ^ prev;
    prev = cur;
    if (x == 0) {
      w.WriteBit(false);
      continue;
    }
    w.WriteBit(true);
    int lead = std::min(std::countl_zero(x), 31);  // 5 bits
    int trail = std::countr_zero(x);
    if (leading >= 0 && lead >= leading && trail >= trailing) {
      w.WriteBit(false);
      w.Write(x >> trailing, 64 - leading - trailing);
    } else {
      leading = lead;
      trailing = trail;
      int sig = 64 - lead - trail;
      w.WriteBit(true);
      w.Write(static_cast<uint64_t>(lead), 5);
      w.Write(static_cast<uint64_t>(sig & 63), 6);  // 64 is written as 0
      w.Write(x >> trail, sig);
    }
  }
  return std::move(w.bytes());
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
    std::fprintf(stderr, "EncodeSealed: %zu timestamps, %zu values (limit %zu)\n", timestamps_ms.size(),
                 values.size(), kMaxSealedSamples);
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

  std::string ts_buf, value_buf;
  if (h.byte & kTsZstdBit) {
    s = Decompress(ts_section, MaxSectionBytes(n), &ts_buf);
    if (!s.ok()) return s.WithContext("timestamps");
    ts_section = ts_buf;
  }
  if (h.byte & kValZstdBit) {
    s = Decompress(value_section, MaxSectionBytes(n), &value_buf);
    if (!s.ok()) return s.WithContext("values");
    value_section = value_buf;
  }

  const size_t old_ts = timestamps_ms->size();
  const size_t old_values = values->size();
  timestamps_ms->resize(old_ts + n);
  values->resize(old_values + n);
  s = DecodeTimestamps(h.byte & 3, ts_section, n, timestamps_ms->data() + old_ts);
  if (s.ok()) s = DecodeValues((h.byte >> 2) & 3, value_section, n, values->data() + old_values);
  if (!s.ok()) {
    timestamps_ms->resize(old_ts);
    values->resize(old_values);
  }
  return s;
}

}  // namespace vigil::tsdb::chunkenc
