// vigil's own process metrics (process_*, as client libraries name them) and build info.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "collect/collector.h"

namespace vigil::collect {

struct BuildInfo {
  std::string version;
  std::string revision;
  std::string compiler;
};

// Reads `proc_root`/self; tests point it at recorded files. `extra`, when
// set, adds the agent's own state (scheduler, storage, config reloads).
std::unique_ptr<Collector> NewSelfCollector(BuildInfo build, std::function<void(MetricBatch&)> extra = nullptr,
                                            std::string proc_root = "/proc");

}  // namespace vigil::collect
