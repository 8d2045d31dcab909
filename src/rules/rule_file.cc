#include "rules/rule_file.h"

#include <glob.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/file.h"
#include "base/strings.h"
#include "rules/builtin_packs.h"
#include "template/template.h"

namespace vigil::rules {

std::string Problem::ToString() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::optional<std::string> NormalizeSeverity(std::string_view value) {
  static const char* kNames[] = {"critical", "high", "medium", "low"};
  for (int i = 0; i < 4; ++i) {
    if (value == kNames[i]) return std::string(kNames[i]);
    if (value.size() == 2 && (value[0] == 'P' || value[0] == 'p') && value[1] == '0' + i) return std::string(kNames[i]);
  }
  return std::nullopt;
}

namespace {

constexpr size_t kMaxRuleFileBytes = 16 << 20;

class Decoder {
 public:
  Decoder(std::string file, const ParseOptions& options, std::vector<Problem>* problems, std::vector<Problem>* warnings)
      : file_(std::move(file)), options_(options), problems_(problems), warnings_(warnings) {}

  void Report(const YAML::Node& node, const std::string& message) {
    YAML::Mark m = node.Mark();
    if (m.is_null()) {
      problems_->push_back({file_, 0, 0, context_ + message});
    } else {
      problems_->push_back({file_, m.line + 1, m.column + 1, context_ + message});
    }
  }

  static const char* KindName(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Map: return "a mapping";
      case YAML::NodeType::Sequence: return "a list";
      case YAML::NodeType::Scalar: return "a scalar";
      case YAML::NodeType::Null: return "nothing";
      default: return "an undefined value";
    }
  }

  bool String(const YAML::Node& node, const std::string& field, std::string* out) {
    if (node.IsNull()) {
      out->clear();
      return true;
    }
    if (!node.IsScalar()) {
      Report(node, field + ": expected a string, got " + KindName(node));
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  bool Duration(const YAML::Node& node, const std::string& field, vigil::Duration* out) {
    std::string text;
    if (!String(node, field, &text)) return false;
    Result<vigil::Duration> d = ParseDuration(text);
    if (!d.ok()) {
      Report(node, field + ": " + d.status().message());
      return false;
    }
    *out = *d;
    return true;
  }

  // A mapping of strings to strings, in file order, with each value's node.
  bool StringMap(const YAML::Node& node, const std::string& field,
                 std::vector<std::tuple<std::string, std::string, YAML::Node>>* out) {
    if (node.IsNull()) return true;
    if (!node.IsMap()) {
      Report(node, field + ": expected a mapping, got " + KindName(node));
      return false;
    }
    bool ok = true;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string k, v;
      if (!String(it->first, field, &k) || !String(it->second, field + "." + k, &v)) {
        ok = false;
        continue;
      }
      out->emplace_back(k, v, it->second);
    }
    return ok;
  }

  // Reports keys not in `known` (unless unknown fields are ignored).
  void CheckKeys(const YAML::Node& node, std::initializer_list<const char*> known, const char* where) {
    if (options_.ignore_unknown_fields) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        Report(it->first, std::string("expected a field name in ") + where);
        continue;
      }
      const std::string& k = it->first.Scalar();
      if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; })) {
        Report(it->first, "field " + k + " not found in " + where);
      }
    }
  }

  void Group(const YAML::Node& g, std::set<std::string>* names, std::vector<GroupSpec>* out) {
    context_.clear();
    if (!g.IsMap()) {
      Report(g, std::string("a group must be a mapping, got ") + KindName(g));
      return;
    }
    CheckKeys(g, {"name", "interval", "query_offset", "limit", "rules"}, "rule group");
    GroupSpec spec;
    spec.file = file_;
    spec.line = g.Mark().line + 1;
    if (!g["name"] || g["name"].IsNull() || (g["name"].IsScalar() && g["name"].Scalar().empty())) {
      Report(g, "group name must not be empty");
    } else if (String(g["name"], "name", &spec.name) && !names->insert(spec.name).second) {
      Report(g["name"], "groupname: \"" + spec.name + "\" is repeated in the same file");
    }
    if (g["interval"]) {
      if (Duration(g["interval"], "interval", &spec.interval) && spec.interval.count() <= 0) {
        Report(g["interval"], "interval: must be greater than zero");
      }
    }
    if (g["query_offset"]) Duration(g["query_offset"], "query_offset", &spec.query_offset);
    if (g["limit"]) {
      std::string text;
      if (String(g["limit"], "limit", &text)) {
        std::optional<int64_t> n = ParseInt64(text);
        if (!n || *n < 0 || *n > 1'000'000'000) {
          Report(g["limit"], "limit: expected a whole number >= 0, got \"" + text + "\"");
        } else {
          spec.limit = static_cast<int>(*n);
        }
      }
    }
    const YAML::Node& rules = g["rules"];
    if (rules && !rules.IsNull() && !rules.IsSequence()) {
      Report(rules, std::string("rules: expected a list, got ") + KindName(rules));
    } else if (rules) {
      std::set<std::pair<std::string, Labels>> alerts;
      for (size_t i = 0; i < rules.size(); ++i) {
        RuleSpec r;
        if (Rule(rules[i], spec.name, static_cast<int>(i), &r)) {
          // promtool accepts this (both rules run and write the same ALERTS
          // series, and share saved state); worth a warning, not a refusal.
          if (r.is_alert() && !alerts.insert({r.alert, r.labels}).second) {
            context_ = RuleContext(spec.name, static_cast<int>(i), r.alert);
            YAML::Mark m = rules[i]["alert"].Mark();
            warnings_->push_back({file_, m.line + 1, m.column + 1,
                                  context_ + "duplicate alerting rule: an earlier rule of this group has the same "
                                             "name and labels (both run and write the same ALERTS series)"});
          }
          spec.rules.push_back(std::move(r));
        }
      }
    }
    context_.clear();
    out->push_back(std::move(spec));
  }

  static std::string RuleContext(const std::string& group, int index, const std::string& name) {
    return "group \"" + group + "\", rule " + std::to_string(index + 1) + ", \"" + name + "\": ";
  }

  std::shared_ptr<const promql::Expr> Expression(const YAML::Node& node, const std::string& field) {
    std::string text;
    if (!String(node, field, &text)) return nullptr;
    if (Trim(text).empty()) {
      Report(node, "field '" + field + "' must be set in rule");
      return nullptr;
    }
    Result<promql::ExprPtr> e = promql::ParseExpr(text);
    if (!e.ok()) {
      Report(node, "could not parse expression: " + e.status().message());
      return nullptr;
    }
    promql::ValueType t = (*e)->Type();
    if (t != promql::ValueType::kVector && t != promql::ValueType::kScalar) {
      Report(node, "invalid expression type \"" + std::string(promql::ValueTypeName(t)) +
                       "\" for rule, must be instant vector or scalar");
      return nullptr;
    }
    return std::shared_ptr<const promql::Expr>(std::move(*e));
  }

  // False when the rule is unusable.
  bool Rule(const YAML::Node& n, const std::string& group, int index, RuleSpec* r) {
    context_ = "group \"" + group + "\", rule " + std::to_string(index + 1) + ": ";
    if (!n.IsMap()) {
      Report(n, std::string("a rule must be a mapping, got ") + KindName(n));
      return false;
    }
    r->line = n.Mark().line + 1;
    size_t before = problems_->size();
    if (n["record"]) String(n["record"], "record", &r->record);
    if (n["alert"]) String(n["alert"], "alert", &r->alert);
    context_ = RuleContext(group, index, r->name());
    CheckKeys(n, {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations", "stay_active_while"},
              "rule");
    const YAML::Node& name_node = n["alert"] ? n["alert"] : n["record"] ? n["record"] : n;
    if (!r->record.empty() && !r->alert.empty()) {
      Report(name_node, "only one of 'record' and 'alert' must be set");
    } else if (r->record.empty() && r->alert.empty()) {
      Report(name_node, "one of 'record' or 'alert' must be set");
    }
    if (!r->record.empty() && !IsValidMetricName(r->record)) {
      Report(n["record"], "invalid recording rule name: " + r->record);
    }
    if (!n["expr"]) {
      Report(n, "field 'expr' must be set in rule");
    } else {
      r->parsed_expr = Expression(n["expr"], "expr");
      if (r->parsed_expr) r->expr = n["expr"].Scalar();
    }
    bool recording = r->alert.empty();
    if (n["stay_active_while"]) {
      if (recording) {
        Report(n["stay_active_while"], "invalid field 'stay_active_while' in recording rule");
      } else {
        r->parsed_stay_active_while = Expression(n["stay_active_while"], "stay_active_while");
        if (r->parsed_stay_active_while) r->stay_active_while = n["stay_active_while"].Scalar();
      }
    }
    for (auto [field, out] : {std::pair{"for", &r->for_duration}, std::pair{"keep_firing_for", &r->keep_firing_for}}) {
      if (!n[field]) continue;
      if (recording) {
        Report(n[field], std::string("invalid field '") + field + "' in recording rule");
      } else if (Duration(n[field], field, out) && out->count() < 0) {
        Report(n[field], std::string(field) + ": must not be negative");
      }
    }
    std::vector<std::tuple<std::string, std::string, YAML::Node>> labels, annotations;
    if (n["labels"]) StringMap(n["labels"], "labels", &labels);
    if (n["annotations"]) {
      if (recording) {
        Report(n["annotations"], "invalid field 'annotations' in recording rule");
      } else {
        StringMap(n["annotations"], "annotations", &annotations);
      }
    }
    std::vector<Label> label_list;
    for (auto& [k, v, node] : labels) {
      if (!IsValidLabelName(k) || k == "__name__") {
        Report(node, "invalid label name: " + k);
        continue;
      }
      if (k == "severity") {
        if (std::optional<std::string> s = NormalizeSeverity(v)) {
          v = *s;
        } else if (!severities_.Find(v)) {
          YAML::Mark m = node.Mark();
          warnings_->push_back({file_, m.line + 1, m.column + 1,
                                context_ + "severity \"" + v + "\" is not in alerting.severities: counted as " +
                                    std::string(PriorityName(SeverityMap::kUnmapped))});
        }
      }
      if (!recording) TemplateCheck(node, "label " + k, v);
      label_list.push_back({k, v});
    }
    r->labels = Labels::FromUnsorted(std::move(label_list));
    for (auto& [k, v, node] : annotations) {
      if (!IsValidLabelName(k)) {
        Report(node, "invalid annotation name: " + k);
        continue;
      }
      TemplateCheck(node, "annotation " + k, v);
      r->annotations[k] = v;
    }
    return problems_->size() == before;
  }

  void TemplateCheck(const YAML::Node& node, const std::string& what, const std::string& text) {
    if (text.find("{{") == std::string::npos) return;
    Result<tmpl::Template> t = tmpl::Template::ParseAlert(text);
    if (!t.ok()) Report(node, what + ": template: " + t.status().message());
  }

 private:
  std::string file_;
  ParseOptions options_;
  std::vector<Problem>* problems_;
  std::vector<Problem>* warnings_;
  const SeverityMap default_severities_;
  const SeverityMap& severities_ = options_.severities ? *options_.severities : default_severities_;
  std::string context_;  // "group "g", rule 2, "Name": "
};

}  // namespace

LoadResult ParseRuleFile(std::string_view content, const std::string& file, const ParseOptions& options) {
  LoadResult result;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(content));
  } catch (const YAML::Exception& e) {
    result.problems.push_back({file, e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg});
    return result;
  }
  Decoder d(file, options, &result.problems, &result.warnings);
  if (root.IsNull()) return result;  // an empty file has no groups, as in Prometheus
  if (!root.IsMap()) {
    d.Report(root, std::string("a rule file must be a mapping with `groups`, got ") + Decoder::KindName(root));
    return result;
  }
  try {
    d.CheckKeys(root, {"groups"}, "rule file");
    const YAML::Node& groups = root["groups"];
    if (groups && !groups.IsNull() && !groups.IsSequence()) {
      d.Report(groups, std::string("groups: expected a list, got ") + Decoder::KindName(groups));
    } else if (groups) {
      std::set<std::string> names;
      for (size_t i = 0; i < groups.size(); ++i) d.Group(groups[i], &names, &result.groups);
    }
  } catch (const YAML::Exception& e) {
    result.problems.push_back({file, e.mark.line + 1, e.mark.column + 1, "invalid rule file: " + e.msg});
  }
  return result;
}

LoadResult LoadRuleFiles(const std::vector<std::string>& paths, const ParseOptions& options) {
  LoadResult result;
  for (const auto& pattern : paths) {
    if (IsBuiltinPackRef(pattern)) {
      std::optional<std::string_view> text = BuiltinPack(pattern);
      if (!text) {
        result.problems.push_back(
            {pattern, 0, 0, "no built-in rule pack has this name (built-in packs: " + BuiltinPackList() + ")"});
        continue;
      }
      LoadResult one = ParseRuleFile(*text, pattern, options);
      for (auto& g : one.groups) result.groups.push_back(std::move(g));
      for (auto& p : one.problems) result.problems.push_back(std::move(p));
      for (auto& w : one.warnings) result.warnings.push_back(std::move(w));
      continue;
    }
    std::vector<std::string> files;
    if (pattern.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
      if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
      } else if (rc != GLOB_NOMATCH) {
        result.problems.push_back({pattern, 0, 0, "cannot expand the pattern"});
      }
      globfree(&g);
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(pattern);
    }
    for (const auto& file : files) {
      Result<std::string> content = ReadFile(file, kMaxRuleFileBytes);
      if (!content.ok()) {
        result.problems.push_back({file, 0, 0, content.status().message()});
        continue;
      }
      LoadResult one = ParseRuleFile(*content, file, options);
      for (auto& g : one.groups) result.groups.push_back(std::move(g));
      for (auto& p : one.problems) result.problems.push_back(std::move(p));
      for (auto& w : one.warnings) result.warnings.push_back(std::move(w));
    }
  }
  return result;
}

}  // namespace vigil::rules
