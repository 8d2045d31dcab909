#include "init/init.h"

#include <gtest/gtest.h>

#include <map>

#include "config/config.h"

namespace vigil::init {
namespace {

using Files = std::map<std::string, std::string>;

FileReader Reader(const Files& files) {
  return [&files](const std::string& path) -> Result<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return Status::Error("No such file or directory");
    return it->second;
  };
}

bool Has(const std::vector<std::string>& notes, std::string_view part) {
  for (const auto& n : notes) {
    if (n.find(part) != std::string::npos) return true;
  }
  return false;
}

Host Alice() {
  Host h;
  h.user = "alice";
  h.home = "/home/alice";
  h.units = {
      {"arch-bitcoind@alice.service",
       "loaded",
       "/etc/systemd/system/arch-bitcoind@.service",
       "",
       {"/usr/local/bin/bitcoind", "-datadir=${BTC_DIR}", "-server"},
       {},
       {"/home/alice/bitcoind.env"},
       "~"},
      {"arch-titan@alice.service",
       "loaded",
       "/etc/systemd/system/arch-titan@.service",
       "",
       {"/usr/local/bin/titan", "--http-listen", "0.0.0.0:${TITAN_PORT}", "--data-dir", "titan-data"},
       {"TITAN_PORT=3131"},
       {},
       "/home/alice"},
      {"arch-validator@alice.service",
       "loaded",
       "/etc/systemd/system/arch-validator@.service",
       "",
       {"/bin/bash", "-lc", "source /home/alice/.envrc && exec /usr/local/bin/validator --rpc-bind-port $RPC_PORT"},
       {},
       {},
       "/home/alice"},
  };
  return h;
}

TEST(InitEnvFile, ExportQuotesAndComments) {
  EnvFileFacts f = ParseEnvFileFacts("/e.env",
                                     "# comment\n"
                                     "export RPC_PORT=9100\n"
                                     "NAME='single $NOT'   # trailing comment\n"
                                     "GREETING=\"hi $NAME\"\n"
                                     "\n");
  EXPECT_TRUE(f.problems.empty());
  EXPECT_EQ(f.vars["RPC_PORT"], "9100");
  EXPECT_EQ(f.vars["NAME"], "single $NOT");
  EXPECT_EQ(f.vars["GREETING"], "hi single $NOT");
  EXPECT_EQ(f.export_keys, std::vector<std::string>{"RPC_PORT"});
}

TEST(InitEnvFile, ProblemsNameFileAndLine) {
  EnvFileFacts f = ParseEnvFileFacts("/home/alice/.envrc", "A=1\nnot an assignment\nB=\"open\n");
  ASSERT_EQ(f.problems.size(), 2u);
  EXPECT_EQ(f.problems[0], "/home/alice/.envrc:2: expected \"=\" after not");
  EXPECT_EQ(f.problems[1], "/home/alice/.envrc:3: unterminated double quote in value of B");
}

TEST(InitCommandLine, FlagValueForms) {
  std::vector<std::string> argv{"bitcoind", "-datadir=/d", "--rpcport=1", "-rpcport=2", "--http-listen", "h:3"};
  EXPECT_EQ(FlagValue(argv, {"-datadir"}), "/d");
  EXPECT_EQ(FlagValue(argv, {"-rpcport"}), "2");  // the last one wins
  EXPECT_EQ(FlagValue(argv, {"--http-listen"}), "h:3");
  EXPECT_EQ(FlagValue(argv, {"-conf"}), std::nullopt);
  EXPECT_EQ(FlagValue({"x", "--rpc-bind-port"}, {"--rpc-bind-port"}), std::nullopt);  // no value follows
  EXPECT_TRUE(FlagSet({"bitcoind", "-testnet"}, "-testnet"));
  EXPECT_TRUE(FlagSet({"bitcoind", "--regtest=1"}, "-regtest"));
  EXPECT_FALSE(FlagSet({"bitcoind", "-testnet=0"}, "-testnet"));
  EXPECT_FALSE(FlagSet({"bitcoind", "-testnet", "-notestnet"}, "-testnet"));
}

TEST(InitCommandLine, ShellScriptIsUnwrapped) {
  Command c = EffectiveCommand({"/bin/sh", "-c",
                                "set -e; cd ~/arch && . ./.envrc && export X=1 && "
                                "exec ./validator --rpc-bind-port \"$PORT\" >> /var/log/v.log 2>&1"});
  EXPECT_EQ(c.problem, "");
  EXPECT_EQ(c.argv, (std::vector<std::string>{"./validator", "--rpc-bind-port", "$PORT"}));
  EXPECT_EQ(c.sourced_files, std::vector<std::string>{"./.envrc"});
  EXPECT_EQ(c.cd, "~/arch");
  EXPECT_EQ(c.assignments.at("X"), "1");
  EXPECT_EQ(c.stdout_file, "/var/log/v.log");

  Command plain = EffectiveCommand({"/usr/bin/titan", "--http-listen", "127.0.0.1:3030"});
  EXPECT_EQ(plain.argv.size(), 3u);
  EXPECT_FALSE(EffectiveCommand({"/bin/sh", "-c", "exec x 'open"}).problem.empty());
}

TEST(InitCommandLine, ShellWordsOperators) {
  auto w = ShellWords("a 'b c'\"d\"|e 2>&1 >f;g&&h # comment");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<std::string>{"a", "b cd", "|", "e", "2>&1", ">", "f", ";", "g", "&&", "h"}));
}

TEST(InitCommandLine, ExpandVars) {
  std::vector<std::string> unset;
  EXPECT_EQ(ExpandVars("${A}:$B:${C:-c}:$D", {{"A", "a"}, {"B", "b"}}, &unset), "a:b:c:");
  EXPECT_EQ(unset, std::vector<std::string>{"D"});
}

TEST(InitBitcoinConf, SectionsAndProblems) {
  BitcoinConf c = ParseBitcoinConf("/b.conf", "rpcport=1 # x\ntestnet\n[test]\nrpcport=2\nmain.rpcuser=u\n[bad\n");
  EXPECT_EQ(c.top["rpcport"], "1");
  EXPECT_EQ(c.top["testnet"], "1");
  EXPECT_EQ(c.sections["test"]["rpcport"], "2");
  EXPECT_EQ(c.sections["main"]["rpcuser"], "u");
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0], "/b.conf:6: a section header must end with \"]\"");
}

TEST(InitUnitFile, StandardOutputFile) {
  EXPECT_EQ(StandardOutputFile("[Service]\nStandardOutput=append:/home/a/logs/validator.log\n"),
            "/home/a/logs/validator.log");
  EXPECT_EQ(StandardOutputFile("[Service]\nStandardOutput=journal\n"), "");
  EXPECT_EQ(StandardOutputFile("[Unit]\nStandardOutput=file:/x\n"), "");
}

TEST(InitRender, FindsPortsCookieAndLogs) {
  Files files = {
      {"/home/alice/bitcoind.env", "BTC_DIR=/data/btc\n"},
      {"/data/btc/bitcoin.conf", "server=1\nrpcport=8400\n"},
      {"/home/alice/.envrc", "export RPC_PORT=9100\nexport LOG_DIR=/home/alice/logs\n"},
  };
  Output out = RenderArchValidator(Alice(), Reader(files));
  const std::string& y = out.yaml;
  EXPECT_NE(y.find("unit: 'arch-bitcoind@alice.service'"), std::string::npos) << y;
  EXPECT_NE(y.find("url: 'http://127.0.0.1:8400/'   # rpcport= in /data/btc/bitcoin.conf"), std::string::npos) << y;
  EXPECT_NE(y.find("cookie_file: '/data/btc/.cookie'"), std::string::npos) << y;
  EXPECT_NE(y.find("url: 'http://127.0.0.1:3131'   # --http-listen in ExecStart= of arch-titan@alice.service; "
                   "$TITAN_PORT from Environment= of arch-titan@alice.service"),
            std::string::npos)
      << y;
  EXPECT_NE(y.find("cookie_file: '/data/btc/.cookie'   # <datadir>/.cookie; datadir: -datadir in ExecStart= of "
                   "arch-bitcoind@alice.service; $BTC_DIR from /home/alice/bitcoind.env"),
            std::string::npos)
      << y;
  EXPECT_NE(y.find("    data_dirs: ['/data/btc']   # the chain's data (datadir: -datadir in ExecStart= of "
                   "arch-bitcoind@alice.service; $BTC_DIR from /home/alice/bitcoind.env; chain main)"),
            std::string::npos)
      << y;
  EXPECT_NE(y.find("depends_on: [bitcoind]"), std::string::npos) << y;
  EXPECT_NE(y.find("url: 'http://127.0.0.1:9100/'   # --rpc-bind-port in ExecStart= of arch-validator@alice.service; "
                   "$RPC_PORT from /home/alice/.envrc"),
            std::string::npos)
      << y;
  EXPECT_NE(y.find("- path: '/home/alice/logs/validator.log'   # LOG_DIR in /home/alice/.envrc"), std::string::npos)
      << y;
  EXPECT_NE(y.find("bus: system"), std::string::npos);

  config::LoadResult loaded =
      config::LoadString(y, "init.yml", [](std::string_view name) -> std::optional<std::string> {
        if (name == "HOME") return "/home/alice";
        return std::nullopt;
      });
  EXPECT_TRUE(loaded.ok()) << (loaded.problems.empty() ? "" : loaded.problems[0].ToString()) << "\n" << y;
}

TEST(InitRender, NotFoundIsCommentedOutWithTheReason) {
  Host h = Alice();
  h.units.erase(h.units.begin() + 1);  // no titan
  h.units[0].exec_start = {"/usr/local/bin/bitcoind"};
  h.units[0].environment_files = {"/home/alice/missing.env"};
  h.units[1].exec_start = {"/usr/local/bin/validator"};
  Output out = RenderArchValidator(h, Reader({}));
  const std::string& y = out.yaml;
  EXPECT_NE(y.find("  # titan:\n  #   unit: arch-titan@alice.service   # not found: no unit arch-titan@alice.service "
                   "on the system bus"),
            std::string::npos)
      << y;
  EXPECT_NE(y.find("# depends_on: [titan]   # not found"), std::string::npos) << y;
  EXPECT_NE(y.find("url: 'http://127.0.0.1:8332/'   # bitcoind's default for main: no -rpcport in ExecStart= and no "
                   "rpcport= in /home/alice/.bitcoin/bitcoin.conf (not readable)"),
            std::string::npos)
      << y;
  EXPECT_NE(y.find("    # logs:\n    #   - path: '/home/alice/logs/validator.log'   # not found: no "
                   "StandardOutput=append:"),
            std::string::npos)
      << y;
  EXPECT_TRUE(Has(out.notes,
                  "EnvironmentFile=/home/alice/missing.env: cannot read it: No such file or directory "
                  "(systemd refuses to start the unit without it)"));
  config::LoadResult loaded = config::LoadString(y, "init.yml", [](std::string_view) { return std::nullopt; });
  EXPECT_TRUE(loaded.ok()) << (loaded.problems.empty() ? "" : loaded.problems[0].ToString()) << "\n" << y;
}

TEST(InitRender, BracedVariableInAShellScriptIsSystemdsToExpand) {
  Host h = Alice();
  h.units[2].exec_start = {"/bin/sh", "-c", ". /home/alice/.envrc; exec validator --rpc-bind-port ${RPC_PORT}"};
  Output out = RenderArchValidator(h, Reader({{"/home/alice/.envrc", "export RPC_PORT=9100\n"}}));
  EXPECT_TRUE(Has(out.notes, "write $${RPC_PORT} to leave it to the shell"));
  // $RPC_PORT inside a word is left to the shell by systemd: no note.
  h.units[2].exec_start = {"/bin/sh", "-c", ". /home/alice/.envrc; exec validator --rpc-bind-port $RPC_PORT"};
  out = RenderArchValidator(h, Reader({{"/home/alice/.envrc", "export RPC_PORT=9100\n"}}));
  EXPECT_FALSE(Has(out.notes, "RPC_PORT"));
  EXPECT_NE(out.yaml.find("'http://127.0.0.1:9100/'"), std::string::npos);
}

TEST(InitRender, MalformedUnitSaysWhy) {
  Host h = Alice();
  h.units[1].load_state = "bad-setting";
  h.units[1].load_error = "Unit arch-titan@alice.service has a bad unit file setting.";
  Output out = RenderArchValidator(h, Reader({}));
  EXPECT_NE(out.yaml.find("  # titan:\n  #   unit: arch-titan@alice.service   # not used: arch-titan@alice.service is "
                          "bad-setting in /etc/systemd/system/arch-titan@.service: Unit arch-titan@alice.service has a "
                          "bad unit file setting."),
            std::string::npos)
      << out.yaml;
  EXPECT_TRUE(Has(out.notes, "is bad-setting"));
}

TEST(InitRender, ExportLinesInEnvironmentFileAreIgnoredLikeSystemd) {
  Host h = Alice();
  h.units[0].environment_files = {"/home/alice/bitcoind.env"};
  Output out = RenderArchValidator(h, Reader({{"/home/alice/bitcoind.env", "export BTC_DIR=/data/btc\n"}}));
  EXPECT_TRUE(Has(out.notes, "sets BTC_DIR with `export`, which systemd ignores")) << out.notes.size();
  EXPECT_TRUE(Has(out.notes, "ExecStart= uses $BTC_DIR"));
}

TEST(InitRender, PasswordsAreNeverWrittenInline) {
  Host h = Alice();
  h.units[0].exec_start = {"/usr/local/bin/bitcoind", "-testnet", "-rpcuser=arch", "-rpcpassword=${RPC_PASS}"};
  Files files = {{"/home/alice/bitcoind.env", "RPC_PASS=hunter2secret\n"}};
  Output out = RenderArchValidator(h, Reader(files));
  EXPECT_EQ(out.yaml.find("hunter2secret"), std::string::npos) << out.yaml;
  EXPECT_NE(out.yaml.find("password: '${RPC_PASS}'"), std::string::npos) << out.yaml;
  EXPECT_NE(out.yaml.find("env_files:"), std::string::npos);
  EXPECT_NE(out.yaml.find("'http://127.0.0.1:18332/'"), std::string::npos);  // testnet's port
  for (const auto& n : out.notes) EXPECT_EQ(n.find("hunter2secret"), std::string::npos) << n;

  // Inline in bitcoin.conf: commented out, pointing at a password file.
  h.units[0].exec_start = {"/usr/local/bin/bitcoind"};
  Files conf = {{"/home/alice/.bitcoin/bitcoin.conf", "rpcuser=arch\nrpcpassword=inlinesecret\n"}};
  Output inline_out = RenderArchValidator(h, Reader(conf));
  EXPECT_EQ(inline_out.yaml.find("inlinesecret"), std::string::npos) << inline_out.yaml;
  EXPECT_NE(inline_out.yaml.find("# password_file: /etc/vigil/bitcoind-rpc.pass   # not found: rpcpassword is set "
                                 "inline"),
            std::string::npos)
      << inline_out.yaml;
  EXPECT_NE(inline_out.yaml.find("      # user: 'arch'"), std::string::npos) << inline_out.yaml;
}

TEST(InitRender, DollarsFromFilesAreNotVariablesForVigil) {
  Host h = Alice();
  h.units[0].exec_start = {"/usr/local/bin/bitcoind", "-datadir=/data/$${NOT_A_VAR}", "-rpcuser=a$b"};
  Output out = RenderArchValidator(h, Reader({}));
  EXPECT_NE(out.yaml.find("cookie_file: '/data/$${NOT_A_VAR}/.cookie'"), std::string::npos) << out.yaml;
  config::LoadResult loaded = config::LoadString(out.yaml, "init.yml", [](std::string_view) { return std::nullopt; });
  EXPECT_TRUE(loaded.ok()) << (loaded.problems.empty() ? "" : loaded.problems[0].ToString()) << "\n" << out.yaml;
}

// Found by init_fuzz: an empty -datadir= wrote data_dirs: [''], which the config refuses.
TEST(InitRender, EmptyDatadirIsBitcoindsDefault) {
  Host h = Alice();
  h.units[0].exec_start = {"/usr/local/bin/bitcoind", "-datadir=", "-testnet"};
  Files conf = {{"/home/alice/.bitcoin/bitcoin.conf", "datadir=\n"}};
  Output out = RenderArchValidator(h, Reader(conf));
  EXPECT_NE(out.yaml.find("data_dirs: ['/home/alice/.bitcoin/testnet3']   # the chain's data (datadir: bitcoind's "
                          "default (-datadir is empty in ExecStart= of arch-bitcoind@alice.service)"),
            std::string::npos)
      << out.yaml;
  config::LoadResult loaded = config::LoadString(out.yaml, "init.yml", [](std::string_view) { return std::nullopt; });
  EXPECT_TRUE(loaded.ok()) << (loaded.problems.empty() ? "" : loaded.problems[0].ToString()) << "\n" << out.yaml;
}

TEST(InitRender, UserBusAndOtherUnits) {
  Host h = Alice();
  h.user_bus = true;
  h.units.push_back({"arch-electrs@alice.service", "loaded", "", "", {"/usr/bin/electrs"}, {}, {}, ""});
  Output out = RenderArchValidator(h, Reader({}));
  EXPECT_NE(out.yaml.find("bus: user"), std::string::npos);
  EXPECT_NE(
      out.yaml.find("  electrs:   # no module for it: its unit state only\n    unit: 'arch-electrs@alice.service'"),
      std::string::npos)
      << out.yaml;
}

}  // namespace
}  // namespace vigil::init
