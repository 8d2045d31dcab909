// TLS for the HTTP server's connections (OpenSSL, non-blocking): a context
// built from the web configuration, and the read/write/handshake steps the
// event loop calls in place of recv/send.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

#include "base/status.h"
#include "http/server.h"

namespace vigil::http::tls {

// One SSL_CTX; shared by the connections accepted while it was current.
class Context {
 public:
  // Reads the certificate, key and client CA; the error names the file and
  // OpenSSL's reason ("key_file /etc/vigil/key.pem: no start line").
  static Result<std::shared_ptr<Context>> Create(const TlsOptions& options);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // A server-side session on `fd`; nullptr when OpenSSL is out of memory.
  SSL* NewSession(int fd) const;

 private:
  explicit Context(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// What a non-blocking step needs next.
enum class Want { kDone, kRead, kWrite, kClosed, kError };

// Advances the handshake.
Want Handshake(SSL* ssl);
// Like recv/send: bytes moved (> 0), or 0 with *want saying why not.
size_t Read(SSL* ssl, char* buf, size_t n, Want* want);
size_t Write(SSL* ssl, const char* buf, size_t n, Want* want);
// Sends close_notify without waiting for the peer's.
void Shutdown(SSL* ssl);
// OpenSSL's reason for the last failure on this thread, then clears it.
std::string LastError();

}  // namespace vigil::http::tls
