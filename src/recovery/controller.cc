#include "recovery/controller.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <tuple>

#include "base/log.h"

namespace vigil::recovery {

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kEnforce: return "enforce";
    case Mode::kDryRun: return "dry-run";
    case Mode::kOff: return "off";
  }
  return "unknown";
}

struct Controller::Impl {
  ControllerOptions o;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<Planner> planner;
  std::map<std::string, const ServiceSpec*> specs;

  mutable std::mutex mu;  // guards everything below
  std::condition_variable cv;
  bool stopping = false;
  bool poked = true;
  std::map<std::string, TimestampMs> pauses;
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> actions_total;  // service, action, outcome
  std::map<std::pair<std::string, std::string>, DrillResult> drills;
  std::map<std::string, int64_t>
      verifying_rows;  // service -> its restart's audit row, until judged  // the last, by service and fault
  std::vector<std::thread> workers;
  std::thread thread;
};

Controller::Controller(ControllerOptions o) : impl_(std::make_unique<Impl>()) { impl_->o = std::move(o); }

Controller::~Controller() { Stop(); }

Result<std::unique_ptr<Controller>> Controller::Start(ControllerOptions options) {
  if (options.clock == nullptr || !options.observe || !options.restart) {
    return Status::Error("recovery: clock, observe and restart are required");
  }
  std::unique_ptr<Controller> c(new Controller(std::move(options)));
  Impl& m = *c->impl_;
  auto audit = AuditLog::Open(m.o.state_path);
  if (!audit.ok()) return audit.status();
  m.audit = std::move(*audit);
  m.planner = std::make_unique<Planner>(m.o.services);
  for (const auto& s : m.o.services) m.specs[s.name] = &s;
  m.planner->SetDryRun(m.o.mode == Mode::kDryRun);
  m.planner->SetMaxConcurrent(m.o.max_concurrent);

  // What a crash (of vigil, or of the host) left half done.
  TimestampMs now = m.o.clock->NowMs();
  // 100 000 rows is years of a validator host's recovery; older ones go at each start.
  if (Status s = m.audit->Trim(100000); !s.ok()) LogWarn("cannot trim the recovery audit", {{"err", s.message()}});
  auto interrupted = m.audit->MarkInterrupted("vigil stopped before the action finished");
  if (!interrupted.ok()) return interrupted.status();
  for (const auto& e : *interrupted) {
    LogWarn(
        "recovery action was interrupted by a restart of vigil; it counts against the budget",
        {{"service", e.service}, {"action", e.action}, {"target", e.target}, {"attempt", std::to_string(e.attempt)}});
    m.actions_total[{e.service, e.action, "interrupted"}]++;
  }
  Duration longest{0};
  for (const auto& s : m.o.services) {
    if (s.restart) longest = std::max(longest, s.restart->window);
  }
  auto past = m.audit->AttemptsSince(now - longest.count());
  if (!past.ok()) return past.status();
  for (const auto& a : *past) {
    const ServiceSpec* spec = m.specs.count(a.service) ? m.specs[a.service] : nullptr;
    if (spec && spec->restart && a.time_ms > now - spec->restart->window.count()) m.planner->RestoreAttempt(a);
  }
  auto episode = m.audit->MaxEpisode();
  if (!episode.ok()) return episode.status();
  m.planner->SetNextEpisode(*episode + 1);
  auto pauses = m.audit->Pauses();
  if (!pauses.ok()) return pauses.status();
  m.pauses = std::move(*pauses);

  m.thread = std::thread([ctl = c.get()] { ctl->Loop(); });
  return c;
}

void Controller::Stop() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping && !impl_->thread.joinable()) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  {
    std::lock_guard lock(impl_->mu);
    workers = std::move(impl_->workers);
  }
  for (auto& w : workers) {
    if (w.joinable()) w.join();
  }
}

void Controller::Poke() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->poked = true;
  }
  impl_->cv.notify_all();
}

void Controller::Loop() {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu);
  while (!m.stopping) {
    TimestampMs now = m.o.clock->NowMs();
    m.poked = false;
    DecideLocked(now);
    // Sleep until poked, the planner's next deadline, or the poll interval.
    TimestampMs wake = now + m.o.poll_interval.count();
    if (auto next = m.planner->NextWakeup(now); next && *next < wake) wake = std::max(*next, now + 1);
    m.cv.wait_for(lock, std::chrono::milliseconds(wake - now), [&] { return m.stopping || m.poked; });
  }
}

void Controller::DecideLocked(TimestampMs now) {
  Impl& m = *impl_;
  if (m.o.mode == Mode::kOff) return;
  // Observing may take other locks (the monitor's); it never calls back into us.
  std::map<std::string, Observation> obs = m.o.observe();
  for (const auto& [service, o] : obs) m.planner->Observe(service, o, now);
  for (auto it = m.pauses.begin(); it != m.pauses.end();) {
    it = it->second != 0 && it->second <= now ? m.pauses.erase(it) : std::next(it);
  }
  for (const auto& s : m.o.services) {
    std::optional<std::string> held;
    auto paused = [&](const std::string& key) -> std::optional<std::string> {
      auto it = m.pauses.find(key);
      if (it == m.pauses.end()) return std::nullopt;
      std::string who = key == "*" ? "recovery is paused" : "recovery of " + s.name + " is paused";
      return it->second == 0 ? who + " until resumed" : who + " until " + FormatTime(it->second);
    };
    held = paused("*");
    if (!held) held = paused(s.name);
    if (!held && m.o.maintenance) {
      if (auto window = m.o.maintenance(s.name, now)) held = "inside maintenance window " + *window;
    }
    m.planner->SetHeld(s.name, held);
  }
  std::vector<Action> actions = m.planner->Decide(now);
  std::vector<Event> events = m.planner->TakeEvents();
  // Action rows are written (and synced) by RecordLocked before any action starts.
  std::map<uint64_t, int64_t> audit_ids;
  for (const auto& e : events) {
    if (e.kind != Event::Kind::kActionStarted || !e.action) continue;
    AuditEntry a;
    a.time_ms = e.time_ms;
    a.service = e.service;
    a.episode = e.episode;
    a.action = "restart";
    a.target = e.action->unit;
    a.attempt = e.action->attempt;
    a.detail = e.detail;
    auto id = m.audit->BeginAction(a);
    if (!id.ok()) {
      LogError("recovery audit write failed; not acting", {{"service", e.service}, {"err", id.status().message()}});
      audit_ids[e.action->id] = -1;
    } else {
      audit_ids[e.action->id] = *id;
    }
  }
  RecordLocked(events);
  for (auto& a : actions) {
    int64_t id = audit_ids.count(a.id) ? audit_ids[a.id] : -1;
    if (id < 0) {  // never act without a record of it
      m.planner->ActionFinished(a.id, false, "not attempted: the audit could not be written", now);
      RecordLocked(m.planner->TakeEvents());
      continue;
    }
    Duration timeout = m.specs.at(a.service)->restart->verify_timeout;
    m.workers.emplace_back([this, a, id, timeout] { RunAction(a, id, timeout); });
  }
  // Finished workers are joined here so their threads do not pile up.
  if (m.workers.size() > 16) {
    std::vector<std::thread> keep;
    for (auto& w : m.workers) keep.push_back(std::move(w));
    m.workers.clear();
    m.mu.unlock();
    for (auto& w : keep) w.join();
    m.mu.lock();
  }
}

void Controller::RunAction(Action a, int64_t audit_id, Duration timeout) {
  Impl& m = *impl_;
  auto start = std::chrono::steady_clock::now();
  LogInfo("recovery: restarting",
          {{"service", a.service}, {"unit", a.unit}, {"attempt", std::to_string(a.attempt)}, {"reason", a.reason}});
  RestartOutcome r = m.o.restart(a.unit, timeout);
  int64_t took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard lock(m.mu);
  // A restart is not done until it is verified: the row says "verifying" until then.
  Status s = m.audit->FinishAction(audit_id, r.ok ? "verifying" : "failed", r.detail, took);
  if (r.ok) m.verifying_rows[a.service] = audit_id;
  if (!s.ok()) LogError("recovery audit write failed", {{"service", a.service}, {"err", s.message()}});
  m.actions_total[{a.service, "restart", r.ok ? "done" : "failed"}]++;
  Log(r.ok ? LogLevel::kInfo : LogLevel::kWarn, "recovery: restart job finished",
      {{"service", a.service}, {"unit", a.unit}, {"result", r.detail}, {"took_ms", std::to_string(took)}});
  m.planner->ActionFinished(a.id, r.ok, r.detail, m.o.clock->NowMs());
  RecordLocked(m.planner->TakeEvents());
  m.poked = true;
  m.cv.notify_all();
}

void Controller::RecordLocked(const std::vector<Event>& events) {
  Impl& m = *impl_;
  for (const auto& e : events) {
    if (e.kind == Event::Kind::kActionStarted) {
      // Already written as the action's row.
    } else {
      AuditEntry a;
      a.time_ms = e.time_ms;
      a.service = e.service;
      a.episode = e.episode;
      a.kind = EventKindName(e.kind);
      if (e.kind == Event::Kind::kSystemdRestart) {
        a.action = "restart";
        a.outcome = "by systemd";
        m.actions_total[{e.service, "restart", "by_systemd"}]++;
      }
      if (e.kind == Event::Kind::kVerified) a.duration_ms = e.mttr.count();
      if (e.kind == Event::Kind::kVerified || e.kind == Event::Kind::kVerifyFailed) {
        if (auto row = m.verifying_rows.find(e.service); row != m.verifying_rows.end()) {
          bool verified = e.kind == Event::Kind::kVerified;
          (void)m.audit->FinishAction(row->second, verified ? "verified" : "verify_failed", verified ? "" : e.detail,
                                      -1);
          m.verifying_rows.erase(row);
        }
      }
      a.detail = e.detail;
      if (e.kind == Event::Kind::kEscalated) {
        for (const auto& line : e.attempts) a.detail += "\n  " + line;
        if (!e.affected.empty()) {
          a.detail += "\n  also down: ";
          for (size_t i = 0; i < e.affected.size(); ++i) a.detail += (i ? ", " : "") + e.affected[i];
        }
      }
      if (Status s = m.audit->Record(a); !s.ok()) {
        LogError("recovery audit write failed", {{"service", e.service}, {"err", s.message()}});
      }
      if (e.kind == Event::Kind::kWaiting && e.detail.rfind("dry-run", 0) == 0) {
        m.actions_total[{e.service, "restart", "dry_run"}]++;
      }
    }
    LogFields fields{{"service", e.service},
                     {"event", EventKindName(e.kind)},
                     {"episode", std::to_string(e.episode)},
                     {"detail", e.detail}};
    if (e.kind == Event::Kind::kEscalated || e.kind == Event::Kind::kVerifyFailed) {
      LogWarn("recovery", fields);
    } else {
      LogInfo("recovery", fields);
    }
    if (m.o.on_event) m.o.on_event(e);
  }
}

bool Controller::KnownService(const std::string& service) const {
  return service == "*" || impl_->specs.count(service) > 0;
}

std::optional<std::string> Controller::HeldReason(const std::string& service) const {
  const Impl& m = *impl_;
  if (m.o.mode == Mode::kOff) return "recovery mode is off";
  TimestampMs now = m.o.clock->NowMs();
  {
    std::lock_guard lock(m.mu);
    for (const std::string& key : {std::string("*"), service}) {
      auto it = m.pauses.find(key);
      if (it != m.pauses.end() && (it->second == 0 || it->second > now)) return "recovery is paused";
    }
  }
  if (!service.empty() && m.o.maintenance) {
    if (auto window = m.o.maintenance(service, now)) return "inside maintenance window " + *window;
  }
  return std::nullopt;
}

Controller::State Controller::Current() const {
  std::lock_guard lock(impl_->mu);
  return State{impl_->o.mode, impl_->pauses, impl_->planner->Status(impl_->o.clock->NowMs()), impl_->o.cleanup};
}

Result<std::vector<AuditEntry>> Controller::History(int limit, const std::string& service) const {
  std::lock_guard lock(impl_->mu);
  return impl_->audit->Recent(limit, service);
}

Status Controller::Pause(const std::string& service_in, Duration for_ms) {
  std::string service = service_in.empty() ? "*" : service_in;
  if (!KnownService(service)) return Status::Error("unknown service \"" + service + "\" (or not managed by recovery)");
  std::lock_guard lock(impl_->mu);
  TimestampMs now = impl_->o.clock->NowMs();
  TimestampMs until = for_ms.count() > 0 ? now + for_ms.count() : 0;
  Status s = impl_->audit->SetPause(service, until);
  if (!s.ok()) return s;
  impl_->pauses[service] = until;
  (void)impl_->audit->Record({0, now, service, 0, "paused", "", "", 0, "",
                              for_ms.count() > 0 ? "for " + FormatDuration(for_ms) : "until resumed", 0});
  impl_->poked = true;
  impl_->cv.notify_all();
  return Status::Ok();
}

Status Controller::Resume(const std::string& service_in) {
  std::string service = service_in.empty() ? "*" : service_in;
  if (!KnownService(service)) return Status::Error("unknown service \"" + service + "\" (or not managed by recovery)");
  std::lock_guard lock(impl_->mu);
  Status s = impl_->audit->ClearPause(service);
  if (!s.ok()) return s;
  impl_->pauses.erase(service);
  (void)impl_->audit->Record({0, impl_->o.clock->NowMs(), service, 0, "resumed", "", "", 0, "", "", 0});
  impl_->poked = true;
  impl_->cv.notify_all();
  return Status::Ok();
}

Status Controller::Reset(const std::string& service) {
  if (service.empty() || service == "*" || !KnownService(service)) {
    return Status::Error("unknown service \"" + service + "\" (or not managed by recovery)");
  }
  std::lock_guard lock(impl_->mu);
  TimestampMs now = impl_->o.clock->NowMs();
  impl_->planner->Reset(service, now);
  (void)impl_->audit->Record({0, now, service, 0, "reset", "", "", 0, "", "attempts forgotten by an operator", 0});
  RecordLocked(impl_->planner->TakeEvents());
  impl_->poked = true;
  impl_->cv.notify_all();
  return Status::Ok();
}

Status Controller::RecordDrill(const DrillResult& d) {
  bool host = d.fault == "fill-disk" && d.service == "host";  // a disk drill is the host's, not a service's
  if (!host && (!KnownService(d.service) || d.service == "*")) {
    return Status::Error("unknown service \"" + d.service + "\"");
  }
  if (d.fault != "kill" && d.fault != "stop" && d.fault != "hang" && d.fault != "fill-disk") {
    return Status::Error("unknown fault \"" + d.fault + "\" (kill, stop, hang, fill-disk)");
  }
  auto seconds = [](double v) { return v < 0 ? std::string("not seen") : std::to_string(v) + "s"; };
  std::lock_guard lock(impl_->mu);
  Status s = impl_->audit->Record({0, impl_->o.clock->NowMs(), d.service, 0, "drill", d.fault, "", 0, "",
                                   "detected " + seconds(d.detect_seconds) + ", notified " + seconds(d.notify_seconds) +
                                       ", recovered " + seconds(d.recover_seconds),
                                   static_cast<int64_t>(d.recover_seconds * 1000)});
  if (!s.ok()) return s;
  impl_->drills[{d.service, d.fault}] = d;
  return Status::Ok();
}

void Controller::AppendMetrics(MetricBatch& out) const {
  std::lock_guard lock(impl_->mu);
  const Impl& m = *impl_;
  for (const auto& [key, n] : m.actions_total) {
    const auto& [service, action, outcome] = key;
    out.AddCounter("vigil_recovery_actions_total", "Recovery actions by service, action and outcome.",
                   Labels{{"action", action}, {"outcome", outcome}, {"service", service}}, static_cast<double>(n));
  }
  for (const auto& st : m.planner->Status(m.o.clock->NowMs())) {
    Labels l{{"service", st.service}};
    out.AddGauge("vigil_recovery_budget_remaining", "Restart attempts left in the current window.", l,
                 st.budget_remaining);
    out.AddGauge("vigil_recovery_escalated", "1 while a service's recovery has failed and a person is needed.", l,
                 st.escalated ? 1 : 0);
    out.AddGauge("vigil_recovery_in_progress", "1 while vigil is recovering the service (acting or verifying).", l,
                 st.phase == "acting" || st.phase == "verifying" || st.phase == "stabilizing" ? 1 : 0);
    if (st.last_mttr) {
      out.AddGauge("vigil_recovery_last_mttr_seconds", "Time from the last fault to verified health.", l,
                   static_cast<double>(st.last_mttr->count()) / 1000.0);
    }
    bool paused = m.pauses.count("*") || m.pauses.count(st.service);
    out.AddGauge("vigil_recovery_paused", "1 while recovery of the service is paused.", l, paused ? 1 : 0);
  }
  for (const auto& [key, d] : m.drills) {
    Labels l{{"fault", d.fault}, {"service", d.service}};
    auto add = [&](const char* name, const char* help, double v) {
      if (v >= 0) out.AddGauge(name, help, l, v);
    };
    add("vigil_drill_last_detect_seconds", "The last drill's time from the injected fault to a firing alert.",
        d.detect_seconds);
    add("vigil_drill_last_notify_seconds", "The last drill's time from the injected fault to a delivered notification.",
        d.notify_seconds);
    add("vigil_drill_last_recover_seconds", "The last drill's time from the injected fault to verified health.",
        d.recover_seconds);
  }
  for (Mode mode : {Mode::kEnforce, Mode::kDryRun, Mode::kOff}) {
    out.AddGauge("vigil_recovery_mode", "The recovery mode (1 for the current one).", Labels{{"mode", ModeName(mode)}},
                 m.o.mode == mode ? 1 : 0);
  }
}

}  // namespace vigil::recovery
