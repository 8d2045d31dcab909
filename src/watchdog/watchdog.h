// vigil as a systemd service: READY=1, STATUS=, RELOADING=1 and STOPPING=1
// over the notification socket, and a watchdog thread that sends WATCHDOG=1
// only while collection, storage and notification make progress (each
// reports heartbeats; progress.h decides). A stall is logged once, shown in
// STATUS= and counted; systemd then restarts vigil (docs/deploy.md). Without
// NOTIFY_SOCKET nothing is sent, but stalls are still logged and counted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "base/metrics.h"
#include "base/time.h"
#include "collect/collector.h"
#include "watchdog/progress.h"

namespace vigil::watchdog {

// The service manager's side of sd_notify(3).
class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // Sends newline-separated assignments ("READY=1\nSTATUS=…"); false if the send failed.
  virtual bool Notify(const std::string& state) = 0;
  // WATCHDOG_USEC when systemd watches this process, else 0.
  virtual Duration WatchdogTimeout() const = 0;
};

// sd_notify and sd_watchdog_enabled from libsystemd: no-ops without NOTIFY_SOCKET.
std::unique_ptr<ServiceManager> NewSystemdServiceManager();

// Monotonic milliseconds (steady_clock), for heartbeats.
class MonotonicClock final : public Clock {
 public:
  TimestampMs NowMs() const override;
};

struct WatchdogOptions {
  std::unique_ptr<ServiceManager> manager;  // required
  const Clock* clock = nullptr;             // monotonic; null: a MonotonicClock
  // The STATUS= line while every subsystem makes progress; null: none.
  std::function<std::string()> status;
  Duration status_interval{10000};
  Duration check_interval{1000};  // also bounded by half the watchdog timeout
};

class Watchdog {
 public:
  // Every subsystem of StallLimits counts as having progressed now.
  explicit Watchdog(WatchdogOptions options);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // What a subsystem calls each time it makes progress: cheap, lock-free,
  // from any thread. The function must not outlive the Watchdog.
  std::function<void()> Heartbeat(const std::string& subsystem);
  // The limits for the current configuration (start and every reload).
  void SetCadence(Cadence cadence);
  Duration watchdog_timeout() const { return watchdog_timeout_; }

  // READY=1 with the status line; the first call starts the checking thread.
  void Ready();
  void Reloading();
  // STOPPING=1; stops the thread (no more pings).
  void Stopping();

  // One check: ping or report stalls, refresh STATUS=. The thread calls it
  // every check interval; tests call it under a fake clock.
  void Check();

  // vigil_watchdog_* metrics.
  void AppendMetrics(MetricBatch& out) const;

 private:
  struct Beat {
    std::atomic<int64_t> last_ms{0};
  };
  void Loop();
  void Send(const std::string& state);

  WatchdogOptions o_;
  MonotonicClock monotonic_;
  const Clock& clock_;
  const Duration watchdog_timeout_;
  const Duration interval_;            // between checks
  std::map<std::string, Beat> beats_;  // fixed at construction: kCollection, kStorage, kNotification
  mutable std::mutex mu_;
  std::vector<Progress> limits_;  // last_ms unused here
  std::map<std::string, uint64_t> stalls_total_;
  std::set<std::string> stalled_;  // the subsystems stalled at the last check
  int64_t last_ping_ms_ = 0;
  int64_t last_status_ms_ = 0;
  bool send_failed_logged_ = false;
  bool stopping_ = false;
  std::condition_variable cv_;
  std::thread thread_;
};

// Wraps the sink the scheduler hands collections to: a collection reaching it
// is collection's progress, the store taking it (the call returning) is
// storage's. `inner` and the heartbeats must outlive it.
std::unique_ptr<collect::BatchSink> NewProgressSink(collect::BatchSink* inner, std::function<void()> collection,
                                                    std::function<void()> storage);

}  // namespace vigil::watchdog
