#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>

namespace vigil::http::tls {

std::string LastError() {
  unsigned long code = ERR_get_error();
  std::string reason = code == 0                       ? "unknown error"
                       : ERR_reason_error_string(code) ? ERR_reason_error_string(code)
                                                       : "error " + std::to_string(code);
  ERR_clear_error();
  return reason;
}

namespace {

// Accepts whatever the client presents: RequestClientCert and
// RequireAnyClientCert ask for a certificate without verifying it.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

int ProtocolVersion(TlsOptions::Version v) {
  switch (v) {
    case TlsOptions::Version::kTls10: return TLS1_VERSION;
    case TlsOptions::Version::kTls11: return TLS1_1_VERSION;
    case TlsOptions::Version::kTls12: return TLS1_2_VERSION;
    case TlsOptions::Version::kTls13: return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

}  // namespace

Result<std::shared_ptr<Context>> Context::Create(const TlsOptions& o) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Status::Error("TLS: cannot create a context: " + LastError());
  std::shared_ptr<Context> owner(new Context(ctx));
  SSL_CTX_set_min_proto_version(ctx, ProtocolVersion(o.min_version));
  SSL_CTX_set_max_proto_version(ctx, ProtocolVersion(o.max_version));
  // No renegotiation (a read never needs a write), a client's missing
  // close_notify is an end of stream, and partial writes from a buffer that
  // may move between retries (the connection's output string grows).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1) {
    return Status::Error("TLS cert_file " + o.cert_file + ": " + LastError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::Error("TLS key_file " + o.key_file + ": " + LastError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::Error("TLS key_file " + o.key_file + " does not match cert_file " + o.cert_file + ": " +
                         LastError());
  }
  if (!o.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, o.client_ca_file.c_str(), nullptr) != 1) {
      return Status::Error("TLS client_ca_file " + o.client_ca_file + ": " + LastError());
    }
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  }
  switch (o.client_auth) {
    case TlsOptions::ClientAuth::kNone: SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr); break;
    case TlsOptions::ClientAuth::kRequest: SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyCertificate); break;
    case TlsOptions::ClientAuth::kRequireAny:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, AcceptAnyCertificate);
      break;
    case TlsOptions::ClientAuth::kVerifyIfGiven: SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr); break;
    case TlsOptions::ClientAuth::kRequireAndVerify:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  static const unsigned char kSessionContext[] = "vigil";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  return owner;
}

Context::~Context() { SSL_CTX_free(ctx_); }

SSL* Context::NewSession(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

namespace {

Want WantOf(SSL* ssl, int rc) {
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ: return Want::kRead;
    case SSL_ERROR_WANT_WRITE: return Want::kWrite;
    case SSL_ERROR_ZERO_RETURN: return Want::kClosed;
    case SSL_ERROR_SYSCALL:
      if (errno == EINTR) return Want::kRead;
      return Want::kError;
    default: return Want::kError;
  }
}

}  // namespace

Want Handshake(SSL* ssl) {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl);
  return rc == 1 ? Want::kDone : WantOf(ssl, rc);
}

size_t Read(SSL* ssl, char* buf, size_t n, Want* want) {
  ERR_clear_error();
  size_t got = 0;
  if (SSL_read_ex(ssl, buf, n, &got) == 1) {
    *want = Want::kDone;
    return got;
  }
  *want = WantOf(ssl, 0);
  return 0;
}

size_t Write(SSL* ssl, const char* buf, size_t n, Want* want) {
  ERR_clear_error();
  size_t put = 0;
  if (SSL_write_ex(ssl, buf, n, &put) == 1) {
    *want = Want::kDone;
    return put;
  }
  *want = WantOf(ssl, 0);
  return 0;
}

void Shutdown(SSL* ssl) {
  ERR_clear_error();
  if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
  ERR_clear_error();
}

}  // namespace vigil::http::tls
