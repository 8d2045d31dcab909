// The notifier's loop as the watchdog sees it, and how it sends.
#include "notify/notifier.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/testing/temp_dir.h"

namespace vigil::notify {
namespace {

// A notifier keeping its outbox in `dir`, on `clock`.
NotifierOptions InDir(const testing::TempDir& dir, const Clock& clock) {
  NotifierOptions o;
  o.outbox_path = dir.path() + "/state.db";
  o.clock = &clock;
  return o;
}

// Idle (no alerts, no receivers) the loop still passes at least once a
// second, so a watchdog can tell "idle" from "stuck".
TEST(Notifier, IdleLoopReportsProgressEverySecond) {
  testing::TempDir dir;
  SystemClock clock;
  std::atomic<int> beats{0};
  NotifierOptions o = InDir(dir, clock);
  o.progress = [&] { ++beats; };
  auto n = Notifier::Start(std::move(o));
  ASSERT_TRUE(n.ok()) << n.status().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int first = beats.load();
  EXPECT_GE(first, 1) << "the loop's first pass reports progress";
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_GE(beats.load() - first, 2) << "an idle loop wakes at least once a second";
  (*n)->Stop();
}

// The weekly digest's path: a one-off notification routed by the tree to the
// matched route's receiver and queued once; a silence matching it drops it.
TEST(Notifier, AnnounceRoutesQueuesOnceAndHonoursSilences) {
  testing::TempDir dir;
  SystemClock clock;
  NotifierOptions o = InDir(dir, clock);
  o.alerting.route.receiver = "nobody";
  alert::RouteSpec p3;
  p3.matchers = {"severity=\"P3\""};
  p3.receiver = "digest";
  o.alerting.route.routes.push_back(p3);
  config::ReceiverOptions nobody;
  nobody.name = "nobody";
  o.alerting.receivers.push_back(nobody);
  config::ReceiverOptions digest;
  digest.name = "digest";
  digest.webhook_configs.push_back({"http://127.0.0.1:1/hook", true, 0});  // refused: the message stays queued
  o.alerting.receivers.push_back(digest);
  auto n = Notifier::Start(std::move(o));
  ASSERT_TRUE(n.ok()) << n.status().message();
  auto outbox = Outbox::Open(dir.path() + "/state.db");
  ASSERT_TRUE(outbox.ok());
  auto queued = [&] {
    auto c = (*outbox)->Counts();
    return c.ok() ? c->pending : -1;
  };

  AlertUpdate u;
  u.labels = Labels{{"alertname", "VigilWeeklyDigest"}, {"severity", "P3"}};
  u.annotations = Labels{{"summary", "digest"}, {"description", "line 1\nline 2"}};
  u.starts_at = clock.NowMs();
  auto receivers = (*n)->Announce(u);
  ASSERT_TRUE(receivers.ok()) << receivers.status().message();
  EXPECT_EQ(*receivers, std::vector<std::string>{"digest"});
  for (int i = 0; i < 100 && queued() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(queued(), 1);
  EXPECT_TRUE((*n)->AlertStates().empty()) << "an announcement is never held as a firing alert";

  u.labels.Set("severity", "P1");
  receivers = (*n)->Announce(u);
  ASSERT_TRUE(receivers.ok());
  EXPECT_EQ(*receivers, std::vector<std::string>{"nobody"});

  Outbox::StoredSilence s;
  s.matchers = {"alertname=\"VigilWeeklyDigest\""};
  s.ends_at = clock.NowMs() + 3600'000;
  ASSERT_TRUE((*n)->PutSilence(s).ok());
  u.labels.Set("severity", "P3");
  ASSERT_TRUE((*n)->Announce(u).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(queued(), 1) << "the silenced announcement is not queued";
  (*n)->Stop();
}

// A webhook sink on loopback that holds each request until `release_at`
// requests are in flight at once (or 5 s pass), then answers 200: it shows
// what was sent concurrently without timing anything.
class HoldingSink {
 public:
  explicit HoldingSink(int release_at) : release_at_(release_at) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 64);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] { Accept(); });
  }
  ~HoldingSink() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    accept_.join();
    {
      std::lock_guard lock(mu_);
      for (int c : open_) ::shutdown(c, SHUT_RDWR);  // kept-alive connections waiting for a next request
    }
    for (auto& t : connections_) t.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  int MaxInFlight() {
    std::lock_guard lock(mu_);
    return max_in_flight_;
  }
  // Bodies in the order their requests were answered.
  std::vector<std::string> Answered() {
    std::lock_guard lock(mu_);
    return answered_;
  }

 private:
  void Accept() {
    for (int n = 0; n < 64; ++n) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      {
        std::lock_guard lock(mu_);
        open_.push_back(c);
      }
      connections_.emplace_back([this, c] { Serve(c); });
    }
  }
  void Close(int c) {
    std::lock_guard lock(mu_);
    std::erase(open_, c);
    ::close(c);
  }
  void Serve(int c) {
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string in;
    char buf[4096];
    for (;;) {  // requests on this connection, kept alive
      size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) return Close(c);
        in.append(buf, static_cast<size_t>(n));
      }
      size_t length = 0;
      if (size_t at = in.find("Content-Length: "); at != std::string::npos && at < end) {
        length = std::stoul(in.substr(at + 16));
      }
      while (in.size() < end + 4 + length) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) return Close(c);
        in.append(buf, static_cast<size_t>(n));
      }
      std::string body = in.substr(end + 4, length);
      in.erase(0, end + 4 + length);
      {
        std::unique_lock lock(mu_);
        max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
        if (in_flight_ >= release_at_) released_ = true;
        cv_.notify_all();
        cv_.wait_for(lock, std::chrono::seconds(5), [&] { return released_; });
        --in_flight_;
        answered_.push_back(body);
      }
      const char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
      if (::send(c, kOk, sizeof kOk - 1, MSG_NOSIGNAL) < 0) return Close(c);
    }
  }

  const int release_at_;
  int fd_ = -1, port_ = 0;
  std::thread accept_;
  std::vector<std::thread> connections_;
  std::mutex mu_;
  std::vector<int> open_;  // accepted connections (closed by their thread; shut down at the end)
  std::condition_variable cv_;
  int in_flight_ = 0, max_in_flight_ = 0;
  bool released_ = false;
  std::vector<std::string> answered_;
};

// Routes every alert to one webhook receiver, "ops".
void RouteAllTo(NotifierOptions& o, const std::string& url) {
  o.alerting.route.receiver = "ops";
  config::ReceiverOptions ops;
  ops.name = "ops";
  ops.webhook_configs.push_back({url, true, 0});
  o.alerting.receivers.push_back(ops);
}

// Alertmanager sends each aggregation group on its own: a thousand groups
// to one webhook do not queue behind each other. One group's messages stay
// in order.
TEST(Notifier, GroupsToOneTargetAreSentAtTheSameTimeEachInOrder) {
  testing::TempDir dir;
  HoldingSink sink(/*release_at=*/3);
  {
    auto outbox = Outbox::Open(dir.path() + "/state.db");
    ASSERT_TRUE(outbox.ok());
    std::vector<OutboxMessage> queued;
    for (const char* body : {"a1", "b1", "c1", "a2"}) {
      OutboxMessage m;
      m.receiver = "ops";
      m.integration = "webhook";
      m.payload = body;
      m.group_key = std::string("{}:{service=\"") + body[0] + "\"}";
      queued.push_back(m);
    }
    ASSERT_TRUE((*outbox)->EnqueueAll(queued, 1000).ok());
  }
  SystemClock clock;
  NotifierOptions o = InDir(dir, clock);
  RouteAllTo(o, sink.Url());
  auto n = Notifier::Start(std::move(o));
  ASSERT_TRUE(n.ok()) << n.status().message();
  for (int i = 0; i < 300 && sink.Answered().size() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*n)->Stop();
  std::vector<std::string> answered = sink.Answered();
  ASSERT_EQ(answered.size(), 4u);
  EXPECT_EQ(sink.MaxInFlight(), 3) << "the three groups were in flight together; a2 waited for a1";
  auto at = [&](const std::string& body) { return std::find(answered.begin(), answered.end(), body); };
  EXPECT_LT(at("a1"), at("a2"));
}

// The loop was busy (here: held in its progress report) while an alert fired
// and resolved: the page still goes out, then its resolve, as if the loop had
// passed in between. Sending the resolve alone would tell of a page never sent.
TEST(Notifier, AnAlertThatFiredAndResolvedBetweenTwoPassesIsPagedThenResolved) {
  testing::TempDir dir;
  HoldingSink sink(/*release_at=*/1);
  SystemClock clock;
  NotifierOptions o = InDir(dir, clock);
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool hold = false, held = false;
  o.progress = [&] {
    std::unique_lock lock(gate_mu);
    held = hold;
    gate_cv.notify_all();
    gate_cv.wait_for(lock, std::chrono::seconds(10), [&] { return !hold; });
    held = false;
  };
  RouteAllTo(o, sink.Url());
  o.alerting.route.group_wait = Duration(0);
  o.alerting.route.group_interval = Duration(100);
  auto n = Notifier::Start(std::move(o));
  ASSERT_TRUE(n.ok()) << n.status().message();
  {
    std::unique_lock lock(gate_mu);
    hold = true;
    ASSERT_TRUE(gate_cv.wait_for(lock, std::chrono::seconds(5), [&] { return held; })) << "the loop passes each second";
  }
  AlertUpdate down;
  down.labels = Labels{{"alertname", "ServiceDown"}, {"service", "titan"}, {"severity", "critical"}};
  down.starts_at = clock.NowMs();
  (*n)->Update({down});
  AlertUpdate up = down;
  up.ends_at = down.starts_at + 20;
  (*n)->Update({up});
  {
    std::lock_guard lock(gate_mu);
    hold = false;
    gate_cv.notify_all();
  }
  for (int i = 0; i < 250 && sink.Answered().size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (*n)->Stop();
  std::vector<std::string> answered = sink.Answered();
  ASSERT_EQ(answered.size(), 2u);
  EXPECT_NE(answered[0].find(R"("status":"firing")"), std::string::npos) << answered[0];
  EXPECT_NE(answered[1].find(R"("status":"resolved")"), std::string::npos) << answered[1];
}

// A target that hangs (a mail server that never answers) takes at most three
// of the four senders: a page to another target still goes out meanwhile.
TEST(Notifier, AHungTargetNeverHoldsEverySender) {
  testing::TempDir dir;
  HoldingSink mail(/*release_at=*/100);  // holds every request for 5 s
  HoldingSink page(/*release_at=*/1);
  {
    auto outbox = Outbox::Open(dir.path() + "/state.db");
    ASSERT_TRUE(outbox.ok());
    std::vector<OutboxMessage> queued;
    for (const char* group : {"m1", "m2", "m3", "m4", "m5", "p1"}) {  // mail's groups come first in the pass
      OutboxMessage m;
      m.receiver = group[0] == 'm' ? "mail" : "page";
      m.integration = "webhook";
      m.payload = group;
      m.group_key = group;
      queued.push_back(m);
    }
    ASSERT_TRUE((*outbox)->EnqueueAll(queued, 1000).ok());
  }
  SystemClock clock;
  NotifierOptions o = InDir(dir, clock);
  o.alerting.route.receiver = "page";
  for (auto [name, url] : {std::pair{"mail", mail.Url()}, std::pair{"page", page.Url()}}) {
    config::ReceiverOptions r;
    r.name = name;
    r.webhook_configs.push_back({url, true, 0});
    o.alerting.receivers.push_back(r);
  }
  auto n = Notifier::Start(std::move(o));
  ASSERT_TRUE(n.ok()) << n.status().message();
  for (int i = 0; i < 90 && page.Answered().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const size_t mail_answered = mail.Answered().size();
  (*n)->Stop();
  EXPECT_EQ(page.Answered(), std::vector<std::string>{"p1"});
  EXPECT_EQ(mail_answered, 0u) << "the page went out while the mail server still held its requests";
  EXPECT_EQ(mail.MaxInFlight(), 3);
}

}  // namespace
}  // namespace vigil::notify
