// Who may make a request: HTTP basic authentication against the web
// configuration's bcrypt hashes, checked on worker threads (bcrypt is slow
// on purpose) with a cache of recent answers so the UI's many requests pay
// for one hash.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/server.h"

namespace vigil::http {

class AccessGuard {
 public:
  explicit AccessGuard(AccessOptions options);

  const AccessOptions& options() const { return options_; }

  // Whether `method` on `path` must carry credentials. /-/healthy and
  // /-/ready never do: they tell systemd and load balancers nothing secret.
  bool Asks(std::string_view method, std::string_view path) const;
  // Whether the Authorization header names a user with the right password.
  bool Authenticated(std::string_view authorization) const;

 private:
  const AccessOptions options_;
  mutable std::mutex mu_;
  // SHA-256 of "user\0password" → whether it matched; cleared when full.
  mutable std::unordered_map<std::string, bool> verified_;
};

// "Basic dXNlcjpwYXNz" → user, password; false when malformed.
bool ParseBasicAuthorization(std::string_view header, std::string* user, std::string* password);

}  // namespace vigil::http
