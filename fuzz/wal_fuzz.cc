// Fuzzes WAL record framing: a torn, corrupt or garbage segment must stop
// cleanly at the last good record and never read past the input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tsdb/wal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string err;
  size_t total = 0;
  size_t good = vigil::tsdb::ParseWalRecords(
      in,
      [&](vigil::tsdb::WalRecordType, std::string_view payload) {
        if (payload.data() < in.data() || payload.data() + payload.size() > in.data() + in.size()) std::abort();
        total += payload.size();
      },
      &err);
  if (good > size || (good < size && err.empty()) || total > size) std::abort();
  // What was good re-parses to the same length without error.
  std::string err2;
  if (vigil::tsdb::ParseWalRecords(
          in.substr(0, good), [](vigil::tsdb::WalRecordType, std::string_view) {}, &err2) != good ||
      !err2.empty()) {
    std::abort();
  }
  return 0;
}
