#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "web/web.h"

namespace vigil::web {
namespace {

// A comment line keeps idle connections from being cut by proxies and finds
// clients that went away without closing.
constexpr auto kHeartbeat = std::chrono::seconds(15);

}  // namespace

struct LiveEvents::State {
  explicit State(size_t max) : max_clients(max) {}

  const size_t max_clients;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::vector<std::shared_ptr<http::StreamWriter>> clients;
  uint64_t events = 0;
  std::thread heartbeat;

  // Writes `frame` to every client and forgets those that have gone.
  void Broadcast(const std::string& frame) {
    std::lock_guard lock(mu);
    std::erase_if(clients, [&](const std::shared_ptr<http::StreamWriter>& w) { return !w->Write(frame); });
  }

  void HeartbeatLoop() {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, kHeartbeat, [&] { return stopping; })) {
      lock.unlock();
      Broadcast(": ping\n\n");
      lock.lock();
    }
  }
};

LiveEvents::LiveEvents(size_t max_clients) : state_(std::make_shared<State>(max_clients)) {
  state_->heartbeat = std::thread([s = state_] { s->HeartbeatLoop(); });
}

LiveEvents::~LiveEvents() {
  std::vector<std::shared_ptr<http::StreamWriter>> clients;
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
    clients.swap(state_->clients);
  }
  state_->cv.notify_all();
  state_->heartbeat.join();
  for (auto& c : clients) c->Close();
}

void LiveEvents::Publish(std::string_view type, std::string_view json) {
  std::string frame;
  {
    std::lock_guard lock(state_->mu);
    ++state_->events;
    if (state_->clients.empty()) return;
  }
  frame.reserve(type.size() + json.size() + 16);
  frame.append("event: ").append(type).append("\ndata: ").append(json).append("\n\n");
  state_->Broadcast(frame);
}

http::Route LiveEvents::NewRoute() {
  std::weak_ptr<State> weak = state_;
  return http::Route{"/api/v1/events", [weak](const http::Request& r) -> http::Response {
                       if (r.path != "/api/v1/events") return {404, "text/plain; charset=utf-8", "not found\n", {}};
                       if (r.method != "GET") return {405, "text/plain; charset=utf-8", "method not allowed\n", {}};
                       std::shared_ptr<State> s = weak.lock();
                       if (!s) return {503, "text/plain; charset=utf-8", "shutting down\n", {}};
                       {
                         std::lock_guard lock(s->mu);
                         if (s->clients.size() >= s->max_clients) {
                           http::Response busy{503,
                                               "text/plain; charset=utf-8",
                                               "too many open live-update streams (" + std::to_string(s->max_clients) +
                                                   "); close a page\n",
                                               {{"Retry-After", "5"}}};
                           return busy;
                         }
                       }
                       http::Response resp;
                       resp.content_type = "text/event-stream";
                       resp.headers.emplace_back("Cache-Control", "no-cache");
                       resp.stream = [weak](std::shared_ptr<http::StreamWriter> w) {
                         // `retry`: a dropped page reconnects within a second.
                         if (!w->Write("retry: 1000\nevent: hello\ndata: {}\n\n")) return;
                         std::shared_ptr<State> s = weak.lock();
                         if (!s) return w->Close();
                         std::lock_guard lock(s->mu);
                         if (s->stopping) return w->Close();
                         s->clients.push_back(std::move(w));
                       };
                       return resp;
                     }};
}

void LiveEvents::AppendMetrics(MetricBatch& out) const {
  std::lock_guard lock(state_->mu);
  out.AddGauge("vigil_web_live_clients", "Open live-update streams (web UI pages).", {},
               static_cast<double>(state_->clients.size()));
  out.AddCounter("vigil_web_live_events_total", "Events published to the live-update streams.", {},
                 static_cast<double>(state_->events));
}

}  // namespace vigil::web
