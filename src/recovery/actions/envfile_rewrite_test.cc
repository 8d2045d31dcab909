#include "recovery/actions/envfile_rewrite.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "config/env.h"
#include "recovery/actions/exec.h"

namespace vigil::recovery {
namespace {

config::EnvFile Parse(std::string_view content) {
  return config::ParseEnvFile(content, [](std::string_view) { return std::optional<std::string>(); });
}

// The property every rewrite must keep: KEY reads back as `value`, others as before.
void ExpectReplaced(std::string_view content, std::string_view key, std::string_view value) {
  std::string out = ReplaceEnvValue(content, key, value);
  config::EnvFile before = Parse(content);
  config::EnvFile after = Parse(out);
  ASSERT_TRUE(after.vars.count(std::string(key))) << out;
  EXPECT_EQ(after.vars.at(std::string(key)), value) << out;
  for (const auto& [k, v] : before.vars) {
    if (k != key) {
      EXPECT_EQ(after.vars[k], v) << k << " in\n" << out;
    }
  }
  for (const auto& [k, v] : after.vars) {
    if (k != key) {
      EXPECT_TRUE(before.vars.count(k)) << k;
    }
  }
}

TEST(EnvRewriteTest, KeepsQuotingStyleAndExport) {
  EXPECT_EQ(ReplaceEnvValue("export TITAN_URL=http://a:3030\n", "TITAN_URL", "http://b:3030"),
            "export TITAN_URL=http://b:3030\n");
  EXPECT_EQ(ReplaceEnvValue("TITAN_URL=\"http://a\"\n", "TITAN_URL", "http://b"), "TITAN_URL=\"http://b\"\n");
  EXPECT_EQ(ReplaceEnvValue("TITAN_URL='http://a'\n", "TITAN_URL", "http://b"), "TITAN_URL='http://b'\n");
  EXPECT_EQ(ReplaceEnvValue("  export\tTITAN_URL=a  # standby\n", "TITAN_URL", "b"),
            "  export\tTITAN_URL=b  # standby\n");
}

TEST(EnvRewriteTest, KeepsEveryOtherByte) {
  const std::string content =
      "# validator settings\n\nexport A=1\nTITAN_URL=http://a  # primary\n  B='two words'\n#TITAN_URL=old\n";
  EXPECT_EQ(ReplaceEnvValue(content, "TITAN_URL", "http://b"),
            "# validator settings\n\nexport A=1\nTITAN_URL=http://b  # primary\n  B='two words'\n#TITAN_URL=old\n");
}

TEST(EnvRewriteTest, QuotesValuesThatNeedIt) {
  EXPECT_EQ(ReplaceEnvValue("K=a\n", "K", "two words"), "K='two words'\n");
  EXPECT_EQ(ReplaceEnvValue("K=a\n", "K", "it's $HOME"), "K=\"it's \\$HOME\"\n");
  EXPECT_EQ(ReplaceEnvValue("K='a'\n", "K", "it's"), "K=\"it's\"\n");
  EXPECT_EQ(ReplaceEnvValue("K=\"a\"\n", "K", "x\"y\\z`$(id)"), "K=\"x\\\"y\\\\z\\`\\$(id)\"\n");
  EXPECT_EQ(ReplaceEnvValue("K=a\n", "K", "http://u:p@h/?q=1&r=2"), "K='http://u:p@h/?q=1&r=2'\n");
  EXPECT_EQ(ReplaceEnvValue("K=a\n", "K", ""), "K=\n");
  for (std::string v : {"two words", "it's $HOME", "x\"y\\z`$(id)", "\\$", "a\\", "${A:-b}", "'", "\"", "#x", "\t\r",
                        "~/x", "a b\\$c 'd' \"e\""}) {
    for (std::string content : {"K=a\n", "K='a'\n", "K=\"a\"\n", "export K=a # c\n"}) {
      SCOPED_TRACE(content + " <- " + v);
      ExpectReplaced(content, "K", v);
    }
  }
}

// Operators source these files from a shell (direnv, `. validator.env`): the
// shell must read the same value vigil's parser does.
TEST(EnvRewriteTest, AShellReadsTheSameValue) {
  testing::TempDir dir;
  for (std::string v : {"http://127.0.0.1:3031", "two words", "it's $HOME", "x\"y\\z`$(id)`", "\\$", "a\\", "${A:-b}",
                        "'", "\"", "#x", "~/x", "*", "a;b&c|d", "", "a b\\$c 'd' \"e\""}) {
    for (std::string content : {"K=a\n", "K='a'\n", "export K=\"a\" # c\n", "A=1\n"}) {
      SCOPED_TRACE(content + " <- " + v);
      std::string path = dir.Write("test.env", ReplaceEnvValue(content, "K", v));
      ExecSpec spec;
      spec.argv = {"/bin/sh", "-c", ". \"$0\" && printf %s \"$K\"", path};
      Result<ExecResult> r = RunExec(spec);
      ASSERT_TRUE(r.ok()) << r.status().message();
      EXPECT_TRUE(r->ok()) << r->output;
      EXPECT_EQ(r->output, v);
      EXPECT_EQ(*ReadEnvFileValue(path, "K"), v);
    }
  }
}

TEST(EnvRewriteTest, AppendsAnAbsentKey) {
  EXPECT_EQ(ReplaceEnvValue("A=1\n", "K", "v"), "A=1\nK=v\n");
  EXPECT_EQ(ReplaceEnvValue("A=1", "K", "v"), "A=1\nK=v\n");
  EXPECT_EQ(ReplaceEnvValue("", "K", "v"), "K=v\n");
  EXPECT_EQ(ReplaceEnvValue("export A=1\n", "K", "v w"), "export A=1\nexport K='v w'\n");
  EXPECT_EQ(ReplaceEnvValue("# KEY=1\nKEYS=2\nXKEY=3\n", "KEY", "v"), "# KEY=1\nKEYS=2\nXKEY=3\nKEY=v\n");
}

TEST(EnvRewriteTest, ReplacesTheLastOfDuplicates) {
  EXPECT_EQ(ReplaceEnvValue("K=1\nA=x\nK=2\n", "K", "3"), "K=1\nA=x\nK=3\n");
  ExpectReplaced("K=1\nA=x\nK=2\n", "K", "3");
  // The last line assigning K does not parse; rewriting it makes it the winner.
  ExpectReplaced("K=1\nK=\"unterminated\n", "K", "v");
  ExpectReplaced("K=1\nK=a b c\n", "K", "v");
}

TEST(EnvRewriteTest, CrlfAndNoTrailingNewline) {
  EXPECT_EQ(ReplaceEnvValue("A=1\r\nK=old\r\nB=2\r\n", "K", "new"), "A=1\r\nK=new\r\nB=2\r\n");
  EXPECT_EQ(ReplaceEnvValue("A=1\r\nK=\"old\"\r\n", "K", "new"), "A=1\r\nK=\"new\"\r\n");
  EXPECT_EQ(ReplaceEnvValue("A=1\r\n", "K", "v"), "A=1\r\nK=v\r\n");
  EXPECT_EQ(ReplaceEnvValue("A=1\r\nB=2", "K", "v"), "A=1\r\nB=2\r\nK=v\r\n");
  EXPECT_EQ(ReplaceEnvValue("K=old", "K", "new"), "K=new");
  ExpectReplaced("A=1\r\nK='old'\r\nB=\"2\"\r\n", "K", "n e w");
  ExpectReplaced("K=\"unterminated\r\nB=2\r\n", "K", "v");
}

TEST(EnvRewriteTest, RefusesUnwritableValues) {
  EXPECT_EQ(ReplaceEnvValue("K=1\n", "K", "a\nB=injected"), "K=1\n");
  EXPECT_EQ(ReplaceEnvValue("K=1\n", "1K", "v"), "K=1\n");
  EXPECT_FALSE(ValidateEnvAssignment("K", std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ValidateEnvAssignment("", "v").ok());
  EXPECT_TRUE(ValidateEnvAssignment("K_1", "v").ok());
}

class EnvRewriteFileTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  int TempFiles() {
    int n = 0;
    DIR* d = ::opendir(dir_.path().c_str());
    while (dirent* e = ::readdir(d)) n += std::string_view(e->d_name).find(".vigil-tmp") != std::string_view::npos;
    ::closedir(d);
    return n;
  }
};

TEST_F(EnvRewriteFileTest, RewritesAtomicallyKeepingModeAndOthers) {
  std::string path = dir_.Write("validator.env", "# comment\nexport TITAN_URL=http://a\nOTHER=1\n");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(RewriteEnvFileValue(path, "TITAN_URL", "http://b").ok());
  EXPECT_EQ(*ReadFile(path), "# comment\nexport TITAN_URL=http://b\nOTHER=1\n");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(*ReadEnvFileValue(path, "TITAN_URL"), "http://b");
  EXPECT_EQ(*ReadEnvFileValue(path, "OTHER"), "1");
  EXPECT_FALSE(ReadEnvFileValue(path, "MISSING").ok());
  EXPECT_EQ(TempFiles(), 0);
}

TEST_F(EnvRewriteFileTest, RewritesASymlinksTarget) {
  std::string target = dir_.Write("real.env", "K=1\n");
  std::string link = dir_.path() + "/link.env";
  ASSERT_EQ(::symlink("real.env", link.c_str()), 0);
  ASSERT_TRUE(RewriteEnvFileValue(link, "K", "2").ok());
  struct stat st;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(*ReadFile(target), "K=2\n");
}

TEST_F(EnvRewriteFileTest, ErrorsNameThePathNotTheValue) {
  Status s = RewriteEnvFileValue(dir_.path() + "/missing.env", "K", "https://user:secret@host/");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing.env"), std::string::npos);
  EXPECT_EQ(s.message().find("secret"), std::string::npos);
  std::string path = dir_.Write("a.env", "K=1\n");
  Status bad = RewriteEnvFileValue(path, "K", "secret\nX=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message().find("secret"), std::string::npos);
  EXPECT_EQ(*ReadFile(path), "K=1\n");
}

TEST_F(EnvRewriteFileTest, RemovesStaleTempFiles) {
  std::string path = dir_.Write("v.env", "K=1\n");
  dir_.Write(".v.env.vigil-tmp.123.456.0", "K=half");
  dir_.Write(".other.env.vigil-tmp.1", "not ours");
  ASSERT_EQ(TempFiles(), 2);
  ASSERT_TRUE(RewriteEnvFileValue(path, "K", "2").ok());
  EXPECT_EQ(TempFiles(), 1);  // only the other file's temp stays
}

// A writer SIGKILLed at random moments leaves the old or the new file, never a
// mix, and at most one stale temp file, which the next rewrite removes.
TEST_F(EnvRewriteFileTest, SurvivesSigkillAtAnyMoment) {
  const std::string padding(64 * 1024, '#');  // a larger file widens the window inside write()
  std::string path = dir_.Write("validator.env", "# " + padding + "\nexport TITAN_URL=http://old\nOTHER=keep\n");
  std::mt19937 rng(12345);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int rounds = 0;
  int killed_mid_write = 0;  // rounds that left a stale temp file behind
  for (; rounds < 200 && std::chrono::steady_clock::now() < give_up; ++rounds) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < 100000; ++i) {
        (void)RewriteEnvFileValue(path, "TITAN_URL", i % 2 ? "http://old" : "'http://new standby'");
      }
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);

    Result<std::string> value = ReadEnvFileValue(path, "TITAN_URL");
    ASSERT_TRUE(value.ok()) << "round " << rounds << ": " << value.status().message();
    ASSERT_TRUE(*value == "http://old" || *value == "'http://new standby'") << "round " << rounds << ": " << *value;
    ASSERT_EQ(*ReadEnvFileValue(path, "OTHER"), "keep");
    int temps = TempFiles();
    ASSERT_LE(temps, 1) << "round " << rounds;
    killed_mid_write += temps;
  }
  EXPECT_GE(rounds, 50);
  RecordProperty("killed_mid_write", killed_mid_write);
  std::fprintf(stderr, "%d rounds, %d killed between creating and renaming the temp file\n", rounds, killed_mid_write);
  ASSERT_TRUE(RewriteEnvFileValue(path, "TITAN_URL", "http://final").ok());
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_EQ(*ReadEnvFileValue(path, "TITAN_URL"), "http://final");
}

}  // namespace
}  // namespace vigil::recovery
