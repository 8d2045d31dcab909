// node_exporter's textfile collector: `*.prom` files in a directory (written
// by cron jobs and scripts, atomically by rename) exposed and stored as they
// are, plus node_textfile_mtime_seconds{file} and node_textfile_scrape_error.
#pragma once

#include <memory>
#include <string>

#include "collect/collector.h"

namespace vigil::collect {

struct TextfileCollectorOptions {
  std::string directory;
  size_t max_file_bytes = 16 << 20;  // a larger file is skipped with an error
};

std::unique_ptr<Collector> NewTextfileCollector(TextfileCollectorOptions options);

}  // namespace vigil::collect
