#include "cli/alert_quality_command.h"

#include <sys/stat.h>

#include <climits>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/output.h"
#include "incidents/alert_quality.h"
#include "notify/outbox.h"
#include "recovery/audit.h"
#include "rules/state_store.h"

namespace vigil::cli {

namespace {

using nlohmann::json;

// The range from --from/--to or --since; errors name the flag.
Result<std::pair<TimestampMs, TimestampMs>> Range(const AlertQualityOptions& o, TimestampMs now) {
  TimestampMs to = now;
  if (!o.to.empty()) {
    auto t = ParseTime(o.to);
    if (!t.ok()) return Status::Error("--to: " + t.status().message());
    to = *t;
  }
  TimestampMs from;
  if (!o.from.empty()) {
    auto t = ParseTime(o.from);
    if (!t.ok()) return Status::Error("--from: " + t.status().message());
    from = *t;
  } else {
    auto d = ParseDuration(o.since);
    if (!d.ok()) return Status::Error("--since: " + d.status().message());
    if (d->count() <= 0) return Status::Error("--since: must be longer than 0, got \"" + o.since + "\"");
    from = to - d->count();
  }
  if (from >= to) return Status::Error("--from " + FormatTime(from) + " is not before --to " + FormatTime(to));
  return std::make_pair(from, to);
}

std::string Percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", share * 100);
  return buf;
}

}  // namespace

Result<incidents::AlertQualityInput> ReadAlertQualityInput(const std::string& db, TimestampMs from, TimestampMs to) {
  incidents::AlertQualityInput in;
  in.from_ms = from;
  in.to_ms = to;
  auto store = rules::AlertStateStore::Open(db);
  if (!store.ok()) return store.status();
  // Episodes that fired in range, and those before it for flaps: one window
  // (at most 2 x the longest `for`) is enough; a day covers every sane rule.
  auto episodes = (*store)->Episodes(from - 24LL * 3600 * 1000, to);
  if (!episodes.ok()) return episodes.status().WithContext(db);
  in.episodes = std::move(*episodes);
  auto outbox = notify::Outbox::Open(db);
  if (!outbox.ok()) return outbox.status();
  auto deliveries = (*outbox)->FirstDeliveries(from - 24LL * 3600 * 1000);
  if (!deliveries.ok()) return deliveries.status().WithContext(db);
  for (const auto& d : *deliveries) in.notifications.push_back({d.fingerprint, d.starts_at, d.delivered_at});
  auto silences = (*outbox)->Silences();
  if (!silences.ok()) return silences.status().WithContext(db + " silences");
  for (const auto& st : *silences) {
    alert::Silence s{st.id, {}, st.starts_at, st.ends_at, st.created_by, st.comment};
    for (const auto& m : st.matchers) {
      auto parsed = alert::ParseMatchers(m);
      if (!parsed.ok())
        return Status::Error(db + ": silence " + st.id + ": matcher " + m + ": " + parsed.status().message());
      s.matchers.insert(s.matchers.end(), parsed->begin(), parsed->end());
    }
    in.silences.push_back(std::move(s));
  }
  auto audit = recovery::AuditLog::Open(db);
  if (!audit.ok()) return audit.status();
  auto rows = (*audit)->Recent(INT_MAX);
  if (!rows.ok()) return rows.status().WithContext(db + " recovery audit");
  for (const auto& r : *rows) {
    // vigil's actions that really ran, and systemd's own restarts.
    if ((r.kind == "action" && r.outcome != "dry-run") || r.kind == "systemd_restart") {
      in.actions.push_back({r.service, r.time_ms});
    }
  }
  return in;
}

int AlertQuality(const AlertQualityOptions& o) {
  auto range = Range(o, SystemClock().NowMs());
  if (!range.ok()) return Fail(range.status().message());
  const std::string db = o.data_dir + "/state.db";
  struct stat st {};
  if (stat(db.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Fail(db + ": no such file (is --data-dir the agent's data directory?)");
  }
  auto in = ReadAlertQualityInput(db, range->first, range->second);
  if (!in.ok()) return Fail(in.status().message());
  incidents::AlertQualityReport r = incidents::ComputeAlertQuality(*in);
  if (o.as_json) {
    json rules = json::array();
    for (const auto& q : r.rules) {
      rules.push_back({{"rule", q.rule},
                       {"severity", q.severity},
                       {"fired", q.fired},
                       {"resolved", q.resolved},
                       {"flaps", q.flaps},
                       {"self_resolved", q.self_resolved},
                       {"self_resolved_share", q.self_resolved_share()},
                       {"silenced", q.silenced},
                       {"silenced_share", q.silenced_share()},
                       {"acted_on", q.acted_on},
                       {"mean_firing_seconds", q.mean_firing_seconds},
                       {"notified", q.notified},
                       {"mean_notify_seconds", q.mean_notify_seconds},
                       {"median_notify_seconds", q.median_notify_seconds},
                       {"max_notify_seconds", q.max_notify_seconds}});
    }
    json out = {{"from", FormatTime(range->first)},
                {"to", FormatTime(range->second)},
                {"fired", r.fired},
                {"self_resolved", r.self_resolved},
                {"false_positive_share", r.false_positive_share()},
                {"false_positive_target", incidents::kFalsePositiveTarget},
                {"rules", rules}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("alert quality %s .. %s\n", FormatTime(range->first).c_str(), FormatTime(range->second).c_str());
  std::printf("%-32s %-9s %6s %6s %6s %7s %9s %6s %12s %11s %11s\n", "RULE", "SEVERITY", "FIRED", "FLAPS", "SELF",
              "SELF%", "SILENCED", "ACTED", "MEAN FIRING", "NOTIFY P50", "NOTIFY MAX");
  auto seconds = [](bool known, double s) {
    return known ? FormatDuration(Duration(static_cast<int64_t>(s * 1000))) : std::string("-");
  };
  for (const auto& q : r.rules) {
    std::printf("%-32s %-9s %6lld %6lld %6lld %7s %9lld %6lld %12s %11s %11s\n", q.rule.c_str(), q.severity.c_str(),
                static_cast<long long>(q.fired), static_cast<long long>(q.flaps),
                static_cast<long long>(q.self_resolved), Percent(q.self_resolved_share()).c_str(),
                static_cast<long long>(q.silenced), static_cast<long long>(q.acted_on),
                seconds(q.resolved > 0, q.mean_firing_seconds).c_str(),
                seconds(q.notified > 0, q.median_notify_seconds).c_str(),
                seconds(q.notified > 0, q.max_notify_seconds).c_str());
  }
  if (r.rules.empty()) std::printf("(no alert fired in this range)\n");
  std::printf("false-positive proxy: %lld of %lld fired alerts resolved by themselves = %s (target < %s)%s\n",
              static_cast<long long>(r.self_resolved), static_cast<long long>(r.fired),
              Percent(r.false_positive_share()).c_str(), Percent(incidents::kFalsePositiveTarget).c_str(),
              r.false_positive_share() < incidents::kFalsePositiveTarget ? "" : "  ABOVE TARGET");
  return 0;
}

}  // namespace vigil::cli
