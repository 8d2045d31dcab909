#include "remote/codec.h"

#include <snappy.h>

#include <array>
#include <cstdint>

#include "tsdb/encoding.h"

namespace vigil::remote {

// Reflected polynomial 0x82F63B78, one table lookup per byte: frames are small.
uint32_t Crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

std::string SnappyCompress(std::string_view raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

Result<std::string> SnappyUncompress(std::string_view compressed, size_t max_bytes) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &length)) {
    return Status::Error("not snappy-compressed (block format): bad length header");
  }
  if (length > max_bytes) {
    return Status::Error("decompressed body would be " + std::to_string(length) + " bytes, over the limit of " +
                         std::to_string(max_bytes));
  }
  std::string out;
  if (!snappy::Uncompress(compressed.data(), compressed.size(), &out)) {
    return Status::Error("corrupt snappy stream");
  }
  return out;
}

std::string EncodeSnappyProto(const google::protobuf::MessageLite& m) { return SnappyCompress(m.SerializeAsString()); }

Status DecodeSnappyProto(std::string_view body, google::protobuf::MessageLite* m, std::string_view what) {
  Result<std::string> raw = SnappyUncompress(body);
  if (!raw.ok()) return Status::Error(std::string(what) + ": " + raw.status().message());
  if (!m->ParseFromString(*raw)) return Status::Error(std::string(what) + ": not a valid protobuf message");
  return Status::Ok();
}

std::string FrameChunkedReadResponse(const prompb::ChunkedReadResponse& m) {
  std::string body = m.SerializeAsString();
  std::string out;
  tsdb::PutUvarint(&out, body.size());
  uint32_t crc = Crc32c(body);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((crc >> shift) & 0xFF));
  out += body;
  return out;
}

Status ReadChunkedFrame(std::string_view* data, prompb::ChunkedReadResponse* m) {
  tsdb::Decoder length(*data);
  uint64_t size = length.Uvarint();
  if (!length.ok()) return Status::Error("chunked frame: truncated length");
  data->remove_prefix(data->size() - length.remaining());
  if (size > kMaxBodyBytes) return Status::Error("chunked frame: length " + std::to_string(size) + " over the limit");
  if (data->size() < 4 + size) return Status::Error("chunked frame: truncated");
  uint32_t want = 0;
  for (int i = 0; i < 4; ++i) want = (want << 8) | static_cast<unsigned char>((*data)[i]);
  std::string_view body = data->substr(4, size);
  if (Crc32c(body) != want) return Status::Error("chunked frame: checksum mismatch");
  data->remove_prefix(4 + size);
  if (!m->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Status::Error("chunked frame: not a valid ChunkedReadResponse");
  }
  return Status::Ok();
}

}  // namespace vigil::remote
