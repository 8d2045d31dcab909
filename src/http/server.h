// vigil's HTTP server: /metrics, /-/healthy, /-/ready, and routes other
// subsystems register (the Prometheus API, later the web UI). An epoll event
// loop owns every connection; route handlers run on a small worker pool.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"

namespace vigil::http {

struct HostPort {
  std::string host;
  int port = 0;
};
// Parses "127.0.0.1:9810", "[::1]:9810", "localhost:0"; the error says why.
Result<HostPort> ParseListenAddress(const std::string& address);

// One decoded request, as a registered route sees it.
struct Request {
  std::string method;  // "GET", "POST", …
  std::string path;    // decoded, without the query string
  // URL query parameters followed by the parameters of an
  // application/x-www-form-urlencoded body, in order; repeats kept (match[]).
  std::vector<std::pair<std::string, std::string>> params;
  std::string body;          // the raw body (for other content types)
  std::string content_type;  // the Content-Type header
  // Every header field in order, names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first value of `name`, or empty when absent.
  std::string Param(std::string_view name) const;
  // The first value of header field `name` (lower case), or empty when absent.
  std::string_view Header(std::string_view name) const;
  bool HasParam(std::string_view name) const;
  // Every value of `name` in order (for repeated parameters like match[]).
  std::vector<std::string> Params(std::string_view name) const;
};

// The sending end of a streamed response (server-sent events). Thread-safe;
// keep it as long as there is something to send.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues `data` for the client; false once the client has gone, the server
  // stopped, or the client fell more than kMaxStreamBufferBytes behind.
  virtual bool Write(std::string_view data) = 0;
  // Ends the response and closes the connection.
  virtual void Close() = 0;
  virtual bool open() const = 0;
};

// Bytes a streamed response may have queued for a slow client before the
// server drops the connection.
inline constexpr size_t kMaxStreamBufferBytes = 1 << 20;

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, `body` is ignored: the server sends the head (chunked on
  // HTTP/1.1), then calls `stream` once, on a worker thread, with the writer
  // for the rest. It must return promptly and write from elsewhere.
  std::function<void(std::shared_ptr<StreamWriter>)> stream;
};

using Handler = std::function<Response(const Request&)>;

// Requests whose path starts with `path_prefix` (any method) go to `handler`,
// which does its own dispatch and answers 404/405 itself.
struct Route {
  std::string path_prefix;
  Handler handler;
  // Further paths the handler answers, matched whole (the API's /federate).
  std::vector<std::string> exact_paths;
};

// Largest request body a route accepts; larger ones get 413.
inline constexpr size_t kMaxRequestBodyBytes = 8 << 20;

// Decodes `a=1&b=x+y&match%5B%5D=up` into pairs ('+' is a space); malformed
// percent escapes are kept literally, as Go's lenient callers see them.
std::vector<std::pair<std::string, std::string>> ParseFormUrlEncoded(std::string_view text);

// Whether Accept-Encoding allows gzip ("gzip", "gzip;q=0.5", not "gzip;q=0").
bool AcceptsGzip(std::string_view accept_encoding);
// `in` gzipped at zlib `level` (1 fast … 9 small); empty on failure.
std::string Gzip(std::string_view in, int level);

// Limits and pool sizes; the defaults suit the agent.
struct ServerOptions {
  // From a request's first byte to the end of its head (slowloris), and from
  // accepting a connection to its first byte.
  int header_timeout_ms = 10'000;
  // From the end of the head to the end of the body.
  int body_timeout_ms = 30'000;
  // Between requests on a kept-alive connection.
  int idle_timeout_ms = 60'000;
  // A response that makes no progress this long is abandoned.
  int write_timeout_ms = 10'000;
  // Connections beyond this are answered 503 and closed. Lowered to leave
  // 256 descriptors of RLIMIT_NOFILE to the rest of the process.
  int max_connections = 1000;
  // Threads that run route handlers and /metrics.
  int workers = 4;
  // Requests waiting for a worker beyond this are answered 503.
  int max_queued_requests = 256;
  // Requests from one client address running or waiting beyond this are
  // answered 429, so one client cannot take every worker.
  int max_requests_per_client = 64;
  // Stop() waits this long for running handlers, then abandons them.
  int stop_grace_ms = 1000;
};

// TLS for every connection (the web configuration's tls_server_config).
struct TlsOptions {
  enum class Version { kTls10, kTls11, kTls12, kTls13 };
  // The exporter-toolkit's client_auth_type, in order: NoClientCert,
  // RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven,
  // RequireAndVerifyClientCert.
  enum class ClientAuth { kNone, kRequest, kRequireAny, kVerifyIfGiven, kRequireAndVerify };
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  ClientAuth client_auth = ClientAuth::kNone;
  Version min_version = Version::kTls12;
  Version max_version = Version::kTls13;
};

// Who may do what, and how connections are encrypted. Replaced whole on
// reload (Server::SetAccess); the default is plain HTTP without accounts.
struct AccessOptions {
  // User name and bcrypt hash. Empty: no request is asked for credentials.
  std::vector<std::pair<std::string, std::string>> users;
  // With users: whether reads ask too. State-changing requests always do.
  bool protect_reads = true;
  // Added to every response (the web configuration's security headers).
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<TlsOptions> tls;
};

// Whether a request changes state (silences, posted alerts, recovery and
// drill controls): every method but GET/HEAD/OPTIONS, except the POST forms
// of the Prometheus API's queries, which only read.
bool IsStateChanging(std::string_view method, std::string_view path);
// Whether a listen host only accepts connections from this machine
// (127.0.0.0/8, ::1, localhost). "0.0.0.0", "" and "::" are every interface.
bool IsLoopbackHost(std::string_view host);
// Whether a browser's Origin header names the server the Host header names
// (scheme by `tls`, default ports made explicit). "null" never does.
bool SameOrigin(std::string_view origin, std::string_view host, bool tls);

struct Endpoints {
  // Everything /metrics shows; called once per scrape.
  std::function<std::vector<std::shared_ptr<const MetricBatch>>()> gather_metrics;
  // /-/ready answers 200 once this returns true.
  std::function<bool()> ready;
  // Further routes, matched by prefix in order after the built-in ones.
  std::vector<Route> routes;
  // Whether a route answers "/" (the web UI) instead of the built-in page.
  bool serves_root = false;
};

class Server {
 public:
  virtual ~Server() = default;
  // The address actually bound (the real port when 0 was asked for).
  virtual HostPort bound() const = 0;
  // Stops accepting, closes every connection and joins the loop thread; a
  // handler still running after ServerOptions::stop_grace_ms is abandoned
  // (its thread detached, its answer dropped).
  virtual void Stop() = 0;
  // vigil_http_connections_open, vigil_http_requests_total{code},
  // vigil_http_rejected_total{reason}. The agent adds them to its own
  // metrics (stored, and on /metrics). Thread-safe.
  virtual void AppendMetrics(MetricBatch& out) const = 0;
  // Replaces accounts, headers and TLS for requests and connections from now
  // on (SIGHUP). On an error (a certificate that does not load) nothing
  // changes and the error names the file.
  virtual Status SetAccess(const AccessOptions& access) = 0;
};

// Binds and starts serving on a background thread. Fails with
// "listen 127.0.0.1:9810: Address already in use" and the like.
Result<std::unique_ptr<Server>> StartServer(const std::string& listen, Endpoints endpoints, ServerOptions options = {},
                                            const AccessOptions& access = {});

}  // namespace vigil::http
