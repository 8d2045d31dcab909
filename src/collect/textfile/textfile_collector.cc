#include "collect/textfile/textfile_collector.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

#include "base/file.h"
#include "expfmt/to_batch.h"

namespace vigil::collect {
namespace {

class TextfileCollector final : public Collector {
 public:
  explicit TextfileCollector(TextfileCollectorOptions o) : o_(std::move(o)) {}

  std::string_view name() const override { return "textfile"; }

  Status Collect(const CollectContext&, MetricBatch& out) override {
    bool failed = false;
    std::vector<std::string> files;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(o_.directory, ec), end; !ec && it != end; it.increment(ec)) {
      const auto& p = it->path();
      if (p.extension() == ".prom") files.push_back(p.string());
    }
    if (ec) {
      out.ReportError("read_failed", "cannot list the directory: " + ec.message(), o_.directory);
      failed = true;
    }
    // Sorted, so which of two files defining the same series wins does not depend on the directory order.
    std::sort(files.begin(), files.end());
    std::set<std::pair<std::string, Labels>> seen;
    for (const auto& path : files) {
      struct stat st {};
      if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // vanished or not a file
      Result<std::string> body = ReadFile(path, o_.max_file_bytes);
      if (!body.ok()) {
        out.ReportError("read_failed", body.status().message(), path);
        failed = true;
        continue;
      }
      MetricBatch file;
      expfmt::ToBatchOptions opts;
      opts.reject_timestamps = true;
      if (Status s = expfmt::AppendExposition(*body, expfmt::Format::kText004, opts, file); !s.ok()) {
        out.ReportError("parse_error", s.message(), path);
        failed = true;
        continue;
      }
      if (std::string dup = FirstDuplicate(file, seen); !dup.empty()) {
        out.ReportError("duplicate_series", dup + " is defined twice (here or in an earlier file); this file is skipped", path);
        failed = true;
        continue;
      }
      for (const auto& f : file.families()) {
        for (const auto& s : f.samples) out.Add(f.name, f.help, f.type, s.labels, s.value);
      }
      out.AddGauge("node_textfile_mtime_seconds", "Unixtime mtime of textfiles successfully read.",
                   Labels{{"file", path}}, static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9);
    }
    out.AddGauge("node_textfile_scrape_error", "1 if there was an error opening or reading a file, 0 otherwise", {},
                 failed ? 1 : 0);
    return Status::Ok();
  }

 private:
  // Records the file's series in `seen`; returns the first one already there ("" when none).
  static std::string FirstDuplicate(const MetricBatch& file, std::set<std::pair<std::string, Labels>>& seen) {
    std::set<std::pair<std::string, Labels>> mine;
    for (const auto& f : file.families()) {
      for (const auto& s : f.samples) {
        if (seen.count({f.name, s.labels}) || !mine.emplace(f.name, s.labels).second) {
          return f.name + s.labels.ToString();
        }
      }
    }
    seen.insert(mine.begin(), mine.end());
    return "";
  }

  TextfileCollectorOptions o_;
};

}  // namespace

std::unique_ptr<Collector> NewTextfileCollector(TextfileCollectorOptions options) {
  return std::make_unique<TextfileCollector>(std::move(options));
}

}  // namespace vigil::collect
