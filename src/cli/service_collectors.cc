#include "cli/service_collectors.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/log.h"
#include "collect/datadir/datadir_collector.h"
#include "probe/probe.h"

namespace vigil::cli {

void ServiceHealth::Record(const std::string& service, const std::string& collector, bool ok, TimestampMs started_ms) {
  bool before = false, after = false;
  std::function<void()> on_check;
  {
    std::lock_guard lock(mu_);
    auto& by_collector = verdicts_[service];
    before = true;
    for (const auto& [name, v] : by_collector) before = before && v.ok;
    by_collector[collector] = {ok, started_ms != 0 ? started_ms : clock_.NowMs()};
    after = true;
    for (const auto& [name, v] : by_collector) after = after && v.ok;
    on_check = on_check_;
  }
  if (on_check) on_check();
  if (before == after || events_ == nullptr) return;
  LogInfo(after ? "service probes pass again" : "service probes failing",
          {{"service", service}, {"collector", collector}});
  events_->Publish({"probe", {"vigil_probe_success", "vigil_service_up"}, clock_.NowMs()});
}

bool ServiceHealth::ProbesOk(std::string_view service, TimestampMs since_ms) const {
  std::lock_guard lock(mu_);
  auto it = verdicts_.find(service);
  if (it == verdicts_.end()) return true;
  for (const auto& [name, v] : it->second) {
    if (!v.ok || v.at_ms < since_ms) return false;
  }
  return true;
}

void ServiceHealth::SetOnCheck(std::function<void()> on_check) {
  std::lock_guard lock(mu_);
  on_check_ = std::move(on_check);
}

TimestampMs ServiceHealth::AllCheckedSince(std::string_view service, size_t expected) const {
  std::lock_guard lock(mu_);
  auto it = verdicts_.find(service);
  if (it == verdicts_.end()) return expected == 0 ? std::numeric_limits<TimestampMs>::max() : 0;
  if (it->second.size() < expected) return 0;
  TimestampMs oldest = std::numeric_limits<TimestampMs>::max();
  for (const auto& [name, v] : it->second) oldest = std::min(oldest, v.at_ms);
  return oldest;
}

namespace {

// Passes a collection through and records whether it passed: no error in the
// batch and none returned (a probe's failure is a batch error with its target).
class HealthReporting final : public collect::Collector {
 public:
  HealthReporting(std::unique_ptr<collect::Collector> inner, std::string service, std::shared_ptr<ServiceHealth> health)
      : inner_(std::move(inner)), service_(std::move(service)), health_(std::move(health)) {}

  std::string_view name() const override { return inner_->name(); }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    Status s = inner_->Collect(ctx, out);
    health_->Record(service_, std::string(inner_->name()), s.ok() && out.errors().empty(), ctx.now_ms);
    return s;
  }

 private:
  std::unique_ptr<collect::Collector> inner_;
  std::string service_;
  std::shared_ptr<ServiceHealth> health_;
};

probe::BasicAuth ToBasicAuth(const config::EndpointAuth& a) { return {a.user, a.password, a.cookie_file}; }

Result<std::unique_ptr<collect::Collector>> NewProbe(const std::string& service, const config::ProbeOptions& p) {
  probe::ProbeCommon common{service, p.name, "", p.timeout};
  if (p.type == "http") {
    probe::HttpProbeOptions o;
    o.common = common;
    o.url = p.url;
    o.headers = p.headers;
    o.auth = ToBasicAuth(p.auth);
    o.tls_verify = !p.tls_insecure_skip_verify;
    o.expected_status = p.expected_status;
    o.body_regex = p.body_regex;
    o.json_pointer = p.json_pointer;
    o.json_equals = p.json_equals;
    return probe::NewHttpProbe(std::move(o));
  }
  if (p.type == "tcp") return probe::NewTcpProbe({common, p.target});
  if (p.type == "jsonrpc") {
    probe::JsonRpcProbeOptions o;
    o.common = common;
    o.url = p.url;
    o.version = p.jsonrpc_version;
    o.method = p.method;
    o.params_json = p.params_json;
    o.auth = ToBasicAuth(p.auth);
    o.tls_verify = !p.tls_insecure_skip_verify;
    for (const auto& [name, pointer] : p.extract) o.extract.push_back({name, pointer});
    return probe::NewJsonRpcProbe(std::move(o));
  }
  if (p.type == "tls") {
    probe::TlsProbeOptions o;
    o.common = common;
    o.target = p.target;
    o.url = p.url;
    o.file = p.file;
    return probe::NewTlsProbe(std::move(o));
  }
  return Status::Error("unknown probe type \"" + p.type + "\"");
}

// The bitcoind whose blocks titan of `titan_service` is compared with: one it
// depends on, else the only one configured; "" when that is ambiguous.
std::string BitcoindFor(const config::Config& c, const config::ServiceOptions& titan_service) {
  for (const auto& dep : titan_service.depends_on) {
    for (const auto& s : c.services) {
      if (s.name == dep && s.bitcoind) return s.name;
    }
  }
  std::string only;
  for (const auto& s : c.services) {
    if (!s.bitcoind) continue;
    if (!only.empty()) return "";
    only = s.name;
  }
  return only;
}

// The scheduler's own deadline sits a little past the collector's timeout, so
// a peer that times out is reported once, by the collector, with its reason.
Duration SchedulerTimeout(Duration collector_timeout) { return collector_timeout + Duration(1000); }

}  // namespace

ServiceCollectors BuildServiceCollectors(const config::Config& c, const Clock& clock, collect::EventSink* events) {
  ServiceCollectors out;
  out.health = std::make_shared<ServiceHealth>(clock, events);
  auto heights = std::make_shared<probe::ChainHeights>();

  auto add = [&](const std::string& service, const std::string& what,
                 Result<std::unique_ptr<collect::Collector>> collector, Duration interval, Duration timeout,
                 bool health_bearing) {
    if (!collector.ok()) {
      LogError("collector not started",
               {{"service", service}, {"collector", what}, {"err", collector.status().message()}});
      return;
    }
    std::shared_ptr<collect::Collector> scheduled =
        health_bearing ? std::make_shared<HealthReporting>(std::move(*collector), service, out.health)
                       : std::shared_ptr<collect::Collector>(std::move(*collector));
    out.scheduled.push_back({std::move(scheduled), interval, SchedulerTimeout(timeout)});
  };

  for (const auto& s : c.services) {
    for (const auto& p : s.probes) {
      add(s.name, "probe/" + p.name, NewProbe(s.name, p), p.interval, p.timeout, true);
    }
    if (s.bitcoind) {
      probe::BitcoindOptions o;
      o.service = s.name;
      o.url = s.bitcoind->url;
      o.auth = ToBasicAuth(s.bitcoind->auth);
      o.timeout = s.bitcoind->timeout;
      o.heights = heights;
      add(s.name, "bitcoind", probe::NewBitcoindCollector(std::move(o)), s.bitcoind->interval, s.bitcoind->timeout,
          true);
    }
    if (s.titan) {
      probe::TitanOptions o;
      o.service = s.name;
      o.url = s.titan->url;
      o.timeout = s.titan->timeout;
      o.heights = heights;
      o.bitcoind_service = BitcoindFor(c, s);
      add(s.name, "titan", probe::NewTitanCollector(std::move(o)), s.titan->interval, s.titan->timeout, true);
    }
    if (s.validator) {
      probe::ValidatorOptions o;
      o.service = s.name;
      o.url = s.validator->url;
      o.references = s.validator->references;
      o.timeout = s.validator->timeout;
      add(s.name, "validator", probe::NewValidatorCollector(std::move(o)), s.validator->interval, s.validator->timeout,
          true);
    }
    if (s.updates) {
      probe::UpdateCheckOptions o;
      o.service = s.name;
      o.binary = s.updates->binary;
      o.version_file = s.updates->version_file;
      o.releases_url = s.updates->releases;
      o.timeout = s.updates->timeout;
      // A failed release lookup says nothing about the service's health.
      add(s.name, "updates", probe::NewUpdateChecker(std::move(o)), s.updates->interval, s.updates->timeout, false);
    }
    for (const auto& dir : s.data_dirs) {
      // The size of the service's data says nothing about its health.
      add(s.name, "data_dir", collect::NewDataDirCollector({s.name, dir.path}), dir.interval, dir.timeout, false);
    }
  }
  for (const auto& t : c.scrape) {
    probe::ScrapeOptions o;
    o.job = t.job;
    o.url = t.url;
    o.auth = ToBasicAuth(t.auth);
    o.tls_verify = !t.tls_insecure_skip_verify;
    o.honor_labels = t.honor_labels;
    o.sample_limit = t.sample_limit;
    o.timeout = t.timeout;
    add("", "scrape/" + t.job, probe::NewScrapeCollector(std::move(o)), t.interval, t.timeout, false);
  }
  return out;
}

}  // namespace vigil::cli
