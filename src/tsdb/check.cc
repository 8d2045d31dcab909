#include "tsdb/check.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/file.h"
#include "tsdb/block.h"
#include "tsdb/encoding.h"
#include "tsdb/wal.h"

namespace vigil::tsdb {
namespace {

constexpr size_t kFooterBytes = 24;
constexpr size_t kMaxFileBytes = 64ULL << 30;

struct Meta {
  TimestampMs min_time = 0, max_time = 0;
  int level = 1;
  int64_t resolution_ms = 0;
  std::optional<uint64_t> num_series, num_samples;
};

Result<Meta> ReadMeta(const std::string& path) {
  Result<std::string> text = ReadFile(path, 1 << 20);
  if (!text.ok()) return text.status();
  Meta m;
  try {
    nlohmann::json j = nlohmann::json::parse(*text);
    (void)j.at("id").get<std::string>();
    m.min_time = j.at("minTime").get<int64_t>();
    m.max_time = j.at("maxTime").get<int64_t>();
    m.level = j.at("level").get<int>();
    m.resolution_ms = j.value("resolution", int64_t{0});
    if (j.contains("numSeries")) m.num_series = j.at("numSeries").get<uint64_t>();
    if (j.contains("numSamples")) m.num_samples = j.at("numSamples").get<uint64_t>();
  } catch (const std::exception& e) {
    return Status::Error(e.what());
  }
  if (m.min_time > m.max_time) return Status::Error("minTime is after maxTime");
  if (m.level < 1) return Status::Error("level below 1");
  if (m.resolution_ms != 0 && m.resolution_ms != 300000 && m.resolution_ms != 3600000) {
    return Status::Error("unknown resolution " + std::to_string(m.resolution_ms));
  }
  return m;
}

// A downsampled block's step, from its timestamps (for a block whose meta is lost).
int64_t GuessResolution(const std::vector<SeriesSamples>& series) {
  bool aggregated = false;
  int64_t min_step = 0;
  for (const SeriesSamples& s : series) {
    if (s.labels.Get("__aggr__").empty()) continue;
    aggregated = true;
    for (size_t i = 1; i < s.t.size(); ++i) {
      int64_t step = s.t[i] - s.t[i - 1];
      if (min_step == 0 || step < min_step) min_step = step;
    }
  }
  if (!aggregated) return 0;
  return min_step >= 3600000 ? 3600000 : 300000;
}

std::string Unused(const std::string& path) {
  std::string candidate = path;
  std::error_code ec;
  for (int i = 1; std::filesystem::exists(candidate, ec); ++i) candidate = path + "." + std::to_string(i);
  return candidate;
}

class Checker {
 public:
  Checker(const CheckOptions& o, CheckReport* r) : o_(o), report_(r) {}

  void CheckBlock(const std::string& dir) {
    ++report_->blocks;
    std::string meta_path = dir + "/meta.json", block_path = dir + "/block";
    Result<Meta> meta = ReadMeta(meta_path);
    std::vector<Damage> found;
    if (!meta.ok()) found.push_back({Damage::Kind::kBlock, meta_path, meta.status().message()});

    // Only the indexes of readable series are kept: a check holds one series' samples at a time.
    std::vector<size_t> good;
    uint64_t indexed = 0, indexed_samples = 0, bad_series = 0;
    std::string first_bad;
    Result<std::string> file = ReadFile(block_path, kMaxFileBytes);
    std::vector<BlockSeries> index;
    Status parsed = file.ok() ? ParseBlockFile(*file, &index) : file.status();
    if (!parsed.ok()) {
      found.push_back({Damage::Kind::kBlock, block_path, parsed.message()});
    } else {
      std::string_view region(file->data(), GetFixed64(file->data() + file->size() - kFooterBytes));
      indexed = index.size();
      for (size_t i = 0; i < index.size(); ++i) {
        const BlockSeries& bs = index[i];
        indexed_samples += bs.num_samples;
        SeriesSamples s;
        s.labels = bs.labels;
        Status st = DecodeSeriesData(std::string_view(file->data() + bs.offset, bs.length), &s.t, &s.v, region);
        if (st.ok() && s.t.size() != bs.num_samples) {
          st = Status::Error("index says " + std::to_string(bs.num_samples) + " samples, data has " +
                             std::to_string(s.t.size()));
        }
        if (st.ok() && (s.t.empty() || s.t.front() != bs.min_time || s.t.back() != bs.max_time)) {
          st = Status::Error("samples do not span the index's time range");
        }
        if (st.ok() && meta.ok() && (s.t.front() < meta->min_time || s.t.back() > meta->max_time)) {
          st = Status::Error("samples outside the block's time range");
        }
        if (!st.ok()) {
          if (bad_series++ == 0) first_bad = "series " + bs.labels.ToString() + ": " + st.message();
          continue;
        }
        report_->series++;
        report_->samples += s.t.size();
        good.push_back(i);
      }
      if (bad_series > 0) {
        found.push_back({Damage::Kind::kBlock, block_path,
                         first_bad + (bad_series > 1 ? " (and " + std::to_string(bad_series - 1) + " more of " +
                                                           std::to_string(indexed) + " series)"
                                                     : " (1 of " + std::to_string(indexed) + " series)")});
      }
      if (meta.ok() && meta->num_series && *meta->num_series != indexed) {
        found.push_back(
            {Damage::Kind::kBlock, meta_path,
             "numSeries " + std::to_string(*meta->num_series) + " but the index has " + std::to_string(indexed)});
      } else if (meta.ok() && meta->num_samples && *meta->num_samples != indexed_samples) {
        found.push_back({Damage::Kind::kBlock, meta_path,
                         "numSamples " + std::to_string(*meta->num_samples) + " but the index has " +
                             std::to_string(indexed_samples)});
      }
    }
    if (found.empty()) return;
    if (o_.repair) {
      std::string what;
      std::vector<SeriesSamples> readable;
      if (parsed.ok()) {
        std::string_view region(file->data(), GetFixed64(file->data() + file->size() - kFooterBytes));
        for (size_t i : good) {
          SeriesSamples s;
          s.labels = index[i].labels;
          (void)DecodeSeriesData(std::string_view(file->data() + index[i].offset, index[i].length), &s.t, &s.v, region);
          readable.push_back(std::move(s));
        }
      }
      bool ok = RepairBlock(dir, meta.ok() ? &*meta : nullptr, std::move(readable), &what);
      for (Damage& d : found) {
        d.repaired = ok;
        d.repair = what;
      }
    }
    for (Damage& d : found) report_->damaged.push_back(std::move(d));
  }

  void CheckWalFile(const std::string& path) {
    ++report_->wal_files;
    Result<std::string> data = ReadFile(path, kMaxFileBytes);
    if (!data.ok()) {
      report_->damaged.push_back({Damage::Kind::kWal, path, data.status().message()});
      return;
    }
    std::string err;
    size_t good = ParseWalRecords(
        *data, [&](WalRecordType, std::string_view) { ++report_->wal_records; }, &err);
    if (good == data->size()) return;
    Damage d{Damage::Kind::kWal, path,
             err + " at offset " + std::to_string(good) + " (" + std::to_string(data->size() - good) +
                 " bytes from there to the end are unreadable)"};
    if (o_.repair) d.repaired = RepairWal(path, *data, good, &d.repair);
    report_->damaged.push_back(std::move(d));
  }

 private:
  std::string Quarantine(const std::string& sub, std::string* error) {
    std::string q = o_.dir + "/quarantine" + sub;
    std::error_code ec;
    std::filesystem::create_directories(q, ec);
    if (ec) *error = "create " + q + ": " + ec.message();
    return q;
  }

  // Rewrites the readable series as a new block, then moves the damaged one
  // into quarantine/ (in that order: a failure leaves both, never neither).
  bool RepairBlock(const std::string& dir, const Meta* meta, std::vector<SeriesSamples> good, std::string* what) {
    std::string error;
    std::string q = Quarantine("", &error);
    if (!error.empty()) {
      *what = error + "; block left in place";
      return false;
    }
    std::string rewritten;
    uint64_t kept = good.size(), kept_samples = 0;
    if (!good.empty()) {
      TimestampMs mint = good.front().t.front(), maxt = good.front().t.back();
      for (const auto& s : good) {
        kept_samples += s.t.size();
        mint = std::min(mint, s.t.front());
        maxt = std::max(maxt, s.t.back());
      }
      int level = meta ? meta->level : 1;
      int64_t resolution = meta ? meta->resolution_ms : GuessResolution(good);
      if (meta) {
        mint = std::min(mint, meta->min_time);
        maxt = std::max(maxt, meta->max_time);
      }
      std::string parent = std::filesystem::path(dir).parent_path().string();
      Result<BlockInfo> b = WriteBlock(parent, std::move(good), mint, maxt, level, Duration(resolution));
      if (!b.ok()) {
        *what = "cannot rewrite its readable series: " + b.status().message() + "; block left in place";
        return false;
      }
      rewritten = b->id;
    }
    std::string target = Unused(q + "/" + std::filesystem::path(dir).filename().string());
    if (::rename(dir.c_str(), target.c_str()) != 0) {
      *what = "cannot move " + dir + " to " + target + ": " + std::strerror(errno);
      return false;
    }
    (void)SyncDir(std::filesystem::path(dir).parent_path().string());
    *what = "moved to " + target;
    if (!rewritten.empty()) {
      *what += "; its " + std::to_string(kept) + " readable series (" + std::to_string(kept_samples) +
               " samples) rewritten as block " + rewritten;
    } else {
      *what += "; no readable series in it";
    }
    return true;
  }

  // Keeps the whole file in quarantine/wal/, then cuts it at its last good record.
  bool RepairWal(const std::string& path, const std::string& data, size_t good, std::string* what) {
    std::string error;
    std::string q = Quarantine("/wal", &error);
    if (!error.empty()) {
      *what = error + "; file left as it was";
      return false;
    }
    std::string copy = Unused(q + "/" + std::filesystem::path(path).filename().string());
    if (Status s = WriteFileSynced(copy, data); !s.ok()) {
      *what = "cannot keep a copy: " + s.message() + "; file left as it was";
      return false;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(good)) != 0 || ::fsync(fd) != 0) {
      *what = "cannot cut " + path + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    ::close(fd);
    *what = "cut at offset " + std::to_string(good) + "; the damaged file is kept as " + copy;
    return true;
  }

  const CheckOptions& o_;
  CheckReport* report_;
};

bool IsWalFile(const std::string& name) {
  auto digits = [](std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), ::isdigit); };
  return (name.size() == 8 && digits(name)) || (name.rfind("checkpoint.", 0) == 0 && digits(name.substr(11)));
}

std::vector<std::string> SortedEntries(const std::string& dir, bool directories) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_directory(ec) == directories) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<CheckReport> CheckStore(const CheckOptions& options) {
  const std::string& dir = options.dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir + "/blocks", ec) && !std::filesystem::is_directory(dir + "/wal", ec)) {
    return Status::Error(dir + ": no vigil storage here (expected " + dir + "/wal and " + dir + "/blocks)");
  }
  // vigil holds this lock while it runs: checking under it would race its writes.
  std::string lock_path = dir + "/lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return Status::Error("open " + lock_path + ": " + std::strerror(errno));
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return Status::Error(dir + " is in use by a running vigil (lock " + lock_path +
                         "); stop it first, or use `vigil backup` to copy the store while it runs");
  }
  CheckReport report;
  Checker checker(options, &report);
  for (const std::string& name : SortedEntries(dir + "/blocks", true)) {
    // Unfinished writes and deletes: vigil removes them at start; nothing to check.
    if (name.ends_with(".tmp") || name.ends_with(".deleting")) continue;
    checker.CheckBlock(dir + "/blocks/" + name);
  }
  for (const std::string& name : SortedEntries(dir + "/wal", false)) {
    if (IsWalFile(name)) checker.CheckWalFile(dir + "/wal/" + name);
  }
  ::close(lock_fd);
  return report;
}

}  // namespace vigil::tsdb
