// Rendering a notification for each integration of a receiver, and sending
// one rendered message: what the notifier's outbox path and `vigil notify
// test` share. Keys, tokens and secret URLs are added by Send from the
// receiver's configuration; rendered messages never hold them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "alert/dispatch.h"
#include "config/config.h"
#include "notify/payload.h"

namespace vigil::notify {

struct Rendered {
  std::string integration;  // "webhook", "pagerduty", "slack", "telegram", "discord", "twilio"
  int index = 0;            // which of the receiver's integrations of that kind
  std::string payload;
};

// Every message `receiver` gets for `n` (none for an integration with nothing
// to say, e.g. a resolve with send_resolved off).
std::vector<Rendered> RenderFor(const config::ReceiverOptions& receiver, const alert::Notification& n,
                                const PayloadContext& ctx);

struct SendResult {
  enum Kind { kDelivered, kRetry, kDead } kind = kRetry;
  std::string detail;             // never holds a URL, key or token
  std::optional<Duration> after;  // the receiver's Retry-After
};

// Sends one rendered message with `receiver`'s credentials, within `timeout`.
// 2xx delivers; 408, 429, 5xx and transport failures are worth a retry; any
// other 4xx, or an integration the receiver no longer has, never will be.
SendResult Send(const config::ReceiverOptions& receiver, const std::string& integration, int index,
                const std::string& payload, Duration timeout);

// Sends `body` as JSON to `url` (Alertmanager forwarding).
SendResult PostJson(const std::string& url, const std::string& body, Duration timeout);

// A notification for `vigil notify test`: one firing alert that says it is a test.
alert::Notification TestNotification(const std::string& receiver, const std::string& severity, TimestampMs now);

}  // namespace vigil::notify
