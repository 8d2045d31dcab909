#include "rules/rule_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "base/testing/temp_dir.h"
#include "rules/builtin_packs.h"

namespace vigil::rules {
namespace {

std::vector<std::string> Problems(std::string_view yaml, ParseOptions options = {}) {
  LoadResult r = ParseRuleFile(yaml, "r.yml", options);
  std::vector<std::string> out;
  for (const auto& p : r.problems) out.push_back(p.ToString());
  return out;
}

TEST(RuleFileTest, ParsesGroupsAndRules) {
  LoadResult r = ParseRuleFile(R"(
groups:
  - name: node
    interval: 30s
    limit: 10
    query_offset: 1m
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {team: ops}
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        stay_active_while: up < 1
        labels:
          severity: P0
        annotations:
          summary: "{{ $labels.instance }} down"
  - name: empty
)",
                               "r.yml");
  ASSERT_TRUE(r.ok()) << r.problems[0].ToString();
  ASSERT_EQ(r.groups.size(), 2u);
  const GroupSpec& g = r.groups[0];
  EXPECT_EQ(g.name, "node");
  EXPECT_EQ(g.file, "r.yml");
  EXPECT_EQ(g.interval, Duration(30000));
  EXPECT_EQ(g.limit, 10);
  EXPECT_EQ(g.query_offset, Duration(60000));
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[0].record, "job:up:sum");
  EXPECT_FALSE(g.rules[0].is_alert());
  EXPECT_EQ(g.rules[0].labels.Get("team"), "ops");
  ASSERT_NE(g.rules[0].parsed_expr, nullptr);
  const RuleSpec& a = g.rules[1];
  EXPECT_TRUE(a.is_alert());
  EXPECT_EQ(a.alert, "InstanceDown");
  EXPECT_EQ(a.for_duration, Duration(300000));
  EXPECT_EQ(a.keep_firing_for, Duration(60000));
  EXPECT_EQ(a.labels.Get("severity"), "critical");
  EXPECT_EQ(a.annotations.at("summary"), "{{ $labels.instance }} down");
  EXPECT_NE(a.parsed_stay_active_while, nullptr);
  EXPECT_EQ(a.line, 11);
  EXPECT_TRUE(r.groups[1].rules.empty());
  EXPECT_EQ(r.groups[1].interval, Duration(0));
}

TEST(RuleFileTest, Severities) {
  EXPECT_EQ(NormalizeSeverity("P0"), "critical");
  EXPECT_EQ(NormalizeSeverity("p1"), "high");
  EXPECT_EQ(NormalizeSeverity("P2"), "medium");
  EXPECT_EQ(NormalizeSeverity("P3"), "low");
  EXPECT_EQ(NormalizeSeverity("low"), "low");
  EXPECT_EQ(NormalizeSeverity("P4"), std::nullopt);
  EXPECT_EQ(NormalizeSeverity("page"), std::nullopt);
}

// Public rule packs use their own words; every value loads, and only one the
// severity map does not name is a warning.
TEST(RuleFileTest, AcceptsEverySeverityAndWarnsAboutUnmappedOnes) {
  const char* yaml = R"(groups:
- name: g
  rules:
  - alert: A
    expr: vector(1)
    labels: {severity: warning}
  - alert: B
    expr: vector(1)
    labels: {severity: info}
  - alert: C
    expr: vector(1)
    labels: {severity: disaster}
)";
  LoadResult r = ParseRuleFile(yaml, "r.yml");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.groups[0].rules.size(), 3u);
  EXPECT_EQ(r.groups[0].rules[0].labels.Get("severity"), "warning");
  EXPECT_EQ(r.groups[0].rules[2].labels.Get("severity"), "disaster");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(
      r.warnings[0].ToString(),
      "r.yml:12:24: group \"g\", rule 3, \"C\": severity \"disaster\" is not in alerting.severities: counted as P3");

  SeverityMap map;
  map.Set("disaster", Priority::kP0);
  ParseOptions with_map;
  with_map.severities = &map;
  LoadResult mapped = ParseRuleFile(yaml, "r.yml", with_map);
  EXPECT_TRUE(mapped.ok());
  EXPECT_TRUE(mapped.warnings.empty());
}

TEST(RuleFileTest, ReportsEveryProblemWithPosition) {
  std::vector<std::string> p = Problems(R"(groups:
- name: g
  rules:
  - record: 'bad name'
    expr: up
  - alert: A
    record: b
    expr: up
  - alert: B
    expr: 'sum(up'
  - alert: C
    expr: nosuch(up)
  - alert: D
    expr: up
    for: 5 minutes
  - record: r
    expr: up
    for: 1m
    annotations: {a: b}
  - alert: E
    expr: up
    annotations:
      summary: '{{ $labels.x | nosuch }}'
  - alert: F
    expr: up
    unknown_field: 1
  - expr: up
  - alert: G
  - alert: H
    expr: up[5m]
  - alert: I
    expr: up
    labels: {"bad-label": x}
- name: g
- name: ""
)");
  std::vector<std::string> want = {
      "r.yml:4:13: group \"g\", rule 1, \"bad name\": invalid recording rule name: bad name",
      "r.yml:6:12: group \"g\", rule 2, \"A\": only one of 'record' and 'alert' must be set",
      "r.yml:10:11: group \"g\", rule 3, \"B\": could not parse expression: 1:7: parse error: unclosed left "
      "parenthesis",
      "r.yml:12:11: group \"g\", rule 4, \"C\": could not parse expression: 1:1: parse error: unknown function with "
      "name \"nosuch\"",
      "r.yml:15:10: group \"g\", rule 5, \"D\": for: invalid duration \"5 minutes\": unknown unit \"\" (use ms, s, "
      "m, h, d, w, y)",
      "r.yml:18:10: group \"g\", rule 6, \"r\": invalid field 'for' in recording rule",
      "r.yml:19:18: group \"g\", rule 6, \"r\": invalid field 'annotations' in recording rule",
      "r.yml:23:16: group \"g\", rule 7, \"E\": annotation summary: template: 1:16: function \"nosuch\" not defined",
      "r.yml:26:5: group \"g\", rule 8, \"F\": field unknown_field not found in rule",
      "r.yml:27:5: group \"g\", rule 9, \"\": one of 'record' or 'alert' must be set",
      "r.yml:28:5: group \"g\", rule 10, \"G\": field 'expr' must be set in rule",
      "r.yml:30:11: group \"g\", rule 11, \"H\": invalid expression type \"range vector\" for rule, must be instant "
      "vector or scalar",
      "r.yml:33:27: group \"g\", rule 12, \"I\": invalid label name: bad-label",
      "r.yml:34:9: groupname: \"g\" is repeated in the same file",
      "r.yml:35:3: group name must not be empty",
  };
  ASSERT_EQ(p.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(p[i], want[i]) << i;
}

TEST(RuleFileTest, DuplicateAlertWithSameLabelsIsAWarning) {
  LoadResult r = ParseRuleFile(R"(groups:
- name: g
  rules:
  - alert: DiskFull
    expr: up
    labels: {severity: high}
  - alert: DiskFull
    expr: up
    labels: {severity: critical}
  - alert: DiskFull
    expr: up == 0
    labels: {severity: P1}
)",
                               "r.yml");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.groups[0].rules.size(), 3u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].ToString(),
            "r.yml:10:12: group \"g\", rule 3, \"DiskFull\": duplicate alerting rule: an earlier rule of this group "
            "has the same name and labels (both run and write the same ALERTS series)");
}

TEST(RuleFileTest, UnknownFieldsAndYamlErrors) {
  EXPECT_EQ(Problems("groups:\n- name: g\n  namespace: x\n"),
            std::vector<std::string>{"r.yml:3:3: field namespace not found in rule group"});
  ParseOptions ignore;
  ignore.ignore_unknown_fields = true;
  EXPECT_TRUE(Problems("groups:\n- name: g\n  namespace: x\n", ignore).empty());
  EXPECT_EQ(Problems("groups: [\n"),
            std::vector<std::string>{"r.yml:2:1: invalid YAML: end of sequence flow not found"});
  EXPECT_EQ(Problems("- a\n"),
            std::vector<std::string>{"r.yml:1:1: a rule file must be a mapping with `groups`, got a list"});
  EXPECT_EQ(Problems("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels: [a]\n"),
            std::vector<std::string>{"r.yml:6:13: group \"g\", rule 1, \"A\": labels: expected a mapping, got a list"});
  EXPECT_TRUE(Problems("").empty());
}

TEST(RuleFileTest, LoadsGlobs) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/a.yml") << "groups: [{name: a, rules: [{record: x, expr: '1'}]}]\n";
  std::ofstream(dir.path() + "/b.yml") << "groups: [{name: a, rules: [{record: y, expr: '2'}]}]\n";
  LoadResult r = LoadRuleFiles({dir.path() + "/*.yml", dir.path() + "/none-*.yml"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].rules[0].record, "x");
  EXPECT_EQ(r.groups[1].file, dir.path() + "/b.yml");
  LoadResult missing = LoadRuleFiles({dir.path() + "/missing.yml"});
  ASSERT_EQ(missing.problems.size(), 1u);
  EXPECT_EQ(missing.problems[0].file, dir.path() + "/missing.yml");
}

TEST(RuleFileTest, LoadsBuiltinPacks) {
  LoadResult r = LoadRuleFiles({"builtin:host"});
  ASSERT_TRUE(r.ok()) << r.problems[0].ToString();
  std::set<std::string> alerts;
  for (const auto& g : r.groups) {
    EXPECT_EQ(g.file, "builtin:host");
    for (const auto& rule : g.rules) alerts.insert(rule.alert);
  }
  EXPECT_THAT(alerts, ::testing::IsSupersetOf({"DiskAlmostFull", "DiskWillFillIn24h", "MemoryLow", "CpuSaturated",
                                               "LoadHigh", "Watchdog", "DiskFullWithin7Days",
                                               "ServiceMemoryLimitWithin7Days"}));
  EXPECT_THAT(BuiltinPackRefs(), ::testing::Contains("builtin:validator"));

  LoadResult unknown = LoadRuleFiles({"builtin:nope"});
  ASSERT_EQ(unknown.problems.size(), 1u);
  EXPECT_EQ(unknown.problems[0].ToString(),
            "builtin:nope: no built-in rule pack has this name (built-in packs: " + BuiltinPackList() + ")");
}

}  // namespace
}  // namespace vigil::rules
