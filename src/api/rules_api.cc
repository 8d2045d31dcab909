#include "api/rules_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>

#include "api/format.h"
#include "promql/ast.h"

namespace vigil::api {
namespace {

// strconv.FormatFloat(v, 'e', -1, 64), which Prometheus uses for alert values.
std::string FormatAlertValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  return std::string(buf, r.ptr);
}

void AppendMap(std::string* out, const std::vector<std::pair<std::string, std::string>>& kv) {
  out->push_back('{');
  for (size_t i = 0; i < kv.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonString(out, kv[i].first);
    out->push_back(':');
    AppendJsonString(out, kv[i].second);
  }
  out->push_back('}');
}

void AppendLabels(std::string* out, const Labels& labels) {
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& l : labels) kv.emplace_back(l.name, l.value);
  AppendMap(out, kv);
}

void AppendAnnotations(std::string* out, const std::map<std::string, std::string>& m) {
  AppendMap(out, {m.begin(), m.end()});
}

void AppendAlert(std::string* out, const rules::Alert& a) {
  *out += R"({"labels":)";
  AppendLabels(out, a.labels);
  *out += R"(,"annotations":)";
  AppendAnnotations(out, a.annotations);
  *out += R"(,"state":")" + std::string(rules::AlertStateName(a.state)) + R"(","activeAt":")" +
          FormatGoTime(a.active_at) + '"';
  if (a.keep_firing_since != 0) *out += R"(,"keepFiringSince":")" + FormatGoTime(a.keep_firing_since) + '"';
  *out += R"(,"value":")" + FormatAlertValue(a.value) + "\"}";
}

std::string Seconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", s);
  return buf;
}

bool Selected(const std::vector<std::string>& wanted, const std::string& v) {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), v) != wanted.end();
}

}  // namespace

std::string FormatGoTime(TimestampMs t) {
  if (t == 0) return "0001-01-01T00:00:00Z";
  time_t secs = static_cast<time_t>(AlignDown(t, 1000) / 1000);
  int ms = static_cast<int>(t - AlignDown(t, 1000));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (ms != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", ms);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::string RulesData(const std::vector<rules::GroupSnapshot>& groups, const RulesFilter& filter) {
  std::string out = R"({"groups":[)";
  bool first_group = true;
  for (const auto& g : groups) {
    if (!Selected(filter.group_names, g.name) || !Selected(filter.files, g.file)) continue;
    std::string rules;
    bool first_rule = true;
    for (const auto& r : g.rules) {
      bool alerting = r.spec.is_alert();
      if ((filter.type == "alert" && !alerting) || (filter.type == "record" && alerting)) continue;
      if (!Selected(filter.rule_names, r.spec.name())) continue;
      if (!first_rule) rules += ',';
      first_rule = false;
      rules += '{';
      if (alerting) {
        rules::AlertState state = rules::AlertState::kInactive;
        for (const auto& a : r.alerts) state = std::max(state, a.state);
        rules += R"("state":")" + std::string(rules::AlertStateName(state)) + "\",";
      }
      rules += R"("name":)";
      AppendJsonString(&rules, r.spec.name());
      rules += R"(,"query":)";
      AppendJsonString(&rules, r.spec.parsed_expr ? promql::Format(*r.spec.parsed_expr) : r.spec.expr);
      if (alerting) {
        rules += R"(,"duration":)" + std::to_string(r.spec.for_duration.count() / 1000) + R"(,"keepFiringFor":)" +
                 std::to_string(r.spec.keep_firing_for.count() / 1000);
        if (r.spec.parsed_stay_active_while) {
          rules += R"(,"stayActiveWhile":)";
          AppendJsonString(&rules, promql::Format(*r.spec.parsed_stay_active_while));
        }
      }
      rules += R"(,"labels":)";
      AppendLabels(&rules, r.spec.labels);
      if (alerting) {
        rules += R"(,"annotations":)";
        AppendAnnotations(&rules, r.spec.annotations);
        if (!filter.exclude_alerts) {
          rules += R"(,"alerts":[)";
          for (size_t i = 0; i < r.alerts.size(); ++i) {
            if (i) rules += ',';
            AppendAlert(&rules, r.alerts[i]);
          }
          rules += ']';
        }
      }
      const char* health = r.health == rules::RuleHealth::kOk      ? "ok"
                           : r.health == rules::RuleHealth::kError ? "err"
                                                                   : "unknown";
      rules += R"(,"health":")" + std::string(health) + '"';
      if (!r.last_error.empty()) {
        rules += R"(,"lastError":)";
        AppendJsonString(&rules, r.last_error);
      }
      rules += R"(,"evaluationTime":)" + Seconds(r.last_duration_seconds) + R"(,"lastEvaluation":")" +
               FormatGoTime(r.last_evaluation) + R"(","type":")" + (alerting ? "alerting" : "recording") + "\"}";
    }
    // Prometheus leaves out groups whose rules were all filtered away.
    if (first_rule && (!filter.type.empty() || !filter.rule_names.empty())) continue;
    if (!first_group) out += ',';
    first_group = false;
    out += R"({"name":)";
    AppendJsonString(&out, g.name);
    out += R"(,"file":)";
    AppendJsonString(&out, g.file);
    out += R"(,"rules":[)" + rules + R"(],"interval":)" + Seconds(static_cast<double>(g.interval.count()) / 1000) +
           R"(,"limit":)" + std::to_string(g.limit) + R"(,"evaluationTime":)" + Seconds(g.last_duration_seconds) +
           R"(,"lastEvaluation":")" + FormatGoTime(g.last_evaluation) + "\"}";
  }
  return out + "]}";
}

std::string AlertsData(const std::vector<rules::AlertSnapshot>& alerts) {
  std::string out = R"({"alerts":[)";
  for (size_t i = 0; i < alerts.size(); ++i) {
    if (i) out += ',';
    AppendAlert(&out, alerts[i].alert);
  }
  return out + "]}";
}

}  // namespace vigil::api
