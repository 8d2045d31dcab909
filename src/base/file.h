// Whole-file reads for small files such as those under /proc and /sys.
#pragma once

#include <string>

#include "base/status.h"

namespace vigil {

// Reads `path` completely; the error names the path and the reason.
// Files larger than `max_bytes` are an error rather than an unbounded read.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 64 << 20);

}  // namespace vigil
