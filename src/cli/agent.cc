#include "cli/agent.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "api/api.h"
#include "base/log.h"
#include "base/severity.h"
#include "cli/backup.h"
#include "cli/build_info.h"
#include "cli/incident_commands.h"
#include "cli/report_commands.h"
#include "cli/service_collectors.h"
#include "cli/sla_commands.h"
#include "collect/host/host_collector.h"
#include "collect/scheduler.h"
#include "collect/self/self_collector.h"
#include "collect/storage_sink.h"
#include "collect/textfile/textfile_collector.h"
#include "config/config.h"
#include "http/outbound.h"
#include "http/server.h"
#include "incidents/api.h"
#include "incidents/capacity.h"
#include "incidents/degradation.h"
#include "incidents/digest.h"
#include "incidents/incident_store.h"
#include "logs/log_collector.h"
#include "notify/api.h"
#include "notify/notifier.h"
#include "process/process.h"
#include "promql/engine.h"
#include "recovery/api.h"
#include "recovery/controller.h"
#include "recovery/host_actions.h"
#include "remote/remote_write.h"
#include "rules/manager.h"
#include "rules/state_store.h"
#include "status/status.h"
#include "systemd/control.h"
#include "systemd/monitor.h"
#include "tsdb/tsdb.h"
#include "watchdog/watchdog.h"
#include "web/web.h"

namespace vigil::cli {
namespace {

config::LoadResult Load(const RunOptions& options) {
  config::LoadResult r = options.config_path ? config::LoadFile(*options.config_path) : config::LoadDefault();
  if (options.data_dir) r.config.global.data_dir = *options.data_dir;
  if (options.listen) r.config.global.listen = *options.listen;
  return r;
}

// The web configuration file as the HTTP server takes it.
http::AccessOptions AccessOf(const config::WebConfig& web) {
  http::AccessOptions a;
  a.users = web.basic_auth_users;
  a.protect_reads = web.protect_reads;
  a.headers = web.headers;
  if (web.tls) {
    using V = http::TlsOptions::Version;
    using C = http::TlsOptions::ClientAuth;
    auto version = [](const std::string& v) {
      return v == "TLS10" ? V::kTls10 : v == "TLS11" ? V::kTls11 : v == "TLS13" ? V::kTls13 : V::kTls12;
    };
    const std::string& auth = web.tls->client_auth_type;
    a.tls = http::TlsOptions{
        .cert_file = web.tls->cert_file,
        .key_file = web.tls->key_file,
        .client_ca_file = web.tls->client_ca_file,
        .client_auth = auth == "RequestClientCert"            ? C::kRequest
                       : auth == "RequireAnyClientCert"       ? C::kRequireAny
                       : auth == "VerifyClientCertIfGiven"    ? C::kVerifyIfGiven
                       : auth == "RequireAndVerifyClientCert" ? C::kRequireAndVerify
                                                              : C::kNone,
        .min_version = version(web.tls->min_version),
        .max_version = version(web.tls->max_version),
    };
  }
  return a;
}

// Silences, posted alerts and recovery controls must not be open to the
// network: a listener beyond loopback needs accounts or verified client
// certificates, unless the operator says --web.insecure.
Status CheckExposure(const std::string& listen, const http::AccessOptions& access, bool insecure) {
  Result<http::HostPort> hp = http::ParseListenAddress(listen);
  if (!hp.ok()) return hp.status();
  if (insecure || http::IsLoopbackHost(hp->host)) return Status::Ok();
  bool client_certs = access.tls && access.tls->client_auth == http::TlsOptions::ClientAuth::kRequireAndVerify;
  if (!access.users.empty() || client_certs) return Status::Ok();
  return Status::Error("refusing to listen on " + listen +
                       " without authentication: anyone who reaches it could silence pages and trigger recovery. "
                       "Set basic_auth_users (or client certificates) in a --web.config.file, listen on "
                       "127.0.0.1, or pass --web.insecure");
}

// Reads --web.config.file; no file: plain HTTP without accounts.
Result<config::WebConfig> LoadWebConfig(const RunOptions& options) {
  if (!options.web_config_file) return config::WebConfig{};
  config::WebConfigResult r = config::LoadWebConfigFile(*options.web_config_file);
  if (!r.ok()) {
    std::string all;
    for (const auto& p : r.problems) all += (all.empty() ? "" : "\n") + p.ToString();
    return Status::Error(all);
  }
  return std::move(r.config);
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
  void SetRecovery(recovery::Controller* recovery) {
    std::lock_guard lock(mu_);
    recovery_ = recovery;
  }
  // Told of every change at its time (the SLA ledger); set before collectors start.
  void SetStateObserver(std::function<void(TimestampMs)> observer) {
    std::lock_guard lock(mu_);
    state_observer_ = std::move(observer);
  }
  // Open web pages: told of every change so they refresh within a second.
  void SetLive(web::LiveEvents* live) {
    std::lock_guard lock(mu_);
    live_ = live;
  }

  void Publish(const collect::Event& e) override {
    rules::Manager* rules = nullptr;
    recovery::Controller* recovery = nullptr;
    web::LiveEvents* live = nullptr;
    std::function<void(TimestampMs)> observer;
    {
      std::lock_guard lock(mu_);
      ++counts_[e.source];
      rules = rules_;
      recovery = recovery_;
      live = live_;
      observer = state_observer_;
    }
    if (observer && (e.source == "systemd" || e.source == "probe")) observer(e.time_ms);
    // Outside the lock: the manager may be mid-evaluation. It outlives every
    // publisher (collectors stop before it does).
    if (rules) rules->NotifyMetricsChanged({e.metric_names.begin(), e.metric_names.end()});
    if (recovery) recovery->Poke();
    std::string names;
    for (const auto& n : e.metric_names) names += (names.empty() ? "" : ",") + n;
    if (live) {
      // Metric and source names are identifiers: no JSON escaping needed.
      std::string metrics;
      for (const auto& n : e.metric_names) metrics += (metrics.empty() ? "\"" : ",\"") + n + "\"";
      live->Publish("change", "{\"source\":\"" + e.source + "\",\"metrics\":[" + metrics +
                                  "],\"time\":" + std::to_string(e.time_ms) + "}");
    }
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
  recovery::Controller* recovery_ = nullptr;
  web::LiveEvents* live_ = nullptr;
  std::function<void(TimestampMs)> state_observer_;
};

// What BuildCollectors creates besides the scheduled list.
struct Wiring {
  std::shared_ptr<systemd::Monitor> systemd;  // null when no service names a unit
  std::shared_ptr<ServiceHealth> health;      // the services' probe verdicts
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
  wiring->health = services.health;
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
    mo.probes_ok = [health = services.health](std::string_view service, TimestampMs since_ms) {
      return health->ProbesOk(service, since_ms);
    };
    events->Declare("systemd");
    wiring->systemd = systemd::Monitor::Start(std::move(mo));
    services.health->SetOnCheck([monitor = std::weak_ptr<systemd::Monitor>(wiring->systemd)] {
      if (auto m = monitor.lock()) m->HealthChanged();
    });
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

// The configured baselines as the degradation collector takes them; the
// config has already checked every field.
std::vector<incidents::BaselineSpec> BaselineSpecsFor(const config::Config& c) {
  std::vector<incidents::BaselineSpec> out;
  for (const config::BaselineOptions& b : c.baselines) {
    incidents::BaselineSpec spec;
    spec.name = b.name;
    spec.expr = b.expr;
    spec.history = b.history;
    spec.model.season = b.season == "weekly" ? incidents::Season::kWeekly : incidents::Season::kDaily;
    spec.model.bucket_seconds = static_cast<double>(b.bucket.count()) / 1000;
    spec.model.tolerance = b.tolerance;
    spec.model.min_width = b.min_width;
    spec.direction = b.direction == "down"   ? incidents::BaselineDirection::kDown
                     : b.direction == "both" ? incidents::BaselineDirection::kBoth
                                             : incidents::BaselineDirection::kUp;
    out.push_back(std::move(spec));
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
  // A baseline's series keep the labels of the series it learned (job and instance included).
  t.collectors["baselines"] = {"", false};
  return t;
}

// Reload bookkeeping exposed like Prometheus's prometheus_config_last_reload_*.
struct ReloadState {
  bool last_successful = true;
  double last_success_seconds = 0;
};

class Agent {
 public:
  Agent(RunOptions options, config::Config config, http::AccessOptions access)
      : options_(std::move(options)),
        config_(std::move(config)),
        access_(std::move(access)),
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
    CreateRemoteWriters(topts.dir + "/wal");
    // Segments a remote-write target has not had acknowledged stay in place.
    topts.wal_held_from = [this] {
      int from = INT_MAX;
      for (const auto& w : remote_writers_) from = std::min(from, w->HeldFrom());
      return from;
    };
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
    range_cache_ = std::make_shared<promql::RangeCache>(
        promql::RangeCacheOptions{}, promql::StoreVersion{[db = db_.get()] { return db->Generation(); },
                                                          [db = db_.get()](TimestampMs t) { db->WatchUpTo(t); }});
    sink_ = std::make_unique<collect::StorageSink>(db_.get(), TargetLabelsFor(config_));
    progress_sink_ = watchdog::NewProgressSink(sink_.get(), watchdog_.Heartbeat(watchdog::kCollection),
                                               watchdog_.Heartbeat(watchdog::kStorage));
    if (!StartNotifier() || !StartRules()) {
      if (notifier_) notifier_->Stop();
      (void)db_->Close();
      return 1;
    }
    for (auto& w : remote_writers_) w->Start();
    OpenSlaLedger();
    StartScheduler(config_);
    if (!StartRecovery(config_)) {
      StopScheduler();
      events_.SetRules(nullptr);
      rules_->Stop();
      if (notifier_) notifier_->Stop();
      return 1;
    }
    reload_.last_success_seconds = static_cast<double>(clock_.NowMs()) / 1000.0;

    http::Endpoints endpoints;
    endpoints.gather_metrics = [this] { return Gather(); };
    // Ready once the first collection round is done, and from then on: a
    // reload's new scheduler starting its own first round is no outage.
    endpoints.ready = [this] {
      if (ready_.load()) return true;
      std::lock_guard lock(mu_);
      if (scheduler_->WaitForFirstRound(Duration(0))) ready_ = true;
      return ready_.load();
    };
    // More specific prefixes first: /api/v1/notifications before the API's /api/v1/.
    for (auto& r : notify::NewApiRoutes(notifier_.get(), &clock_)) endpoints.routes.push_back(std::move(r));
    endpoints.routes.push_back(recovery::NewApiRoute([this] {
      std::lock_guard lock(mu_);
      return recovery_;
    }));
    endpoints.routes.push_back(live_.NewRoute());
    endpoints.routes.push_back(NewAdminRoute(db_.get(), config_.global.data_dir));
    endpoints.routes.push_back(incidents::NewApiRoute(sla_.get(), &clock_));
    endpoints.routes.push_back(
        incidents::NewIncidentsRoute(incidents_.get(), &clock_, [this](const incidents::Incident& inc) {
          return incidents::IncidentCharts(inc, Storage(), EngineOptions(), clock_.NowMs());
        }));
    // /api/v1/status before the API's /api/v1/, which still answers /api/v1/status/….
    endpoints.routes.push_back(incidents::NewCapacityRoute(Capacity()));
    // Copies: a reload replaces config_ while a report is built (neither setting changes without a restart).
    report_state_db_ = config_.global.data_dir + "/state.db";
    report_url_ = "http://" + config_.global.listen + "/api/v1/report?format=md";
    endpoints.routes.push_back(incidents::NewReportRoute(
        [this](incidents::TimeRange range) { return GatherDigest(DigestSourcesNow(), range, clock_.NowMs()); },
        [this](const incidents::DigestInput& in) { return SendDigest(in); }, &clock_));
    http::Route api_route = api::NewRoute(ApiOptions());
    endpoints.routes.push_back(status::NewRoute(StatusOptions(), api_route.handler));
    endpoints.routes.push_back(std::move(api_route));
    endpoints.routes.push_back(web::NewUiRoute());  // prefix "/": last
    endpoints.serves_root = true;
    events_.SetLive(&live_);
    auto server = http::StartServer(config_.global.listen, std::move(endpoints), {}, access_);
    if (!server.ok()) {
      std::fprintf(stderr, "%s\n", server.status().message().c_str());
      LogError("cannot start HTTP server", {{"err", server.status().message()}});
      StopRecovery();
      StopScheduler();
      events_.SetRules(nullptr);
      rules_->Stop();
      if (notifier_) notifier_->Stop();
      return 1;
    }
    {
      std::lock_guard lock(mu_);
      http_server_ = server->get();
    }
    StartDigest();
    http::HostPort bound = (*server)->bound();
    LogInfo("vigil started", {{"version", GetBuildInfo().version},
                              {"config", config_.source},
                              {"listen", bound.host + ":" + std::to_string(bound.port)},
                              {"data_dir", config_.global.data_dir}});
    // For the person at the terminal, beside the structured line above.
    const bool ipv6 = bound.host.find(':') != std::string::npos;
    std::fprintf(stderr, "vigil listening on %s://%s%s%s:%d/ (web UI)\n", access_.tls ? "https" : "http",
                 ipv6 ? "[" : "", bound.host.c_str(), ipv6 ? "]" : "", bound.port);
    watchdog_.Ready();  // listening, and the first collection round is under way

    WaitForSignals();
    watchdog_.Stopping();

    LogInfo("shutting down");
    {
      std::lock_guard lock(mu_);
      http_server_ = nullptr;
    }
    (*server)->Stop();
    StopDigest();
    StopRecovery();
    StopScheduler();
    // The last moment vigil watched: the next run counts from here as unknown.
    if (sla_) sla_->Heartbeat(clock_.NowMs());
    events_.SetRules(nullptr);
    rules_->Stop();
    if (notifier_) notifier_->Stop();
    for (auto& w : remote_writers_) w->Stop();
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

  // One reporter for the route and the collector, so both share its cached report.
  std::shared_ptr<const incidents::CapacityReporter> Capacity() {
    std::lock_guard lock(capacity_mu_);
    if (!capacity_) {
      incidents::CapacityOptions o;
      o.storage = Storage();
      o.engine = EngineOptions();
      o.clock = &clock_;
      capacity_ = std::make_shared<incidents::CapacityReporter>(std::move(o));
    }
    return capacity_;
  }

  promql::EngineOptions EngineOptions() const {
    promql::EngineOptions e;
    if (options_.query_lookback_delta) e.lookback_delta = *options_.query_lookback_delta;
    if (options_.query_max_samples) e.max_samples = *options_.query_max_samples;
    if (options_.query_timeout) e.timeout = *options_.query_timeout;
    return e;
  }

  // One writer per remote_write target, created before the store opens so
  // the WAL each still needs is held from the start.
  void CreateRemoteWriters(const std::string& wal_dir) {
    for (const auto& t : config_.remote_write) {
      remote::WriterOptions wo;
      wo.target = t;
      wo.wal_dir = wal_dir;
      wo.state_dir = config_.global.data_dir + "/remote_write";
      for (const auto& [name, value] : config_.global.external_labels) wo.external_labels.Set(name, value);
      wo.user_agent = "vigil/" + GetBuildInfo().version;
      remote_writers_.push_back(remote::RemoteWriter::Create(std::move(wo)));
    }
  }

  // Notifications leave through the durable outbox in <data_dir>/state.db.
  // Without an `alerting` section alerts are evaluated, shown and silenced,
  // not sent; a reload may add one.
  bool StartNotifier() {
    notify::NotifierOptions no;
    no.alerting = config_.alerting.value_or(config::AlertingOptions{});
    no.depends_on = DependsOn(config_);
    no.page_holds = PageHolds(config_);
    no.outbox_path = config_.global.data_dir + "/state.db";
    no.context.external_url = "http://" + config_.global.listen;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) no.context.host = host;
    no.clock = &clock_;
    no.progress = watchdog_.Heartbeat(watchdog::kNotification);
    auto n = notify::Notifier::Start(std::move(no));
    if (!n.ok()) {
      std::fprintf(stderr, "alerting: %s\n", n.status().message().c_str());
      return false;
    }
    notifier_ = std::move(*n);
    return true;
  }

  static std::map<std::string, Duration> PageHolds(const config::Config& c) {
    std::map<std::string, Duration> out;
    if (c.recovery.mode != config::RecoveryMode::kEnforce) return out;  // no recovery to wait for
    for (const auto& s : c.services) {
      if (s.recovery && s.recovery->restart && s.recovery->hold_page_for.count() > 0) {
        out[s.name] = s.recovery->hold_page_for;
      }
    }
    return out;
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
    mo.notify = [this, n = notifier_.get()](const std::vector<rules::Alert>& alerts) {
      std::shared_ptr<recovery::HostActions> actions;
      {
        std::lock_guard lock(mu_);
        actions = host_actions_;
      }
      if (actions) {
        for (const auto& a : alerts) actions->OnAlert(a.labels, a.state == rules::AlertState::kFiring);
      }
      live_.Publish("alerts", "{\"count\":" + std::to_string(alerts.size()) + "}");
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
    *rule_severities_ = config_.alerting ? config_.alerting->severities : SeverityMap();
    mo.parse.severities = rule_severities_.get();
    rules_ = std::make_unique<rules::Manager>(std::move(mo));
    rules::LoadResult loaded = rules_->Load(config_.rule_file_patterns);
    if (!loaded.ok()) {
      for (const auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
      return false;
    }
    LogRuleWarnings(loaded);
    rules_->Start();
    events_.SetRules(rules_.get());
    return true;
  }

  // Services with `recovery.restart` get restarts; every service is known to
  // the planner so dependencies are respected. Its audit shares state.db.
  bool StartRecovery(const config::Config& c) {
    recovery::ControllerOptions ro;
    bool any = false;
    for (const auto& s : c.services) {
      recovery::ServiceSpec spec{s.name, s.unit, s.depends_on, std::nullopt};
      if (s.recovery && s.recovery->restart) {
        const config::RestartOptions& r = *s.recovery->restart;
        spec.restart = recovery::RestartPolicy{r.max_attempts,   r.window,     r.backoff,      r.max_backoff,
                                               r.verify_timeout, r.stable_for, r.unhealthy_for};
        any = true;
      }
      ro.services.push_back(std::move(spec));
    }
    if (!any && c.recovery.cleanup.empty() && !HasServiceActions(c)) return true;
    const recovery::Mode mode = c.recovery.mode == config::RecoveryMode::kOff      ? recovery::Mode::kOff
                                : c.recovery.mode == config::RecoveryMode::kDryRun ? recovery::Mode::kDryRun
                                                                                   : recovery::Mode::kEnforce;
    ro.mode = mode;
    ro.max_concurrent = c.recovery.max_concurrent;
    for (const auto& cl : c.recovery.cleanup) {
      ro.cleanup.push_back(
          {cl.filesystem, cl.roots, cl.match, cl.below_free_ratio, cl.until_free_ratio, cl.older_than});
    }
    ro.state_path = c.global.data_dir + "/state.db";
    ro.clock = &clock_;
    std::map<std::string, size_t> checks;
    for (const auto& s : c.services) {
      checks[s.name] = s.probes.size() + (s.bitcoind ? 1 : 0) + (s.titan ? 1 : 0) + (s.validator ? 1 : 0);
    }
    std::map<std::string, std::string> units;
    for (const auto& s : c.services) units[s.name] = s.unit;
    ro.observe = [this, checks, units] {
      std::shared_ptr<systemd::Monitor> monitor;
      std::shared_ptr<ServiceHealth> health;
      {
        std::lock_guard lock(mu_);
        monitor = systemd_;
        health = health_;
      }
      std::map<std::string, recovery::Observation> out;
      std::vector<systemd::UnitState> states;
      if (monitor) states = monitor->Units();
      for (const auto& [service, n] : checks) {
        recovery::Observation o;
        if (health) {
          o.checks_ok = health->ProbesOk(service);
          o.checked_since_ms = health->AllCheckedSince(service, n);
        }
        for (const auto& u : states) {
          if (u.service != service || u.name != units.at(service)) continue;
          // Only once its properties were read: a unit just added to the cache has none yet.
          o.unit_known = u.load_state != "not-found" && !u.object_path.empty() && !u.active_state.empty();
          o.active_state = u.active_state;
          o.sub_state = u.sub_state;
          o.result = u.result;
          o.n_restarts = u.n_restarts.value_or(0);
          o.restart_policy = u.restart_policy;
          o.restart_delay = Duration(static_cast<int64_t>(u.restart_usec / 1000));
          o.state_changed_ms = u.changed_ms;
          o.job_pending = u.job_id != 0;
        }
        out[service] = std::move(o);
      }
      return out;
    };
    systemd::Bus bus =
        c.systemd && c.systemd->bus == config::BusKind::kUser ? systemd::Bus::kUser : systemd::Bus::kSystem;
    ro.restart = [bus](const std::string& unit, Duration timeout) {
      auto r = systemd::RestartUnit(bus, unit, timeout);
      if (!r.ok()) return recovery::RestartOutcome{false, r.status().message()};
      return recovery::RestartOutcome{r->ok(), "job " + r->result + " in " + FormatDuration(r->took)};
    };
    std::vector<alert::MaintenanceWindow> windows;
    if (c.alerting) {
      for (size_t i = 0; i < c.alerting->maintenance_windows.size(); ++i) {
        auto w = alert::MaintenanceWindow::Build(c.alerting->maintenance_windows[i],
                                                 "alerting.maintenance_windows[" + std::to_string(i) + "]");
        if (w.ok()) windows.push_back(std::move(*w));
      }
    }
    ro.maintenance = [windows = std::move(windows)](const std::string& service,
                                                    TimestampMs now) -> std::optional<std::string> {
      Labels l{{"service", service}};
      for (const auto& w : windows) {
        if (w.Mutes(l, now)) return w.name();
      }
      return std::nullopt;
    };
    ro.on_event = [this](const recovery::Event& e) { OnRecoveryEvent(e); };
    auto ctl = recovery::Controller::Start(std::move(ro));
    if (!ctl.ok()) {
      std::fprintf(stderr, "recovery: %s\n", ctl.status().message().c_str());
      LogError("cannot start recovery", {{"err", ctl.status().message()}});
      return false;
    }
    std::shared_ptr<recovery::Controller> shared(std::move(*ctl));
    auto actions = StartHostActions(c, shared, bus, mode);
    if (!actions.ok()) {
      std::fprintf(stderr, "recovery: %s\n", actions.status().message().c_str());
      LogError("cannot start recovery actions", {{"err", actions.status().message()}});
      shared->Stop();
      return false;
    }
    {
      std::lock_guard lock(mu_);
      recovery_ = shared;
      host_actions_ = std::move(*actions);
    }
    events_.SetRecovery(shared.get());
    LogInfo("recovery started", {{"mode", recovery::ModeName(mode)}});
    return true;
  }

  static bool HasServiceActions(const config::Config& c) {
    for (const auto& s : c.services) {
      if (s.recovery && (!s.recovery->failover.empty() || !s.recovery->exec.empty())) return true;
    }
    return false;
  }

  // Cleanup, failover and exec actions; null when none is configured.
  Result<std::shared_ptr<recovery::HostActions>> StartHostActions(const config::Config& c,
                                                                  std::shared_ptr<recovery::Controller> ctl,
                                                                  systemd::Bus bus, recovery::Mode mode) {
    recovery::HostActionsOptions ho;
    for (const auto& cl : c.recovery.cleanup) {
      recovery::CleanupRule rule;
      rule.policy.filesystem = cl.filesystem;
      rule.policy.below_free_ratio = cl.below_free_ratio;
      rule.policy.until_free_ratio = cl.until_free_ratio;
      rule.policy.roots = cl.roots;
      rule.policy.match = cl.match;
      rule.policy.older_than = cl.older_than;
      rule.policy.keep_newest = cl.keep_newest;
      rule.policy.order = cl.largest_first ? recovery::CleanupPolicy::Order::kLargestFirst
                                           : recovery::CleanupPolicy::Order::kOldestFirst;
      rule.policy.compress = cl.compress;
      rule.policy.delete_open_files = cl.delete_open_files;
      rule.policy.journal_vacuum = cl.journal_vacuum;
      rule.policy.journal_max_bytes = cl.journal_max_bytes;
      rule.interval = cl.interval;
      ho.cleanup.push_back(std::move(rule));
    }
    std::map<std::string, std::string> units;
    for (const auto& s : c.services) units[s.name] = s.unit;
    for (const auto& s : c.services) {
      if (!s.recovery) continue;
      Duration verify = s.recovery->restart ? s.recovery->restart->verify_timeout : Duration(60000);
      for (const auto& f : s.recovery->failover) {
        recovery::FailoverRule r;
        r.service = s.name;
        r.env_file = f.env_file;
        r.key = f.key;
        r.endpoints = f.endpoints;
        r.probe_path = f.probe_path;
        r.probe_interval = f.probe_interval;
        r.probe_timeout = f.probe_timeout;
        r.fail_after = f.fail_after;
        r.hold_down = f.hold_down;
        r.restart_service = f.restart_service;
        r.restart_unit = f.restart_service.empty() ? "" : units[f.restart_service];
        r.verify_timeout = verify;
        ho.failovers.push_back(std::move(r));
      }
      for (const auto& e : s.recovery->exec) {
        recovery::ExecRule r;
        r.service = s.name;
        r.name = e.name.empty() ? e.command[0] : e.name;
        alert::Matchers matchers;
        for (const auto& text : e.matchers) {
          auto m = alert::ParseMatchers(text);
          if (!m.ok()) return m.status().WithContext("services." + s.name + ".recovery.exec");
          for (auto& one : *m) matchers.push_back(std::move(one));
        }
        r.matches = [matchers](const Labels& l) { return alert::MatchesAll(matchers, l); };
        r.spec.argv = e.command;
        r.spec.timeout = e.timeout;
        r.spec.max_output_bytes = e.max_output_bytes;
        ho.execs.push_back(std::move(r));
      }
    }
    if (ho.cleanup.empty() && ho.failovers.empty() && ho.execs.empty()) {
      return std::shared_ptr<recovery::HostActions>();
    }
    ho.dry_run = mode == recovery::Mode::kDryRun;
    ho.state_path = c.global.data_dir + "/state.db";
    ho.clock = &clock_;
    ho.held = [ctl](const std::string& service) { return ctl->HeldReason(service); };
    ho.probe = [](const std::string& url, Duration timeout) {
      auto parsed = http::ParseUrl(url);
      if (!parsed) return false;
      http::HttpRequest req;
      req.url = *parsed;
      req.user = parsed->user;
      req.password = parsed->password;
      req.deadline = std::chrono::steady_clock::now() + timeout;
      req.max_body_bytes = 64 << 10;
      http::HttpResponse resp;
      return !http::HttpExchange(req, &resp) && resp.status >= 200 && resp.status < 300;
    };
    ho.restart = [bus](const std::string& unit, Duration timeout, std::string* detail) {
      auto r = systemd::RestartUnit(bus, unit, timeout);
      *detail = r.ok() ? "job " + r->result : r.status().message();
      return r.ok() && r->ok();
    };
    ho.healthy = [this](const std::string& service, TimestampMs since) {
      std::shared_ptr<systemd::Monitor> monitor;
      std::shared_ptr<ServiceHealth> health;
      {
        std::lock_guard lock(mu_);
        monitor = systemd_;
        health = health_;
      }
      if (!health || !health->ProbesOk(service) || health->AllCheckedSince(service, 1) < since) return false;
      if (!monitor) return true;
      for (const auto& u : monitor->Units()) {
        if (u.service == service && !systemd::IsUp(u)) return false;
      }
      return true;
    };
    ho.alert = [this](const std::string& alertname, const std::string& service, const std::string& severity,
                      const std::map<std::string, std::string>& annotations, bool firing) {
      if (!notifier_) return;
      notify::AlertUpdate u;
      u.labels = Labels{{"alertname", alertname}, {"service", service}, {"severity", severity}};
      for (const auto& [name, value] : config_.global.external_labels) u.labels.Set(name, value);
      for (const auto& [k, v] : annotations) u.annotations.Set(k, v);
      u.starts_at = clock_.NowMs();
      if (!firing) u.ends_at = u.starts_at;
      notifier_->Update({std::move(u)});
    };
    auto started = recovery::HostActions::Start(std::move(ho));
    if (!started.ok()) return started.status();
    return std::shared_ptr<recovery::HostActions>(std::move(*started));
  }

  void StopRecovery() {
    std::shared_ptr<recovery::Controller> r;
    std::shared_ptr<recovery::HostActions> actions;
    {
      std::lock_guard lock(mu_);
      r = std::move(recovery_);
      actions = std::move(host_actions_);
    }
    events_.SetRecovery(nullptr);
    if (actions) actions->Stop();
    if (r) r->Stop();
  }

  Duration PageHold(const std::string& service) const {
    for (const auto& s : config_.services) {
      if (s.name == service && s.recovery && s.recovery->restart) return s.recovery->hold_page_for;
    }
    return Duration(0);
  }

  // A failed recovery pages (P0) with its attempts; it resolves once the
  // service is verified healthy again or an operator resets it.
  void OnRecoveryEvent(const recovery::Event& e) {
    if (!notifier_) return;
    using Kind = recovery::Event::Kind;
    // A held page goes out as soon as recovery will not fix the fault, and
    // the next fault is held again once the service is healthy.
    if (e.kind == Kind::kEscalated || (e.kind == Kind::kWaiting && !e.will_act)) {
      notifier_->SetHoldReleased(e.service, true);
    }
    if (e.kind == Kind::kVerified || e.kind == Kind::kRecoveredAlone || e.kind == Kind::kEscalationCleared) {
      notifier_->SetHoldReleased(e.service, false);
    }
    Duration hold = PageHold(e.service);
    if (hold.count() > 0 && (e.kind == Kind::kVerified || e.kind == Kind::kFault)) {
      // The P3 "recovered automatically" notice stands until the service's next fault.
      notify::AlertUpdate n;
      n.labels = Labels{{"alertname", "RecoveredAutomatically"}, {"service", e.service}, {"severity", "low"}};
      for (const auto& [name, value] : config_.global.external_labels) n.labels.Set(name, value);
      n.starts_at = e.time_ms;
      if (e.kind == Kind::kFault) {
        n.ends_at = e.time_ms;
      } else if (e.mttr <= hold) {
        n.annotations.Set("summary", e.service + " failed and was recovered automatically in " +
                                         FormatDuration(e.mttr) + "; its page was held and not sent");
        n.annotations.Set("description", e.detail);
      } else {
        n.starts_at = 0;  // recovered after the hold: the page went out, its resolve says the rest
      }
      if (n.starts_at != 0) notifier_->Update({std::move(n)});
    }
    notify::AlertUpdate u;
    u.labels = Labels{{"alertname", "RecoveryFailed"}, {"service", e.service}, {"severity", "critical"}};
    for (const auto& [name, value] : config_.global.external_labels) u.labels.Set(name, value);
    if (e.kind == recovery::Event::Kind::kEscalated) {
      std::string attempts;
      for (size_t i = 0; i < e.attempts.size(); ++i) {
        attempts += (i ? "\n" : "") + std::to_string(i + 1) + ". " + e.attempts[i];
      }
      u.annotations.Set("summary", "automatic recovery of " + e.service + " failed: a person is needed");
      u.annotations.Set("description", e.detail);
      u.annotations.Set("attempts", attempts);
      if (!e.affected.empty()) {
        std::string affected;
        for (const auto& a : e.affected) affected += (affected.empty() ? "" : ", ") + a;
        u.annotations.Set("affected_services", affected);
      }
      u.starts_at = e.time_ms;
      u.generator_url = "http://" + config_.global.listen + "/api/v1/recovery?service=" + e.service;
      notifier_->Update({std::move(u)});
    } else if (e.kind == recovery::Event::Kind::kEscalationCleared) {
      u.starts_at = e.time_ms;
      u.ends_at = e.time_ms;
      notifier_->Update({std::move(u)});
    }
  }

  // Rule files still load with these (a severity alerting.severities does not name, …).
  static void LogRuleWarnings(const rules::LoadResult& loaded) {
    for (const auto& w : loaded.warnings) LogWarn("rule file warning", {{"warning", w.ToString()}});
  }

  api::Options ApiOptions() {
    api::Options o;
    o.storage = Storage();
    o.engine = EngineOptions();
    o.rules = rules_.get();
    o.range_cache = range_cache_;
    for (const auto& [name, value] : config_.global.external_labels) o.external_labels.Set(name, value);
    o.metric_families = [this] { return Gather(); };
    collect::BuildInfo b = GetBuildInfo();
    o.build = api::BuildInfo{b.version, b.revision, "", "", "", b.compiler};
    o.clock = &clock_;
    return o;
  }

  // GET /api/v1/status reads the configuration through status_config_, which
  // StartScheduler replaces on each (re)load.
  status::Options StatusOptions() {
    status::Options o;
    o.storage = Storage();
    o.engine = EngineOptions();
    o.engine.timeout = std::min(o.engine.timeout, Duration(5000));  // stay quick: a slow part shows as null
    o.clock = &clock_;
    o.rules = rules_.get();
    o.config = [this] {
      std::lock_guard lock(mu_);
      return status_config_;
    };
    o.recovery = [this] {
      std::lock_guard lock(mu_);
      return recovery_;
    };
    o.silences = [this] {
      auto parsed = notifier_->ParsedSilences();  // unreadable: nothing is marked silenced
      return parsed.ok() ? std::move(*parsed) : std::vector<alert::Silence>{};
    };
    return o;
  }

  // systemd's STATUS= line while every subsystem makes progress.
  watchdog::WatchdogOptions WatchdogOptions() {
    watchdog::WatchdogOptions o;
    o.manager = watchdog::NewSystemdServiceManager();
    o.status = [this] {
      size_t services = 0, firing = 0;
      {
        std::lock_guard lock(mu_);
        if (status_config_) services = status_config_->services.size();
      }
      if (rules_) {
        for (const auto& a : rules_->Alerts()) firing += a.alert.state == rules::AlertState::kFiring ? 1 : 0;
      }
      return "watching " + std::to_string(services) + " services, " + std::to_string(firing) + " alerts firing, " +
             std::to_string(db_ ? db_->GetStats().head_series : 0) + " series";
    };
    return o;
  }

  static std::shared_ptr<const status::Config> StatusConfigOf(const config::Config& c) {
    auto s = std::make_shared<status::Config>();
    for (const auto& sv : c.services) s->services.push_back({sv.name, sv.unit, sv.depends_on});
    if (c.alerting) s->severities = c.alerting->severities;
    s->host_name = TargetLabelsFor(c).instance;
    s->host_job = c.host.job;
    return s;
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
        watchdog_.Reloading();
        Reload();
        watchdog_.Ready();
        continue;
      }
      LogInfo("received signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      return;
    }
  }

  // Re-reads --web.config.file (rotated certificates, changed accounts);
  // false, with the reason logged, keeps the running one.
  bool ReloadWebConfig() {
    if (!options_.web_config_file) return true;
    Result<config::WebConfig> web = LoadWebConfig(options_);
    Status s = web.ok() ? Status::Ok() : web.status();
    http::AccessOptions access;
    if (s.ok()) access = AccessOf(*web);
    if (s.ok()) s = CheckExposure(config_.global.listen, access, options_.web_insecure);
    if (s.ok()) {
      std::lock_guard lock(mu_);
      if (http_server_ != nullptr) s = http_server_->SetAccess(access);
    }
    if (!s.ok()) {
      LogError("web configuration reload failed; keeping the running one",
               {{"file", *options_.web_config_file}, {"err", s.message()}});
      return false;
    }
    access_ = std::move(access);
    return true;
  }

  void Reload() {
    LogInfo("reloading configuration", {{"config", options_.config_path.value_or("<built-in>")}});
    if (!ReloadWebConfig()) {
      std::lock_guard lock(mu_);
      reload_.last_successful = false;
      return;
    }
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
    if (r.config.remote_write != config_.remote_write) {
      LogWarn("remote_write changes take effect only after a restart");
      r.config.remote_write = config_.remote_write;
    }
    // Rule files are re-read on every reload: their content may have changed.
    *rule_severities_ = r.config.alerting ? r.config.alerting->severities : SeverityMap();
    rules::LoadResult loaded = rules_->Load(r.config.rule_file_patterns);
    LogRuleWarnings(loaded);
    if (!loaded.ok()) {
      for (const auto& p : loaded.problems) {
        LogError("rule files reload failed; keeping the running configuration and rules", {{"err", p.ToString()}});
      }
      std::lock_guard lock(mu_);
      reload_.last_successful = false;
      return;
    }
    // Checked before anything changes; the notifier keeps its alerts and log.
    if (Status s = notifier_->Reload(r.config.alerting.value_or(config::AlertingOptions{}), DependsOn(r.config),
                                     PageHolds(r.config));
        !s.ok()) {
      LogError("alerting reload failed; keeping the running configuration", {{"err", s.message()}});
      std::lock_guard lock(mu_);
      reload_.last_successful = false;
      return;
    }
    StopRecovery();
    StopScheduler();
    config_ = std::move(r.config);
    {
      std::lock_guard lock(digest_mu_);
      digest_options_ = config_.reports.digest;
    }
    digest_cv_.notify_all();
    sink_->SetTargets(TargetLabelsFor(config_));
    StartScheduler(config_);
    if (!StartRecovery(config_)) LogError("recovery not restarted after the reload; see the error above");
    std::lock_guard lock(mu_);
    reload_.last_successful = true;
    reload_.last_success_seconds = static_cast<double>(clock_.NowMs()) / 1000.0;
    LogInfo("configuration reloaded");
  }

  void StartScheduler(const config::Config& c) {
    SetLogLevel(ParseLevel(c.global.log_level));
    Wiring wiring;
    auto collectors = BuildCollectors(c, self_, clock_, &events_, progress_sink_.get(), &wiring);
    // Stored every minute, inside the 5 m lookback so the forecast rules never see a gap;
    // the report itself is recomputed every 5 minutes.
    collectors.push_back({incidents::NewCapacityCollector(Capacity()), Duration(60000), Duration(50000)});
    if (!c.baselines.empty()) {
      incidents::DegradationOptions d;
      d.storage = Storage();
      d.engine = EngineOptions();
      d.baselines = BaselineSpecsFor(c);
      // Recorded at the collection interval so the band is as fresh as the series it bounds.
      collectors.push_back(
          {incidents::NewBaselineCollector(std::move(d)), c.global.scrape_interval, c.global.scrape_interval});
    }
    auto s = std::make_shared<collect::Scheduler>(clock_, std::move(collectors), progress_sink_.get());
    s->Start();
    watchdog_.SetCadence(
        {.scrape_interval = c.global.scrape_interval,
         .delivers = c.alerting && (!c.alerting->receivers.empty() || !c.alerting->alertmanagers.empty()),
         .send_timeout = notify::NotifierOptions{}.send_timeout});
    std::lock_guard lock(mu_);
    scheduler_ = std::move(s);
    status_config_ = StatusConfigOf(c);
    systemd_ = std::move(wiring.systemd);
    health_ = std::move(wiring.health);
    sla_services_.clear();
    std::map<std::string, std::vector<std::string>> depends_on;
    for (const auto& svc : c.services) {
      if (!svc.unit.empty()) sla_services_.push_back(svc.name);
      depends_on[svc.name] = svc.depends_on;
    }
    if (dependency_stops_) {
      std::lock_guard observing(sla_observe_mu_);  // ObserveSla never takes mu_ under it
      dependency_stops_->SetDependsOn(std::move(depends_on));
    } else {
      dependency_stops_ = std::make_shared<DependencyStops>(std::move(depends_on));
    }
    if (sla_) sla_->SetServices(SlaOptionsFor(c));
    if (incidents_) incidents_->SetConfig(IncidentConfigFor(c));
  }

  // The weekly digest (docs/reports.md): a thread wakes at the scheduled
  // time (at least each minute, so a reload's new schedule is seen) and sends
  // it through the notifier. The last sending time is kept in state.db.
  void StartDigest() {
    auto log = incidents::DigestLog::Open(config_.global.data_dir + "/state.db");
    if (!log.ok()) {
      LogError("digest log not opened; no weekly digest is sent", {{"err", log.status().message()}});
      return;
    }
    digest_log_ = std::move(*log);
    {
      std::lock_guard lock(digest_mu_);
      digest_options_ = config_.reports.digest;
    }
    digest_thread_ = std::thread([this] { DigestLoop(); });
  }

  void StopDigest() {
    {
      std::lock_guard lock(digest_mu_);
      digest_stopping_ = true;
    }
    digest_cv_.notify_all();
    if (digest_thread_.joinable()) digest_thread_.join();
  }

  void DigestLoop() {
    std::unique_lock lock(digest_mu_);
    std::string last_error;  // logged once until it changes
    while (!digest_stopping_) {
      TimestampMs wait_ms = 60000;
      std::optional<config::DigestOptions> o = digest_options_;
      if (o) {
        lock.unlock();
        Status s = SendDigestIfDue(*o, &wait_ms);
        if (!s.ok() && s.message() != last_error) LogError("weekly digest", {{"err", s.message()}});
        last_error = s.ok() ? "" : s.message();
        lock.lock();
      }
      digest_cv_.wait_for(lock, std::chrono::milliseconds(std::clamp<TimestampMs>(wait_ms, 1, 60000)),
                          [this] { return digest_stopping_; });
    }
  }

  // Sends the digest when its time has come; otherwise lowers `wait_ms` to the time left.
  Status SendDigestIfDue(const config::DigestOptions& o, TimestampMs* wait_ms) {
    Result<TimeZone> zone = TimeZone::Load(o.timezone);
    if (!zone.ok()) return zone.status().WithContext("reports.digest.timezone");
    Result<TimestampMs> last = digest_log_->LastSent();
    if (!last.ok()) return last.status();
    TimestampMs now = clock_.NowMs();
    if (*last == 0) {
      // The schedule starts now: a restart before the first digest still owes it.
      return digest_log_->SetLastSent(now);
    }
    TimestampMs due = incidents::NextDigestDue({o.weekday, o.minute_of_day, *zone}, *last, now);
    if (due > now) {
      *wait_ms = std::min(*wait_ms, due - now);
      return Status::Ok();
    }
    incidents::DigestInput in =
        GatherDigest(DigestSourcesNow(), {now - incidents::kDigestPeriod.count(), now}, clock_.NowMs());
    Result<std::vector<std::string>> sent = SendDigest(in);
    if (!sent.ok()) return sent.status();
    LogInfo("weekly digest sent", {{"receivers", std::to_string(sent->size())}, {"schedule", o.schedule}});
    return Status::Ok();
  }

  DigestSources DigestSourcesNow() {
    DigestSources d;
    d.sla = sla_.get();
    d.incidents = incidents_.get();
    d.capacity = Capacity();
    d.storage = Storage();
    d.engine = EngineOptions();
    d.state_db = report_state_db_;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) d.host = host;
    return d;
  }

  // Hands the digest to the notifier as a one-off alert, routed like any
  // alert of its severity; it never enters alert state, so alert quality and
  // incidents do not count it.
  Result<std::vector<std::string>> SendDigest(const incidents::DigestInput& in) {
    std::string severity = "P3";
    {
      std::lock_guard lock(digest_mu_);
      if (digest_options_) severity = digest_options_->severity;
    }
    notify::AlertUpdate u;
    u.labels.Set("alertname", std::string(incidents::kDigestAlertName));
    u.labels.Set("severity", severity);
    u.annotations.Set("summary", incidents::DigestHeadline(in));
    // The headline is the summary already: the description starts after it.
    std::string md = incidents::DigestMarkdown(in);
    u.annotations.Set("description", ForChat(md.substr(md.find('\n') + 1)));
    u.starts_at = clock_.NowMs();
    u.generator_url = report_url_;
    Result<std::vector<std::string>> receivers = notifier_->Announce(std::move(u));
    if (!receivers.ok()) return receivers.status();
    if (digest_log_) {
      if (Status s = digest_log_->SetLastSent(clock_.NowMs()); !s.ok()) return s;
    }
    return receivers;
  }

  // Slack refuses a section over 3000 characters: a long digest is cut at a
  // line, pointing to the whole report.
  static std::string ForChat(std::string md) {
    constexpr size_t kMax = 2600;
    if (md.size() <= kMax) return md;
    size_t cut = md.rfind('\n', kMax);
    md.resize(cut == std::string::npos ? kMax : cut + 1);
    // A cut inside a ``` block would leave it open.
    size_t fences = 0;
    for (size_t p = md.find("```"); p != std::string::npos; p = md.find("```", p + 3)) ++fences;
    if (fences % 2 == 1) md += "```\n";
    return md + "… cut here: the whole report is `vigil report`\n";
  }

  // The SLA ledger in state.db; without it vigil runs on and the API says why.
  void OpenSlaLedger() {
    auto tracker =
        incidents::Tracker::Open(config_.global.data_dir + "/state.db", SlaOptionsFor(config_), clock_.NowMs());
    if (!tracker.ok()) {
      LogError("SLA ledger not opened; availability is not recorded", {{"err", tracker.status().message()}});
      return;
    }
    sla_ = std::move(*tracker);
    sla_watch_start_ms_ = clock_.NowMs();
    events_.SetStateObserver([this](TimestampMs t) { ObserveSla(t); });
    auto filed = incidents::IncidentTracker::Open(config_.global.data_dir + "/state.db", IncidentConfigFor(config_));
    if (!filed.ok()) {
      LogError("incidents not opened; none are filed", {{"err", filed.status().message()}});
      return;
    }
    incidents_ = std::move(*filed);
  }

  // Files the recent alert episodes into incidents, every few seconds (the
  // self collection's pace, at most every 5 s): their ids stay stable and
  // their summaries outlive the trimmed episode log.
  void FileIncidents(TimestampMs now) {
    if (!incidents_) return;
    // /metrics scrapes collect too: one caller per 5 s wins the pass.
    TimestampMs last = last_incident_pass_ms_.load();
    if (now - last < 5000 || !last_incident_pass_ms_.compare_exchange_strong(last, now)) return;
    // The first pass after a start files the last 30 days (episodes from
    // before an upgrade, or from while incidents could not be filed); the
    // later ones only what may have changed.
    const Duration lookback = last == 0 ? Duration(30LL * 86'400'000) : Duration(86'400'000);
    auto filed = incidents_->Pass(now, lookback);
    if (!filed.ok()) LogError("filing incidents failed", {{"err", filed.status().message()}});
  }

  // Records each service's state as vigil_service_up sees it, at `t` (a
  // change event's time, or a heartbeat catching anything an event missed).
  void ObserveSla(TimestampMs t) {
    std::shared_ptr<systemd::Monitor> monitor;
    std::shared_ptr<ServiceHealth> health;
    std::vector<std::string> services;
    std::shared_ptr<DependencyStops> dependency_stops;
    {
      std::lock_guard lock(mu_);
      monitor = systemd_;
      health = health_;
      services = sla_services_;
      dependency_stops = dependency_stops_;
    }
    if (!sla_ || !monitor) return;
    // One observer at a time: a later reading of the units is never overwritten by an earlier one.
    std::lock_guard observing(sla_observe_mu_);
    std::vector<systemd::UnitState> units = monitor->Units();
    if (units.empty()) return;  // not connected to the bus yet: nothing is known
    std::map<std::string, incidents::ServiceState> states;
    std::map<std::string, bool> probes_ok;
    for (const auto& service : services) {
      probes_ok[service] = !health || health->ProbesOk(service, systemd::ServiceStartedMs(units, service));
      std::optional<incidents::ServiceState> state = SlaStateOf(service, units, probes_ok[service]);
      if (state) states[service] = *state;
    }
    if (dependency_stops) dependency_stops->Attribute(states);
    for (const auto& [service, state] : states) {
      // systemd's time of the change when it has one, within what this run
      // watched (before it, vigil was not looking: that time stays unknown).
      TimestampMs since = SlaStateSince(service, units, state, probes_ok[service]);
      sla_->Observe(service, state, since > 0 ? std::clamp(since, sla_watch_start_ms_, t) : t);
    }
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
    if (sla_) {
      TimestampMs now = clock_.NowMs();
      ObserveSla(now);
      sla_->Heartbeat(now);
      sla_->AppendMetrics(now, out);
    }
    FileIncidents(clock_.NowMs());
    std::shared_ptr<collect::Scheduler> s;
    ReloadState reload;
    {
      std::lock_guard lock(mu_);
      s = scheduler_;
      reload = reload_;
      if (http_server_) http_server_->AppendMetrics(out);
    }
    if (s) s->AppendSelfMetrics(out);
    for (const auto& w : remote_writers_) w->AppendMetrics(out);
    if (range_cache_) {
      promql::RangeCache::Stats c = range_cache_->stats();
      const char* help = "Range queries by how the result cache answered them.";
      out.AddCounter("vigil_query_range_cache_requests_total", help, {{"result", "hit"}}, static_cast<double>(c.hits));
      out.AddCounter("vigil_query_range_cache_requests_total", help, {{"result", "partial"}},
                     static_cast<double>(c.partial));
      out.AddCounter("vigil_query_range_cache_requests_total", help, {{"result", "miss"}},
                     static_cast<double>(c.misses));
      out.AddGauge("vigil_query_range_cache_bytes", "Bytes of range query results the cache holds.", {},
                   static_cast<double>(c.bytes));
    }
    events_.AppendMetrics(out);
    live_.AppendMetrics(out);
    if (rules_) rules_->AppendSelfMetrics(out);
    if (notifier_) notifier_->AppendMetrics(out);
    std::shared_ptr<recovery::Controller> recovery;
    {
      std::lock_guard lock(mu_);
      recovery = recovery_;
    }
    if (recovery) recovery->AppendMetrics(out);
    std::shared_ptr<recovery::HostActions> actions;
    {
      std::lock_guard lock(mu_);
      actions = host_actions_;
    }
    if (actions) actions->AppendMetrics(out);
    watchdog_.AppendMetrics(out);
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
  http::AccessOptions access_;  // the web configuration in force
  std::shared_ptr<promql::RangeCache> range_cache_;
  SystemClock clock_;
  std::mutex mu_;  // guards scheduler_, reload_, http_server_, status_config_ and the sla_ settings
  http::Server* http_server_ = nullptr;
  std::shared_ptr<collect::Scheduler> scheduler_;
  std::mutex capacity_mu_;
  std::shared_ptr<const incidents::CapacityReporter> capacity_;
  std::shared_ptr<systemd::Monitor> systemd_;
  std::shared_ptr<ServiceHealth> health_;
  std::shared_ptr<const status::Config> status_config_;
  std::shared_ptr<recovery::Controller> recovery_;       // null when no service has a recovery policy
  std::shared_ptr<recovery::HostActions> host_actions_;  // null without cleanup, failover or exec
  std::vector<std::string> sla_services_;                // services whose state the ledger records
  std::shared_ptr<DependencyStops> dependency_stops_;    // used under sla_observe_mu_
  std::mutex sla_observe_mu_;
  TimestampMs sla_watch_start_ms_ = 0;       // when the ledger opened: transitions are never dated before it
  std::unique_ptr<incidents::Tracker> sla_;  // null when state.db could not be opened; before events_
  std::unique_ptr<incidents::IncidentTracker> incidents_;  // null when state.db could not be opened
  std::atomic<TimestampMs> last_incident_pass_ms_{0};
  std::unique_ptr<incidents::DigestLog> digest_log_;  // null when state.db could not be opened
  std::mutex digest_mu_;                              // guards digest_options_ and digest_stopping_
  std::condition_variable digest_cv_;
  std::optional<config::DigestOptions> digest_options_;
  bool digest_stopping_ = false;
  std::thread digest_thread_;
  std::string report_state_db_, report_url_;  // set before the server starts
  web::LiveEvents live_;                     // before events_, which points at it
  EventCounter events_{clock_};
  std::atomic<bool> ready_{false};  // the first collection round finished
  ReloadState reload_;
  // READY=1, STATUS= and WATCHDOG=1 for systemd; outlives everything that beats it.
  watchdog::Watchdog watchdog_{WatchdogOptions()};
  std::vector<std::unique_ptr<remote::RemoteWriter>> remote_writers_;  // before db_: it asks them what to hold
  std::unique_ptr<tsdb::DB> db_;
  std::unique_ptr<collect::StorageSink> sink_;
  std::unique_ptr<collect::BatchSink> progress_sink_;  // sink_ plus the collection and storage heartbeats
  std::unique_ptr<rules::AlertStateStore> state_store_;
  std::unique_ptr<notify::Notifier> notifier_;
  std::unique_ptr<promql::Engine> engine_;
  std::unique_ptr<rules::Manager> rules_;
  // The severity values rule files are checked against (alerting.severities); the manager reads it at each Load.
  std::unique_ptr<SeverityMap> rule_severities_ = std::make_unique<SeverityMap>();
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
  Result<config::WebConfig> web = LoadWebConfig(options);
  if (!web.ok()) {
    std::fprintf(stderr, "%s\n", web.status().message().c_str());
    return 1;
  }
  http::AccessOptions access = AccessOf(*web);
  if (Status s = CheckExposure(r.config.global.listen, access, options.web_insecure); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    LogError("not starting", {{"err", s.message()}});
    return 1;
  }
  Agent agent(options, std::move(r.config), std::move(access));
  return agent.Run();
}

}  // namespace vigil::cli
