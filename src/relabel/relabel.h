// Relabeling with Prometheus 2.42's relabel_config semantics: the rules of
// metric_relabel_configs and write_relabel_configs, parsed from YAML and
// applied to a label set in order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"

namespace YAML {
class Node;
}
namespace re2 {
class RE2;
}

namespace vigil::relabel {

enum class Action {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase
};

// The action's name as written in a config ("replace", "labelmap", ...).
std::string_view ActionName(Action action);

struct Rule {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string target_label;
  // As configured; matched fully anchored, as `^(?:regex)$`, like Prometheus.
  std::string regex = "(.*)";
  uint64_t modulus = 0;
  std::string replacement = "$1";
  Action action = Action::kReplace;
  // `^(?:regex)$` compiled; set by ParseRules or Compile(). Shared so rules copy cheaply.
  std::shared_ptr<const re2::RE2> compiled;

  // Compiles `regex` into `compiled`; the error is RE2's reason.
  Status Compile();

  // Equal as configured (a reload compares configurations).
  friend bool operator==(const Rule& a, const Rule& b) {
    return a.source_labels == b.source_labels && a.separator == b.separator && a.target_label == b.target_label &&
           a.regex == b.regex && a.modulus == b.modulus && a.replacement == b.replacement && a.action == b.action;
  }
};

struct ParseProblem {
  int line = 0;       // 1-based, from the YAML node's Mark; 0 when unknown
  int column = 0;     // 1-based
  std::string field;  // e.g. "write_relabel_configs[2].regex"
  std::string message;
};

// Parses a YAML sequence of relabel configs, validated as Prometheus's config
// loader does; `path` prefixes field names. Invalid entries are reported and
// skipped. A null or undefined `seq` is an empty list.
std::vector<Rule> ParseRules(const YAML::Node& seq, const std::string& path, std::vector<ParseProblem>* problems);

// Applies the rules in order; returns false when the series is dropped (then
// `labels` is left as it was). On true, `labels` holds the result, sorted,
// without empty-valued labels (Prometheus removes labels set to ""). A rule
// without `compiled` has its regex compiled for this call; one that does not
// compile matches nothing.
bool Apply(const std::vector<Rule>& rules, Labels* labels);

}  // namespace vigil::relabel
