#include "recovery/actions/envfile_rewrite.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <optional>

#include "base/file.h"
#include "config/env.h"
#include "recovery/actions/unique_fd.h"

namespace vigil::recovery {
namespace {

// The limits config::ParseEnvFile enforces: a longer value would not read back.
constexpr size_t kMaxValueBytes = 1 << 20;
constexpr size_t kMaxFileBytes = 16 << 20;

bool IsVarStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsVarChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Characters that mean the same unquoted to ParseEnvFile and to a POSIX shell.
bool IsShellSafe(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("_-./:@%+,=").find(c) != std::string_view::npos;
}

// Where the value of one assignment sits in the content.
struct ValueSpan {
  size_t begin;
  size_t end;
  char quote;  // '\'', '"' or 0 for unquoted (the first piece's style)
};

// Finds the value's extent on a line the way ParseEnvFile reads it: quoted and
// unquoted pieces up to a blank. When the line does not parse (unterminated
// quote, text after the value), the whole rest of the line is the value, so the
// new line parses again.
ValueSpan FindValue(std::string_view content, size_t begin, size_t line_end) {
  std::string_view line = content.substr(0, line_end);
  size_t j = begin;
  bool ok = true;
  while (j < line_end && ok) {
    char c = line[j];
    if (c == '\'') {
      size_t close = line.find('\'', j + 1);
      if (close == std::string_view::npos) {
        ok = false;
      } else {
        j = close + 1;
      }
    } else if (c == '"') {
      size_t k = j + 1;
      bool closed = false;
      for (; k < line_end; ++k) {
        if (line[k] == '\\' && k + 1 < line_end &&
            std::string_view("\"\\`$").find(line[k + 1]) != std::string_view::npos) {
          ++k;
        } else if (line[k] == '"') {
          closed = true;
          break;
        }
      }
      if (!closed) {
        ok = false;
      } else {
        j = k + 1;
      }
    } else if (IsBlank(c)) {
      break;
    } else {
      while (j < line_end && !IsBlank(line[j]) && line[j] != '\'' && line[j] != '"') ++j;
    }
  }
  if (ok) {
    size_t k = j;
    while (k < line_end && IsBlank(line[k])) ++k;
    ok = k == line_end || line[k] == '#';
  }
  char quote = begin < line_end && (line[begin] == '\'' || line[begin] == '"') ? line[begin] : 0;
  if (!ok) {
    j = line_end;
    if (j > begin && line[j - 1] == '\r') --j;  // keep a CRLF line end
  }
  return {begin, j, quote};
}

std::string DoubleQuoted(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// The value as written after "KEY=", in `quote` style when the value allows it.
std::string EncodeValue(std::string_view value, char quote) {
  bool shell_safe = true;
  for (char c : value) shell_safe = shell_safe && IsShellSafe(c);
  bool has_single = value.find('\'') != std::string_view::npos;
  if (quote == '"') return DoubleQuoted(value);
  if (quote == 0 && shell_safe) return std::string(value);
  if (!has_single) return "'" + std::string(value) + "'";
  return DoubleQuoted(value);
}

std::string ErrnoText(int err) { return ::strerrordesc_np(err) ? ::strerrordesc_np(err) : "unknown error"; }

// Removes `.<name>.vigil-tmp*` regular files an interrupted rewrite left behind.
void RemoveStaleTemps(int dir_fd, const std::string& name) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return;
  }
  const std::string prefix = "." + name + ".vigil-tmp";
  while (dirent* entry = ::readdir(dir)) {
    std::string_view entry_name(entry->d_name);
    if (!entry_name.starts_with(prefix)) continue;
    struct stat st;
    if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      ::unlinkat(dir_fd, entry->d_name, 0);
    }
  }
  ::closedir(dir);
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(ErrnoText(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Result<std::string> ReadAll(int fd, const std::string& path) {
  std::string content;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error("rewrite " + path + ": read: " + ErrnoText(errno));
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > kMaxFileBytes) return Status::Error("rewrite " + path + ": file is larger than 16 MiB");
  }
  return content;
}

std::string UniqueTempName(const std::string& name) {
  static std::atomic<uint64_t> counter{0};
  auto ns = std::chrono::steady_clock::now().time_since_epoch().count();
  return "." + name + ".vigil-tmp." + std::to_string(::getpid()) + "." + std::to_string(ns) + "." +
         std::to_string(counter.fetch_add(1));
}

}  // namespace

Status ValidateEnvAssignment(std::string_view key, std::string_view value) {
  bool key_ok = !key.empty() && IsVarStart(key[0]);
  for (char c : key) key_ok = key_ok && IsVarChar(c);
  if (!key_ok) return Status::Error("\"" + std::string(key) + "\" is not a variable name");
  if (value.find('\n') != std::string_view::npos)
    return Status::Error("the value for " + std::string(key) + " contains a newline");
  if (value.find('\0') != std::string_view::npos)
    return Status::Error("the value for " + std::string(key) + " contains a NUL byte");
  if (value.size() > kMaxValueBytes)
    return Status::Error("the value for " + std::string(key) + " is longer than 1 MiB");
  return Status::Ok();
}

std::string ReplaceEnvValue(std::string_view content, std::string_view key, std::string_view value) {
  if (!ValidateEnvAssignment(key, value).ok()) return std::string(content);
  std::optional<ValueSpan> last;
  bool uses_export = false;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    size_t line_end = nl == std::string_view::npos ? content.size() : nl;
    size_t i = pos;
    pos = nl == std::string_view::npos ? content.size() : nl + 1;
    while (i < line_end && IsBlank(content[i])) ++i;
    if (i >= line_end || content[i] == '#') continue;
    std::string_view rest = content.substr(i, line_end - i);
    if (rest.starts_with("export ") || rest.starts_with("export\t")) {
      uses_export = true;
      i += 7;
      while (i < line_end && IsBlank(content[i])) ++i;
    }
    size_t key_end = i;
    while (key_end < line_end && IsVarChar(content[key_end])) ++key_end;
    if (content.substr(i, key_end - i) != key || key_end >= line_end || content[key_end] != '=') continue;
    last = FindValue(content, key_end + 1, line_end);
  }

  std::string out;
  if (last) {
    out.reserve(content.size() + value.size() + 8);
    out.append(content.substr(0, last->begin));
    out.append(EncodeValue(value, last->quote));
    out.append(content.substr(last->end));
    return out;
  }
  out = std::string(content);
  std::string_view eol = content.find("\r\n") != std::string_view::npos ? "\r\n" : "\n";
  if (!out.empty() && out.back() != '\n') out += eol;
  if (uses_export) out += "export ";
  out += key;
  out += '=';
  out += EncodeValue(value, 0);
  out += eol;
  return out;
}

Status RewriteEnvFileValue(const std::string& path, std::string_view key, std::string_view value) {
  const std::string what = "rewrite " + path;
  if (Status s = ValidateEnvAssignment(key, value); !s.ok()) return s.WithContext(what);
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return Status::Error(what + ": " + ErrnoText(errno));
  std::string real(resolved);
  size_t slash = real.rfind('/');
  std::string dir = slash == 0 ? "/" : real.substr(0, slash);
  std::string name = real.substr(slash + 1);

  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return Status::Error(what + ": open directory " + dir + ": " + ErrnoText(errno));
  RemoveStaleTemps(dir_fd.get(), name);

  UniqueFd old_fd(::openat(dir_fd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (old_fd.get() < 0) return Status::Error(what + ": open: " + ErrnoText(errno));
  struct stat st;
  if (::fstat(old_fd.get(), &st) != 0) return Status::Error(what + ": stat: " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return Status::Error(what + ": not a regular file");
  Result<std::string> content = ReadAll(old_fd.get(), path);
  if (!content.ok()) return content.status();
  std::string updated = ReplaceEnvValue(*content, key, value);
  if (updated == *content) return Status::Ok();

  std::string temp = UniqueTempName(name);
  UniqueFd temp_fd(::openat(dir_fd.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (temp_fd.get() < 0) return Status::Error(what + ": create temp file in " + dir + ": " + ErrnoText(errno));
  auto fail = [&](const std::string& step, int err) {
    ::unlinkat(dir_fd.get(), temp.c_str(), 0);
    return Status::Error(what + ": " + step + ": " + ErrnoText(err));
  };
  // Owner before mode: chown clears set-id bits.
  if (::geteuid() == 0 && ::fchown(temp_fd.get(), st.st_uid, st.st_gid) != 0) return fail("chown temp file", errno);
  if (::fchmod(temp_fd.get(), st.st_mode & 07777) != 0) return fail("chmod temp file", errno);
  if (Status s = WriteAll(temp_fd.get(), updated); !s.ok()) {
    ::unlinkat(dir_fd.get(), temp.c_str(), 0);
    return Status::Error(what + ": write temp file: " + s.message());
  }
  if (::fsync(temp_fd.get()) != 0) return fail("fsync temp file", errno);
  if (::close(temp_fd.release()) != 0) return fail("close temp file", errno);
  if (::renameat(dir_fd.get(), temp.c_str(), dir_fd.get(), name.c_str()) != 0) return fail("rename", errno);
  if (::fsync(dir_fd.get()) != 0) return Status::Error(what + ": fsync directory " + dir + ": " + ErrnoText(errno));
  return Status::Ok();
}

Result<std::string> ReadEnvFileValue(const std::string& path, std::string_view key) {
  Result<std::string> content = ReadFile(path, kMaxFileBytes);
  if (!content.ok()) return content.status();
  config::EnvFile env = config::ParseEnvFile(*content, [](std::string_view) { return std::optional<std::string>(); });
  auto it = env.vars.find(std::string(key));
  if (it == env.vars.end()) return Status::Error(path + ": " + std::string(key) + " is not set");
  return it->second;
}

}  // namespace vigil::recovery
