// Exec actions: run an operator's command for what vigil cannot know, without a
// shell, bounded in time and output, in its own process group.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "base/time.h"

namespace vigil::recovery {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

struct ExecSpec {
  std::vector<std::string> argv;  // argv[0] is an absolute path; no shell, no PATH search
  Duration timeout{30000};
  // After the timeout the group gets SIGTERM, then SIGKILL once this grace has passed.
  Duration kill_grace{2000};
  size_t max_output_bytes = 64 * 1024;  // stdout+stderr kept: the first half and the last half
  EnvVars env;                          // added to PATH=/usr/sbin:/usr/bin:/sbin:/bin and LANG=C (may override them)
  std::string working_dir;              // absolute; empty: vigil's own
};

struct ExecResult {
  std::optional<int> exit_code;    // set when the process exited
  std::optional<int> term_signal;  // set when a signal ended it
  bool timed_out = false;
  // Interleaved stdout and stderr. When more than max_output_bytes arrived, the
  // head and the tail are kept around a line "[... N bytes dropped ...]".
  std::string output;
  uint64_t output_dropped_bytes = 0;
  Duration elapsed{0};

  // True iff the command exited 0 within its timeout.
  bool ok() const { return !timed_out && exit_code == 0; }
};

// Returns an error naming the first problem: empty argv, argv[0] not absolute,
// timeout <= 0, a NUL byte in an argument, a bad env name, a relative working dir.
Status ValidateExecSpec(const ExecSpec& spec);

// Runs `spec` to completion (or timeout) and reaps it. The child gets stdin from
// /dev/null, stdout and stderr into one pipe, no other inherited fds, default
// signal dispositions and an empty signal mask. An error means the command could
// not be started (invalid spec, missing binary, fork failure); a non-zero exit
// is a successful Result with ok() false. Processes the command leaves behind in
// its group after it exits are not killed; only a timeout kills the group.
Result<ExecResult> RunExec(const ExecSpec& spec);

// The environment an alert-triggered exec gets: VIGIL_LABEL_<NAME>=value for
// each label (NAME upper-cased, other than [A-Z0-9] -> '_'; on a clash the first
// label in sort order wins), plus VIGIL_SERVICE and VIGIL_ALERTNAME from the
// `service` and `alertname` labels when present.
EnvVars AlertExecEnv(const Labels& labels);

// One line for logs and audit: "exit 0 in 1s200ms", "killed by SIGTERM after
// timeout, 30s20ms", plus the dropped byte count when output was truncated.
std::string DescribeExecResult(const ExecResult& result);

}  // namespace vigil::recovery
