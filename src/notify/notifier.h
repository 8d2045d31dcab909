// The notifier: alerts from the rules go through the dispatcher (routing,
// grouping, muting, flap control); each notification is rendered per
// receiver integration and written to the durable outbox before any attempt;
// a delivery thread sends what is due, retrying with exponential backoff and
// jitter (honouring Retry-After and 429) and dead-lettering what can never
// succeed (other 4xx) with the receiver's reason.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "alert/dispatch.h"
#include "base/metrics.h"
#include "config/config.h"
#include "notify/outbox.h"
#include "notify/payload.h"

namespace vigil::notify {

struct NotifierOptions {
  config::AlertingOptions alerting;
  // service -> what it depends on, for dependency inhibition.
  std::map<std::string, std::vector<std::string>> depends_on;
  // service -> recovery.hold_page_for: its critical alerts wait that long for a recovery.
  std::map<std::string, Duration> page_holds;
  std::string outbox_path;  // SQLite database
  PayloadContext context;
  const Clock* clock = nullptr;
  Duration send_timeout{10000};
  Duration min_backoff{1000};
  Duration max_backoff{300000};
  // Called at each pass of the loop (at least once a second) and after each
  // send: the watchdog's heartbeat. May be null.
  std::function<void()> progress;
};

// One alert as the rules report it after an evaluation.
struct AlertUpdate {
  Labels labels;
  Labels annotations;
  TimestampMs starts_at = 0;
  TimestampMs ends_at = 0;  // set once resolved
  std::optional<double> value;
  std::string generator_url;  // empty: vigil's own external URL
};

class Notifier {
 public:
  // Builds the routing tree and opens the outbox; errors name the part.
  static Result<std::unique_ptr<Notifier>> Start(NotifierOptions options);
  ~Notifier();
  void Stop();

  // After each rule evaluation: the alerts that fire, and those that resolved.
  void Update(std::vector<AlertUpdate> alerts);

  // A new alerting configuration (SIGHUP): checked here, an error names the
  // part and keeps the running one; applied by the notifier's thread, which
  // carries over the current alerts and what was already sent.
  Status Reload(config::AlertingOptions alerting, std::map<std::string, std::vector<std::string>> depends_on,
                std::map<std::string, Duration> page_holds = {});

  // A one-off notification outside alert state (the weekly digest): routed by
  // the tree like an alert with these labels and queued at once to each
  // matched route's receiver; no grouping, no repeat, no resolve; a silence
  // matching it drops it. Returns the receivers it goes to.
  Result<std::vector<std::string>> Announce(AlertUpdate announcement);

  // Recovery of `service` will not fix its fault (released: its held page goes
  // out now), or it recovered (not released: hold its next fault again).
  void SetHoldReleased(const std::string& service, bool released);

  // vigil_notifications_* metrics.
  void AppendMetrics(MetricBatch& out) const;
  Result<std::vector<Outbox::HistoryEntry>> History(int limit) const;

  // Silences, Alertmanager's: creates one (empty id) or replaces it; returns
  // its id. Errors say what is wrong (no matchers, a bad matcher, an end not
  // after the start or in the past, an unknown id).
  Result<std::string> PutSilence(Outbox::StoredSilence silence);
  Status ExpireSilence(const std::string& id);
  Result<std::vector<Outbox::StoredSilence>> Silences() const;
  // The same with parsed matchers, as the dispatcher applies them.
  Result<std::vector<alert::Silence>> ParsedSilences() const;

  // The firing alerts the dispatcher holds, with why each is muted and where
  // it goes (GET /api/v2/alerts).
  std::vector<alert::AlertState> AlertStates() const;

 private:
  struct Reloaded {
    config::AlertingOptions alerting;
    std::map<std::string, std::vector<std::string>> depends_on;
    std::map<std::string, Duration> page_holds;
    std::unique_ptr<alert::Dispatcher> dispatcher;
  };

  explicit Notifier(NotifierOptions o);
  void Loop();
  void ApplyReload(Reloaded r);
  // Appends what each of the notification's integrations is sent.
  void Render(const alert::Notification& n, std::vector<OutboxMessage>& out) const;
  // The receivers of the routes that take `labels`; the caller holds dispatch_mu_.
  Result<std::vector<std::string>> AnnouncementReceivers(const Labels& labels) const;
  const config::ReceiverOptions* Receiver(const std::string& name) const;
  void DeliverDue();
  // The targets that failed in this delivery pass, and when each may be tried again; shared by its senders.
  class FailingTargets;
  void DeliverTo(const std::vector<OutboxMessage*>& messages, FailingTargets& failing,
                 std::vector<Outbox::Outcome>& out);
  // Alertmanager forwarding: every firing alert, and resolved ones for a
  // while, re-sent each resend_interval so a restarted Alertmanager relearns them.
  void Forward(const std::vector<alert::Alert>& changed);

  NotifierOptions o_;
  std::unique_ptr<alert::Dispatcher> dispatcher_;
  std::unique_ptr<Outbox> outbox_;
  mutable std::mutex mu_;
  // Held by the loop while it changes the dispatcher, so AlertStates() reads it whole.
  mutable std::mutex dispatch_mu_;
  std::condition_variable cv_;
  std::vector<AlertUpdate> pending_;
  std::vector<AlertUpdate> announcements_;
  std::vector<std::pair<std::string, bool>> hold_changes_;  // service, released
  bool stopping_ = false;
  bool silences_changed_ = true;  // the loop hands the stored silences to the dispatcher
  std::optional<Reloaded> reload_;
  std::vector<alert::Silence> silences_;  // the loop thread only
  std::set<std::string> released_holds_;  // the loop thread only; carried into a reloaded dispatcher
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> counts_;  // receiver, integration, outcome
  struct Forwarded {
    alert::Alert alert;
    TimestampMs resolved_seen_ms = 0;
  };
  std::map<std::string, Forwarded> forwarded_;  // by fingerprint; the loop thread only
  std::vector<TimestampMs> last_forward_;       // per Alertmanager
  std::vector<bool> forward_failing_;           // per Alertmanager: logged once per outage
  std::thread thread_;
};

}  // namespace vigil::notify
