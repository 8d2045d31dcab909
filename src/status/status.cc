#include "status/status.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "base/log.h"
#include "recovery/controller.h"
#include "rules/manager.h"
#include "status/health.h"

namespace vigil::status {
namespace {

// The figures read per service; one selector so a snapshot opens few queriers.
constexpr const char* kServiceSeries =
    "{__name__=~\"node_systemd_unit_state|vigil_systemd_unit_info|node_systemd_unit_start_time_seconds"
    "|vigil_systemd_unit_inactive_enter_timestamp_seconds|vigil_service_up"
    "|vigil_bitcoind_(blocks|headers|peers|initial_block_download|sync_lag_blocks)"
    "|vigil_titan_(block_height|height_lag_blocks)|vigil_validator_(ready|block_height|height_lag_blocks|peers)"
    "|vigil_log_value\",service!=\"\"}";

// Slow-moving figures are read at most this often; more often while some are
// still missing (a fresh start has no samples yet), which costs little then.
constexpr TimestampMs kSlowCacheMs = 60'000;
constexpr TimestampMs kSlowCacheIncompleteMs = 5'000;

std::string Quote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Str(std::string_view v) { return std::string(v); }

}  // namespace

struct Builder::Impl {
  Options o;
  promql::Engine engine;

  struct Slow {
    TimestampMs at = 0;  // 0: never read
    TimestampMs ttl = 0;
    std::map<std::string, double> uptime_24h, uptime_30d;  // by service
    std::map<std::string, double> fill_bytes_per_second;   // by mountpoint + device
  };
  mutable std::mutex mu;  // guards slow
  mutable Slow slow;
  // The UI asks on every change: a failing query is logged once a minute, not per snapshot.
  mutable std::atomic<TimestampMs> last_warning_ms{0};

  void Warn(const char* what, const std::string& q, const std::string& err) const {
    TimestampMs now = o.clock->NowMs(), last = last_warning_ms.load();
    if (now - last < 60'000 || !last_warning_ms.compare_exchange_strong(last, now)) return;
    LogWarn(what, {{"query", q}, {"err", err}});
  }

  explicit Impl(Options options) : o(std::move(options)), engine(o.engine) {}

  // An instant query; a failure is logged and reads as no samples, so the
  // snapshot shows null for what depended on it.
  std::vector<promql::Sample> Query(const std::string& q, TimestampMs t) const {
    auto expr = promql::ParseExpr(q);
    if (!expr.ok()) {
      Warn("status: bad query", q, expr.status().message());
      return {};
    }
    promql::QueryResult r = engine.Instant(o.storage, **expr, t);
    if (!r.ok) {
      Warn("status: query failed", q, r.error.message);
      return {};
    }
    if (r.value.type == promql::ValueType::kScalar) return {promql::Sample{{}, t, r.value.scalar}};
    return std::move(r.value.vector);
  }

  std::map<std::string, double> ByLabel(const std::vector<promql::Sample>& v, std::string_view label) const {
    std::map<std::string, double> out;
    for (const auto& s : v) out[Str(s.labels.Get(label))] = s.v;
    return out;
  }

  void RefreshSlow(const std::string& host_sel, TimestampMs now) const {
    {
      std::lock_guard lock(mu);
      if (slow.at != 0 && now - slow.at < slow.ttl) return;
    }
    Slow fresh;
    fresh.at = now;
    fresh.uptime_24h = ByLabel(Query("avg_over_time(vigil_service_up[24h])", now), "service");
    fresh.uptime_30d = ByLabel(Query("avg_over_time(vigil_service_up[30d])", now), "service");
    // used = size - avail, and size does not move: d(used)/dt = -d(avail)/dt.
    for (const auto& s : Query("-deriv(node_filesystem_avail_bytes{" + host_sel + "}[6h])", now)) {
      fresh.fill_bytes_per_second[Str(s.labels.Get("mountpoint")) + "\n" + Str(s.labels.Get("device"))] = s.v;
    }
    bool complete = !fresh.uptime_24h.empty() && !fresh.fill_bytes_per_second.empty();
    fresh.ttl = complete ? kSlowCacheMs : kSlowCacheIncompleteMs;
    std::lock_guard lock(mu);
    slow = std::move(fresh);
  }

  Host BuildHost(const Config& c, const std::string& host_sel, TimestampMs now) const {
    Host h;
    h.name = c.host_name;
    auto cpu = Query("1 - avg(rate(node_cpu_seconds_total{mode=\"idle\"," + host_sel + "}[1m]))", now);
    if (!cpu.empty()) h.cpu_busy_ratio = std::clamp(cpu[0].v, 0.0, 1.0);
    auto cpus = Query("count(node_cpu_seconds_total{mode=\"idle\"," + host_sel + "})", now);
    if (!cpus.empty()) h.cpus = static_cast<int>(cpus[0].v);
    std::map<std::pair<std::string, std::string>, Filesystem> fs;  // by mountpoint, device
    for (const auto& s : Query("{__name__=~\"node_load1|node_memory_MemTotal_bytes|node_memory_MemAvailable_bytes"
                               "|node_filesystem_size_bytes|node_filesystem_avail_bytes\"," +
                                   host_sel + "}",
                               now)) {
      std::string_view name = s.labels.Get("__name__");
      if (name == "node_load1") h.load1 = s.v;
      if (name == "node_memory_MemTotal_bytes") h.memory_total_bytes = s.v;
      if (name == "node_memory_MemAvailable_bytes") h.memory_available_bytes = s.v;
      if (name != "node_filesystem_size_bytes" && name != "node_filesystem_avail_bytes") continue;
      Filesystem& f = fs[{Str(s.labels.Get("mountpoint")), Str(s.labels.Get("device"))}];
      f.mountpoint = s.labels.Get("mountpoint");
      f.device = s.labels.Get("device");
      f.fstype = s.labels.Get("fstype");
      (name == "node_filesystem_size_bytes" ? f.size_bytes : f.avail_bytes) = s.v;
    }
    std::lock_guard lock(mu);
    for (auto& [key, f] : fs) {
      if (f.size_bytes <= 0) continue;  // pseudo filesystems report 0
      f.used_ratio = std::clamp(1 - f.avail_bytes / f.size_bytes, 0.0, 1.0);
      auto it = slow.fill_bytes_per_second.find(key.first + "\n" + key.second);
      if (it != slow.fill_bytes_per_second.end()) {
        f.fill_bytes_per_second = it->second;
        f.full_in_seconds = FullInSeconds(f.avail_bytes, it->second);
      }
      h.filesystems.push_back(std::move(f));
    }
    return h;
  }

  Snapshot Build() const {
    TimestampMs now = o.clock->NowMs();
    std::shared_ptr<const Config> cfg = o.config();
    if (!cfg) cfg = std::make_shared<const Config>();  // before the first configuration: no services
    const Config& c = *cfg;
    Snapshot s;
    s.time = static_cast<double>(now) / 1000.0;
    // Only the host's own series: scraped targets may expose node_* names too.
    std::string host_sel = "job=" + Quote(c.host_job) + ",instance=" + Quote(c.host_name);
    RefreshSlow(host_sel, now);

    // Alerts first: a P0/P1 alert of a service degrades it.
    std::map<std::string, PriorityCounts> by_service;
    std::map<std::string, double> severe_since;  // oldest P0/P1 per service
    std::vector<alert::Silence> silences;
    if (o.silences) silences = o.silences();
    if (o.rules) {
      for (const auto& a : o.rules->Alerts()) {
        if (a.alert.state == rules::AlertState::kPending) {
          ++s.alerts.pending;
          continue;
        }
        if (a.alert.state != rules::AlertState::kFiring) continue;
        FiringAlert f;
        f.name = a.alert.labels.Get("alertname");
        f.severity = a.alert.labels.Get("severity");
        Priority p = c.severities.Of(f.severity);
        f.priority = PriorityName(p);
        if (auto sv = a.alert.labels.Get("service"); !sv.empty()) f.service = Str(sv);
        f.since = static_cast<double>(a.alert.active_at) / 1000.0;
        if (auto it = a.alert.annotations.find("summary"); it != a.alert.annotations.end()) f.summary = it->second;
        for (const auto& l : a.alert.labels) f.labels[l.name] = l.value;
        f.silenced = std::any_of(silences.begin(), silences.end(),
                                 [&](const alert::Silence& sil) { return sil.Mutes(a.alert.labels, now); });
        ++s.alerts.counts[static_cast<size_t>(p)];
        if (f.service) {
          ++by_service[*f.service][static_cast<size_t>(p)];
          if (p == Priority::kP0 || p == Priority::kP1) {
            auto [it, added] = severe_since.try_emplace(*f.service, f.since);
            if (!added) it->second = std::min(it->second, f.since);
          }
        }
        s.alerts.firing.push_back(std::move(f));
      }
    }
    SortFiring(s.alerts.firing);

    std::map<std::string, double> recovering;  // service -> since
    if (o.recovery) {
      if (auto rc = o.recovery()) {
        for (const auto& st : rc->Current().services) {
          if (RecoveryPhaseIsRecovering(st.phase)) {
            recovering[st.service] = static_cast<double>(st.phase_since_ms) / 1000.0;
          }
        }
      }
    }

    // Per service: units by name, vigil_service_up, health values.
    std::map<std::string, std::map<std::string, UnitFacts>> units;
    std::map<std::string, double> service_up;
    std::map<std::string, std::vector<HealthValue>> health;
    for (const auto& smp : Query(kServiceSeries, now)) {
      std::string service = Str(smp.labels.Get("service"));
      std::string_view name = smp.labels.Get("__name__");
      if (name == "vigil_service_up") {
        service_up[service] = smp.v;
        continue;
      }
      if (name.starts_with("node_systemd_") || name.starts_with("vigil_systemd_")) {
        std::string unit = Str(smp.labels.Get("name"));
        UnitFacts& u = units[service][unit];
        u.name = unit;
        if (name == "node_systemd_unit_state" && smp.v == 1) u.active_state = smp.labels.Get("state");
        if (name == "vigil_systemd_unit_info") u.load_state = smp.labels.Get("load_state");
        if (name == "node_systemd_unit_start_time_seconds") u.active_enter_seconds = smp.v;
        if (name == "vigil_systemd_unit_inactive_enter_timestamp_seconds") u.inactive_enter_seconds = smp.v;
        continue;
      }
      if (auto hv = HealthOf(name, smp.labels.Get("rule"), smp.v)) health[service].push_back(std::move(*hv));
    }

    for (const auto& spec : c.services) {
      Service sv;
      sv.name = spec.name;
      sv.depends_on = spec.depends_on;
      ServiceFacts f;
      f.has_unit = !spec.unit.empty();
      for (auto& [name, u] : units[spec.name]) {
        sv.units.push_back(name);
        f.units.push_back(u);
      }
      if (sv.units.empty() && !spec.unit.empty()) sv.units.push_back(spec.unit);
      if (auto it = service_up.find(spec.name); it != service_up.end()) f.service_up = it->second;
      if (auto it = recovering.find(spec.name); it != recovering.end()) f.recovering_since = it->second;
      if (auto it = severe_since.find(spec.name); it != severe_since.end()) {
        f.severe_alert_firing = true;
        f.severe_alert_since = it->second;
      }
      StateDecision d = DecideServiceState(f);
      sv.state = d.state;
      sv.since = d.since;
      {
        std::lock_guard lock(mu);
        if (auto it = slow.uptime_24h.find(spec.name); it != slow.uptime_24h.end()) sv.uptime_24h = it->second;
        if (auto it = slow.uptime_30d.find(spec.name); it != slow.uptime_30d.end()) sv.uptime_30d = it->second;
      }
      sv.health = std::move(health[spec.name]);
      SortHealth(sv.health);
      sv.alerts = by_service[spec.name];
      s.services.push_back(std::move(sv));
    }
    s.host = BuildHost(c, host_sel, now);
    s.overall = DecideOverall(s.services, s.alerts.counts);
    return s;
  }
};

Builder::Builder(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Builder::~Builder() = default;
Snapshot Builder::Build() const { return impl_->Build(); }

http::Route NewRoute(Options options, http::Handler fallback) {
  auto builder = std::make_shared<Builder>(std::move(options));
  return {"/api/v1/status", [builder, fallback = std::move(fallback)](const http::Request& r) -> http::Response {
            if (r.path != "/api/v1/status") {
              if (fallback) return fallback(r);
              return {404, "application/json", R"({"status":"error","errorType":"not_found","error":"not found"})"};
            }
            if (r.method != "GET") {
              return {405, "application/json",
                      R"({"status":"error","errorType":"bad_data","error":"/api/v1/status answers GET only"})"};
            }
            http::Response resp;
            resp.content_type = "application/json";
            resp.body = ToResponseJson(builder->Build());
            return resp;
          }};
}

}  // namespace vigil::status
