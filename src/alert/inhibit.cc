#include "alert/inhibit.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

namespace vigil::alert {
namespace {

Result<Matchers> CompileAll(const std::vector<std::string>& texts, const std::string& path) {
  Matchers out;
  for (size_t i = 0; i < texts.size(); ++i) {
    Result<Matchers> m = ParseMatchers(texts[i]);
    if (!m.ok()) return Status::Error(path + "[" + std::to_string(i) + "]: " + m.status().message());
    out.insert(out.end(), m->begin(), m->end());
  }
  return out;
}

bool EqualOn(const std::vector<std::string>& names, const Labels& a, const Labels& b) {
  for (const auto& n : names) {
    if (a.Get(n) != b.Get(n)) return false;
  }
  return true;
}

}  // namespace

Result<InhibitRule> BuildInhibitRule(const InhibitRuleSpec& spec, const std::string& path) {
  InhibitRule r;
  Result<Matchers> source = CompileAll(spec.source_matchers, path + ".source_matchers");
  if (!source.ok()) return source.status();
  Result<Matchers> target = CompileAll(spec.target_matchers, path + ".target_matchers");
  if (!target.ok()) return target.status();
  for (const auto& name : spec.equal) {
    if (!IsValidLabelName(name)) return Status::Error(path + ".equal: \"" + name + "\" is not a label name");
  }
  r.source = std::move(*source);
  r.target = std::move(*target);
  r.equal = spec.equal;
  return r;
}

std::vector<InhibitRule> DependencyInhibitRules(const std::map<std::string, std::vector<std::string>>& depends_on,
                                                const SeverityMap& severities) {
  // severity=~"critical|page|P0": every value the map gives P0 (quoted for RE2).
  std::string p0 = "P0";
  for (const auto& v : severities.ValuesOf(Priority::kP0)) {
    p0 += '|';
    for (char c : v) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') p0 += '\\';
      p0 += c;
    }
  }
  // dependents[x] = every service that needs x, directly or transitively.
  std::map<std::string, std::set<std::string>> dependents;
  std::function<void(const std::string&, const std::string&, std::set<std::string>&)> walk =
      [&](const std::string& root, const std::string& service, std::set<std::string>& seen) {
        for (const auto& [svc, deps] : depends_on) {
          if (std::find(deps.begin(), deps.end(), service) == deps.end()) continue;
          if (svc == root || !seen.insert(svc).second) continue;  // cycles are refused by the config; stay safe
          dependents[root].insert(svc);
          walk(root, svc, seen);
        }
      };
  std::set<std::string> all;
  for (const auto& [svc, deps] : depends_on) all.insert(deps.begin(), deps.end());
  std::vector<InhibitRule> out;
  for (const auto& dep : all) {
    std::set<std::string> seen;
    walk(dep, dep, seen);
    for (const auto& dependent : dependents[dep]) {
      InhibitRule r;
      r.source.push_back(*tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "service", dep));
      r.source.push_back(*tsdb::Matcher::Make(tsdb::Matcher::Type::kRegexMatch, "severity", p0));
      r.target.push_back(*tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "service", dependent));
      r.dependency = dep;
      out.push_back(std::move(r));
    }
  }
  return out;
}

bool Inhibitor::Inhibited(const Labels& target, const std::vector<const Alert*>& firing) const {
  for (const auto& r : rules_) {
    if (!MatchesAll(r.target, target)) continue;
    bool target_is_source_too = MatchesAll(r.source, target);
    for (const Alert* s : firing) {
      if (s->resolved() || s->labels == target) continue;
      if (!MatchesAll(r.source, s->labels) || !EqualOn(r.equal, s->labels, target)) continue;
      if (target_is_source_too && MatchesAll(r.target, s->labels)) continue;
      return true;
    }
  }
  return false;
}

namespace {

// The values of `names` in `l`, \xff-separated (a byte no UTF-8 text holds).
std::string EqualKey(const std::vector<std::string>& names, const Labels& l) {
  std::string key;
  for (const auto& n : names) {
    key += l.Get(n);
    key += '\xff';
  }
  return key;
}

}  // namespace

Inhibitor::Index Inhibitor::BuildIndex(const std::vector<const Alert*>& firing) const {
  Index idx;
  idx.inhibitor_ = this;
  idx.by_rule_.resize(rules_.size());
  for (size_t i = 0; i < rules_.size(); ++i) {
    const InhibitRule& r = rules_[i];
    for (const Alert* s : firing) {
      if (s->resolved() || !MatchesAll(r.source, s->labels)) continue;
      idx.by_rule_[i][EqualKey(r.equal, s->labels)].push_back({s, MatchesAll(r.target, s->labels)});
    }
  }
  return idx;
}

// Calls f(source) for each indexed alert inhibiting `target` until f returns false.
template <typename F>
void Inhibitor::Index::Each(const Labels& target, F&& f) const {
  const auto& rules = inhibitor_->rules_;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (by_rule_[i].empty() || !MatchesAll(rules[i].target, target)) continue;
    auto it = by_rule_[i].find(EqualKey(rules[i].equal, target));
    if (it == by_rule_[i].end()) continue;
    bool target_is_source_too = MatchesAll(rules[i].source, target);
    for (const Source& s : it->second) {
      if (s.alert->labels == target || (target_is_source_too && s.matches_target_too)) continue;
      if (!f(s.alert)) return;
    }
  }
}

bool Inhibitor::Index::Inhibits(const Labels& target) const {
  bool found = false;
  Each(target, [&](const Alert*) { return !(found = true); });
  return found;
}

std::vector<const Alert*> Inhibitor::Index::Sources(const Labels& target) const {
  std::vector<const Alert*> out;
  Each(target, [&](const Alert* s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    return true;
  });
  return out;
}

std::vector<std::string> Inhibitor::DownstreamOf(const Labels& source) const {
  std::set<std::string> out;
  for (const auto& r : rules_) {
    if (r.dependency.empty() || !MatchesAll(r.source, source)) continue;
    for (const auto& m : r.target) {
      if (m.name() == "service") out.insert(m.value());
    }
  }
  return {out.begin(), out.end()};
}

}  // namespace vigil::alert
