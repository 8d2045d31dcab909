#include "collect/self/self_collector.h"

#include <dirent.h>
#include <unistd.h>

#include <optional>

#include "base/file.h"
#include "base/strings.h"
#include "collect/host/procfs.h"

namespace vigil::collect {
namespace {

class SelfCollector final : public Collector {
 public:
  SelfCollector(BuildInfo build, std::function<void(MetricBatch&)> extra, std::string proc_root)
      : build_(std::move(build)),
        extra_(std::move(extra)),
        proc_root_(std::move(proc_root)),
        hz_(static_cast<double>(::sysconf(_SC_CLK_TCK))),
        page_size_(static_cast<double>(::sysconf(_SC_PAGESIZE))) {}

  std::string_view name() const override { return "self"; }

  Status Collect(const CollectContext&, MetricBatch& out) override {
    if (extra_) extra_(out);
    out.AddGauge("vigil_build_info",
                 "A metric with a constant '1' value labeled by vigil's version, revision and compiler.",
                 Labels{{"compiler", build_.compiler}, {"revision", build_.revision}, {"version", build_.version}}, 1);
    Result<std::string> stat = ReadFile(proc_root_ + "/self/stat");
    if (!stat.ok()) return stat.status();
    // The command name is in parentheses and may itself contain spaces or ')'.
    size_t close = stat->rfind(')');
    if (close == std::string::npos) return Status::Error("parse " + proc_root_ + "/self/stat: no command name");
    auto f = SplitFields(std::string_view(*stat).substr(close + 1));
    // f[0] is field 3 (state); field N is f[N-3].
    if (f.size() < 22) return Status::Error("parse " + proc_root_ + "/self/stat: too few fields");
    double utime = ParseDouble(f[11]).value_or(0), stime = ParseDouble(f[12]).value_or(0);
    double start_ticks = ParseDouble(f[19]).value_or(0);
    out.AddCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {},
                   (utime + stime) / hz_);
    out.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {}, ParseDouble(f[20]).value_or(0));
    out.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
                 ParseDouble(f[21]).value_or(0) * page_size_);
    if (auto host_stat = ReadFile(proc_root_ + "/stat"); host_stat.ok()) {
      if (auto boot = procfs::ParseStat(*host_stat).boot_time) {
        out.AddGauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", {},
                     static_cast<double>(*boot) + start_ticks / hz_);
      }
    }
    out.AddGauge("process_threads", "Number of OS threads in the process.", {}, ParseDouble(f[17]).value_or(0));
    if (DIR* dir = ::opendir((proc_root_ + "/self/fd").c_str())) {
      int n = 0;
      while (struct dirent* ent = ::readdir(dir)) {
        if (ent->d_name[0] != '.') ++n;
      }
      ::closedir(dir);
      out.AddGauge("process_open_fds", "Number of open file descriptors.", {}, n - 1);  // minus the one reading the dir
    }
    if (auto limits = ReadFile(proc_root_ + "/self/limits"); limits.ok()) {
      // "Max open files  1024  4096  files": the soft limit; "unlimited" is 2^64-1, as client_golang reports it.
      auto soft_limit = [](std::string_view rest) -> std::optional<double> {
        auto fields = SplitFields(rest);
        if (fields.empty()) return std::nullopt;
        if (fields[0] == "unlimited") return 18446744073709551615.0;
        return ParseDouble(fields[0]);
      };
      ForEachLine(*limits, [&](std::string_view line) {
        if (StartsWith(line, "Max open files")) {
          if (auto v = soft_limit(line.substr(14))) {
            out.AddGauge("process_max_fds", "Maximum number of open file descriptors.", {}, *v);
          }
        } else if (StartsWith(line, "Max address space")) {
          if (auto v = soft_limit(line.substr(17))) {
            out.AddGauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", {},
                         *v);
          }
        }
      });
    }
    return Status::Ok();
  }

 private:
  BuildInfo build_;
  std::function<void(MetricBatch&)> extra_;
  std::string proc_root_;
  double hz_;
  double page_size_;
};

}  // namespace

std::unique_ptr<Collector> NewSelfCollector(BuildInfo build, std::function<void(MetricBatch&)> extra,
                                            std::string proc_root) {
  return std::make_unique<SelfCollector>(std::move(build), std::move(extra), std::move(proc_root));
}

}  // namespace vigil::collect
