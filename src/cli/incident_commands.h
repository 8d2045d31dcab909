// `vigil incidents [list|show ID]`: the incidents the agent filed in a data
// directory's state.db, read offline (like `vigil alerts quality`); `show`
// rebuilds the timeline from the sources and can write a Markdown post-mortem.
#pragma once

#include <string>

#include "config/config.h"
#include "incidents/incident_store.h"

namespace vigil::cli {

// depends_on, the configured inhibit rules and the severity map. The configuration was validated.
incidents::IncidentConfig IncidentConfigFor(const config::Config& c);

struct IncidentCommandOptions {
  std::string config_path;  // empty: the built-in configuration
  std::string data_dir;     // empty: the configuration's
  std::string id;           // show: the incident; empty: list
  std::string since, from, to;
  std::string format;  // show: text (default), json, md
  std::string server;  // show --format md: the agent that answers the charts' data
  bool as_json = false;
};

int Incidents(const IncidentCommandOptions& o);

}  // namespace vigil::cli
