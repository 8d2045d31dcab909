// Fuzzes what remote write reads and builds: snappy-compressed protobuf
// WriteRequests (a receiver's view of vigil's bodies), remote read's streamed
// frames, the WAL record payloads the remote-write follower decodes, and the
// position file each target saves (which a torn disk can garble). The
// first byte picks the decoder; none may crash, over-read or allocate past
// the limits, and whatever decodes re-encodes to something that decodes the same.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "remote/codec.h"
#include "remote/step_export.h"
#include "tsdb/wal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      vigil::prompb::WriteRequest w;
      if (!vigil::remote::DecodeSnappyProto(in, &w, "write request").ok()) return 0;
      vigil::prompb::WriteRequest again;
      if (!vigil::remote::DecodeSnappyProto(vigil::remote::EncodeSnappyProto(w), &again, "write request").ok()) {
        std::abort();
      }
      if (again.SerializeAsString() != w.SerializeAsString()) std::abort();
      return 0;
    }
    case 1: {
      std::string_view rest = in;
      vigil::prompb::ChunkedReadResponse m;
      while (!rest.empty() && vigil::remote::ReadChunkedFrame(&rest, &m).ok()) {
        const std::string framed = vigil::remote::FrameChunkedReadResponse(m);
        std::string_view framed_again = framed;
        vigil::prompb::ChunkedReadResponse back;
        if (!vigil::remote::ReadChunkedFrame(&framed_again, &back).ok() || !framed_again.empty()) std::abort();
      }
      return 0;
    }
    case 2: {
      std::vector<vigil::tsdb::WalSample> samples;
      vigil::tsdb::DecodeWalSamples(in, &samples);
      if (samples.size() > in.size()) std::abort();  // each sample takes at least 10 bytes
      vigil::tsdb::DecodeWalSeries(in, [&](vigil::tsdb::SeriesRef, vigil::Labels l) {
        if (l.size() > in.size()) std::abort();
      });
      return 0;
    }
    default: {
      std::optional<vigil::remote::SavedPosition> p = vigil::remote::ParseSavedPosition(in);
      if (p && vigil::remote::ParseSavedPosition(vigil::remote::FormatSavedPosition(*p)) != p) std::abort();
      return 0;
    }
  }
}
