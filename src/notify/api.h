// Alertmanager's v2 API on vigil's own port, so Prometheus can send its
// alerts here and amtool-style clients and scripts work: GET/POST
// /api/v2/alerts, GET/POST /api/v2/silences, GET/DELETE /api/v2/silence/{id}.
// And /api/v1/notifications: the outbox and its history.
#pragma once

#include <nlohmann/json.hpp>

#include "alert/alert.h"
#include "http/server.h"
#include "notify/notifier.h"

namespace vigil::notify {

// Alertmanager's PostableSilence (matchers as {name, value, isRegex,
// isEqual}, startsAt, endsAt, createdBy, comment, id to replace one). Errors
// name the field; any bytes are safe (fuzzed).
Result<Outbox::StoredSilence> ParsePostableSilence(const std::string& body);

// Matchers in Alertmanager's API shape: [{name, value, isRegex, isEqual}].
// The CLI sends silences in it; the API lists them in it.
nlohmann::json AlertmanagerMatchers(const alert::Matchers& matchers);

// `notifier` must outlive the routes.
std::vector<http::Route> NewApiRoutes(Notifier* notifier, const Clock* clock);

}  // namespace vigil::notify
