// Fuzzes the sealed chunk decoder: arbitrary bytes must decode or fail cleanly,
// and whatever decodes must survive a re-encode bit for bit. The same bytes,
// read as (int64 timestamp, double value) pairs, also go through a round trip.
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
using vigil::tsdb::chunkenc::EncodeSealed;
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
