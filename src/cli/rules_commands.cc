#include "cli/rules_commands.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/log.h"
#include "config/config.h"
#include "http/client.h"
#include "rules/rule_file.h"
#include "rules/unittest.h"

namespace vigil::cli {

int CheckRules(const std::vector<std::string>& files, const std::string& config_path) {
  std::optional<SeverityMap> severities;
  if (!config_path.empty()) {
    config::LoadResult c = config::LoadFile(config_path);
    if (!c.ok()) {
      for (const auto& p : c.problems) std::printf("%s\n", p.ToString().c_str());
      return 1;
    }
    if (c.config.alerting) severities = c.config.alerting->severities;
  }
  rules::ParseOptions options;
  if (severities) options.severities = &*severities;
  int rc = 0;
  for (const auto& file : files) {
    std::printf("Checking %s\n", file.c_str());
    rules::LoadResult r = rules::LoadRuleFiles({file}, options);
    if (!r.ok()) {
      rc = 1;
      std::printf("  FAILED:\n");
      for (const auto& p : r.problems) std::printf("%s\n", p.ToString().c_str());
      std::printf("\n");
      continue;
    }
    size_t n = 0;
    for (const auto& g : r.groups) n += g.rules.size();
    std::printf("  SUCCESS: %zu rules found\n", n);
    for (const auto& w : r.warnings) std::printf("  WARNING: %s\n", w.ToString().c_str());
    std::printf("\n");
  }
  return rc;
}

int TestRules(const std::vector<std::string>& files) {
  // Rule failures are reported in the test output; the evaluator's log lines would repeat them.
  SetLogLevel(LogLevel::kError);
  return rules::RunRuleTests(files, stdout, stderr);
}

int ListAlerts(const std::string& server, bool json) {
  using Json = nlohmann::ordered_json;
  Result<http::ClientResponse> r = http::Get(server, "/api/v1/alerts", Duration(30000));
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
    return 1;
  }
  Json body = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object() || body.value("status", "") != "success") {
    std::fprintf(stderr, "error: %s/api/v1/alerts answered HTTP %d: %.200s\n", server.c_str(), r->status,
                 r->body.c_str());
    return 1;
  }
  try {
    const Json& alerts = body.at("data").at("alerts");
    if (json) {
      std::printf("%s\n", body.at("data").dump().c_str());
      return 0;
    }
    struct Row {
      int order;
      std::vector<std::string> cells;
    };
    const SeverityMap severities;
    auto severity_rank = [&](const std::string& s) { return static_cast<int>(severities.Of(s)); };
    std::vector<Row> rows;
    for (const Json& a : alerts) {
      const Json& labels = a.at("labels");
      std::string name = labels.value("alertname", ""), severity = labels.value("severity", "");
      std::string state = a.value("state", ""), rest;
      for (const auto& [k, v] : labels.items()) {
        if (k == "alertname" || k == "severity") continue;
        if (!rest.empty()) rest += ", ";
        rest += k + "=" + v.get<std::string>();
      }
      std::string summary = a.contains("annotations") ? a.at("annotations").value("summary", "") : "";
      int order = (state == "firing" ? 0 : 10) + severity_rank(severity);
      rows.push_back({order, {name, state, severity, a.value("activeAt", ""), a.value("value", ""), rest, summary}});
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) { return x.order < y.order; });
    std::vector<std::vector<std::string>> table{
        {"ALERT", "STATE", "SEVERITY", "ACTIVE SINCE", "VALUE", "LABELS", "SUMMARY"}};
    for (auto& row : rows) table.push_back(std::move(row.cells));
    std::vector<size_t> width(table[0].size(), 0);
    for (const auto& row : table) {
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : table) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      std::printf("%s\n", line.c_str());
    }
    if (alerts.empty()) std::printf("(no pending or firing alerts)\n");
  } catch (const Json::exception& e) {
    std::fprintf(stderr, "error: unexpected answer from %s/api/v1/alerts: %s\n", server.c_str(), e.what());
    return 1;
  }
  return 0;
}

}  // namespace vigil::cli
