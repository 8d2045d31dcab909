// Binary update availability: installed version from the binary or a file,
// latest from a GitHub-releases-shaped JSON URL.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file.h"
#include "base/strings.h"
#include "probe/jsonrpc.h"
#include "probe/net.h"
#include "probe/probe.h"

extern char** environ;

namespace vigil::probe {

using nlohmann::json;

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Runs argv (no shell) with stdin from /dev/null, collecting stdout and
// stderr until it exits or `deadline` passes (then it is killed).
std::optional<Failure> RunCommand(const std::vector<std::string>& args, SteadyTime deadline, std::string* output) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Failure{"exec_failed", std::string("pipe: ") + std::strerror(errno)};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // Its own process group, so a timeout kills whatever it started too.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Failure{"exec_failed", "cannot run " + args[0] + ": " + std::strerror(rc)};
  }
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, PollMillisLeft(deadline));
    if (n == 0) {
      timed_out = true;
      break;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got <= 0) break;
    if (output->size() < 65536) output->append(buf, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  // Reaped with a bound too: a child that closed its output but lingers is killed.
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    ::usleep(2000);
  }
  if (timed_out) return Failure{"timeout", args[0] + " did not finish before the timeout"};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Failure{"exec_failed", args[0] + " exited with status " + std::to_string(WEXITSTATUS(status))};
  }
  return std::nullopt;
}

// The latest release's tag from a GitHub releases/latest object or a releases list.
std::optional<std::string> LatestTag(const json& doc) {
  auto tag_of = [](const json& r) -> std::optional<std::string> {
    if (!r.is_object()) return std::nullopt;
    auto t = r.find("tag_name");
    if (t == r.end() || !t->is_string()) return std::nullopt;
    return t->get<std::string>();
  };
  if (doc.is_object()) return tag_of(doc);
  if (!doc.is_array()) return std::nullopt;
  for (const auto& r : doc) {
    if (!r.is_object()) continue;
    if (r.value("draft", false) || r.value("prerelease", false)) continue;
    if (auto t = tag_of(r)) return t;
  }
  return std::nullopt;
}

class UpdateChecker final : public collect::Collector {
 public:
  UpdateChecker(UpdateCheckOptions o, ParsedUrl url)
      : o_(std::move(o)),
        name_(o_.collector_name.empty() ? "updates/" + o_.service : o_.collector_name),
        url_(std::move(url)) {}

  std::string_view name() const override { return name_; }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    SteadyTime deadline = DeadlineFrom(ctx.deadline, o_.timeout);
    std::string installed, latest;
    if (auto f = Installed(deadline, &installed)) {
      out.ReportError(f->reason, f->detail, o_.binary.empty() ? o_.version_file : o_.binary);
    }
    if (auto f = Latest(deadline, &latest)) out.ReportError(f->reason, f->detail, url_.redacted);
    bool ok = !installed.empty() && !latest.empty();
    out.AddGauge("vigil_update_check_success", "1 when both the installed and the latest version were read.",
                 Labels{{"service", o_.service}}, ok ? 1 : 0);
    if (ok) {
      out.AddGauge("vigil_update_available",
                   "1 when the latest release is newer than the installed version; both are labels.",
                   Labels{{"installed", installed}, {"latest", latest}, {"service", o_.service}},
                   CompareVersions(latest, installed) > 0 ? 1 : 0);
    }
    return Status::Ok();
  }

 private:
  std::optional<Failure> Installed(SteadyTime deadline, std::string* version) {
    std::string text;
    if (!o_.version_file.empty()) {
      Result<std::string> r = ReadFile(o_.version_file, 65536);
      if (!r.ok()) return Failure{"read_failed", r.status().message()};
      text = std::move(*r);
    } else {
      std::vector<std::string> args{o_.binary};
      args.insert(args.end(), o_.version_args.begin(), o_.version_args.end());
      if (auto f = RunCommand(args, deadline, &text)) return f;
    }
    *version = ExtractVersion(text);
    if (version->empty()) return Failure{"bad_version", "no version number in the installed version text"};
    return std::nullopt;
  }

  std::optional<Failure> Latest(SteadyTime deadline, std::string* version) {
    HttpRequest req;
    req.url = url_;
    req.headers = o_.headers;
    // GitHub's API refuses requests without a User-Agent.
    req.headers.emplace_back("User-Agent", "vigil");
    req.headers.emplace_back("Accept", "application/vnd.github+json");
    req.tls_verify = o_.tls_verify;
    req.deadline = deadline;
    req.user = url_.user;
    req.password = url_.password;
    HttpResponse res;
    if (auto f = HttpExchange(req, &res)) return f;
    if (res.status < 200 || res.status > 299) {
      return Failure{"http_" + std::to_string(res.status), "releases: HTTP " + std::to_string(res.status)};
    }
    json doc = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Failure{"bad_json", "releases: response is not valid JSON"};
    auto tag = LatestTag(doc);
    if (!tag) return Failure{"bad_response", "releases: no tag_name of a published release"};
    *version = ExtractVersion(*tag);
    if (version->empty()) return Failure{"bad_version", "releases: no version number in the tag"};
    return std::nullopt;
  }

  UpdateCheckOptions o_;
  std::string name_;
  ParsedUrl url_;
};

}  // namespace

std::string ExtractVersion(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!IsDigit(text[i]) || (i > 0 && (IsDigit(text[i - 1]) || text[i - 1] == '.'))) continue;
    size_t j = i;
    int dots = 0;
    while (j < text.size() && (IsDigit(text[j]) || (text[j] == '.' && j + 1 < text.size() && IsDigit(text[j + 1])))) {
      dots += text[j] == '.';
      ++j;
    }
    if (dots == 0) continue;  // a lone number ("build 42") is not a version
    // A pre-release or build suffix: -rc1, -beta.2, +abc.
    if (j < text.size() && (text[j] == '-' || text[j] == '+')) {
      size_t k = j + 1;
      while (k < text.size() && (std::isalnum(static_cast<unsigned char>(text[k])) || text[k] == '.' || text[k] == '-'))
        ++k;
      if (k > j + 1) j = k;
    }
    return text.substr(i, std::min<size_t>(j - i, 64));
  }
  return "";
}

int CompareVersions(const std::string& a_in, const std::string& b_in) {
  auto split = [](std::string_view v) {
    if (!v.empty() && (v[0] == 'v' || v[0] == 'V')) v.remove_prefix(1);
    v = v.substr(0, v.find('+'));  // build metadata does not order
    size_t dash = v.find('-');
    std::string_view pre = dash == std::string_view::npos ? "" : v.substr(dash + 1);
    std::vector<uint64_t> nums;
    for (auto part : Split(v.substr(0, dash), '.')) nums.push_back(ParseUint64(part).value_or(0));
    while (!nums.empty() && nums.back() == 0) nums.pop_back();
    return std::pair{nums, std::string(pre)};
  };
  auto [an, ap] = split(a_in);
  auto [bn, bp] = split(b_in);
  if (an != bn) return an < bn ? -1 : 1;
  if (ap == bp) return 0;
  if (ap.empty()) return 1;  // a release is newer than its pre-releases
  if (bp.empty()) return -1;
  return ap < bp ? -1 : 1;
}

Result<std::unique_ptr<collect::Collector>> NewUpdateChecker(UpdateCheckOptions o) {
  if (o.service.empty()) return Status::Error("updates: a service is required");
  if (o.binary.empty() == o.version_file.empty()) {
    return Status::Error("updates " + o.service + ": set exactly one of binary and version_file");
  }
  if (!o.binary.empty() && o.binary[0] != '/')
    return Status::Error("updates " + o.service + ": binary must be an absolute path");
  auto url = ParseUrl(o.releases_url);
  if (!url) return Status::Error("updates " + o.service + ": bad releases URL");
  if (o.timeout.count() <= 0) return Status::Error("updates " + o.service + ": timeout must be positive");
  ParsedUrl u = std::move(*url);
  return std::unique_ptr<collect::Collector>(std::make_unique<UpdateChecker>(std::move(o), std::move(u)));
}

}  // namespace vigil::probe
