// The bodies of Prometheus's remote write and remote read: snappy (block
// format) around protobuf messages, and remote read's streamed frames. The
// protobuf and snappy libraries stay behind this header and the generated
// remote/prompb/*.pb.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "remote/prompb/remote.pb.h"

namespace vigil::remote {

// The largest body vigil accepts or builds, compressed or not (Prometheus's
// receivers accept 32 MiB decompressed by default as well).
inline constexpr size_t kMaxBodyBytes = 32u << 20;

std::string SnappyCompress(std::string_view raw);
// Fails on a corrupt stream, or when the stream says it holds more than
// `max_bytes` (checked before anything is allocated).
Result<std::string> SnappyUncompress(std::string_view compressed, size_t max_bytes = kMaxBodyBytes);

// Serializes `m` and compresses it: a remote write body, or a SAMPLES remote
// read response.
std::string EncodeSnappyProto(const google::protobuf::MessageLite& m);
// The reverse; `what` names the message in errors ("write request: ...").
Status DecodeSnappyProto(std::string_view body, google::protobuf::MessageLite* m, std::string_view what);

// CRC-32C (Castagnoli), the checksum of remote read's frames.
uint32_t Crc32c(std::string_view data);

// One frame of a STREAMED_XOR_CHUNKS remote read response: uvarint length,
// CRC-32C (Castagnoli) of the message, big-endian, then the message.
std::string FrameChunkedReadResponse(const prompb::ChunkedReadResponse& m);
// Reads one frame from the front of `data`, advancing it (for tests and
// clients). Fails on a short frame or a checksum mismatch.
Status ReadChunkedFrame(std::string_view* data, prompb::ChunkedReadResponse* m);

}  // namespace vigil::remote
