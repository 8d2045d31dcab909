// Test helper for the comparison with Prometheus: `relabel_tool RULES.yml
// METRICS.txt` reads a YAML list of relabel configs and a text-format 0.0.4
// exposition, relabels every sample's label set (with __name__) and prints
// the survivors, one per line in canonical `{a="b",c="d"}` form, sorted and
// without duplicates. Config problems go to stderr as FILE:LINE:COL: FIELD:
// MESSAGE (no LINE:COL when unknown) with exit status 2; an unreadable input exits 1.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/labels.h"
#include "expfmt/parse.h"
#include "relabel/relabel.h"

namespace {

// Prometheus's labels.String(): `{a="b", c="d"}` with Go's %q quoting, but
// without the blank after each comma, so lines compare byte for byte.
std::string Canonical(const vigil::Labels& labels) {
  std::string out = "{";
  for (const vigil::Label& l : labels) {
    if (out.size() > 1) out += ',';
    out += l.name + "=\"";
    for (char c : l.value) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default: out += c;
      }
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s RULES.yml METRICS.txt\n", argv[0]);
    return 1;
  }
  vigil::Result<std::string> rules_text = vigil::ReadFile(argv[1]);
  vigil::Result<std::string> metrics = vigil::ReadFile(argv[2]);
  if (!rules_text.ok() || !metrics.ok()) {
    std::fprintf(stderr, "%s\n", (!rules_text.ok() ? rules_text : metrics).status().message().c_str());
    return 1;
  }
  YAML::Node root;
  try {
    root = YAML::Load(*rules_text);
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "%s:%d:%d: invalid YAML: %s\n", argv[1], e.mark.line + 1, e.mark.column + 1, e.msg.c_str());
    return 2;
  }
  std::vector<vigil::relabel::ParseProblem> problems;
  std::vector<vigil::relabel::Rule> rules = vigil::relabel::ParseRules(root, "relabel_configs", &problems);
  if (!problems.empty()) {
    for (const auto& p : problems) {
      std::string at = p.line > 0 ? ":" + std::to_string(p.line) + ":" + std::to_string(p.column) : "";
      std::fprintf(stderr, "%s%s: %s: %s\n", argv[1], at.c_str(), p.field.c_str(), p.message.c_str());
    }
    return 2;
  }
  std::set<std::string> out;
  vigil::expfmt::TextParser parser(*metrics, vigil::expfmt::Format::kText004);
  for (auto e = parser.Next(); e != vigil::expfmt::TextParser::kEnd; e = parser.Next()) {
    if (e == vigil::expfmt::TextParser::kError) {
      std::fprintf(stderr, "%s: %s\n", argv[2], parser.status().message().c_str());
      return 1;
    }
    if (e != vigil::expfmt::TextParser::kSample) continue;
    vigil::Labels labels = parser.labels();
    labels.Set("__name__", parser.name());
    if (vigil::relabel::Apply(rules, &labels)) out.insert(Canonical(labels));
  }
  for (const std::string& line : out) std::printf("%s\n", line.c_str());
  return 0;
}
