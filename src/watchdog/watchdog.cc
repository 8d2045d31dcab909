#include "watchdog/watchdog.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <chrono>
#include <cstring>

#include "base/log.h"

namespace vigil::watchdog {
namespace {

class SystemdServiceManager final : public ServiceManager {
 public:
  bool Notify(const std::string& state) override { return sd_notify(0, state.c_str()) >= 0; }
  Duration WatchdogTimeout() const override {
    uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is ours.
    if (sd_watchdog_enabled(0, &usec) <= 0) return Duration(0);
    return std::chrono::duration_cast<Duration>(std::chrono::microseconds(usec));
  }
};

class ProgressSink final : public collect::BatchSink {
 public:
  ProgressSink(collect::BatchSink* inner, std::function<void()> collection, std::function<void()> storage)
      : inner_(inner), collection_(std::move(collection)), storage_(std::move(storage)) {}
  void Consume(std::string_view collector, const MetricBatch& batch, TimestampMs time_ms) override {
    collection_();
    inner_->Consume(collector, batch, time_ms);
    storage_();
  }
  void Failed(std::string_view collector, TimestampMs time_ms) override {
    collection_();
    inner_->Failed(collector, time_ms);
    storage_();
  }

 private:
  collect::BatchSink* inner_;
  std::function<void()> collection_, storage_;
};

// Pings at least twice per timeout window, as sd_watchdog_enabled(3) advises.
Duration CheckInterval(Duration configured, Duration watchdog_timeout) {
  if (watchdog_timeout.count() > 0) configured = std::min(configured, watchdog_timeout / 4);
  return std::max(configured, Duration(10));
}

}  // namespace

std::unique_ptr<ServiceManager> NewSystemdServiceManager() { return std::make_unique<SystemdServiceManager>(); }

TimestampMs MonotonicClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<collect::BatchSink> NewProgressSink(collect::BatchSink* inner, std::function<void()> collection,
                                                    std::function<void()> storage) {
  return std::make_unique<ProgressSink>(inner, std::move(collection), std::move(storage));
}

Watchdog::Watchdog(WatchdogOptions options)
    : o_(std::move(options)),
      clock_(o_.clock ? *o_.clock : monotonic_),
      watchdog_timeout_(o_.manager->WatchdogTimeout()),
      interval_(CheckInterval(o_.check_interval, watchdog_timeout_)),
      limits_(StallLimits(Cadence{watchdog_timeout_})) {
  const int64_t now = clock_.NowMs();
  for (const auto& l : limits_) {
    beats_[l.subsystem].last_ms = now;
    stalls_total_[l.subsystem] = 0;
  }
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::function<void()> Watchdog::Heartbeat(const std::string& subsystem) {
  auto it = beats_.find(subsystem);
  if (it == beats_.end()) {  // a programming error: the set is fixed
    LogError("watchdog: no such subsystem; its heartbeats are ignored", {{"subsystem", subsystem}});
    return [] {};
  }
  return [beat = &it->second, clock = &clock_] { beat->last_ms.store(clock->NowMs(), std::memory_order_relaxed); };
}

void Watchdog::SetCadence(Cadence cadence) {
  cadence.watchdog_timeout = watchdog_timeout_;
  std::lock_guard lock(mu_);
  limits_ = StallLimits(cadence);
}

void Watchdog::Send(const std::string& state) {
  if (o_.manager->Notify(state)) return;
  std::lock_guard lock(mu_);
  if (!std::exchange(send_failed_logged_, true)) {
    LogError("cannot notify systemd (NOTIFY_SOCKET)", {{"state", state.substr(0, state.find('='))}});
  }
}

void Watchdog::Ready() {
  std::string status = o_.status ? o_.status() : "";
  Send(status.empty() ? "READY=1" : "READY=1\nSTATUS=" + status);
  std::lock_guard lock(mu_);
  last_status_ms_ = clock_.NowMs();
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { Loop(); });
}

void Watchdog::Reloading() {
  // MONOTONIC_USEC: systemd >= 253 (Type=notify-reload) wants the time of the request.
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  Send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

void Watchdog::Stopping() {
  Send("STOPPING=1\nSTATUS=shutting down");
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::Check() {
  const int64_t now = clock_.NowMs();
  std::vector<Progress> progress;
  {
    std::lock_guard lock(mu_);
    progress = limits_;
  }
  for (auto& p : progress) p.last_ms = beats_.at(p.subsystem).last_ms.load(std::memory_order_relaxed);
  Verdict v = Decide(progress, now);

  std::vector<Stall> newly;
  bool resumed = false, changed = false;
  bool ping = false, refresh = false;
  {
    std::lock_guard lock(mu_);
    std::set<std::string> stalled;
    for (const auto& s : v.stalled) {
      stalled.insert(s.subsystem);
      if (!stalled_.count(s.subsystem)) {
        newly.push_back(s);
        ++stalls_total_[s.subsystem];
      }
    }
    resumed = v.ping && !stalled_.empty();
    changed = stalled != stalled_;
    stalled_ = std::move(stalled);
    // Checks come every interval_: ping when the next check would be past
    // half the timeout since the last ping.
    const int64_t half = watchdog_timeout_.count() / 2;
    ping = v.ping && watchdog_timeout_.count() > 0 && now - last_ping_ms_ + interval_.count() > half;
    if (ping) last_ping_ms_ = now;
    refresh = changed || now - last_status_ms_ >= o_.status_interval.count();
    if (refresh) last_status_ms_ = now;
  }
  for (const auto& s : newly) {
    LogError(watchdog_timeout_.count() > 0
                 ? "watchdog: a subsystem stalled; not pinging systemd, which will restart vigil"
                 : "watchdog: a subsystem stalled (systemd's watchdog is off: nothing restarts vigil)",
             {{"subsystem", s.subsystem},
              {"no_progress_for", FormatDuration(s.stalled_for)},
              {"limit", FormatDuration(s.limit)}});
  }
  if (resumed) LogInfo("watchdog: every subsystem makes progress again");
  if (ping) Send("WATCHDOG=1");
  if (!refresh) return;
  if (!v.ping) {
    Send("STATUS=stalled: " + Describe(v.stalled) + (watchdog_timeout_.count() > 0 ? "; watchdog not pinged" : ""));
  } else if (o_.status) {
    Send("STATUS=" + o_.status());
  }
}

void Watchdog::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Check();
    lock.lock();
    cv_.wait_for(lock, interval_, [&] { return stopping_; });
  }
}

void Watchdog::AppendMetrics(MetricBatch& out) const {
  const int64_t now = clock_.NowMs();
  std::lock_guard lock(mu_);
  for (const auto& l : limits_) {
    Labels labels{{"subsystem", l.subsystem}};
    int64_t last = beats_.at(l.subsystem).last_ms.load(std::memory_order_relaxed);
    out.AddGauge("vigil_watchdog_progress_age_seconds", "Seconds since the subsystem last made progress.", labels,
                 static_cast<double>(std::max<int64_t>(0, now - last)) / 1000.0);
    out.AddGauge("vigil_watchdog_stall_limit_seconds", "How long the subsystem may go without progress.", labels,
                 static_cast<double>(l.stall_after.count()) / 1000.0);
    out.AddCounter("vigil_watchdog_stalls_total",
                   "Times the subsystem stalled (no progress within its limit); systemd's watchdog was not pinged.",
                   labels, static_cast<double>(stalls_total_.at(l.subsystem)));
  }
  out.AddGauge("vigil_watchdog_timeout_seconds", "systemd's WatchdogSec for vigil; 0 when systemd does not watch it.",
               {}, static_cast<double>(watchdog_timeout_.count()) / 1000.0);
}

}  // namespace vigil::watchdog
