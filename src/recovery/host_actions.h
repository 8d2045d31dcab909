// The recovery actions besides restarts, run on their own thread so a long
// disk walk or a probe timeout never delays a restart decision: disk cleanup
// when a filesystem runs low, failover of a service's dependency to a standby
// endpoint (env file rewritten, consumer restarted and verified, fail back
// after a hold-down), and exec actions when a matching alert fires. Every
// action is audited before it runs and bounded in time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/metrics.h"
#include "base/status.h"
#include "base/time.h"
#include "recovery/actions/cleanup.h"
#include "recovery/actions/exec.h"

namespace vigil::recovery {

struct CleanupRule {
  CleanupPolicy policy;
  Duration interval{60000};
};

struct FailoverRule {
  std::string service;  // whose dependency this is
  std::string env_file, key;
  std::vector<std::string> endpoints;  // the primary first
  std::string probe_path = "/";
  Duration probe_interval{5000}, probe_timeout{2000};
  int fail_after = 2;
  Duration hold_down{10LL * 60 * 1000};
  std::string restart_service, restart_unit;  // restarted after a switch; empty: none
  Duration verify_timeout{60000};
};

struct ExecRule {
  std::string service, name;
  std::function<bool(const Labels&)> matches;  // the alert's labels
  ExecSpec spec;
};

struct HostActionsOptions {
  std::vector<CleanupRule> cleanup;
  std::vector<FailoverRule> failovers;
  std::vector<ExecRule> execs;
  bool dry_run = false;
  std::string state_path;
  const Clock* clock = nullptr;
  // Why acting on `service` ("" for host-wide cleanup) is held back now, if it is.
  std::function<std::optional<std::string>(const std::string& service)> held;
  // GET url with a timeout: true iff it answered 2xx.
  std::function<bool(const std::string& url, Duration timeout)> probe;
  // Restarts a unit and waits for its job; true iff the job completed.
  std::function<bool(const std::string& unit, Duration timeout, std::string* detail)> restart;
  // Whether the service is healthy (unit active, checks passing, seen after `since`).
  std::function<bool(const std::string& service, TimestampMs since)> healthy;
  // Raises (firing) or resolves an alert about an action.
  std::function<void(const std::string& alertname, const std::string& service, const std::string& severity,
                     const std::map<std::string, std::string>& annotations, bool firing)>
      alert;
};

class HostActions {
 public:
  static Result<std::unique_ptr<HostActions>> Start(HostActionsOptions options);
  ~HostActions();
  void Stop();

  // An alert changed state (from the rules): exec actions whose matchers
  // match run once when it starts firing.
  void OnAlert(const Labels& labels, bool firing);

  void AppendMetrics(MetricBatch& out) const;

 private:
  struct Impl;
  explicit HostActions(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::recovery
