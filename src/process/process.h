// Per-process metrics for the processes behind services: each unit's main
// PID and the processes a service's `processes.match` finds, read from /proc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collect/collector.h"

namespace vigil::process {

// /proc/PID/stat, the fields vigil uses.
struct ProcStat {
  std::string comm;
  char state = '?';
  uint64_t utime_ticks = 0, stime_ticks = 0;
  int64_t threads = 0;
  uint64_t start_ticks = 0;  // after boot
  uint64_t rss_pages = 0;
};
// Parses /proc/PID/stat; the comm may contain spaces and ')'. nullopt when malformed.
std::optional<ProcStat> ParseStat(std::string_view text);
// The soft "Max open files" of /proc/PID/limits; nullopt when absent or unlimited.
std::optional<uint64_t> ParseMaxOpenFiles(std::string_view limits);
// /proc/PID/cmdline (NUL-separated) as one line with spaces.
std::string CmdlineToString(std::string_view raw);

struct ServiceProcesses {
  std::string service;
  std::string match;          // RE2 over cmdline or comm; "" = same comm as the unit's main process
  std::optional<int> expect;  // exposed as vigil_service_processes_expected
};

struct UnitProcess {
  std::string unit;
  std::string service;
  uint32_t pid = 0;
};

struct ProcessCollectorOptions {
  std::string proc_root = "/proc";
  std::vector<ServiceProcesses> services;
  // The current main PIDs of the watched units (from the systemd monitor); may be null.
  std::function<std::vector<UnitProcess>()> main_processes;
  long clock_ticks_per_second = 0;  // 0: sysconf(_SC_CLK_TCK)
  long page_size = 0;               // 0: sysconf(_SC_PAGESIZE)
};

// The "process" collector. Processes that vanish while being read are skipped.
std::unique_ptr<collect::Collector> NewProcessCollector(ProcessCollectorOptions options);

}  // namespace vigil::process
