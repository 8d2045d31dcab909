// Alertmanager's alert ingest, POST /api/v2/alerts: Prometheus servers (or
// anything speaking Alertmanager's API) send their alerts to vigil, and they
// go through the same routing, grouping and muting as vigil's own.
//
// An alert is firing until its endsAt; one posted without endsAt gets
// now + resolve_timeout, as in Alertmanager. Senders re-post what still fires
// (Prometheus every evaluation), pushing endsAt on; one that stops being
// re-posted resolves by itself once endsAt passes (ExpireDue).
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "notify/notifier.h"

namespace vigil::notify {

// Alertmanager's global.resolve_timeout default.
inline constexpr Duration kDefaultResolveTimeout{5 * 60 * 1000};

class AlertIngest {
 public:
  // `sink` receives the alerts as the dispatcher takes them (Notifier::Update).
  using Sink = std::function<void(std::vector<AlertUpdate>)>;
  AlertIngest(Sink sink, const Clock* clock, Duration resolve_timeout = kDefaultResolveTimeout);
  ~AlertIngest();  // stops the expiry thread
  AlertIngest(const AlertIngest&) = delete;
  AlertIngest& operator=(const AlertIngest&) = delete;

  // A JSON array of postableAlert. As Alertmanager, the valid alerts are
  // taken even when others are not; the error then lists every invalid one
  // by index and field ("alerts[3]: labels: invalid label name \"1x\"").
  Status Post(const std::string& body);

  // Resolves the alerts whose endsAt has passed without a re-post; returns
  // how many. The expiry thread calls it; tests call it on a FakeClock.
  size_t ExpireDue();
  // Runs ExpireDue() in the background until destruction.
  void StartExpiryThread();
  // Alerts posted and not yet resolved.
  size_t active() const;
  // For GET /api/v2/alerts: each held alert's expiry and last post, by fingerprint.
  struct Posted {
    TimestampMs ends_at = 0;
    TimestampMs updated_at = 0;
  };
  std::map<std::string, Posted> Snapshot() const;

 private:
  struct Held {
    AlertUpdate alert;       // as last posted and merged; ends_at is the expiry
    bool timeout = false;    // endsAt was not given: a re-post's explicit one wins
    TimestampMs updated_at = 0;
  };

  Sink sink_;
  const Clock* clock_;
  Duration resolve_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Held> held_;  // by fingerprint
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigil::notify
