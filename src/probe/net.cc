#include "probe/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/strings.h"

namespace vigil::probe {

bool SplitHostPort(const std::string& target, std::string* host, int* port) {
  std::string_view t = target;
  std::string_view port_text;
  if (!t.empty() && t[0] == '[') {
    size_t close = t.find(']');
    if (close == std::string_view::npos || close + 1 >= t.size() || t[close + 1] != ':') return false;
    *host = std::string(t.substr(1, close - 1));
    port_text = t.substr(close + 2);
  } else {
    size_t colon = t.rfind(':');
    if (colon == std::string_view::npos || t.find(':') != colon) return false;
    *host = std::string(t.substr(0, colon));
    port_text = t.substr(colon + 1);
  }
  auto p = ParseUint64(port_text);
  if (host->empty() || !p || *p == 0 || *p > 65535) return false;
  *port = static_cast<int>(*p);
  return true;
}

int PollMillisLeft(SteadyTime deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::optional<Failure> ConnectTcp(const std::string& host, int port, SteadyTime deadline, int* fd) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  // getaddrinfo cannot be bounded; configured targets are normally IPs or names in /etc/hosts.
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addrs);
  if (rc != 0) return Failure{"dns_failed", "cannot resolve " + host + ": " + ::gai_strerror(rc)};
  Failure last{"connect_failed", "no address for " + host};
  for (addrinfo* a = addrs; a != nullptr; a = a->ai_next) {
    int s = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (s < 0) {
      last = {"connect_failed", std::string("socket: ") + std::strerror(errno)};
      continue;
    }
    int err = 0;
    if (::connect(s, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{s, POLLOUT, 0};
        int n;
        do {
          n = ::poll(&p, 1, PollMillisLeft(deadline));
        } while (n < 0 && errno == EINTR);
        if (n == 0) {
          ::close(s);
          last = {"timeout", "connect timed out"};
          break;  // the deadline is shared: no time for other addresses
        }
        socklen_t len = sizeof(err);
        if (n < 0 || ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err == 0) {
      ::freeaddrinfo(addrs);
      *fd = s;
      return std::nullopt;
    }
    ::close(s);
    if (err == ECONNREFUSED) {
      last = {"connection_refused", "connection refused"};
    } else if (err == ETIMEDOUT) {
      last = {"timeout", "connect timed out"};
    } else {
      last = {"connect_failed", std::string("connect: ") + std::strerror(err)};
    }
  }
  ::freeaddrinfo(addrs);
  return last;
}

}  // namespace vigil::probe
