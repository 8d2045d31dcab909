#include "process/process.h"

#include <dirent.h>
#include <re2/re2.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "base/file.h"
#include "base/strings.h"

namespace vigil::process {

std::optional<ProcStat> ParseStat(std::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  ProcStat s;
  s.comm = std::string(text.substr(open + 1, close - open - 1));
  auto f = SplitFields(text.substr(close + 1));
  // f[0] is field 3 (state); field N is f[N-3].
  if (f.size() < 22 || f[0].size() != 1) return std::nullopt;
  s.state = f[0][0];
  auto utime = ParseUint64(f[11]), stime = ParseUint64(f[12]), start = ParseUint64(f[19]), rss = ParseUint64(f[21]);
  auto threads = ParseInt64(f[17]);
  if (!utime || !stime || !start || !threads) return std::nullopt;
  s.utime_ticks = *utime;
  s.stime_ticks = *stime;
  s.start_ticks = *start;
  s.threads = *threads;
  s.rss_pages = rss.value_or(0);  // negative in rare kernel races: treat as 0
  return s;
}

std::optional<uint64_t> ParseMaxOpenFiles(std::string_view limits) {
  std::optional<uint64_t> out;
  ForEachLine(limits, [&](std::string_view line) {
    if (!StartsWith(line, "Max open files")) return;
    auto fields = SplitFields(line.substr(14));
    if (!fields.empty()) out = ParseUint64(fields[0]);
  });
  return out;
}

std::string CmdlineToString(std::string_view raw) {
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  std::string s(raw);
  for (char& ch : s) {
    if (ch == '\0') ch = ' ';
  }
  return s;
}

namespace {

struct Matcher {
  ServiceProcesses config;
  std::unique_ptr<RE2> re;
  std::string last_main_comm;  // for services without `match`: the unit's main process name
};

class ProcessCollector final : public collect::Collector {
 public:
  explicit ProcessCollector(ProcessCollectorOptions o) : o_(std::move(o)) {
    hz_ = static_cast<double>(o_.clock_ticks_per_second > 0 ? o_.clock_ticks_per_second : ::sysconf(_SC_CLK_TCK));
    page_ = static_cast<double>(o_.page_size > 0 ? o_.page_size : ::sysconf(_SC_PAGESIZE));
    for (const auto& s : o_.services) {
      Matcher m{s, nullptr, {}};
      if (!s.match.empty()) m.re = std::make_unique<RE2>(s.match, RE2::Quiet);
      matchers_.push_back(std::move(m));
    }
  }

  std::string_view name() const override { return "process"; }

  Status Collect(const collect::CollectContext&, MetricBatch& out) override {
    std::optional<double> boot = BootTime();
    // pid -> (service, unit); a main PID keeps its unit label.
    std::map<std::pair<std::string, uint32_t>, std::string> selected;
    std::vector<UnitProcess> mains = o_.main_processes ? o_.main_processes() : std::vector<UnitProcess>{};
    for (const auto& m : mains) {
      selected[{m.service, m.pid}] = m.unit;
      for (auto& matcher : matchers_) {
        if (matcher.config.service != m.service || matcher.re) continue;
        if (auto comm = ReadFile(Path(m.pid, "comm")); comm.ok()) matcher.last_main_comm = std::string(Trim(*comm));
      }
    }
    std::map<std::string, int> counts;
    for (const auto& m : matchers_) counts[m.config.service] = 0;
    if (!matchers_.empty()) {
      DIR* dir = ::opendir(o_.proc_root.c_str());
      if (dir == nullptr) return Status::Error("open " + o_.proc_root + ": " + std::strerror(errno));
      while (struct dirent* ent = ::readdir(dir)) {
        auto pid = ParseUint64(ent->d_name);
        if (!pid) continue;
        auto comm = ReadFile(Path(*pid, "comm"));
        if (!comm.ok()) continue;  // exited meanwhile
        std::string_view name = Trim(*comm);
        std::optional<std::string> cmdline;
        for (auto& m : matchers_) {
          bool hit = false;
          if (m.re) {
            if (!cmdline) {
              auto raw = ReadFile(Path(*pid, "cmdline"));
              cmdline = raw.ok() ? CmdlineToString(*raw) : "";
            }
            // Kernel threads have an empty cmdline; only their comm can match.
            hit = (!cmdline->empty() && RE2::PartialMatch(*cmdline, *m.re)) || RE2::PartialMatch(name, *m.re);
          } else {
            hit = !m.last_main_comm.empty() && name == m.last_main_comm;
          }
          if (!hit) continue;
          ++counts[m.config.service];
          selected.try_emplace({m.config.service, static_cast<uint32_t>(*pid)}, "");
        }
      }
      ::closedir(dir);
    }
    for (const auto& [key, unit] : selected) Emit(key.first, unit, key.second, boot, out);
    for (const auto& m : matchers_) {
      Labels l{{"service", m.config.service}};
      out.AddGauge("vigil_service_processes", "Processes matching the service's processes.match.", l,
                   counts[m.config.service]);
      if (m.config.expect) {
        out.AddGauge("vigil_service_processes_expected", "How many processes the service should have (expect).", l,
                     *m.config.expect);
      }
    }
    return Status::Ok();
  }

 private:
  std::string Path(uint64_t pid, const char* file) const {
    return o_.proc_root + "/" + std::to_string(pid) + "/" + file;
  }

  std::optional<double> BootTime() const {
    auto stat = ReadFile(o_.proc_root + "/stat");
    if (!stat.ok()) return std::nullopt;
    std::optional<double> boot;
    ForEachLine(*stat, [&](std::string_view line) {
      if (StartsWith(line, "btime ")) boot = ParseDouble(Trim(line.substr(6)));
    });
    return boot;
  }

  void Emit(const std::string& service, const std::string& unit, uint32_t pid, std::optional<double> boot,
            MetricBatch& out) {
    auto text = ReadFile(Path(pid, "stat"));
    if (!text.ok()) return;  // exited between listing and reading
    auto st = ParseStat(*text);
    if (!st) {
      out.ReportError("parse_failed", "parse " + Path(pid, "stat"), std::to_string(pid));
      return;
    }
    Labels l{{"pid", std::to_string(pid)}};
    l.Set("service", service);
    l.Set("unit", unit);
    out.AddCounter("vigil_process_cpu_seconds_total", "User and system CPU time of the process in seconds.", l,
                   static_cast<double>(st->utime_ticks + st->stime_ticks) / hz_);
    out.AddGauge("vigil_process_resident_memory_bytes", "Resident memory of the process in bytes.", l,
                 static_cast<double>(st->rss_pages) * page_);
    out.AddGauge("vigil_process_threads", "Threads of the process.", l, static_cast<double>(st->threads));
    if (boot) {
      out.AddGauge("vigil_process_start_time_seconds", "Start time of the process, Unix time.", l,
                   *boot + static_cast<double>(st->start_ticks) / hz_);
    }
    // Reading another user's fds needs privileges; without them the fd series are absent.
    if (DIR* dir = ::opendir(Path(pid, "fd").c_str())) {
      int n = 0;
      while (struct dirent* ent = ::readdir(dir)) {
        if (ent->d_name[0] != '.') ++n;
      }
      ::closedir(dir);
      out.AddGauge("vigil_process_open_fds", "Open file descriptors of the process.", l, n);
    }
    if (auto limits = ReadFile(Path(pid, "limits")); limits.ok()) {
      if (auto max = ParseMaxOpenFiles(*limits)) {
        out.AddGauge("vigil_process_max_fds", "Soft limit of open file descriptors of the process.", l,
                     static_cast<double>(*max));
      }
    }
  }

  ProcessCollectorOptions o_;
  std::vector<Matcher> matchers_;
  double hz_ = 100, page_ = 4096;
};

}  // namespace

std::unique_ptr<collect::Collector> NewProcessCollector(ProcessCollectorOptions options) {
  return std::make_unique<ProcessCollector>(std::move(options));
}

}  // namespace vigil::process
