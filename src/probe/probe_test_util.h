// Test helpers for the probes: emulated peers (tests/emulators/*.py) as child
// processes on loopback, and lookups into a collected batch.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "collect/collector.h"
#include "http/outbound.h"

namespace vigil::probe {
// The outbound HTTP client the probes are built on.
using http::DeadlineFrom;
using http::Failure;
using http::HttpExchange;
using http::HttpRequest;
using http::HttpResponse;
using http::ParsedUrl;
using http::ParseUrl;
using http::SteadyTime;
}  // namespace vigil::probe

namespace vigil::probe::testing {

// Peers that close early make writes raise SIGPIPE; vigil ignores it process-wide
// (cli/agent.cc), and so does every test binary that includes this header.
inline const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// One emulator process; killed (by its PID) and reaped on destruction.
class Emulator {
 public:
  // Starts tests/emulators/<script> --port 0 <args> and reads "PORT <n>" from its stdout.
  Emulator(const std::string& script, const std::vector<std::string>& args = {}) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    std::string python = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    std::string path = std::string(VIGIL_EMULATORS_DIR) + "/" + script;
    std::vector<std::string> argv_s{python, path, "--port", "0"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    // Bounded wait for the port line, so a broken emulator fails the test instead of hanging it.
    std::string line;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[64];
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (line.rfind("PORT ", 0) == 0) port_ = std::stoi(line.substr(5));
  }
  ~Emulator() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // POSTs `body` to the control path `path` (/_scenario, /_rotate_cookie); returns the response body.
  std::string Control(const std::string& path, const std::string& body = "{}") const {
    return Send("POST", path, body);
  }
  void Scenario(const std::string& json) const { Control("/_scenario", json); }
  std::string Requests() const { return Send("GET", "/_requests", ""); }

 private:
  std::string Send(const std::string& method, const std::string& path, const std::string& body) const {
    HttpRequest req;
    req.url = *ParseUrl(url(path));
    req.method = method;
    req.body = body;
    req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    HttpResponse res;
    if (HttpExchange(req, &res)) return "";
    return res.body;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};

// A loopback port nothing listens on (bound, then closed).
inline int ClosedPort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

struct Collected {
  MetricBatch batch;
  Status status;
  double seconds = 0;
};

// Runs one collection as the scheduler would, with `deadline_ms` to spare.
inline Collected CollectOnce(collect::Collector& c, int64_t deadline_ms = 10000, TimestampMs now_ms = 0) {
  Collected r;
  collect::CollectContext ctx;
  ctx.now_ms =
      now_ms != 0
          ? now_ms
          : std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
  auto start = std::chrono::steady_clock::now();
  ctx.deadline = start + std::chrono::milliseconds(deadline_ms);
  r.status = c.Collect(ctx, r.batch);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

// The value of `name{labels}`, or -1e300 when absent.
inline double Value(const MetricBatch& b, const std::string& name, const Labels& labels) {
  if (const MetricFamily* f = b.Find(name)) {
    for (const auto& s : f->samples) {
      if (s.labels == labels) return s.value;
    }
  }
  return -1e300;
}
inline bool Has(const MetricBatch& b, const std::string& name) { return b.Find(name) != nullptr; }

// The reasons of the batch's errors, joined by ',' for readable expectations.
inline std::string Reasons(const MetricBatch& b) {
  std::string out;
  for (const auto& e : b.errors()) out += (out.empty() ? "" : ",") + e.reason;
  return out;
}

}  // namespace vigil::probe::testing
