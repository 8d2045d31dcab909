// MSB-first bit streams for the chunk encodings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::tsdb::chunkenc {

class BitWriter {
 public:
  // Appends the low `nbits` (0..64) of `value`, most significant first.
  void Write(uint64_t value, int nbits) {
    while (nbits > 0) {
      if (free_bits_ == 0) {
        bytes_.push_back('\0');
        free_bits_ = 8;
      }
      int take = nbits < free_bits_ ? nbits : free_bits_;
      uint64_t chunk = (value >> (nbits - take)) & ((take == 64) ? ~0ULL : ((1ULL << take) - 1));
      bytes_.back() = static_cast<char>(static_cast<uint8_t>(bytes_.back()) | (chunk << (free_bits_ - take)));
      free_bits_ -= take;
      nbits -= take;
    }
  }
  void WriteBit(bool bit) { Write(bit ? 1 : 0, 1); }

  std::string& bytes() { return bytes_; }
  const std::string& bytes() const { return bytes_; }
  // Restores a writer over `bytes` whose last byte has `free_bits` unused low bits.
  void Reset(std::string bytes, int free_bits) {
    bytes_ = std::move(bytes);
    free_bits_ = free_bits;
  }
  int free_bits() const { return free_bits_; }

 private:
  std::string bytes_;
  int free_bits_ = 0;  // unused low bits in the last byte
};

class BitReader {
 public:
  BitReader() = default;
  explicit BitReader(std::string_view bytes) : data_(bytes) {}

  // Reads `nbits` (0..64); sets the overrun flag and returns 0 past the end.
  uint64_t Read(int nbits) {
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
  bool overrun() const { return overrun_; }

 private:
  std::string_view data_;
  size_t byte_ = 0;
  int bit_ = 0;
  bool overrun_ = false;
};

}  // namespace vigil::tsdb::chunkenc
