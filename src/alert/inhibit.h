// Inhibition: Alertmanager's inhibit_rules, plus rules derived from the
// services' dependency graph (validator -> titan -> bitcoind), so one broken
// dependency pages once and names what it takes down instead of paging for
// every dependent.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alert/alert.h"
#include "base/severity.h"

namespace vigil::alert {

struct InhibitRuleSpec {
  std::vector<std::string> source_matchers;
  std::vector<std::string> target_matchers;
  std::vector<std::string> equal;
};

struct InhibitRule {
  Matchers source;
  Matchers target;
  std::vector<std::string> equal;
  // Set on rules derived from dependencies: the service whose P0 inhibits.
  std::string dependency;
};

// Compiles `spec`; errors name the field ("inhibit_rules[2].source_matchers[0]: …").
Result<InhibitRule> BuildInhibitRule(const InhibitRuleSpec& spec, const std::string& path);

// For every service with dependents (directly or through others), a rule:
// source `service=<dependency>` with a P0 severity (critical, page, … as
// `severities` says), target `service=<each dependent>`. `depends_on` maps a
// service to what it needs.
std::vector<InhibitRule> DependencyInhibitRules(const std::map<std::string, std::vector<std::string>>& depends_on,
                                                const SeverityMap& severities = SeverityMap());

class Inhibitor {
 public:
  explicit Inhibitor(std::vector<InhibitRule> rules) : rules_(std::move(rules)) {}

  // True iff some firing alert in `firing` inhibits `target` (never itself;
  // and, as Alertmanager, an alert matching both sides of a rule does not
  // inhibit another such alert through that rule).
  bool Inhibited(const Labels& target, const std::vector<const Alert*>& firing) const;

  // The firing alerts, indexed per rule by the values of its `equal` labels:
  // checking a target is a lookup per rule instead of a scan of every firing
  // alert, which made a flush of 10 000 alerts quadratic (seconds, not ms).
  // Valid while `firing`'s alerts are.
  class Index {
   public:
    // As Inhibited(target, firing).
    bool Inhibits(const Labels& target) const;
    // Every indexed alert that inhibits `target` (Alertmanager's inhibitedBy).
    std::vector<const Alert*> Sources(const Labels& target) const;

   private:
    friend class Inhibitor;
    struct Source {
      const Alert* alert;
      bool matches_target_too;  // such a source never inhibits a target that matches both sides
    };
    const Inhibitor* inhibitor_ = nullptr;
    std::vector<std::unordered_map<std::string, std::vector<Source>>> by_rule_;  // equal-label values -> sources
    template <typename F>
    void Each(const Labels& target, F&& f) const;
  };
  Index BuildIndex(const std::vector<const Alert*>& firing) const;

  // The services held back by `source` (a firing P0 of a dependency): what its
  // page names as downstream impact. Sorted, unique.
  std::vector<std::string> DownstreamOf(const Labels& source) const;

 private:
  std::vector<InhibitRule> rules_;
};

}  // namespace vigil::alert
