// `vigil report`: a running vigil's report over a range (GET /api/v1/report)
// as Markdown or JSON, or `--send` to have it send the weekly digest now
// (POST /api/v1/report/digest). And what the agent reads to build a report.
#pragma once

#include <memory>
#include <string>

#include "incidents/capacity.h"
#include "incidents/digest.h"
#include "incidents/incident_store.h"
#include "promql/engine.h"

namespace vigil::cli {

struct ReportCommandOptions {
  std::string server;
  std::string since;     // used when --from is not given; default 7d
  std::string from, to;  // Unix seconds or RFC 3339
  std::string format = "md";
  bool send = false;
};

// Exit 0 with the report printed; 1 for a bad flag; 3 when vigil cannot be asked.
int ShowReport(const ReportCommandOptions& o);

// What the agent has for a report; pointers may be null (that part is then
// reported as unreadable, not left out silently).
struct DigestSources {
  incidents::Tracker* sla = nullptr;
  incidents::IncidentTracker* incidents = nullptr;
  std::shared_ptr<const incidents::CapacityReporter> capacity;
  promql::QuerierFactory storage;
  promql::EngineOptions engine;
  std::string state_db;  // <data_dir>/state.db, for the alert history
  std::string host;
};

incidents::DigestInput GatherDigest(const DigestSources& sources, incidents::TimeRange range, TimestampMs now_ms);

}  // namespace vigil::cli
