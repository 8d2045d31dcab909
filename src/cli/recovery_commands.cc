#include "cli/recovery_commands.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "cli/output.h"
#include "http/client.h"
#include "systemd/control.h"

namespace vigil::cli {
namespace {

using nlohmann::json;
constexpr Duration kTimeout{30000};

Result<json> GetData(const std::string& server, const std::string& path) {
  auto r = http::Get(server, path, kTimeout);
  if (!r.ok()) return r.status();
  if (r->status != 200) return Status::Error(ApiError(*r));
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("data")) return Status::Error("unexpected answer from " + path);
  return j["data"];
}

int Post(const std::string& server, const std::string& op,
         const std::vector<std::pair<std::string, std::string>>& params, const std::string& done) {
  auto r = http::PostForm(server, "/api/v1/recovery/" + op, params, kTimeout);
  if (!r.ok()) return Fail(r.status().message());
  if (r->status != 200) return Fail(ApiError(*r));
  std::printf("%s\n", done.c_str());
  return 0;
}

std::string Str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

TimestampMs TimeOf(const json& j, const char* key) {
  auto t = ParseTime(Str(j, key));
  return t.ok() ? *t : 0;
}

}  // namespace

int ListRecovery(const std::string& server, const std::string& service, bool as_json) {
  std::string path = "/api/v1/recovery?limit=30";
  if (!service.empty()) path += "&service=" + service;
  auto data = GetData(server, path);
  if (!data.ok()) return Fail(data.status().message());
  if (as_json) {
    std::printf("%s\n", data->dump().c_str());
    return 0;
  }
  const json& d = *data;
  std::printf("mode: %s\n", Str(d, "mode").c_str());
  for (auto it = d["pauses"].begin(); it != d["pauses"].end(); ++it) {
    std::printf("paused: %s %s\n", it.key() == "*" ? "every service" : it.key().c_str(),
                it.value().get<std::string>().c_str());
  }
  std::printf("\n%-14s  %-12s  %-7s  %-10s  %s\n", "SERVICE", "PHASE", "BUDGET", "LAST MTTR", "DETAIL");
  for (const auto& s : d["services"]) {
    if (!service.empty() && Str(s, "service") != service) continue;
    char mttr[32] = "-";
    if (s.contains("lastMttrSeconds")) std::snprintf(mttr, sizeof mttr, "%.2fs", s["lastMttrSeconds"].get<double>());
    int left = s["budgetRemaining"].get<int>(), used = s["attemptsInWindow"].get<int>();
    std::printf("%-14s  %-12s  %d/%-5d  %-10s  %s\n", Str(s, "service").c_str(), Str(s, "phase").c_str(), left,
                left + used, mttr, Str(s, "detail").c_str());
  }
  std::printf("\n%-24s  %-12s  %-18s  %-12s  %s\n", "TIME", "SERVICE", "EVENT", "OUTCOME", "DETAIL");
  std::vector<json> entries(d["history"].begin(), d["history"].end());
  std::reverse(entries.begin(), entries.end());  // oldest first, like a log
  for (const auto& e : entries) {
    std::string detail = Str(e, "detail");
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    std::printf("%-24s  %-12s  %-18s  %-12s  %s\n", Str(e, "time").c_str(), Str(e, "service").c_str(),
                (Str(e, "kind") == "action" ? Str(e, "action") : Str(e, "kind")).c_str(), Str(e, "outcome").c_str(),
                detail.c_str());
  }
  return 0;
}

int PauseRecovery(const std::string& server, const std::string& service, const std::string& for_duration) {
  std::vector<std::pair<std::string, std::string>> p{{"service", service.empty() ? "*" : service}};
  if (!for_duration.empty()) {
    if (auto d = ParseDuration(for_duration); !d.ok()) return Fail("--for: " + d.status().message());
    p.emplace_back("for", for_duration);
  }
  std::string who = service.empty() || service == "*" ? "every service" : service;
  return Post(server, "pause", p,
              "recovery paused for " + who + (for_duration.empty() ? " until resumed" : " for " + for_duration));
}

int ResumeRecovery(const std::string& server, const std::string& service) {
  std::string who = service.empty() || service == "*" ? "every service" : service;
  return Post(server, "resume", {{"service", service.empty() ? "*" : service}}, "recovery resumed for " + who);
}

int ResetRecovery(const std::string& server, const std::string& service) {
  return Post(server, "reset", {{"service", service}}, "attempts and escalation of " + service + " forgotten");
}

namespace {

struct Round {
  double detect = -1, notify = -1, recover = -1;
  bool restarted = false;  // stop: vigil restarted a cleanly stopped unit (it must not)
};

double Percentile(std::vector<double> v, double p) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return x < 0; }), v.end());
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string Seconds(double v) {
  if (v < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", v);
  return buf;
}

// The newest audit id, so a round only looks at what happened after it.
Result<int64_t> LastAuditId(const std::string& server, const std::string& service) {
  auto d = GetData(server, "/api/v1/recovery?limit=1&service=" + service);
  if (!d.ok()) return d.status();
  if ((*d)["history"].empty()) return 0;
  return (*d)["history"][0]["id"].get<int64_t>();
}

Result<json> ServiceOf(const std::string& server, const std::string& service) {
  auto d = GetData(server, "/api/v1/recovery?limit=1");
  if (!d.ok()) return d.status();
  for (const auto& s : (*d)["services"]) {
    if (Str(s, "service") == service) return s;
  }
  return Status::Error("vigil does not manage the recovery of \"" + service +
                       "\": only services with `recovery.restart` can be drilled");
}

// Waits until vigil sees the service healthy for `settle` (before a round).
Status WaitHealthy(const std::string& server, const std::string& service, Duration settle, Duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto healthy_since = std::chrono::steady_clock::time_point::max();  // max: not healthy
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = ServiceOf(server, service);
    if (!s.ok()) return s.status();
    auto now = std::chrono::steady_clock::now();
    if (Str(*s, "phase") == "healthy") {
      healthy_since = std::min(healthy_since, now);
      if (now - healthy_since >= settle) return Status::Ok();
    } else {
      healthy_since = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Error(service + " is not healthy in vigil's eyes: not injecting a fault");
}

Result<Round> RunRound(const DrillOptions& o, const std::string& unit, systemd::Bus bus) {
  auto baseline = LastAuditId(o.server, o.service);
  if (!baseline.ok()) return baseline.status();
  auto before = systemd::ReadUnit(bus, unit);
  if (!before.ok()) return before.status();
  if (o.fault != "stop" && before->main_pid == 0) return Status::Error(unit + " has no main process to signal");
  TimestampMs t0 = SystemClock().NowMs();
  if (o.fault == "kill" || o.fault == "hang") {
    if (::kill(static_cast<pid_t>(before->main_pid), o.fault == "kill" ? SIGKILL : SIGSTOP) != 0) {
      return Status::Error("signalling PID " + std::to_string(before->main_pid) + ": " + std::strerror(errno));
    }
  } else {
    auto stopped = systemd::StopUnit(bus, unit, Duration(30000));
    if (!stopped.ok()) return stopped.status();
  }
  Round round;
  auto deadline = std::chrono::steady_clock::now() + o.timeout;
  TimestampMs fault_ms = 0;
  double queued_first = -1;  // the first notification queued after the injection
  auto recovered_seen = std::chrono::steady_clock::time_point::max();  // max: not yet
  // A clean stop must be detected and left alone: watch for a few seconds, then start it again.
  auto stop_watch_end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (round.detect < 0) {
      auto alerts = GetData(o.server, "/api/v1/alerts");
      if (alerts.ok()) {
        for (const auto& a : (*alerts)["alerts"]) {
          if (Str(a, "state") != "firing" || Str(a["labels"], "service") != o.service) continue;
          TimestampMs active = TimeOf(a, "activeAt");
          if (active + 1000 < t0) continue;  // an alert from before the drill
          round.detect = static_cast<double>(std::max<TimestampMs>(active, t0) - t0) / 1000.0;
        }
      }
    }
    if (round.notify < 0) {
      auto n = GetData(o.server, "/api/v1/notifications");
      if (n.ok()) {
        for (const auto& h : (*n)["history"]) {
          if (Str(h, "outcome") != "delivered" || TimeOf(h, "createdAt") < t0) continue;
          double v = static_cast<double>(TimeOf(h, "finishedAt") - t0) / 1000.0;
          if (round.notify < 0 || v < round.notify) round.notify = v;
          // An alert that fired and resolved between two polls still left its notification.
          double queued = static_cast<double>(TimeOf(h, "createdAt") - t0) / 1000.0;
          if (queued_first < 0 || queued < queued_first) queued_first = queued;
        }
      }
    }
    auto d = GetData(o.server, "/api/v1/recovery?limit=50&service=" + o.service);
    if (d.ok()) {
      for (const auto& e : (*d)["history"]) {
        if (e["id"].get<int64_t>() <= *baseline) continue;
        std::string kind = Str(e, "kind");
        if (kind == "fault" && (fault_ms == 0 || TimeOf(e, "time") < fault_ms)) fault_ms = TimeOf(e, "time");
        if (kind == "action" && Str(e, "action") == "restart") round.restarted = true;
        if ((kind == "verified" || kind == "recovered_alone") && round.recover < 0 && fault_ms != 0) {
          double mttr = e.contains("durationSeconds") ? e["durationSeconds"].get<double>() : 0;
          round.recover = std::max(0.0, static_cast<double>(fault_ms - t0) / 1000.0 + mttr);
        }
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (round.recover >= 0) recovered_seen = std::min(recovered_seen, now);
    if (round.detect < 0 && queued_first >= 0 && round.recover >= 0) round.detect = queued_first;
    // A notification may trail the recovery a little; without alerting (or
    // rules for the service) it never comes: wait 5 s for it, no more.
    bool done = o.fault == "stop" ? round.detect >= 0 && now >= stop_watch_end
                                  : round.recover >= 0 && ((round.detect >= 0 && round.notify >= 0) ||
                                                           now - recovered_seen >= std::chrono::seconds(5));
    if (done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (o.fault == "hang") {
    // Leave nothing stopped behind if recovery did not replace the process.
    (void)::kill(static_cast<pid_t>(before->main_pid), SIGCONT);
  }
  if (o.fault == "stop") (void)systemd::RestartUnit(bus, unit, Duration(30000));
  return round;
}

// A disk filled inside a cleanup root with a file the policy may delete.
struct FillPlan {
  std::string path;    // the filler file
  uint64_t bytes = 0;  // how much to write
  double until = 0;    // the policy's target free share
  int64_t age_ms = 0;  // how old the filler claims to be (older_than + a day)
};

Result<FillPlan> PlanFill(const DrillOptions& o) {
  auto d = GetData(o.server, "/api/v1/recovery?limit=1");
  if (!d.ok()) return d.status();
  std::filesystem::path dir = std::filesystem::path(o.service).lexically_normal();
  if (!dir.is_absolute()) return Status::Error("fill-disk needs an absolute directory, got " + o.service);
  const json* policy = nullptr;
  for (const auto& c : (*d)["cleanup"]) {
    for (const auto& root : c["roots"]) {
      std::string r = root.get<std::string>();
      std::string rel = dir.lexically_relative(r).string();
      if (!rel.empty() && rel.rfind("..", 0) != 0) policy = &c;
    }
  }
  if (!policy) {
    return Status::Error(o.service +
                         " is not inside a cleanup root of this vigil: nothing would free it (see recovery.cleanup)");
  }
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return Status::Error("statvfs " + dir.string() + ": " + std::strerror(errno));
  uint64_t size = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  uint64_t avail = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  uint64_t floor = static_cast<uint64_t>((*policy)["below"].get<double>() * static_cast<double>(size));
  uint64_t margin = std::max<uint64_t>(size / 100, 1 << 20);
  FillPlan plan;
  plan.bytes = (avail > floor ? avail - floor : 0) + margin;
  if (plan.bytes > o.max_fill_bytes) {
    return Status::Error("filling " + dir.string() + " below its threshold needs " + std::to_string(plan.bytes >> 20) +
                         " MiB, more than --max-bytes (" + std::to_string(o.max_fill_bytes >> 20) + " MiB)");
  }
  plan.until = (*policy)["until"].get<double>();
  plan.age_ms = static_cast<int64_t>((*policy)["olderThanSeconds"].get<double>() * 1000) + 24LL * 3600 * 1000;
  // A name the policy's first glob matches, so cleanup may delete it.
  std::string name = "vigil-drill-fill";
  if (!(*policy)["match"].empty()) {
    name.clear();
    std::string glob = (*policy)["match"][0].get<std::string>();
    for (size_t i = 0; i < glob.size(); ++i) {
      if (glob[i] == '*') {
        name += "vigil-drill";
      } else if (glob[i] == '?') {
        name += 'x';
      } else if (glob[i] == '[') {
        size_t end = glob.find(']', i + 2);
        name += glob[i + 1] == '!' || glob[i + 1] == '^' ? 'x' : glob[i + 1];
        i = end == std::string::npos ? glob.size() : end;
      } else {
        name += glob[i];
      }
    }
  }
  plan.path = (dir / name).string();
  return plan;
}

double FreeShare(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0 || st.f_blocks == 0) return -1;
  return static_cast<double>(st.f_bavail) / static_cast<double>(st.f_blocks);
}

// Writes the filler, then measures until the cleanup starts (detect) and the
// filesystem is back at the policy's target (recover).
Result<Round> RunFillRound(const DrillOptions& o, const FillPlan& plan) {
  auto baseline = LastAuditId(o.server, "host");
  if (!baseline.ok()) return baseline.status();
  {
    int fd = ::open(plan.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Status::Error("creating " + plan.path + ": " + std::strerror(errno));
    std::vector<char> chunk(1 << 20, '\0');
    uint64_t left = plan.bytes;
    while (left > 0) {
      ssize_t n = ::write(fd, chunk.data(), std::min<uint64_t>(left, chunk.size()));
      if (n <= 0) break;  // the disk is full: that is the point
      left -= static_cast<uint64_t>(n);
    }
    (void)::fsync(fd);
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = (SystemClock().NowMs() - plan.age_ms) / 1000;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    (void)::futimens(fd, times);
    ::close(fd);
  }
  TimestampMs t0 = SystemClock().NowMs();
  Round round;
  auto deadline = std::chrono::steady_clock::now() + o.timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (round.detect < 0) {
      auto d = GetData(o.server, "/api/v1/recovery?limit=20&service=host");
      if (d.ok()) {
        for (const auto& e : (*d)["history"]) {
          if (e["id"].get<int64_t>() > *baseline && Str(e, "action") == "cleanup") {
            round.detect = std::max(0.0, static_cast<double>(TimeOf(e, "time") - t0) / 1000.0);
          }
        }
      }
    }
    if (FreeShare(plan.path.substr(0, plan.path.rfind('/'))) >= plan.until) {
      round.recover = static_cast<double>(SystemClock().NowMs() - t0) / 1000.0;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (void)::unlink(plan.path.c_str());  // never leave the filler behind
  return round;
}

}  // namespace

namespace {

// Runs the rounds (`round` injects and measures one), records each in vigil
// and prints each round and the p50/p99 of each figure.
int RunRounds(const DrillOptions& o, const std::string& target, const std::string& recorded_service,
              const std::function<Result<Round>()>& round) {
  std::vector<Round> rounds;
  for (int i = 0; i < o.rounds; ++i) {
    auto r = round();
    if (!r.ok()) return Fail("round " + std::to_string(i + 1) + ": " + r.status().message());
    rounds.push_back(*r);
    if (!o.as_json) {
      std::printf("round %d: detect %s  notify %s  recover %s%s\n", i + 1, Seconds(r->detect).c_str(),
                  Seconds(r->notify).c_str(), Seconds(r->recover).c_str(),
                  o.fault == "stop" ? (r->restarted ? "  RESTARTED (wrong)" : "  not restarted (right)") : "");
      std::fflush(stdout);
    }
    (void)http::PostForm(o.server, "/api/v1/recovery/drill",
                         {{"service", recorded_service},
                          {"fault", o.fault},
                          {"detect", std::to_string(r->detect)},
                          {"notify", std::to_string(r->notify)},
                          {"recover", std::to_string(r->recover)}},
                         kTimeout);
    // A drill is not a real fault: it must not spend the service's budget.
    if (o.fault != "fill-disk") {
      (void)http::PostForm(o.server, "/api/v1/recovery/reset", {{"service", o.service}}, kTimeout);
    }
  }
  std::vector<double> detect, notify, recover;
  bool wrongly_restarted = false;
  for (const auto& r : rounds) {
    detect.push_back(r.detect);
    notify.push_back(r.notify);
    recover.push_back(r.recover);
    wrongly_restarted = wrongly_restarted || r.restarted;
  }
  bool fill = o.fault == "fill-disk";
  if (o.as_json) {
    json out = {{"service", o.service}, {"fault", o.fault}, {"rounds", json::array()}};
    for (const auto& r : rounds) {
      out["rounds"].push_back({{"detect", r.detect}, {"notify", r.notify}, {"recover", r.recover}});
    }
    for (auto [name, v] :
         {std::pair{"detect", &detect}, std::pair{"notify", &notify}, std::pair{"recover", &recover}}) {
      out[name] = {{"p50", Percentile(*v, 0.5)}, {"p99", Percentile(*v, 0.99)}};
    }
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%d round(s) of %s on %s (%s)\n", o.rounds, o.fault.c_str(), o.service.c_str(), target.c_str());
    std::printf("  detect (%s): p50 %s  p99 %s\n", fill ? "cleanup started  " : "alert firing     ",
                Seconds(Percentile(detect, 0.5)).c_str(), Seconds(Percentile(detect, 0.99)).c_str());
    if (!fill) {
      std::printf("  notify (delivered):     p50 %s  p99 %s\n", Seconds(Percentile(notify, 0.5)).c_str(),
                  Seconds(Percentile(notify, 0.99)).c_str());
    }
    if (o.fault != "stop") {
      std::printf("  recover (%s): p50 %s  p99 %s\n", fill ? "space back       " : "verified healthy ",
                  Seconds(Percentile(recover, 0.5)).c_str(), Seconds(Percentile(recover, 0.99)).c_str());
    }
  }
  if (o.fault == "stop") return wrongly_restarted ? 1 : 0;
  bool all_recovered = std::all_of(recover.begin(), recover.end(), [](double v) { return v >= 0; });
  return all_recovered ? 0 : 1;
}

}  // namespace

int RunDrill(const DrillOptions& o) {
  if (o.fault != "kill" && o.fault != "stop" && o.fault != "hang" && o.fault != "fill-disk") {
    return Fail("unknown fault \"" + o.fault + "\" (kill, stop, hang, fill-disk)");
  }
  if (o.rounds < 1 || o.rounds > 1000) return Fail("--rounds must be from 1 to 1000");
  if (o.fault == "fill-disk") {
    auto plan = PlanFill(o);
    if (!plan.ok()) return Fail(plan.status().message());
    if (!o.yes) {
      std::printf("would write %llu MiB to %s (below the cleanup threshold), %d round(s); add --yes to do it\n",
                  static_cast<unsigned long long>(plan->bytes >> 20), plan->path.c_str(), o.rounds);
      return 2;
    }
    return RunRounds(o, plan->path, "host", [&] { return RunFillRound(o, *plan); });
  }
  auto service = ServiceOf(o.server, o.service);
  if (!service.ok()) return Fail(service.status().message());
  std::string unit = Str(*service, "unit");
  const char* what = o.fault == "kill"   ? "SIGKILL its main process"
                     : o.fault == "hang" ? "SIGSTOP its main process (alive, unresponsive)"
                                         : "stop it cleanly (systemctl stop): vigil must not restart it";
  if (!o.yes) {
    std::printf("would %s: %s of service %s, %d round(s); add --yes to do it\n", what, unit.c_str(), o.service.c_str(),
                o.rounds);
    return 2;
  }
  systemd::Bus bus = o.user_bus ? systemd::Bus::kUser : systemd::Bus::kSystem;
  return RunRounds(o, unit, o.service, [&]() -> Result<Round> {
    if (Status s = WaitHealthy(o.server, o.service, o.settle, o.timeout); !s.ok()) return s;
    return RunRound(o, unit, bus);
  });
}

}  // namespace vigil::cli
