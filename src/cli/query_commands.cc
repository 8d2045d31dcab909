#include "cli/query_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "base/time.h"
#include "http/client.h"

namespace vigil::cli {
namespace {

using Json = nlohmann::ordered_json;
using Params = std::vector<std::pair<std::string, std::string>>;

// The client waits a little longer than a query may run on the server.
constexpr Duration kClientTimeout{5 * 60 * 1000};

// `name{a="1", b="2"}` from the API's "metric" object.
std::string SeriesName(const Json& metric) {
  std::string name;
  std::string labels;
  for (const auto& [k, v] : metric.items()) {
    std::string value = v.is_string() ? v.get<std::string>() : v.dump();
    if (k == "__name__") {
      name = value;
      continue;
    }
    if (!labels.empty()) labels += ", ";
    std::string escaped;
    for (char c : value) {
      if (c == '"' || c == '\\') escaped += '\\';
      if (c == '\n') {
        escaped += "\\n";
        continue;
      }
      escaped += c;
    }
    labels += k + "=\"" + escaped + "\"";
  }
  if (labels.empty() && !name.empty()) return name;
  return name + "{" + labels + "}";
}

// A [timestamp, "value"] pair as "2026-11-25T16:00:00.000Z" and the value text.
std::pair<std::string, std::string> Point(const Json& p) {
  double secs = p.at(0).get<double>();
  return {FormatTime(static_cast<TimestampMs>(std::llround(secs * 1000))), p.at(1).get<std::string>()};
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void PrintData(const Json& data) {
  const std::string type = data.at("resultType").get<std::string>();
  const Json& result = data.at("result");
  if (type == "scalar" || type == "string") {
    auto [t, v] = Point(result);
    PrintTable({{"VALUE", "TIMESTAMP"}, {v, t}});
    return;
  }
  if (type == "vector") {
    std::vector<std::vector<std::string>> rows{{"SERIES", "VALUE", "TIMESTAMP"}};
    for (const Json& s : result) {
      auto [t, v] = Point(s.at("value"));
      rows.push_back({SeriesName(s.at("metric")), v, t});
    }
    PrintTable(rows);
    if (result.empty()) std::printf("(no series)\n");
    return;
  }
  // matrix: the series, then one indented line per point.
  for (const Json& s : result) {
    std::printf("%s\n", SeriesName(s.at("metric")).c_str());
    std::vector<std::vector<std::string>> rows;
    for (const Json& p : s.at("values")) {
      auto [t, v] = Point(p);
      rows.push_back({"  " + t, v});
    }
    PrintTable(rows);
  }
  if (result.empty()) std::printf("(no series)\n");
}

int Run(const QueryTarget& target, const std::string& path, Params params) {
  if (!target.timeout.empty()) params.emplace_back("timeout", target.timeout);
  Result<http::ClientResponse> r = http::PostForm(target.server, path, params, kClientTimeout);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
    return 1;
  }
  Json body = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    std::fprintf(stderr, "error: %s%s answered HTTP %d without Prometheus API JSON: %.200s\n", target.server.c_str(),
                 path.c_str(), r->status, r->body.c_str());
    return 1;
  }
  try {
    if (body.value("status", "") != "success") {
      std::fprintf(stderr, "error: %s (HTTP %d): %s\n", body.value("errorType", "unknown").c_str(), r->status,
                   body.value("error", "").c_str());
      return 1;
    }
    for (const char* kind : {"warnings", "infos"}) {
      if (!body.contains(kind)) continue;
      for (const Json& w : body.at(kind)) {
        std::fprintf(stderr, "%s: %s\n", kind[0] == 'w' ? "warning" : "info", w.get<std::string>().c_str());
      }
    }
    if (target.json) {
      std::printf("%s\n", body.at("data").dump().c_str());
    } else {
      PrintData(body.at("data"));
    }
  } catch (const Json::exception& e) {
    std::fprintf(stderr, "error: unexpected answer from %s%s: %s\n", target.server.c_str(), path.c_str(), e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int QueryInstant(const QueryTarget& target, const std::string& expr, const std::string& time) {
  Params params{{"query", expr}};
  if (!time.empty()) params.emplace_back("time", time);
  return Run(target, "/api/v1/query", std::move(params));
}

int QueryRange(const QueryTarget& target, const std::string& expr, const std::string& start, const std::string& end,
               const std::string& step) {
  return Run(target, "/api/v1/query_range", {{"query", expr}, {"start", start}, {"end", end}, {"step", step}});
}

}  // namespace vigil::cli
