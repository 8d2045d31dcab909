// Fuzzes the head chunk decoders (Gorilla XOR and decimal) and the block
// series-data decoder: arbitrary bytes must decode or fail cleanly; what
// decodes re-encodes to the same samples.
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tsdb/block.h"
#include "tsdb/chunkenc/decimal_chunk.h"
#include "tsdb/chunkenc/xor.h"

namespace {

template <typename Encoder, typename Decoder>
void DecodeAndReencode(std::string_view in) {
  Decoder d(in);
  std::vector<int64_t> t;
  std::vector<double> v;
  int guard = 0;
  while (d.Next()) {
    if (++guard > 65535) std::abort();  // the count field bounds it
    t.push_back(d.t());
    v.push_back(d.v());
  }
  if (d.corrupt()) return;
  Encoder e;
  for (size_t i = 0; i < t.size(); ++i) e.Append(t[i], v[i]);
  Decoder again(e.bytes());
  for (size_t i = 0; i < t.size(); ++i) {
    if (!again.Next() || again.t() != t[i] || std::bit_cast<uint64_t>(again.v()) != std::bit_cast<uint64_t>(v[i])) {
      std::abort();
    }
  }
  if (again.Next() || again.corrupt()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  DecodeAndReencode<vigil::tsdb::chunkenc::XorEncoder, vigil::tsdb::chunkenc::XorDecoder>(in);
  DecodeAndReencode<vigil::tsdb::chunkenc::DecimalEncoder, vigil::tsdb::chunkenc::DecimalDecoder>(in);
  std::vector<int64_t> st;
  std::vector<double> sv;
  (void)vigil::tsdb::DecodeSeriesData(in, &st, &sv);
  if (st.size() != sv.size()) std::abort();
  return 0;
}
