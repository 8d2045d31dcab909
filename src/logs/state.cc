#include "logs/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "base/file.h"

namespace vigil::logs {
namespace {

constexpr std::string_view kMagic = "vigil-log-state 1";

// Percent-encodes spaces, control bytes, non-ASCII and '%' so every value is one token.
std::string Escape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool Unescape(std::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      *out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

template <typename T>
bool ParseInt(std::string_view s, T* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

bool ParseDouble(std::string_view s, double* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty() && std::isfinite(*out);
}

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, end);
}

}  // namespace

uint64_t Fingerprint(std::string_view bytes) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string EncodeState(const LogState& s) {
  std::string out(kMagic);
  out += "\nsource " + Escape(s.source) + "\n";
  if (s.has_position) {
    const FilePosition& p = s.position;
    out += "position " + std::to_string(p.dev) + " " + std::to_string(p.ino) + " " + std::to_string(p.offset) + " " +
           std::to_string(p.fingerprint_len) + " " + std::to_string(p.fingerprint) + "\n";
  }
  if (!s.journal_cursor.empty()) out += "cursor " + Escape(s.journal_cursor) + "\n";
  out += "bytes " + std::to_string(s.bytes) + "\n";
  out += "rotations " + std::to_string(s.rotations) + "\n";
  out += "truncations " + std::to_string(s.truncations) + "\n";
  out += "lines " + std::to_string(s.values.lines) + "\n";
  out += "long_lines " + std::to_string(s.values.long_lines) + "\n";
  for (const auto& c : s.values.counters) out += "counter " + Escape(c.name) + " " + std::to_string(c.count) + "\n";
  for (const auto& g : s.values.gauges) {
    if (g.seen) out += "gauge " + Escape(g.name) + " " + FormatDouble(g.value) + " " + std::to_string(g.time_ms) + "\n";
  }
  for (const auto& st : s.values.states) {
    if (st.value >= 0) {
      out += "state " + Escape(st.name) + " " + std::to_string(st.value) + " " + std::to_string(st.changed_ms) + "\n";
    }
  }
  out += "end\n";
  return out;
}

Result<LogState> DecodeState(std::string_view text) {
  LogState s;
  int line_no = 0;
  bool ended = false, magic = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return Status::Error("line " + std::to_string(line_no + 1) + ": no newline");
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    ++line_no;
    auto bad = [&](const std::string& why) { return Status::Error("line " + std::to_string(line_no) + ": " + why); };
    if (ended) return bad("data after end");
    if (!magic) {
      if (line != kMagic) return bad("not a vigil log state file (version 1)");
      magic = true;
      continue;
    }
    std::vector<std::string_view> f = Split(line);
    if (f.empty()) return bad("empty line");
    std::string_view key = f[0];
    auto one_int = [&](uint64_t* out) { return f.size() == 2 && ParseInt(f[1], out); };
    if (key == "end" && f.size() == 1) {
      ended = true;
    } else if (key == "source" && f.size() <= 2) {
      if (f.size() == 2 && !Unescape(f[1], &s.source)) return bad("bad escape in source");
    } else if (key == "position" && f.size() == 6) {
      FilePosition& p = s.position;
      if (!ParseInt(f[1], &p.dev) || !ParseInt(f[2], &p.ino) || !ParseInt(f[3], &p.offset) ||
          !ParseInt(f[4], &p.fingerprint_len) || !ParseInt(f[5], &p.fingerprint) ||
          p.fingerprint_len > kFingerprintBytes) {
        return bad("bad position");
      }
      s.has_position = true;
    } else if (key == "cursor" && f.size() == 2) {
      if (!Unescape(f[1], &s.journal_cursor)) return bad("bad escape in cursor");
    } else if (key == "bytes") {
      if (!one_int(&s.bytes)) return bad("bad bytes");
    } else if (key == "rotations") {
      if (!one_int(&s.rotations)) return bad("bad rotations");
    } else if (key == "truncations") {
      if (!one_int(&s.truncations)) return bad("bad truncations");
    } else if (key == "lines") {
      if (!one_int(&s.values.lines)) return bad("bad lines");
    } else if (key == "long_lines") {
      if (!one_int(&s.values.long_lines)) return bad("bad long_lines");
    } else if (key == "counter" && f.size() == 3) {
      RuleValues::Counter c;
      if (!Unescape(f[1], &c.name) || !ParseInt(f[2], &c.count)) return bad("bad counter");
      s.values.counters.push_back(std::move(c));
    } else if (key == "gauge" && f.size() == 4) {
      RuleValues::Gauge g;
      g.seen = true;
      if (!Unescape(f[1], &g.name) || !ParseDouble(f[2], &g.value) || !ParseInt(f[3], &g.time_ms)) {
        return bad("bad gauge");
      }
      s.values.gauges.push_back(std::move(g));
    } else if (key == "state" && f.size() == 4) {
      RuleValues::State st;
      if (!Unescape(f[1], &st.name) || !ParseInt(f[2], &st.value) || (st.value != 0 && st.value != 1) ||
          !ParseInt(f[3], &st.changed_ms)) {
        return bad("bad state");
      }
      s.values.states.push_back(std::move(st));
    } else {
      return bad("unknown or malformed entry \"" + std::string(key) + "\"");
    }
  }
  if (!magic) return Status::Error("empty state file");
  // Without the end marker the file was cut short; its numbers cannot be trusted.
  if (!ended) return Status::Error("truncated (no end marker)");
  return s;
}

StateFile::StateFile(std::string dir, std::string_view service, std::string_view source) : dir_(std::move(dir)) {
  // The service keeps the name readable; the hash keeps it unique per source and filesystem-safe.
  std::string safe;
  for (char c : service) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(Fingerprint(source)));
  path_ = dir_ + "/" + safe + "-" + hex + ".state";
}

StateFile::~StateFile() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

Result<bool> StateFile::TryLock() {
  if (lock_fd_ >= 0) return true;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::Error("create " + dir_ + ": " + ec.message());
  std::string lock = path_ + ".lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("open " + lock + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return false;
    return Status::Error("flock " + lock + ": " + std::strerror(err));
  }
  lock_fd_ = fd;
  return true;
}

Result<LogState> StateFile::Load() const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return LogState{};
  Result<std::string> text = ReadFile(path_, 16 << 20);
  if (!text.ok()) return text.status();
  Result<LogState> s = DecodeState(*text);
  if (!s.ok()) return s.status().WithContext(path_);
  return s;
}

Status StateFile::Save(const LogState& s) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::Error("create " + dir_ + ": " + ec.message());
  std::string tmp = path_ + ".tmp";
  if (Status st = WriteFileSynced(tmp, EncodeState(s)); !st.ok()) return st;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::Error("rename " + tmp + ": " + std::strerror(err));
  }
  return SyncDir(dir_);
}

}  // namespace vigil::logs
