#include "rules/unittest.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/testing/temp_dir.h"
#include "tsdb/tsdb.h"

namespace vigil::rules {
namespace {

std::string Expand(std::string_view text) {
  auto r = ExpandSeriesValues(text);
  if (!r.ok()) return "error: " + r.status().message();
  std::string out;
  for (const auto& v : *r) {
    if (!out.empty()) out += " ";
    if (!v) {
      out += "_";
    } else if (tsdb::IsStaleNaN(*v)) {
      out += "stale";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", *v);
      out += buf;
    }
  }
  return out;
}

TEST(SeriesNotationTest, Expands) {
  EXPECT_EQ(Expand("1+2x3"), "1 3 5 7");
  EXPECT_EQ(Expand("1x3"), "1 1 1 1");
  EXPECT_EQ(Expand("-2+4x2"), "-2 2 6");
  EXPECT_EQ(Expand("10-1x2"), "10 9 8");
  EXPECT_EQ(Expand("0 _ stale 5"), "0 _ stale 5");
  EXPECT_EQ(Expand("_x3 1"), "_ _ _ 1");
  EXPECT_EQ(Expand("0x2"), "0 0 0");
  EXPECT_EQ(Expand("1e3 -Inf NaN"), "1000 -inf nan");
  EXPECT_EQ(Expand("1.5+0.5x1"), "1.5 2");
  EXPECT_EQ(Expand(""), "");
  EXPECT_EQ(Expand("1+x3"), "error: invalid series value \"1+x3\"");
  EXPECT_EQ(Expand("abc"), "error: invalid series value \"abc\"");
  EXPECT_EQ(Expand("1x"), "error: invalid series value \"1x\"");
  EXPECT_EQ(Expand("1x99999999999"), "error: invalid series value \"1x99999999999\"");
}

TEST(RuleUnitTest, RuleFilesMayNameBuiltinPacks) {
  testing::TempDir dir;
  std::string test = dir.Write("t.yml", R"(rule_files: [builtin:host]
tests:
- alert_rule_test:
  - eval_time: 0m
    alertname: Watchdog
    exp_alerts:
    - exp_labels: {severity: low}
      exp_annotations: {summary: 'always firing, so an outside heartbeat notices when alerts stop arriving'}
)");
  TestFileResult r = RunRuleTestFile(test);
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
}

TEST(RuleUnitTest, PassesAndFailsLikePromtool) {
  testing::TempDir dir;
  dir.Write("rules.yml", R"(groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
    for: 2m
    labels: {severity: P1}
    annotations: {summary: '{{ $labels.instance }} is down since {{ $value }}'}
  - record: up:sum
    expr: sum(up)
)");
  std::string ok = dir.Write("ok.yml", R"(rule_files: [rules.yml]
evaluation_interval: 1m
tests:
- interval: 1m
  input_series:
  - {series: 'up{instance="a"}', values: '1 0x5'}
  alert_rule_test:
  - {eval_time: 2m, alertname: Down, exp_alerts: []}
  - eval_time: 3m
    alertname: Down
    exp_alerts:
    - exp_labels: {instance: a, severity: high}
      exp_annotations: {summary: a is down since 0}
  promql_expr_test:
  - expr: up:sum
    eval_time: 4m
    exp_samples: [{labels: 'up:sum', value: 0}]
  - expr: count(ALERTS) by (alertstate)
    eval_time: 2m
    exp_samples: [{labels: '{alertstate="pending"}', value: 1}]
)");
  TestFileResult r = RunRuleTestFile(ok);
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);

  std::string bad = dir.Write("bad.yml", R"(rule_files: [rules.yml]
tests:
- name: wrong
  input_series:
  - {series: 'up{instance="a"}', values: '0x5'}
  alert_rule_test:
  - {eval_time: 5m, alertname: Down, exp_alerts: []}
  promql_expr_test:
  - expr: up
    eval_time: 1m
    exp_samples: [{labels: 'up{instance="a"}', value: 1.5}]
)");
  r = RunRuleTestFile(bad);
  EXPECT_FALSE(r.passed);
  ASSERT_EQ(r.failures.size(), 2u);
  EXPECT_EQ(r.failures[0],
            "    name: wrong,\n"
            "    alertname: Down, time: 5m, \n"
            "        exp:[], \n"
            "        got:[\n"
            "            0:\n"
            "              Labels:{alertname=\"Down\", instance=\"a\", severity=\"high\"}\n"
            "              Annotations:{summary=\"a is down since 0\"}\n"
            "            ]");
  EXPECT_EQ(r.failures[1],
            "    expr: \"up\", time: 1m,\n"
            "        exp: {__name__=\"up\", instance=\"a\"} 1.5E+00\n"
            "        got: {__name__=\"up\", instance=\"a\"} 0E+00");

  std::string unknown = dir.Write("unknown.yml", "tests:\n- interval: 1m\n  fuzzy: true\n");
  r = RunRuleTestFile(unknown);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.failures, std::vector<std::string>{unknown + ":3:3: field fuzzy not found in type testGroup"});
}

}  // namespace
}  // namespace vigil::rules
