// `vigil silence add|list|expire` against a running vigil's Alertmanager-style
// silences API.
#pragma once

#include <string>
#include <vector>

namespace vigil::cli {

struct SilenceAddOptions {
  std::string server;
  std::vector<std::string> matchers;  // Alertmanager syntax: service="bitcoind", alertname=~"Disk.*"
  std::string duration = "2h";
  std::string start;  // Unix seconds or RFC 3339; empty: now
  std::string author;
  std::string comment;
};

int AddSilence(const SilenceAddOptions& o);
int ListSilences(const std::string& server, bool expired, bool json);
int ExpireSilence(const std::string& server, const std::string& id);

}  // namespace vigil::cli
