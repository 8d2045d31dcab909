// Changing one KEY=value in an operator's .envrc-style env file: the way a
// failover points a consumer at another endpoint.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::recovery {

// Ok iff `key` is a variable name and `value` can be written on one line
// (no newline or NUL byte, at most 1 MiB, the limit config::ParseEnvFile reads).
Status ValidateEnvAssignment(std::string_view key, std::string_view value);

// Returns `content` with the value of the last assignment of `key` replaced by
// `value`, every other byte kept: the `export ` prefix, the line's quoting style
// when `value` allows it (otherwise single or double quotes, escaped for both
// config::ParseEnvFile and a POSIX shell), a trailing comment, CRLF line ends.
// Appends `key=value` when the key is absent. config::ParseEnvFile of the result
// yields `value` for `key`; other keys keep their values unless they expand
// $key. Returns `content` unchanged when ValidateEnvAssignment fails.
std::string ReplaceEnvValue(std::string_view content, std::string_view key, std::string_view value);

// Sets `key` to `value` in the file at `path` atomically: a temp file
// `.<name>.vigil-tmp.<pid>.<n>` beside it (same mode and, when run as root, same
// owner) is written, fsynced and renamed over the file, then the directory is
// fsynced, so a crash leaves the old or the new file, never a mix. A symlink at
// `path` is resolved and its target rewritten. Temp files a crash left behind
// are removed at the start of the next rewrite of the same file. Writing the
// same value again changes nothing. Errors name the path and the reason, never
// the value (it may be a URL with a secret). Only one writer per file at a time.
Status RewriteEnvFileValue(const std::string& path, std::string_view key, std::string_view value);

// The value config::ParseEnvFile gives `key` in the file at `path` (variables
// from outside the file expand to empty). An error when the file cannot be read
// or does not assign `key`.
Result<std::string> ReadEnvFileValue(const std::string& path, std::string_view key);

}  // namespace vigil::recovery
