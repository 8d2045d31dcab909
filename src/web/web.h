// vigil's web UI: the pages embedded in the binary at build time (built by
// esbuild from web/ in the source tree) and the live-update stream open pages
// listen to. Everything the pages show comes from the JSON APIs.
#pragma once

#include <memory>
#include <string_view>

#include "base/metrics.h"
#include "http/server.h"

namespace vigil::web {

// "/" (the page) and "/assets/…" (scripts, styles), gzipped once at start and
// revalidated by ETag. Register it last: its prefix is "/".
http::Route NewUiRoute();

// Server-sent events on GET /api/v1/events: every open page holds one
// connection, and each published event reaches all of them. A client that
// falls behind is dropped by the server (bounded buffer) and reconnects.
class LiveEvents {
 public:
  // `max_clients`: further subscribers are answered 503.
  explicit LiveEvents(size_t max_clients = 64);
  ~LiveEvents();
  LiveEvents(const LiveEvents&) = delete;
  LiveEvents& operator=(const LiveEvents&) = delete;

  // Sends `event: <type>` with one line of JSON to every open page. Cheap
  // when no page is open. Thread-safe.
  void Publish(std::string_view type, std::string_view json);

  // The route for /api/v1/events; it refers to this object, which must
  // outlive the server.
  http::Route NewRoute();

  // vigil_web_live_clients, vigil_web_live_events_total.
  void AppendMetrics(MetricBatch& out) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace vigil::web
