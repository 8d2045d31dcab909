#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "alert/inhibit.h"
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
  // The embedded host pack, so a first run has alerts without any file.
  EXPECT_THAT(r.config.rule_files, ::testing::ElementsAre("builtin:host"));
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
  LoadResult r = LoadString("remote_read: []\n", "vigil.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("unknown key \"remote_read\""), std::string::npos);
  EXPECT_NE(r.problems[0].message.find(
                "services, textfile, scrape, rule_files, alerting, recovery, remote_write, baselines and reports"),
            std::string::npos);
}

TEST(Config, Baselines) {
  LoadResult r = LoadString(
      "baselines:\n"
      "  - {name: rpc_latency, expr: vigil_probe_duration_seconds}\n"
      "  - name: block_rate\n"
      "    expr: rate(vigil_bitcoind_blocks[1h])\n"
      "    season: weekly\n"
      "    history: 35d\n"
      "    bucket: 30m\n"
      "    tolerance: 4.5\n"
      "    min_width: 0.5\n"
      "    direction: down\n",
      "vigil.yml", MapEnv({}));
  ASSERT_TRUE(r.ok()) << Problems(r);
  ASSERT_EQ(r.config.baselines.size(), 2u);
  const BaselineOptions& a = r.config.baselines[0];
  EXPECT_EQ(a.season, "daily");
  EXPECT_EQ(a.history.count(), 28LL * 86400 * 1000);
  EXPECT_EQ(a.bucket.count(), 3600 * 1000);
  EXPECT_EQ(a.tolerance, 3);
  EXPECT_EQ(a.min_width, 0);
  EXPECT_EQ(a.direction, "up");
  const BaselineOptions& b = r.config.baselines[1];
  EXPECT_EQ(b.expr, "rate(vigil_bitcoind_blocks[1h])");
  EXPECT_EQ(b.season, "weekly");
  EXPECT_EQ(b.history.count(), 35LL * 86400 * 1000);
  EXPECT_EQ(b.bucket.count(), 1800 * 1000);
  EXPECT_EQ(b.tolerance, 4.5);
  EXPECT_EQ(b.min_width, 0.5);
  EXPECT_EQ(b.direction, "down");
}

TEST(Config, BadBaselinesNameFieldAndLine) {
  LoadResult r = LoadString(
      "baselines:\n"
      "  - {name: a, expr: 'rate(x[5m]'}\n"
      "  - {name: a, expr: 'x[5m]'}\n"
      "  - {expr: up, season: monthly, direction: sideways}\n"
      "  - {name: b, expr: up, bucket: 7m, history: 1d, tolerance: 0, min_width: -1, colour: red}\n"
      "  - {name: c}\n"
      "  - just-a-string\n",
      "vigil.yml", MapEnv({}));
  std::string p = Problems(r);
  for (const char* want : {
           "vigil.yml:2:21: baselines[0].expr: invalid PromQL",
           "vigil.yml:3:12: baselines[1].name: duplicate name \"a\"",
           "vigil.yml:3:21: baselines[1].expr: must return an instant vector",
           "vigil.yml:4:5: baselines[2]: missing name",
           "baselines[2].season: expected daily or weekly, got \"monthly\"",
           "baselines[2].direction: expected up, down or both, got \"sideways\"",
           "baselines[3].bucket: must be at least 1m and divide a day evenly",
           "baselines[3].history: must be at least 3d",
           "baselines[3].tolerance: expected a positive number, got \"0\"",
           "baselines[3].min_width: expected a non-negative number, got \"-1\"",
           "baselines[3]: unknown key \"colour\"",
           "vigil.yml:6:5: baselines[4]: missing expr",
           "vigil.yml:7:5: baselines[5]: expected a mapping, got a scalar",
       }) {
    EXPECT_NE(p.find(want), std::string::npos) << want << "\n" << p;
  }
  EXPECT_EQ(r.problems.size(), 13u) << p;
}

TEST(Config, RemoteWriteTargets) {
  testing::TempDir dir;
  std::string pass = dir.Write("rw.pass", "s3cret\n");
  LoadResult r = LoadString(
      "remote_write:\n"
      "  - url: http://127.0.0.1:8428/api/v1/write\n"
      "    basic_auth: {username: vigil, password_file: " +
          pass +
          "}\n"
          "    headers: {X-Scope-OrgID: '${ORG}'}\n"
          "    queue_config: {max_shards: 4, batch_send_deadline: 1s}\n"
          "    max_backlog: 1GiB\n"
          "  - {name: second, url: 'https://vm:8480/insert/0/prometheus/api/v1/write',\n"
          "     authorization: {credentials: '${TOKEN}'}, tls_config: {insecure_skip_verify: true},\n"
          "     resolution: 5m, resolution_delay: 2m, aggregates: [last, max]}\n",
      "vigil.yml", MapEnv({{"ORG", "validators"}, {"TOKEN", "t0k"}}));
  ASSERT_TRUE(r.ok()) << Problems(r);
  ASSERT_EQ(r.config.remote_write.size(), 2u);
  const auto& a = r.config.remote_write[0];
  EXPECT_EQ(a.name, "127.0.0.1:8428");
  EXPECT_EQ(a.basic_auth.user, "vigil");
  EXPECT_EQ(a.basic_auth.password, "s3cret");
  EXPECT_EQ(a.headers.at("X-Scope-OrgID"), "validators");
  EXPECT_EQ(a.max_shards, 4);
  EXPECT_EQ(a.batch_send_deadline, Duration(1000));
  EXPECT_EQ(a.max_backlog_bytes, 1ULL << 30);
  const auto& b = r.config.remote_write[1];
  EXPECT_EQ(b.name, "second");
  EXPECT_EQ(b.bearer_token, "t0k");
  EXPECT_TRUE(b.tls_insecure_skip_verify);
  EXPECT_EQ(a.resolution, Duration(0));  // raw unless asked
  EXPECT_EQ(b.resolution, Duration(300000));
  EXPECT_EQ(b.resolution_delay, Duration(120000));
  EXPECT_EQ(b.aggregates, (std::vector<std::string>{"last", "max"}));
}

TEST(Config, BadExportResolutionsSayWhereAndWhy) {
  LoadResult r = LoadString(
      "remote_write:\n"
      "  - {url: 'http://a:1/w', resolution: 7m}\n"
      "  - {url: 'http://b:1/w', resolution: 5m, aggregates: [last, median, last]}\n"
      "  - {url: 'http://c:1/w', aggregates: [max]}\n"
      "  - {url: 'http://d:1/w', resolution: soon}\n",
      "vigil.yml", MapEnv({}));
  std::string all = Problems(r);
  EXPECT_NE(all.find("vigil.yml:2:39: remote_write[0].resolution: expected raw or a step that divides a day (e.g. "
                     "5m, 1h), got 7m"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("remote_write[1].aggregates: unknown aggregate \"median\""), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[1].aggregates: \"last\" is listed twice"), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[2].aggregates: applies only with a resolution"), std::string::npos) << all;
  EXPECT_NE(all.find("vigil.yml:5:39: remote_write[3].resolution: "), std::string::npos) << all;
}

TEST(Config, BadRemoteWriteTargetsSayWhereAndNeverQuoteSecrets) {
  LoadResult r = LoadString(
      "remote_write:\n"
      "  - {url: 'ftp://x', queue_config: {min_shards: 5, max_shards: 2, capacity: 10}}\n"
      "  - {url: 'http://a:1/w', authorization: {type: Basic, credentials: hunter2}}\n"
      "  - {url: 'http://a:1/w', basic_auth: {password: hunter2}, max_backlog: 1MiB}\n"
      "  - {url: 'http://b:1/w', headers: {'bad header': x}}\n",
      "vigil.yml", MapEnv({}));
  std::string all = Problems(r);
  EXPECT_NE(all.find("vigil.yml:2:11: remote_write[0].url: expected an http:// or https:// URL"), std::string::npos)
      << all;
  EXPECT_NE(all.find("remote_write[0].queue_config: min_shards is above max_shards"), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[0].queue_config: unknown key \"capacity\""), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[1].authorization.type: only Bearer is supported"), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[2].name: duplicate name \"a:1\""), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[2].basic_auth: a password needs a username"), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[2].max_backlog: expected a size of at least 64MiB"), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[3].headers.bad header: not a valid header name"), std::string::npos) << all;
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;

  r = LoadString(
      "remote_write:\n"
      "  - url: 'http://c:1/w'\n"
      "    write_relabel_configs:\n"
      "      - {source_labels: [job], regex: 'a(', action: keep}\n",
      "vigil.yml", MapEnv({}));
  all = Problems(r);
  EXPECT_NE(all.find("vigil.yml:4:"), std::string::npos) << all;
  EXPECT_NE(all.find("remote_write[0].write_relabel_configs[0].regex"), std::string::npos) << all;
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

namespace vigil::config {
namespace {

std::string AllProblems(const LoadResult& r) {
  std::string out;
  for (const auto& p : r.problems) out += p.ToString() + "\n";
  return out;
}

EnvLookup NoEnv() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

// The services part of ../shared/design/CONFIG.md's example, verbatim.
constexpr const char* kDesignExample = R"(
global:
  scrape_interval: 15s
systemd:
  bus: system
services:
  bitcoind:
    unit: arch-bitcoind@ops.service
    bitcoind: {url: 'http://127.0.0.1:8332/', cookie_file: /home/ops/.bitcoin/.cookie}
  titan:
    unit: arch-titan@ops.service
    depends_on: [bitcoind]
    titan: {url: 'http://127.0.0.1:3030'}
  validator:
    unit: arch-validator@ops.service
    depends_on: [titan]
    validator:
      url: 'http://127.0.0.1:9002/'
      references: ['${ARCH_REFERENCE_RPC:-}']
    probes:
      - {name: rpc, type: jsonrpc, url: 'http://127.0.0.1:9002/', method: is_node_ready, extract: {ready: /result}}
      - {name: tls, type: tls, target: 'rpc.example.net:443'}
    processes: {expect: 1}
    logs:
      - path: /home/ops/logs/validator.log
        counters: [{name: errors, match: 'ERROR'}, {name: warnings, match: 'WARN'}]
        gauges:   [{name: slot, match: 'Processing slot (\d+)'}]
        states:   [{name: titan_connected, on: 'Connected to server at titan', off: 'Detected disconnection'}]
    updates: {binary: /usr/local/bin/validator, releases: 'https://api.github.com/repos/OWNER/REPO/releases/latest', interval: 6h}
    recovery: {}
textfile: {directory: /var/lib/vigil/textfile}
)";

TEST(ServicesConfig, DesignExampleLoads) {
  LoadResult r = LoadString(kDesignExample, "vigil.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const Config& c = r.config;
  ASSERT_TRUE(c.systemd.has_value());
  EXPECT_EQ(c.systemd->bus, BusKind::kSystem);
  ASSERT_EQ(c.services.size(), 3u);
  EXPECT_EQ(c.services[0].name, "bitcoind");
  EXPECT_EQ(c.services[0].bitcoind->auth.cookie_file, "/home/ops/.bitcoin/.cookie");
  EXPECT_EQ(c.services[1].depends_on, std::vector<std::string>{"bitcoind"});
  const ServiceOptions& v = c.services[2];
  EXPECT_EQ(v.unit, "arch-validator@ops.service");
  EXPECT_TRUE(v.validator->references.empty());  // ${ARCH_REFERENCE_RPC:-} left empty
  ASSERT_EQ(v.probes.size(), 2u);
  EXPECT_EQ(v.probes[0].method, "is_node_ready");
  EXPECT_EQ(v.probes[0].extract.at("ready"), "/result");
  EXPECT_EQ(v.probes[0].params_json, "[]");
  EXPECT_EQ(v.probes[1].target, "rpc.example.net:443");
  EXPECT_EQ(v.processes->expect, 1);
  ASSERT_EQ(v.logs.size(), 1u);
  EXPECT_EQ(v.logs[0].gauges[0].match, "Processing slot (\\d+)");
  EXPECT_EQ(v.updates->interval, Duration(6LL * 3600 * 1000));
  EXPECT_EQ(c.textfile.directory, "/var/lib/vigil/textfile");
}

TEST(ServicesConfig, UserBusAndBareUnitNameGetsServiceSuffix) {
  LoadResult r =
      LoadString("systemd: {bus: user}\nservices:\n  demo: {unit: demo}\n  inst: {unit: 'demo@*'}\n", "c.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config.systemd->bus, BusKind::kUser);
  EXPECT_EQ(r.config.services[0].unit, "demo.service");
  EXPECT_EQ(r.config.services[1].unit, "demo@*.service");
}

TEST(ServicesConfig, BadBusIsAnError) {
  LoadResult r = LoadString("systemd:\n  bus: session\n", "c.yml", NoEnv());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].ToString(), "c.yml:2:8: systemd.bus: expected system or user, got \"session\"");
}

TEST(ServicesConfig, UnknownDependencyIsAnErrorAtItsPosition) {
  LoadResult r = LoadString("services:\n  a:\n    unit: a.service\n    depends_on: [b]\n", "c.yml", NoEnv());
  ASSERT_EQ(r.problems.size(), 1u) << AllProblems(r);
  EXPECT_EQ(r.problems[0].line, 4);
  EXPECT_EQ(r.problems[0].column, 18);
  EXPECT_NE(r.problems[0].message.find("services.a.depends_on[0]: unknown service \"b\" (services: a)"),
            std::string::npos)
      << r.problems[0].message;
}

TEST(ServicesConfig, DependencyCycleIsAnError) {
  LoadResult r = LoadString(
      "services:\n  a: {unit: a.service, depends_on: [b]}\n  b: {unit: b.service, depends_on: [c]}\n"
      "  c: {unit: c.service, depends_on: [a]}\n",
      "c.yml", NoEnv());
  ASSERT_EQ(r.problems.size(), 1u) << AllProblems(r);
  EXPECT_NE(r.problems[0].message.find("dependency cycle: a -> b -> c -> a"), std::string::npos)
      << r.problems[0].message;
}

TEST(ServicesConfig, SelfDependencyIsAnError) {
  LoadResult r = LoadString("services:\n  a: {unit: a.service, depends_on: [a]}\n", "c.yml", NoEnv());
  ASSERT_EQ(r.problems.size(), 1u) << AllProblems(r);
  EXPECT_NE(r.problems[0].message.find("cannot depend on itself"), std::string::npos);
}

TEST(ServicesConfig, ProcessesNeedValidRegexAndExpect) {
  LoadResult r = LoadString(
      "services:\n  a:\n    unit: a.service\n    processes: {expect: -1, match: '(', extra: 1}\n  b:\n    processes: "
      "{expect: 2}\n",
      "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("services.a.processes.expect: expected a whole number from 0 to 100000, got \"-1\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("services.a.processes.match: invalid regular expression"), std::string::npos) << all;
  EXPECT_NE(all.find("services.a.processes: unknown key \"extra\""), std::string::npos) << all;
  EXPECT_NE(all.find("services.b.processes: needs match when the service has no unit"), std::string::npos) << all;
}

TEST(ServicesConfig, ProcessesMatchIsKept) {
  LoadResult r =
      LoadString("services:\n  v:\n    processes: {expect: 1, match: '^validator( |$)'}\n", "c.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config.services[0].processes->match, "^validator( |$)");
  EXPECT_TRUE(r.config.services[0].unit.empty());
}

TEST(ServicesConfig, InvalidServiceAndUnitNames) {
  LoadResult r = LoadString("services:\n  'bad name': {}\n  ok:\n    unit: 'has space.service'\n", "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("\"bad name\" is not a valid service name"), std::string::npos) << all;
  EXPECT_NE(all.find("services.ok.unit: \"has space.service\" is not a unit name or glob"), std::string::npos) << all;
}

TEST(ServicesConfig, ProbeValidation) {
  LoadResult r = LoadString(R"(services:
  s:
    probes:
      - {name: a, type: http}
      - {name: b, type: smtp, url: 'http://x/'}
      - {name: c, type: tcp, target: 'nohost'}
      - {name: d, type: jsonrpc, url: 'ftp://x/', method: m, extract: {'1bad': /x, ok: 'noslash'}}
      - {name: a, type: tls, target: 'h:443', file: /x.pem}
      - {name: e, type: tcp, target: 'h:1', body_regex: x}
      - {type: http, url: 'http://x/'}
)",
                            "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("c.yml:4:9: services.s.probes[0]: a http probe needs url"), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.probes[1].type: expected http, tcp, jsonrpc or tls, got \"smtp\""), std::string::npos)
      << all;
  EXPECT_NE(all.find("services.s.probes[2].target: expected HOST:PORT"), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.probes[3].url: expected an http:// or https:// URL with a host, got \"ftp://x/\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("\"1bad\" is not a valid name"), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.probes[3].extract.ok: a JSON pointer"), std::string::npos) << all;
  EXPECT_NE(all.find("a tls probe needs exactly one of target"), std::string::npos) << all;
  EXPECT_NE(all.find("duplicate probe name \"a\""), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.probes[5].body_regex: not used by a tcp probe"), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.probes[6]: missing name"), std::string::npos) << all;
}

TEST(ServicesConfig, HttpJsonMatchAndJsonRpcVersion) {
  LoadResult r = LoadString(R"(services:
  s:
    probes:
      - {name: tip, type: http, url: 'http://127.0.0.1:3030/status', json_pointer: /block_tip/is_at_tip, json_equals: true}
      - {name: rpc, type: jsonrpc, url: 'http://127.0.0.1:8332/', method: getblockcount, jsonrpc_version: '1.0'}
)",
                            "c.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const auto& probes = r.config.services[0].probes;
  EXPECT_EQ(probes[0].json_pointer, "/block_tip/is_at_tip");
  EXPECT_EQ(probes[0].json_equals, "true");
  EXPECT_EQ(probes[1].jsonrpc_version, "1.0");
  EXPECT_EQ(probes[0].jsonrpc_version, "2.0");

  r = LoadString(R"(services:
  s:
    probes:
      - {name: a, type: http, url: 'http://x/', json_pointer: 'nope', extract: {v: /x}}
      - {name: b, type: http, url: 'http://x/', json_equals: 1}
      - {name: c, type: jsonrpc, url: 'http://x/', method: m, jsonrpc_version: '3.0', json_pointer: /x}
      - {name: d, type: tcp, target: 'h:1', jsonrpc_version: '2.0'}
)",
                 "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("c.yml:4:63: services.s.probes[0].json_pointer: a JSON pointer is empty or starts with"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("services.s.probes[0].extract: not used by a http probe"), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.probes[1].json_equals: needs json_pointer"), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.probes[2].jsonrpc_version: expected \"1.0\" or \"2.0\", got \"3.0\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("services.s.probes[2].json_pointer: not used by a jsonrpc probe"), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.probes[3].jsonrpc_version: not used by a tcp probe"), std::string::npos) << all;
}

TEST(RuleFilesConfig, PathsGlobsAndGlobalRuleSettings) {
  TempDir dir;
  dir.Write("b.yml", "groups: []\n");
  dir.Write("a.yml", "groups: []\n");
  dir.Write("notes.txt", "");
  std::filesystem::create_directory(dir.path() + "/rules");
  dir.Write("rules/x.yml", "groups: []\n");
  std::string config = dir.Write("vigil.yml", R"(global:
  evaluation_interval: 5s
  external_labels: {cluster: validators, host: v1}
rule_files: ['*.yml', rules/x.yml, 'a.yml', 'none/*.yml']
)");
  LoadResult r = LoadFile(config, NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config.global.evaluation_interval, Duration(5000));
  EXPECT_EQ(r.config.global.external_labels.at("cluster"), "validators");
  // Sorted per glob, duplicates dropped, relative to the config file's directory.
  EXPECT_THAT(r.config.rule_files, ::testing::ElementsAre(dir.path() + "/a.yml", dir.path() + "/b.yml",
                                                          dir.path() + "/vigil.yml", dir.path() + "/rules/x.yml"));
  EXPECT_EQ(r.config.rule_file_patterns.size(), 4u);

  r = LoadString(R"(global: {external_labels: {'bad-name': x, __reserved: y}}
rule_files: [/nonexistent/rules.yml, '/tmp/*/x.yml', 7]
)",
                 "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("global.external_labels: \"bad-name\" is not a valid label name"), std::string::npos) << all;
  EXPECT_NE(all.find("\"__reserved\" is not a valid label name"), std::string::npos) << all;
  EXPECT_NE(all.find("c.yml:2:14: rule_files[0]: cannot read /nonexistent/rules.yml: no such file"), std::string::npos)
      << all;
  EXPECT_NE(all.find("rule_files[1]: only the file name may hold a glob"), std::string::npos) << all;
}

TEST(RuleFilesConfig, BuiltinPacksAreKeptAsWrittenAndUnknownOnesNamed) {
  LoadResult r = LoadString("rule_files: [builtin:host, 'builtin:${PACK}', builtin:host]\n", "c.yml",
                            MapEnv({{"PACK", "validator"}}));
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_THAT(r.config.rule_files, ::testing::ElementsAre("builtin:host", "builtin:validator"));
  EXPECT_EQ(r.config.rule_file_patterns.size(), 3u);

  r = LoadString("rule_files:\n  - builtin:hots\n", "c.yml", NoEnv());
  EXPECT_EQ(AllProblems(r),
            "c.yml:2:5: rule_files[0]: no built-in rule pack is named builtin:hots (built-in packs: builtin:host, "
            "builtin:liveness-and-saturation, builtin:validator)\n");
}

TEST(AlertingConfig, AlertmanagerShapesAndVigilsAdditions) {
  LoadResult r = LoadString(R"(alerting:
  route:
    receiver: slack
    group_by: [alertname, service]
    routes:
      - {matchers: ['severity="critical"'], receiver: pager, group_wait: 0s, continue: true}
      - {matchers: ['severity=~"medium|low"'], receiver: slack, group_wait: 1h, group_interval: 1h}
  receivers:
    - name: pager
      pagerduty_configs: [{routing_key: '${PD_KEY}'}]
    - name: slack
      slack_configs: [{api_url: 'https://hooks.slack.com/services/T/B/X', channel: '#ops'}]
      webhook_configs: [{url: 'http://127.0.0.1:9/hook', send_resolved: false}]
  inhibit_rules:
    - {source_matchers: ['severity=critical'], target_matchers: ['severity=high'], equal: [service]}
  maintenance_windows:
    - {name: backup, weekdays: [mon-fri], times: [{start: '02:00', end: '02:30'}], location: UTC,
       matchers: ['service="bitcoind"']}
  flap: {max_changes: 4, window: 5m, stable_for: 10m}
)",
                            "c.yml", MapEnv({{"PD_KEY", "pd-secret"}}));
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  ASSERT_TRUE(r.config.alerting.has_value());
  const AlertingOptions& a = *r.config.alerting;
  EXPECT_EQ(a.route.receiver, "slack");
  ASSERT_EQ(a.route.routes.size(), 2u);
  EXPECT_EQ(a.route.routes[0].group_wait, Duration(0));
  EXPECT_TRUE(a.route.routes[0].continue_matching);
  EXPECT_EQ(a.receivers[0].pagerduty_configs[0].routing_key, "pd-secret");
  EXPECT_FALSE(a.receivers[1].webhook_configs[0].send_resolved);
  EXPECT_EQ(a.inhibit_rules[0].equal, std::vector<std::string>{"service"});
  EXPECT_EQ(a.maintenance_windows[0].times[0].end, "02:30");
  EXPECT_EQ(a.flap.max_changes, 4);
  // What the config holds builds into a working tree.
  EXPECT_TRUE(alert::Route::Build(a.route).ok());
}

TEST(AlertingConfig, ProblemsNameFileLineAndFieldButNoSecret) {
  LoadResult r = LoadString(R"(alerting:
  route:
    receiver: nobody
    routes:
      - {matchers: ['severity=~"("'], receiver: pager, group_interval: soon}
  receivers:
    - name: pager
      slack_configs: [{api_url: 'ftp://hooks.example/T0SECRET'}]
      opsgenie_configs: [{api_key: x}]
      email_configs: [{to: a@b}]
    - name: pager
  maintenance_windows:
    - {name: w, weekdays: [funday], location: Mars/Base}
  inhibit_rules:
    - {source_matchers: ['a=b']}
)",
                            "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("c.yml:3:15: alerting.route.receiver: unknown receiver \"nobody\""), std::string::npos) << all;
  EXPECT_NE(all.find("alerting.route.routes[0].matchers[0]: matcher"), std::string::npos) << all;
  EXPECT_NE(all.find("alerting.route.routes[0].group_interval"), std::string::npos) << all;
  EXPECT_NE(all.find("alerting.receivers[0].slack_configs[0].api_url: expected an http:// or https:// URL"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("unknown key \"opsgenie_configs\""), std::string::npos) << all;
  EXPECT_NE(all.find("alerting.receivers[0].email_configs[0]: missing smarthost"), std::string::npos) << all;
  EXPECT_NE(all.find("duplicate receiver \"pager\""), std::string::npos) << all;
  EXPECT_NE(all.find("c.yml:13:7: alerting.maintenance_windows[0].location: time zone \"Mars/Base\": unknown"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("alerting.inhibit_rules[0]: needs source_matchers and target_matchers"), std::string::npos) << all;
  EXPECT_EQ(all.find("T0SECRET"), std::string::npos) << all;

  r = LoadString("alerting: {receivers: []}\n", "c.yml", NoEnv());
  EXPECT_NE(AllProblems(r).find("alerting: missing route"), std::string::npos) << AllProblems(r);

  // Forwarding only: no route needed.
  r = LoadString("alerting: {alertmanagers: [{url: 'http://127.0.0.1:9093', resend_interval: 30s}]}\n", "c.yml",
                 NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config.alerting->alertmanagers[0].resend_interval, Duration(30000));
  r = LoadString("alerting: {alertmanagers: [{url: 'am:9093'}, {}]}\n", "c.yml", NoEnv());
  EXPECT_NE(AllProblems(r).find("alerting.alertmanagers[0].url: expected an http:// or https:// URL"),
            std::string::npos)
      << AllProblems(r);
  EXPECT_NE(AllProblems(r).find("alerting.alertmanagers[1]: missing url"), std::string::npos) << AllProblems(r);
}

TEST(ScrapeConfig, TargetsAndTheirProblems) {
  LoadResult r = LoadString(R"(global: {scrape_interval: 30s}
scrape:
  - {job: node, url: 'http://127.0.0.1:9100/metrics'}
  - {job: app, url: 'https://app.local/metrics', honor_labels: true, sample_limit: 5000, interval: 1m, timeout: 5s,
     user: u, password: secret}
)",
                            "c.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  ASSERT_EQ(r.config.scrape.size(), 2u);
  EXPECT_EQ(r.config.scrape[0].job, "node");
  EXPECT_EQ(r.config.scrape[0].interval, Duration(30000));
  EXPECT_EQ(r.config.scrape[0].timeout, Duration(10000));
  EXPECT_FALSE(r.config.scrape[0].honor_labels);
  EXPECT_TRUE(r.config.scrape[1].honor_labels);
  EXPECT_EQ(r.config.scrape[1].sample_limit, 5000u);
  EXPECT_EQ(r.config.scrape[1].auth.password, "secret");

  r = LoadString(R"(scrape:
  - {job: a, url: 'ftp://x/'}
  - {job: a, url: 'http://x/', password: hunter2, cookie_file: /c}
  - {url: 'http://x/', honor_labels: maybe}
  - {job: b}
)",
                 "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("c.yml:2:19: scrape[0].url: expected an http:// or https:// URL"), std::string::npos) << all;
  EXPECT_NE(all.find("scrape[1].job: duplicate job \"a\""), std::string::npos) << all;
  EXPECT_NE(all.find("scrape[1]: unknown key \"cookie_file\""), std::string::npos) << all;
  EXPECT_NE(all.find("scrape[2]: missing job"), std::string::npos) << all;
  EXPECT_NE(all.find("scrape[2].honor_labels"), std::string::npos) << all;
  EXPECT_NE(all.find("scrape[3]: missing url"), std::string::npos) << all;
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;

  r = LoadString("scrape: {job: a}\n", "c.yml", NoEnv());
  EXPECT_NE(AllProblems(r).find("c.yml:1:9: scrape: expected a list, got a mapping"), std::string::npos)
      << AllProblems(r);
}

TEST(ServicesConfig, JsonRpcParamsAndHeadersAndStatus) {
  LoadResult r = LoadString(R"(services:
  s:
    probes:
      - name: p
        type: jsonrpc
        url: 'http://127.0.0.1:9002/'
        method: getblock
        params: [1, "2", true, abc, {k: v}, null]
        headers: {X-Token: abc}
      - {name: h, type: http, url: 'https://x/', expected_status: [200, 204], tls_insecure_skip_verify: true,
         body_regex: 'ok', timeout: 2s, interval: 5s}
)",
                            "c.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const ProbeOptions& p = r.config.services[0].probes[0];
  EXPECT_EQ(p.params_json, R"([1,"2",true,"abc",{"k":"v"},null])");
  ASSERT_EQ(p.headers.size(), 1u);
  EXPECT_EQ(p.headers[0].first, "X-Token");
  const ProbeOptions& h = r.config.services[0].probes[1];
  EXPECT_EQ(h.expected_status, (std::vector<int>{200, 204}));
  EXPECT_TRUE(h.tls_insecure_skip_verify);
  EXPECT_EQ(h.timeout, Duration(2000));
  EXPECT_EQ(h.interval, Duration(5000));
}

TEST(ServicesConfig, SecretsAreNeverEchoed) {
  LoadResult r = LoadString(R"(services:
  s:
    bitcoind: {url: '${RPC_URL}', password: '${PW}'}
    probes:
      - {name: p, type: http, url: 'http://x/', headers: {Authorization: "${TOKEN}\nX"}}
)",
                            "c.yml", [](std::string_view name) -> std::optional<std::string> {
                              if (name == "RPC_URL") return std::string("not a url s3cret");
                              if (name == "PW") return std::string("hunter2");
                              if (name == "TOKEN") return std::string("tok3n");
                              return std::nullopt;
                            });
  std::string all = AllProblems(r);
  EXPECT_EQ(all.find("s3cret"), std::string::npos) << all;
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;
  EXPECT_EQ(all.find("tok3n"), std::string::npos) << all;
  EXPECT_NE(all.find("the value of ${RPC_URL} is not an http:// or https:// URL"), std::string::npos) << all;
  EXPECT_NE(all.find("services.s.bitcoind: a password needs a user"), std::string::npos) << all;
  EXPECT_NE(all.find("must not contain a line break"), std::string::npos) << all;
}

TEST(ServicesConfig, PasswordFileIsRead) {
  testing::TempDir dir;
  std::string path = dir.path() + "/pw";
  { std::ofstream(path) << "s3cret\n"; }
  LoadResult r = LoadString(
      "services:\n  b:\n    bitcoind: {url: 'http://127.0.0.1:8332/', user: u, password_file: " + path + "}\n", "c.yml",
      NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config.services[0].bitcoind->auth.password, "s3cret");
  LoadResult bad = LoadString(
      "services:\n  b:\n    bitcoind: {url: 'http://127.0.0.1:8332/', user: u, password_file: /nonexistent/pw, "
      "cookie_file: /c}\n",
      "c.yml", NoEnv());
  std::string all = AllProblems(bad);
  EXPECT_NE(all.find("services.b.bitcoind.password_file: cannot read /nonexistent/pw"), std::string::npos) << all;
  EXPECT_NE(all.find("set cookie_file or user/password, not both"), std::string::npos) << all;
}

TEST(ServicesConfig, LogRules) {
  LoadResult r = LoadString(R"(services:
  v:
    logs:
      - path: /x.log
        gauges: [{name: slot, match: 'slot \d+'}]
        states: [{name: s, on: 'up'}]
        counters: [{name: slot, match: x}]
      - {}
)",
                            "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("services.v.logs[0].gauges[0].match: needs exactly one capture group"), std::string::npos) << all;
  EXPECT_NE(all.find("services.v.logs[0].states[0].off: missing"), std::string::npos) << all;
  EXPECT_NE(all.find("duplicate rule name \"slot\""), std::string::npos) << all;
  EXPECT_NE(all.find("services.v.logs[1]: needs exactly one of path and journal_unit"), std::string::npos) << all;
}

TEST(ServicesConfig, LogRegexErrorsNameFileLineAndField) {
  LoadResult r = LoadString(R"(services:
  v:
    logs:
      - path: /x.log
        counters: [{name: errors, match: 'ERROR(('}]
        states: [{name: s, on: 'up', off: '[down'}]
        interval: 5s
        timeout: 10s
      - {path: /x.log}
      - {journal_unit: ''}
)",
                            "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("c.yml:5:42: services.v.logs[0].counters[0].match: invalid regular expression"), std::string::npos)
      << all;
  EXPECT_NE(all.find("c.yml:6:43: services.v.logs[0].states[0].off: invalid regular expression"), std::string::npos)
      << all;
  EXPECT_NE(all.find("services.v.logs[0].timeout: must not be longer than"), std::string::npos) << all;
  EXPECT_NE(all.find("services.v.logs[1]: duplicate log (path /x.log)"), std::string::npos) << all;
  EXPECT_NE(all.find("services.v.logs[2].journal_unit: must not be empty"), std::string::npos) << all;

  LoadResult ok = LoadString(
      "global: {scrape_interval: 30s}\nservices:\n  v:\n    logs: [{path: /a.log}, "
      "{path: /b.log, interval: 5s}]\n",
      "c.yml", NoEnv());
  ASSERT_TRUE(ok.ok()) << AllProblems(ok);
  EXPECT_EQ(ok.config.services[0].logs[0].interval, Duration(30000));
  EXPECT_EQ(ok.config.services[0].logs[0].timeout, Duration(10000));
  EXPECT_EQ(ok.config.services[0].logs[1].interval, Duration(5000));
  EXPECT_EQ(ok.config.services[0].logs[1].timeout, Duration(5000));
}

TEST(ServicesConfig, UpdatesAndRecovery) {
  LoadResult r = LoadString(R"(services:
  v:
    updates: {binary: validator, releases: 'https://x/latest', timeout: 7h}
    recovery: {restart: true}
)",
                            "c.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("services.v.updates.binary: must be an absolute path"), std::string::npos) << all;
  EXPECT_NE(all.find("services.v.updates.timeout: must not be longer than services.v.updates.interval"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("c.yml:4:25: services.v.recovery.restart: expected a mapping, got a scalar"), std::string::npos)
      << all;
}

// One test per kind of bad recovery setting, each placed at file:line:col.
std::string OnlyProblem(const std::string& yaml) {
  LoadResult r = LoadString(yaml, "r.yml", NoEnv());
  return r.problems.size() == 1 ? r.problems[0].ToString() : "problems: " + AllProblems(r);
}

TEST(RecoveryConfig, RestartWithDefaultsFromAnEmptyMapping) {
  LoadResult r = LoadString("services:\n  app: {unit: app.service, recovery: {restart: {}}}\n", "r.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const auto& rec = r.config.services[0].recovery;
  ASSERT_TRUE(rec && rec->restart);
  EXPECT_EQ(rec->restart->max_attempts, 3);
  EXPECT_EQ(rec->restart->window, Duration(15 * 60 * 1000));
  EXPECT_EQ(rec->restart->verify_timeout, Duration(60000));
  EXPECT_EQ(r.config.recovery.mode, RecoveryMode::kEnforce);
}

TEST(RecoveryConfig, ZeroBudgetIsAnError) {
  EXPECT_EQ(OnlyProblem("services:\n  app: {unit: app.service, recovery: {restart: {max_attempts: 0}}}\n"),
            "r.yml:2:63: services.app.recovery.restart.max_attempts: must be at least 1 (a budget of 0 would never "
            "restart; remove `restart` to turn restarts off)");
}

TEST(RecoveryConfig, VerifyTimeoutShorterThanTheCheckIntervalIsAnError) {
  std::string p = OnlyProblem(R"(services:
  app:
    unit: app.service
    probes: [{name: rpc, type: tcp, target: '127.0.0.1:1', interval: 30s, timeout: 5s}]
    recovery:
      restart: {verify_timeout: 10s}
)");
  EXPECT_NE(p.find("r.yml:6:33: services.app.recovery.restart.verify_timeout: 10s is shorter than the probe rpc "
                   "check's interval (30s)"),
            std::string::npos)
      << p;
}

TEST(RecoveryConfig, UnknownServiceAsARecoveryTargetIsAnError) {
  std::string p = OnlyProblem(R"(services:
  app:
    unit: app.service
    recovery:
      failover:
        - {env_file: /etc/app.env, key: RPC_URL, endpoints: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], restart: ap}
)");
  EXPECT_NE(p.find("r.yml:6:116: services.app.recovery.failover[0].restart: unknown service \"ap\""), std::string::npos)
      << p;
}

TEST(RecoveryConfig, UnknownServiceInDependsOnIsAnError) {
  std::string p = OnlyProblem("services:\n  app: {unit: app.service, depends_on: [db]}\n");
  EXPECT_NE(p.find("r.yml:2:41: services.app.depends_on[0]: unknown service \"db\""), std::string::npos) << p;
}

TEST(RecoveryConfig, CleanupRootOfSlashRelativeOrInsideTheDataDirIsAnError) {
  std::string yaml = R"(global: {data_dir: /var/lib/vigil}
recovery:
  cleanup:
    - {filesystem: /, roots: [/, logs, /var/lib/vigil/tsdb, /var/lib, /var/log/app]}
)";
  LoadResult r = LoadString(yaml, "r.yml", NoEnv());
  std::string all = AllProblems(r);
  ASSERT_EQ(r.problems.size(), 4u) << all;
  EXPECT_NE(all.find("r.yml:4:31: recovery.cleanup[0].roots[0]: / cannot be a cleanup root"), std::string::npos) << all;
  EXPECT_NE(all.find("r.yml:4:34: recovery.cleanup[0].roots[1]: must be an absolute path, got \"logs\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("r.yml:4:40: recovery.cleanup[0].roots[2]: overlaps vigil's own data directory"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("r.yml:4:61: recovery.cleanup[0].roots[3]: overlaps vigil's own data directory"),
            std::string::npos)
      << all;
  EXPECT_EQ(r.config.recovery.cleanup[0].roots, std::vector<std::string>{"/var/log/app"});
}

TEST(RecoveryConfig, ExecCommandMustBeAbsolute) {
  EXPECT_EQ(OnlyProblem(R"(services:
  app:
    recovery:
      exec: [{command: [restart-app.sh, --now]}]
)"),
            "r.yml:4:25: services.app.recovery.exec[0].command: the program must be an absolute path (it is run "
            "without a shell)");
}

TEST(RecoveryConfig, RestartNeedsOneUnitAndModeIsChecked) {
  LoadResult r = LoadString(R"(services:
  app: {unit: 'app@*.service', recovery: {restart: {}}}
recovery: {mode: yolo}
)",
                            "r.yml", NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("services.app.recovery.restart: needs one unit, not the glob"), std::string::npos) << all;
  EXPECT_NE(all.find("r.yml:3:18: recovery.mode: expected enforce, dry-run or off, got \"yolo\""), std::string::npos)
      << all;
}

// The receivers' secrets of deploy/validator-stack.yml, set to dummy values.
std::map<std::string, std::string> StackSecrets() {
  return {{"PAGERDUTY_ROUTING_KEY", "dummy-pd-key-0001"},
          {"TWILIO_ACCOUNT_SID", "ACdummy0002"},
          {"TWILIO_AUTH_TOKEN", "dummy-twilio-token-0003"},
          {"TWILIO_FROM", "+15550000004"},
          {"ONCALL_PHONE", "+15550000005"},
          {"SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/dummy-slack-0006"},
          {"SMTP_SMARTHOST", "smtp.example.org:587"},
          {"SMTP_USERNAME", "vigil"},
          {"SMTP_PASSWORD", "dummy-smtp-password-0007"},
          {"ALERT_EMAIL_TO", "ops@example.org"}};
}

TEST(ServicesConfig, ShippedValidatorStackExampleLoads) {
  const std::string path = std::string(VIGIL_TESTDATA_DIR) + "/../../deploy/validator-stack.yml";
  LoadResult r = LoadFile(path, MapEnv(StackSecrets()));
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  ASSERT_EQ(r.config.services.size(), 3u);
  EXPECT_EQ(r.config.services[2].unit, "arch-validator@ops.service");
  EXPECT_EQ(r.config.services[2].depends_on, std::vector<std::string>{"titan"});
  // P0/P1 page PagerDuty and Twilio at once; P2/P3 go to Slack and email as hourly digests.
  ASSERT_TRUE(r.config.alerting.has_value());
  const AlertingOptions& a = *r.config.alerting;
  ASSERT_TRUE(alert::Route::Build(a.route).ok());
  std::map<std::string, const ReceiverOptions*> by_name;
  for (const auto& rc : a.receivers) by_name[rc.name] = &rc;
  ASSERT_TRUE(by_name.count("page") && by_name.count("digest")) << a.receivers.size();
  EXPECT_EQ(by_name["page"]->pagerduty_configs.at(0).routing_key, "dummy-pd-key-0001");
  EXPECT_EQ(by_name["page"]->twilio_configs.at(0).auth_token, "dummy-twilio-token-0003");
  EXPECT_EQ(by_name["digest"]->slack_configs.at(0).api_url, "https://hooks.slack.com/services/T0/B0/dummy-slack-0006");
  EXPECT_EQ(by_name["digest"]->email_configs.at(0).auth_password, "dummy-smtp-password-0007");
  auto route = alert::Route::Build(a.route);
  auto receivers_of = [&](const char* severity) {
    std::vector<std::string> out;
    for (const alert::Route* m : (*route)->Match(Labels{{"alertname", "X"}, {"severity", severity}})) {
      out.push_back(m->receiver());
    }
    return out;
  };
  EXPECT_EQ(receivers_of("critical"), std::vector<std::string>{"page"});
  EXPECT_EQ(receivers_of("high"), std::vector<std::string>{"page"});
  EXPECT_EQ(receivers_of("medium"), std::vector<std::string>{"digest"});
  EXPECT_EQ(receivers_of("low"), std::vector<std::string>{"digest"});
  const alert::Route* digest = (*route)->Match(Labels{{"severity", "low"}})[0];
  EXPECT_EQ(digest->group_interval(), Duration(3600 * 1000));
  // Watchdog (always firing) goes to the dead man's switch, not into every digest.
  std::vector<std::string> watchdog;
  for (const alert::Route* m : (*route)->Match(Labels{{"alertname", "Watchdog"}, {"severity", "low"}})) {
    watchdog.push_back(m->receiver());
  }
  EXPECT_EQ(watchdog, std::vector<std::string>{"deadman"});
  // A stopped bitcoind pages once: ServiceDown holds back its RPC alert, not titan's.
  std::vector<alert::InhibitRule> rules;
  for (const auto& spec : a.inhibit_rules) rules.push_back(*alert::BuildInhibitRule(spec, "inhibit_rules"));
  alert::Inhibitor inhibitor(std::move(rules));
  alert::Alert down;
  down.labels = Labels{{"alertname", "ServiceDown"}, {"service", "bitcoind"}, {"severity", "critical"}};
  EXPECT_TRUE(inhibitor.Inhibited(
      Labels{{"alertname", "BitcoindDown"}, {"service", "bitcoind"}, {"severity", "critical"}}, {&down}));
  EXPECT_FALSE(
      inhibitor.Inhibited(Labels{{"alertname", "TitanDown"}, {"service", "titan"}, {"severity", "critical"}}, {&down}));
  EXPECT_FALSE(inhibitor.Inhibited(down.labels, {&down}));

  // Every secret is a variable: without one, the error names it and shows no value.
  for (const auto& [missing, unused] : StackSecrets()) {
    auto env = StackSecrets();
    env.erase(missing);
    LoadResult m = LoadFile(path, MapEnv(env));
    std::string all = AllProblems(m);
    EXPECT_NE(all.find("environment variable " + missing + " is not set"), std::string::npos) << all;
    for (const auto& [name, value] : env) EXPECT_EQ(all.find(value), std::string::npos) << name << ": " << all;
  }
}

TEST(AlertingConfig, TemplateFilesDefineWhatReceiversCall) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/tmpl");
  dir.Write("tmpl/a.tmpl",
            "{{ define \"page.title\" }}A {{ .Status }}{{ end }}\n{{ define \"page.host\" }}{{ .Host }}{{ end }}\n");
  dir.Write("tmpl/b.tmpl", "{{ define \"page.title\" }}B {{ .Status }}{{ end }}\n");
  std::string cfg = dir.Write("vigil.yml", R"(alerting:
  templates: ['tmpl/*.tmpl']
  route: {receiver: r}
  receivers:
    - name: r
      slack_configs: [{api_url: 'https://hooks.slack.com/x', title: '{{ template "page.title" . }}'}]
)");
  LoadResult r = LoadFile(cfg, NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const AlertingOptions& a = *r.config.alerting;
  EXPECT_EQ(a.template_patterns, std::vector<std::string>{dir.path() + "/tmpl/*.tmpl"});
  ASSERT_TRUE(a.template_files);
  ASSERT_EQ(a.template_files->size(), 2u);
  EXPECT_EQ((*a.template_files)[0].path, dir.path() + "/tmpl/a.tmpl");
  EXPECT_EQ(a.receivers[0].template_files, a.template_files);  // every receiver gets them

  // A name nobody defines, and a template file that does not parse (its own line:column).
  dir.Write("tmpl/c.tmpl", "{{ define \"x\" }}\n  {{ .Status \n{{ end }}\n");
  dir.Write("vigil.yml", R"(alerting:
  templates: ['tmpl/*.tmpl', tmpl/missing.tmpl]
  route: {receiver: r}
  receivers:
    - name: r
      slack_configs: [{api_url: 'https://hooks.slack.com/x', title: '{{ template "page.nope" . }}'}]
)");
  r = LoadFile(cfg, NoEnv());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find(dir.path() + "/tmpl/c.tmpl:3:1: invalid template: unexpected \"{\" in command"), std::string::npos)
      << all;
  EXPECT_NE(
      all.find("vigil.yml:2:30: alerting.templates[1]: cannot read " + dir.path() + "/tmpl/missing.tmpl: no such file"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("vigil.yml:6:69: alerting.receivers[0].slack_configs[0].title: template \"page.nope\" is not "
                     "defined (alerting.templates defines: page.host, page.title)"),
            std::string::npos)
      << all;
}

TEST(AlertingConfig, NotificationTemplatesAreCheckedAndKeptVerbatim) {
  LoadResult r = LoadString(R"(alerting:
  route: {receiver: r}
  receivers:
    - name: r
      pagerduty_configs:
        - routing_key: k
          description: '{{ .CommonLabels.service }} down on {{ .Host }}'
          details: {runbook: 'https://runbooks/{{ .CommonLabels.alertname }}'}
      slack_configs: [{api_url: 'https://hooks.slack.com/x', title: '{{ .Status }}', text: '${NOT_EXPANDED} {{ len .Alerts }}'}]
      telegram_configs: [{bot_token: t, chat_id: '1', message: '{{ .Receiver }}'}]
      discord_configs: [{webhook_url: 'https://discord.com/x', title: a, message: b}]
      twilio_configs: [{account_sid: s, auth_token: t, from: '+1', to: '+2', text: '{{ .Status }}'}]
      email_configs:
        - to: a@b
          from: c@d
          smarthost: 'e:25'
          subject: s
          text: t
          html: |
            <p>{{ .Status }}</p>
)",
                            "c.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const ReceiverOptions& rc = r.config.alerting->receivers[0];
  EXPECT_EQ(rc.pagerduty_configs[0].description, "{{ .CommonLabels.service }} down on {{ .Host }}");
  EXPECT_EQ(rc.pagerduty_configs[0].details.at("runbook"), "https://runbooks/{{ .CommonLabels.alertname }}");
  // No ${VAR} expansion in templates: a rendered message must never hold a secret.
  EXPECT_EQ(rc.slack_configs[0].text, "${NOT_EXPANDED} {{ len .Alerts }}");
  EXPECT_EQ(rc.slack_configs[0].title, "{{ .Status }}");
  EXPECT_EQ(rc.telegram_configs[0].message, "{{ .Receiver }}");
  EXPECT_EQ(rc.discord_configs[0].message, "b");
  EXPECT_EQ(rc.twilio_configs[0].text, "{{ .Status }}");
  EXPECT_EQ(rc.email_configs[0].html, "<p>{{ .Status }}</p>\n");

  r = LoadString(R"(alerting:
  route: {receiver: r}
  receivers:
    - name: r
      slack_configs: [{api_url: 'https://hooks.slack.com/x', text: '{{ .Status '}]
      pagerduty_configs: [{routing_key: k, details: {a: '{{ end }}'}}]
      email_configs: [{to: a, from: b, smarthost: 'c:25', subject: [x]}]
      telegram_configs:
        - bot_token: t
          chat_id: '1'
          message: |
            first line
              {{ .Status | nosuch }}
      discord_configs: [{webhook_url: 'https://discord.com/x', title: "\t{{ end }}"}]
)",
                 "c.yml", NoEnv());
  std::string all = AllProblems(r);
  // The problem lies where the template's error is in the file: a one-line value...
  EXPECT_NE(all.find("c.yml:5:69: alerting.receivers[0].slack_configs[0].text: invalid template: unclosed action\n"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("c.yml:6:58: alerting.receivers[0].pagerduty_configs[0].details.a: invalid template: "
                     "unexpected {{end}}\n"),
            std::string::npos)
      << all;
  // ...a literal block (its second line)...
  EXPECT_NE(all.find("c.yml:13:28: alerting.receivers[0].telegram_configs[0].message: invalid template: function "
                     "\"nosuch\" not defined\n"),
            std::string::npos)
      << all;
  // ...else at the value, with the template's own line:column.
  EXPECT_NE(all.find("c.yml:14:71: alerting.receivers[0].discord_configs[0].title: invalid template: 1:2: unexpected "
                     "{{end}} (line:column within the template)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("alerting.receivers[0].email_configs[0].subject: expected a template string, got a list"),
            std::string::npos)
      << all;
  EXPECT_EQ(r.problems.size(), 5u) << all;
}

}  // namespace
}  // namespace vigil::config

namespace vigil::config {
namespace {

TEST(Config, AlertingSeveritiesExtendTheDefaultMap) {
  LoadResult r = LoadString(R"(alerting:
  route: {receiver: r}
  receivers: [{name: r}]
  severities: {disaster: P0, warning: P1, notice: p3}
)",
                            "c.yml", MapEnv({}));
  ASSERT_TRUE(r.ok()) << Problems(r);
  const SeverityMap& m = r.config.alerting->severities;
  EXPECT_EQ(m.Of("disaster"), Priority::kP0);
  EXPECT_EQ(m.Of("warning"), Priority::kP1);  // replaced
  EXPECT_EQ(m.Of("notice"), Priority::kP3);
  EXPECT_EQ(m.Of("page"), Priority::kP0);  // defaults stay
  EXPECT_EQ(m.Of("minor"), Priority::kP2);
  EXPECT_EQ(m.Of("whatever"), SeverityMap::kUnmapped);
  EXPECT_EQ(r.config.alerting->receivers.size(), 1u);

  r = LoadString("alerting:\n  route: {receiver: r}\n  receivers: [{name: r}]\n  severities: {warning: urgent}\n",
                 "c.yml", MapEnv({}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].ToString(),
            "c.yml:4:25: alerting.severities.warning: expected P0, P1, P2 or P3, got \"urgent\"");
}

std::string WebProblems(const WebConfigResult& r) {
  std::string out;
  for (const auto& p : r.problems) out += p.ToString() + "\n";
  return out;
}

constexpr std::string_view kHash = "$2y$10$X9R1MkpsVDhiXrrQoy3QIeHZ8Lvve0q8CnjtR0fmR9XCuABSOEVGy";

TEST(WebConfig, ReadsTheExporterToolkitShape) {
  TempDir dir;
  std::ofstream(dir.path() + "/cert.pem") << "x";
  std::ofstream(dir.path() + "/key.pem") << "x";
  std::ofstream(dir.path() + "/web.yml") << "tls_server_config:\n"
                                            "  cert_file: cert.pem\n"
                                            "  key_file: "
                                         << dir.path()
                                         << "/key.pem\n"
                                            "  min_version: TLS13\n"
                                            "http_server_config:\n"
                                            "  http2: false\n"
                                            "  headers:\n"
                                            "    strict-transport-security: max-age=31536000\n"
                                            "basic_auth_users:\n"
                                            "  zoe: "
                                         << kHash
                                         << "\n"
                                            "  alice: "
                                         << kHash
                                         << "\n"
                                            "read_access: open\n";
  WebConfigResult r = LoadWebConfigFile(dir.path() + "/web.yml");
  ASSERT_TRUE(r.ok()) << WebProblems(r);
  ASSERT_TRUE(r.config.tls);
  EXPECT_EQ(r.config.tls->cert_file, dir.path() + "/cert.pem");  // relative to the file
  EXPECT_EQ(r.config.tls->key_file, dir.path() + "/key.pem");
  EXPECT_EQ(r.config.tls->min_version, "TLS13");
  EXPECT_EQ(r.config.tls->client_auth_type, "NoClientCert");
  ASSERT_EQ(r.config.basic_auth_users.size(), 2u);
  EXPECT_EQ(r.config.basic_auth_users[0].first, "alice");
  EXPECT_FALSE(r.config.protect_reads);
  ASSERT_EQ(r.config.headers.size(), 1u);
  EXPECT_EQ(r.config.headers[0].first, "Strict-Transport-Security");
}

TEST(WebConfig, EmptyFileMeansPlainHttpWithoutAccounts) {
  WebConfigResult r = LoadWebConfigString("", "web.yml");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.config.tls);
  EXPECT_TRUE(r.config.basic_auth_users.empty());
}

TEST(WebConfig, EveryProblemNamesItsLineAndNeverEchoesAHash) {
  WebConfigResult r = LoadWebConfigString(
      "tls_server_config:\n"
      "  cert_file: /nonexistent/cert.pem\n"
      "  client_auth_type: Sometimes\n"
      "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"
      "http_server_config:\n"
      "  headers:\n"
      "    Content-Length: '0'\n"
      "basic_auth_users:\n"
      "  bob: $2y$10$tooShortToBeAHashButSecretish\n"
      "  'a:b': " +
          std::string(kHash) +
          "\n"
          "read_access: sometimes\n"
          "tls_config: {}\n",
      "web.yml");
  std::string p = WebProblems(r);
  EXPECT_THAT(p, ::testing::HasSubstr(
                     "web.yml:2:14: tls_server_config.cert_file: \"/nonexistent/cert.pem\" is not a readable file"));
  EXPECT_THAT(p, ::testing::HasSubstr("web.yml:3:21: tls_server_config.client_auth_type: expected NoClientCert"));
  EXPECT_THAT(p, ::testing::HasSubstr("web.yml:4:18: tls_server_config.cipher_suites: not supported"));
  EXPECT_THAT(p, ::testing::HasSubstr("cert_file and key_file must be given together"));
  EXPECT_THAT(p, ::testing::HasSubstr("web.yml:7:5: http_server_config.headers: \"Content-Length\" cannot be set"));
  EXPECT_THAT(p, ::testing::HasSubstr("web.yml:9:8: basic_auth_users.bob: not a bcrypt hash"));
  EXPECT_THAT(p, ::testing::HasSubstr("web.yml:10:3: basic_auth_users: a user name must be non-empty and without ':'"));
  EXPECT_THAT(p, ::testing::HasSubstr("web.yml:11:14: read_access: expected open or authenticated"));
  EXPECT_THAT(p, ::testing::HasSubstr("web.yml:12:1: unknown key \"tls_config\""));
  EXPECT_THAT(p, ::testing::Not(::testing::HasSubstr("tooShort")));
}

TEST(WebConfig, UnreadableFileSaysWhy) {
  WebConfigResult r = LoadWebConfigFile("/nonexistent/web.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(WebProblems(r), ::testing::HasSubstr("/nonexistent/web.yml: cannot read web config"));
}

TEST(SlaConfig, ObjectiveWindowAndMaintenanceWindows) {
  LoadResult r = LoadString(R"(services:
  validator:
    unit: arch-validator@ops.service
    slo: {objective: 99.9%, window: 7d}
    maintenance_windows:
      - {name: upgrade, start: '2026-12-06T18:00:00Z', end: '2026-12-06T19:30:00Z'}
      - {name: nightly, weekdays: [mon-fri], times: [{start: '02:00', end: '02:30'}], location: UTC}
  bitcoind: {unit: bitcoind.service, slo: {objective: 0.99}}
)",
                            "c.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const ServiceOptions& v = r.config.services[0];
  ASSERT_TRUE(v.slo.has_value());
  EXPECT_DOUBLE_EQ(v.slo->objective, 0.999);
  EXPECT_EQ(v.slo->window, Duration(7LL * 24 * 3600 * 1000));
  ASSERT_EQ(v.maintenance_windows.size(), 2u);
  EXPECT_EQ(v.maintenance_windows[0].name, "upgrade");
  EXPECT_EQ(v.maintenance_windows[0].start_ms, 1796580000000);
  EXPECT_EQ(v.maintenance_windows[0].end_ms, 1796580000000 + 90 * 60 * 1000);
  EXPECT_FALSE(v.maintenance_windows[0].weekly.has_value());
  ASSERT_TRUE(v.maintenance_windows[1].weekly.has_value());
  EXPECT_EQ(v.maintenance_windows[1].name, "nightly");
  EXPECT_EQ(v.maintenance_windows[1].weekly->times[0].end, "02:30");
  const ServiceOptions& b = r.config.services[1];
  EXPECT_DOUBLE_EQ(b.slo->objective, 0.99);
  EXPECT_EQ(b.slo->window, Duration(30LL * 24 * 3600 * 1000));  // the default
}

TEST(DataDirsConfig, PathsOrMapsWithTheirTiming) {
  LoadResult r = LoadString(R"(services:
  bitcoind:
    unit: bitcoind.service
    data_dirs: [/mnt/chain/bitcoin, {path: /mnt/chain/index, interval: 15m, timeout: 2m}]
)",
                            "c.yml", NoEnv());
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const auto& d = r.config.services[0].data_dirs;
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].path, "/mnt/chain/bitcoin");
  EXPECT_EQ(d[0].interval, Duration(5 * 60 * 1000));  // the defaults
  EXPECT_EQ(d[0].timeout, Duration(60 * 1000));
  EXPECT_EQ(d[1].path, "/mnt/chain/index");
  EXPECT_EQ(d[1].interval, Duration(15 * 60 * 1000));
  EXPECT_EQ(d[1].timeout, Duration(2 * 60 * 1000));
}

// One test per kind of bad data_dirs entry, each placed at file:line:col and field.
TEST(DataDirsConfig, BadEntriesSayWhereAndWhy) {
  EXPECT_EQ(OnlyProblem("services:\n  a: {data_dirs: [chain]}\n"),
            "r.yml:2:19: services.a.data_dirs[0]: must be an absolute path, got \"chain\"");
  EXPECT_EQ(OnlyProblem("services:\n  a: {data_dirs: /chain}\n"),
            "r.yml:2:18: services.a.data_dirs: expected a list, got a scalar");
  EXPECT_EQ(OnlyProblem("services:\n  a: {data_dirs: [/c, /c]}\n"),
            "r.yml:2:23: services.a.data_dirs[1]: duplicate data_dir \"/c\"");
  EXPECT_EQ(OnlyProblem("services:\n  a: {data_dirs: [{interval: 1m}]}\n"),
            "r.yml:2:19: services.a.data_dirs[0]: missing path");
  EXPECT_EQ(OnlyProblem("services:\n  a: {data_dirs: [{path: /c, pth: /d}]}\n"),
            "r.yml:2:30: services.a.data_dirs[0]: unknown key \"pth\" (known keys: interval, path, timeout)");
  EXPECT_EQ(OnlyProblem("services:\n  a: {data_dirs: [{path: /c, interval: 1m, timeout: 2m}]}\n"),
            "r.yml:2:53: services.a.data_dirs[0].timeout: must not be longer than services.a.data_dirs[0].interval");
}

// One test per kind of bad SLA setting, each placed at file:line:col and field.
TEST(SlaConfig, BadSettingsSayWhereAndWhy) {
  EXPECT_EQ(OnlyProblem("services:\n  a: {unit: a.service, slo: {objective: 100%}}\n"),
            "r.yml:2:41: services.a.slo.objective: expected a share between 0 and 1 or a percentage (e.g. 10%), got "
            "\"100%\"");
  EXPECT_EQ(OnlyProblem("services:\n  a: {unit: a.service, slo: {window: 30d}}\n"),
            "r.yml:2:29: services.a.slo: missing objective (e.g. 99.9%)");
  EXPECT_EQ(OnlyProblem("services:\n  a: {unit: a.service, slo: {objective: 99%, window: 0s}}\n"),
            "r.yml:2:54: services.a.slo.window: must be greater than zero");
  EXPECT_EQ(OnlyProblem("services:\n  a: {unit: a.service, slo: {objective: 99%, windw: 1d}}\n"),
            "r.yml:2:46: services.a.slo: unknown key \"windw\" (known keys: objective, window)");
  EXPECT_EQ(OnlyProblem("services:\n  a: {processes: {match: a}, slo: {objective: 99%}}\n"),
            "r.yml:2:35: services.a.slo: needs the service's unit (availability is its unit's state)");
  EXPECT_EQ(OnlyProblem("services:\n  a:\n    unit: a.service\n    maintenance_windows:\n"
                        "      - {start: '2026-12-06T18:00:00Z', end: '2026-12-06T17:00:00Z'}\n"),
            "r.yml:5:46: services.a.maintenance_windows[0].end: must be after start");
  EXPECT_EQ(OnlyProblem("services:\n  a:\n    unit: a.service\n    maintenance_windows:\n"
                        "      - {start: 'tomorrow', end: '2026-12-06T17:00:00Z'}\n"),
            "r.yml:5:17: services.a.maintenance_windows[0].start: " + ParseTime("tomorrow").status().message());
  EXPECT_EQ(OnlyProblem("services:\n  a:\n    unit: a.service\n    maintenance_windows:\n"
                        "      - {start: '2026-12-06T18:00:00Z'}\n"),
            "r.yml:5:9: services.a.maintenance_windows[0]: missing end (a time such as 2026-12-06T18:00:00Z)");
  EXPECT_EQ(OnlyProblem("services:\n  a:\n    unit: a.service\n    maintenance_windows:\n"
                        "      - {start: '2026-12-06T18:00:00Z', end: '2026-12-06T19:00:00Z', weekdays: [mon]}\n"),
            "r.yml:5:80: services.a.maintenance_windows[0].weekdays: a window is either one-off (start, end) or "
            "weekly (weekdays, times), not both");
  std::string weekly = OnlyProblem(
      "services:\n  a:\n    unit: a.service\n    maintenance_windows:\n"
      "      - {weekdays: [funday]}\n");
  EXPECT_NE(weekly.find("r.yml:5:9: services.a.maintenance_windows[0].weekdays"), std::string::npos) << weekly;
  EXPECT_EQ(OnlyProblem("services:\n  a: {unit: a.service, maintenance_windows: {start: x}}\n"),
            "r.yml:2:45: services.a.maintenance_windows: expected a list, got a mapping");
}

}  // namespace
}  // namespace vigil::config

namespace vigil::config {
namespace {

TEST(Config, ReportsDigest) {
  LoadResult ok = LoadString("reports:\n  digest: {schedule: 'fri 17:30', timezone: '+05:30', severity: info}\n",
                             "vigil.yml", MapEnv({}));
  ASSERT_TRUE(ok.ok()) << ok.problems[0].ToString();
  ASSERT_TRUE(ok.config.reports.digest.has_value());
  EXPECT_EQ(ok.config.reports.digest->weekday, 5);
  EXPECT_EQ(ok.config.reports.digest->minute_of_day, 17 * 60 + 30);
  EXPECT_EQ(ok.config.reports.digest->timezone, "+05:30");
  EXPECT_EQ(ok.config.reports.digest->severity, "info");
  LoadResult defaults = LoadString("reports: {digest: {}}\n", "vigil.yml", MapEnv({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.config.reports.digest->schedule, "Mon 09:00");
  EXPECT_FALSE(LoadString("", "vigil.yml", MapEnv({})).config.reports.digest.has_value());

  LoadResult bad = LoadString(
      "reports:\n  digest:\n    schedule: 'Monday 9am'\n    timezone: Mars/Olympus\n    severity: ''\n    when: x\n",
      "vigil.yml", MapEnv({}));
  ASSERT_EQ(bad.problems.size(), 4u);
  EXPECT_NE(bad.problems[0].ToString().find("vigil.yml:3:"), std::string::npos) << bad.problems[0].ToString();
  EXPECT_NE(bad.problems[0].message.find("reports.digest.schedule: expected a weekday and a 24-hour time like "
                                         "\"Mon 09:00\", got \"Monday 9am\""),
            std::string::npos)
      << bad.problems[0].message;
  EXPECT_NE(bad.problems[1].ToString().find("vigil.yml:4:"), std::string::npos) << bad.problems[1].ToString();
  EXPECT_NE(bad.problems[1].message.find("reports.digest.timezone"), std::string::npos) << bad.problems[1].message;
  EXPECT_NE(bad.problems[2].message.find("reports.digest.severity: must not be empty"), std::string::npos)
      << bad.problems[2].message;
  EXPECT_NE(bad.problems[3].message.find("unknown key \"when\""), std::string::npos) << bad.problems[3].message;
}

}  // namespace
}  // namespace vigil::config
