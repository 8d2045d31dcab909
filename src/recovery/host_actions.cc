#include "recovery/host_actions.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "base/log.h"
#include "http/outbound.h"
#include "recovery/actions/envfile_rewrite.h"
#include "recovery/actions/failover.h"
#include "recovery/audit.h"

namespace vigil::recovery {
namespace {

// Endpoints may carry credentials: audits, logs and alerts show them redacted.
std::string Redacted(const std::string& url) {
  auto parsed = http::ParseUrl(url);
  return parsed ? parsed->redacted : "(unparsable URL)";
}

}  // namespace

struct HostActions::Impl {
  HostActionsOptions o;
  std::unique_ptr<AuditLog> audit;

  struct CleanupState {
    TimestampMs next_check = 0;
    uint64_t freed_bytes_total = 0;
    uint64_t runs = 0;
  };
  std::vector<CleanupState> cleanup;

  struct FailoverState {
    std::unique_ptr<FailoverTracker> tracker;
    std::vector<TimestampMs> next_probe;
    uint64_t switches = 0;
  };
  std::vector<FailoverState> failovers;

  mutable std::mutex mu;  // guards what follows, the audit and the states above
  std::condition_variable cv;
  std::atomic<bool> stopping{false};
  std::set<std::string> firing;                                       // "exec name|alert labels" already run for
  std::map<std::pair<std::string, std::string>, uint64_t> exec_runs;  // (service, outcome)
  int running_execs = 0;  // detached exec threads still running; Stop waits for them
  std::thread thread;

  Status Audit(AuditEntry e) { return audit->Record(e); }

  void Loop();
  void CheckCleanup(size_t i, TimestampMs now);
  void CheckFailover(size_t i, TimestampMs now);
  void RunExecRule(const ExecRule& rule, Labels labels);
};

HostActions::HostActions(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HostActions::~HostActions() { Stop(); }

Result<std::unique_ptr<HostActions>> HostActions::Start(HostActionsOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->o = std::move(options);
  for (const auto& c : impl->o.cleanup) {
    if (Status s = ValidateCleanupPolicy(c.policy, ""); !s.ok()) return s.WithContext("recovery.cleanup");
  }
  for (const auto& e : impl->o.execs) {
    if (Status s = ValidateExecSpec(e.spec); !s.ok()) return s.WithContext("recovery.exec " + e.name);
  }
  auto audit = AuditLog::Open(impl->o.state_path);
  if (!audit.ok()) return audit.status();
  impl->audit = std::move(*audit);
  impl->cleanup.resize(impl->o.cleanup.size());
  for (const auto& f : impl->o.failovers) {
    Impl::FailoverState st;
    FailoverOptions fo;
    fo.endpoints = f.endpoints.size();
    fo.hold_down = f.hold_down;
    fo.fail_after = f.fail_after;
    st.tracker = std::make_unique<FailoverTracker>(fo);
    st.next_probe.assign(f.endpoints.size(), 0);
    // The consumer's env file says which endpoint is active now.
    auto current = ReadEnvFileValue(f.env_file, f.key);
    std::optional<size_t> active;
    if (current.ok()) {
      for (size_t i = 0; i < f.endpoints.size(); ++i) {
        if (f.endpoints[i] == *current) active = i;
      }
      if (!active) {
        LogWarn("failover: the env file names none of the configured endpoints; leaving it alone",
                {{"service", f.service}, {"env_file", f.env_file}, {"key", f.key}});
      }
    } else {
      LogWarn("failover: cannot read the active endpoint",
              {{"service", f.service}, {"env_file", f.env_file}, {"err", current.status().message()}});
    }
    st.tracker->SetActive(active);
    impl->failovers.push_back(std::move(st));
  }
  std::unique_ptr<HostActions> h(new HostActions(std::move(impl)));
  h->impl_->thread = std::thread([m = h->impl_.get()] { m->Loop(); });
  return h;
}

void HostActions::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping && !impl_->thread.joinable()) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Each exec is bounded by its timeout (and the kill grace after it).
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->running_execs == 0; });
}

void HostActions::Impl::Loop() {
  std::unique_lock lock(mu);
  while (!stopping) {
    lock.unlock();
    TimestampMs now = o.clock->NowMs();
    for (size_t i = 0; i < o.cleanup.size() && !stopping; ++i) CheckCleanup(i, now);
    for (size_t i = 0; i < o.failovers.size() && !stopping; ++i) CheckFailover(i, o.clock->NowMs());
    lock.lock();
    cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping.load(); });
  }
}

void HostActions::Impl::CheckCleanup(size_t i, TimestampMs now) {
  CleanupState& st = cleanup[i];
  const CleanupRule& rule = o.cleanup[i];
  if (now < st.next_check) return;
  st.next_check = now + rule.interval.count();
  auto usage = StatFsUsage(rule.policy.filesystem);
  if (!usage.ok()) {
    LogWarn("cleanup: cannot read free space",
            {{"filesystem", rule.policy.filesystem}, {"err", usage.status().message()}});
    return;
  }
  if (!CleanupDue(rule.policy, *usage)) return;
  if (auto why = o.held ? o.held("") : std::nullopt) {
    LogInfo("cleanup due but held", {{"filesystem", rule.policy.filesystem}, {"reason", *why}});
    return;
  }
  AuditEntry e;
  e.time_ms = now;
  e.service = "host";
  e.action = "cleanup";
  e.target = rule.policy.filesystem;
  char free_pct[32];
  std::snprintf(free_pct, sizeof free_pct, "%.1f%%", usage->FreeRatio() * 100);
  e.detail = std::string(o.dry_run ? "dry-run: " : "") + "free " + free_pct + " below the threshold";
  int64_t id = 0;
  {
    std::lock_guard lock(mu);
    auto begun = audit->BeginAction(e);
    if (!begun.ok()) {
      LogError("cleanup not run: the audit could not be written", {{"err", begun.status().message()}});
      return;
    }
    id = *begun;
  }
  CleanupOptions co;
  co.dry_run = o.dry_run;
  co.now = now;
  auto start = std::chrono::steady_clock::now();
  auto report = RunCleanup(rule.policy, co);
  int64_t took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard lock(mu);
  ++st.runs;
  if (!report.ok()) {
    (void)audit->FinishAction(id, "failed", report.status().message(), took);
    LogError("cleanup failed", {{"filesystem", rule.policy.filesystem}, {"err", report.status().message()}});
    return;
  }
  st.freed_bytes_total += report->freed_bytes;
  std::string outcome = o.dry_run ? "dry-run" : report->target_reached ? "done" : "partial";
  (void)audit->FinishAction(id, outcome, FormatCleanupReport(*report), took);
  LogInfo("cleanup finished", {{"filesystem", rule.policy.filesystem},
                               {"outcome", outcome},
                               {"freed_bytes", std::to_string(report->freed_bytes)},
                               {"files", std::to_string(report->acted_files)}});
}

void HostActions::Impl::CheckFailover(size_t i, TimestampMs now) {
  const FailoverRule& rule = o.failovers[i];
  FailoverState& st = failovers[i];
  for (size_t e = 0; e < rule.endpoints.size(); ++e) {
    if (now < st.next_probe[e]) continue;
    st.next_probe[e] = now + rule.probe_interval.count();
    std::string url = rule.endpoints[e];
    if (!url.empty() && url.back() == '/' && !rule.probe_path.empty() && rule.probe_path[0] == '/') url.pop_back();
    bool ok = o.probe && o.probe(url + rule.probe_path, rule.probe_timeout);
    st.tracker->Observe(e, ok, o.clock->NowMs());
  }
  auto sw = st.tracker->Decide(o.clock->NowMs());
  if (!sw) return;
  std::string from = Redacted(rule.endpoints[sw->from]), to = Redacted(rule.endpoints[sw->to]);
  std::string what = rule.key + " in " + rule.env_file + ": " + from + " -> " + to + " (" + sw->reason + ")";
  if (auto why = o.held ? o.held(rule.service) : std::nullopt) {
    LogInfo("failover due but held", {{"service", rule.service}, {"switch", what}, {"reason", *why}});
    st.tracker->Abort();
    return;
  }
  AuditEntry e;
  e.time_ms = o.clock->NowMs();
  e.service = rule.service;
  e.action = "failover";
  e.target = rule.env_file;
  e.detail = (o.dry_run ? "dry-run: would switch " : "switch ") + what;
  int64_t id = 0;
  {
    std::lock_guard lock(mu);
    auto begun = audit->BeginAction(e);
    if (!begun.ok()) {
      LogError("failover not made: the audit could not be written", {{"err", begun.status().message()}});
      st.tracker->Abort();
      return;
    }
    id = *begun;
  }
  if (o.dry_run) {
    std::lock_guard lock(mu);
    (void)audit->FinishAction(id, "dry-run", "", 0);
    st.tracker->Abort();
    return;
  }
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  };
  auto finish = [&](const std::string& outcome, const std::string& detail) {
    std::lock_guard lock(mu);
    (void)audit->FinishAction(id, outcome, detail, elapsed());
  };
  TimestampMs switched_at = o.clock->NowMs();
  if (Status s = RewriteEnvFileValue(rule.env_file, rule.key, rule.endpoints[sw->to]); !s.ok()) {
    finish("failed", s.message());
    LogError("failover: cannot rewrite the env file", {{"service", rule.service}, {"err", s.message()}});
    st.tracker->Abort();
    return;
  }
  std::string detail;
  bool verified = true;
  if (!rule.restart_unit.empty()) {
    verified = o.restart(rule.restart_unit, rule.verify_timeout, &detail);
    // The consumer must come back healthy on the new endpoint.
    auto deadline = std::chrono::steady_clock::now() + rule.verify_timeout;
    while (verified && !(o.healthy && o.healthy(rule.restart_service, switched_at))) {
      if (std::chrono::steady_clock::now() >= deadline) {
        verified = false;
        detail = rule.restart_service + " not healthy within " + FormatDuration(rule.verify_timeout);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!verified) {
    // Put the old endpoint back: an unverified switch is no better than none.
    (void)RewriteEnvFileValue(rule.env_file, rule.key, rule.endpoints[sw->from]);
    if (!rule.restart_unit.empty()) {
      std::string ignored;
      (void)o.restart(rule.restart_unit, rule.verify_timeout, &ignored);
    }
    finish("failed", detail + "; switched back");
    st.tracker->Abort();
    if (o.alert) {
      o.alert("FailoverFailed", rule.service, "critical",
              {{"summary", "failover of " + rule.service + "'s " + rule.key + " failed"},
               {"description", what + ": " + detail}},
              true);
    }
    return;
  }
  finish("done", "verified");
  st.tracker->Confirm(sw->to);
  {
    std::lock_guard lock(mu);
    ++st.switches;
  }
  LogWarn("failover: switched", {{"service", rule.service}, {"switch", what}});
  if (o.alert) {
    bool on_primary = sw->to == 0;
    o.alert(
        "DependencyFailedOver", rule.service, "high",
        {{"summary", rule.service + " uses " + to + (on_primary ? " again" : " (a standby)")}, {"description", what}},
        !on_primary);
  }
}

void HostActions::OnAlert(const Labels& labels, bool firing) {
  Impl& m = *impl_;
  std::string service(labels.Get("service"));
  for (const auto& rule : m.o.execs) {
    if (rule.service != service || !rule.matches(labels)) continue;
    std::string key = rule.name + "|" + labels.ToString();
    std::lock_guard lock(m.mu);
    if (!firing) {
      m.firing.erase(key);
      continue;
    }
    if (!m.firing.insert(key).second || m.stopping) continue;  // runs once per firing
    ++m.running_execs;
    std::thread([&m, &rule, labels] {
      m.RunExecRule(rule, labels);
      std::lock_guard done(m.mu);
      --m.running_execs;
      m.cv.notify_all();
    }).detach();
  }
}

void HostActions::Impl::RunExecRule(const ExecRule& rule, Labels labels) {
  if (auto why = o.held ? o.held(rule.service) : std::nullopt) {
    std::lock_guard lock(mu);
    (void)Audit({0, o.clock->NowMs(), rule.service, 0, "waiting", "exec", rule.name, 0, "", "not run: " + *why, 0});
    return;
  }
  AuditEntry e;
  e.time_ms = o.clock->NowMs();
  e.service = rule.service;
  e.action = "exec";
  e.target = rule.spec.argv.empty() ? "" : rule.spec.argv[0];
  e.detail = (o.dry_run ? "dry-run: would run " : "run ") + rule.name + " for " + std::string(labels.Get("alertname"));
  int64_t id = 0;
  {
    std::lock_guard lock(mu);
    auto begun = audit->BeginAction(e);
    if (!begun.ok()) return;
    id = *begun;
  }
  if (o.dry_run) {
    std::lock_guard lock(mu);
    (void)audit->FinishAction(id, "dry-run", "", 0);
    return;
  }
  ExecSpec spec = rule.spec;
  for (auto& kv : AlertExecEnv(labels)) spec.env.push_back(std::move(kv));
  auto r = RunExec(spec);
  std::lock_guard lock(mu);
  std::string outcome = r.ok() && r->ok() ? "done" : "failed";
  ++exec_runs[{rule.service, outcome}];
  (void)audit->FinishAction(id, outcome, r.ok() ? DescribeExecResult(*r) : r.status().message(),
                            r.ok() ? r->elapsed.count() : 0);
}

void HostActions::AppendMetrics(MetricBatch& out) const {
  const Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  for (size_t i = 0; i < m.o.cleanup.size(); ++i) {
    Labels l{{"filesystem", m.o.cleanup[i].policy.filesystem}};
    out.AddCounter("vigil_recovery_cleanup_runs_total", "Disk cleanups run, by filesystem.", l,
                   static_cast<double>(m.cleanup[i].runs));
    out.AddCounter("vigil_recovery_cleanup_freed_bytes_total", "Bytes freed by disk cleanup, by filesystem.", l,
                   static_cast<double>(m.cleanup[i].freed_bytes_total));
  }
  for (size_t i = 0; i < m.o.failovers.size(); ++i) {
    const auto& f = m.o.failovers[i];
    Labels l{{"key", f.key}, {"service", f.service}};
    auto active = m.failovers[i].tracker->Active();
    out.AddGauge("vigil_recovery_failover_active_endpoint", "Index of the endpoint in use (0: the primary; -1: none).",
                 l, active ? static_cast<double>(*active) : -1);
    out.AddCounter("vigil_recovery_failover_switches_total", "Verified failover switches.", l,
                   static_cast<double>(m.failovers[i].switches));
  }
  for (const auto& [key, n] : m.exec_runs) {
    out.AddCounter("vigil_recovery_actions_total", "Recovery actions by service, action and outcome.",
                   Labels{{"action", "exec"}, {"outcome", key.second}, {"service", key.first}}, static_cast<double>(n));
  }
}

}  // namespace vigil::recovery
