// `vigil tsdb check`: verifies every block and WAL file of a stopped store
// and, when asked, repairs it without deleting anything (docs/operations.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::tsdb {

struct CheckOptions {
  std::string dir;      // the store: <data_dir>/tsdb
  bool repair = false;  // quarantine damaged blocks (salvaging their good series), cut damaged WAL files
};

struct Damage {
  enum class Kind { kBlock, kWal };
  Kind kind = Kind::kBlock;
  std::string path;    // the damaged file
  std::string reason;  // why, e.g. "series {…}: series data: checksum mismatch"
  bool repaired = false;
  std::string repair;  // what --repair did, or why it could not
};

struct CheckReport {
  uint64_t blocks = 0, wal_files = 0;  // checked
  uint64_t series = 0, samples = 0;    // read back from blocks
  uint64_t wal_records = 0;
  std::vector<Damage> damaged;
};

// Checks (and with `repair`, repairs) the store in `options.dir`, holding its
// lock throughout: an error, not a report, when a running vigil holds it or
// the directory is no store. Every series that still decodes is kept.
Result<CheckReport> CheckStore(const CheckOptions& options);

}  // namespace vigil::tsdb
