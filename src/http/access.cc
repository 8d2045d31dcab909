#include "http/access.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

#include "base/strings.h"
#include "http/password.h"

namespace vigil::http {
namespace {

// Distinct credentials remembered; a flood of wrong guesses only clears it.
constexpr size_t kMaxVerified = 1024;

}  // namespace

bool ParseBasicAuthorization(std::string_view header, std::string* user, std::string* password) {
  header = Trim(header);
  if (header.size() < 6 || !EqualsIgnoreCase(header.substr(0, 6), "basic ")) return false;
  std::string_view encoded = Trim(header.substr(6));
  if (encoded.empty() || encoded.size() % 4 != 0 || encoded.size() > 1024) return false;
  std::string decoded(encoded.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(encoded.data()), static_cast<int>(encoded.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = encoded.ends_with("==") ? 2 : encoded.ends_with("=") ? 1 : 0;
  decoded.resize(static_cast<size_t>(n) - padding);
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  *user = decoded.substr(0, colon);
  *password = decoded.substr(colon + 1);
  return true;
}

namespace {

// Users sorted by name, for the lookup in Authenticated.
AccessOptions SortedUsers(AccessOptions o) {
  std::sort(o.users.begin(), o.users.end());
  return o;
}

}  // namespace

AccessGuard::AccessGuard(AccessOptions options) : options_(SortedUsers(std::move(options))) {}

bool AccessGuard::Asks(std::string_view method, std::string_view path) const {
  if (options_.users.empty()) return false;
  if (path == "/-/healthy" || path == "/-/ready") return false;
  return options_.protect_reads || IsStateChanging(method, path);
}

bool AccessGuard::Authenticated(std::string_view authorization) const {
  std::string user, password;
  if (!ParseBasicAuthorization(authorization, &user, &password)) return false;
  auto it = std::lower_bound(options_.users.begin(), options_.users.end(), user,
                             [](const auto& entry, const std::string& name) { return entry.first < name; });
  std::string key(SHA256_DIGEST_LENGTH, '\0');
  std::string material = user + '\0' + password;
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(),
         reinterpret_cast<unsigned char*>(key.data()));
  {
    std::lock_guard lock(mu_);
    if (auto hit = verified_.find(key); hit != verified_.end()) return hit->second;
  }
  // An unknown user still costs a bcrypt round, so timing does not tell
  // which names exist.
  static const std::string kDummyHash = "$2b$10$CwTycUXWue0Thq9StjUM0uJ8DPLKXt1FYlwYpQW1G1yNZxoZlM4iO";
  bool known = it != options_.users.end() && it->first == user;
  bool ok = VerifyPassword(password, known ? it->second : kDummyHash) && known;
  std::lock_guard lock(mu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.emplace(std::move(key), ok);
  return ok;
}

}  // namespace vigil::http
