#include <gtest/gtest.h>

#include "base/testing/temp_dir.h"
#include "config/config.h"

namespace vigil::config {
namespace {

EnvLookup NoEnv() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

TEST(RulesConfig, RuleFilesEvaluationIntervalAndExternalLabels) {
  testing::TempDir dir;
  std::string file = dir.Write("vigil.yml", R"(global:
  evaluation_interval: 5s
  external_labels: {network: testnet, host: a}
rule_files: [rules/*.yml, /etc/vigil/extra.yml]
)");
  LoadResult r = LoadFile(file, NoEnv());
  ASSERT_TRUE(r.ok()) << r.problems[0].ToString();
  EXPECT_EQ(r.config.global.evaluation_interval, Duration(5000));
  EXPECT_EQ(r.config.global.external_labels,
            (std::vector<std::pair<std::string, std::string>>{{"host", "a"}, {"network", "testnet"}}));
  EXPECT_EQ(r.config.rule_files, (std::vector<std::string>{dir.path() + "/rules/*.yml", "/etc/vigil/extra.yml"}));
}

TEST(RulesConfig, Defaults) {
  LoadResult r = LoadString("", "c.yml", NoEnv());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.global.evaluation_interval, Duration(15000));
  EXPECT_TRUE(r.config.global.external_labels.empty());
  EXPECT_TRUE(r.config.rule_files.empty());
}

TEST(RulesConfig, Problems) {
  LoadResult r = LoadString("global:\n  evaluation_interval: 0s\n  external_labels: {bad-name: x}\nrule_files: a.yml\n",
                            "c.yml", NoEnv());
  ASSERT_EQ(r.problems.size(), 3u);
  EXPECT_EQ(r.problems[0].ToString(), "c.yml:2:24: global.evaluation_interval: must be greater than zero");
  EXPECT_EQ(r.problems[1].ToString(), "c.yml:3:21: global.external_labels: invalid label name \"bad-name\"");
  EXPECT_EQ(r.problems[2].ToString(), "c.yml:4:13: rule_files: expected a list, got a scalar");
}

}  // namespace
}  // namespace vigil::config
