#include "recovery/actions/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <thread>

namespace vigil::recovery {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Once the command has exited, output still in flight (or held by a straggler
// that inherited the pipe) is read for at most this long.
constexpr Duration kDrainAfterExit{200};
constexpr Duration kPollSlice{20};

bool IsEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Keeps the first and the last bytes of a stream whose length is not known in
// advance, counting what falls in between.
class HeadTailBuffer {
 public:
  explicit HeadTailBuffer(size_t max_bytes) : head_cap_(max_bytes / 2), tail_cap_(max_bytes - max_bytes / 2) {}

  void Append(std::string_view data) {
    total_ += data.size();
    size_t to_head = std::min(data.size(), head_cap_ - head_.size());
    head_.append(data.substr(0, to_head));
    data.remove_prefix(to_head);
    if (data.empty()) return;
    tail_.append(data);
    // Trim only when twice over, so the erase cost stays linear overall.
    if (tail_.size() > 2 * tail_cap_ + 4096) tail_.erase(0, tail_.size() - tail_cap_);
  }

  std::string Finish(uint64_t* dropped) {
    if (tail_.size() > tail_cap_) tail_.erase(0, tail_.size() - tail_cap_);
    *dropped = total_ - head_.size() - tail_.size();
    if (*dropped == 0) return head_ + tail_;
    std::string out = head_;
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += "[... " + std::to_string(*dropped) + " bytes dropped ...]\n";
    out += tail_;
    return out;
  }

 private:
  size_t head_cap_;
  size_t tail_cap_;
  std::string head_;
  std::string tail_;
  uint64_t total_ = 0;
};

// Reads whatever is available without blocking; returns false at end of file.
bool DrainPipe(int fd, HeadTailBuffer& out) {
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.Append(std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// Waits up to `wait` for output; returns false once the pipe reached end of file.
bool PollPipe(int fd, Duration wait, HeadTailBuffer& out) {
  pollfd p{fd, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
  if (r > 0) return DrainPipe(fd, out);
  return true;
}

// True once `pid` has exited, without reaping it, so its process group id
// cannot be reused while we still signal the group.
bool HasExited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
  return info.si_pid == pid;
}

class SpawnAttributes {
 public:
  SpawnAttributes() {
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawnattr_init(&attr_);
  }
  ~SpawnAttributes() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attr_);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;

  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

std::string ErrnoText(int err) { return ::strerrordesc_np(err) ? ::strerrordesc_np(err) : "unknown error"; }

}  // namespace

Status ValidateExecSpec(const ExecSpec& spec) {
  if (spec.argv.empty()) return Status::Error("command is empty");
  if (spec.argv[0].empty() || spec.argv[0][0] != '/') {
    return Status::Error("command \"" + spec.argv[0] + "\" is not an absolute path (no shell or PATH search is used)");
  }
  for (const std::string& arg : spec.argv) {
    if (arg.find('\0') != std::string::npos) return Status::Error("an argument contains a NUL byte");
  }
  if (spec.timeout.count() <= 0) return Status::Error("timeout must be greater than 0");
  if (spec.kill_grace.count() < 0) return Status::Error("kill grace must not be negative");
  for (const auto& [name, value] : spec.env) {
    if (!IsEnvName(name)) return Status::Error("invalid environment variable name \"" + name + "\"");
    if (value.find('\0') != std::string::npos) {
      return Status::Error("environment variable " + name + " contains a NUL byte");
    }
  }
  if (!spec.working_dir.empty() && spec.working_dir[0] != '/') {
    return Status::Error("working directory \"" + spec.working_dir + "\" is not an absolute path");
  }
  return Status::Ok();
}

Result<ExecResult> RunExec(const ExecSpec& spec) {
  if (Status s = ValidateExecSpec(spec); !s.ok()) return s;

  std::vector<std::string> env_strings = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"};
  for (const auto& [name, value] : spec.env) {
    std::string prefix = name + "=";
    std::erase_if(env_strings, [&](const std::string& e) { return e.starts_with(prefix); });
    env_strings.push_back(prefix + value);
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = spec.argv;
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::Error("exec " + spec.argv[0] + ": pipe: " + ErrnoText(errno));
  int read_fd = pipe_fds[0];

  pid_t pid = -1;
  int spawn_err = 0;
  {
    SpawnAttributes sa;
    ::posix_spawn_file_actions_addopen(&sa.actions_, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&sa.actions_, pipe_fds[1], 1);
    ::posix_spawn_file_actions_adddup2(&sa.actions_, pipe_fds[1], 2);
    // Nothing of vigil's (sockets, the state database, the WAL) leaks into the command.
    ::posix_spawn_file_actions_addclosefrom_np(&sa.actions_, 3);
    if (!spec.working_dir.empty()) ::posix_spawn_file_actions_addchdir_np(&sa.actions_, spec.working_dir.c_str());
    // vigil blocks SIGTERM/SIGINT/SIGHUP for its signal loop; the command must not inherit that.
    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    sigset_t defaults;
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    ::posix_spawnattr_setsigmask(&sa.attr_, &empty_mask);
    ::posix_spawnattr_setsigdefault(&sa.attr_, &defaults);
    ::posix_spawnattr_setpgroup(&sa.attr_, 0);
    ::posix_spawnattr_setflags(&sa.attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    spawn_err = ::posix_spawn(&pid, argv[0], &sa.actions_, &sa.attr_, argv.data(), envp.data());
  }
  ::close(pipe_fds[1]);
  if (spawn_err != 0) {
    ::close(read_fd);
    return Status::Error("exec " + spec.argv[0] + ": " + ErrnoText(spawn_err));
  }
  ::fcntl(read_fd, F_SETFL, ::fcntl(read_fd, F_GETFL) | O_NONBLOCK);

  const auto start = SteadyClock::now();
  const auto deadline = start + spec.timeout;
  HeadTailBuffer output(spec.max_output_bytes);
  ExecResult result;
  bool pipe_open = true;
  int wstatus = 0;
  bool reaped = false;
  std::optional<SteadyClock::time_point> exited_at;

  while (true) {
    auto now = SteadyClock::now();
    if (!reaped) {
      pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
      if (r == pid) {
        reaped = true;
        exited_at = now;
      }
    }
    if (reaped && (!pipe_open || now - *exited_at >= kDrainAfterExit)) break;
    if (!reaped && now >= deadline) {
      result.timed_out = true;
      break;
    }
    auto limit = reaped ? *exited_at + kDrainAfterExit : deadline;
    auto wait = std::min<Duration>(kPollSlice, std::chrono::duration_cast<Duration>(limit - now) + Duration(1));
    if (pipe_open) {
      pipe_open = PollPipe(read_fd, wait, output);
    } else {
      std::this_thread::sleep_for(wait);
    }
  }

  if (result.timed_out) {
    // The leader is not reaped until the group has had its SIGKILL, so the group id stays ours.
    ::kill(-pid, SIGTERM);
    const auto kill_at = SteadyClock::now() + spec.kill_grace;
    while (SteadyClock::now() < kill_at && !HasExited(pid)) {
      if (pipe_open) {
        pipe_open = PollPipe(read_fd, kPollSlice, output);
      } else {
        std::this_thread::sleep_for(kPollSlice);
      }
    }
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (pipe_open) DrainPipe(read_fd, output);
  }
  ::close(read_fd);

  result.elapsed = std::chrono::duration_cast<Duration>(SteadyClock::now() - start);
  if (WIFEXITED(wstatus)) result.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) result.term_signal = WTERMSIG(wstatus);
  result.output = output.Finish(&result.output_dropped_bytes);
  return result;
}

EnvVars AlertExecEnv(const Labels& labels) {
  EnvVars env;
  std::set<std::string> seen;
  for (const Label& label : labels) {
    std::string name = "VIGIL_LABEL_";
    for (char c : label.name) {
      name += std::isalnum(static_cast<unsigned char>(c))
                  ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                  : '_';
    }
    if (seen.insert(name).second) env.emplace_back(std::move(name), label.value);
  }
  if (std::string_view service = labels.Get("service"); !service.empty()) env.emplace_back("VIGIL_SERVICE", service);
  if (std::string_view alert = labels.Get("alertname"); !alert.empty()) env.emplace_back("VIGIL_ALERTNAME", alert);
  return env;
}

std::string DescribeExecResult(const ExecResult& result) {
  std::string text;
  if (result.exit_code) {
    text = "exit " + std::to_string(*result.exit_code);
  } else if (result.term_signal) {
    const char* name = ::sigabbrev_np(*result.term_signal);
    text = std::string("killed by SIG") + (name ? name : std::to_string(*result.term_signal).c_str());
  } else {
    text = "ended";
  }
  text += result.timed_out ? " after timeout, " : " in ";
  text += FormatDuration(result.elapsed);
  if (result.output_dropped_bytes > 0)
    text += ", " + std::to_string(result.output_dropped_bytes) + " output bytes dropped";
  return text;
}

}  // namespace vigil::recovery
