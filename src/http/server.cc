#include "http/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "expfmt/expfmt.h"

namespace vigil::http {

Result<HostPort> ParseListenAddress(const std::string& address) {
  std::string host, port;
  if (StartsWith(address, "[")) {
    size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return Status::Error("invalid listen address \"" + address + "\": expected [IPv6]:PORT");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      return Status::Error("invalid listen address \"" + address + "\": expected HOST:PORT, e.g. 127.0.0.1:9810");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  auto p = ParseUint64(port);
  if (!p || *p > 65535) return Status::Error("invalid listen address \"" + address + "\": bad port \"" + port + "\"");
  if (host.empty()) host = "0.0.0.0";
  return HostPort{host, static_cast<int>(*p)};
}

std::string Request::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return "";
}

bool Request::HasParam(std::string_view name) const {
  for (const auto& p : params) {
    if (p.first == name) return true;
  }
  return false;
}

std::vector<std::string> Request::Params(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : params) {
    if (k == name) out.push_back(v);
  }
  return out;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseFormUrlEncoded(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string_view part : Split(text, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    out.emplace_back(PercentDecode(key), PercentDecode(value));
  }
  return out;
}

namespace {

std::string RegexEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

Request ToRequest(const httplib::Request& req) {
  Request r;
  r.method = req.method;
  r.path = req.path;
  r.content_type = req.get_header_value("Content-Type");
  for (const auto& [k, v] : req.params) r.params.emplace_back(k, v);
  return r;
}

void Send(Response out, httplib::Response& res) {
  res.status = out.status;
  for (auto& [k, v] : out.headers) res.set_header(k, v);
  res.set_content(std::move(out.body), out.content_type);
}

// httplib reports a failed bind without errno; bind once ourselves to say why.
std::string BindFailureReason(const HostPort& hp) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port = std::to_string(hp.port);
  if (int rc = ::getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return std::string("cannot resolve host: ") + ::gai_strerror(rc);
  }
  std::string reason = "cannot bind";
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd >= 0) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 1) != 0) reason = std::strerror(errno);
    ::close(fd);
  } else {
    reason = std::strerror(errno);
  }
  ::freeaddrinfo(res);
  return reason;
}

class HttplibServer final : public Server {
 public:
  HttplibServer(HostPort bound, Endpoints endpoints) : bound_(std::move(bound)), endpoints_(std::move(endpoints)) {
    server_.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) { Metrics(req, res); });
    server_.Get("/-/healthy", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("vigil is Healthy.\n", "text/plain; charset=utf-8");
    });
    server_.Get("/-/ready", [this](const httplib::Request&, httplib::Response& res) {
      if (endpoints_.ready && !endpoints_.ready()) {
        res.status = 503;
        res.set_content("vigil is not ready.\n", "text/plain; charset=utf-8");
        return;
      }
      res.set_content("vigil is Ready.\n", "text/plain; charset=utf-8");
    });
    server_.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(
          "<!doctype html><title>vigil</title><h1>vigil</h1><ul><li><a href=\"/metrics\">/metrics</a>"
          "<li><a href=\"/-/healthy\">/-/healthy</a><li><a href=\"/-/ready\">/-/ready</a></ul>\n",
          "text/html; charset=utf-8");
    });
    for (const Route& route : endpoints_.routes) {
      std::string pattern = RegexEscape(route.path_prefix) + ".*";
      Handler handler = route.handler;
      server_.Get(pattern, [handler](const httplib::Request& req, httplib::Response& res) {
        Send(handler(ToRequest(req)), res);
      });
      server_.Delete(pattern, [handler](const httplib::Request& req, httplib::Response& res) {
        Send(handler(ToRequest(req)), res);
      });
      // Reads the body itself: httplib caps form bodies at 8 KiB, too small for
      // Grafana's long queries.
      server_.Post(pattern, [handler](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& content_reader) {
        Request r = ToRequest(req);
        bool too_large = false;
        bool read = content_reader([&](const char* data, size_t len) {
          if (r.body.size() + len > kMaxRequestBodyBytes) {
            too_large = true;
            return false;
          }
          r.body.append(data, len);
          return true;
        });
        if (too_large) {
          Send(Response{413, "text/plain; charset=utf-8", "request body too large\n", {}}, res);
          return;
        }
        if (!read) {
          Send(Response{400, "text/plain; charset=utf-8", "cannot read the request body\n", {}}, res);
          return;
        }
        if (StartsWith(r.content_type, "application/x-www-form-urlencoded")) {
          for (auto& p : ParseFormUrlEncoded(r.body)) r.params.push_back(std::move(p));
        }
        Send(handler(r), res);
      });
    }
    server_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      // Routes answer their own 404s (the API's JSON); keep those bodies.
      if (res.status == 404 && res.body.empty()) {
        res.set_content("404 page not found: " + req.path + "\n", "text/plain; charset=utf-8");
      }
    });
    server_.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      LogError("HTTP handler failed", {{"path", req.path}, {"err", what}});
      res.status = 500;
      res.set_content("internal error\n", "text/plain; charset=utf-8");
    });
    server_.set_read_timeout(10, 0);
    server_.set_write_timeout(10, 0);
    server_.set_keep_alive_timeout(5);
    // httplib writes a response's headers and body separately; with Nagle on,
    // the body waits for the client's delayed ACK (~40 ms on Linux) on every
    // keep-alive request. Go's servers (Prometheus, Alertmanager) disable it too.
    server_.set_tcp_nodelay(true);
  }

  Status Bind() {
    int port = bound_.port;
    if (port == 0) {
      port = server_.bind_to_any_port(bound_.host);
      if (port < 0) port = 0;
    } else if (!server_.bind_to_port(bound_.host, port)) {
      port = 0;
    }
    if (port == 0) {
      return Status::Error("listen " + Format(bound_) + ": " + BindFailureReason(bound_));
    }
    bound_.port = port;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return Status::Ok();
  }

  HostPort bound() const override { return bound_; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  ~HttplibServer() override { Stop(); }

  static std::string Format(const HostPort& hp) {
    bool v6 = hp.host.find(':') != std::string::npos;
    return (v6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
  }

 private:
  void Metrics(const httplib::Request& req, httplib::Response& res) {
    expfmt::Format format = expfmt::Negotiate(req.get_header_value("Accept"));
    std::vector<std::shared_ptr<const MetricBatch>> batches = endpoints_.gather_metrics();
    std::vector<const MetricBatch*> views;
    views.reserve(batches.size());
    for (const auto& b : batches) views.push_back(b.get());
    std::string body;
    body.reserve(256 << 10);
    expfmt::Render(views, format, &body);
    res.set_content(std::move(body), std::string(expfmt::ContentType(format)));
  }

  HostPort bound_;
  Endpoints endpoints_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

Result<std::unique_ptr<Server>> StartServer(const std::string& listen, Endpoints endpoints) {
  Result<HostPort> hp = ParseListenAddress(listen);
  if (!hp.ok()) return hp.status();
  auto server = std::make_unique<HttplibServer>(*hp, std::move(endpoints));
  if (Status s = server->Bind(); !s.ok()) return s;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace vigil::http
