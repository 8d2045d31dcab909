// Scraping other Prometheus endpoints into vigil's store.
#include <chrono>

#include "expfmt/to_batch.h"
#include "probe/jsonrpc.h"
#include "probe/probe.h"
#include "probe/probe_base.h"

namespace vigil::probe {
namespace {

// What Prometheus 2 asks for; OpenMetrics is recognised by its `# EOF` line.
constexpr char kAccept[] =
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";

bool IsOpenMetrics(std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.remove_suffix(1);
  return body.ends_with("# EOF");
}

class Scraper final : public collect::Collector {
 public:
  Scraper(ScrapeOptions o, ParsedUrl url)
      : o_(std::move(o)),
        url_(std::move(url)),
        collector_name_(o_.collector_name.empty() ? "scrape/" + o_.job : o_.collector_name),
        instance_((url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host) + ":" +
                  std::to_string(url_.port)),
        target_labels_{{"instance", instance_}, {"job", o_.job}},
        credentials_(o_.auth) {}

  std::string_view name() const override { return collector_name_; }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    auto start = std::chrono::steady_clock::now();
    size_t samples = 0;
    std::optional<Failure> f = Scrape(DeadlineFrom(ctx.deadline, o_.timeout), out, &samples);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.AddGauge("up", "1 when the last scrape of the target succeeded.", target_labels_, f ? 0 : 1);
    out.AddGauge("scrape_duration_seconds", "Duration of the last scrape of the target.", target_labels_, seconds);
    out.AddGauge("scrape_samples_scraped", "Samples the target exposed in its last successful scrape.",
                 target_labels_, static_cast<double>(samples));
    if (f) out.ReportError(f->reason, f->detail, url_.redacted);
    return Status::Ok();
  }

 private:
  std::optional<Failure> Scrape(SteadyTime deadline, MetricBatch& out, size_t* samples) {
    HttpRequest req;
    req.url = url_;
    req.headers = o_.headers;
    req.headers.emplace_back("Accept", kAccept);
    req.tls_verify = o_.tls_verify;
    req.deadline = deadline;
    if (!credentials_.empty()) {
      if (auto f = credentials_.Get(&req.user, &req.password)) return f;
    } else {
      req.user = url_.user;
      req.password = url_.password;
    }
    HttpResponse res;
    if (auto f = HttpExchange(req, &res)) return f;
    if (res.status < 200 || res.status > 299) {
      if (res.status == 401 || res.status == 403) credentials_.Invalidate();
      return Failure{res.status == 401 || res.status == 403 ? "auth_failed" : "http_" + std::to_string(res.status),
                     "unexpected HTTP status " + std::to_string(res.status)};
    }
    expfmt::ToBatchOptions opts;
    opts.sample_limit = o_.sample_limit;
    opts.relabel = [this](Labels& l) { ApplyTargetLabels(l); };
    expfmt::Format format = IsOpenMetrics(res.body) ? expfmt::Format::kOpenMetrics100 : expfmt::Format::kText004;
    if (Status s = expfmt::AppendExposition(res.body, format, opts, out, samples); !s.ok()) {
      return Failure{"parse_error", s.message()};
    }
    return std::nullopt;
  }

  // Prometheus's rule: with honor_labels the target's own job/instance win;
  // without, they are kept under exported_ and the scrape's labels are set.
  void ApplyTargetLabels(Labels& l) const {
    for (const auto& [name, value] : target_labels_) {
      std::string_view scraped = l.Get(name);
      if (!scraped.empty()) {
        if (o_.honor_labels) continue;
        l.Set("exported_" + name, scraped);
      }
      l.Set(name, value);
    }
  }

  ScrapeOptions o_;
  ParsedUrl url_;
  std::string collector_name_;
  std::string instance_;
  Labels target_labels_;
  Credentials credentials_;
};

}  // namespace

Result<std::unique_ptr<collect::Collector>> NewScrapeCollector(ScrapeOptions o) {
  if (o.job.empty()) return Status::Error("scrape needs a job name");
  std::optional<ParsedUrl> url = ParseUrl(o.url);
  if (!url) return Status::Error("scrape " + o.job + ": url must be http(s)://host[:port]/path");
  return std::unique_ptr<collect::Collector>(std::make_unique<Scraper>(std::move(o), std::move(*url)));
}

}  // namespace vigil::probe
