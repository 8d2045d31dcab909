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

// A whole file mapped read-only; unmapped when destroyed. Pages are read on
// first touch, so a reader of a large file holds only what it touches, and
// Release gives back what it has finished with.
class MappedFile {
 public:
  // Errors name the path and the reason. An empty file maps to an empty view.
  static Result<MappedFile> Open(const std::string& path);
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view view() const { return {data_, size_}; }
  // Drops the resident pages wholly before `offset` (a later read of them
  // faults them in again from the file).
  void ReleaseBefore(size_t offset);

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vigil
