// The size of a service's data directory (bitcoind's blocks and chainstate,
// titan's index, the validator's ledger) as `du` counts it, and the room its
// filesystem has left: what the capacity forecast needs to say when the chain
// data fills its disk (docs/capacity.md).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "collect/collector.h"

namespace vigil::collect {

struct DataDirCollectorOptions {
  std::string service;
  std::string path;  // absolute
  // A walk that meets more entries than this stops with an error rather than
  // reading a whole disk (a data_dir of "/" by mistake).
  size_t max_entries = 5'000'000;
};

// vigil_service_data_dir_bytes, _files and _filesystem_avail_bytes, each with
// {service, path, mountpoint}. Allocated blocks of every file, once per
// hard-linked inode, without following symlinks or crossing into another
// filesystem. Entries it cannot read are counted and reported, the rest kept.
std::unique_ptr<Collector> NewDataDirCollector(DataDirCollectorOptions options);

}  // namespace vigil::collect
