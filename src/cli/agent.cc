#include "cli/agent.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "api/api.h"
#include "base/log.h"
#include "cli/build_info.h"
#include "cli/service_collectors.h"
#include "collect/host/host_collector.h"
#include "collect/scheduler.h"
#include "collect/self/self_collector.h"
#include "collect/storage_sink.h"
#include "collect/textfile/textfile_collector.h"
#include "config/config.h"
#include "http/server.h"
#include "logs/log_collector.h"
#include "notify/api.h"
#include "notify/notifier.h"
#include "process/process.h"
#include "promql/engine.h"
#include "rules/manager.h"
#include "rules/state_store.h"
#include "systemd/monitor.h"
#include "tsdb/tsdb.h"

namespace vigil::cli {
namespace {

config::LoadResult Load(const RunOptions& options) {
  config::LoadResult r = options.config_path ? config::LoadFile(*options.config_path) : config::LoadDefault();
  if (options.data_dir) r.config.global.data_dir = *options.data_dir;
  if (options.listen) r.config.global.listen = *options.listen;
  return r;
}

LogLevel ParseLevel(const std::string& level) {
  if (level == "debug") return LogLevel::kDebug;
  if (level == "warn") return LogLevel::kWarn;
  if (level == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

// Counts the events collectors publish (systemd state changes, probe
// verdicts) and hands them to the rule manager, which evaluates at once the
// groups reading the changed metrics; the debug line carries the latency.
class EventCounter final : public collect::EventSink {
 public:
  explicit EventCounter(const Clock& clock) : clock_(clock) {}

  // Where events go besides the counters; null: nowhere.
  void SetRules(rules::Manager* rules) {
    std::lock_guard lock(mu_);
    rules_ = rules;
  }

  void Publish(const collect::Event& e) override {
    rules::Manager* rules = nullptr;
    {
      std::lock_guard lock(mu_);
      ++counts_[e.source];
      rules = rules_;
    }
    // Outside the lock: the manager may be mid-evaluation. It outlives every
    // publisher (collectors stop before it does).
    if (rules) rules->NotifyMetricsChanged({e.metric_names.begin(), e.metric_names.end()});
    std::string names;
    for (const auto& n : e.metric_names) names += (names.empty() ? "" : ",") + n;
    LogDebug("event", {{"source", e.source},
                       {"metrics", names},
                       {"event_unix_ms", std::to_string(e.time_ms)},
                       {"latency_ms", std::to_string(std::max<TimestampMs>(0, clock_.NowMs() - e.time_ms))}});
  }

  // Makes `source` appear from 0 before its first event.
  void Declare(const std::string& source) {
    std::lock_guard lock(mu_);
    counts_.try_emplace(source, 0);
  }

  void AppendMetrics(MetricBatch& out) const {
    std::lock_guard lock(mu_);
    for (const auto& [source, n] : counts_) {
      out.AddCounter("vigil_events_total", "Change events published by collectors, by source.",
                     Labels{{"source", source}}, static_cast<double>(n));
    }
  }

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counts_;
  rules::Manager* rules_ = nullptr;
};

// What BuildCollectors creates besides the scheduled list.
struct Wiring {
  std::shared_ptr<systemd::Monitor> systemd;  // null when no service names a unit
};

// The one place that knows every collector: add new ones here.
std::vector<collect::ScheduledCollector> BuildCollectors(const config::Config& c,
                                                         std::shared_ptr<collect::Collector> self, const Clock& clock,
                                                         EventCounter* events, collect::BatchSink* storage,
                                                         Wiring* wiring) {
  std::vector<collect::ScheduledCollector> out;
  // vigil's own metrics are stored on the default interval; /metrics renders them fresh.
  Duration self_timeout = std::min(c.global.scrape_interval, Duration(10000));
  out.push_back({std::move(self), c.global.scrape_interval, self_timeout, /*expose=*/false});
  if (c.host.enabled) {
    collect::HostCollectorOptions o;
    o.exclude_mountpoints = c.host.exclude_mountpoints;
    o.exclude_fstypes = c.host.exclude_fstypes;
    o.exclude_disks = c.host.exclude_disks;
    o.exclude_network_devices = c.host.exclude_network_devices;
    o.report_textfile_scrape_error = c.textfile.directory.empty();
    out.push_back({collect::NewHostCollector(std::move(o)), c.host.interval, c.host.timeout});
  }
  ServiceCollectors services = BuildServiceCollectors(c, clock, events);
  if (!services.scheduled.empty()) events->Declare("probe");
  systemd::MonitorOptions mo;
  mo.bus = c.systemd && c.systemd->bus == config::BusKind::kUser ? systemd::Bus::kUser : systemd::Bus::kSystem;
  for (const auto& s : c.services) {
    if (!s.unit.empty()) mo.units.push_back({s.unit, s.name});
  }
  if (!mo.units.empty()) {
    mo.refresh_interval = c.global.scrape_interval;
    mo.clock = &clock;
    mo.events = events;
    mo.storage = storage;
    // vigil_service_up = unit active AND the service's probes pass.
    mo.probes_ok = [health = services.health](std::string_view service) { return health->ProbesOk(service); };
    events->Declare("systemd");
    wiring->systemd = systemd::Monitor::Start(std::move(mo));
    // Unit states are recorded on every change by the monitor itself; the
    // scheduled run re-records them and feeds the collector's own metrics.
    collect::ScheduledCollector sc{wiring->systemd, c.global.scrape_interval,
                                   std::min(c.global.scrape_interval, Duration(10000)), /*expose=*/false};
    sc.store = false;
    out.push_back(std::move(sc));
  }
  process::ProcessCollectorOptions po;
  for (const auto& s : c.services) {
    if (s.processes) po.services.push_back({s.name, s.processes->match, s.processes->expect});
  }
  if (!po.services.empty() || wiring->systemd) {
    if (auto monitor = wiring->systemd) {
      po.main_processes = [monitor] {
        std::vector<process::UnitProcess> out;
        for (const auto& m : monitor->MainProcesses()) out.push_back({m.unit, m.service, m.pid});
        return out;
      };
    }
    out.push_back({process::NewProcessCollector(std::move(po)), c.global.scrape_interval,
                   std::min(c.global.scrape_interval, Duration(10000))});
  }
  for (auto& sc : services.scheduled) out.push_back(std::move(sc));
  if (!c.textfile.directory.empty()) {
    out.push_back({collect::NewTextfileCollector({c.textfile.directory}), c.global.scrape_interval,
                   std::min(c.global.scrape_interval, Duration(10000))});
  }
  // One collector per followed log, so a huge or stuck log never delays another.
  for (const auto& s : c.services) {
    for (const auto& l : s.logs) {
      logs::LogCollectorOptions lo;
      lo.service = s.name;
      lo.path = l.path;
      lo.journal_unit = l.journal_unit;
      for (const auto& r : l.counters) lo.rules.counters.push_back({r.name, r.match});
      for (const auto& r : l.gauges) lo.rules.gauges.push_back({r.name, r.match});
      for (const auto& r : l.states) lo.rules.states.push_back({r.name, r.on, r.off});
      lo.state_dir = c.global.data_dir + "/logs";
      lo.events = events;
      lo.storage = storage;
      auto collector = logs::NewLogCollector(std::move(lo));
      if (!collector.ok()) {  // the config loader checked the rules; this is a bug if it happens
        LogError("log collector not started", {{"service", s.name}, {"err", collector.status().message()}});
        continue;
      }
      events->Declare(std::string((*collector)->name()));
      collect::ScheduledCollector sc{std::move(*collector), l.interval, l.timeout};
      sc.store = storage == nullptr;  // otherwise it stores its batches itself, before publishing state changes
      out.push_back(std::move(sc));
    }
  }
  return out;
}

// The job and instance each collector's stored series carry, as a Prometheus
// scraping the same data would attach them (docs/configuration.md, `global`).
collect::TargetLabels TargetLabelsFor(const config::Config& c) {
  collect::TargetLabels t;
  t.instance = c.global.instance;
  if (t.instance.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) t.instance = host;
  }
  t.default_job = c.global.job;
  // What node_exporter exposes goes under the host job; host and self report up.
  t.collectors["host"] = {c.host.job, /*reports_up=*/true};
  t.collectors["systemd"] = {c.host.job, false};
  t.collectors["textfile"] = {c.host.job, false};
  t.collectors["self"] = {c.global.job, true, c.host.enabled ? c.host.job : ""};
  for (const auto& s : c.scrape) t.collectors["scrape/" + s.job] = {"", false};  // labelled by the scrape
  return t;
}

// Reload bookkeeping exposed like Prometheus's prometheus_config_last_reload_*.
struct ReloadState {
  bool last_successful = true;
  double last_success_seconds = 0;
};

class Agent {
 public:
  Agent(RunOptions options, config::Config config)
      : options_(std::move(options)),
        config_(std::move(config)),
        self_(collect::NewSelfCollector(GetBuildInfo(), [this](MetricBatch& out) { AppendAgentMetrics(out); })) {}

  int Run() {
    std::error_code ec;
    std::filesystem::create_directories(config_.global.data_dir, ec);
    if (ec) {
      std::fprintf(stderr, "data dir %s: %s\n", config_.global.data_dir.c_str(), ec.message().c_str());
      return 1;
    }
    tsdb::Options topts;
    topts.dir = config_.global.data_dir + "/tsdb";
    topts.retention = config_.storage.retention;
    topts.max_bytes = config_.storage.max_bytes;
    topts.wal_fsync = config_.storage.wal_fsync;
    topts.block_range = config_.storage.block_range;
    auto db = tsdb::DB::Open(topts);
    if (!db.ok()) {
      std::fprintf(stderr, "storage %s: %s\n", topts.dir.c_str(), db.status().message().c_str());
      return 1;
    }
    db_ = std::move(*db);
    sink_ = std::make_unique<collect::StorageSink>(db_.get(), TargetLabelsFor(config_));
    if (!StartNotifier() || !StartRules()) {
      if (notifier_) notifier_->Stop();
      (void)db_->Close();
      return 1;
    }
    StartScheduler(config_);
    reload_.last_success_seconds = static_cast<double>(clock_.NowMs()) / 1000.0;

    http::Endpoints endpoints;
    endpoints.gather_metrics = [this] { return Gather(); };
    endpoints.ready = [this] {
      std::lock_guard lock(mu_);
      return scheduler_->WaitForFirstRound(Duration(0));
    };
    // More specific prefixes first: /api/v1/notifications before the API's /api/v1/.
    for (auto& r : notify::NewApiRoutes(notifier_.get(), &clock_)) endpoints.routes.push_back(std::move(r));
    endpoints.routes.push_back(api::NewRoute(ApiOptions()));
    auto server = http::StartServer(config_.global.listen, std::move(endpoints));
    if (!server.ok()) {
      std::fprintf(stderr, "%s\n", server.status().message().c_str());
      LogError("cannot start HTTP server", {{"err", server.status().message()}});
      StopScheduler();
      events_.SetRules(nullptr);
      rules_->Stop();
      if (notifier_) notifier_->Stop();
      return 1;
    }
    http::HostPort bound = (*server)->bound();
    LogInfo("vigil started", {{"version", GetBuildInfo().version},
                              {"config", config_.source},
                              {"listen", bound.host + ":" + std::to_string(bound.port)},
                              {"data_dir", config_.global.data_dir}});

    WaitForSignals();

    LogInfo("shutting down");
    (*server)->Stop();
    StopScheduler();
    events_.SetRules(nullptr);
    rules_->Stop();
    if (notifier_) notifier_->Stop();
    if (Status s = db_->Close(); !s.ok()) LogError("closing storage failed", {{"err", s.message()}});
    LogInfo("shutdown complete");
    return 0;
  }

 private:
  promql::QuerierFactory Storage() {
    return [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints& hints) {
      return db_->NewQuerier(mint, maxt, hints);
    };
  }

  promql::EngineOptions EngineOptions() const {
    promql::EngineOptions e;
    if (options_.query_lookback_delta) e.lookback_delta = *options_.query_lookback_delta;
    if (options_.query_max_samples) e.max_samples = *options_.query_max_samples;
    if (options_.query_timeout) e.timeout = *options_.query_timeout;
    return e;
  }

  // Notifications leave through the durable outbox in <data_dir>/state.db.
  // Without an `alerting` section alerts are evaluated, shown and silenced,
  // not sent; a reload may add one.
  bool StartNotifier() {
    notify::NotifierOptions no;
    no.alerting = config_.alerting.value_or(config::AlertingOptions{});
    no.depends_on = DependsOn(config_);
    no.outbox_path = config_.global.data_dir + "/state.db";
    no.context.external_url = "http://" + config_.global.listen;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) no.context.host = host;
    no.clock = &clock_;
    auto n = notify::Notifier::Start(std::move(no));
    if (!n.ok()) {
      std::fprintf(stderr, "alerting: %s\n", n.status().message().c_str());
      return false;
    }
    notifier_ = std::move(*n);
    return true;
  }

  static std::map<std::string, std::vector<std::string>> DependsOn(const config::Config& c) {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& s : c.services) out[s.name] = s.depends_on;
    return out;
  }

  // Alert state lives in <data_dir>/state.db so pending and firing alerts
  // resume after a restart. A bad rule file at start is fatal, as a bad config.
  bool StartRules() {
    std::string state_path = config_.global.data_dir + "/state.db";
    auto store = rules::AlertStateStore::Open(state_path);
    if (!store.ok()) {
      std::fprintf(stderr, "state %s: %s\n", state_path.c_str(), store.status().message().c_str());
      return false;
    }
    state_store_ = std::move(*store);
    engine_ = std::make_unique<promql::Engine>(EngineOptions());
    rules::ManagerOptions mo;
    mo.engine = engine_.get();
    mo.querier = Storage();
    mo.appender = [this] { return db_->NewAppender(); };
    mo.clock = &clock_;
    mo.default_interval = config_.global.evaluation_interval;
    for (const auto& [name, value] : config_.global.external_labels) mo.external_labels.Set(name, value);
    mo.state_store = state_store_.get();
    mo.notify = [n = notifier_.get()](const std::vector<rules::Alert>& alerts) {
      std::vector<notify::AlertUpdate> updates;
      for (const auto& a : alerts) {
        notify::AlertUpdate u;
        u.labels = a.labels;
        for (const auto& [k, v] : a.annotations) u.annotations.Set(k, v);
        u.starts_at = a.fired_at != 0 ? a.fired_at : a.active_at;
        u.ends_at = a.state == rules::AlertState::kInactive ? a.resolved_at : 0;
        u.value = a.value;
        updates.push_back(std::move(u));
      }
      n->Update(std::move(updates));
    };
    rules_ = std::make_unique<rules::Manager>(std::move(mo));
    rules::LoadResult loaded = rules_->Load(config_.rule_file_patterns);
    if (!loaded.ok()) {
      for (const auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
      return false;
    }
    rules_->Start();
    events_.SetRules(rules_.get());
    return true;
  }

  api::Options ApiOptions() {
    api::Options o;
    o.storage = Storage();
    o.engine = EngineOptions();
    o.rules = rules_.get();
    o.metric_families = [this] { return Gather(); };
    collect::BuildInfo b = GetBuildInfo();
    o.build = api::BuildInfo{b.version, b.revision, "", "", "", b.compiler};
    o.clock = &clock_;
    return o;
  }

  void WaitForSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        Reload();
        continue;
      }
      LogInfo("received signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      return;
    }
  }

  void Reload() {
    LogInfo("reloading configuration", {{"config", options_.config_path.value_or("<built-in>")}});
    config::LoadResult r = Load(options_);
    if (!r.ok()) {
      for (const auto& p : r.problems) {
        LogError("configuration reload failed; keeping the running configuration", {{"err", p.ToString()}});
      }
      std::lock_guard lock(mu_);
      reload_.last_successful = false;
      return;
    }
    if (r.config.global.listen != config_.global.listen || r.config.global.data_dir != config_.global.data_dir ||
        r.config.storage.retention != config_.storage.retention ||
        r.config.storage.max_bytes != config_.storage.max_bytes ||
        r.config.storage.wal_fsync != config_.storage.wal_fsync ||
        r.config.storage.block_range != config_.storage.block_range) {
      LogWarn("global.listen, global.data_dir and storage settings take effect only after a restart",
              {{"listen", config_.global.listen}, {"data_dir", config_.global.data_dir}});
      r.config.global.listen = config_.global.listen;
      r.config.global.data_dir = config_.global.data_dir;
      r.config.storage = config_.storage;
    }
    // Rule files are re-read on every reload: their content may have changed.
    if (rules::LoadResult loaded = rules_->Load(r.config.rule_file_patterns); !loaded.ok()) {
      for (const auto& p : loaded.problems) {
        LogError("rule files reload failed; keeping the running configuration and rules", {{"err", p.ToString()}});
      }
      std::lock_guard lock(mu_);
      reload_.last_successful = false;
      return;
    }
    // Checked before anything changes; the notifier keeps its alerts and log.
    if (Status s = notifier_->Reload(r.config.alerting.value_or(config::AlertingOptions{}), DependsOn(r.config));
        !s.ok()) {
      LogError("alerting reload failed; keeping the running configuration", {{"err", s.message()}});
      std::lock_guard lock(mu_);
      reload_.last_successful = false;
      return;
    }
    StopScheduler();
    config_ = std::move(r.config);
    sink_->SetTargets(TargetLabelsFor(config_));
    StartScheduler(config_);
    std::lock_guard lock(mu_);
    reload_.last_successful = true;
    reload_.last_success_seconds = static_cast<double>(clock_.NowMs()) / 1000.0;
    LogInfo("configuration reloaded");
  }

  void StartScheduler(const config::Config& c) {
    SetLogLevel(ParseLevel(c.global.log_level));
    Wiring wiring;
    auto s = std::make_shared<collect::Scheduler>(
        clock_, BuildCollectors(c, self_, clock_, &events_, sink_.get(), &wiring), sink_.get());
    s->Start();
    std::lock_guard lock(mu_);
    scheduler_ = std::move(s);
    systemd_ = std::move(wiring.systemd);
  }

  void StopScheduler() {
    std::shared_ptr<collect::Scheduler> s;
    std::shared_ptr<systemd::Monitor> monitor;
    {
      std::lock_guard lock(mu_);
      s = scheduler_;
      monitor = systemd_;
    }
    if (s) s->Stop(Duration(1000));
    // Its thread writes to storage, so it stops before the store closes.
    if (monitor) monitor->Stop();
  }

  std::vector<std::shared_ptr<const MetricBatch>> Gather() {
    std::shared_ptr<collect::Scheduler> s;
    std::shared_ptr<systemd::Monitor> monitor;
    {
      std::lock_guard lock(mu_);
      s = scheduler_;
      monitor = systemd_;
    }
    std::vector<std::shared_ptr<const MetricBatch>> out = s->Latest();
    // Unit states change between runs (signals): show the cached state as of now.
    if (monitor) {
      auto units = std::make_shared<MetricBatch>();
      monitor->Render(*units);
      out.push_back(std::move(units));
    }
    auto own = std::make_shared<MetricBatch>();
    // vigil's own metrics are read at scrape time so they are current.
    (void)self_->Collect(collect::CollectContext{clock_.NowMs(), {}}, *own);
    out.push_back(std::move(own));
    return out;
  }

  // The agent's own state, for the self collector (stored and on /metrics).
  void AppendAgentMetrics(MetricBatch& out) {
    std::shared_ptr<collect::Scheduler> s;
    ReloadState reload;
    {
      std::lock_guard lock(mu_);
      s = scheduler_;
      reload = reload_;
    }
    if (s) s->AppendSelfMetrics(out);
    events_.AppendMetrics(out);
    if (rules_) rules_->AppendSelfMetrics(out);
    if (notifier_) notifier_->AppendMetrics(out);
    out.AddGauge("vigil_config_last_reload_successful", "Whether the last configuration reload attempt was successful.",
                 {}, reload.last_successful ? 1 : 0);
    out.AddGauge("vigil_config_last_reload_success_timestamp_seconds",
                 "Timestamp of the last successful configuration reload.", {}, reload.last_success_seconds);
    if (!db_) return;
    tsdb::Stats st = db_->GetStats();
    out.AddGauge("vigil_tsdb_head_series", "Series in the head (recent data in memory).", {},
                 static_cast<double>(st.head_series));
    out.AddGauge("vigil_tsdb_head_samples", "Samples in the head.", {}, static_cast<double>(st.head_samples));
    out.AddGauge("vigil_tsdb_blocks_loaded", "Persisted blocks.", {}, static_cast<double>(st.blocks.size()));
    out.AddGauge("vigil_tsdb_storage_blocks_bytes", "Bytes of persisted blocks.", {},
                 static_cast<double>(st.blocks_bytes));
    out.AddGauge("vigil_tsdb_wal_storage_size_bytes", "Bytes of WAL segments and checkpoints.", {},
                 static_cast<double>(st.wal_bytes));
    out.AddCounter("vigil_tsdb_out_of_order_samples_total", "Samples rejected for being older than the series' last.",
                   {}, static_cast<double>(st.out_of_order_total));
    out.AddCounter("vigil_tsdb_duplicate_samples_total", "Samples rejected for repeating the series' last timestamp.",
                   {}, static_cast<double>(st.duplicate_total));
    out.AddCounter("vigil_tsdb_wal_write_errors_total", "Failed WAL writes (disk full, I/O error).", {},
                   static_cast<double>(st.write_errors_total));
    out.AddGauge("vigil_tsdb_writes_failing", "1 while the last WAL write failed: data is kept in memory only.", {},
                 st.writes_failing ? 1 : 0);
  }

  RunOptions options_;
  config::Config config_;
  SystemClock clock_;
  std::mutex mu_;  // guards scheduler_ and reload_
  std::shared_ptr<collect::Scheduler> scheduler_;
  std::shared_ptr<systemd::Monitor> systemd_;
  EventCounter events_{clock_};
  ReloadState reload_;
  std::unique_ptr<tsdb::DB> db_;
  std::unique_ptr<collect::StorageSink> sink_;
  std::unique_ptr<rules::AlertStateStore> state_store_;
  std::unique_ptr<notify::Notifier> notifier_;
  std::unique_ptr<promql::Engine> engine_;
  std::unique_ptr<rules::Manager> rules_;
  std::shared_ptr<collect::Collector> self_;
};

}  // namespace

int RunAgent(const RunOptions& options) {
  // Signals are taken synchronously by the main thread; block them before any
  // other thread exists so every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  config::LoadResult r = Load(options);
  if (!r.ok()) {
    for (const auto& p : r.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    return 1;
  }
  Agent agent(options, std::move(r.config));
  return agent.Run();
}

}  // namespace vigil::cli
