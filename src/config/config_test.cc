#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "base/testing/temp_dir.h"
#include "config/env.h"

namespace vigil::config {
namespace {

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string Problems(const LoadResult& r) {
  std::string out;
  for (const auto& p : r.problems) out += p.ToString() + "\n";
  return out;
}

using testing::TempDir;

TEST(Config, DefaultConfigIsValidAndMatchesBuiltInDefaults) {
  LoadResult r = LoadDefault(MapEnv({}));
  ASSERT_TRUE(r.ok()) << Problems(r);
  Config defaults;
  EXPECT_EQ(r.config.global.listen, "127.0.0.1:9810");
  EXPECT_EQ(r.config.global.data_dir, "./data");
  EXPECT_EQ(r.config.host.interval, Duration(15000));
  EXPECT_EQ(r.config.host.exclude_fstypes, defaults.host.exclude_fstypes);
}

TEST(Config, ShippedFileEqualsEmbeddedDefault) {
  std::ifstream in(std::string(VIGIL_TESTDATA_DIR) + "/../../deploy/default.yml");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), DefaultConfigYaml());
}

TEST(Config, EmptyFileMeansDefaults) {
  LoadResult r = LoadString("", "empty.yml", MapEnv({}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.global.listen, "127.0.0.1:9810");
}

TEST(Config, HostIntervalDefaultsToGlobalScrapeInterval) {
  LoadResult r = LoadString("global: {scrape_interval: 1s}\n", "c.yml", MapEnv({}));
  ASSERT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.config.host.interval, Duration(1000));
  EXPECT_EQ(r.config.host.timeout, Duration(1000));
}

TEST(Config, UnknownKeyIsAnErrorWithPosition) {
  LoadResult r = LoadString("global:\n  listen: 127.0.0.1:1\n  scrape_intervall: 15s\n", "vigil.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u) << Problems(r);
  EXPECT_EQ(r.problems[0].line, 3);
  EXPECT_EQ(r.problems[0].column, 3);
  EXPECT_NE(r.problems[0].message.find("unknown key \"scrape_intervall\""), std::string::npos);
  EXPECT_NE(r.problems[0].ToString().find("vigil.yml:3:3: global: unknown key"), std::string::npos);
}

TEST(Config, UnknownTopLevelSectionNamesWhatIsSupported) {
  LoadResult r = LoadString("services: {}\n", "vigil.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("unknown key \"services\""), std::string::npos);
  EXPECT_NE(r.problems[0].message.find("env_files, global, host and storage"), std::string::npos);
}

TEST(Config, WrongTypeIsAnError) {
  LoadResult r = LoadString("global:\n  listen: [a, b]\nhost: 5\n", "vigil.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 2u) << Problems(r);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_NE(r.problems[0].message.find("global.listen: expected a string, got a list"), std::string::npos);
  EXPECT_EQ(r.problems[1].line, 3);
  EXPECT_NE(r.problems[1].message.find("host: expected a mapping"), std::string::npos);
}

TEST(Config, BadDurationIsAnError) {
  LoadResult r = LoadString("host:\n  interval: 15x\n", "vigil.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].ToString(),
            "vigil.yml:2:13: host.interval: invalid duration \"15x\": unknown unit \"x\" (use ms, s, m, h, d, w, y)");
}

TEST(Config, ZeroIntervalAndTimeoutLongerThanIntervalAreErrors) {
  LoadResult r = LoadString("host:\n  interval: 0\n", "c.yml", MapEnv({}));
  EXPECT_EQ(r.problems.size(), 1u) << Problems(r);
  r = LoadString("host:\n  interval: 5s\n  timeout: 10s\n", "c.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u) << Problems(r);
  EXPECT_NE(r.problems[0].message.find("must not be longer than host.interval"), std::string::npos);
}

TEST(Config, BadRegexIsAnError) {
  LoadResult r = LoadString("host:\n  filesystems:\n    exclude_mountpoints: '^(/dev'\n", "c.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].line, 3);
  EXPECT_NE(r.problems[0].message.find("invalid regular expression"), std::string::npos);
}

TEST(Config, EveryProblemIsReportedNotJustTheFirst) {
  LoadResult r = LoadString("global:\n  bogus: 1\n  log_level: loud\nhost:\n  interval: x\n  enabled: maybe\n", "c.yml",
                            MapEnv({}));
  EXPECT_EQ(r.problems.size(), 4u) << Problems(r);
}

TEST(Config, DuplicateKeyIsAnError) {
  LoadResult r = LoadString("host:\n  interval: 1s\n  interval: 2s\n", "c.yml", MapEnv({}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Problems(r).find("duplicate key"), std::string::npos) << Problems(r);
}

TEST(Config, InvalidYamlReportsPosition) {
  LoadResult r = LoadString("global:\n  listen: [unclosed\n", "c.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_GT(r.problems[0].line, 0);
  EXPECT_NE(r.problems[0].message.find("invalid YAML"), std::string::npos);
}

TEST(Config, ExpandsVariables) {
  LoadResult r = LoadString("global:\n  listen: ${ADDR}:${PORT:-9999}\n  data_dir: $${literal}\n", "c.yml",
                            MapEnv({{"ADDR", "127.0.0.2"}}));
  ASSERT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.config.global.listen, "127.0.0.2:9999");
  EXPECT_EQ(r.config.global.data_dir, "${literal}");
}

TEST(Config, UnsetVariableWithoutDefaultIsAnErrorNamingItNotItsValue) {
  LoadResult r = LoadString("global:\n  listen: ${NOPE}\n", "c.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_NE(r.problems[0].message.find("environment variable NOPE is not set"), std::string::npos);
}

TEST(Config, EnvFilesAreReadBeforeExpansionAndProcessEnvWins) {
  TempDir dir;
  dir.Write("a.env", "export PORT=1111\nHOST=127.0.0.3 # comment\n");
  dir.Write("b.env", "PORT=\"2222\"\nDATA='/srv/$HOST'\n");
  std::string cfg = dir.Write("vigil.yml",
                              "env_files: [a.env, b.env]\nglobal:\n  listen: ${HOST}:${PORT}\n  data_dir: ${DATA}\n"
                              "  log_level: ${LEVEL}\n");
  LoadResult r = LoadFile(cfg, MapEnv({{"LEVEL", "debug"}}));
  ASSERT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.config.global.listen, "127.0.0.3:2222");  // later file wins over earlier
  EXPECT_EQ(r.config.global.data_dir, "/srv/$HOST");    // single quotes are literal
  EXPECT_EQ(r.config.global.log_level, "debug");
  r = LoadFile(cfg, MapEnv({{"LEVEL", "debug"}, {"PORT", "3333"}}));
  EXPECT_EQ(r.config.global.listen, "127.0.0.3:3333");  // the process environment wins
}

TEST(Config, MissingEnvFileIsAnErrorAtItsEntry) {
  TempDir dir;
  std::string cfg = dir.Write("vigil.yml", "env_files:\n  - missing.env\n");
  LoadResult r = LoadFile(cfg, MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_NE(r.problems[0].message.find("cannot read env file"), std::string::npos);
  EXPECT_NE(r.problems[0].message.find("No such file or directory"), std::string::npos);
}

TEST(Config, NonStringEnvFileEntryIsReportedOnce) {
  LoadResult r = LoadString("env_files:\n  - [a]\n", "c.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u) << Problems(r);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_NE(r.problems[0].message.find("env_files[0]: expected a string, got a list"), std::string::npos);
  r = LoadString("env_files: x.env\n", "c.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u) << Problems(r);
  EXPECT_NE(r.problems[0].message.find("env_files: expected a list"), std::string::npos);
}

TEST(Config, BadEnvFileLineIsReportedWithItsPosition) {
  TempDir dir;
  std::string env = dir.Write("x.env", "OK=1\nthis is not an assignment\nQ=\"open\n");
  std::string cfg = dir.Write("vigil.yml", "env_files: [x.env]\n");
  LoadResult r = LoadFile(cfg, MapEnv({}));
  ASSERT_EQ(r.problems.size(), 2u) << Problems(r);
  EXPECT_EQ(r.problems[0].file, env);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_EQ(r.problems[1].line, 3);
  EXPECT_NE(r.problems[1].message.find("unterminated double quote"), std::string::npos);
}

TEST(Config, UnreadableConfigIsAnError) {
  TempDir dir;
  LoadResult r = LoadFile(dir.path() + "/nope.yml");
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].ToString().find("nope.yml: cannot read config: No such file or directory"),
            std::string::npos);
  r = LoadFile(dir.path());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("is a directory"), std::string::npos);
}

TEST(EnvFile, ShellLikeSyntax) {
  EnvFile f = ParseEnvFile(
      "# comment\n\nexport A=1\nB = 2\nC=\"x y\" \nD='a b'\nE=pre\"$A\"post\nF=\"esc \\\" \\\\ "
      "\\$A\"\nG=${A:-z}${NONE:-d}\n"
      "H=\nI=$HOME_X\n  export   J=j # trailing\nK=a=b\n",
      MapEnv({{"HOME_X", "/home/x"}}));
  EXPECT_EQ(f.vars["A"], "1");
  EXPECT_EQ(f.vars.count("B"), 0u);  // "B = 2" is not an assignment in a shell either
  EXPECT_EQ(f.vars["C"], "x y");
  EXPECT_EQ(f.vars["D"], "a b");
  EXPECT_EQ(f.vars["E"], "pre1post");
  EXPECT_EQ(f.vars["F"], "esc \" \\ $A");
  EXPECT_EQ(f.vars["G"], "1d");
  EXPECT_EQ(f.vars["H"], "");
  EXPECT_EQ(f.vars["I"], "/home/x");
  EXPECT_EQ(f.vars["J"], "j");
  EXPECT_EQ(f.vars["K"], "a=b");
  ASSERT_EQ(f.problems.size(), 1u);
  EXPECT_EQ(f.problems[0].line, 4);
}

TEST(EnvFile, ExponentialExpansionIsCapped) {
  std::string text = "A=xxxxxxxxxxxxxxxx\n";
  for (int i = 0; i < 40; ++i) text += "A=$A$A\n";
  EnvFile f = ParseEnvFile(text, MapEnv({}));
  EXPECT_LE(f.vars["A"].size(), 1u << 20);
  ASSERT_FALSE(f.problems.empty());
  EXPECT_NE(f.problems[0].message.find("longer than 1 MiB"), std::string::npos);
}

TEST(ExpandVariables, Errors) {
  EXPECT_FALSE(ExpandVariables("${", MapEnv({})).ok());
  EXPECT_FALSE(ExpandVariables("${1X}", MapEnv({})).ok());
  EXPECT_FALSE(ExpandVariables("${}", MapEnv({})).ok());
  EXPECT_EQ(*ExpandVariables("$HOME stays", MapEnv({})), "$HOME stays");
  EXPECT_EQ(*ExpandVariables("${E:-d}", MapEnv({{"E", ""}})), "d");
}

}  // namespace
}  // namespace vigil::config

namespace vigil::config {
namespace {

TEST(Config, Storage) {
  LoadResult r = LoadString("storage:\n  retention: 90d\n  max_size: 20GiB\n  wal_fsync: 0\n", "c.yml", MapEnv({}));
  ASSERT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.config.storage.retention, Duration(90LL * 86400000));
  EXPECT_EQ(r.config.storage.max_bytes, 20ULL << 30);
  EXPECT_EQ(r.config.storage.wal_fsync, Duration(0));
  r = LoadString("storage:\n  max_size: 20 gigs\n  block_range: 1s\n", "c.yml", MapEnv({}));
  EXPECT_EQ(r.problems.size(), 2u) << Problems(r);
}

TEST(Config, ListenMustBeHostPort) {
  for (const char* bad : {"localhost", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:http"}) {
    LoadResult r = LoadString(std::string("global: {listen: '") + bad + "'}\n", "c.yml", MapEnv({}));
    EXPECT_EQ(r.problems.size(), 1u) << bad;
  }
  EXPECT_TRUE(LoadString("global: {listen: '[::1]:9810'}\n", "c.yml", MapEnv({})).ok());
}

TEST(Config, ProblemsNeverShowValuesThatCameFromVariables) {
  LoadResult r = LoadString("global:\n  listen: ${TOKEN}\n  log_level: ${TOKEN}\nhost:\n  interval: ${TOKEN}\n",
                            "c.yml", MapEnv({{"TOKEN", "hunter2"}}));
  ASSERT_EQ(r.problems.size(), 3u);
  for (const auto& p : r.problems) {
    EXPECT_EQ(p.message.find("hunter2"), std::string::npos) << p.message;
    EXPECT_NE(p.message.find("${TOKEN}"), std::string::npos) << p.message;
  }
}

}  // namespace
}  // namespace vigil::config
