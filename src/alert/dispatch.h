// The dispatcher: Alertmanager's aggregation groups (group_wait,
// group_interval, repeat_interval per route), muting by silences, inhibition
// and maintenance windows, and flap control. It is driven by a Clock and
// holds no threads, so every timer is unit-tested with a FakeClock; the
// agent calls Update() for each alert change and Flush() when NextFlush() is due.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "alert/inhibit.h"
#include "alert/mute.h"
#include "alert/route.h"
#include "base/severity.h"

namespace vigil::alert {

// An alert that changes state more than `max_changes` times within `window`
// is flapping: one notification says so, and its toggles are held back
// until it has kept one state for `stable_for`.
struct FlapOptions {
  bool enabled = true;
  int max_changes = 6;
  Duration window{10 * 60 * 1000};
  Duration stable_for{15 * 60 * 1000};
};

struct Notification {
  std::string receiver;
  std::string group_key;  // the route's key and the group labels
  Labels group_labels;
  std::vector<Alert> alerts;       // firing and resolved, in fingerprint order
  std::set<std::string> flapping;  // fingerprints of alerts held as flapping
  // For a dependency's P0: fingerprint -> the dependent services it holds back.
  std::map<std::string, std::vector<std::string>> downstream;
  TimestampMs time_ms = 0;
  // A one-off message (the weekly digest), not an alert: said without
  // "firing"/"resolved" by the receivers that word one (Slack, email).
  bool announcement = false;
};

// What a group's last notification said, Alertmanager's notification log:
// kept across restarts and reloads so that neither repeats what was already
// sent nor forgets a resolve for an alert that fired before.
struct SentState {
  std::set<std::string> firing, resolved;  // fingerprints
  TimestampMs at = 0;
  bool operator==(const SentState&) const = default;
};

// Why an alert is not being sent now (all empty/false: it is sent).
struct MuteState {
  std::vector<std::string> silenced_by;  // silence ids
  bool inhibited = false;
  std::string maintenance;  // window name
  bool flapping = false;
  // A page held while vigil's recovery may fix the fault (recovery.hold_page_for): until then.
  TimestampMs held_until = 0;
  bool muted() const { return !silenced_by.empty() || inhibited || !maintenance.empty() || held_until != 0; }
};

// One firing alert as GET /api/v2/alerts shows it.
struct AlertState {
  Alert alert;
  MuteState mute;
  std::vector<std::string> inhibited_by;  // fingerprints of the firing alerts that inhibit it
  std::vector<std::string> receivers;     // of the routes that handle it, in order
};

class Dispatcher {
 public:
  Dispatcher(std::shared_ptr<const Route> root, Inhibitor inhibitor, std::vector<MaintenanceWindow> windows,
             FlapOptions flap, const Clock& clock);

  void SetSilences(std::vector<Silence> silences);
  // Services whose critical alerts wait `hold` after they start before being
  // sent, so an automatic recovery can fix the fault first (and the page
  // never goes out when the alert resolves inside the hold).
  void SetPageHolds(std::map<std::string, Duration> holds, SeverityMap severities = SeverityMap());
  // released: recovery will not fix it (it failed or will not act), page now;
  // not released: hold the service's next fault again.
  void SetHoldReleased(const std::string& service, bool released);
  // A firing alert (ends_at 0) or its resolution (ends_at set).
  void Update(const Alert& alert);
  // The notifications due now; advances each flushed group's timers.
  std::vector<Notification> Flush();
  // When Flush() next has something to do; nullopt when no group exists.
  std::optional<TimestampMs> NextFlush() const;

  MuteState StateOf(const Labels& labels) const;
  // Every firing alert held (a flapping one as held), in fingerprint order;
  // in dispatch_state.cc.
  std::vector<AlertState> AlertStates() const;
  size_t group_count() const { return groups_.size(); }

  // The notification log. Restore() seeds it (after a restart or a reload)
  // by group key; a restored entry is claimed when its group forms again and
  // forgotten after `claim_within` otherwise. TakeSentChanges() returns what
  // changed since its last call (nullopt: the group is gone) for the caller
  // to persist once the notifications are safely queued.
  void RestoreSent(std::map<std::string, SentState> sent, Duration claim_within);
  std::map<std::string, std::optional<SentState>> TakeSentChanges();
  // Every group's log entry and every current alert, to carry into a new
  // dispatcher when the routing configuration is reloaded.
  std::map<std::string, SentState> SentLog() const;
  std::vector<Alert> Alerts() const;

 private:
  struct Group {
    const Route* route = nullptr;
    Labels labels;
    std::map<std::string, Alert> alerts;  // by fingerprint
    TimestampMs next_flush = 0;
    TimestampMs last_sent = 0;
    std::set<std::string> sent_firing, sent_resolved;  // what the last notification said
  };
  struct Flap {
    std::vector<TimestampMs> changes;  // within the window
    TimestampMs last_change = 0;
    bool firing = false;  // the latest real state
    bool flapping = false;
    bool announced = false;
    Alert latest;
  };

  bool Muted(const Labels& labels, TimestampMs now, const Inhibitor::Index& inhibition) const;
  // When a held alert may be sent, or 0 when it is not held now.
  TimestampMs HeldUntil(const Alert& alert, TimestampMs now) const;
  void Place(const Alert& alert);
  std::vector<const Alert*> FiringAlerts() const;

  std::shared_ptr<const Route> root_;
  Inhibitor inhibitor_;
  std::vector<MaintenanceWindow> windows_;
  std::vector<Silence> silences_;
  std::map<std::string, Duration> holds_;  // service -> hold_page_for
  SeverityMap hold_severities_;            // which alerts are P0, the pages a hold delays
  std::set<std::string> released_;         // services whose hold is released
  FlapOptions flap_;
  const Clock& clock_;
  std::map<std::string, Group> groups_;        // by group key
  std::map<std::string, Flap> flaps_;          // by fingerprint
  std::map<std::string, Alert> current_;       // every alert's latest routed state, for inhibition sources
  std::map<std::string, SentState> restored_;  // log entries whose group has not formed again yet
  TimestampMs restored_until_ = 0;
  std::map<std::string, std::optional<SentState>> sent_changes_;
};

}  // namespace vigil::alert
