#include "expfmt/to_batch.h"

#include <map>
#include <string>
#include <vector>

#include "expfmt/parse.h"

namespace vigil::expfmt {
namespace {

struct Pending {
  std::string name;
  MetricType type;
  Labels labels;
  double value;
};

}  // namespace

Status AppendExposition(std::string_view body, Format format, const ToBatchOptions& options, MetricBatch& out,
                        size_t* added) {
  if (added) *added = 0;
  TextParser p(body, format);
  std::map<std::string, FamilyType, std::less<>> types;
  std::map<std::string, std::string, std::less<>> helps;
  std::vector<Pending> samples;
  for (auto e = p.Next(); e != TextParser::kEnd && e != TextParser::kEof; e = p.Next()) {
    switch (e) {
      case TextParser::kError:
        return p.status();
      case TextParser::kType:
        types[std::string(p.name())] = p.type();
        break;
      case TextParser::kHelp:
        helps[std::string(p.name())] = std::string(p.text());
        break;
      case TextParser::kSample: {
        if (options.reject_timestamps && p.timestamp_ms()) {
          return Status::Error("line " + std::to_string(p.line()) + ": metric " + std::string(p.name()) +
                               " has a client-side timestamp, which is not supported");
        }
        if (options.sample_limit && samples.size() >= options.sample_limit) {
          return Status::Error("more than " + std::to_string(options.sample_limit) + " samples (sample_limit)");
        }
        // Only a counter or gauge sample named exactly like its family keeps the family's type.
        auto t = types.find(p.name());
        if (t == types.end() && p.name().ends_with("_total")) {
          t = types.find(p.name().substr(0, p.name().size() - 6));  // OpenMetrics: family foo, sample foo_total
          if (t != types.end() && t->second != FamilyType::kCounter) t = types.end();
        }
        MetricType type = t == types.end() ? MetricType::kUntyped : ToMetricType(t->second);
        Labels labels = p.labels();
        if (options.relabel) options.relabel(labels);
        samples.push_back({std::string(p.name()), type, std::move(labels), p.value()});
        break;
      }
      default:
        break;
    }
  }
  for (auto& s : samples) {
    auto h = helps.find(s.name);
    if (h == helps.end() && s.type == MetricType::kCounter && s.name.ends_with("_total")) {
      h = helps.find(std::string_view(s.name).substr(0, s.name.size() - 6));
    }
    out.Add(s.name, h == helps.end() ? std::string_view() : std::string_view(h->second), s.type, std::move(s.labels),
            s.value);
  }
  if (added) *added = samples.size();
  return Status::Ok();
}

}  // namespace vigil::expfmt
