#include "http/password.h"

#include <crypt.h>

#include <cstring>
#include <memory>

namespace vigil::http {

Result<std::string> HashPassword(std::string_view password, int cost) {
  if (cost < 4 || cost > 31) return Status::Error("bcrypt cost must be 4 to 31, got " + std::to_string(cost));
  // bcrypt reads at most 72 bytes: longer passwords would match on a prefix.
  if (password.size() > 72) return Status::Error("password longer than bcrypt's 72 bytes");
  if (password.find('\0') != std::string_view::npos) return Status::Error("password contains a NUL byte");
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // A null random source: libxcrypt reads the system's (getrandom).
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, setting, sizeof setting) == nullptr) {
    return Status::Error(std::string("cannot make a bcrypt salt: ") + std::strerror(errno));
  }
  auto data = std::make_unique<crypt_data>();
  std::string pw(password);
  const char* hash = crypt_r(pw.c_str(), setting, data.get());
  if (hash == nullptr || hash[0] == '*') return Status::Error("bcrypt hashing failed");
  return std::string(hash);
}

bool VerifyPassword(std::string_view password, const std::string& hash) {
  if (hash.size() < 7 || hash[0] != '$' || hash[1] != '2') return false;
  if (password.size() > 72 || password.find('\0') != std::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();
  std::string pw(password);
  const char* computed = crypt_r(pw.c_str(), hash.c_str(), data.get());
  if (computed == nullptr || computed[0] == '*') return false;
  size_t n = std::strlen(computed);
  if (n != hash.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(computed[i] ^ hash[i]);
  return diff == 0;
}

}  // namespace vigil::http
