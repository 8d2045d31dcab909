#include "cli/report_commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "cli/alert_quality_command.h"
#include "cli/output.h"
#include "http/client.h"
#include "promql/ast.h"

namespace vigil::cli {
namespace {

// One PromQL instant query at `t`; a failure is noted in `errors`.
std::vector<promql::Sample> Instant(const DigestSources& s, const std::string& q, TimestampMs t,
                                    std::vector<std::string>& errors) {
  auto expr = promql::ParseExpr(q);
  if (!expr.ok()) {
    errors.push_back(q + ": " + expr.status().message());
    return {};
  }
  promql::QueryResult r = promql::Engine(s.engine).Instant(s.storage, **expr, t);
  if (!r.ok) {
    errors.push_back(q + ": " + r.error.message);
    return {};
  }
  return std::move(r.value.vector);
}

// The incidents that overlap the range, oldest first, as the digest lists them.
std::vector<incidents::DigestIncident> DigestIncidents(const std::vector<incidents::Incident>& filed) {
  std::vector<incidents::DigestIncident> out;
  for (auto it = filed.rbegin(); it != filed.rend(); ++it) {  // List gives the newest first
    const incidents::Incident& i = *it;
    incidents::DigestIncident d{"#" + std::to_string(i.id), i.root_service, i.root_alert, i.severity, i.services,
                                i.start_ms, i.end_ms, std::nullopt, std::nullopt};
    if (i.mttd_ms) d.mttd_seconds = static_cast<double>(*i.mttd_ms) / 1000;
    if (i.mttr_ms) d.mttr_seconds = static_cast<double>(*i.mttr_ms) / 1000;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

incidents::DigestInput GatherDigest(const DigestSources& s, incidents::TimeRange range, TimestampMs now_ms) {
  incidents::DigestInput in;
  in.range = range;
  in.host = s.host;
  if (s.sla != nullptr) {
    incidents::ReportRequest request;
    request.now_ms = now_ms;
    request.range = range;
    auto reports = s.sla->Report(request);
    if (reports.ok()) {
      in.uptime = std::move(*reports);
    } else {
      in.errors.push_back("uptime: " + reports.status().message());
    }
  } else {
    in.errors.push_back("uptime: the SLA ledger in state.db could not be opened");
  }
  if (s.incidents != nullptr) {
    auto filed = s.incidents->List(range.from_ms, range.to_ms);
    if (filed.ok()) {
      in.incidents = DigestIncidents(*filed);
    } else {
      in.errors.push_back("incidents: " + filed.status().message());
    }
  } else {
    in.errors.push_back("incidents: the incidents in state.db could not be opened");
  }
  if (s.capacity) in.capacity = s.capacity->Build();
  if (s.storage) {
    for (const auto& sample : Instant(s, "vigil_probe_tls_cert_expiry_seconds", range.to_ms, in.errors)) {
      std::string name(sample.labels.Get("probe"));
      if (std::string_view svc = sample.labels.Get("service"); !svc.empty()) name += " (" + std::string(svc) + ")";
      in.certificates.push_back({name, sample.v});
    }
    for (const auto& sample : Instant(s, "vigil_update_available == 1", range.to_ms, in.errors)) {
      in.updates.push_back({std::string(sample.labels.Get("service")), std::string(sample.labels.Get("installed")),
                            std::string(sample.labels.Get("latest"))});
    }
  }
  auto quality = ReadAlertQualityInput(s.state_db, range.from_ms, range.to_ms);
  if (quality.ok()) {
    in.alert_quality = incidents::ComputeAlertQuality(*quality);
  } else {
    in.errors.push_back("alert history: " + quality.status().message());
  }
  return in;
}

int ShowReport(const ReportCommandOptions& o) {
  if (o.format != "md" && o.format != "json") return Fail("--format: expected md or json, got \"" + o.format + "\"");
  if (o.send) {
    if (!o.from.empty() || !o.to.empty() || !o.since.empty())
      return Fail("--send: sends the digest of the last 7 days; it takes no --since, --from or --to");
    auto r = http::PostForm(o.server, "/api/v1/report/digest", {}, Duration(120000));
    if (!r.ok()) {
      Fail(r.status().message());
      return 3;
    }
    if (r->status != 200) {
      Fail(o.server + "/api/v1/report/digest: " + ApiError(*r));
      return 3;
    }
    nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_object()) {
      Fail(o.server + "/api/v1/report/digest: an answer without data");
      return 3;
    }
    std::string receivers;
    for (const auto& name : j["data"].value("receivers", nlohmann::json::array()))
      receivers += (receivers.empty() ? "" : ", ") + name.get<std::string>();
    std::printf("digest queued for %s: %s\n", receivers.empty() ? "no receiver" : receivers.c_str(),
                j["data"].value("headline", std::string()).c_str());
    return 0;
  }
  TimestampMs now = SystemClock().NowMs();
  TimestampMs to = now;
  if (!o.to.empty()) {
    auto t = ParseTime(o.to);
    if (!t.ok()) return Fail("--to: " + t.status().message());
    to = *t;
  }
  TimestampMs from;
  if (!o.from.empty()) {
    if (!o.since.empty()) return Fail("--since: give either --since or --from, not both");
    auto t = ParseTime(o.from);
    if (!t.ok()) return Fail("--from: " + t.status().message());
    from = *t;
  } else {
    std::string since = o.since.empty() ? "7d" : o.since;
    auto d = ParseDuration(since);
    if (!d.ok()) return Fail("--since: " + d.status().message());
    if (d->count() <= 0) return Fail("--since: must be longer than 0, got \"" + since + "\"");
    from = to - d->count();
  }
  if (from >= to) return Fail("--from " + FormatTime(from) + " is not before --to " + FormatTime(to));
  std::string path = "/api/v1/report?format=" + o.format + "&from=" + FormatTime(from) + "&to=" + FormatTime(to);
  auto r = http::Get(o.server, path, Duration(120000));
  if (!r.ok()) {
    Fail(r.status().message());
    return 3;
  }
  if (r->status != 200) {
    Fail(o.server + "/api/v1/report: " + ApiError(*r));
    return 3;
  }
  if (o.format == "md") {
    std::fputs(r->body.c_str(), stdout);
    return 0;
  }
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("data")) {
    Fail(o.server + "/api/v1/report: an answer without data");
    return 3;
  }
  std::printf("%s\n", j["data"].dump(2).c_str());
  return 0;
}

}  // namespace vigil::cli
