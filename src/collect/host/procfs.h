// Parsers for the /proc files the host collector reads. Each takes the file's
// text and returns what it understood; malformed lines are skipped, never fatal,
// so a kernel with extra or missing fields still yields everything else.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::collect::procfs {

// /proc/stat
struct CpuTimes {
  std::string cpu;  // "0", "1", …
  // In USER_HZ ticks: user nice system idle iowait irq softirq steal guest guest_nice.
  uint64_t ticks[10] = {};
};
struct Stat {
  std::vector<CpuTimes> cpus;
  std::optional<uint64_t> boot_time;
  std::optional<uint64_t> context_switches;
  std::optional<uint64_t> forks;
  std::optional<uint64_t> interrupts;
  std::optional<uint64_t> procs_running;
  std::optional<uint64_t> procs_blocked;
};
Stat ParseStat(std::string_view text);

// /proc/loadavg
struct LoadAvg {
  double load1 = 0, load5 = 0, load15 = 0;
};
std::optional<LoadAvg> ParseLoadAvg(std::string_view text);

// /proc/meminfo, already in node_exporter's naming: "MemTotal_bytes",
// "Active_anon_bytes", "HugePages_Total" (no unit) with values in bytes.
std::vector<std::pair<std::string, double>> ParseMemInfo(std::string_view text);

// /proc/mounts (and /proc/1/mounts), octal escapes (\040 …) decoded.
struct Mount {
  std::string device, mountpoint, fstype, options;
};
std::vector<Mount> ParseMounts(std::string_view text);
std::string UnescapeMountField(std::string_view field);

// /proc/diskstats
struct DiskStats {
  std::string device;
  uint32_t major = 0, minor = 0;
  // Fields after the name, in kernel order (4.18+ has 15, 5.5+ has 17).
  std::vector<uint64_t> fields;
};
std::vector<DiskStats> ParseDiskStats(std::string_view text);

// /proc/net/dev
struct NetDev {
  std::string device;
  // receive: bytes packets errs drop fifo frame compressed multicast;
  // transmit: bytes packets errs drop fifo colls carrier compressed.
  uint64_t receive[8] = {};
  uint64_t transmit[8] = {};
};
std::vector<NetDev> ParseNetDev(std::string_view text);

// /proc/sys/fs/file-nr: allocated, unused, maximum.
struct FileNr {
  uint64_t allocated = 0, maximum = 0;
};
std::optional<FileNr> ParseFileNr(std::string_view text);

// /proc/pressure/{cpu,io,memory}: total stall time in microseconds.
struct Pressure {
  std::optional<uint64_t> some_total_us;
  std::optional<uint64_t> full_total_us;
};
Pressure ParsePressure(std::string_view text);

// /proc/net/sockstat and sockstat6: {"TCP", {{"inuse", 4}, …}}, {"sockets", {{"used", 15}}}.
std::map<std::string, std::map<std::string, uint64_t>> ParseSockStat(std::string_view text);

// /proc/net/snmp and /proc/net/netstat (header line + value line per protocol)
// and /proc/net/snmp6 ("Ip6InReceives 123"): {"Tcp_CurrEstab", 3}, {"Ip6_InReceives", …}.
std::vector<std::pair<std::string, double>> ParseNetStat(std::string_view text);
std::vector<std::pair<std::string, double>> ParseSnmp6(std::string_view text);

// /proc/vmstat: {"pgfault", 123}, … in file order.
std::vector<std::pair<std::string, double>> ParseVmStat(std::string_view text);

// /proc/net/softnet_stat: one line of hex columns per CPU, in CPU order.
struct Softnet {
  uint64_t processed = 0, dropped = 0, time_squeezed = 0;
};
std::vector<Softnet> ParseSoftnetStat(std::string_view text);

// /proc/net/udp and udp6: the sums of every socket's tx_queue and rx_queue (bytes).
struct UdpQueues {
  uint64_t tx = 0, rx = 0;
};
std::optional<UdpQueues> ParseUdpQueues(std::string_view text);

// /proc/net/arp: entries per device.
std::map<std::string, uint64_t> ParseArpEntries(std::string_view text);

// /proc/net/stat/nf_conntrack: a header of field names, then one line of hex
// values per CPU; the sums per field.
std::map<std::string, uint64_t> ParseConntrackStat(std::string_view text);

// A sysfs attribute holding one integer, decimal or 0x-prefixed hex
// (/sys/class/net/<dev>/flags is "0x1003").
std::optional<int64_t> ParseSysfsInt(std::string_view text);

}  // namespace vigil::collect::procfs
