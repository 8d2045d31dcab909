// Host metrics from /proc, /sys and statvfs with node_exporter's names,
// types, labels and units, so its alert rules and dashboards work unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "collect/collector.h"

namespace vigil::collect {

struct FsUsage {
  uint64_t size_bytes = 0, free_bytes = 0, avail_bytes = 0;
  uint64_t files = 0, files_free = 0;
  bool readonly = false;
};

// What adjtimex(2) reports (read-only, modes 0): the state it returns and the
// struct timex fields node_exporter's timex collector exposes.
struct Timex {
  int state = 0;  // TIME_OK (0) .. TIME_ERROR (5): the clock is not synchronised
  int64_t offset = 0, freq = 0, maxerror = 0, esterror = 0, constant = 0, tick = 0, ppsfreq = 0, jitter = 0, shift = 0,
          stabil = 0, jitcnt = 0, calcnt = 0, errcnt = 0, stbcnt = 0, tai = 0;
  int status = 0;  // STA_* bits
};

struct HostCollectorOptions {
  std::string proc_root = "/proc";
  std::string sys_root = "/sys";
  // Regexes (RE2, unanchored like node_exporter's flags); empty excludes nothing.
  std::string exclude_mountpoints;
  std::string exclude_fstypes;
  std::string exclude_disks;
  std::string exclude_network_devices;
  // statvfs(2) by default; tests inject recorded values.
  std::function<Result<FsUsage>(const std::string& mountpoint)> statfs;
  // adjtimex(2) by default; tests inject recorded values.
  std::function<Result<Timex>()> adjtimex;
  // Without a textfile directory nothing else exposes node_textfile_scrape_error,
  // which dashboards chart; the host collector then reports 0 (no file, no error).
  bool report_textfile_scrape_error = false;
  long clock_ticks_per_second = 0;  // 0: sysconf(_SC_CLK_TCK)
  long page_size = 0;               // 0: sysconf(_SC_PAGESIZE)
};

std::unique_ptr<Collector> NewHostCollector(HostCollectorOptions options);

}  // namespace vigil::collect
