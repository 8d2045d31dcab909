#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "base/strings.h"
#include "expfmt/expfmt.h"
#include "http/access.h"
#include "http/request_parser.h"
#include "http/tls.h"

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

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
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

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Why the server refused a request or a connection (vigil_http_rejected_total).
enum class Rejection {
  kMaxConnections,
  kHeaderTooLarge,
  kBodyTooLarge,
  kHeaderTimeout,
  kBodyTimeout,
  kBadRequest,
  kUnsupported,
  kBusy,
  kWriteTimeout,
  kUnauthorized,
  kCrossOrigin,
  kTlsHandshake,
  kClientBusy,
  kCount,
};
constexpr std::array<std::string_view, static_cast<size_t>(Rejection::kCount)> kRejectionNames = {
    "max_connections", "header_too_large", "body_too_large", "header_timeout", "body_timeout",
    "bad_request",     "unsupported",      "busy",           "write_timeout",  "unauthorized",
    "cross_origin",    "tls_handshake",    "client_busy",
};

Rejection RejectionFor(int status) {
  switch (status) {
    case 431: return Rejection::kHeaderTooLarge;
    case 413: return Rejection::kBodyTooLarge;
    case 417:
    case 501:
    case 505: return Rejection::kUnsupported;
    default: return Rejection::kBadRequest;
  }
}

struct Stats {
  std::atomic<int64_t> connections_open{0};
  std::array<std::atomic<uint64_t>, 600> responses{};  // by status code
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Rejection::kCount)> rejected{};

  void Reject(Rejection r) { rejected[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  void Responded(int status) {
    if (status >= 100 && status < 600) responses[status].fetch_add(1, std::memory_order_relaxed);
  }
  void AppendTo(MetricBatch& out) const {
    out.AddGauge("vigil_http_connections_open", "HTTP connections currently open.", {},
                 static_cast<double>(connections_open.load()));
    for (size_t code = 100; code < responses.size(); ++code) {
      uint64_t n = responses[code].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out.AddCounter("vigil_http_requests_total", "HTTP responses sent, by status code.",
                     {{"code", std::to_string(code)}}, static_cast<double>(n));
    }
    for (size_t i = 0; i < rejected.size(); ++i) {
      out.AddCounter("vigil_http_rejected_total", "Requests and connections the HTTP server refused, by reason.",
                     {{"reason", std::string(kRejectionNames[i])}},
                     static_cast<double>(rejected[i].load(std::memory_order_relaxed)));
    }
  }
};

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

bool HasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

// "Sun, 06 Nov 1994 08:49:37 GMT", formatted at most once a second per thread.
std::string_view HttpDate() {
  thread_local time_t last = 0;
  thread_local char buf[64] = {};
  time_t now = ::time(nullptr);
  if (now != last) {
    struct tm tm;
    ::gmtime_r(&now, &tm);
    ::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    last = now;
  }
  return buf;
}

bool Compressible(std::string_view content_type) {
  return StartsWith(content_type, "text/") || StartsWith(content_type, "application/json") ||
         StartsWith(content_type, "application/openmetrics-text") ||
         StartsWith(content_type, "application/javascript") || StartsWith(content_type, "image/svg+xml");
}

// Bodies smaller than this go out as they are: gzip would save next to nothing.
constexpr size_t kMinGzipBytes = 1024;

bool HasHeader(const Response& r, std::string_view name) {
  for (const auto& h : r.headers) {
    if (EqualsIgnoreCase(h.first, name)) return true;
  }
  return false;
}

enum class Framing { kLength, kChunked, kUntilClose };

// The status line and header fields of `r`. The server owns framing and
// connection management, so a handler's own such fields are dropped.
std::string SerializeHead(const Response& r, Framing framing, size_t content_length, bool keep_alive, int minor_version,
                          bool gzipped) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += ReasonPhrase(r.status);
  out += "\r\nDate: ";
  out += HttpDate();
  out += "\r\n";
  if (!HasHeader(r, "content-type") && !HasNoBody(r.status)) {
    out += "Content-Type: " + r.content_type + "\r\n";
  }
  if (!HasNoBody(r.status)) {
    if (framing == Framing::kLength) out += "Content-Length: " + std::to_string(content_length) + "\r\n";
    if (framing == Framing::kChunked) out += "Transfer-Encoding: chunked\r\n";
  }
  if (gzipped) out += "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (minor_version == 0) {
    out += "Connection: keep-alive\r\n";
  }
  for (const auto& [name, value] : r.headers) {
    if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
        EqualsIgnoreCase(name, "connection")) {
      continue;
    }
    out += name + ": " + value + "\r\n";
  }
  out += "\r\n";
  return out;
}

Response TextResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// A whole response with a Content-Length body.
std::string SerializeResponse(const Response& r, bool head_only, bool keep_alive, int minor_version,
                              bool gzipped = false) {
  size_t length = HasNoBody(r.status) ? 0 : r.body.size();
  std::string out = SerializeHead(r, Framing::kLength, length, keep_alive, minor_version, gzipped);
  if (!head_only) out.append(r.body, 0, length);
  return out;
}

// What a worker hands back to the loop thread.
struct Completion {
  enum class Kind { kResponse, kStreamData, kStreamClose };
  uint64_t conn_id = 0;
  Kind kind = Kind::kResponse;
  std::string bytes;
  int status = 0;                                  // kResponse
  bool close_after = false;                        // kResponse: close once written
  bool abort = false;                              // kStreamClose: drop the connection at once
  std::shared_ptr<class StreamWriterImpl> stream;  // kResponse of a streamed response
};

// A request waiting for, or running on, a worker.
struct Job {
  enum class Kind { kRoute, kMetrics, kReady };
  Kind kind = Kind::kRoute;
  uint64_t conn_id = 0;
  const Handler* handler = nullptr;  // kRoute
  Request request;
  bool head_only = false;
  bool gzip_ok = false;
  bool keep_alive = true;
  int minor_version = 1;
};

// Everything worker threads touch. It outlives the Server when Stop()
// abandons a handler that is still running.
struct Shared {
  Shared(Endpoints e, ServerOptions o) : endpoints(std::move(e)), options(o) {}
  ~Shared() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // Queues a completion for the loop thread and wakes it.
  void Post(Completion c) {
    {
      std::lock_guard lock(mu);
      done.push_back(std::move(c));
    }
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd, &one, sizeof one);
    (void)n;  // the counter only saturates when the loop is already awake
  }

  // The accounts and TLS context requests and connections use from now on.
  std::shared_ptr<const AccessGuard> guard() const {
    std::lock_guard lock(access_mu);
    return access_guard;
  }
  std::shared_ptr<const tls::Context> tls_context() const {
    std::lock_guard lock(access_mu);
    return tls;
  }

  const Endpoints endpoints;
  const ServerOptions options;
  Stats stats;
  mutable std::mutex access_mu;
  std::shared_ptr<const AccessGuard> access_guard = std::make_shared<AccessGuard>(AccessOptions{});  // guarded
  std::shared_ptr<const tls::Context> tls;                                                           // guarded
  int wake_fd = -1;  // eventfd the loop waits on

  std::mutex mu;
  std::condition_variable work_cv;     // jobs or stopping changed
  std::condition_variable workers_cv;  // workers_alive changed
  std::deque<Job> jobs;                // guarded by mu
  std::vector<Completion> done;        // guarded by mu
  bool stopping = false;               // guarded by mu
  int workers_alive = 0;               // guarded by mu
};

class StreamWriterImpl final : public StreamWriter {
 public:
  StreamWriterImpl(std::weak_ptr<Shared> shared, uint64_t conn_id, bool chunked)
      : shared_(std::move(shared)), conn_id_(conn_id), chunked_(chunked) {}

  bool Write(std::string_view data) override {
    if (!open_.load()) return false;
    if (data.empty()) return true;
    std::string framed;
    if (chunked_) {
      char size[20];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      framed.reserve(data.size() + 24);
      framed += size;
      framed += data;
      framed += "\r\n";
    } else {
      framed = data;
    }
    if (queued_.fetch_add(framed.size()) + framed.size() > kMaxStreamBufferBytes) {
      Finish(/*abort=*/true);
      return false;
    }
    std::shared_ptr<Shared> s = shared_.lock();
    if (!s) return false;
    s->Post(Completion{conn_id_, Completion::Kind::kStreamData, std::move(framed)});
    return true;
  }

  void Close() override { Finish(/*abort=*/false); }
  bool open() const override { return open_.load(); }

  // The loop thread: the connection is gone.
  void MarkClosed() { open_.store(false); }
  // The loop thread: `n` queued bytes reached the socket.
  void Sent(size_t n) {
    size_t queued = queued_.load();
    while (!queued_.compare_exchange_weak(queued, queued - std::min(queued, n))) {
    }
  }

 private:
  void Finish(bool abort) {
    if (!open_.exchange(false)) return;
    std::shared_ptr<Shared> s = shared_.lock();
    if (!s) return;
    Completion c{conn_id_, Completion::Kind::kStreamClose, chunked_ && !abort ? "0\r\n\r\n" : ""};
    c.abort = abort;
    s->Post(std::move(c));
  }

  std::weak_ptr<Shared> shared_;
  const uint64_t conn_id_;
  const bool chunked_;
  std::atomic<bool> open_{true};
  std::atomic<size_t> queued_{0};
};

Response RenderMetrics(const Shared& s, std::string_view accept) {
  expfmt::Format format = expfmt::Negotiate(accept);
  std::vector<std::shared_ptr<const MetricBatch>> batches;
  if (s.endpoints.gather_metrics) batches = s.endpoints.gather_metrics();
  std::vector<const MetricBatch*> views;
  views.reserve(batches.size());
  for (const auto& b : batches) views.push_back(b.get());
  Response r;
  r.body.reserve(256 << 10);
  expfmt::Render(views, format, &r.body);
  r.content_type = std::string(expfmt::ContentType(format));
  return r;
}

Response Unauthorized() {
  Response r = TextResponse(401,
                            "authentication required: send HTTP basic credentials of a user in the web "
                            "configuration's basic_auth_users\n");
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"vigil\", charset=\"UTF-8\"");
  return r;
}

Response Handle(const Shared& s, const Job& job) {
  switch (job.kind) {
    case Job::Kind::kRoute: return (*job.handler)(job.request);
    case Job::Kind::kMetrics: return RenderMetrics(s, job.request.Header("accept"));
    case Job::Kind::kReady:
      return s.endpoints.ready && !s.endpoints.ready() ? TextResponse(503, "vigil is not ready.\n")
                                                       : TextResponse(200, "vigil is Ready.\n");
  }
  return TextResponse(500, "internal error\n");
}

void RunJob(const std::shared_ptr<Shared>& s, Job job) {
  Response r;
  const std::shared_ptr<const AccessGuard> guard = s->guard();
  try {
    if (guard->Asks(job.request.method, job.request.path) &&
        !guard->Authenticated(job.request.Header("authorization"))) {
      s->stats.Reject(Rejection::kUnauthorized);
      r = Unauthorized();
    } else {
      r = Handle(*s, job);
    }
  } catch (const std::exception& e) {
    LogError("HTTP handler failed", {{"path", job.request.path}, {"err", e.what()}});
    r = TextResponse(500, "internal error\n");
  } catch (...) {
    LogError("HTTP handler failed", {{"path", job.request.path}, {"err", "unknown error"}});
    r = TextResponse(500, "internal error\n");
  }
  for (const auto& h : guard->options().headers) r.headers.push_back(h);

  Completion c;
  c.conn_id = job.conn_id;
  c.status = r.status;
  if (r.stream && !job.head_only && !HasNoBody(r.status)) {
    bool chunked = job.minor_version == 1;
    c.bytes =
        SerializeHead(r, chunked ? Framing::kChunked : Framing::kUntilClose, 0, chunked, job.minor_version, false);
    auto writer = std::make_shared<StreamWriterImpl>(s, job.conn_id, chunked);
    c.stream = writer;
    s->Post(std::move(c));
    try {
      r.stream(writer);
    } catch (...) {
      LogError("HTTP stream handler failed", {{"path", job.request.path}});
      writer->Close();
    }
    return;
  }
  bool gzipped = false;
  if (job.gzip_ok && r.body.size() >= kMinGzipBytes && Compressible(r.content_type) &&
      !HasHeader(r, "content-encoding")) {
    // Level 1: several times smaller for exposition text at a fraction of
    // the CPU of the default level.
    std::string compressed = Gzip(r.body, Z_BEST_SPEED);
    if (!compressed.empty()) {
      r.body = std::move(compressed);
      gzipped = true;
    }
  }
  c.bytes = SerializeResponse(r, job.head_only, job.keep_alive, job.minor_version, gzipped);
  c.close_after = !job.keep_alive;
  s->Post(std::move(c));
}

void WorkerMain(std::shared_ptr<Shared> s) {
  while (true) {
    Job job;
    {
      std::unique_lock lock(s->mu);
      s->work_cv.wait(lock, [&] { return s->stopping || !s->jobs.empty(); });
      if (s->stopping) break;
      job = std::move(s->jobs.front());
      s->jobs.pop_front();
    }
    RunJob(s, std::move(job));
  }
  {
    std::lock_guard lock(s->mu);
    --s->workers_alive;
  }
  s->workers_cv.notify_all();
}

constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
// The loop wakes at least this often to enforce timeouts.
constexpr int kTickMs = 100;
// A connection closed after an error answer drains what the client still
// sends for this long (or this many bytes), so the answer is not lost to a
// TCP reset.
constexpr int kLingerMs = 1000;
constexpr size_t kLingerBytes = 1 << 20;
// Descriptors left to the rest of the process under RLIMIT_NOFILE.
constexpr int64_t kDescriptorsForTheRest = 256;

struct Conn {
  enum class State { kHandshake, kReadHead, kReadBody, kHandling, kWriting, kStreaming, kLingering };
  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;     // TLS session; null for plain HTTP
  uint32_t tls_want = 0;  // EPOLLIN/EPOLLOUT a TLS step waits for
  std::string peer;       // the client's address, for the per-client request cap
  bool counted = false;   // a request of this connection counts against its peer's cap
  State state = State::kReadHead;
  std::string in;  // received, not yet parsed
  std::string out;
  size_t out_off = 0;
  int64_t deadline_ms = 0;  // 0: none in this state
  uint32_t events = 0;      // registered with epoll
  bool request_started = false;
  size_t head_scanned = 0;  // bytes of `in` already searched for the head's end
  bool served_one = false;
  bool peer_eof = false;
  bool close_after_write = false;
  size_t lingered_bytes = 0;
  RequestHead head;
  std::string body;
  uint64_t body_left = 0;
  std::optional<ChunkedDecoder> chunked;
  std::shared_ptr<StreamWriterImpl> stream;
};

class EventServer final : public Server {
 public:
  EventServer(HostPort hp, Endpoints endpoints, ServerOptions options)
      : bound_(std::move(hp)), shared_(std::make_shared<Shared>(std::move(endpoints), options)) {}

  ~EventServer() override {
    Stop();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (spare_fd_ >= 0) ::close(spare_fd_);
  }

  Status Start() {
    if (Status s = Listen(); !s.ok()) return s;
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    shared_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (epoll_fd_ < 0 || shared_->wake_fd < 0) return Status::Error(std::string("epoll: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenId;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    ev.data.u64 = kWakeId;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, shared_->wake_fd, &ev);

    max_connections_ = options().max_connections;
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
      // Connections must not take the descriptors the store, the state
      // database and the probes need.
      int64_t room = static_cast<int64_t>(files.rlim_cur) - kDescriptorsForTheRest;
      if (room < max_connections_) {
        max_connections_ = static_cast<int>(std::max<int64_t>(16, room));
        LogWarn("HTTP connection limit lowered to fit the open-files limit",
                {{"max_connections", std::to_string(max_connections_)}, {"nofile", std::to_string(files.rlim_cur)}});
      }
    }

    const int workers = std::max(1, options().workers);
    shared_->workers_alive = workers;
    for (int i = 0; i < workers; ++i) workers_.emplace_back(WorkerMain, shared_);
    loop_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  HostPort bound() const override { return bound_; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    stop_.store(true);
    uint64_t one = 1;
    ssize_t n = ::write(shared_->wake_fd, &one, sizeof one);
    (void)n;
    if (loop_.joinable()) loop_.join();

    std::unique_lock lock(shared_->mu);
    shared_->stopping = true;
    shared_->work_cv.notify_all();
    bool idle = shared_->workers_cv.wait_for(lock, std::chrono::milliseconds(options().stop_grace_ms),
                                             [&] { return shared_->workers_alive == 0; });
    lock.unlock();
    for (std::thread& t : workers_) {
      if (idle) {
        t.join();
      } else {
        t.detach();
      }
    }
    if (!idle) LogWarn("HTTP handlers still running at shutdown were abandoned");
  }

  void AppendMetrics(MetricBatch& out) const override { shared_->stats.AppendTo(out); }

  Status SetAccess(const AccessOptions& access) override {
    std::shared_ptr<const tls::Context> context;
    if (access.tls) {
      Result<std::shared_ptr<tls::Context>> made = tls::Context::Create(*access.tls);
      if (!made.ok()) return made.status();
      context = std::move(*made);
    }
    auto guard = std::make_shared<const AccessGuard>(access);
    std::lock_guard lock(shared_->access_mu);
    shared_->access_guard = std::move(guard);
    shared_->tls = std::move(context);
    return Status::Ok();
  }

 private:
  const ServerOptions& options() const { return shared_->options; }
  Stats& stats() { return shared_->stats; }

  Status Listen() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(bound_.port);
    const std::string where = "listen " + FormatHostPort(bound_) + ": ";
    if (int rc = ::getaddrinfo(bound_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return Status::Error(where + "cannot resolve host: " + ::gai_strerror(rc));
    }
    std::string reason = "no address";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        reason = std::strerror(errno);
        continue;
      }
      int yes = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
        reason = std::strerror(errno);
        ::close(fd);
        continue;
      }
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      bound_.port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                     : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
      listen_fd_ = fd;
      break;
    }
    ::freeaddrinfo(res);
    if (listen_fd_ < 0) return Status::Error(where + reason);
    return Status::Ok();
  }

  static std::string FormatHostPort(const HostPort& hp) {
    bool v6 = hp.host.find(':') != std::string::npos;
    return (v6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
  }

  void Run() {
    std::array<epoll_event, 128> events;
    int64_t next_sweep = NowMs() + kTickMs;
    while (!stop_.load()) {
      int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), kTickMs);
      if (n < 0 && errno != EINTR) {
        LogError("HTTP server: epoll_wait failed", {{"err", std::strerror(errno)}});
        break;
      }
      now_ = NowMs();
      for (int i = 0; i < n; ++i) {
        uint64_t id = events[i].data.u64;
        if (id == kListenId) {
          Accept();
        } else if (id == kWakeId) {
          uint64_t count;
          while (::read(shared_->wake_fd, &count, sizeof count) > 0) {
          }
          DrainCompletions();
        } else if (Conn* c = Find(id)) {
          OnEvent(c, events[i].events);
        }
      }
      if (now_ >= next_sweep) {
        Sweep();
        next_sweep = now_ + kTickMs;
      }
      for (uint64_t id : dead_) conns_.erase(id);
      dead_.clear();
    }
    for (auto& [id, c] : conns_) Close(c.get());
    conns_.clear();
    ::close(listen_fd_);
    listen_fd_ = -1;
  }

  Conn* Find(uint64_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() || it->second->fd < 0 ? nullptr : it->second.get();
  }

  void Accept() {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage addr{};
      socklen_t addr_len = sizeof addr;
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &addr_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
          // Out of descriptors: free the spare one to accept and refuse a
          // client, rather than leaving it in the backlog and spinning.
          ::close(spare_fd_);
          int refused = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (refused >= 0) Refuse(refused);
          spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        return;
      }
      if (stats().connections_open.load() >= max_connections_) {
        Refuse(fd);
        continue;
      }
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      auto c = std::make_unique<Conn>();
      c->id = next_id_++;
      c->fd = fd;
      c->peer = PeerAddress(addr);
      c->deadline_ms = now_ + options().header_timeout_ms;
      c->events = EPOLLIN | EPOLLRDHUP;
      if (std::shared_ptr<const tls::Context> tls = shared_->tls_context()) {
        c->ssl = tls->NewSession(fd);
        if (c->ssl == nullptr) {
          ::close(fd);
          continue;
        }
        c->state = Conn::State::kHandshake;
        c->tls_want = EPOLLIN;
      }
      epoll_event ev{};
      ev.events = c->events;
      ev.data.u64 = c->id;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      stats().connections_open.fetch_add(1);
      conns_.emplace(c->id, std::move(c));
    }
  }

  static std::string PeerAddress(const sockaddr_storage& addr) {
    char text[INET6_ADDRSTRLEN] = "";
    if (addr.ss_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
    } else if (addr.ss_family == AF_INET6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text, sizeof text);
    }
    return text;
  }

  // Answers a connection over the limit with 503 and closes it (a TLS
  // client could not read a plain answer: it is only closed).
  void Refuse(int fd) {
    stats().Reject(Rejection::kMaxConnections);
    char discard[4096];
    ssize_t ignored = ::recv(fd, discard, sizeof discard, MSG_DONTWAIT);
    std::string body = "too many open connections (limit " + std::to_string(max_connections_) + ")\n";
    Response r = TextResponse(503, body);
    r.headers.emplace_back("Retry-After", "1");
    std::string bytes = SerializeResponse(r, false, false, 1);
    if (!shared_->tls_context()) ignored = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }

  void Close(Conn* c) {
    if (c->fd < 0) return;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
    if (c->ssl != nullptr) {
      SSL_free(c->ssl);
      c->ssl = nullptr;
    }
    ::close(c->fd);
    c->fd = -1;
    Uncount(c);
    if (c->stream) c->stream->MarkClosed();
    stats().connections_open.fetch_sub(1);
    dead_.push_back(c->id);
  }

  // Registers interest in what the connection's state needs.
  void UpdateInterest(Conn* c) {
    if (c->fd < 0) return;
    uint32_t want = c->tls_want;
    bool reading = c->state == Conn::State::kReadHead || c->state == Conn::State::kReadBody ||
                   c->state == Conn::State::kStreaming || c->state == Conn::State::kLingering;
    if (reading && !c->peer_eof) want |= EPOLLIN;
    if (!c->peer_eof) want |= EPOLLRDHUP;
    if (c->out_off < c->out.size()) want |= EPOLLOUT;
    if (want == c->events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c->id;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = want;
  }

  void OnEvent(Conn* c, uint32_t events) {
    if (events & EPOLLERR) {
      Close(c);
      return;
    }
    if (c->state == Conn::State::kHandshake) {
      ContinueHandshake(c);
      if (c->fd >= 0) UpdateInterest(c);
      return;
    }
    if (c->tls_want != 0) {
      // A TLS read waited for the socket to drain or a write for data: retry
      // what the connection's state does (never a read it is not doing, which
      // would look like the client hanging up).
      c->tls_want = 0;
      events |= c->events & (EPOLLIN | EPOLLOUT);
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
      if (c->events & EPOLLIN) {
        OnReadable(c);
      } else {
        // Not reading now (a handler runs): note that the client is done sending.
        c->peer_eof = true;
        if (events & EPOLLHUP) {
          Close(c);
          return;
        }
      }
    }
    if (c->fd >= 0 && (events & EPOLLOUT)) {
      Flush(c);
      if (c->fd >= 0 && c->state == Conn::State::kReadHead) Process(c);
    }
    UpdateInterest(c);
  }

  void ContinueHandshake(Conn* c) {
    if (!c->served_one && SSL_in_before(c->ssl)) {
      // A TLS client opens with a handshake record (0x16); letters are a
      // plain-HTTP request, which gets a plain answer saying what is wrong.
      char first = 0;
      if (::recv(c->fd, &first, 1, MSG_PEEK) == 1 && std::isupper(static_cast<unsigned char>(first))) {
        stats().Reject(Rejection::kTlsHandshake);
        std::string bytes =
            SerializeResponse(TextResponse(400, "Client sent an HTTP request to an HTTPS server.\n"), false, false, 1);
        ssize_t ignored = ::send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
        Close(c);
        return;
      }
    }
    switch (tls::Handshake(c->ssl)) {
      case tls::Want::kDone:
        c->tls_want = 0;
        c->state = Conn::State::kReadHead;
        OnReadable(c);  // the request may have come with the handshake's last flight
        return;
      case tls::Want::kRead: c->tls_want = EPOLLIN; return;
      case tls::Want::kWrite: c->tls_want = EPOLLOUT; return;
      case tls::Want::kClosed:
      case tls::Want::kError:
        stats().Reject(Rejection::kTlsHandshake);
        LogDebug("TLS handshake failed", {{"client", c->peer}, {"err", tls::LastError()}});
        Close(c);
        return;
    }
  }

  // recv(2), through TLS when the connection has it.
  ssize_t Receive(Conn* c, char* buf, size_t n) {
    if (c->ssl == nullptr) return ::recv(c->fd, buf, n, 0);
    tls::Want want;
    size_t got = tls::Read(c->ssl, buf, n, &want);
    if (got > 0) return static_cast<ssize_t>(got);
    return TlsFailure(c, want, /*reading=*/true);
  }

  // send(2), through TLS when the connection has it.
  ssize_t Send(Conn* c, const char* buf, size_t n) {
    if (c->ssl == nullptr) return ::send(c->fd, buf, n, MSG_NOSIGNAL);
    tls::Want want;
    size_t put = tls::Write(c->ssl, buf, n, &want);
    if (put > 0) return static_cast<ssize_t>(put);
    return TlsFailure(c, want, /*reading=*/false);
  }

  // Maps a TLS step that moved nothing onto recv/send's conventions. A read
  // that needs the socket writable (or a write that needs it readable) is
  // remembered, so the loop waits for that too.
  static ssize_t TlsFailure(Conn* c, tls::Want want, bool reading) {
    switch (want) {
      case tls::Want::kClosed: return 0;
      case tls::Want::kRead:
      case tls::Want::kWrite:
        if (reading && want == tls::Want::kWrite) c->tls_want = EPOLLOUT;
        if (!reading && want == tls::Want::kRead) c->tls_want = EPOLLIN;
        errno = EAGAIN;
        return -1;
      default: errno = ECONNRESET; return -1;
    }
  }

  void OnReadable(Conn* c) {
    for (int i = 0; i < 4; ++i) {
      ssize_t n = Receive(c, scratch_.data(), scratch_.size());
      if (n > 0) {
        if (c->state == Conn::State::kLingering) {
          c->lingered_bytes += static_cast<size_t>(n);
          if (c->lingered_bytes > kLingerBytes) return Close(c);
        } else if (c->state != Conn::State::kStreaming) {  // a streaming client has nothing to say
          c->in.append(scratch_.data(), static_cast<size_t>(n));
        }
        if (static_cast<size_t>(n) < scratch_.size()) break;
        continue;
      }
      if (n == 0) {
        c->peer_eof = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Close(c);
    }
    if (c->peer_eof && (c->state == Conn::State::kLingering || c->state == Conn::State::kStreaming)) {
      return Close(c);
    }
    Process(c);
    if (c->fd >= 0 && c->peer_eof && (c->state == Conn::State::kReadHead || c->state == Conn::State::kReadBody)) {
      Close(c);  // the client left without finishing a request
    }
  }

  // Parses and dispatches what has arrived, request after request (pipelining),
  // until a request waits for a worker, a write blocks, or input runs out.
  void Process(Conn* c) {
    while (c->fd >= 0) {
      if (c->state == Conn::State::kReadHead) {
        // Blank lines before a request are ignored (RFC 9112 2.2).
        c->in.erase(0, std::min(c->in.size(), c->in.find_first_not_of("\r\n")));
        if (c->in.empty()) return;
        if (!c->request_started) {
          c->request_started = true;
          c->head_scanned = 0;
          c->deadline_ms = now_ + options().header_timeout_ms;
        }
        // Parse only once the blank line has arrived: a client dribbling a
        // head byte by byte must not cost a full parse per byte.
        size_t from = c->head_scanned > 2 ? c->head_scanned - 2 : 0;
        bool complete =
            c->in.find("\n\n", from) != std::string::npos || c->in.find("\n\r\n", from) != std::string::npos;
        if (!complete && c->in.size() <= kMaxRequestHeadBytes) {
          c->head_scanned = c->in.size();
          return;
        }
        HeadParse p = ParseRequestHead(c->in);
        if (p.error) return Reject(c, *p.error);
        if (p.consumed == 0) return;
        c->in.erase(0, p.consumed);
        c->head = std::move(p.head);
        if (c->head.chunked) {
          c->chunked.emplace(kMaxRequestBodyBytes);
        } else if (c->head.content_length > kMaxRequestBodyBytes) {
          return Reject(c, {413, "request body too large: " + std::to_string(c->head.content_length) +
                                     " bytes (limit " + std::to_string(kMaxRequestBodyBytes) + ")"});
        } else {
          c->body_left = c->head.content_length;
          // Grows as the body arrives: a declared length costs nothing until sent.
          c->body.reserve(static_cast<size_t>(std::min<uint64_t>(c->body_left, 64 << 10)));
        }
        c->state = Conn::State::kReadBody;
        c->deadline_ms = now_ + options().body_timeout_ms;
        if (c->head.expect_continue && c->in.empty() && c->head.minor_version == 1) {
          c->out += "HTTP/1.1 100 Continue\r\n\r\n";
          Flush(c);
          if (c->fd < 0) return;
        }
      }
      if (c->state != Conn::State::kReadBody) return;
      if (c->chunked) {
        size_t used = c->chunked->Feed(c->in, &c->body);
        c->in.erase(0, used);
        if (c->chunked->error()) return Reject(c, *c->chunked->error());
        if (!c->chunked->done()) return;
      } else {
        size_t n = static_cast<size_t>(std::min<uint64_t>(c->body_left, c->in.size()));
        c->body.append(c->in, 0, n);
        c->in.erase(0, n);
        c->body_left -= n;
        if (c->body_left > 0) return;
      }
      Dispatch(c);
      if (c->state != Conn::State::kReadHead) return;
    }
  }

  void Dispatch(Conn* c) {
    RequestHead& head = c->head;
    Request req;
    const bool head_only = head.method == "HEAD";
    // HEAD is GET without the body: handlers see GET.
    req.method = head_only ? "GET" : head.method;
    req.path = std::move(head.path);
    req.params = ParseFormUrlEncoded(head.query);
    req.content_type = std::string(head.Header("content-type"));
    req.body = std::move(c->body);
    if (req.method == "POST" && StartsWith(req.content_type, "application/x-www-form-urlencoded")) {
      for (auto& p : ParseFormUrlEncoded(req.body)) req.params.push_back(std::move(p));
    }
    const bool keep_alive = head.keep_alive && !c->peer_eof;
    const int minor = head.minor_version;
    const bool get = req.method == "GET";

    // A browser page from another origin must not act with the operator's
    // credentials (CSRF): browsers send Origin (or Sec-Fetch-Site) on such
    // requests; tools like curl and amtool send neither.
    if (IsStateChanging(req.method, req.path) && !FromThisOrigin(head, c->ssl != nullptr)) {
      stats().Reject(Rejection::kCrossOrigin);
      return Respond(c,
                     TextResponse(403, "cross-origin request refused: " + req.method + " " + req.path +
                                           " must come from a page this server served\n"),
                     head_only, keep_alive, minor);
    }
    // Built-ins answered on the loop thread, so they stay prompt when every worker is busy.
    if (req.path == "/-/healthy" || (req.path == "/" && !shared_->endpoints.serves_root)) {
      if (!get) return Respond(c, MethodNotAllowed(), head_only, keep_alive, minor);
      Response r = req.path == "/" ? IndexPage() : TextResponse(200, "vigil is Healthy.\n");
      return Respond(c, r, head_only, keep_alive, minor);
    }
    Job job;
    if (req.path == "/metrics" || req.path == "/-/ready") {
      if (!get) return Respond(c, MethodNotAllowed(), head_only, keep_alive, minor);
      job.kind = req.path == "/metrics" ? Job::Kind::kMetrics : Job::Kind::kReady;
    } else {
      for (const Route& route : shared_->endpoints.routes) {
        if (StartsWith(req.path, route.path_prefix) ||
            std::find(route.exact_paths.begin(), route.exact_paths.end(), req.path) != route.exact_paths.end()) {
          job.handler = &route.handler;
          break;
        }
      }
      if (job.handler == nullptr) {
        return Respond(c, TextResponse(404, "404 page not found: " + req.path + "\n"), head_only, keep_alive, minor);
      }
    }
    job.gzip_ok = AcceptsGzip(head.Header("accept-encoding"));
    req.headers = std::move(head.headers);
    job.conn_id = c->id;
    job.head_only = head_only;
    job.keep_alive = keep_alive;
    job.minor_version = minor;
    job.request = std::move(req);
    int& in_flight = in_flight_[c->peer];
    if (in_flight >= options().max_requests_per_client) {
      if (in_flight == 0) in_flight_.erase(c->peer);
      stats().Reject(Rejection::kClientBusy);
      Response busy = TextResponse(429, "too many requests from " + c->peer + " at once (limit " +
                                            std::to_string(options().max_requests_per_client) + ")\n");
      busy.headers.emplace_back("Retry-After", "1");
      return Respond(c, busy, head_only, keep_alive, minor);
    }
    {
      std::lock_guard lock(shared_->mu);
      if (shared_->jobs.size() < static_cast<size_t>(options().max_queued_requests)) {
        shared_->jobs.push_back(std::move(job));
        shared_->work_cv.notify_one();
        c->state = Conn::State::kHandling;
        c->deadline_ms = 0;
        ++in_flight;
        c->counted = true;
        return;
      }
    }
    if (in_flight == 0) in_flight_.erase(c->peer);
    stats().Reject(Rejection::kBusy);
    Response busy = TextResponse(503, "server busy: too many requests waiting for a worker\n");
    busy.headers.emplace_back("Retry-After", "1");
    Respond(c, busy, head_only, keep_alive, minor);
  }

  static bool FromThisOrigin(const RequestHead& head, bool tls) {
    std::string_view origin = head.Header("origin");
    if (!origin.empty()) return SameOrigin(origin, head.Header("host"), tls);
    std::string_view site = head.Header("sec-fetch-site");
    return site.empty() || site == "same-origin" || site == "none";
  }

  // The request of `c` no longer counts against its client's cap.
  void Uncount(Conn* c) {
    if (!c->counted) return;
    c->counted = false;
    auto it = in_flight_.find(c->peer);
    if (it != in_flight_.end() && --it->second <= 0) in_flight_.erase(it);
  }

  static Response MethodNotAllowed() {
    Response r = TextResponse(405, "method not allowed: use GET or HEAD\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }

  static Response IndexPage() {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body =
        "<!doctype html><title>vigil</title><h1>vigil</h1><ul><li><a href=\"/metrics\">/metrics</a>"
        "<li><a href=\"/-/healthy\">/-/healthy</a><li><a href=\"/-/ready\">/-/ready</a></ul>\n";
    return r;
  }

  // Answers on the loop thread.
  void Respond(Conn* c, Response r, bool head_only, bool keep_alive, int minor) {
    for (const auto& h : shared_->guard()->options().headers) r.headers.push_back(h);
    QueueResponse(c, SerializeResponse(r, head_only, keep_alive, minor), r.status, !keep_alive);
  }

  void QueueResponse(Conn* c, std::string bytes, int status, bool close_after) {
    stats().Responded(status);
    c->out += bytes;
    c->close_after_write = close_after || c->peer_eof || stop_.load();
    c->state = Conn::State::kWriting;
    c->deadline_ms = now_ + options().write_timeout_ms;
    Flush(c);
  }

  // An error answer, then the connection closes: after a framing error the
  // rest of the input cannot be trusted.
  void Reject(Conn* c, const RequestError& err) { Reject(c, err, RejectionFor(err.status)); }
  void Reject(Conn* c, const RequestError& err, Rejection reason) {
    stats().Reject(reason);
    Response r = TextResponse(err.status, err.reason + "\n");
    int minor = c->head.method.empty() ? 1 : c->head.minor_version;
    QueueResponse(c, SerializeResponse(r, false, false, minor), err.status, true);
  }

  // Writes what is queued; on the end of a response, moves to the next state.
  void Flush(Conn* c) {
    while (c->out_off < c->out.size()) {
      ssize_t n = Send(c, c->out.data() + c->out_off, c->out.size() - c->out_off);
      if (n > 0) {
        c->out_off += static_cast<size_t>(n);
        if (c->stream) c->stream->Sent(static_cast<size_t>(n));
        if (c->state == Conn::State::kWriting || c->state == Conn::State::kStreaming) {
          c->deadline_ms = now_ + options().write_timeout_ms;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return Close(c);
    }
    if (c->out_off < c->out.size()) return UpdateInterest(c);
    ReleaseOut(c);
    if (c->state == Conn::State::kStreaming) c->deadline_ms = 0;
    if (c->state == Conn::State::kWriting) {
      // A client that half-closed gets no more answers: we stopped reading it.
      if (c->close_after_write || c->peer_eof) return Linger(c);
      NextRequest(c);
    }
    UpdateInterest(c);
  }

  static void ReleaseOut(Conn* c) {
    if (c->out.capacity() > (64 << 10)) {
      std::string().swap(c->out);
    } else {
      c->out.clear();
    }
    c->out_off = 0;
  }

  void NextRequest(Conn* c) {
    c->state = Conn::State::kReadHead;
    c->head = RequestHead{};
    std::string().swap(c->body);
    c->body_left = 0;
    c->chunked.reset();
    c->request_started = false;
    c->served_one = true;
    c->deadline_ms = now_ + options().idle_timeout_ms;
    if (c->in.empty() && c->in.capacity() > (16 << 10)) std::string().swap(c->in);
  }

  // Half-closes and drains the client's input for a moment before closing.
  void Linger(Conn* c) {
    if (c->ssl != nullptr) tls::Shutdown(c->ssl);
    ::shutdown(c->fd, SHUT_WR);
    c->state = Conn::State::kLingering;
    c->deadline_ms = now_ + kLingerMs;
    std::string().swap(c->in);
    if (c->peer_eof) return Close(c);
    UpdateInterest(c);
  }

  void DrainCompletions() {
    std::vector<Completion> done;
    {
      std::lock_guard lock(shared_->mu);
      done.swap(shared_->done);
    }
    for (Completion& d : done) {
      Conn* c = Find(d.conn_id);
      if (c == nullptr) {
        if (d.stream) d.stream->MarkClosed();
        continue;
      }
      switch (d.kind) {
        case Completion::Kind::kResponse:
          Uncount(c);
          if (d.stream) {
            stats().Responded(d.status);
            c->stream = std::move(d.stream);
            c->state = Conn::State::kStreaming;
            c->out += d.bytes;
            c->deadline_ms = now_ + options().write_timeout_ms;
            Flush(c);
          } else {
            QueueResponse(c, std::move(d.bytes), d.status, d.close_after);
          }
          break;
        case Completion::Kind::kStreamData:
          if (c->state != Conn::State::kStreaming) break;
          if (c->out_off == c->out.size()) c->deadline_ms = now_ + options().write_timeout_ms;
          c->out += d.bytes;
          Flush(c);
          break;
        case Completion::Kind::kStreamClose:
          if (c->state != Conn::State::kStreaming) break;
          if (d.abort) {
            Close(c);
            break;
          }
          c->out += d.bytes;
          c->close_after_write = true;
          c->state = Conn::State::kWriting;
          c->deadline_ms = now_ + options().write_timeout_ms;
          Flush(c);
          break;
      }
      if (c->fd >= 0 && c->state == Conn::State::kReadHead) Process(c);
      UpdateInterest(c);
    }
  }

  // Enforces every connection's deadline.
  void Sweep() {
    for (auto& [id, conn] : conns_) {
      Conn* c = conn.get();
      if (c->fd < 0 || c->deadline_ms == 0 || now_ < c->deadline_ms) continue;
      switch (c->state) {
        case Conn::State::kReadHead:
          if (c->request_started) {
            Reject(c,
                   {408, "request header timeout: the request head must arrive within " +
                             std::to_string(options().header_timeout_ms) + " ms"},
                   Rejection::kHeaderTimeout);
          } else if (!c->served_one) {
            stats().Reject(Rejection::kHeaderTimeout);  // connected and said nothing
            Close(c);
          } else {
            Close(c);  // idle keep-alive connection
          }
          break;
        case Conn::State::kReadBody:
          Reject(c,
                 {408, "request body timeout: the body must arrive within " +
                           std::to_string(options().body_timeout_ms) + " ms"},
                 Rejection::kBodyTimeout);
          break;
        case Conn::State::kWriting:
        case Conn::State::kStreaming:
          stats().Reject(Rejection::kWriteTimeout);
          Close(c);
          break;
        case Conn::State::kHandshake:
          stats().Reject(Rejection::kTlsHandshake);  // connected and never finished the handshake
          Close(c);
          break;
        case Conn::State::kLingering:
        case Conn::State::kHandling: Close(c); break;
      }
    }
  }

  HostPort bound_;
  std::shared_ptr<Shared> shared_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int spare_fd_ = -1;        // reserved for refusing clients when out of descriptors
  int max_connections_ = 0;  // options().max_connections, or less to fit RLIMIT_NOFILE
  std::thread loop_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> stopped_{false};

  // Owned by the loop thread.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<std::string, int> in_flight_;  // requests running or queued, by client address
  std::vector<uint64_t> dead_;                      // closed during this iteration, erased at its end
  uint64_t next_id_ = 2;
  int64_t now_ = NowMs();
  std::array<char, 16 << 10> scratch_;
};

}  // namespace

Result<std::unique_ptr<Server>> StartServer(const std::string& listen, Endpoints endpoints, ServerOptions options,
                                            const AccessOptions& access) {
  Result<HostPort> hp = ParseListenAddress(listen);
  if (!hp.ok()) return hp.status();
  auto server = std::make_unique<EventServer>(*hp, std::move(endpoints), options);
  if (Status s = server->SetAccess(access); !s.ok()) return s;
  if (Status s = server->Start(); !s.ok()) return s;
  return std::unique_ptr<Server>(std::move(server));
}

bool IsStateChanging(std::string_view method, std::string_view path) {
  if (method == "GET" || method == "HEAD" || method == "OPTIONS") return false;
  // The Prometheus API takes its queries as POST forms too (Grafana does).
  static constexpr std::string_view kReadOnlyPosts[] = {
      "/api/v1/query",  "/api/v1/query_range", "/api/v1/query_exemplars",
      "/api/v1/series", "/api/v1/labels",      "/api/v1/format_query",
      "/api/v1/read",   "/federate",
  };
  if (method == "POST") {
    for (std::string_view p : kReadOnlyPosts) {
      if (path == p) return false;
    }
  }
  return true;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
  // 127.0.0.0/8, written as four numbers.
  if (!StartsWith(host, "127.")) return false;
  std::vector<std::string_view> parts = Split(host, '.');
  if (parts.size() != 4) return false;
  for (std::string_view p : parts) {
    std::optional<uint64_t> n = ParseUint64(p);
    if (!n || *n > 255) return false;
  }
  return true;
}

namespace {

// "host:port" with the scheme's default port made explicit, lower-cased.
std::string Authority(std::string_view host_port, bool tls) {
  std::string out(host_port);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  bool has_port = StartsWith(out, "[") ? out.find("]:") != std::string::npos : out.find(':') != std::string::npos;
  if (!has_port) out += tls ? ":443" : ":80";
  return out;
}

}  // namespace

bool SameOrigin(std::string_view origin, std::string_view host, bool tls) {
  std::string_view scheme = tls ? "https://" : "http://";
  if (host.empty() || !StartsWith(origin, scheme)) return false;
  std::string_view authority = origin.substr(scheme.size());
  if (authority.empty() || authority.find('/') != std::string_view::npos) return false;
  return Authority(authority, tls) == Authority(host, tls);
}

bool AcceptsGzip(std::string_view accept_encoding) {
  for (std::string_view element : Split(accept_encoding, ',')) {
    std::vector<std::string_view> parts = Split(element, ';');
    std::string_view coding = Trim(parts[0]);
    if (!EqualsIgnoreCase(coding, "gzip") && !EqualsIgnoreCase(coding, "x-gzip")) continue;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string_view param = Trim(parts[i]);
      if (StartsWith(param, "q=") || StartsWith(param, "Q=")) {
        std::optional<double> q = ParseDouble(param.substr(2));
        if (q && *q <= 0) return false;
      }
    }
    return true;
  }
  return false;
}

std::string Gzip(std::string_view in, int level) {
  z_stream zs{};
  if (::deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(::deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = ::deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  ::deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

}  // namespace vigil::http
