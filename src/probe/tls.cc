// Certificate expiry of a TLS endpoint (handshake with OpenSSL, bounded by the
// deadline) or of a PEM file on disk.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include <ctime>

#include "base/file.h"
#include "probe/net.h"
#include "probe/probe.h"
#include "probe/probe_base.h"

namespace vigil::probe {
namespace {

// notAfter as Unix seconds; nullopt when OpenSSL cannot convert it.
std::optional<double> NotAfterSeconds(X509* cert) {
  const ASN1_TIME* t = X509_get0_notAfter(cert);
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<double>(::timegm(&tm));
}

constexpr const char* kExpiryHelp =
    "Unix time of the earliest notAfter among the certificates presented by the endpoint or found in the file.";

class TlsFileProbe final : public ProbeBase {
 public:
  explicit TlsFileProbe(TlsProbeOptions o) : ProbeBase(o.common, o.file), path_(o.file) {}

 protected:
  std::optional<Failure> Run(const collect::CollectContext&, SteadyTime, MetricBatch& out) override {
    Result<std::string> pem = ReadFile(path_, 4 << 20);
    if (!pem.ok()) return Failure{"read_failed", pem.status().message()};
    BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
    if (bio == nullptr) return Failure{"bad_cert", "out of memory"};
    std::optional<double> earliest;
    int count = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      ++count;
      if (auto s = NotAfterSeconds(cert); s && (!earliest || *s < *earliest)) earliest = s;
      X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error();  // the loop ends with a "no start line" error by design
    if (count == 0 || !earliest) return Failure{"bad_cert", "no PEM certificate in " + path_};
    out.AddGauge("vigil_probe_tls_cert_expiry_seconds", kExpiryHelp, labels(), *earliest);
    return std::nullopt;
  }

 private:
  std::string path_;
};

class TlsEndpointProbe final : public ProbeBase {
 public:
  TlsEndpointProbe(TlsProbeOptions o, std::string host, int port)
      : ProbeBase(o.common, (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port)),
        host_(std::move(host)),
        port_(port),
        server_name_(o.server_name.empty() ? host_ : o.server_name) {}

 protected:
  std::optional<Failure> Run(const collect::CollectContext&, SteadyTime deadline, MetricBatch& out) override {
    int fd = -1;
    if (auto f = ConnectTcp(host_, port_, deadline, &fd)) return f;
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = ctx == nullptr ? nullptr : SSL_new(ctx);
    std::optional<Failure> f = ssl == nullptr ? Failure{"tls_setup_failed", "cannot create a TLS context"}
                                              : Handshake(ctx, ssl, fd, deadline, out);
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    ::close(fd);
    ERR_clear_error();
    return f;
  }

 private:
  std::optional<Failure> Handshake(SSL_CTX* ctx, SSL* ssl, int fd, SteadyTime deadline, MetricBatch& out) {
    // Verification is recorded, not enforced: an expired or self-signed
    // certificate must still yield its expiry.
    SSL_CTX_set_default_verify_paths(ctx);
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    unsigned char addr[16];
    bool is_ip =
        inet_pton(AF_INET, server_name_.c_str(), addr) == 1 || inet_pton(AF_INET6, server_name_.c_str(), addr) == 1;
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name_.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, server_name_.c_str());
      SSL_set1_host(ssl, server_name_.c_str());
    }
    SSL_set_fd(ssl, fd);
    for (;;) {
      int rc = SSL_connect(ssl);
      if (rc == 1) break;
      int err = SSL_get_error(ssl, rc);
      short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) return Failure{"tls_handshake_failed", "TLS handshake with " + server_name_ + " failed"};
      pollfd p{fd, events, 0};
      int n = ::poll(&p, 1, PollMillisLeft(deadline));
      if (n == 0) return Failure{"timeout", "TLS handshake timed out"};
      if (n < 0 && errno != EINTR) return Failure{"tls_handshake_failed", "poll failed during the TLS handshake"};
    }
    std::optional<double> earliest;
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        if (auto s = NotAfterSeconds(sk_X509_value(chain, i)); s && (!earliest || *s < *earliest)) earliest = s;
      }
    }
    if (X509* leaf = SSL_get1_peer_certificate(ssl)) {
      if (auto s = NotAfterSeconds(leaf); s && (!earliest || *s < *earliest)) earliest = s;
      X509_free(leaf);
    }
    if (!earliest) return Failure{"bad_cert", "the server presented no usable certificate"};
    out.AddGauge("vigil_probe_tls_cert_expiry_seconds", kExpiryHelp, labels(), *earliest);
    out.AddGauge("vigil_probe_tls_verified",
                 "1 when the endpoint's chain verified against the system CAs and matched the name.", labels(),
                 SSL_get_verify_result(ssl) == X509_V_OK ? 1 : 0);
    SSL_shutdown(ssl);  // best effort; the socket is closed right after
    return std::nullopt;
  }

  std::string host_;
  int port_;
  std::string server_name_;
};

}  // namespace

Result<std::unique_ptr<collect::Collector>> NewTlsProbe(TlsProbeOptions o) {
  if (o.common.service.empty() || o.common.name.empty()) return Status::Error("probe needs a service and a name");
  if (int(!o.target.empty()) + int(!o.url.empty()) + int(!o.file.empty()) != 1) {
    return Status::Error("probe " + o.common.name + ": set exactly one of target (host:port), url and file");
  }
  if (!o.url.empty()) {
    std::optional<ParsedUrl> u = ParseUrl(o.url);
    if (!u) return Status::Error("probe " + o.common.name + ": url must be http(s)://host[:port]/…");
    return std::unique_ptr<collect::Collector>(std::make_unique<TlsEndpointProbe>(std::move(o), u->host, u->port));
  }
  if (!o.file.empty()) return std::unique_ptr<collect::Collector>(std::make_unique<TlsFileProbe>(std::move(o)));
  std::string host;
  int port = 0;
  if (!SplitHostPort(o.target, &host, &port))
    return Status::Error("probe " + o.common.name + ": target must be host:port");
  return std::unique_ptr<collect::Collector>(std::make_unique<TlsEndpointProbe>(std::move(o), std::move(host), port));
}

}  // namespace vigil::probe
