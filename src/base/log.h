// Logging in logfmt (ts=… level=… msg=… key=value), one write per line so
// lines from different threads never interleave.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogFields = std::vector<std::pair<std::string_view, std::string>>;

void SetLogLevel(LogLevel level);
// Sends log lines to `fd` (default 2, stderr).
void SetLogFd(int fd);
void Log(LogLevel level, std::string_view msg, const LogFields& fields = {});
inline void LogInfo(std::string_view msg, const LogFields& fields = {}) { Log(LogLevel::kInfo, msg, fields); }
inline void LogWarn(std::string_view msg, const LogFields& fields = {}) { Log(LogLevel::kWarn, msg, fields); }
inline void LogError(std::string_view msg, const LogFields& fields = {}) { Log(LogLevel::kError, msg, fields); }
inline void LogDebug(std::string_view msg, const LogFields& fields = {}) { Log(LogLevel::kDebug, msg, fields); }

// Renders one logfmt line (without the newline); exposed for tests.
std::string FormatLogLine(std::string_view ts, LogLevel level, std::string_view msg, const LogFields& fields);

}  // namespace vigil
