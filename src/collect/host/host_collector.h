// Host metrics from /proc, /sys and statvfs with node_exporter's names,
// types, labels and units, so its alert rules and dashboards work unchanged.
#pragma once

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
  long clock_ticks_per_second = 0;  // 0: sysconf(_SC_CLK_TCK)
  long page_size = 0;               // 0: sysconf(_SC_PAGESIZE)
};

std::unique_ptr<Collector> NewHostCollector(HostCollectorOptions options);

}  // namespace vigil::collect
