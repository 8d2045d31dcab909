// Rule files in Prometheus's format (groups of recording and alerting rules),
// with vigil's additions: any `severity` value is accepted (P0..P3 are stored
// as critical/high/medium/low; a value the severity map does not name is a
// warning, never an error) and `stay_active_while`, a looser expression that keeps an
// active alert from resolving (hysteresis). Every problem is reported as
// file:line:col with the group, the rule and the reason; loading never stops
// at the first problem. Format: docs/rules.md.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/severity.h"
#include "base/time.h"
#include "promql/ast.h"

namespace vigil::rules {

struct Problem {
  std::string file;
  int line = 0;  // 1-based; 0 when the problem is about the whole file
  int column = 0;
  std::string message;
  // "file:line:col: message", or "file: message" without a position.
  std::string ToString() const;
};

struct RuleSpec {
  std::string record;  // a recording rule's output metric name
  std::string alert;   // an alerting rule's name
  std::string expr;
  std::shared_ptr<const promql::Expr> parsed_expr;
  // vigil: an active (pending or firing) alert stays active while this
  // expression still returns its series, even after `expr` stops doing so.
  std::string stay_active_while;
  std::shared_ptr<const promql::Expr> parsed_stay_active_while;
  Duration for_duration{0};
  Duration keep_firing_for{0};
  Labels labels;  // `severity` P0..P3 stored as critical/high/medium/low
  std::map<std::string, std::string> annotations;
  int line = 0;  // where the rule starts in its file

  bool is_alert() const { return !alert.empty(); }
  const std::string& name() const { return is_alert() ? alert : record; }
};

struct GroupSpec {
  std::string name;
  std::string file;
  int line = 0;
  Duration interval{0};  // 0: the default evaluation interval
  Duration query_offset{0};
  int limit = 0;  // 0: no limit on alerts/series per rule
  std::vector<RuleSpec> rules;
};

struct ParseOptions {
  // Which severity values are known (alerting.severities); a value it does
  // not name is kept and reported in `warnings`. Null: the default map.
  const SeverityMap* severities = nullptr;
  bool ignore_unknown_fields = false;
};

struct LoadResult {
  std::vector<GroupSpec> groups;
  std::vector<Problem> problems;
  std::vector<Problem> warnings;  // the files still load
  bool ok() const { return problems.empty(); }
};

// Parses one rule file's text; `file` names it in problems.
LoadResult ParseRuleFile(std::string_view content, const std::string& file, const ParseOptions& options = {});
// Loads files; each entry may be a glob (`/etc/vigil/rules/*.yml`). A glob
// matching nothing is not an error; a plain path that does not exist is.
// Group names must be unique per file.
LoadResult LoadRuleFiles(const std::vector<std::string>& paths, const ParseOptions& options = {});

// "critical", "high", "medium", "low"; P0..P3 (any case) map to them in order.
std::optional<std::string> NormalizeSeverity(std::string_view value);

}  // namespace vigil::rules
