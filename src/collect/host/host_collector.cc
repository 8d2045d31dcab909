#include "collect/host/host_collector.h"

#include <re2/re2.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <tuple>
#include <unordered_map>

#include "base/file.h"
#include "base/strings.h"
#include "collect/host/procfs.h"

namespace vigil::collect {
namespace {

Result<FsUsage> StatVfs(const std::string& mountpoint) {
  struct statvfs st {};
  if (::statvfs(mountpoint.c_str(), &st) != 0) {
    return Status::Error("statvfs " + mountpoint + ": " + std::strerror(errno));
  }
  FsUsage u;
  u.size_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  u.free_bytes = static_cast<uint64_t>(st.f_bfree) * st.f_frsize;
  u.avail_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  u.files = st.f_files;
  u.files_free = st.f_ffree;
  u.readonly = (st.f_flag & ST_RDONLY) != 0;
  return u;
}

std::unique_ptr<RE2> CompileOrNull(const std::string& pattern) {
  if (pattern.empty()) return nullptr;
  auto re = std::make_unique<RE2>(pattern, RE2::Quiet);
  return re->ok() ? std::move(re) : nullptr;  // config validation already rejected bad patterns
}

bool Excluded(const std::unique_ptr<RE2>& re, const std::string& value) {
  return re != nullptr && RE2::PartialMatch(value, *re);
}

class HostCollector final : public Collector {
 public:
  explicit HostCollector(HostCollectorOptions o) : o_(std::move(o)) {
    if (!o_.statfs) o_.statfs = StatVfs;
    if (o_.clock_ticks_per_second <= 0) o_.clock_ticks_per_second = ::sysconf(_SC_CLK_TCK);
    if (o_.page_size <= 0) o_.page_size = ::sysconf(_SC_PAGESIZE);
    exclude_mountpoints_ = CompileOrNull(o_.exclude_mountpoints);
    exclude_fstypes_ = CompileOrNull(o_.exclude_fstypes);
    exclude_disks_ = CompileOrNull(o_.exclude_disks);
    exclude_netdevs_ = CompileOrNull(o_.exclude_network_devices);
    netstat_fields_ = std::make_unique<RE2>(
        "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
        "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|"
        "Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"
        "Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$");
  }

  std::string_view name() const override { return "host"; }

  Status Collect(const CollectContext& ctx, MetricBatch& out) override {
    CollectStat(out);
    CollectLoad(out);
    CollectMemInfo(out);
    CollectFilesystems(out);
    CollectDiskStats(out);
    CollectNetDev(out);
    CollectFileFd(out);
    CollectPressure(out);
    CollectSockStat(out);
    CollectNetStat(out);
    CollectUname(out);
    out.AddGauge("node_time_seconds", "System time in seconds since epoch (1970).", {},
                 static_cast<double>(ctx.now_ms) / 1000.0);
    return Status::Ok();
  }

 private:
  // Reads a /proc file; on failure records it and returns nullopt.
  std::optional<std::string> Read(const std::string& relative, MetricBatch& out, bool optional = false) {
    Result<std::string> r = ReadFile(o_.proc_root + "/" + relative);
    if (!r.ok()) {
      if (!optional) out.ReportError("read_failed", r.status().message());
      return std::nullopt;
    }
    return std::move(r).value();
  }

  void CollectStat(MetricBatch& out) {
    auto text = Read("stat", out);
    if (!text) return;
    procfs::Stat s = procfs::ParseStat(*text);
    static constexpr const char* kModes[] = {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"};
    double hz = static_cast<double>(o_.clock_ticks_per_second);
    for (const auto& c : s.cpus) {
      for (int m = 0; m < 8; ++m) {
        out.AddCounter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                       Labels{{"cpu", c.cpu}, {"mode", kModes[m]}}, static_cast<double>(c.ticks[m]) / hz);
      }
      out.AddCounter("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.",
                     Labels{{"cpu", c.cpu}, {"mode", "user"}}, static_cast<double>(c.ticks[8]) / hz);
      out.AddCounter("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.",
                     Labels{{"cpu", c.cpu}, {"mode", "nice"}}, static_cast<double>(c.ticks[9]) / hz);
    }
    auto add = [&](const char* name, const char* help, MetricType type, const std::optional<uint64_t>& v) {
      if (v) out.Add(name, help, type, {}, static_cast<double>(*v));
    };
    add("node_boot_time_seconds", "Node boot time, in unixtime.", MetricType::kGauge, s.boot_time);
    add("node_context_switches_total", "Total number of context switches.", MetricType::kCounter, s.context_switches);
    add("node_forks_total", "Total number of forks.", MetricType::kCounter, s.forks);
    add("node_intr_total", "Total number of interrupts serviced.", MetricType::kCounter, s.interrupts);
    add("node_procs_running", "Number of processes in runnable state.", MetricType::kGauge, s.procs_running);
    add("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.", MetricType::kGauge,
        s.procs_blocked);
  }

  void CollectLoad(MetricBatch& out) {
    auto text = Read("loadavg", out);
    if (!text) return;
    auto l = procfs::ParseLoadAvg(*text);
    if (!l) {
      out.ReportError("parse_failed", "parse " + o_.proc_root + "/loadavg: expected three numbers");
      return;
    }
    out.AddGauge("node_load1", "1m load average.", {}, l->load1);
    out.AddGauge("node_load5", "5m load average.", {}, l->load5);
    out.AddGauge("node_load15", "15m load average.", {}, l->load15);
  }

  void CollectMemInfo(MetricBatch& out) {
    auto text = Read("meminfo", out);
    if (!text) return;
    for (const auto& [key, value] : procfs::ParseMemInfo(*text)) {
      out.AddGauge("node_memory_" + key, "Memory information field " + key + ".", {}, value);
    }
  }

  void CollectFilesystems(MetricBatch& out) {
    // PID 1's view is the host's even when vigil runs in its own mount namespace.
    auto text = Read("1/mounts", out, /*optional=*/true);
    if (!text) text = Read("mounts", out);
    if (!text) return;
    std::set<std::tuple<std::string, std::string, std::string>> seen;
    for (const auto& m : procfs::ParseMounts(*text)) {
      if (Excluded(exclude_mountpoints_, m.mountpoint) || Excluded(exclude_fstypes_, m.fstype)) continue;
      if (!seen.emplace(m.device, m.mountpoint, m.fstype).second) continue;
      Labels labels{{"device", m.device}, {"fstype", m.fstype}, {"mountpoint", m.mountpoint}};
      Result<FsUsage> u = o_.statfs(m.mountpoint);
      out.AddGauge("node_filesystem_device_error",
                   "Whether an error occurred while getting statistics for the given device.", labels, u.ok() ? 0 : 1);
      if (!u.ok()) {
        out.ReportError("statfs_failed", u.status().message());
        continue;
      }
      out.AddGauge("node_filesystem_size_bytes", "Filesystem size in bytes.", labels,
                   static_cast<double>(u->size_bytes));
      out.AddGauge("node_filesystem_free_bytes", "Filesystem free space in bytes.", labels,
                   static_cast<double>(u->free_bytes));
      out.AddGauge("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", labels,
                   static_cast<double>(u->avail_bytes));
      out.AddGauge("node_filesystem_files", "Filesystem total file nodes.", labels, static_cast<double>(u->files));
      out.AddGauge("node_filesystem_files_free", "Filesystem total free file nodes.", labels,
                   static_cast<double>(u->files_free));
      out.AddGauge("node_filesystem_readonly", "Filesystem read-only status.", labels, u->readonly ? 1 : 0);
    }
  }

  void CollectDiskStats(MetricBatch& out) {
    auto text = Read("diskstats", out);
    if (!text) return;
    struct Field {
      const char* name;
      const char* help;
      double scale;
      MetricType type;
    };
    static constexpr Field kFields[] = {
        {"node_disk_reads_completed_total", "The total number of reads completed successfully.", 1,
         MetricType::kCounter},
        {"node_disk_reads_merged_total", "The total number of reads merged.", 1, MetricType::kCounter},
        {"node_disk_read_bytes_total", "The total number of bytes read successfully.", 512, MetricType::kCounter},
        {"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", 0.001,
         MetricType::kCounter},
        {"node_disk_writes_completed_total", "The total number of writes completed successfully.", 1,
         MetricType::kCounter},
        {"node_disk_writes_merged_total", "The number of writes merged.", 1, MetricType::kCounter},
        {"node_disk_written_bytes_total", "The total number of bytes written successfully.", 512, MetricType::kCounter},
        {"node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", 0.001,
         MetricType::kCounter},
        {"node_disk_io_now", "The number of I/Os currently in progress.", 1, MetricType::kGauge},
        {"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", 0.001, MetricType::kCounter},
        {"node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", 0.001,
         MetricType::kCounter},
        {"node_disk_discards_completed_total", "The total number of discards completed successfully.", 1,
         MetricType::kCounter},
        {"node_disk_discards_merged_total", "The total number of discards merged.", 1, MetricType::kCounter},
        {"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.", 1,
         MetricType::kCounter},
        {"node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards.", 0.001,
         MetricType::kCounter},
        {"node_disk_flush_requests_total", "The total number of flush requests completed successfully", 1,
         MetricType::kCounter},
        {"node_disk_flush_requests_time_seconds_total",
         "This is the total number of seconds spent by all flush requests.", 0.001, MetricType::kCounter},
    };
    for (const auto& d : procfs::ParseDiskStats(*text)) {
      if (Excluded(exclude_disks_, d.device)) continue;
      for (size_t i = 0; i < d.fields.size() && i < std::size(kFields); ++i) {
        const Field& f = kFields[i];
        out.Add(f.name, f.help, f.type, Labels{{"device", d.device}}, static_cast<double>(d.fields[i]) * f.scale);
      }
    }
  }

  void CollectNetDev(MetricBatch& out) {
    auto text = Read("net/dev", out);
    if (!text) return;
    static constexpr const char* kReceive[] = {"bytes", "packets", "errs",       "drop",
                                               "fifo",  "frame",   "compressed", "multicast"};
    static constexpr const char* kTransmit[] = {"bytes", "packets", "errs",    "drop",
                                                "fifo",  "colls",   "carrier", "compressed"};
    for (const auto& d : procfs::ParseNetDev(*text)) {
      if (Excluded(exclude_netdevs_, d.device)) continue;
      Labels labels{{"device", d.device}};
      for (int i = 0; i < 8; ++i) {
        std::string r = std::string("node_network_receive_") + kReceive[i] + "_total";
        out.AddCounter(r, std::string("Network device statistic receive_") + kReceive[i] + ".", labels,
                       static_cast<double>(d.receive[i]));
        std::string t = std::string("node_network_transmit_") + kTransmit[i] + "_total";
        out.AddCounter(t, std::string("Network device statistic transmit_") + kTransmit[i] + ".", labels,
                       static_cast<double>(d.transmit[i]));
      }
      CollectNetClass(d.device, labels, out);
    }
  }

  // /sys/class/net/<dev>: link state and MTU, which alert rules use for "interface down".
  void CollectNetClass(const std::string& device, const Labels& labels, MetricBatch& out) {
    std::string dir = o_.sys_root + "/class/net/" + device + "/";
    if (auto state = ReadFile(dir + "operstate"); state.ok()) {
      out.AddGauge("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", labels,
                   Trim(*state) == "up" ? 1 : 0);
    }
    if (auto mtu = ReadFile(dir + "mtu"); mtu.ok()) {
      if (auto v = ParseDouble(Trim(*mtu))) {
        out.AddGauge("node_network_mtu_bytes", "Network device property: mtu_bytes", labels, *v);
      }
    }
  }

  void CollectFileFd(MetricBatch& out) {
    auto text = Read("sys/fs/file-nr", out);
    if (!text) return;
    auto f = procfs::ParseFileNr(*text);
    if (!f) {
      out.ReportError("parse_failed", "parse " + o_.proc_root + "/sys/fs/file-nr: expected three numbers");
      return;
    }
    out.AddGauge("node_filefd_allocated", "File descriptor statistics: allocated.", {},
                 static_cast<double>(f->allocated));
    out.AddGauge("node_filefd_maximum", "File descriptor statistics: maximum.", {}, static_cast<double>(f->maximum));
  }

  void CollectPressure(MetricBatch& out) {
    struct Item {
      const char* file;
      const char* some_name;
      const char* some_help;
      const char* full_name;
      const char* full_help;
    };
    static constexpr Item kItems[] = {
        {"cpu", "node_pressure_cpu_waiting_seconds_total",
         "Total time in seconds that processes have waited for CPU time", nullptr, nullptr},
        {"io", "node_pressure_io_waiting_seconds_total",
         "Total time in seconds that processes have waited due to IO congestion",
         "node_pressure_io_stalled_seconds_total",
         "Total time in seconds no process could make progress due to IO congestion"},
        {"memory", "node_pressure_memory_waiting_seconds_total",
         "Total time in seconds that processes have waited for memory", "node_pressure_memory_stalled_seconds_total",
         "Total time in seconds no process could make progress due to memory congestion"},
    };
    for (const auto& item : kItems) {
      // Kernels without PSI (or with it disabled) have no such files: not an error.
      auto text = Read(std::string("pressure/") + item.file, out, /*optional=*/true);
      if (!text) continue;
      procfs::Pressure p = procfs::ParsePressure(*text);
      if (p.some_total_us)
        out.AddCounter(item.some_name, item.some_help, {}, static_cast<double>(*p.some_total_us) / 1e6);
      if (item.full_name && p.full_total_us) {
        out.AddCounter(item.full_name, item.full_help, {}, static_cast<double>(*p.full_total_us) / 1e6);
      }
    }
  }

  void CollectSockStat(MetricBatch& out) {
    for (const char* file : {"net/sockstat", "net/sockstat6"}) {
      auto text = Read(file, out, /*optional=*/std::string_view(file) == "net/sockstat6");
      if (!text) continue;
      for (const auto& [proto, fields] : procfs::ParseSockStat(*text)) {
        for (const auto& [field, value] : fields) {
          if (proto == "sockets") {
            out.AddGauge("node_sockstat_sockets_" + field, "Number of IPv4 sockets in use.", {},
                         static_cast<double>(value));
            continue;
          }
          std::string name = "node_sockstat_" + proto + "_" + field;
          out.AddGauge(name, "Number of " + proto + " sockets in state " + field + ".", {}, static_cast<double>(value));
          if (field == "mem") {
            out.AddGauge(name + "_bytes", "Number of " + proto + " sockets in state mem_bytes.", {},
                         static_cast<double>(value) * static_cast<double>(o_.page_size));
          }
        }
      }
    }
  }

  void CollectNetStat(MetricBatch& out) {
    std::vector<std::pair<std::string, double>> stats;
    for (const char* file : {"net/netstat", "net/snmp"}) {
      if (auto text = Read(file, out)) {
        auto parsed = procfs::ParseNetStat(*text);
        stats.insert(stats.end(), parsed.begin(), parsed.end());
      }
    }
    if (auto text = Read("net/snmp6", out, /*optional=*/true)) {
      auto parsed = procfs::ParseSnmp6(*text);
      stats.insert(stats.end(), parsed.begin(), parsed.end());
    }
    for (const auto& [key, value] : stats) {
      // The kernel's set of keys is fixed, so each key is matched once.
      auto [it, inserted] = netstat_keep_.try_emplace(key, false);
      if (inserted) it->second = RE2::FullMatch(key, *netstat_fields_);
      if (!it->second) continue;
      out.Add("node_netstat_" + key, "Statistic " + key + ".", MetricType::kUntyped, {}, value);
    }
  }

  void CollectUname(MetricBatch& out) {
    struct utsname u {};
    if (::uname(&u) != 0) {
      out.ReportError("uname_failed", std::string("uname: ") + std::strerror(errno));
      return;
    }
    out.AddGauge("node_uname_info", "Labeled system information as provided by the uname system call.",
                 Labels{{"domainname", u.domainname},
                        {"machine", u.machine},
                        {"nodename", u.nodename},
                        {"release", u.release},
                        {"sysname", u.sysname},
                        {"version", u.version}},
                 1);
  }

  HostCollectorOptions o_;
  std::unordered_map<std::string, bool> netstat_keep_;
  std::unique_ptr<RE2> exclude_mountpoints_, exclude_fstypes_, exclude_disks_, exclude_netdevs_, netstat_fields_;
};

}  // namespace

std::unique_ptr<Collector> NewHostCollector(HostCollectorOptions options) {
  return std::make_unique<HostCollector>(std::move(options));
}

}  // namespace vigil::collect
