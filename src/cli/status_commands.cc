#include "cli/status_commands.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "cli/output.h"
#include "cli/status_view.h"
#include "config/config.h"
#include "http/client.h"
#include "http/server.h"
#include "status/snapshot.h"

namespace vigil::cli {
namespace {

constexpr Duration kStatusTimeout{10000};
constexpr Duration kTopTimeout{2000};  // a live view must not freeze on a stuck vigil

bool ColorWanted(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(fd) && !(no_color && *no_color);  // no-color.org: set and non-empty
}

// The terminal's size, or 80x24 when it is not a terminal.
std::pair<int, int> WindowSize(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) return {ws.ws_col, ws.ws_row};
  return {80, 24};
}

Result<status::Snapshot> Fetch(const std::string& server, Duration timeout, std::string* raw = nullptr) {
  auto r = http::Get(server, "/api/v1/status", timeout);
  if (!r.ok()) return r.status();
  if (r->status != 200) return Status::Error(server + "/api/v1/status: " + ApiError(*r));
  auto s = status::ParseSnapshot(r->body);
  if (!s.ok()) return s.status().WithContext(server + "/api/v1/status");
  if (raw) *raw = std::move(r->body);
  return s;
}

}  // namespace

std::string DefaultServerUrl() {
  config::LoadResult r = config::LoadDefault();
  std::string listen = r.ok() ? r.config.global.listen : config::GlobalOptions{}.listen;
  auto hp = http::ParseListenAddress(listen);
  if (!hp.ok()) return "http://127.0.0.1:9810";
  std::string host = hp->host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(hp->port);
}

int ShowStatus(const StatusCommandOptions& o) {
  std::string raw;
  auto s = Fetch(o.server, kStatusTimeout, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s (--url sets the address)\n", s.status().message().c_str());
    return kUnreachableExitCode;
  }
  if (o.as_json) {
    auto data = status::DataJson(raw);
    if (!data.ok()) {
      std::fprintf(stderr, "error: %s\n", data.status().message().c_str());
      return kUnreachableExitCode;
    }
    std::printf("%s\n", data->c_str());
    return ExitCodeFor(s->overall);
  }
  ViewOptions v;
  v.color = ColorWanted(STDOUT_FILENO);
  if (isatty(STDOUT_FILENO)) v.width = std::max(40, WindowSize(STDOUT_FILENO).first);
  for (const auto& line : RenderStatus(*s, v)) std::printf("%s\n", line.c_str());
  return ExitCodeFor(s->overall);
}

namespace {

volatile sig_atomic_t g_resized = 0;
volatile sig_atomic_t g_quit = 0;
volatile sig_atomic_t g_suspend = 0;
void OnResize(int) { g_resized = 1; }
void OnQuit(int) { g_quit = 1; }
void OnSuspend(int) { g_suspend = 1; }

// Raw keys, the alternate screen and a hidden cursor, undone by the destructor
// (and so on every way out of RunTop).
class RawTerminal {
 public:
  Status Enter() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return Status::Error(std::string("tcgetattr: ") + std::strerror(errno));
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C quits cleanly
    raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
      return Status::Error(std::string("tcsetattr: ") + std::strerror(errno));
    }
    entered_ = true;
    Write("\x1b[?1049h\x1b[?25l");
    return Status::Ok();
  }
  // Gives the terminal back as it was (also before a Ctrl-Z stops us).
  void Leave() {
    if (!entered_) return;
    entered_ = false;
    Write("\x1b[?25h\x1b[?1049l");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  ~RawTerminal() { Leave(); }
  static void Write(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::write(STDOUT_FILENO, s.data(), s.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }

 private:
  termios saved_{};
  bool entered_ = false;
};

enum class Key { kNone, kChar, kUp, kDown, kEnter, kBackspace, kEscape, kTab };
struct KeyPress {
  Key key = Key::kNone;
  char c = 0;
};

// Splits what read() returned into keys (arrow keys arrive as ESC [ A/B).
std::vector<KeyPress> ParseKeys(std::string_view in) {
  std::vector<KeyPress> out;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\x1b') {
      if (i + 2 < in.size() && (in[i + 1] == '[' || in[i + 1] == 'O')) {
        char k = in[i + 2];
        i += 2;
        if (k == 'A') out.push_back({Key::kUp});
        if (k == 'B') out.push_back({Key::kDown});
        while (i < in.size() && !(in[i] >= '@' && in[i] <= '~')) ++i;  // skip other sequences
        continue;
      }
      out.push_back({Key::kEscape});
    } else if (c == '\r' || c == '\n') {
      out.push_back({Key::kEnter});
    } else if (c == 127 || c == 8) {
      out.push_back({Key::kBackspace});
    } else if (c == '\t') {
      out.push_back({Key::kTab});
    } else if (static_cast<unsigned char>(c) >= 32) {
      out.push_back({Key::kChar, c});
    }
  }
  return out;
}

class Top {
 public:
  explicit Top(const TopOptions& o) : o_(o) {
    const char* user = std::getenv("USER");
    user_ = user && *user ? user : "vigil";
    color_ = ColorWanted(STDOUT_FILENO);
  }

  int Run() {
    RawTerminal term;
    if (Status s = term.Enter(); !s.ok()) return Fail("vigil top needs a terminal: " + s.message());
    struct sigaction sa {};
    sa.sa_handler = OnResize;  // no SA_RESTART: poll() returns at once to redraw
    sigaction(SIGWINCH, &sa, nullptr);
    sa.sa_handler = OnQuit;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    sa.sa_handler = OnSuspend;
    sigaction(SIGTSTP, &sa, nullptr);
    auto next_fetch = std::chrono::steady_clock::now();
    while (!g_quit && !quit_) {
      if (g_suspend) {
        // Ctrl-Z: restore the shell's terminal, stop for real, take it again on `fg`.
        g_suspend = 0;
        term.Leave();
        signal(SIGTSTP, SIG_DFL);
        raise(SIGTSTP);
        sa.sa_handler = OnSuspend;
        sigaction(SIGTSTP, &sa, nullptr);
        if (Status s = term.Enter(); !s.ok()) return Fail("vigil top: taking the terminal back: " + s.message());
      }
      auto now = std::chrono::steady_clock::now();
      if (now >= next_fetch) {
        Refresh();
        next_fetch = std::chrono::steady_clock::now() + o_.interval;
      }
      Draw();
      g_resized = 0;
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_fetch - std::chrono::steady_clock::now());
      pollfd pfd{STDIN_FILENO, POLLIN, 0};
      int n = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
      if (n > 0 && (pfd.revents & (POLLHUP | POLLERR))) break;  // the terminal went away
      if (n > 0) {
        char buf[256];
        ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
        if (got > 0) {
          for (const auto& k : ParseKeys(std::string_view(buf, static_cast<size_t>(got)))) Handle(k);
        }
      }
    }
    return 0;
  }

 private:
  enum class Mode { kNormal, kDuration, kComment };
  static constexpr int kPanes = 3;

  void Refresh() {
    auto s = Fetch(o_.server, kTopTimeout);
    if (s.ok()) {
      snap_ = std::move(*s);
      error_.clear();
      int n = static_cast<int>(snap_->alerts.firing.size());
      selected_ = std::clamp(selected_, 0, std::max(0, n - 1));
    } else {
      error_ = s.status().message();
    }
  }

  void Handle(const KeyPress& k) {
    if (mode_ != Mode::kNormal) return HandlePrompt(k);
    message_.clear();  // a message stays until the next key
    int n = snap_ ? static_cast<int>(snap_->alerts.firing.size()) : 0;
    switch (k.key) {
      case Key::kTab: pane_ = (pane_ + 1) % kPanes; return;
      case Key::kUp: selected_ = std::max(0, selected_ - 1); return;
      case Key::kDown: selected_ = std::min(std::max(0, n - 1), selected_ + 1); return;
      case Key::kChar: break;
      default: return;
    }
    switch (k.c) {
      case 'q':
      case 'Q': quit_ = true; return;
      case '1':
      case '2':
      case '3': pane_ = k.c - '1'; return;
      case 'k': return Handle({Key::kUp});
      case 'j': return Handle({Key::kDown});
      case 'r': Refresh(); return;
      case 's':
        if (pane_ != 1) {
          message_ = "select an alert in the alerts pane (2) to silence it";
        } else if (n == 0) {
          message_ = "no firing alert to silence";
        } else {
          target_ = snap_->alerts.firing[static_cast<size_t>(selected_)];
          mode_ = Mode::kDuration;
          input_ = "1h";
        }
        return;
    }
  }

  void HandlePrompt(const KeyPress& k) {
    switch (k.key) {
      case Key::kEscape:
        mode_ = Mode::kNormal;
        message_ = "silence cancelled";
        return;
      case Key::kBackspace:
        if (!input_.empty()) input_.pop_back();
        return;
      case Key::kChar:
        if (input_.size() < 200) input_ += k.c;
        return;
      case Key::kEnter: break;
      default: return;
    }
    if (mode_ == Mode::kDuration) {
      auto d = ParseDuration(input_);
      if (!d.ok() || d->count() <= 0) {
        message_ = "not a duration: \"" + input_ + "\" (e.g. 30m, 1h, 2d)";
        mode_ = Mode::kNormal;
        return;
      }
      duration_ = *d;
      mode_ = Mode::kComment;
      input_.clear();
      return;
    }
    mode_ = Mode::kNormal;
    message_ = Silence(input_.empty() ? "silenced from vigil top" : input_);
    Refresh();
  }

  // POST /api/v2/silences (Alertmanager v2) matching every label of the target alert.
  std::string Silence(const std::string& comment) {
    using nlohmann::json;
    json matchers = json::array();
    for (const auto& [name, value] : target_.labels) {
      matchers.push_back({{"name", name}, {"value", value}, {"isRegex", false}, {"isEqual", true}});
    }
    TimestampMs now = SystemClock().NowMs();
    json body = {{"matchers", matchers},
                 {"startsAt", FormatTime(now)},
                 {"endsAt", FormatTime(now + duration_.count())},
                 {"createdBy", user_},
                 {"comment", comment}};
    auto r = http::PostJson(o_.server, "/api/v2/silences", body.dump(), kTopTimeout);
    if (!r.ok()) return "silence failed: " + r.status().message();
    if (r->status != 200) return "silence failed: " + ApiError(*r);
    json j = json::parse(r->body, nullptr, false);
    std::string id = j.is_object() && j.contains("silenceID") && j["silenceID"].is_string()
                         ? j["silenceID"].get<std::string>()
                         : "?";
    return "silenced " + target_.name + " for " + FormatDuration(duration_) + " (" + id + ")";
  }

  std::string TitleLine(int width) const {
    static constexpr const char* kNames[kPanes] = {"1 Services", "2 Alerts", "3 Host"};
    std::string line = "vigil top ";
    for (int i = 0; i < kPanes; ++i) {
      bool active = i == pane_;
      std::string tab = active ? "[" + std::string(kNames[i]) + "]" : " " + std::string(kNames[i]) + " ";
      line += active && color_ ? "\x1b[7m" + tab + "\x1b[0m" : tab;
    }
    char clock[16] = "";
    if (snap_) {
      time_t t = static_cast<time_t>(snap_->time);
      tm local{};
      localtime_r(&t, &local);
      std::strftime(clock, sizeof clock, "%H:%M:%S", &local);
    }
    return FitWidth(line + "  " + clock + "  " + o_.server, width);
  }

  std::string BottomLine(int width) const {
    if (mode_ == Mode::kDuration)
      return FitWidth("silence " + target_.name + " for (Enter, Esc cancels): " + input_ + "_", width);
    if (mode_ == Mode::kComment) return FitWidth("comment (Enter to create the silence): " + input_ + "_", width);
    if (!message_.empty()) return FitWidth(message_, width);
    return FitWidth(pane_ == 1 ? "q quit  1/2/3/Tab panes  j/k or arrows select  s silence  r refresh"
                               : "q quit  1/2/3/Tab panes  r refresh",
                    width);
  }

  void Draw() {
    auto [width, height] = WindowSize(STDOUT_FILENO);
    ViewOptions v;
    v.width = width;
    v.color = color_;
    std::vector<std::string> lines{TitleLine(width)};
    if (!error_.empty()) {
      lines.push_back(FitWidth("error: " + error_ + (snap_ ? " (showing the last answer)" : ""), width));
    } else if (snap_) {
      lines.push_back(RenderHeadline(*snap_, v));
    } else {
      lines.push_back("connecting to " + o_.server + " ...");
    }
    lines.push_back("");
    std::vector<std::string> body;
    if (snap_) {
      body = pane_ == 0   ? RenderServicesPane(*snap_, v)
             : pane_ == 1 ? RenderAlertsPane(*snap_, v, selected_)
                          : RenderHostPane(*snap_, v);
    }
    size_t room = height > 4 ? static_cast<size_t>(height - 4) : 0;
    size_t first = 0;
    // Keep the selected alert in view (two header lines above the list).
    if (pane_ == 1 && body.size() > room && room > 0) {
      size_t row = static_cast<size_t>(selected_) + 2;
      if (row >= room) first = row - room + 1;
    }
    for (size_t i = first; i < body.size() && i - first < room; ++i) lines.push_back(body[i]);
    while (lines.size() < static_cast<size_t>(std::max(0, height - 1))) lines.push_back("");
    lines.resize(static_cast<size_t>(std::max(1, height - 1)));
    lines.push_back(BottomLine(width));
    std::string out = "\x1b[H";
    for (size_t i = 0; i < lines.size(); ++i) out += lines[i] + "\x1b[K" + (i + 1 < lines.size() ? "\r\n" : "");
    RawTerminal::Write(out);
  }

  TopOptions o_;
  std::string user_;
  bool color_ = false;
  bool quit_ = false;
  std::optional<status::Snapshot> snap_;
  std::string error_, message_;
  int pane_ = 0, selected_ = 0;
  Mode mode_ = Mode::kNormal;
  std::string input_;
  status::FiringAlert target_;
  Duration duration_{3600000};
};

}  // namespace

int RunTop(const TopOptions& o) {
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    return Fail("vigil top needs a terminal; use `vigil status` in scripts");
  }
  return Top(o).Run();
}

}  // namespace vigil::cli
