#include "http/client.h"

#include <httplib.h>

#include <cstdlib>

#include "base/strings.h"

namespace vigil::http {

namespace {

// Credentials and a CA for a vigil behind its web configuration, from the
// environment so they stay out of the process list and shell history.
void ApplyCredentials(httplib::Client& client) {
  const char* user = std::getenv("VIGIL_HTTP_USER");
  const char* password = std::getenv("VIGIL_HTTP_PASSWORD");
  if (user != nullptr && *user != '\0') client.set_basic_auth(user, password != nullptr ? password : "");
  if (const char* ca = std::getenv("VIGIL_HTTP_CA_FILE"); ca != nullptr && *ca != '\0') {
    client.set_ca_cert_path(ca);
  }
}

// Runs one request on a client for `base_url`; `send` issues it.
template <typename Send>
Result<ClientResponse> Request(const std::string& base_url, Duration timeout, Send&& send) {
  if (!StartsWith(base_url, "http://") && !StartsWith(base_url, "https://")) {
    return Status::Error("invalid server address \"" + base_url + "\": expected http://HOST:PORT or https://HOST:PORT");
  }
  if (base_url.find('@') != std::string::npos) {
    return Status::Error(
        "invalid server address: put credentials in VIGIL_HTTP_USER and VIGIL_HTTP_PASSWORD, not in the URL");
  }
  std::string base = base_url;
  while (EndsWith(base, "/")) base.pop_back();
  httplib::Client client(base);
  if (!client.is_valid()) return Status::Error("invalid server address \"" + base_url + "\"");
  ApplyCredentials(client);
  const time_t secs = static_cast<time_t>(timeout.count() / 1000);
  const time_t usecs = static_cast<time_t>((timeout.count() % 1000) * 1000);
  client.set_connection_timeout(secs, usecs);
  client.set_read_timeout(secs, usecs);
  client.set_write_timeout(secs, usecs);
  httplib::Result r = send(client);
  if (!r) {
    std::string why;
    switch (r.error()) {
      case httplib::Error::Connection: why = "connection refused (is vigil running there?)"; break;
      case httplib::Error::ConnectionTimeout: why = "connection timed out"; break;
      case httplib::Error::Read: why = "no answer within the timeout, or the connection was closed"; break;
      case httplib::Error::SSLServerVerification:
        why = "its TLS certificate is not trusted (set VIGIL_HTTP_CA_FILE to the CA that signed it)";
        break;
      case httplib::Error::SSLConnection: why = "the TLS handshake failed"; break;
      default: why = httplib::to_string(r.error());
    }
    return Status::Error("cannot reach " + base + ": " + why);
  }
  return ClientResponse{r->status, r->get_header_value("Content-Type"), r->body};
}

}  // namespace

Result<ClientResponse> PostForm(const std::string& base_url, const std::string& path,
                                const std::vector<std::pair<std::string, std::string>>& params, Duration timeout) {
  httplib::Params form;
  for (const auto& [k, v] : params) form.emplace(k, v);
  return Request(base_url, timeout, [&](httplib::Client& c) { return c.Post(path, form); });
}

Result<ClientResponse> Get(const std::string& base_url, const std::string& path, Duration timeout) {
  return Request(base_url, timeout, [&](httplib::Client& c) { return c.Get(path); });
}

Result<ClientResponse> PostJson(const std::string& base_url, const std::string& path, const std::string& json,
                                Duration timeout) {
  return Request(base_url, timeout, [&](httplib::Client& c) { return c.Post(path, json, "application/json"); });
}

Result<ClientResponse> Delete(const std::string& base_url, const std::string& path, Duration timeout) {
  return Request(base_url, timeout, [&](httplib::Client& c) { return c.Delete(path); });
}

}  // namespace vigil::http
