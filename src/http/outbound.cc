#include "http/outbound.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "base/strings.h"

namespace vigil::http {

std::optional<ParsedUrl> ParseUrl(const std::string& url) {
  ParsedUrl u;
  std::string_view rest = url;
  size_t sep = rest.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  u.scheme = std::string(rest.substr(0, sep));
  for (char& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  rest.remove_prefix(sep + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    size_t colon = userinfo.find(':');
    u.user = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) u.password = std::string(userinfo.substr(colon + 1));
    authority.remove_prefix(at + 1);
  }
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  if (port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    auto p = ParseUint64(port);
    if (!p || *p == 0 || *p > 65535) return std::nullopt;
    u.port = static_cast<int>(*p);
  }
  if (size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  u.path_and_query = path.empty() || path[0] == '?' ? "/" + std::string(path) : std::string(path);
  std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  std::string_view bare_path = std::string_view(u.path_and_query).substr(0, u.path_and_query.find('?'));
  u.redacted = u.scheme + "://" + host + ":" + std::to_string(u.port) + std::string(bare_path);
  return u;
}

namespace {

// Idle kept-alive clients by origin, shared by every thread that delivers.
// A client is used by one exchange at a time: taken out, then put back.
class IdleClients {
 public:
  static IdleClients& Get() {
    static IdleClients* pool = new IdleClients();  // never destroyed: used until exit
    return *pool;
  }

  std::unique_ptr<httplib::Client> Take(const std::string& key) {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    auto it = idle_.find(key);
    while (it != idle_.end() && !it->second.empty()) {
      Entry e = std::move(it->second.back());
      it->second.pop_back();
      --count_;
      if (now - e.since < kMaxIdle) return std::move(e.client);
    }
    return nullptr;
  }

  void Put(const std::string& key, std::unique_ptr<httplib::Client> client) {
    std::lock_guard lock(mu_);
    auto& list = idle_[key];
    if (list.size() >= kMaxPerOrigin || count_ >= kMaxTotal) return;  // closed as it goes
    list.push_back({std::move(client), std::chrono::steady_clock::now()});
    ++count_;
  }

 private:
  // Shorter than the idle timeouts of common servers, so a kept connection
  // is rarely one the peer has already closed.
  static constexpr auto kMaxIdle = std::chrono::seconds(30);
  static constexpr size_t kMaxPerOrigin = 8, kMaxTotal = 64;
  struct Entry {
    std::unique_ptr<httplib::Client> client;
    std::chrono::steady_clock::time_point since;
  };
  std::mutex mu_;
  std::map<std::string, std::vector<Entry>> idle_;
  size_t count_ = 0;
};

}  // namespace

SteadyTime DeadlineFrom(SteadyTime deadline, std::chrono::milliseconds timeout) {
  SteadyTime own = std::chrono::steady_clock::now() + timeout;
  if (deadline == SteadyTime{}) return own;
  return std::min(deadline, own);
}

std::optional<Failure> HttpExchange(const HttpRequest& req, HttpResponse* out) {
  using std::chrono::steady_clock;
  auto start = steady_clock::now();
  auto remaining = std::chrono::duration_cast<std::chrono::microseconds>(req.deadline - start);
  if (remaining.count() <= 0) return Failure{"timeout", "no time left before the deadline"};

  std::string host = req.url.host.find(':') != std::string::npos ? "[" + req.url.host + "]" : req.url.host;
  const std::string origin = req.url.scheme + "://" + host + ":" + std::to_string(req.url.port);
  const std::string pool_key = origin + (req.tls_verify ? "" : " insecure") + "\n" + req.tls_ca_file + "\n" +
                               req.tls_cert_file + "\n" + req.tls_key_file;
  std::unique_ptr<httplib::Client> owned;
  if (req.keep_alive) owned = IdleClients::Get().Take(pool_key);
  if (!owned) {
    owned = req.tls_cert_file.empty() ? std::make_unique<httplib::Client>(origin)
                                      : std::make_unique<httplib::Client>(origin, req.tls_cert_file, req.tls_key_file);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (!req.tls_ca_file.empty()) owned->set_ca_cert_path(req.tls_ca_file);
#endif
  }
  httplib::Client& client = *owned;
  if (!client.is_valid()) return Failure{"bad_url", "cannot create a client for " + req.url.redacted};
  client.set_connection_timeout(remaining);
  client.set_read_timeout(remaining);
  client.set_write_timeout(remaining);
  client.set_keep_alive(req.keep_alive);
  // Headers and body leave in separate writes: without this, on a reused
  // connection Nagle holds the body for the peer's delayed ACK (40 ms).
  client.set_tcp_nodelay(true);
  client.set_follow_location(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  client.enable_server_certificate_verification(req.tls_verify);
#endif
  if (!req.user.empty() || !req.password.empty()) client.set_basic_auth(req.user, req.password);

  httplib::Request hreq;
  hreq.method = req.method;
  hreq.path = req.url.path_and_query;
  for (const auto& [k, v] : req.headers) hreq.headers.emplace(k, v);
  if (!req.body.empty() || req.method == "POST") {
    hreq.body = req.body;
    hreq.headers.emplace("Content-Type", req.content_type.empty() ? "application/json" : req.content_type);
  }
  std::string body;
  bool too_large = false, past_deadline = false;
  // Checked per chunk so a server that dribbles bytes cannot hold the probe past its deadline.
  hreq.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (body.size() + n > req.max_body_bytes) {
      too_large = true;
      return false;
    }
    if (steady_clock::now() > req.deadline) {
      past_deadline = true;
      return false;
    }
    body.append(data, n);
    return true;
  };
  httplib::Response hres;
  httplib::Error err = httplib::Error::Success;
  bool sent = client.send(hreq, hres, err);
  if (too_large)
    return Failure{"body_too_large", "response body over " + std::to_string(req.max_body_bytes) + " bytes"};
  if (past_deadline) return Failure{"timeout", "response not complete before the deadline"};
  if (!sent || err != httplib::Error::Success) {
    bool late = steady_clock::now() >= req.deadline - std::chrono::milliseconds(20);
    switch (err) {
      case httplib::Error::Connection:
        // httplib reports refused, unreachable and unresolvable alike.
        return Failure{"connection_refused", "cannot connect"};
      case httplib::Error::ConnectionTimeout: return Failure{"timeout", "connect timed out"};
      case httplib::Error::Read:
        if (late) return Failure{"timeout", "no response before the deadline"};
        return Failure{"read_failed", "connection closed before a complete response"};
      case httplib::Error::Write:
        if (late) return Failure{"timeout", "request not sent before the deadline"};
        return Failure{"write_failed", "cannot send the request"};
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
      case httplib::Error::SSLConnection: return Failure{"tls_handshake_failed", "TLS handshake failed"};
      case httplib::Error::SSLServerVerification: return Failure{"tls_verify_failed", "server certificate not trusted"};
      case httplib::Error::SSLLoadingCerts: return Failure{"tls_setup_failed", "cannot load CA certificates"};
#endif
      default: return Failure{"http_failed", httplib::to_string(err)};
    }
  }
  out->status = hres.status;
  out->body = std::move(body);
  out->retry_after = hres.get_header_value("Retry-After");
  // Only a connection that ended cleanly and that the server keeps is reused.
  if (req.keep_alive && hres.get_header_value("Connection") != "close") {
    IdleClients::Get().Put(pool_key, std::move(owned));
  }
  return std::nullopt;
}

}  // namespace vigil::http
