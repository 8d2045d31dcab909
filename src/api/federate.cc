#include "api/federate.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "expfmt/expfmt.h"
#include "promql/ast.h"
#include "tsdb/tsdb.h"

namespace vigil::api {
namespace {

http::Response TextError(int status, std::string message) {
  http::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(message) + "\n";
  return r;
}

// A label value in text exposition 0.0.4: \\, \" and \n escaped.
void AppendEscaped(std::string* out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '"') {
      *out += "\\\"";
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      out->push_back(c);
    }
  }
}

struct Latest {
  TimestampMs t = 0;
  double v = 0;
};

}  // namespace

http::Response Federate(const http::Request& request, const promql::QuerierFactory& storage,
                        const Labels& external_labels, TimestampMs now, Duration lookback) {
  const std::vector<std::string> selectors = request.Params("match[]");
  if (selectors.empty()) return TextError(400, "invalid parameter \"match[]\": at least one match[] is required");
  std::vector<std::vector<tsdb::Matcher>> sets;
  for (const std::string& text : selectors) {
    Result<std::vector<tsdb::Matcher>> m = promql::ParseMetricSelector(text);
    if (!m.ok()) return TextError(400, "invalid parameter \"match[]\": " + m.status().message());
    sets.push_back(std::move(*m));
  }
  const TimestampMs mint = now - lookback.count();
  std::unique_ptr<tsdb::Querier> querier = storage(mint, now, tsdb::ReadHints{});
  if (!querier) return TextError(503, "federate: storage is not available");

  // A series several selectors select is written once.
  std::map<Labels, Latest> latest;
  std::vector<TimestampMs> t;
  std::vector<double> v;
  for (const auto& matchers : sets) {
    auto selected = querier->Select(matchers);
    if (!selected.ok()) return TextError(422, "federate: " + selected.status().message());
    for (const auto& series : *selected) {
      if (latest.count(series->labels())) continue;
      t.clear();
      v.clear();
      if (Status s = series->AppendSamples(&t, &v); !s.ok()) {
        return TextError(500, "federate: reading " + series->labels().ToString() + ": " + s.message());
      }
      // The newest sample at or before now; a staleness marker there means
      // the series has ended.
      size_t i = t.size();
      while (i > 0 && t[i - 1] > now) --i;
      if (i == 0 || t[i - 1] < mint || tsdb::IsStaleNaN(v[i - 1])) continue;
      latest.emplace(series->labels(), Latest{t[i - 1], v[i - 1]});
    }
  }

  std::vector<std::pair<const Labels*, Latest>> rows;
  rows.reserve(latest.size());
  for (const auto& [labels, sample] : latest) {
    if (labels.Get("__name__").empty()) continue;  // Prometheus skips these too
    rows.emplace_back(&labels, sample);
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first->Get("__name__") < b.first->Get("__name__"); });

  http::Response r;
  r.content_type = std::string(expfmt::kTextContentType);
  std::string& out = r.body;
  std::string_view family;
  for (const auto& [labels, sample] : rows) {
    std::string_view name = labels->Get("__name__");
    if (name != family) {
      family = name;
      out += "# TYPE ";
      out += name;
      out += " untyped\n";
    }
    out += name;
    bool first = true;
    auto add = [&](const Label& l) {
      out += first ? '{' : ',';
      first = false;
      out += l.name;
      out += "=\"";
      AppendEscaped(&out, l.value);
      out += '"';
    };
    for (const Label& l : *labels) {
      if (l.name != "__name__") add(l);
    }
    for (const Label& l : external_labels) {
      if (labels->Get(l.name).empty()) add(l);
    }
    if (!first) out += '}';
    out += ' ';
    expfmt::AppendValue(sample.v, &out);
    out += ' ';
    out += std::to_string(sample.t);
    out += '\n';
  }
  return r;
}

}  // namespace vigil::api
