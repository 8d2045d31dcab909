// What each receiver is sent, rendered from a dispatcher notification. The
// bodies carry no secret (routing keys and webhook URLs are added by the
// sender from the configuration), so the outbox and its history can be shown.
#pragma once

#include <string>
#include <vector>

#include "alert/dispatch.h"
#include "base/severity.h"
#include "notify/texts.h"
#include "template/template.h"

namespace vigil::notify {

struct PayloadContext {
  std::string external_url;  // vigil's own address, for links back
  std::string host;          // the host name, as the page's source
  SeverityMap severities;    // alerting.severities: what each severity label value is worth
};

// What a page says vigil is doing about a firing alert.
inline constexpr std::string_view kAutomaticAction = "none: a person is needed";

// What a receiver's templates see as `.`: Alertmanager's notification data
// (.Status, .Receiver, .GroupLabels, .CommonLabels, .CommonAnnotations,
// .ExternalURL, .Alerts with .Firing/.Resolved) over `alerts`, the ones the
// message covers, plus vigil's .Host and .Action, and per alert .Value,
// .Downstream, .Flapping and .Summary (docs/alerting.md, "Templates").
tmpl::Value TemplateData(const alert::Notification& n, const PayloadContext& ctx,
                         const std::vector<const alert::Alert*>& alerts);

// Each integration below takes the receiver's custom texts for it (field
// names as in its config: PagerDuty "description" and "details.NAME", Slack
// "title" and "text", …); a field without one keeps the default text.

// Alertmanager's webhook payload, version 4, so existing consumers work.
std::string AlertmanagerWebhookV4(const alert::Notification& n, const PayloadContext& ctx, int max_alerts,
                                  bool send_resolved);

// PagerDuty Events API v2: one event per alert (trigger or resolve), with the
// alert's fingerprint as dedup_key, so a redelivery never opens a second
// incident. Without `routing_key`; the sender adds it. Empty when there is
// nothing to send (a resolve with send_resolved off).
std::vector<std::string> PagerDutyEvents(const alert::Notification& n, const PayloadContext& ctx, bool send_resolved,
                                         const Texts& texts = Texts());

// A Slack incoming-webhook message: a header, one section per alert coloured
// by severity, firing and resolved listed apart (a digest when there are many).
std::string SlackMessage(const alert::Notification& n, const PayloadContext& ctx, const std::string& channel,
                         bool send_resolved, const Texts& texts = Texts());

// Telegram Bot API sendMessage body (HTML parse mode, at most 4096 characters).
std::string TelegramMessage(const alert::Notification& n, const PayloadContext& ctx, const std::string& chat_id,
                            bool send_resolved, const Texts& texts = Texts());
// A Discord webhook body: content plus one embed per alert (at most 10),
// coloured by severity, within Discord's length limits.
std::string DiscordMessage(const alert::Notification& n, const PayloadContext& ctx, bool send_resolved,
                           const Texts& texts = Texts());
// Short SMS texts (at most 160 characters each), one per alert whose priority
// (P0..P3, through ctx.severities) or severity value is in `severities`; as
// JSON {"To","From","Body"} (the sender form-encodes it).
std::vector<std::string> SmsMessages(const alert::Notification& n, const PayloadContext& ctx, const std::string& from,
                                     const std::string& to, const std::vector<std::string>& severities,
                                     bool send_resolved, const Texts& texts = Texts());

// An email as JSON {"subject", "text", "html"} (the sender adds the headers
// and the MIME structure); a digest when the notification holds many alerts.
std::string EmailMessage(const alert::Notification& n, const PayloadContext& ctx, bool send_resolved,
                         const Texts& texts = Texts());

// PagerDuty's severity for a priority: P0 "critical", P1 "error", P2 "warning", P3 "info".
std::string PagerDutySeverity(Priority p);

}  // namespace vigil::notify
