// Whole-file reads for small files such as those under /proc and /sys.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil {

// Reads `path` completely; the error names the path and the reason.
// Files larger than `max_bytes` are an error rather than an unbounded read.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 64 << 20);

// Creates or truncates `path`, writes all of `content` and fsyncs it. On
// failure the partial file is removed and the error names the step and path.
Status WriteFileSynced(const std::string& path, std::string_view content);
// fsyncs a directory so a rename or unlink in it is durable.
Status SyncDir(const std::string& dir);

}  // namespace vigil
