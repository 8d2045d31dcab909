#include "recovery/actions/exec.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "base/testing/temp_dir.h"

namespace vigil::recovery {
namespace {

ExecSpec Spec(std::vector<std::string> argv) {
  ExecSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = Duration(10000);
  return spec;
}

// True when `pid` is gone or a zombie (PID 1 in a container may never reap it).
bool ProcessGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

TEST(ExecTest, ExitCodes) {
  Result<ExecResult> ok = RunExec(Spec({"/bin/true"}));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->exit_code, 0);
  EXPECT_TRUE(ok->ok());
  EXPECT_FALSE(ok->timed_out);

  Result<ExecResult> three = RunExec(Spec({"/bin/sh", "-c", "exit 3"}));
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->exit_code, 3);
  EXPECT_FALSE(three->ok());
  EXPECT_EQ(DescribeExecResult(*three).substr(0, 6), "exit 3");
}

TEST(ExecTest, KilledBySignal) {
  Result<ExecResult> r = RunExec(Spec({"/bin/sh", "-c", "kill -SEGV $$"}));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->exit_code.has_value());
  EXPECT_EQ(r->term_signal, SIGSEGV);
  EXPECT_FALSE(r->ok());
  EXPECT_NE(DescribeExecResult(*r).find("SIGSEGV"), std::string::npos);
}

TEST(ExecTest, CapturesStdoutAndStderr) {
  Result<ExecResult> r = RunExec(Spec({"/bin/sh", "-c", "echo out; echo err >&2"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, "out\nerr\n");
  EXPECT_EQ(r->output_dropped_bytes, 0u);
}

TEST(ExecTest, NoShellInterpretation) {
  const std::string tricky = "a; echo injected $(id) `id` $HOME | cat > /tmp/x & 'q' \"dq\"";
  Result<ExecResult> r = RunExec(Spec({"/usr/bin/printf", "%s", tricky}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, tricky);
}

TEST(ExecTest, MinimalEnvironmentPlusSpecEnv) {
  ::setenv("VIGIL_EXEC_TEST_SECRET", "leak", 1);
  ExecSpec spec = Spec({"/usr/bin/env"});
  spec.env = {{"VIGIL_SERVICE", "validator"}, {"LANG", "C.UTF-8"}};
  Result<ExecResult> r = RunExec(spec);
  ::unsetenv("VIGIL_EXEC_TEST_SECRET");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->output.find("PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("VIGIL_SERVICE=validator\n"), std::string::npos);
  EXPECT_NE(r->output.find("LANG=C.UTF-8\n"), std::string::npos);
  EXPECT_EQ(r->output.find("LANG=C\n"), std::string::npos);
  EXPECT_EQ(r->output.find("VIGIL_EXEC_TEST_SECRET"), std::string::npos);
}

TEST(ExecTest, StdinIsDevNullAndNoFdsLeak) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // deliberately without O_CLOEXEC
  Result<ExecResult> r = RunExec(Spec({"/bin/sh", "-c", "cat; ls /proc/self/fd"}));
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(r.ok());
  // cat reads EOF at once; ls sees 0, 1, 2 and the fd it opened for the directory.
  EXPECT_EQ(r->output, "0\n1\n2\n3\n");
}

TEST(ExecTest, WorkingDir) {
  testing::TempDir dir;
  ExecSpec spec = Spec({"/bin/pwd"});
  spec.working_dir = dir.path();
  Result<ExecResult> r = RunExec(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, dir.path() + "\n");
}

TEST(ExecTest, OutputKeepsHeadAndTail) {
  ExecSpec spec = Spec(
      {"/bin/sh", "-c", "echo HEAD; i=0; while [ $i -lt 2000 ]; do echo middle-line-$i; i=$((i+1)); done; echo TAIL"});
  spec.max_output_bytes = 1000;
  Result<ExecResult> r = RunExec(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->output_dropped_bytes, 10000u);
  EXPECT_TRUE(r->output.starts_with("HEAD\n")) << r->output.substr(0, 100);
  EXPECT_TRUE(r->output.ends_with("TAIL\n"));
  EXPECT_NE(r->output.find("bytes dropped ...]"), std::string::npos);
  EXPECT_LT(r->output.size(), 1100u);
}

TEST(ExecTest, TimeoutKillsTheWholeGroup) {
  testing::TempDir dir;
  std::string pid_file = dir.path() + "/grandchild.pid";
  ExecSpec spec = Spec({"/bin/sh", "-c", "/bin/sleep 60 & echo $! > " + pid_file + "; wait"});
  spec.timeout = Duration(500);
  spec.kill_grace = Duration(500);
  auto start = std::chrono::steady_clock::now();
  Result<ExecResult> r = RunExec(spec);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_LT(took, std::chrono::seconds(5));
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  ASSERT_GT(grandchild, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ProcessGone(grandchild);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived the timeout";
}

TEST(ExecTest, TimeoutEscalatesToSigkill) {
  testing::TempDir dir;
  std::string pid_file = dir.path() + "/grandchild.pid";
  // Both the shell and its child ignore SIGTERM.
  ExecSpec spec = Spec({"/bin/sh", "-c", "trap '' TERM; /bin/sleep 60 & echo $! > " + pid_file + "; wait; wait"});
  spec.timeout = Duration(300);
  spec.kill_grace = Duration(300);
  Result<ExecResult> r = RunExec(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  ASSERT_GT(grandchild, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ProcessGone(grandchild);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone);
}

TEST(ExecTest, SignalsBlockedInVigilAreNotInherited) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  ExecSpec spec = Spec({"/bin/sleep", "30"});
  spec.timeout = Duration(200);
  spec.kill_grace = Duration(3000);
  auto start = std::chrono::steady_clock::now();
  Result<ExecResult> r = RunExec(spec);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->term_signal, SIGTERM);  // not SIGKILL after the grace
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500));
}

TEST(ExecTest, Validation) {
  EXPECT_FALSE(ValidateExecSpec(ExecSpec{}).ok());
  Status relative = ValidateExecSpec(Spec({"sleep", "1"}));
  EXPECT_FALSE(relative.ok());
  EXPECT_NE(relative.message().find("not an absolute path"), std::string::npos);
  EXPECT_FALSE(RunExec(Spec({"bin/true"})).ok());
  ExecSpec zero = Spec({"/bin/true"});
  zero.timeout = Duration(0);
  EXPECT_FALSE(ValidateExecSpec(zero).ok());
  ExecSpec bad_env = Spec({"/bin/true"});
  bad_env.env = {{"A=B", "x"}};
  EXPECT_FALSE(ValidateExecSpec(bad_env).ok());
  ExecSpec bad_dir = Spec({"/bin/true"});
  bad_dir.working_dir = "tmp";
  EXPECT_FALSE(ValidateExecSpec(bad_dir).ok());
  EXPECT_TRUE(ValidateExecSpec(Spec({"/bin/true", "x"})).ok());
}

TEST(ExecTest, MissingBinaryIsAnError) {
  Result<ExecResult> r = RunExec(Spec({"/nonexistent/vigil-test-binary"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/vigil-test-binary"), std::string::npos);
}

TEST(ExecTest, AlertExecEnv) {
  Labels labels{{"alertname", "ValidatorDown"}, {"service", "validator"}, {"my-label.x", "v"}, {"my_label_x", "w"}};
  EnvVars env = AlertExecEnv(labels);
  auto find = [&](const std::string& name) -> std::string {
    for (const auto& [k, v] : env) {
      if (k == name) return v;
    }
    return "<absent>";
  };
  EXPECT_EQ(find("VIGIL_LABEL_ALERTNAME"), "ValidatorDown");
  EXPECT_EQ(find("VIGIL_LABEL_SERVICE"), "validator");
  EXPECT_EQ(find("VIGIL_LABEL_MY_LABEL_X"), "v");  // "my-label.x" sorts before "my_label_x"
  EXPECT_EQ(find("VIGIL_SERVICE"), "validator");
  EXPECT_EQ(find("VIGIL_ALERTNAME"), "ValidatorDown");

  ExecSpec spec = Spec({"/usr/bin/env"});
  spec.env = env;
  ASSERT_TRUE(ValidateExecSpec(spec).ok());
  Result<ExecResult> r = RunExec(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->output.find("VIGIL_ALERTNAME=ValidatorDown\n"), std::string::npos);
}

}  // namespace
}  // namespace vigil::recovery
