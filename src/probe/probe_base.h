// Internal: what every probe shares: labels, timing, vigil_probe_success and
// vigil_probe_duration_seconds, and the failure reported with its target.
#pragma once

#include <optional>
#include <string>

#include "base/labels.h"
#include "collect/collector.h"
#include "http/outbound.h"

namespace vigil::probe {
// The outbound HTTP client the probes are built on.
using http::DeadlineFrom;
using http::Failure;
using http::HttpExchange;
using http::HttpRequest;
using http::HttpResponse;
using http::ParsedUrl;
using http::ParseUrl;
using http::SteadyTime;
}  // namespace vigil::probe
#include "probe/probe.h"

namespace vigil::probe {

class ProbeBase : public collect::Collector {
 public:
  // `target` names what is probed without credentials (redacted URL, host:port, path).
  ProbeBase(const ProbeCommon& common, std::string target)
      : collector_name_(common.collector_name.empty() ? "probe/" + common.service + "/" + common.name
                                                      : common.collector_name),
        target_(std::move(target)),
        timeout_(common.timeout),
        labels_{{"probe", common.name}, {"service", common.service}} {}

  std::string_view name() const override { return collector_name_; }

  // A failed probe is a result (vigil_probe_success 0), so the batch is kept and
  // the status is ok; the failure goes to the batch's errors with the target.
  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) final {
    auto start = std::chrono::steady_clock::now();
    std::optional<Failure> f = Run(ctx, DeadlineFrom(ctx.deadline, timeout_), out);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.AddGauge("vigil_probe_success", "1 when the probe's last check passed, else 0.", labels_, f ? 0 : 1);
    out.AddGauge("vigil_probe_duration_seconds", "Duration of the probe's last check in seconds.", labels_, seconds);
    if (f) out.ReportError(f->reason, f->detail, target_);
    return Status::Ok();
  }

 protected:
  // Performs the check before `deadline`, adding probe-specific samples to `out`.
  virtual std::optional<Failure> Run(const collect::CollectContext& ctx, SteadyTime deadline, MetricBatch& out) = 0;

  const Labels& labels() const { return labels_; }
  const std::string& target() const { return target_; }

 private:
  std::string collector_name_;
  std::string target_;
  Duration timeout_;
  Labels labels_;
};

}  // namespace vigil::probe
