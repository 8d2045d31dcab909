#include "http/outbound.h"

#include <gtest/gtest.h>

#include <atomic>

#include "http/server.h"

namespace vigil::http {
namespace {

double OpenConnections(const Server& s) {
  MetricBatch m;
  s.AppendMetrics(m);
  for (const auto& f : m.families()) {
    if (f.name == "vigil_http_connections_open") return f.samples.at(0).value;
  }
  return -1;
}

HttpRequest Post(int port, bool keep_alive) {
  HttpRequest req;
  req.url = *ParseUrl("http://127.0.0.1:" + std::to_string(port) + "/hook");
  req.method = "POST";
  req.body = "{}";
  req.keep_alive = keep_alive;
  req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return req;
}

// Notification delivery keeps one connection per receiver instead of one per
// notification.
TEST(Outbound, KeptAliveExchangesReuseOneConnection) {
  std::atomic<int> posts{0};
  Endpoints e;
  e.routes.push_back({"/hook", [&](const Request&) {
                        ++posts;
                        return Response{200, "application/json", "{}", {}};
                      }});
  auto server = StartServer("127.0.0.1:0", std::move(e));
  ASSERT_TRUE(server.ok()) << server.status().message();
  const int port = (*server)->bound().port;
  for (int i = 0; i < 5; ++i) {
    HttpResponse res;
    auto failure = HttpExchange(Post(port, true), &res);
    ASSERT_FALSE(failure) << failure->reason;
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(OpenConnections(**server), 1) << "exchange " << i;  // the same one, kept open
  }
  EXPECT_EQ(posts.load(), 5);

  // Once the server has closed it (here: stopped and started again on the
  // same port), the next exchange connects afresh instead of failing.
  (*server)->Stop();
  Endpoints again;
  again.routes.push_back({"/hook", [&](const Request&) {
                            ++posts;
                            return Response{200, "application/json", "{}", {}};
                          }});
  auto restarted = StartServer("127.0.0.1:" + std::to_string(port), std::move(again));
  ASSERT_TRUE(restarted.ok()) << restarted.status().message();
  HttpResponse res;
  auto failure = HttpExchange(Post(port, true), &res);
  ASSERT_FALSE(failure) << failure->reason;
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(posts.load(), 6);
  (*restarted)->Stop();
}

}  // namespace
}  // namespace vigil::http
