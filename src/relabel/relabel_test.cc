#include "relabel/relabel.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace vigil::relabel {
namespace {

std::vector<Rule> MustParse(const std::string& yaml) {
  std::vector<ParseProblem> problems;
  std::vector<Rule> rules = ParseRules(YAML::Load(yaml), "relabel_configs", &problems);
  for (const auto& p : problems) ADD_FAILURE() << p.line << ":" << p.column << ": " << p.field << ": " << p.message;
  return rules;
}

std::vector<ParseProblem> Problems(const std::string& yaml) {
  std::vector<ParseProblem> problems;
  std::vector<Rule> rules = ParseRules(YAML::Load(yaml), "write_relabel_configs", &problems);
  EXPECT_TRUE(rules.empty() || !problems.empty());
  return problems;
}

struct Case {
  const char* name;
  const char* rules;  // YAML, as in a config file
  Labels input;
  std::optional<Labels> want;  // nullopt: dropped
};

// How gtest shows a case (CTest's test list, failures): its rules, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name << ": " << c.rules; }

// Prometheus's relabel_test.go cases (v2.42) and the configuration docs'
// examples, written as data, plus cases for each action's edges.
const Case kCases[] = {
    {"replace_braced_groups",
     R"([{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}])",
     {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}},
     Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "choo-choo"}}},
    {"replace_chained_sees_earlier_result",
     R"([{source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'},
         {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}])",
     {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}},
     Labels{{"a", "boobam"}, {"b", "bar"}, {"c", "baz"}, {"d", "boooom"}}},
    {"drop_stops_later_rules",
     R"([{source_labels: [a], regex: '.*o.*', action: drop},
         {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch$1-ch$1'}])",
     {{"a", "foo"}},
     std::nullopt},
    {"drop_match",
     R"([{source_labels: [a], regex: '.*o.*', action: drop}])",
     {{"a", "foo"}, {"b", "bar"}},
     std::nullopt},
    {"replace_group_inside",
     R"([{source_labels: [a], regex: '.*(b).*', target_label: d}])",
     {{"a", "abc"}},
     Labels{{"a", "abc"}, {"d", "b"}}},
    {"drop_no_match", R"([{source_labels: [a], regex: no-match, action: drop}])", {{"a", "foo"}}, Labels{{"a", "foo"}}},
    {"drop_regex_is_anchored",
     R"([{source_labels: [a], regex: 'f|o', action: drop}])",
     {{"a", "foo"}},
     Labels{{"a", "foo"}}},
    {"keep_no_match", R"([{source_labels: [a], regex: no-match, action: keep}])", {{"a", "foo"}}, std::nullopt},
    {"keep_match", R"([{source_labels: [a], regex: 'f.*', action: keep}])", {{"a", "foo"}}, Labels{{"a", "foo"}}},
    {"replace_without_match_changes_nothing",
     R"([{source_labels: [a], regex: f, target_label: b, replacement: bar}])",
     {{"a", "boo"}},
     Labels{{"a", "boo"}}},
    {"hashmod",
     R"([{source_labels: [c], target_label: d, modulus: 1000, action: hashmod}])",
     {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}},
     Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "976"}}},
    {"hashmod_newline",
     R"([{source_labels: [a], target_label: b, modulus: 1000, action: hashmod}])",
     {{"a", "foo\nbar"}},
     Labels{{"a", "foo\nbar"}, {"b", "734"}}},
    {"labelmap_prefix",
     R"([{regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}])",
     {{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}},
     Labels{{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}, {"bar_b1", "bar"}, {"bar_b2", "baz"}}},
    {"labelmap_meta",
     R"([{regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}])",
     {{"a", "foo"}, {"__meta_my_bar", "aaa"}, {"__meta_my_baz", "bbb"}, {"__meta_other", "ccc"}},
     Labels{{"a", "foo"},
            {"__meta_my_bar", "aaa"},
            {"__meta_my_baz", "bbb"},
            {"__meta_other", "ccc"},
            {"my_bar", "aaa"},
            {"my_baz", "bbb"}}},
    {"replace_templated_target",
     R"([{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${2}', target_label: '${1}'}])",
     {{"a", "some-name-value"}},
     Labels{{"a", "some-name-value"}, {"name", "value"}}},
    {"replace_empty_replacement_with_templated_target",
     R"([{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${3}', target_label: '${1}'}])",
     {{"a", "some-name-value"}},
     Labels{{"a", "some-name-value"}}},
    // Prometheus's case also has target_label '0${3}' and '-${3}', which its
    // config loader refuses; HandBuiltInvalidTargetsChangeNothing covers them.
    {"replace_invalid_expanded_target",
     R"([{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}'}])",
     {{"a", "some-name-value"}},
     Labels{{"a", "some-name-value"}}},
    {"replace_service_discovery_tags",
     R"([{source_labels: [__meta_sd_tags], regex: '(?:.+,|^)path:(/[^,]+).*', replacement: '${1}',
          target_label: __metrics_path__},
         {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)job:([^,]+).*', replacement: '${1}', target_label: job},
         {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', replacement: '${2}',
          target_label: '${1}'}])",
     {{"__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"}},
     Labels{{"__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"},
            {"__metrics_path__", "/secret"},
            {"job", "some-job"},
            {"foo", "bar"}}},
    {"labelkeep",
     R"([{regex: '(b.*)', action: labelkeep}])",
     {{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}},
     Labels{{"b1", "bar"}, {"b2", "baz"}}},
    {"labeldrop",
     R"([{regex: '(b.*)', action: labeldrop}])",
     {{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}},
     Labels{{"a", "foo"}}},
    {"uppercase_lowercase",
     R"([{source_labels: [foo], action: uppercase, target_label: foo_uppercase},
         {source_labels: [foo], action: lowercase, target_label: foo_lowercase}])",
     {{"foo", "bAr123Foo"}},
     Labels{{"foo", "bAr123Foo"}, {"foo_lowercase", "bar123foo"}, {"foo_uppercase", "BAR123FOO"}}},
    {"keepequal_equal",
     R"([{source_labels: [__tmp_port], action: keepequal, target_label: __port1}])",
     {{"__tmp_port", "1234"}, {"__port1", "1234"}, {"__port2", "5678"}},
     Labels{{"__tmp_port", "1234"}, {"__port1", "1234"}, {"__port2", "5678"}}},
    {"dropequal_equal",
     R"([{source_labels: [__tmp_port], action: dropequal, target_label: __port1}])",
     {{"__tmp_port", "1234"}, {"__port1", "1234"}, {"__port2", "5678"}},
     std::nullopt},
    {"dropequal_different",
     R"([{source_labels: [__tmp_port], action: dropequal, target_label: __port2}])",
     {{"__tmp_port", "1234"}, {"__port1", "1234"}, {"__port2", "5678"}},
     Labels{{"__tmp_port", "1234"}, {"__port1", "1234"}, {"__port2", "5678"}}},
    {"keepequal_different",
     R"([{source_labels: [__tmp_port], action: keepequal, target_label: __port2}])",
     {{"__tmp_port", "1234"}, {"__port1", "1234"}, {"__port2", "5678"}},
     std::nullopt},
    // The docs' example: a static label from nothing (the empty joined value matches (.*)).
    {"replace_static_label",
     R"([{target_label: env, replacement: production}])",
     {{"a", "1"}},
     Labels{{"a", "1"}, {"env", "production"}}},
    // Go's Expand: `$1x` names the group "1x", which does not exist.
    {"replace_dollar_name_runs_on",
     R"([{source_labels: [code], regex: '(\d)\d+', target_label: c, replacement: '$1xx'}])",
     {{"code", "404"}, {"c", "old"}},
     Labels{{"code", "404"}}},
    {"replace_braces_end_the_name",
     R"([{source_labels: [code], regex: '(\d)\d+', target_label: c, replacement: '${1}xx'}])",
     {{"code", "404"}},
     Labels{{"c", "4xx"}, {"code", "404"}}},
    {"replace_dollar_dollar_and_malformed",
     R"([{source_labels: [a], regex: '(.*)', target_label: b, replacement: '$$1 ${1 $- $'}])",
     {{"a", "x"}},
     Labels{{"a", "x"}, {"b", "$1 ${1 $- $"}}},
    {"replace_named_group",
     R"([{source_labels: [v], regex: 'v(?P<major>\d+)\.(?P<minor>\d+)', target_label: mm,
          replacement: '${major}.$minor'}])",
     {{"v", "v1.22"}},
     Labels{{"mm", "1.22"}, {"v", "v1.22"}}},
    {"replace_leading_zero_group_is_a_name",
     R"([{source_labels: [a], regex: '(x)', target_label: b, replacement: '[$01]'}])",
     {{"a", "x"}},
     Labels{{"a", "x"}, {"b", "[]"}}},
    // An empty replacement deletes the configured target.
    {"replace_empty_deletes",
     R"([{source_labels: [a], regex: 'drop-me', target_label: a, replacement: ''}])",
     {{"a", "drop-me"}, {"b", "1"}},
     Labels{{"b", "1"}}},
    {"replace_missing_sources_join_empty",
     R"([{source_labels: [x, y], separator: '-', regex: '-', target_label: both_absent, replacement: yes}])",
     {{"a", "1"}},
     Labels{{"a", "1"}, {"both_absent", "yes"}}},
    // A null regex is the empty regex: it matches only the empty string.
    {"keep_null_regex_matches_only_empty",
     R"([{source_labels: [device], regex: , action: keep}])",
     {{"a", "1"}},
     Labels{{"a", "1"}}},
    {"keep_null_regex_drops_nonempty",
     R"([{source_labels: [device], regex: , action: keep}])",
     {{"device", "lo"}},
     std::nullopt},
    {"action_is_case_insensitive", R"([{source_labels: [a], regex: x, action: DROP}])", {{"a", "x"}}, std::nullopt},
    {"hashmod_lower_eight_bytes",
     R"([{source_labels: [a, b], separator: ',', target_label: h, modulus: 18446744073709551615, action: hashmod}])",
     {{"a", "x"}, {"b", "y"}},
     // md5("x,y") = f10bc3c94b77e1d6 b9f98106daf335c1: the last 8 bytes, big-endian, mod 2^64-1.
     Labels{{"a", "x"}, {"b", "y"}, {"h", "13400884032660780481"}}},
    {"labelmap_later_name_wins",
     R"([{regex: '(a|b)', replacement: c, action: labelmap}])",
     {{"a", "1"}, {"b", "2"}, {"c", "3"}},
     Labels{{"a", "1"}, {"b", "2"}, {"c", "2"}}},
    {"labelmap_default_replacement_is_identity",
     R"([{regex: '(m.*)', action: labelmap}])",
     {{"method", "GET"}},
     Labels{{"method", "GET"}}},
    {"labelkeep_can_drop_name",
     R"([{regex: 'job', action: labelkeep}])",
     {{"__name__", "up"}, {"job", "j"}},
     Labels{{"job", "j"}}},
    {"unicode_case_mapping",
     R"([{source_labels: [o], target_label: lo, action: lowercase}, {source_labels: [o], target_label: up, action: uppercase}])",
     {{"o",
       "\xc3\x84rger \xce\xa9mega stra\xc3\x9f"
       "e \xc4\xb0"}},
     Labels{{"lo",
             "\xc3\xa4rger \xcf\x89mega stra\xc3\x9f"
             "e i"},
            {"o",
             "\xc3\x84rger \xce\xa9mega stra\xc3\x9f"
             "e \xc4\xb0"},
            {"up",
             "\xc3\x84RGER \xce\xa9MEGA STRA\xc3\x9f"
             "E \xc4\xb0"}}},
    {"invalid_utf8_becomes_replacement_char",
     R"([{source_labels: [o], target_label: lo, action: lowercase}])",
     {{"o", "A\xff\xc3\x84"}},
     Labels{{"lo", "a\xef\xbf\xbd\xc3\xa4"}, {"o", "A\xff\xc3\x84"}}},
    {"lowercase_empty_source_deletes_target",
     R"([{source_labels: [x], target_label: a, action: lowercase}])",
     {{"a", "1"}},
     Labels{}},
    {"no_rules_removes_empty_values", R"([])", {{"a", ""}, {"b", "1"}}, Labels{{"b", "1"}}},
};

class RelabelTable : public ::testing::TestWithParam<Case> {};

TEST_P(RelabelTable, MatchesPrometheus) {
  const Case& c = GetParam();
  std::vector<Rule> rules = MustParse(c.rules);
  Labels labels = c.input;
  bool kept = Apply(rules, &labels);
  if (!c.want) {
    EXPECT_FALSE(kept) << labels.ToString();
    EXPECT_EQ(labels, c.input) << "a dropped series' labels stay as they were";
  } else {
    ASSERT_TRUE(kept);
    EXPECT_EQ(labels.ToString(), c.want->ToString());
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, RelabelTable, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(Relabel, DefaultsAreReplaceWithWholeValue) {
  std::vector<Rule> rules = MustParse("[{source_labels: [a], target_label: b}]");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].action, Action::kReplace);
  EXPECT_EQ(rules[0].regex, "(.*)");
  EXPECT_EQ(rules[0].separator, ";");
  EXPECT_EQ(rules[0].replacement, "$1");
  Labels l{{"a", "v"}};
  ASSERT_TRUE(Apply(rules, &l));
  EXPECT_EQ(l, (Labels{{"a", "v"}, {"b", "v"}}));
}

TEST(Relabel, HandBuiltRuleCompilesOnUse) {
  Rule r;
  r.source_labels = {"a"};
  r.regex = "x(.)";
  r.target_label = "b";
  Labels l{{"a", "xy"}};
  ASSERT_TRUE(Apply({r}, &l));
  EXPECT_EQ(l.Get("b"), "y");
  ASSERT_TRUE(r.Compile().ok());
  EXPECT_NE(r.compiled, nullptr);
  Rule bad = r;
  bad.regex = "(";
  Status s = bad.Compile();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing )"), std::string::npos) << s.message();
  // An uncompilable hand-built keep rule matches nothing, so it drops.
  bad.compiled = nullptr;
  bad.action = Action::kKeep;
  Labels l2{{"a", "xy"}};
  EXPECT_FALSE(Apply({bad}, &l2));
}

TEST(Relabel, HandBuiltInvalidTargetsChangeNothing) {
  std::vector<Rule> rules;
  for (const char* target : {"${3}", "0${3}", "-${3}"}) {
    Rule r;
    r.source_labels = {"a"};
    r.regex = "some-([^-]+)-([^,]+)";
    r.replacement = "${1}";
    r.target_label = target;
    ASSERT_TRUE(r.Compile().ok());
    rules.push_back(r);
  }
  Labels l{{"a", "some-name-value"}};
  ASSERT_TRUE(Apply(rules, &l));
  EXPECT_EQ(l, (Labels{{"a", "some-name-value"}}));
}

TEST(Relabel, NullOrMissingListIsEmpty) {
  std::vector<ParseProblem> problems;
  EXPECT_TRUE(ParseRules(YAML::Node(), "x", &problems).empty());
  EXPECT_TRUE(ParseRules(YAML::Load("~"), "x", &problems).empty());
  EXPECT_TRUE(problems.empty());
}

TEST(Relabel, ModulusForms) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, uint64_t>>{
           {"10", 10}, {"0x10", 16}, {"010", 8}, {"0b101", 5}, {"1_000", 1000}, {"2.9", 2}, {"1e3", 1000}}) {
    std::vector<Rule> rules =
        MustParse("[{source_labels: [a], target_label: b, action: hashmod, modulus: " + text + "}]");
    ASSERT_EQ(rules.size(), 1u) << text;
    EXPECT_EQ(rules[0].modulus, want) << text;
  }
}

// --- invalid configs: each names the field and where it is ---

void ExpectProblem(const std::vector<ParseProblem>& problems, const std::string& field, int line, int column,
                   const std::string& message_part) {
  ASSERT_EQ(problems.size(), 1u) << (problems.empty() ? "no problem" : problems[1].message);
  EXPECT_EQ(problems[0].field, field);
  EXPECT_EQ(problems[0].line, line);
  EXPECT_EQ(problems[0].column, column);
  EXPECT_NE(problems[0].message.find(message_part), std::string::npos) << problems[0].message;
}

TEST(RelabelConfig, NotAList) {
  ExpectProblem(Problems("{a: 1}"), "write_relabel_configs", 1, 1, "expected a list of relabel configs");
}

TEST(RelabelConfig, EntryNotAMapping) {
  ExpectProblem(Problems("- [a]\n"), "write_relabel_configs[0]", 1, 3, "expected a mapping");
}

TEST(RelabelConfig, NullEntry) {
  // yaml-cpp marks an empty entry at the next token, often a later line, and
  // does not tell it from `~`: a null entry is named by its index alone.
  ExpectProblem(Problems("- {target_label: a}\n- \n"), "write_relabel_configs[1]", 0, 0, "empty or null relabel rule");
  ExpectProblem(Problems("- {target_label: a}\n- ~\n"), "write_relabel_configs[1]", 0, 0, "empty or null relabel rule");
}

TEST(RelabelConfig, UnknownKey) {
  ExpectProblem(Problems("- target_label: a\n  regexp: x\n"), "write_relabel_configs[0]", 2, 3,
                "unknown key \"regexp\"");
}

TEST(RelabelConfig, DuplicateKey) {
  ExpectProblem(Problems("- target_label: a\n  target_label: b\n"), "write_relabel_configs[0].target_label", 2, 3,
                "already set");
}

TEST(RelabelConfig, UnknownAction) {
  ExpectProblem(Problems("- target_label: a\n  action: rename\n"), "write_relabel_configs[0].action", 2, 11,
                "unknown relabel action \"rename\"");
}

TEST(RelabelConfig, EmptyAction) {
  ExpectProblem(Problems("- target_label: a\n  action:\n"), "write_relabel_configs[0].action", 2, 3,
                "relabel action cannot be empty");
}

TEST(RelabelConfig, InvalidRegexQuotesTheRegexAsWritten) {
  auto problems = Problems("- target_label: a\n  regex: 'a(b'\n");
  ExpectProblem(problems, "write_relabel_configs[0].regex", 2, 10, "invalid regular expression: missing ): a(b");
}

TEST(RelabelConfig, SourceLabelsNotAList) {
  ExpectProblem(Problems("- source_labels: a\n  target_label: b\n"), "write_relabel_configs[0].source_labels", 1, 18,
                "expected a list of label names");
}

TEST(RelabelConfig, InvalidSourceLabel) {
  ExpectProblem(Problems("- source_labels: [a, b-c]\n  target_label: b\n"), "write_relabel_configs[0].source_labels[1]",
                1, 22, "\"b-c\" is not a valid label name");
}

TEST(RelabelConfig, StringFieldGivenAList) {
  ExpectProblem(Problems("- target_label: [a]\n"), "write_relabel_configs[0].target_label", 1, 17, "expected a string");
}

TEST(RelabelConfig, ModulusNotANumber) {
  ExpectProblem(Problems("- {target_label: a, action: hashmod, modulus: '4'}\n"), "write_relabel_configs[0].modulus", 1,
                47, "expected a whole number");
  ExpectProblem(Problems("- {target_label: a, action: hashmod, modulus: -4}\n"), "write_relabel_configs[0].modulus", 1,
                47, "expected a whole number");
}

TEST(RelabelConfig, HashModNeedsModulus) {
  ExpectProblem(Problems("- source_labels: [a]\n  target_label: b\n  action: hashmod\n"),
                "write_relabel_configs[0].modulus", 1, 3, "requires non-zero modulus");
}

TEST(RelabelConfig, TargetLabelRequired) {
  for (std::string action : {"replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"}) {
    std::string yaml = "- source_labels: [a]\n  action: " + action + "\n";
    if (action == "hashmod") yaml += "  modulus: 2\n";
    ExpectProblem(Problems(yaml), "write_relabel_configs[0].target_label", 1, 3,
                  "relabel configuration for " + action + " action requires 'target_label' value");
  }
}

TEST(RelabelConfig, InvalidTargetLabel) {
  ExpectProblem(Problems("- source_labels: [a]\n  target_label: '-b${1}'\n"), "write_relabel_configs[0].target_label",
                2, 17, "\"-b${1}\" is invalid 'target_label' for replace action");
  ExpectProblem(Problems("- {source_labels: [a], target_label: 'b$1', modulus: 2, action: hashmod}\n"),
                "write_relabel_configs[0].target_label", 1, 38, "\"b$1\" is invalid 'target_label' for hashmod action");
}

TEST(RelabelConfig, ReplacementNotAllowed) {
  ExpectProblem(Problems("- {source_labels: [a], target_label: b, action: uppercase, replacement: x}\n"),
                "write_relabel_configs[0].replacement", 1, 73, "'replacement' can not be set for uppercase action");
}

TEST(RelabelConfig, LabelMapReplacementMustBeATarget) {
  ExpectProblem(Problems("- {regex: '(.*)', action: labelmap, replacement: 'a-$1'}\n"),
                "write_relabel_configs[0].replacement", 1, 50, "\"a-$1\" is invalid 'replacement' for labelmap action");
}

TEST(RelabelConfig, EqualActionsTakeNoOtherFields) {
  ExpectProblem(Problems("- {source_labels: [a], target_label: b, action: keepequal, regex: '(.*)'}\n"),
                "write_relabel_configs[0].regex", 1, 67,
                "keepequal action requires only 'source_labels' and 'target_label'");
  ExpectProblem(Problems("- {source_labels: [a], target_label: b, action: dropequal, separator: ','}\n"),
                "write_relabel_configs[0].separator", 1, 71, "dropequal action requires only");
}

TEST(RelabelConfig, LabelDropKeepTakeOnlyRegex) {
  ExpectProblem(Problems("- {source_labels: [], regex: a, action: labeldrop}\n"),
                "write_relabel_configs[0].source_labels", 1, 19, "labeldrop action requires only 'regex'");
  ExpectProblem(Problems("- {target_label: x, regex: a, action: labelkeep}\n"), "write_relabel_configs[0].target_label",
                1, 18, "labelkeep action requires only 'regex'");
}

TEST(RelabelConfig, InvalidEntriesAreSkippedOthersKept) {
  std::vector<ParseProblem> problems;
  std::vector<Rule> rules =
      ParseRules(YAML::Load("- {target_label: a, replacement: x}\n- {action: nope}\n- {regex: b, action: labeldrop}\n"),
                 "metric_relabel_configs", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].field, "metric_relabel_configs[1].action");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[1].action, Action::kLabelDrop);
}

}  // namespace
}  // namespace vigil::relabel
