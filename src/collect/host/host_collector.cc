#include "collect/host/host_collector.h"

#include <fcntl.h>
#include <re2/re2.h>
#include <sys/statvfs.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
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

Result<Timex> AdjTimex() {
  struct timex tx {};
  int state = ::adjtimex(&tx);
  if (state < 0) return Status::Error(std::string("adjtimex: ") + std::strerror(errno));
  Timex t;
  t.state = state;
  t.offset = tx.offset;
  t.freq = tx.freq;
  t.maxerror = tx.maxerror;
  t.esterror = tx.esterror;
  t.status = tx.status;
  t.constant = tx.constant;
  t.tick = tx.tick;
  t.ppsfreq = tx.ppsfreq;
  t.jitter = tx.jitter;
  t.shift = tx.shift;
  t.stabil = tx.stabil;
  t.jitcnt = tx.jitcnt;
  t.calcnt = tx.calcnt;
  t.errcnt = tx.errcnt;
  t.stbcnt = tx.stbcnt;
  t.tai = tx.tai;
  return t;
}

// A sysfs directory whose attributes are read with openat(2) and one read(2)
// each (an attribute is at most a page).
class SysfsDir {
 public:
  explicit SysfsDir(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}
  ~SysfsDir() {
    if (fd_ >= 0) ::close(fd_);
  }
  SysfsDir(const SysfsDir&) = delete;
  SysfsDir& operator=(const SysfsDir&) = delete;

  // The attribute's text (valid until the next Read); nullopt when it cannot
  // be read (absent, or EINVAL for `carrier` of a device that is down).
  std::optional<std::string_view> Read(const char* name) {
    if (fd_ < 0) return std::nullopt;
    int fd = ::openat(fd_, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    ssize_t n;
    do {
      n = ::read(fd, buf_, sizeof buf_);
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    if (n < 0) return std::nullopt;
    return std::string_view(buf_, static_cast<size_t>(n));
  }

 private:
  int fd_;
  char buf_[4096];
};

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
    if (!o_.adjtimex) o_.adjtimex = AdjTimex;
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
    vmstat_fields_ = std::make_unique<RE2>("^(oom_kill|pgpg|pswp|pg.*fault).*");  // node_exporter's default
  }

  std::string_view name() const override { return "host"; }

  Status Collect(const CollectContext& ctx, MetricBatch& out) override {
    // Each part reports under node_exporter's collector name, as its
    // node_scrape_collector_* do (the "collector health" panels and alerts).
    std::vector<PartResult> parts;
    auto run = [&](std::initializer_list<const char*> names, auto&& collect) {
      size_t errors = out.errors().size();
      auto start = std::chrono::steady_clock::now();
      bool ok = collect();
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ok = ok && out.errors().size() == errors;
      for (const char* name : names) parts.push_back({name, seconds, ok});
    };
    run({"cpu", "stat"}, [&] { return CollectStat(out); });
    run({"loadavg"}, [&] { return CollectLoad(out); });
    run({"meminfo"}, [&] { return CollectMemInfo(out); });
    run({"filesystem"}, [&] { return CollectFilesystems(out); });
    run({"diskstats"}, [&] { return CollectDiskStats(out); });
    run({"netdev"}, [&] { return CollectNetDev(out); });
    run({"netclass"}, [&] { return CollectNetClass(out); });
    run({"filefd"}, [&] { return CollectFileFd(out); });
    run({"pressure"}, [&] { return CollectPressure(out); });
    run({"sockstat"}, [&] { return CollectSockStat(out); });
    run({"netstat"}, [&] { return CollectNetStat(out); });
    run({"uname"}, [&] { return CollectUname(out); });
    run({"timex"}, [&] { return CollectTimex(out); });
    run({"vmstat"}, [&] { return CollectVmStat(out); });
    run({"softnet"}, [&] { return CollectSoftnet(out); });
    run({"entropy"}, [&] { return CollectEntropy(out); });
    run({"conntrack"}, [&] { return CollectConntrack(out); });
    run({"arp"}, [&] { return CollectArp(out); });
    run({"udp_queues"}, [&] { return CollectUdpQueues(out); });
    run({"time"}, [&] {
      out.AddGauge("node_time_seconds", "System time in seconds since epoch (1970).", {},
                   static_cast<double>(ctx.now_ms) / 1000.0);
      return true;
    });
    if (o_.report_textfile_scrape_error) {
      out.AddGauge("node_textfile_scrape_error", "1 if there was an error opening or reading a file, 0 otherwise", {},
                   0);
    }
    for (const auto& p : parts) {
      out.AddGauge("node_scrape_collector_duration_seconds", "node_exporter: Duration of a collector scrape.",
                   Labels{{"collector", p.name}}, p.seconds);
    }
    for (const auto& p : parts) {
      out.AddGauge("node_scrape_collector_success", "node_exporter: Whether a collector succeeded.",
                   Labels{{"collector", p.name}}, p.ok ? 1 : 0);
    }
    return Status::Ok();
  }

 private:
  struct PartResult {
    const char* name;
    double seconds;
    bool ok;
  };

  // Reads a /proc file; on failure records it and returns nullopt.
  std::optional<std::string> Read(const std::string& relative, MetricBatch& out, bool optional = false) {
    Result<std::string> r = ReadFile(o_.proc_root + "/" + relative);
    if (!r.ok()) {
      if (!optional) out.ReportError("read_failed", r.status().message());
      return std::nullopt;
    }
    return std::move(r).value();
  }

  bool CollectStat(MetricBatch& out) {
    auto text = Read("stat", out);
    if (!text) return false;
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
    return true;
  }

  bool CollectLoad(MetricBatch& out) {
    auto text = Read("loadavg", out);
    if (!text) return false;
    auto l = procfs::ParseLoadAvg(*text);
    if (!l) {
      out.ReportError("parse_failed", "parse " + o_.proc_root + "/loadavg: expected three numbers");
      return false;
    }
    out.AddGauge("node_load1", "1m load average.", {}, l->load1);
    out.AddGauge("node_load5", "5m load average.", {}, l->load5);
    out.AddGauge("node_load15", "15m load average.", {}, l->load15);
    return true;
  }

  bool CollectMemInfo(MetricBatch& out) {
    auto text = Read("meminfo", out);
    if (!text) return false;
    for (const auto& [key, value] : procfs::ParseMemInfo(*text)) {
      out.AddGauge("node_memory_" + key, "Memory information field " + key + ".", {}, value);
    }
    return true;
  }

  bool CollectFilesystems(MetricBatch& out) {
    // PID 1's view is the host's even when vigil runs in its own mount namespace.
    auto text = Read("1/mounts", out, /*optional=*/true);
    if (!text) text = Read("mounts", out);
    if (!text) return false;
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
    return true;
  }

  bool CollectDiskStats(MetricBatch& out) {
    auto text = Read("diskstats", out);
    if (!text) return false;
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
    return true;
  }

  bool CollectNetDev(MetricBatch& out) {
    auto text = Read("net/dev", out);
    if (!text) return false;
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
      // rx_nohandler is not in /proc/net/dev; node_exporter reads it over netlink, the same kernel counter.
      if (auto v = ReadFile(o_.sys_root + "/class/net/" + d.device + "/statistics/rx_nohandler"); v.ok()) {
        if (auto n = ParseDouble(Trim(*v))) {
          out.AddCounter("node_network_receive_nohandler_total", "Network device statistic receive_nohandler.", labels,
                         *n);
        }
      }
    }
    return true;
  }

  // /sys/class/net/<dev>/*: every device (node_exporter's netclass ignores no
  // device by default). An attribute the device does not support (reading
  // `carrier` of a device that is down fails with EINVAL) is left out.
  bool CollectNetClass(MetricBatch& out) {
    std::string root = o_.sys_root + "/class/net";
    std::error_code ec;
    std::vector<std::string> devices;
    for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) continue;  // bonding_masters
      devices.push_back(it->path().filename().string());
    }
    if (ec) {
      // No /sys (a container without it) is no data, not a failure worth an error.
      return false;
    }
    std::sort(devices.begin(), devices.end());
    struct Property {
      const char* file;
      const char* metric;  // after node_network_
      MetricType type;
    };
    static constexpr Property kProperties[] = {
        {"addr_assign_type", "address_assign_type", MetricType::kGauge},
        {"carrier", "carrier", MetricType::kGauge},
        {"carrier_changes", "carrier_changes_total", MetricType::kCounter},
        {"carrier_up_count", "carrier_up_changes_total", MetricType::kCounter},
        {"carrier_down_count", "carrier_down_changes_total", MetricType::kCounter},
        {"dev_id", "device_id", MetricType::kGauge},
        {"dormant", "dormant", MetricType::kGauge},
        {"flags", "flags", MetricType::kGauge},
        {"ifindex", "iface_id", MetricType::kGauge},
        {"iflink", "iface_link", MetricType::kGauge},
        {"link_mode", "iface_link_mode", MetricType::kGauge},
        {"mtu", "mtu_bytes", MetricType::kGauge},
        {"name_assign_type", "name_assign_type", MetricType::kGauge},
        {"netdev_group", "net_dev_group", MetricType::kGauge},
        {"tx_queue_len", "transmit_queue_length", MetricType::kGauge},
        {"type", "protocol_type", MetricType::kGauge},
    };
    for (const auto& device : devices) {
      // ~22 attributes per device, every second: opened relative to the
      // device's directory, so the /sys/class/net/DEV symlink is resolved once.
      SysfsDir dir(root + "/" + device);
      auto text = [&](const char* file) -> std::string { return std::string(Trim(dir.Read(file).value_or(""))); };
      Labels labels{{"device", device}};
      std::string operstate = text("operstate");
      out.AddGauge("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", labels,
                   operstate == "up" ? 1 : 0);
      out.AddGauge("node_network_info", "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
                   Labels{{"address", text("address")},
                          {"broadcast", text("broadcast")},
                          {"device", device},
                          {"duplex", text("duplex")},
                          {"ifalias", text("ifalias")},
                          {"operstate", operstate}},
                   1);
      for (const auto& p : kProperties) {
        std::optional<std::string_view> r = dir.Read(p.file);
        if (!r) continue;
        std::optional<int64_t> v = procfs::ParseSysfsInt(*r);
        if (!v) continue;
        out.Add(std::string("node_network_") + p.metric, std::string("Network device property: ") + p.metric, p.type,
                labels, static_cast<double>(*v));
      }
      // Mbit/s to bytes/s; -1 (unknown, e.g. a virtual NIC) stays visible as node_exporter 1.5 shows it.
      if (std::optional<std::string_view> r = dir.Read("speed")) {
        if (std::optional<int64_t> mbits = procfs::ParseSysfsInt(*r)) {
          out.AddGauge("node_network_speed_bytes", "Network device property: speed_bytes", labels,
                       static_cast<double>(*mbits * 1000 * 1000 / 8));
        }
      }
    }
    return true;
  }

  // adjtimex(2): clock synchronisation (NTP) state, for "clock not synchronising" alerts.
  bool CollectTimex(MetricBatch& out) {
    Result<Timex> r = o_.adjtimex();
    if (!r.ok()) {
      out.ReportError("adjtimex_failed", r.status().message());
      return false;
    }
    const Timex& t = *r;
    constexpr int kTimeError = 5;                 // TIME_ERROR: not synchronised
    constexpr int kStaNano = 0x2000;              // offset and jitter in ns instead of µs
    constexpr double kPpm16Frac = 1e6 * 65536.0;  // freq, ppsfreq and stabil are ppm with a 16-bit fraction
    double divisor = (t.status & kStaNano) ? 1e9 : 1e6;
    auto gauge = [&](const char* name, const char* help, double v) {
      out.AddGauge(std::string("node_timex_") + name, help, {}, v);
    };
    auto counter = [&](const char* name, const char* help, double v) {
      out.AddCounter(std::string("node_timex_") + name, help, {}, v);
    };
    gauge("sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
          t.state == kTimeError ? 0 : 1);
    gauge("offset_seconds", "Time offset in between local system and reference clock.",
          static_cast<double>(t.offset) / divisor);
    gauge("frequency_adjustment_ratio", "Local clock frequency adjustment.",
          1 + static_cast<double>(t.freq) / kPpm16Frac);
    gauge("maxerror_seconds", "Maximum error in seconds.", static_cast<double>(t.maxerror) / 1e6);
    gauge("estimated_error_seconds", "Estimated error in seconds.", static_cast<double>(t.esterror) / 1e6);
    gauge("status", "Value of the status array bits.", t.status);
    gauge("loop_time_constant", "Phase-locked loop time constant.", static_cast<double>(t.constant));
    gauge("tick_seconds", "Seconds between clock ticks.", static_cast<double>(t.tick) / 1e6);
    gauge("pps_frequency_hertz", "Pulse per second frequency.", static_cast<double>(t.ppsfreq) / kPpm16Frac);
    gauge("pps_jitter_seconds", "Pulse per second jitter.", static_cast<double>(t.jitter) / divisor);
    gauge("pps_shift_seconds", "Pulse per second interval duration.", static_cast<double>(t.shift));
    gauge("pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.",
          static_cast<double>(t.stabil) / kPpm16Frac);
    counter("pps_jitter_total", "Pulse per second count of jitter limit exceeded events.",
            static_cast<double>(t.jitcnt));
    counter("pps_calibration_total", "Pulse per second count of calibration intervals.", static_cast<double>(t.calcnt));
    counter("pps_error_total", "Pulse per second count of calibration errors.", static_cast<double>(t.errcnt));
    counter("pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.",
            static_cast<double>(t.stbcnt));
    gauge("tai_offset_seconds", "International Atomic Time (TAI) offset.", static_cast<double>(t.tai));
    return true;
  }

  bool CollectVmStat(MetricBatch& out) {
    auto text = Read("vmstat", out, /*optional=*/true);  // absent: no data (success 0), not an error
    if (!text) return false;
    for (const auto& [key, value] : procfs::ParseVmStat(*text)) {
      auto [it, inserted] = vmstat_keep_.try_emplace(key, false);
      if (inserted) it->second = RE2::PartialMatch(key, *vmstat_fields_);
      if (!it->second) continue;
      out.Add("node_vmstat_" + key, "/proc/vmstat information field " + key + ".", MetricType::kUntyped, {}, value);
    }
    return true;
  }

  bool CollectSoftnet(MetricBatch& out) {
    auto text = Read("net/softnet_stat", out, /*optional=*/true);  // absent: no data (success 0), not an error
    if (!text) return false;
    std::vector<procfs::Softnet> cpus = procfs::ParseSoftnetStat(*text);
    for (size_t i = 0; i < cpus.size(); ++i) {
      Labels cpu{{"cpu", std::to_string(i)}};
      out.AddCounter("node_softnet_processed_total", "Number of processed packets", cpu,
                     static_cast<double>(cpus[i].processed));
      out.AddCounter("node_softnet_dropped_total", "Number of dropped packets", cpu,
                     static_cast<double>(cpus[i].dropped));
      out.AddCounter("node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota", cpu,
                     static_cast<double>(cpus[i].time_squeezed));
    }
    return true;
  }

  // A /proc file holding one integer; nullopt (and no error) when it is absent.
  std::optional<double> ReadNumber(const std::string& relative, MetricBatch& out) {
    auto text = Read(relative, out, /*optional=*/true);
    if (!text) return std::nullopt;
    std::optional<double> v = ParseDouble(Trim(*text));
    if (!v) out.ReportError("parse_failed", "parse " + o_.proc_root + "/" + relative + ": expected a number");
    return v;
  }

  bool CollectEntropy(MetricBatch& out) {
    std::optional<double> avail = ReadNumber("sys/kernel/random/entropy_avail", out);
    std::optional<double> pool = ReadNumber("sys/kernel/random/poolsize", out);
    if (avail) out.AddGauge("node_entropy_available_bits", "Bits of available entropy.", {}, *avail);
    if (pool) out.AddGauge("node_entropy_pool_size_bits", "Bits of entropy pool.", {}, *pool);
    return avail && pool;
  }

  // Only with the nf_conntrack module loaded; without it there is no data, as in node_exporter.
  bool CollectConntrack(MetricBatch& out) {
    std::optional<double> count = ReadNumber("sys/net/netfilter/nf_conntrack_count", out);
    if (!count) return false;
    out.AddGauge("node_nf_conntrack_entries", "Number of currently allocated flow entries for connection tracking.", {},
                 *count);
    if (std::optional<double> max = ReadNumber("sys/net/netfilter/nf_conntrack_max", out)) {
      out.AddGauge("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.", {}, *max);
    }
    auto text = Read("net/stat/nf_conntrack", out, /*optional=*/true);
    if (!text) return true;
    std::map<std::string, uint64_t> stats = procfs::ParseConntrackStat(*text);
    static constexpr std::pair<const char*, const char*> kStats[] = {
        {"found", "Number of searched entries which were successful."},
        {"invalid", "Number of packets seen which can not be tracked."},
        {"ignore", "Number of packets seen which are already connected to a conntrack entry."},
        {"insert", "Number of entries inserted into the list."},
        {"insert_failed", "Number of entries for which list insertion was attempted but failed."},
        {"drop", "Number of packets dropped due to conntrack failure."},
        {"early_drop",
         "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."},
        {"search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."},
    };
    for (const auto& [field, help] : kStats) {
      auto it = stats.find(field);
      out.AddGauge(std::string("node_nf_conntrack_stat_") + field, help, {},
                   it == stats.end() ? 0 : static_cast<double>(it->second));
    }
    return true;
  }

  bool CollectArp(MetricBatch& out) {
    auto text = Read("net/arp", out, /*optional=*/true);  // absent: no data (success 0), not an error
    if (!text) return false;
    for (const auto& [device, count] : procfs::ParseArpEntries(*text)) {
      out.AddGauge("node_arp_entries", "ARP entries by device", Labels{{"device", device}}, static_cast<double>(count));
    }
    return true;
  }

  bool CollectUdpQueues(MetricBatch& out) {
    bool any = false;
    for (auto [file, ip] : {std::pair{"net/udp", "v4"}, std::pair{"net/udp6", "v6"}}) {
      auto text = Read(file, out, /*optional=*/true);  // no IPv6: no v6 series, as node_exporter
      if (!text) continue;
      std::optional<procfs::UdpQueues> q = procfs::ParseUdpQueues(*text);
      if (!q) {
        out.ReportError("parse_failed", "parse " + o_.proc_root + "/" + file + ": no header line");
        continue;
      }
      any = true;
      const char* help = "Number of allocated memory in the kernel for UDP datagrams in bytes.";
      out.AddGauge("node_udp_queues", help, Labels{{"ip", ip}, {"queue", "rx"}}, static_cast<double>(q->rx));
      out.AddGauge("node_udp_queues", help, Labels{{"ip", ip}, {"queue", "tx"}}, static_cast<double>(q->tx));
    }
    return any;
  }

  bool CollectFileFd(MetricBatch& out) {
    auto text = Read("sys/fs/file-nr", out);
    if (!text) return false;
    auto f = procfs::ParseFileNr(*text);
    if (!f) {
      out.ReportError("parse_failed", "parse " + o_.proc_root + "/sys/fs/file-nr: expected three numbers");
      return false;
    }
    out.AddGauge("node_filefd_allocated", "File descriptor statistics: allocated.", {},
                 static_cast<double>(f->allocated));
    out.AddGauge("node_filefd_maximum", "File descriptor statistics: maximum.", {}, static_cast<double>(f->maximum));
    return true;
  }

  bool CollectPressure(MetricBatch& out) {
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
    return true;
  }

  bool CollectSockStat(MetricBatch& out) {
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
    return true;
  }

  bool CollectNetStat(MetricBatch& out) {
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
    return true;
  }

  bool CollectUname(MetricBatch& out) {
    struct utsname u {};
    if (::uname(&u) != 0) {
      out.ReportError("uname_failed", std::string("uname: ") + std::strerror(errno));
      return false;
    }
    out.AddGauge("node_uname_info", "Labeled system information as provided by the uname system call.",
                 Labels{{"domainname", u.domainname},
                        {"machine", u.machine},
                        {"nodename", u.nodename},
                        {"release", u.release},
                        {"sysname", u.sysname},
                        {"version", u.version}},
                 1);
    return true;
  }

  HostCollectorOptions o_;
  std::unordered_map<std::string, bool> netstat_keep_, vmstat_keep_;
  std::unique_ptr<RE2> exclude_mountpoints_, exclude_fstypes_, exclude_disks_, exclude_netdevs_, netstat_fields_,
      vmstat_fields_;
};

}  // namespace

std::unique_ptr<Collector> NewHostCollector(HostCollectorOptions options) {
  return std::make_unique<HostCollector>(std::move(options));
}

}  // namespace vigil::collect
