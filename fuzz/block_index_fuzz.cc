// Fuzzes a whole block file: framing, index and every series' data (with
// shared timestamps looked up anywhere in the file).
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tsdb/block.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<vigil::tsdb::BlockSeries> series;
  if (!vigil::tsdb::ParseBlockFile(in, &series).ok()) return 0;
  for (const auto& s : series) {
    if (s.offset + s.length > size) std::abort();
    std::vector<int64_t> t;
    std::vector<double> v;
    (void)vigil::tsdb::DecodeSeriesData(in.substr(s.offset, s.length), &t, &v, in);
  }
  return 0;
}
