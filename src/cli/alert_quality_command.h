// `vigil alerts quality`: per-rule alert quality from a data directory's
// state.db (the episode log, silences and the recovery audit), noisiest first,
// with the overall false-positive proxy against the 5 % target.
#pragma once

#include <string>

#include "base/status.h"
#include "incidents/alert_quality.h"

namespace vigil::cli {

struct AlertQualityOptions {
  std::string data_dir = "./data";
  std::string since = "30d";  // used when neither from nor to is given
  std::string from, to;       // Unix seconds or RFC 3339
  bool as_json = false;
};

int AlertQuality(const AlertQualityOptions& o);

// The episodes, silences, recovery actions and first deliveries in the
// state.db at `db` for alerts that fired in [from, to); the digest reads it too.
Result<incidents::AlertQualityInput> ReadAlertQualityInput(const std::string& db, TimestampMs from, TimestampMs to);

}  // namespace vigil::cli
