// MSB-first bit streams for the chunk encodings.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace vigil::tsdb::chunkenc {

class BitWriter {
 public:
  // Appends the low `nbits` (0..64) of `value`, most significant first.
  void Write(uint64_t value, int nbits) {
    if (nbits <= 0) return;
    if (nbits < 64) value &= (1ULL << nbits) - 1;
    // Fill the free low bits of the last byte, then whole bytes, then a tail.
    if (free_bits_ > 0) {
      int take = nbits < free_bits_ ? nbits : free_bits_;
      uint8_t chunk = static_cast<uint8_t>(value >> (nbits - take));
      bytes_.back() = static_cast<char>(static_cast<uint8_t>(bytes_.back()) | (chunk << (free_bits_ - take)));
      free_bits_ -= take;
      nbits -= take;
    }
    Grow((nbits + 7) / 8);
    while (nbits >= 8) {
      nbits -= 8;
      bytes_.push_back(static_cast<char>(static_cast<uint8_t>(value >> nbits)));
    }
    if (nbits > 0) {
      bytes_.push_back(static_cast<char>(static_cast<uint8_t>(value << (8 - nbits))));
      free_bits_ = 8 - nbits;
    }
  }
  void WriteBit(bool bit) {
    if (free_bits_ == 0) {
      Grow(1);
      bytes_.push_back(bit ? '\x80' : '\0');
      free_bits_ = 7;
      return;
    }
    --free_bits_;
    if (bit) bytes_.back() = static_cast<char>(static_cast<uint8_t>(bytes_.back()) | (1u << free_bits_));
  }

  std::string& bytes() { return bytes_; }
  const std::string& bytes() const { return bytes_; }
  // Restores a writer over `bytes` whose last byte has `free_bits` unused low bits.
  void Reset(std::string bytes, int free_bits) {
    bytes_ = std::move(bytes);
    free_bits_ = free_bits;
  }
  int free_bits() const { return free_bits_; }

 private:
  // Head chunks live in memory by the hundred thousand: grow by a quarter, not
  // by doubling, so little capacity is wasted.
  void Grow(size_t more) {
    if (bytes_.size() + more <= bytes_.capacity()) return;
    bytes_.reserve(bytes_.size() + more + bytes_.size() / 4 + 16);
  }

  std::string bytes_;
  int free_bits_ = 0;  // unused low bits in the last byte
};

class BitReader {
 public:
  BitReader() = default;
  explicit BitReader(std::string_view bytes) : data_(bytes) {}

  // Reads `nbits` (0..64); sets the overrun flag and returns 0 past the end.
  uint64_t Read(int nbits) {
    // Fast path: one unaligned 8-byte load holds all the bits when at least
    // 8 bytes remain and nbits <= 56 (bit_ <= 7); most calls take it.
    if (nbits > 0 && nbits <= 56 && data_.size() - byte_ >= 8) {
      uint64_t w;
      std::memcpy(&w, data_.data() + byte_, 8);
      if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
      uint64_t out = (w << bit_) >> (64 - nbits);
      int pos = bit_ + nbits;
      byte_ += static_cast<size_t>(pos >> 3);
      bit_ = pos & 7;
      return out;
    }
    uint64_t out = 0;
    while (nbits > 0) {
      if (byte_ >= data_.size()) {
        overrun_ = true;
        return 0;
      }
      int avail = 8 - bit_;
      int take = nbits < avail ? nbits : avail;
      uint8_t b = static_cast<uint8_t>(data_[byte_]);
      uint64_t chunk = (b >> (avail - take)) & ((1u << take) - 1);
      out = (take == 64 ? 0 : (out << take)) | chunk;
      bit_ += take;
      nbits -= take;
      if (bit_ == 8) {
        bit_ = 0;
        ++byte_;
      }
    }
    return out;
  }
  bool ReadBit() { return Read(1) != 0; }
  // Consumes a run of 0 bits and the 1 bit that ends it; returns the number
  // of zeros, or -1 (overrun flag set if the data ended) when there are more
  // than `max_zeros` or no 1 bit follows.
  int ReadZerosThenOne(int max_zeros) {
    if (data_.size() - byte_ >= 8) {
      uint64_t w;
      std::memcpy(&w, data_.data() + byte_, 8);
      if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
      w <<= bit_;  // a 1 bit left in w is a real one: the shift brings in zeros
      if (w != 0) {
        const int zeros = std::countl_zero(w);
        if (zeros > max_zeros) return -1;
        const int pos = bit_ + zeros + 1;
        byte_ += static_cast<size_t>(pos >> 3);
        bit_ = pos & 7;
        return zeros;
      }
    }
    int zeros = 0;
    while (!ReadBit()) {
      if (overrun_ || ++zeros > max_zeros) return -1;
    }
    return zeros;
  }
  bool overrun() const { return overrun_; }

  // The next bits, most significant first, in *w: its top 57 bits at least
  // are the stream's (the rest are zeros). False when fewer than 8 bytes
  // remain; Skip then moves on by up to 57 bits.
  bool Peek(uint64_t* w) const {
    if (data_.size() - byte_ < 8) return false;
    std::memcpy(w, data_.data() + byte_, 8);
    if constexpr (std::endian::native == std::endian::little) *w = __builtin_bswap64(*w);
    *w <<= bit_;
    return true;
  }
  void Skip(int nbits) {
    const int pos = bit_ + nbits;
    byte_ += static_cast<size_t>(pos >> 3);
    bit_ = pos & 7;
  }

 private:
  std::string_view data_;
  size_t byte_ = 0;
  int bit_ = 0;
  bool overrun_ = false;
};

}  // namespace vigil::tsdb::chunkenc
