#include "expfmt/expfmt.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "base/strings.h"

namespace vigil::expfmt {

Format Negotiate(std::string_view accept) {
  return accept.find("application/openmetrics-text") != std::string_view::npos ? Format::kOpenMetrics100
                                                                               : Format::kText004;
}

std::string_view ContentType(Format format) {
  return format == Format::kOpenMetrics100 ? kOpenMetricsContentType : kTextContentType;
}

void AppendValue(double value, std::string* out) {
  if (std::isnan(value)) {
    *out += "NaN";
  } else if (std::isinf(value)) {
    *out += value > 0 ? "+Inf" : "-Inf";
  } else {
    fmt::format_to(std::back_inserter(*out), "{}", value);
  }
}

namespace {

void AppendHelp(std::string_view help, bool open_metrics, std::string* out) {
  for (char c : help) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"' && open_metrics) {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

void AppendLabelValue(std::string_view v, std::string* out) {
  for (char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"') {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

std::string_view TypeName(MetricType type, bool open_metrics) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kUntyped: return open_metrics ? "unknown" : "untyped";
  }
  return "untyped";
}

void RenderFamily(std::string_view name, const std::vector<const MetricFamily*>& parts, bool open_metrics,
                  std::string* out) {
  const MetricFamily& head = *parts.front();
  MetricType type = head.type;
  std::string_view family_name = name;
  // OpenMetrics names a counter family without its _total suffix; a counter
  // lacking the suffix cannot be expressed there and is exposed as unknown.
  if (open_metrics && type == MetricType::kCounter) {
    if (EndsWith(name, "_total")) {
      family_name = name.substr(0, name.size() - 6);
    } else {
      type = MetricType::kUntyped;
    }
  }
  *out += "# HELP ";
  *out += family_name;
  *out += ' ';
  AppendHelp(head.help, open_metrics, out);
  *out += "\n# TYPE ";
  *out += family_name;
  *out += ' ';
  *out += TypeName(type, open_metrics);
  *out += '\n';
  for (const MetricFamily* part : parts) {
    for (const Sample& s : part->samples) {
      *out += name;
      if (!s.labels.empty()) {
        *out += '{';
        bool first = true;
        for (const Label& l : s.labels) {
          if (!first) *out += ',';
          first = false;
          *out += l.name;
          *out += "=\"";
          AppendLabelValue(l.value, out);
          *out += '"';
        }
        *out += '}';
      }
      *out += ' ';
      AppendValue(s.value, out);
      *out += '\n';
    }
  }
}

}  // namespace

void Render(const std::vector<const MetricBatch*>& batches, Format format, std::string* out) {
  bool open_metrics = format == Format::kOpenMetrics100;
  // Sorted by name like client_golang, which also makes output stable for diffs.
  std::map<std::string_view, std::vector<const MetricFamily*>> families;
  for (const MetricBatch* batch : batches) {
    for (const MetricFamily& f : batch->families()) families[f.name].push_back(&f);
  }
  for (const auto& [name, parts] : families) RenderFamily(name, parts, open_metrics, out);
  if (open_metrics) *out += "# EOF\n";
}

}  // namespace vigil::expfmt
