// Alert quality per rule over a time range, from the alert episode log
// (rules::AlertStateStore::Episodes), the silences, the recovery actions and
// the first delivered notifications:
// how often a rule fires, how long it fires, how often it flaps, and how often
// it resolved by itself soon after firing with nobody acting (a false-positive
// proxy). Pure: the caller reads the inputs. Definitions: docs/alerting.md
// ("Alert quality").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alert/mute.h"
#include "base/time.h"
#include "rules/state_store.h"

namespace vigil::incidents {

// A recovery action that ran (the recovery audit's rows of kind "action",
// dry runs left out), joined to alerts by their `service` label.
struct RecoveryActionRun {
  std::string service;
  TimestampMs time_ms = 0;
};

// A firing alert's first delivered notification (the outbox's log), joined to
// an episode by the fingerprint of its labels and startsAt = the episode's firedAt.
struct FirstNotification {
  std::string fingerprint;  // alert::Fingerprint(labels)
  TimestampMs starts_at = 0, delivered_at = 0;
};

struct AlertQualityInput {
  std::vector<rules::AlertEpisode> episodes;
  std::vector<alert::Silence> silences;
  std::vector<RecoveryActionRun> actions;
  std::vector<FirstNotification> notifications;
  TimestampMs from_ms = 0, to_ms = 0;  // episodes that fired in [from, to) count
};

struct RuleQuality {
  std::string rule;
  std::string severity;            // of its newest episode
  int64_t fired = 0;               // episodes that fired in the range
  int64_t resolved = 0;            // of those, resolved (by the end of the input)
  int64_t flaps = 0;               // fired again within the flap window after the same alert resolved
  int64_t self_resolved = 0;       // resolved within the window, no silence, no action: the false-positive proxy
  int64_t silenced = 0;            // a silence matched it while it fired
  int64_t acted_on = 0;            // a recovery action for its service ran while it was active
  double mean_firing_seconds = 0;  // over resolved ones
  // From firing to the first delivered notification, over those notified.
  int64_t notified = 0;
  double mean_notify_seconds = 0, median_notify_seconds = 0, max_notify_seconds = 0;
  double self_resolved_share() const { return fired == 0 ? 0 : static_cast<double>(self_resolved) / fired; }
  double silenced_share() const { return fired == 0 ? 0 : static_cast<double>(silenced) / fired; }
};

struct AlertQualityReport {
  std::vector<RuleQuality> rules;  // noisiest first
  int64_t fired = 0, self_resolved = 0;
  double false_positive_share() const { return fired == 0 ? 0 : static_cast<double>(self_resolved) / fired; }
};

// The window for both flaps and self-resolution: twice the rule's `for`, or
// 5 minutes for a rule without `for` (it would otherwise be 0).
Duration AlertQualityWindow(Duration for_duration);

// The operators' false-positive target: under 5 % of fired alerts.
inline constexpr double kFalsePositiveTarget = 0.05;

AlertQualityReport ComputeAlertQuality(const AlertQualityInput& in);

}  // namespace vigil::incidents
