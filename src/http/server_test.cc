#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <thread>

#include "base/strings.h"
#include "http/access.h"
#include "http/password.h"

namespace vigil::http {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A blocking loopback client that speaks raw bytes, so tests can send what
// a well-behaved client library never would.
class RawClient {
 public:
  explicit RawClient(int port, bool v6 = false) {
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(static_cast<uint16_t>(port));
      a.sin6_addr = in6addr_loopback;
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool ok() const { return fd_ >= 0; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads more bytes into the buffer; false on EOF, error or timeout.
  bool ReadMore(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(buf, static_cast<size_t>(n));
    return true;
  }

  // One response (Content-Length or chunked body); status 0 on timeout/EOF.
  RawResponse Read(int timeout_ms = 3000, bool head_only = false) {
    RawResponse r;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    auto left = [&] { return static_cast<int>(std::max<int64_t>(0, -MsSince(deadline))); };
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(left())) return r;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::vector<std::string_view> lines = Split(head, '\n');
    r.status = std::atoi(std::string(lines[0].substr(9, 3)).c_str());
    for (size_t i = 1; i < lines.size(); ++i) {
      std::string_view line = Trim(lines[i]);
      size_t colon = line.find(':');
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(c));
      r.headers[name] = std::string(Trim(line.substr(colon + 1)));
    }
    if (head_only || r.status == 100) return r;
    if (r.headers.count("transfer-encoding")) {
      while (true) {
        size_t lf;
        while ((lf = buf_.find("\r\n")) == std::string::npos) {
          if (!ReadMore(left())) return RawResponse{};
        }
        size_t size = std::stoul(buf_.substr(0, lf), nullptr, 16);
        while (buf_.size() < lf + 2 + size + 2) {
          if (!ReadMore(left())) return RawResponse{};
        }
        r.body += buf_.substr(lf + 2, size);
        buf_.erase(0, lf + 2 + size + 2);
        if (size == 0) return r;
      }
    }
    size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buf_.size() < length) {
      if (!ReadMore(left())) return RawResponse{};
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True when the server closes the connection within `timeout_ms`.
  bool ClosedWithin(int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!eof_ && MsSince(deadline) < 0) {
      ReadMore(static_cast<int>(std::max<int64_t>(1, -MsSince(deadline))));
    }
    return eof_;
  }

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

std::string Get(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra_headers) + "\r\n";
}

// A route that echoes what it saw, and one that blocks until released.
class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}, const AccessOptions& access = {}) {
    Endpoints e;
    e.gather_metrics = [] {
      auto b = std::make_shared<MetricBatch>();
      for (int i = 0; i < 200; ++i) {
        b->AddGauge("test_gauge", "A gauge.", {{"i", std::to_string(i)}}, i);
      }
      return std::vector<std::shared_ptr<const MetricBatch>>{b};
    };
    e.ready = [] { return true; };
    e.routes.push_back({"/echo",
                        [](const Request& r) {
                          std::string out = r.method + " " + r.path + " body=" + r.body;
                          for (const auto& [k, v] : r.params) out += " " + k + "=" + v;
                          return Response{200, "text/plain", out, {}};
                        },
                        {"/exact/path"}});
    e.routes.push_back({"/throw", [](const Request&) -> Response { throw std::runtime_error("boom"); }});
    auto gate = gate_;
    e.routes.push_back({"/slow", [gate](const Request&) {
                          gate->running.fetch_add(1);
                          auto until = Clock::now() + std::chrono::seconds(10);
                          while (!gate->release.load() && Clock::now() < until) {
                            std::this_thread::sleep_for(std::chrono::milliseconds(5));
                          }
                          gate->running.fetch_sub(1);
                          return Response{200, "text/plain", "slow done", {}};
                        }});
    auto streams = streams_;
    e.routes.push_back({"/events", [streams](const Request&) {
                          Response r;
                          r.content_type = "text/event-stream";
                          r.stream = [streams](std::shared_ptr<StreamWriter> w) {
                            std::lock_guard lock(streams->mu);
                            streams->writers.push_back(std::move(w));
                          };
                          return r;
                        }});
    auto s = StartServer("127.0.0.1:0", std::move(e), options, access);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
    port_ = server_->bound().port;
  }

  void TearDown() override {
    gate_->release.store(true);
    if (server_) server_->Stop();
  }

  // A sample of the server's own metrics; -1 when absent.
  double Stat(std::string_view name, Labels labels = {}) {
    MetricBatch batch;
    server_->AppendMetrics(batch);
    const MetricFamily* f = batch.Find(name);
    if (f == nullptr) return -1;
    for (const Sample& s : f->samples) {
      if (s.labels == labels) return s.value;
    }
    return -1;
  }

  struct Gate {
    std::atomic<int> running{0};
    std::atomic<bool> release{false};
  };
  struct Streams {
    std::mutex mu;
    std::vector<std::shared_ptr<StreamWriter>> writers;
  };
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::shared_ptr<Streams> streams_ = std::make_shared<Streams>();
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

TEST_F(ServerTest, PortZeroBindsARealPort) {
  Start();
  EXPECT_GT(port_, 0);
  RawClient c(port_);
  ASSERT_TRUE(c.ok());
  c.Send(Get("/-/healthy"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "vigil is Healthy.\n");
}

TEST_F(ServerTest, ExactPathsOfARouteMatchWhole) {
  Start();
  RawClient c(port_);
  ASSERT_TRUE(c.ok());
  c.Send(Get("/exact/path"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "GET /exact/path body=");
  c.Send(Get("/exact/path/more"));
  EXPECT_EQ(c.Read().status, 404);
}

TEST_F(ServerTest, ListensOnIpv6Loopback) {
  Endpoints e;
  auto s = StartServer("[::1]:0", std::move(e));
  if (!s.ok()) GTEST_SKIP() << "no IPv6 loopback: " << s.status().message();
  RawClient c((*s)->bound().port, /*v6=*/true);
  ASSERT_TRUE(c.ok());
  c.Send(Get("/-/healthy"));
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_EQ((*s)->bound().host, "::1");
}

TEST_F(ServerTest, BindFailureSaysWhy) {
  Start();
  auto s = StartServer("127.0.0.1:" + std::to_string(port_), Endpoints{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "listen 127.0.0.1:" + std::to_string(port_) + ": Address already in use");
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Start();
  RawClient c(port_);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send(Get("/echo/" + std::to_string(i) + "?a=1&b=x+y")));
    RawResponse r = c.Read();
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "GET /echo/" + std::to_string(i) + " body= a=1 b=x y");
    EXPECT_EQ(r.headers.count("connection"), 0u);
  }
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  RawClient c(port_);
  std::string post =
      "POST /echo/p HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 7\r\n\r\nq=up%7B";
  ASSERT_TRUE(c.Send(Get("/echo/1") + post + Get("/-/healthy") + Get("/echo/3")));
  EXPECT_EQ(c.Read().body, "GET /echo/1 body=");
  EXPECT_EQ(c.Read().body, "POST /echo/p body=q=up%7B q=up{");
  EXPECT_EQ(c.Read().body, "vigil is Healthy.\n");
  EXPECT_EQ(c.Read().body, "GET /echo/3 body=");
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAliveAsked) {
  Start();
  {
    RawClient c(port_);
    c.Send("GET /-/healthy HTTP/1.0\r\n\r\n");
    RawResponse r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.ClosedWithin(2000));
  }
  RawClient c(port_);
  c.Send("GET /-/healthy HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(c.Read().headers["connection"], "keep-alive");
  c.Send("GET /echo HTTP/1.0\r\n\r\n");
  EXPECT_EQ(c.Read().body, "GET /echo body=");
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  Start();
  RawClient c(port_);
  c.Send(Get("/echo", "Connection: close\r\n"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.ClosedWithin(2000));
}

TEST_F(ServerTest, HeadHasLengthButNoBody) {
  Start();
  RawClient c(port_);
  c.Send("HEAD /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n");
  RawResponse r = c.Read(3000, /*head_only=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "18");
  // The next response follows directly: no body bytes in between.
  c.Send("HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n");
  r = c.Read(3000, true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], std::to_string(std::string("GET /echo body=").size()));
  c.Send(Get("/-/healthy"));
  EXPECT_EQ(c.Read().body, "vigil is Healthy.\n");
}

TEST_F(ServerTest, ChunkedRequestBody) {
  Start();
  RawClient c(port_);
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
      "3\r\na=1\r\n4;ext=1\r\n&b=2\r\n0\r\nTrailer: x\r\n\r\n");
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /echo body=a=1&b=2 a=1 b=2");
}

TEST_F(ServerTest, ExpectContinue) {
  Start();
  RawClient c(port_);
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  RawResponse interim = c.Read();
  EXPECT_EQ(interim.status, 100);
  c.Send("hello");
  EXPECT_EQ(c.Read().body, "POST /echo body=hello");
}

TEST_F(ServerTest, OversizedBodyIs413WithoutReadingIt) {
  Start();
  RawClient c(port_);
  auto start = Clock::now();
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(kMaxRequestBodyBytes + 1) +
         "\r\n\r\npartial");
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("request body too large"), std::string::npos) << r.body;
  EXPECT_LT(MsSince(start), 2000);
  EXPECT_TRUE(c.ClosedWithin(3000));
  EXPECT_EQ(Stat("vigil_http_rejected_total", {{"reason", "body_too_large"}}), 1);
}

TEST_F(ServerTest, ExpectContinueForAnOversizedBodyGets413Instead) {
  Start();
  RawClient c(port_);
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: " +
         std::to_string(kMaxRequestBodyBytes + 1) + "\r\n\r\n");
  EXPECT_EQ(c.Read().status, 413);
}

TEST_F(ServerTest, SilentConnectionsAreClosedAfterTheHeaderTimeout) {
  ServerOptions o;
  o.header_timeout_ms = 300;
  Start(o);
  RawClient c(port_);
  EXPECT_TRUE(c.ClosedWithin(2000));
  EXPECT_EQ(Stat("vigil_http_rejected_total", {{"reason", "header_timeout"}}), 1);
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  Start();
  RawClient c(port_);
  char size[32];
  std::snprintf(size, sizeof size, "%zx", kMaxRequestBodyBytes + 1);
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(size) + "\r\n");
  EXPECT_EQ(c.Read().status, 413);
}

TEST_F(ServerTest, HugeHeadersAre431) {
  Start();
  RawClient c(port_);
  std::string big(70 << 10, 'a');
  c.Send("GET /-/healthy HTTP/1.1\r\nHost: t\r\nX-Big: " + big + "\r\n\r\n");
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find("request header fields too large"), std::string::npos) << r.body;
  RawClient line(port_);
  line.Send("GET /" + big);
  r = line.Read();
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find("request line too long"), std::string::npos) << r.body;
}

TEST_F(ServerTest, BadRequestsGetClearErrors) {
  Start();
  struct Case {
    std::string request;
    int status;
    std::string reason;
  };
  for (const Case& k : std::vector<Case>{
           {"GARBAGE\r\n\r\n", 400, "malformed request line"},
           {"GET /a b HTTP/1.1\r\n\r\n", 400, "malformed request line"},
           {"GET / HTTP/2.0\r\n\r\n", 505, "HTTP version not supported"},
           {"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "malformed header field name"},
           {"POST /echo HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "both Content-Length and Transfer-Encoding"},
           {"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported Transfer-Encoding"},
           {"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "malformed Content-Length"},
           {"GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417, "unsupported Expect"},
           {"POST /-/healthy HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "method not allowed"},
       }) {
    RawClient c(port_);
    c.Send(k.request);
    RawResponse r = c.Read();
    EXPECT_EQ(r.status, k.status) << k.request;
    EXPECT_NE(r.body.find(k.reason), std::string::npos) << k.request << " -> " << r.body;
  }
  RawClient c(port_);
  c.Send(Get("/nope"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 page not found: /nope\n");
}

TEST_F(ServerTest, SlowlorisIsClosedAfterTheHeaderTimeoutInTotal) {
  ServerOptions o;
  o.header_timeout_ms = 600;
  Start(o);
  RawClient c(port_);
  auto start = Clock::now();
  c.Send("GET /-/healthy HTTP/1.1\r\n");
  // One header byte every 50 ms would keep a per-byte timeout happy forever.
  bool closed = false;
  RawResponse r;
  for (int i = 0; i < 100 && !closed; ++i) {
    if (!c.Send("X")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (MsSince(start) > 400) {
      r = c.Read(100);
      closed = r.status != 0;
    }
  }
  EXPECT_EQ(r.status, 408);
  EXPECT_NE(r.body.find("request header timeout"), std::string::npos) << r.body;
  EXPECT_LT(MsSince(start), 2500);
  EXPECT_TRUE(c.ClosedWithin(2000));
  EXPECT_EQ(Stat("vigil_http_rejected_total", {{"reason", "header_timeout"}}), 1);
  EXPECT_EQ(Stat("vigil_http_requests_total", {{"code", "408"}}), 1);
}

TEST_F(ServerTest, IdleKeepAliveConnectionsAreClosed) {
  ServerOptions o;
  o.idle_timeout_ms = 300;
  Start(o);
  RawClient c(port_);
  c.Send(Get("/-/healthy"));
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_TRUE(c.ClosedWithin(2000));
}

// The defect this server replaced: a few clients holding partial requests
// stalled /-/healthy for many seconds.
TEST_F(ServerTest, HealthyAnswersPromptlyWithManyIdleAndSlowClients) {
  Start();
  std::vector<std::unique_ptr<RawClient>> idle, slow;
  for (int i = 0; i < 500; ++i) {
    idle.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(idle.back()->ok()) << i;
  }
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(slow.back()->ok());
    slow.back()->Send("GET /metrics HTTP/1.1\r\nHost: t\r\nX-Partial: ");
  }
  for (const char* path : {"/-/healthy", "/metrics"}) {
    auto start = Clock::now();
    RawClient c(port_);
    c.Send(Get(path));
    EXPECT_EQ(c.Read(5000).status, 200) << path;
    EXPECT_LT(MsSince(start), 2000) << path;
  }
  EXPECT_GE(Stat("vigil_http_connections_open"), 550);
}

TEST_F(ServerTest, HealthyAnswersWhileEveryWorkerIsBusy) {
  ServerOptions o;
  o.workers = 2;
  Start(o);
  RawClient a(port_), b(port_);
  a.Send(Get("/slow"));
  b.Send(Get("/slow"));
  for (int i = 0; i < 200 && gate_->running.load() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(gate_->running.load(), 2);
  auto start = Clock::now();
  RawClient c(port_);
  c.Send(Get("/-/healthy"));
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_LT(MsSince(start), 1000);
  gate_->release.store(true);
  EXPECT_EQ(a.Read().body, "slow done");
  EXPECT_EQ(b.Read().body, "slow done");
}

TEST_F(ServerTest, FullQueueIs503) {
  ServerOptions o;
  o.workers = 1;
  o.max_queued_requests = 1;
  Start(o);
  RawClient a(port_), b(port_), c(port_);
  a.Send(Get("/slow"));
  for (int i = 0; i < 200 && gate_->running.load() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  b.Send(Get("/slow"));  // waits in the queue
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  c.Send(Get("/echo"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("server busy"), std::string::npos);
  gate_->release.store(true);
  EXPECT_EQ(a.Read().status, 200);
  EXPECT_EQ(b.Read().status, 200);
}

TEST_F(ServerTest, ConnectionsBeyondTheCapGet503) {
  ServerOptions o;
  o.max_connections = 5;
  Start(o);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 5; ++i) held.push_back(std::make_unique<RawClient>(port_));
  // The listen backlog is FIFO: these are accepted before the next one.
  RawClient extra(port_);
  extra.Send(Get("/-/healthy"));
  RawResponse r = extra.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("too many open connections (limit 5)"), std::string::npos) << r.body;
  held.clear();
  for (int i = 0; i < 200; ++i) {
    RawClient c(port_);
    c.Send(Get("/-/healthy"));
    if (c.Read().status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "connections were not released";
}

TEST_F(ServerTest, StopIsPromptWithOpenConnectionsAndARunningHandler) {
  Start();
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 50; ++i) idle.push_back(std::make_unique<RawClient>(port_));
  RawClient partial(port_);
  partial.Send("GET /-/healthy HTTP/1.1\r\n");
  RawClient slow(port_);
  slow.Send(Get("/slow"));
  for (int i = 0; i < 200 && gate_->running.load() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(gate_->running.load(), 1);
  auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(MsSince(start), 2000);
  EXPECT_TRUE(idle[0]->ClosedWithin(1000));
  EXPECT_TRUE(partial.ClosedWithin(1000));
}

TEST_F(ServerTest, MetricsAreGzippedWhenAsked) {
  Start();
  RawClient c(port_);
  c.Send(Get("/metrics", "Accept-Encoding: gzip, deflate\r\n"));
  RawResponse r = c.Read();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-encoding"], "gzip");
  std::string plain(1 << 20, '\0');
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(r.body.data());
  zs.avail_in = static_cast<uInt>(r.body.size());
  zs.next_out = reinterpret_cast<Bytef*>(plain.data());
  zs.avail_out = static_cast<uInt>(plain.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  plain.resize(zs.total_out);
  inflateEnd(&zs);
  EXPECT_NE(plain.find("test_gauge{i=\"199\"} 199"), std::string::npos);

  c.Send(Get("/metrics", "Accept-Encoding: gzip;q=0\r\n"));
  r = c.Read();
  EXPECT_EQ(r.headers.count("content-encoding"), 0u);
  EXPECT_NE(r.body.find("test_gauge{i=\"0\"} 0"), std::string::npos);
  EXPECT_EQ(Stat("vigil_http_requests_total", {{"code", "200"}}), 2);
}

TEST_F(ServerTest, StreamedResponsePushesEvents) {
  Start();
  RawClient c(port_);
  c.Send(Get("/events"));
  std::shared_ptr<StreamWriter> w;
  for (int i = 0; i < 200 && !w; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard lock(streams_->mu);
    if (!streams_->writers.empty()) w = streams_->writers[0];
  }
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->Write("data: one\n\n"));
  EXPECT_TRUE(w->Write("data: two\n\n"));
  w->Close();
  EXPECT_FALSE(w->open());
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  EXPECT_EQ(r.body, "data: one\n\ndata: two\n\n");
  EXPECT_TRUE(c.ClosedWithin(2000));
}

TEST_F(ServerTest, AThrowingHandlerIs500AndTheServerCarriesOn) {
  Start();
  RawClient c(port_);
  c.Send(Get("/throw"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "internal error\n");
  c.Send(Get("/-/healthy"));
  EXPECT_EQ(c.Read().status, 200);
}

TEST_F(ServerTest, StreamToAnHttp10ClientEndsWithTheConnection) {
  Start();
  RawClient c(port_);
  c.Send("GET /events HTTP/1.0\r\n\r\n");
  std::shared_ptr<StreamWriter> w;
  for (int i = 0; i < 200 && !w; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard lock(streams_->mu);
    if (!streams_->writers.empty()) w = streams_->writers[0];
  }
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->Write("data: one\n\n"));
  w->Close();
  RawResponse r = c.Read(3000, /*head_only=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.count("transfer-encoding"), 0u);
  EXPECT_EQ(r.headers.count("content-length"), 0u);
  EXPECT_TRUE(c.ClosedWithin(2000));
}

TEST_F(ServerTest, StreamWriterNoticesTheClientLeaving) {
  Start();
  auto c = std::make_unique<RawClient>(port_);
  c->Send(Get("/events"));
  std::shared_ptr<StreamWriter> w;
  for (int i = 0; i < 200 && !w; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard lock(streams_->mu);
    if (!streams_->writers.empty()) w = streams_->writers[0];
  }
  ASSERT_TRUE(w);
  c.reset();
  for (int i = 0; i < 200 && w->open(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(w->open());
  EXPECT_FALSE(w->Write("data: late\n\n"));
}

// Accounts as the web configuration gives them (bcrypt cost 4: fast in tests).
AccessOptions Accounts(bool protect_reads) {
  AccessOptions a;
  Result<std::string> hash = HashPassword("secret", 4);
  EXPECT_TRUE(hash.ok());
  a.users = {{"alice", *hash}};
  a.protect_reads = protect_reads;
  a.headers = {{"X-Frame-Options", "deny"}};
  return a;
}

// "alice:secret" and "alice:wrong" in base64.
constexpr std::string_view kAliceSecret = "Authorization: Basic YWxpY2U6c2VjcmV0\r\n";
constexpr std::string_view kAliceWrong = "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n";

std::string Post(std::string_view path, std::string_view body, std::string_view extra_headers = "") {
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" +
         std::string(extra_headers) + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST_F(ServerTest, AccountsGuardReadsAndWrites) {
  Start({}, Accounts(/*protect_reads=*/true));
  RawClient c(port_);
  c.Send(Get("/echo"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["www-authenticate"], "Basic realm=\"vigil\", charset=\"UTF-8\"");
  EXPECT_EQ(r.body.find("echo"), std::string::npos);  // the handler never ran
  c.Send(Get("/echo", kAliceWrong));
  EXPECT_EQ(c.Read().status, 401);
  c.Send(Get("/echo", kAliceSecret));
  r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-frame-options"], "deny");
  c.Send(Post("/echo", "{}"));
  EXPECT_EQ(c.Read().status, 401);
  c.Send(Post("/echo", "{}", kAliceSecret));
  EXPECT_EQ(c.Read().status, 200);
  c.Send(Get("/metrics"));
  EXPECT_EQ(c.Read().status, 401);
  // Health checks never ask: systemd and load balancers have no password.
  c.Send(Get("/-/healthy"));
  EXPECT_EQ(c.Read().status, 200);
  c.Send(Get("/-/ready"));
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_EQ(Stat("vigil_http_rejected_total", {{"reason", "unauthorized"}}), 4);
}

TEST_F(ServerTest, OpenReadsStillGuardWrites) {
  Start({}, Accounts(/*protect_reads=*/false));
  RawClient c(port_);
  c.Send(Get("/echo"));
  EXPECT_EQ(c.Read().status, 200);
  // The API's queries may come as POST forms: still reads.
  c.Send("POST /api/v1/query HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(c.Read().status, 404);  // no such route here, but not 401
  c.Send(Post("/echo", "{}"));
  EXPECT_EQ(c.Read().status, 401);
  c.Send("DELETE /echo HTTP/1.1\r\nHost: t\r\n" + std::string(kAliceWrong) + "\r\n");
  EXPECT_EQ(c.Read().status, 401);
}

TEST_F(ServerTest, ReplacedAccountsApplyToTheNextRequest) {
  Start({}, Accounts(true));
  RawClient c(port_);
  c.Send(Get("/echo", kAliceSecret));
  EXPECT_EQ(c.Read().status, 200);
  AccessOptions other = Accounts(true);
  other.users = {{"alice", *HashPassword("changed", 4)}};
  ASSERT_TRUE(server_->SetAccess(other).ok());
  c.Send(Get("/echo", kAliceSecret));
  EXPECT_EQ(c.Read().status, 401);
  // A certificate that does not load changes nothing and names the file.
  AccessOptions broken = Accounts(true);
  broken.tls = TlsOptions{.cert_file = "/nonexistent/cert.pem", .key_file = "/nonexistent/key.pem"};
  Status s = server_->SetAccess(broken);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/cert.pem"), std::string::npos) << s.message();
  c.Send(Get("/echo"));
  EXPECT_EQ(c.Read().status, 401);  // still the accounts of `other`, still plain HTTP
}

TEST_F(ServerTest, CrossOriginWritesAreRefused) {
  Start();
  RawClient c(port_);
  // A form posted by a page of another site (CSRF).
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nOrigin: http://evil.example\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b");
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("cross-origin"), std::string::npos);
  c.Send(Post("/echo", "{}", "Origin: null\r\n"));
  EXPECT_EQ(c.Read().status, 403);
  c.Send(Post("/echo", "{}", "Sec-Fetch-Site: cross-site\r\n"));
  EXPECT_EQ(c.Read().status, 403);
  // The UI's own writes, and tools that send no Origin.
  c.Send(Post("/echo", "{}", "Origin: http://t\r\n"));
  EXPECT_EQ(c.Read().status, 200);
  c.Send(Post("/echo", "{}", "Sec-Fetch-Site: same-origin\r\n"));
  EXPECT_EQ(c.Read().status, 200);
  c.Send(Post("/echo", "{}"));
  EXPECT_EQ(c.Read().status, 200);
  // Reads from anywhere are no write.
  c.Send(Get("/echo", "Origin: http://evil.example\r\n"));
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_EQ(Stat("vigil_http_rejected_total", {{"reason", "cross_origin"}}), 3);
}

TEST_F(ServerTest, OneClientCannotTakeEveryWorker) {
  ServerOptions o;
  o.workers = 4;
  o.max_requests_per_client = 2;
  Start(o);
  RawClient a(port_), b(port_), c(port_);
  a.Send(Get("/slow"));
  b.Send(Get("/slow"));
  for (int i = 0; i < 200 && gate_->running.load() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  c.Send(Get("/echo"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_NE(r.body.find("127.0.0.1"), std::string::npos);
  gate_->release.store(true);
  EXPECT_EQ(a.Read().status, 200);
  EXPECT_EQ(b.Read().status, 200);
  c.Send(Get("/echo"));  // its requests are done: room again
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_EQ(Stat("vigil_http_rejected_total", {{"reason", "client_busy"}}), 1);
}

TEST(HttpAccess, StateChangingRequests) {
  EXPECT_FALSE(IsStateChanging("GET", "/api/v2/silences"));
  EXPECT_FALSE(IsStateChanging("HEAD", "/"));
  EXPECT_FALSE(IsStateChanging("POST", "/api/v1/query_range"));
  EXPECT_FALSE(IsStateChanging("POST", "/api/v1/series"));
  EXPECT_FALSE(IsStateChanging("POST", "/api/v1/read"));
  EXPECT_FALSE(IsStateChanging("POST", "/federate"));
  EXPECT_TRUE(IsStateChanging("POST", "/api/v2/silences"));
  EXPECT_TRUE(IsStateChanging("POST", "/api/v2/alerts"));
  EXPECT_TRUE(IsStateChanging("POST", "/api/v1/recovery/drill"));
  EXPECT_TRUE(IsStateChanging("DELETE", "/api/v2/silence/x"));
  EXPECT_TRUE(IsStateChanging("PUT", "/api/v1/query"));
  EXPECT_TRUE(IsStateChanging("POST", "/api/v1/query/../../api/v2/silences"));
}

TEST(HttpAccess, LoopbackHosts) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) EXPECT_TRUE(IsLoopbackHost(h)) << h;
  for (const char* h : {"0.0.0.0", "", "::", "10.0.0.1", "127.0.0", "127.0.0.256", "127.0.0.1.example", "localhost2"}) {
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
  }
}

TEST(HttpAccess, SameOrigin) {
  EXPECT_TRUE(SameOrigin("http://127.0.0.1:9810", "127.0.0.1:9810", false));
  EXPECT_TRUE(SameOrigin("https://Vigil.Example", "vigil.example:443", true));
  EXPECT_TRUE(SameOrigin("http://vigil.example", "vigil.example", false));
  EXPECT_TRUE(SameOrigin("http://[::1]:9810", "[::1]:9810", false));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:9810", "127.0.0.1:9810", true));  // scheme differs
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:9811", "127.0.0.1:9810", false));
  EXPECT_FALSE(SameOrigin("http://evil.example", "vigil.example", false));
  EXPECT_FALSE(SameOrigin("null", "vigil.example", false));
  EXPECT_FALSE(SameOrigin("http://vigil.example", "", false));
  EXPECT_FALSE(SameOrigin("http://vigil.example/path", "vigil.example", false));
}

TEST(HttpAccess, BasicAuthorizationHeader) {
  std::string user, password;
  ASSERT_TRUE(ParseBasicAuthorization("Basic YWxpY2U6c2VjcmV0", &user, &password));
  EXPECT_EQ(user, "alice");
  EXPECT_EQ(password, "secret");
  ASSERT_TRUE(ParseBasicAuthorization("basic YTpiOmM=", &user, &password));  // "a:b:c"
  EXPECT_EQ(user, "a");
  EXPECT_EQ(password, "b:c");
  EXPECT_FALSE(ParseBasicAuthorization("Bearer abc", &user, &password));
  EXPECT_FALSE(ParseBasicAuthorization("Basic !!!!", &user, &password));
  EXPECT_FALSE(ParseBasicAuthorization("Basic bm9jb2xvbg==", &user, &password));  // "nocolon"
  EXPECT_FALSE(ParseBasicAuthorization("Basic abc", &user, &password));
}

TEST(HttpAccess, GuardRemembersAnswersWithoutRehashing) {
  AccessOptions a;
  a.users = {{"bob", *HashPassword("pw", 4)}, {"alice", *HashPassword("secret", 4)}};
  AccessGuard guard(a);
  EXPECT_TRUE(guard.Authenticated("Basic YWxpY2U6c2VjcmV0"));
  EXPECT_TRUE(guard.Authenticated("Basic YWxpY2U6c2VjcmV0"));  // from the cache
  EXPECT_TRUE(guard.Authenticated("Basic Ym9iOnB3"));          // bob:pw
  EXPECT_FALSE(guard.Authenticated("Basic YWxpY2U6d3Jvbmc="));
  EXPECT_FALSE(guard.Authenticated("Basic bWFsbG9yeTpzZWNyZXQ="));  // mallory:secret
  EXPECT_TRUE(guard.Asks("GET", "/api/v1/query"));
  EXPECT_FALSE(guard.Asks("GET", "/-/healthy"));
  EXPECT_FALSE(AccessGuard(AccessOptions{}).Asks("POST", "/api/v2/silences"));
}

}  // namespace
}  // namespace vigil::http
