// Fuzzes the sealed chunk decoder: arbitrary bytes must decode or fail cleanly,
// and whatever decodes must survive a re-encode bit for bit. The same bytes,
// read as (int64 timestamp, double value) pairs, also go through a round trip,
// in the joined and in the split form (blocks with shared timestamps), and the
// input cut in two is fed to the split decoder.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/chunkenc/sealed.h"

namespace {

using vigil::tsdb::chunkenc::DecodeSealed;
using vigil::tsdb::chunkenc::DecodeSealedSplit;
using vigil::tsdb::chunkenc::EncodeSealed;
using vigil::tsdb::chunkenc::EncodeSealedTimestamps;
using vigil::tsdb::chunkenc::EncodeSealedValues;
using vigil::tsdb::chunkenc::SealedSampleCount;

constexpr size_t kMaxRoundTripSamples = 4096;

void Fail(const char* what) {
  std::fprintf(stderr, "sealed_fuzz: %s\n", what);
  std::abort();
}

void CheckRoundTrip(const std::vector<int64_t>& ts, const std::vector<double>& values) {
  std::string chunk = EncodeSealed(ts, values);
  std::vector<int64_t> ts2;
  std::vector<double> values2;
  if (!DecodeSealed(chunk, &ts2, &values2).ok()) Fail("re-encoded chunk does not decode");
  if (ts2 != ts) Fail("timestamps changed in a round trip");
  if (values2.size() != values.size()) Fail("value count changed in a round trip");
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::bit_cast<uint64_t>(values2[i]) != std::bit_cast<uint64_t>(values[i])) Fail("value bits changed");
  }
  if (ts.empty()) return;
  ts2.clear();
  values2.clear();
  if (!DecodeSealedSplit(EncodeSealedTimestamps(ts), EncodeSealedValues(values), &ts2, &values2).ok()) {
    Fail("split parts do not decode");
  }
  if (ts2 != ts) Fail("timestamps changed in a split round trip");
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::bit_cast<uint64_t>(values2[i]) != std::bit_cast<uint64_t>(values[i])) Fail("split value bits changed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<int64_t> ts;
  std::vector<double> values;
  if (DecodeSealed(input, &ts, &values).ok()) {
    auto count = SealedSampleCount(input);
    if (!count.ok() || *count != ts.size() || ts.size() != values.size()) Fail("count mismatch");
    // A few bytes can describe a million samples; re-encoding those would slow the fuzzer to a crawl.
    if (ts.size() <= kMaxRoundTripSamples) CheckRoundTrip(ts, values);
  } else if (!ts.empty() || !values.empty()) {
    Fail("a failed decode left output behind");
  }

  if (size >= 1) {
    size_t cut = 1 + std::min<size_t>(data[0], size - 1);
    ts.clear();
    values.clear();
    if (DecodeSealedSplit(input.substr(1, cut - 1), input.substr(cut), &ts, &values).ok()) {
      if (ts.size() != values.size()) Fail("split decode count mismatch");
    } else if (!ts.empty() || !values.empty()) {
      Fail("a failed split decode left output behind");
    }
  }

  ts.clear();
  values.clear();
  for (size_t off = 0; off + 16 <= size && ts.size() < kMaxRoundTripSamples; off += 16) {
    int64_t t;
    double v;
    std::memcpy(&t, data + off, 8);
    std::memcpy(&v, data + off + 8, 8);
    ts.push_back(t);
    values.push_back(v);
  }
  CheckRoundTrip(ts, values);
  return 0;
}
