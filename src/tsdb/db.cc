#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "base/file.h"
#include "base/log.h"
#include "tsdb/block.h"
#include "tsdb/downsample.h"
#include "tsdb/encoding.h"
#include "tsdb/head.h"
#include "tsdb/import.h"
#include "tsdb/tsdb.h"
#include "tsdb/wal.h"

namespace vigil::tsdb {
namespace {

constexpr TimestampMs kMinTime = std::numeric_limits<TimestampMs>::min();
constexpr TimestampMs kMaxTime = std::numeric_limits<TimestampMs>::max();

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

Status ValidateLabels(const Labels& labels) {
  if (labels.empty()) return Status::Error("empty label set");
  if (labels.Get("__name__").empty()) return Status::Error("missing metric name (__name__)");
  for (const Label& l : labels) {
    if (!IsValidLabelName(l.name)) return Status::Error("invalid label name \"" + l.name + "\"");
    if (l.value.empty()) return Status::Error("empty value for label \"" + l.name + "\"");
  }
  return Status::Ok();
}

std::string EncodeSeriesRecord(const std::vector<std::shared_ptr<MemSeries>>& series) {
  std::string out;
  for (const auto& s : series) {
    PutUvarint(&out, s->ref);
    PutUvarint(&out, s->packed_labels.size());
    s->packed_labels.ForEach([&](std::string_view name, std::string_view value) {
      PutString(&out, name);
      PutString(&out, value);
    });
  }
  return out;
}

class VectorIterator final : public SampleIterator {
 public:
  VectorIterator(std::vector<TimestampMs> t, std::vector<double> v, Status err)
      : t_(std::move(t)), v_(std::move(v)), err_(std::move(err)) {}
  bool Next() override { return ++i_ < t_.size(); }
  TimestampMs t() const override { return t_[i_]; }
  double v() const override { return v_[i_]; }
  Status err() const override { return err_; }

 private:
  std::vector<TimestampMs> t_;
  std::vector<double> v_;
  size_t i_ = static_cast<size_t>(-1);
  Status err_;
};

// One series seen through several blocks and the head, merged in time order.
class MergedSeries final : public Series {
 public:
  struct BlockSource {
    std::shared_ptr<Block> block;
    size_t index;
    // For averages over a downsampled block: `index` holds sums, this counts.
    std::optional<size_t> count_index;
  };
  MergedSeries(Labels labels, TimestampMs mint, TimestampMs maxt)
      : labels_(std::move(labels)), mint_(mint), maxt_(maxt) {}
  const Labels& labels() const override { return labels_; }

  std::unique_ptr<SampleIterator> Iterator() const override {
    std::vector<TimestampMs> t;
    std::vector<double> v;
    Status err = AppendSamples(&t, &v);
    return std::make_unique<VectorIterator>(std::move(t), std::move(v), std::move(err));
  }

  size_t SampleCountBound() const override {
    size_t n = 0;
    for (const BlockSource& b : blocks) n += b.block->SamplesToRead(b.index, mint_, maxt_);
    for (const auto& chunk : head.chunks) {  // an XOR chunk starts with its u16 big-endian count
      if (chunk->size() >= 2)
        n += static_cast<size_t>(static_cast<uint8_t>((*chunk)[0]) << 8 | static_cast<uint8_t>((*chunk)[1]));
    }
    return n;
  }

  Status AppendSamples(std::vector<TimestampMs>* t_out, std::vector<double>* v_out) const override {
    std::vector<TimestampMs>& t = *t_out;
    std::vector<double>& v = *v_out;
    std::vector<TimestampMs> st;
    std::vector<double> sv;
    // Appends the samples of st/sv (strictly increasing: a block's data is
    // checked to be) within [from, maxt_], found by binary search.
    auto append_window = [&](std::vector<TimestampMs>& to_t, std::vector<double>& to_v, TimestampMs from) {
      auto lo = std::lower_bound(st.begin(), st.end(), from);
      auto hi = std::upper_bound(lo, st.end(), maxt_);
      if (lo >= hi) return;
      to_t.insert(to_t.end(), lo, hi);
      to_v.insert(to_v.end(), sv.begin() + (lo - st.begin()), sv.begin() + (hi - st.begin()));
    };
    // The first time that goes into the caller's buffers: after what they
    // hold when that reaches into the window (sources that overlap: the first
    // is kept); none when they already end at the last representable time.
    auto first_wanted = [&]() -> std::optional<TimestampMs> {
      if (t.empty() || t.back() < mint_) return mint_;
      if (t.back() == std::numeric_limits<TimestampMs>::max()) return std::nullopt;
      return t.back() + 1;
    };
    auto take = [&] {
      if (const auto from = first_wanted()) append_window(t, v, *from);
    };
    // The common case, one raw block and nothing in the head: the window is
    // read into the caller's buffers directly.
    if (blocks.size() == 1 && head.chunks.empty() && head.error.ok() &&
        blocks[0].block->info().resolution.count() == 0) {
      const auto from = first_wanted();
      if (!from) return Status::Ok();
      return blocks[0].block->Read(blocks[0].index, &t, &v, shared.get(), *from, maxt_);
    }
    Status err;
    // Raw blocks may overlap (an imported block and the head's block of the
    // same range): gathered, then put in time order. Downsampled points come
    // first; raw samples only after the last of them.
    std::vector<TimestampMs> rt;
    std::vector<double> rv;
    for (const BlockSource& b : blocks) {
      st.clear();
      sv.clear();
      Status s = b.block->Read(b.index, &st, &sv, shared.get(), mint_, maxt_);
      if (s.ok() && b.count_index) {
        std::vector<TimestampMs> ct;
        std::vector<double> cv;
        s = b.block->Read(*b.count_index, &ct, &cv, shared.get(), mint_, maxt_);
        if (s.ok() && ct != st) s = Status::Error("sum and count aggregates disagree");
        for (size_t i = 0; s.ok() && i < sv.size(); ++i) sv[i] = cv[i] > 0 ? sv[i] / cv[i] : std::nan("");
      }
      if (!s.ok()) {
        err = s;
        continue;
      }
      if (b.block->info().resolution.count() > 0) {
        take();
      } else {
        append_window(rt, rv, mint_);
      }
    }
    if (!head.error.ok()) err = head.error;
    // The head's chunks are gathered sample by sample (no order assumed).
    for (const auto& chunk : head.chunks) {
      chunkenc::DecimalDecoder d(*chunk);
      while (d.Next()) {
        if (d.t() < mint_ || d.t() > maxt_) continue;
        rt.push_back(d.t());
        rv.push_back(d.v());
      }
    }
    SortByTime(rt, rv);  // strictly increasing after it
    st.swap(rt);
    sv.swap(rv);
    take();
    return err;
  }

  std::vector<BlockSource> blocks;
  ChunkSnapshot head;
  // Decoded timestamps common to the series of one Select.
  std::shared_ptr<SharedTimestamps> shared;

 private:
  Labels labels_;
  TimestampMs mint_, maxt_;
};

class DBImpl;

// A block as a querier reads it: raw, or one aggregate of a downsampled block.
struct QueryBlock {
  std::shared_ptr<Block> block;
  ReadHints::Use use = ReadHints::Use::kLast;  // only for downsampled blocks
};

std::string_view UseAggregate(ReadHints::Use use) {
  switch (use) {
    case ReadHints::Use::kMin: return "min";
    case ReadHints::Use::kMax: return "max";
    case ReadHints::Use::kSum: return "sum";
    case ReadHints::Use::kCount: return "count";
    case ReadHints::Use::kCounter: return "counter";
    case ReadHints::Use::kAverage: return "sum";
    case ReadHints::Use::kLast: return "last";
  }
  return "last";
}

class DBQuerier final : public Querier {
 public:
  DBQuerier(std::vector<QueryBlock> blocks, Head* head, TimestampMs mint, TimestampMs maxt)
      : blocks_(std::move(blocks)), head_(head), mint_(mint), maxt_(maxt) {}

  Result<std::vector<std::shared_ptr<Series>>> Select(const std::vector<Matcher>& matchers) override {
    std::map<Labels, std::shared_ptr<MergedSeries>> merged;
    auto shared = std::make_shared<SharedTimestamps>();
    auto get = [&](const Labels& l) -> MergedSeries& {
      auto& slot = merged[l];
      if (!slot) {
        slot = std::make_shared<MergedSeries>(l, mint_, maxt_);
        slot->shared = shared;
      }
      return *slot;
    };
    for (const QueryBlock& qb : blocks_) {
      const auto& b = qb.block;
      if (!b->Overlaps(mint_, maxt_)) continue;
      if (b->info().resolution.count() == 0) {
        for (size_t i : b->Select(matchers)) {
          const BlockSeries& s = b->series()[i];
          if (s.max_time < mint_ || s.min_time > maxt_) continue;
          get(s.labels).blocks.push_back({b, i, std::nullopt});
        }
        continue;
      }
      // Downsampled: pick the aggregate's series and present them without __aggr__.
      std::vector<Matcher> with_aggr = matchers;
      with_aggr.push_back(*Matcher::Make(Matcher::Type::kEqual, "__aggr__", std::string(UseAggregate(qb.use))));
      for (size_t i : b->Select(with_aggr)) {
        const BlockSeries& s = b->series()[i];
        if (s.max_time < mint_ || s.min_time > maxt_) continue;
        Labels plain = s.labels;
        plain.Set("__aggr__", "");
        std::optional<size_t> count_index;
        if (qb.use == ReadHints::Use::kAverage) {
          Labels count_labels = s.labels;
          count_labels.Set("__aggr__", "count");
          auto it = std::lower_bound(b->series().begin(), b->series().end(), count_labels,
                                     [](const BlockSeries& x, const Labels& l) { return x.labels < l; });
          if (it == b->series().end() || it->labels != count_labels) continue;
          count_index = static_cast<size_t>(it - b->series().begin());
        }
        get(plain).blocks.push_back({b, i, count_index});
      }
    }
    for (const auto& s : head_->Select(matchers)) {
      ChunkSnapshot snap = head_->Snapshot(*s, mint_, maxt_);
      if (snap.chunks.empty()) continue;
      get(s->labels()).head = std::move(snap);
    }
    std::vector<std::shared_ptr<Series>> out;
    out.reserve(merged.size());
    for (auto& [labels, s] : merged) out.push_back(std::move(s));
    return out;
  }

  std::vector<std::string> LabelNames(const std::vector<Matcher>& matchers) override {
    std::set<std::string> names;
    if (matchers.empty()) {
      for (auto& n : head_->LabelNames()) names.insert(n);
      for (const auto& qb : blocks_) {
        if (!qb.block->Overlaps(mint_, maxt_)) continue;
        for (auto& n : qb.block->LabelNames()) {
          if (n != "__aggr__") names.insert(n);
        }
      }
    } else if (auto r = Select(matchers); r.ok()) {
      for (const auto& s : *r)
        for (const Label& l : s->labels()) names.insert(l.name);
    }
    return {names.begin(), names.end()};
  }

  std::vector<std::string> LabelValues(const std::string& name, const std::vector<Matcher>& matchers) override {
    std::set<std::string> values;
    if (matchers.empty()) {
      for (auto& v : head_->LabelValues(name)) values.insert(v);
      for (const auto& qb : blocks_) {
        if (!qb.block->Overlaps(mint_, maxt_) || name == "__aggr__") continue;
        for (auto& v : qb.block->LabelValues(name)) values.insert(v);
      }
    } else if (auto r = Select(matchers); r.ok()) {
      for (const auto& s : *r) {
        std::string_view v = s->labels().Get(name);
        if (!v.empty()) values.insert(std::string(v));
      }
    }
    return {values.begin(), values.end()};
  }

 private:
  std::vector<QueryBlock> blocks_;
  Head* head_;
  TimestampMs mint_, maxt_;
};

class DBImpl final : public DB {
 public:
  explicit DBImpl(const Options& o) : options_(o), head_(o) {}
  ~DBImpl() override { (void)Close(); }

  Status Init() {
    std::error_code ec;
    if (options_.read_only) {
      if (!std::filesystem::is_directory(options_.dir, ec)) {
        return Status::Error(options_.dir + ": no vigil storage here (expected " + options_.dir + "/wal and /blocks)");
      }
      LoadBlocks();
      return Replay();
    }
    std::filesystem::create_directories(BlocksDir(), ec);
    if (ec) return Status::Error("create " + BlocksDir() + ": " + ec.message());
    // One writer per directory: a second vigil on the same data would corrupt it.
    std::string lock_path = options_.dir + "/lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) return Status::Error("open " + lock_path + ": " + std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::Error(options_.dir + " is in use by another vigil process (lock " + lock_path + ")");
    }
    head_.EnableChunkFiles();
    LoadBlocks();
    if (Status s = Replay(); !s.ok()) return s;
    Result<std::unique_ptr<Wal>> wal = Wal::Open(WalDir(), options_.wal_segment_bytes);
    if (!wal.ok()) return wal.status();
    wal_ = std::move(*wal);
    background_ = std::thread([this] { BackgroundLoop(); });
    return Status::Ok();
  }

  std::unique_ptr<Appender> NewAppender() override;
  bool read_only() const { return options_.read_only; }

  std::unique_ptr<Querier> NewQuerier(TimestampMs mint, TimestampMs maxt) override {
    return NewQuerier(mint, maxt, ReadHints{});
  }

  std::unique_ptr<Querier> NewQuerier(TimestampMs mint, TimestampMs maxt, const ReadHints& hints) override {
    std::lock_guard lock(blocks_mu_);
    // The coarsest resolution allowed that has data in range answers first.
    Duration chosen{0};
    for (Duration r : {Duration(3600000), Duration(300000)}) {
      if (r > hints.max_resolution) continue;
      bool has = std::any_of(blocks_.begin(), blocks_.end(),
                             [&](const auto& b) { return b->info().resolution == r && b->Overlaps(mint, maxt); });
      if (has) {
        chosen = r;
        break;
      }
    }
    std::vector<QueryBlock> picked;
    TimestampMs coarse_max = kMinTime;
    if (chosen.count() > 0) {
      for (const auto& b : blocks_) {
        if (b->info().resolution != chosen) continue;
        picked.push_back({b, hints.use});
        coarse_max = std::max(coarse_max, b->info().max_time);
      }
    }
    // Raw data for what the downsampled blocks do not cover (sources merge in this order).
    for (const auto& b : blocks_) {
      if (b->info().resolution.count() == 0 && b->info().max_time > coarse_max) picked.push_back({b, hints.use});
    }
    return std::make_unique<DBQuerier>(std::move(picked), &head_, mint, maxt);
  }

  Status Maintain(TimestampMs now) override {
    if (options_.read_only) return Status::Error("storage is open read-only");
    std::lock_guard maintain(maintain_mu_);
    int64_t range = options_.block_range.count();
    // Like Prometheus: persist the oldest block range once the head spans 1.5 ranges.
    while (head_.max_time() != kMinTime && head_.max_time() - head_.min_time() >= range * 3 / 2) {
      TimestampMs start = AlignDown(head_.min_time(), range);
      if (Status s = PersistHeadRange(start, start + range); !s.ok()) return s;
    }
    if (Status s = Compact(); !s.ok()) LogWarn("compaction failed", {{"err", s.message()}});
    if (options_.downsample) {
      if (Status s = DownsampleBlocks(now); !s.ok()) LogWarn("downsampling failed", {{"err", s.message()}});
    }
    ApplyRetention(now);
    return Status::Ok();
  }

  Status FlushHead() override {
    if (options_.read_only) return Status::Error("storage is open read-only");
    std::lock_guard maintain(maintain_mu_);
    int64_t range = options_.block_range.count();
    while (head_.max_time() != kMinTime) {
      TimestampMs start = AlignDown(head_.min_time(), range);
      if (Status s = PersistHeadRange(start, start + range); !s.ok()) return s;
    }
    return Compact();
  }

  Result<SnapshotInfo> Snapshot(const std::string& target, bool with_head) override {
    if (options_.read_only) return Status::Error("storage is open read-only");
    // Compaction and retention must not delete a block while it is linked;
    // appenders never take this lock, so ingestion goes on.
    std::lock_guard maintain(maintain_mu_);
    std::string blocks_out = target + "/blocks";
    std::error_code ec;
    std::filesystem::create_directories(blocks_out, ec);
    if (ec) return Status::Error("create " + blocks_out + ": " + ec.message());
    std::filesystem::create_directories(target + "/wal", ec);
    if (ec) return Status::Error("create " + target + "/wal: " + ec.message());
    SnapshotInfo info;
    Status s = SnapshotBlocks(blocks_out, &info);
    if (s.ok() && with_head) s = SnapshotHead(blocks_out, &info);
    if (s.ok()) s = SyncDir(blocks_out);
    if (!s.ok()) {
      std::filesystem::remove_all(blocks_out, ec);
      std::filesystem::remove_all(target + "/wal", ec);
      return s;
    }
    return info;
  }

  Result<std::unique_ptr<Import>> NewImport() override;

  // The window imports write in: the widest compaction window, so nothing is
  // written twice.
  std::pair<int64_t, int> ImportWindow() const {
    std::vector<int64_t> windows = CompactionWindows();
    return {windows.back(), static_cast<int>(windows.size()) + 1};
  }

  // Writes each window of `spill` as one block, then compacts.
  Result<ImportSummary> FinishImport(ImportSpill& spill, const std::vector<Labels>& labels,
                                     const std::function<void(double)>& progress) {
    std::lock_guard maintain(maintain_mu_);
    auto [window, level] = ImportWindow();
    ImportSummary summary;
    const double total = static_cast<double>(std::max<uint64_t>(1, spill.samples()));
    for (TimestampMs start : spill.Windows()) {
      Result<std::vector<SeriesSamples>> series = spill.TakeWindow(start, labels, &summary.repeats);
      if (!series.ok()) return series.status();
      // The block ends at its last sample, not at the end of its window: the
      // head goes on accepting what comes after it (live data after an
      // import of recent history), also after a restart.
      TimestampMs last = kMinTime;
      uint64_t samples = 0;
      for (const auto& s : *series) {
        last = std::max(last, s.t.back());
        samples += s.t.size();
      }
      if (samples == 0) continue;
      Result<BlockInfo> info = WriteBlock(BlocksDir(), std::move(*series), start, last, level);
      if (!info.ok()) return info.status();
      if (Status s = AddBlock(info->id, {}); !s.ok()) return s;
      summary.blocks.push_back(*info);
      summary.samples += samples;
      if (progress) progress(static_cast<double>(summary.samples + summary.repeats) / total);
    }
    TimestampMs max_block = kMinTime;
    {
      std::lock_guard lock(blocks_mu_);
      for (const auto& b : blocks_) max_block = std::max(max_block, b->info().max_time);
    }
    if (min_valid_time_.load() <= max_block) min_valid_time_ = max_block + 1;
    if (Status s = Compact(); !s.ok()) return s;
    return summary;
  }

  uint64_t Generation() const override { return generation_.load(); }
  void WatchUpTo(TimestampMs t) override {
    TimestampMs cur = watermark_.load();
    while (t > cur && !watermark_.compare_exchange_weak(cur, t)) {
    }
  }

  Stats GetStats() override {
    Stats st;
    st.head_series = head_.num_series();
    st.head_samples = head_.num_samples();
    st.head_chunks = head_.num_chunks();
    st.head_min_time = head_.min_time();
    st.head_max_time = head_.max_time();
    st.wal_bytes = DirBytes(WalDir());
    {
      std::lock_guard lock(blocks_mu_);
      for (const auto& b : blocks_) {
        st.blocks.push_back(b->info());
        st.blocks_bytes += b->info().size_bytes;
      }
    }
    st.out_of_order_total = out_of_order_.load();
    st.duplicate_total = duplicates_.load();
    st.write_errors_total = write_errors_.load();
    std::lock_guard lock(wal_state_mu_);
    st.writes_failing = writes_failing_;
    st.last_write_error = last_write_error_;
    return st;
  }

  Status Close() override {
    if (options_.read_only) return Status::Ok();
    {
      std::lock_guard lock(bg_mu_);
      if (closed_) return Status::Ok();
      closed_ = true;
    }
    bg_cv_.notify_all();
    if (background_.joinable()) background_.join();
    Status s = wal_ ? wal_->Sync() : Status::Ok();
    if (lock_fd_ >= 0) {
      ::close(lock_fd_);  // releases the flock
      lock_fd_ = -1;
    }
    return s;
  }

  // Called by appenders at commit.
  Status CommitSamples(std::vector<std::shared_ptr<MemSeries>>& new_series, const std::vector<WalSample>& samples,
                       const std::vector<std::shared_ptr<MemSeries>>& targets) {
    if (options_.read_only) return Status::Error("storage is open read-only");
    std::string series_rec, samples_rec;
    Status wal_status;
    {
      std::lock_guard lock(wal_state_mu_);
      // Series whose record could not be written earlier are logged again first.
      if (!unlogged_series_.empty()) {
        new_series.insert(new_series.begin(), unlogged_series_.begin(), unlogged_series_.end());
        unlogged_series_.clear();
      }
      if (!new_series.empty()) {
        series_rec = EncodeSeriesRecord(new_series);
        wal_status = wal_->Log(WalRecordType::kSeries, series_rec);
        if (!wal_status.ok()) unlogged_series_ = new_series;
      }
      if (wal_status.ok() && !samples.empty()) {
        EncodeWalSamples(samples, &samples_rec);
        wal_status = wal_->Log(WalRecordType::kSamples, samples_rec);
      }
      if (!wal_status.ok()) {
        ++write_errors_;
        if (!writes_failing_ || last_write_error_ != wal_status.message()) {
          LogError("cannot write to the WAL; samples are kept in memory only until writes succeed again",
                   {{"err", wal_status.message()}});
        }
        writes_failing_ = true;
        last_write_error_ = wal_status.message();
      } else if (writes_failing_) {
        LogInfo("WAL writes succeed again");
        writes_failing_ = false;
      }
    }
    if (options_.wal_fsync.count() == 0 && wal_status.ok()) wal_status = wal_->Sync();
    // Samples stay queryable (and reach a block later) even when the WAL failed.
    TimestampMs oldest = kMaxTime;
    for (size_t i = 0; i < samples.size(); ++i) {
      Head::AppendResult r = head_.Append(*targets[i], samples[i].t, samples[i].v);
      if (r == Head::AppendResult::kOutOfOrder) ++out_of_order_;
      if (r == Head::AppendResult::kDuplicate) ++duplicates_;
      if (r == Head::AppendResult::kOk) oldest = std::min(oldest, samples[i].t);
    }
    // Checked after the samples are visible: a cache that raised the
    // watermark before this load computes with them, one after sees the bump.
    if (oldest <= watermark_.load()) ++generation_;
    return wal_status;
  }

  Head& head() { return head_; }
  TimestampMs min_valid_time() const { return min_valid_time_.load(); }
  std::atomic<uint64_t> out_of_order_{0}, duplicates_{0}, write_errors_{0};
  // Starts from the clock, so two stores (a reopened one) never share a number.
  std::atomic<uint64_t> generation_{static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::atomic<TimestampMs> watermark_{kMinTime};

 private:
  std::string BlocksDir() const { return options_.dir + "/blocks"; }
  std::string WalDir() const { return options_.dir + "/wal"; }

  Status SnapshotBlocks(const std::string& blocks_out, SnapshotInfo* info) {
    std::vector<std::shared_ptr<Block>> blocks;
    {
      std::lock_guard lock(blocks_mu_);
      blocks = blocks_;
    }
    for (const auto& b : blocks) {
      std::string out = blocks_out + "/" + std::filesystem::path(b->dir()).filename().string();
      std::string tmp = out + ".tmp";
      std::error_code ec;
      std::filesystem::create_directories(tmp, ec);
      if (ec) return Status::Error("create " + tmp + ": " + ec.message());
      for (const char* name : {"block", "meta.json"}) {
        if (Status s = LinkOrCopy(b->dir() + "/" + name, tmp + "/" + name); !s.ok()) return s;
      }
      if (Status s = SyncDir(tmp); !s.ok()) return s;
      if (::rename(tmp.c_str(), out.c_str()) != 0) return Status::Error("rename " + tmp + ": " + std::strerror(errno));
      ++info->blocks;
      info->max_time = std::max(info->max_time, b->info().max_time);
    }
    return Status::Ok();
  }

  // Hard-links `from` to `to`; copies (and fsyncs) when linking is impossible (another file system).
  static Status LinkOrCopy(const std::string& from, const std::string& to) {
    if (::link(from.c_str(), to.c_str()) == 0) return Status::Ok();
    int link_errno = errno;
    if (link_errno != EXDEV && link_errno != EPERM && link_errno != EMLINK) {
      return Status::Error("link " + from + " to " + to + ": " + std::strerror(link_errno));
    }
    Result<std::string> data = ReadFile(from, 64ULL << 30);
    if (!data.ok()) return data.status();
    return WriteFileSynced(to, *data);
  }

  // The head's samples as blocks, one per block range, each ending at its last sample.
  Status SnapshotHead(const std::string& blocks_out, SnapshotInfo* info) {
    TimestampMs head_max = head_.max_time();
    if (head_max == kMinTime) return Status::Ok();
    TimestampMs floor = std::max(head_.min_time(), min_valid_time_.load());
    int64_t range = options_.block_range.count();
    auto series = head_.Select({});
    for (TimestampMs start = AlignDown(floor, range); start <= head_max; start += range) {
      TimestampMs end = std::min(start + range - 1, head_max);
      std::vector<SeriesSamples> out;
      TimestampMs last = kMinTime;
      for (const auto& s : series) {
        ChunkSnapshot snap = head_.Snapshot(*s, start, end);
        if (!snap.error.ok()) return snap.error;
        SeriesSamples ss;
        ss.labels = s->labels();
        for (const auto& c : snap.chunks) {
          chunkenc::DecimalDecoder d(*c);
          while (d.Next()) {
            if (d.t() < start || d.t() > end || d.t() < floor) continue;
            if (!ss.t.empty() && d.t() <= ss.t.back()) continue;
            ss.t.push_back(d.t());
            ss.v.push_back(d.v());
          }
        }
        if (ss.t.empty()) continue;
        last = std::max(last, ss.t.back());
        info->head_samples += ss.t.size();
        out.push_back(std::move(ss));
      }
      if (out.empty()) continue;
      // Like an import, the block ends at its last sample: a vigil started on
      // the snapshot accepts new samples right after it.
      Result<BlockInfo> b = WriteBlock(blocks_out, std::move(out), start, last, 1);
      if (!b.ok()) return b.status();
      ++info->blocks;
      ++info->head_blocks;
      info->max_time = std::max(info->max_time, last);
    }
    return Status::Ok();
  }

  void LoadBlocks() {
    std::vector<std::shared_ptr<Block>> loaded;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(BlocksDir(), ec)) {
      std::string name = e.path().filename().string();
      if (!e.is_directory(ec)) continue;
      if (name.ends_with(".tmp") || name.ends_with(".deleting")) {
        // Left by a crash during a write or delete: never complete, always safe to remove.
        std::filesystem::remove_all(e.path(), ec);
        continue;
      }
      Result<std::shared_ptr<Block>> b = Block::Open(e.path().string());
      if (!b.ok()) {
        LogError("skipping unreadable block", {{"block", e.path().string()}, {"err", b.status().message()}});
        continue;
      }
      loaded.push_back(*b);
    }
    std::sort(loaded.begin(), loaded.end(),
              [](const auto& a, const auto& b) { return a->info().min_time < b->info().min_time; });
    TimestampMs max_block = kMinTime;
    for (const auto& b : loaded) max_block = std::max(max_block, b->info().max_time);
    if (max_block != kMinTime) min_valid_time_ = max_block + 1;
    std::lock_guard lock(blocks_mu_);
    blocks_ = std::move(loaded);
  }

  Status Replay() {
    WalReplayStats stats;
    uint64_t skipped = 0, unknown = 0;
    TimestampMs min_valid = min_valid_time_.load();
    std::vector<WalSample> samples;
    Status s = ReplayWal(
        WalDir(),
        [&](WalRecordType type, std::string_view payload) {
          if (type == WalRecordType::kSeries) {
            DecodeWalSeries(payload, [&](SeriesRef ref, Labels labels) { head_.GetOrCreateWithRef(ref, labels); });
            return;
          }
          samples.clear();
          DecodeWalSamples(payload, &samples);
          for (const WalSample& w : samples) {
            if (w.t < min_valid) {
              ++skipped;  // already in a block
              continue;
            }
            auto series = head_.GetByRef(w.ref);
            if (!series) {
              ++unknown;
              continue;
            }
            head_.Append(*series, w.t, w.v);
          }
        },
        &stats, /*repair=*/!options_.read_only);
    if (!s.ok()) return s;
    LogInfo("WAL replayed", {{"segments", std::to_string(stats.segments)},
                             {"records", std::to_string(stats.records)},
                             {"series", std::to_string(head_.num_series())},
                             {"samples", std::to_string(head_.num_samples())},
                             {"corrupt_segments", std::to_string(stats.corrupt_segments)},
                             {"samples_for_unknown_series", std::to_string(unknown)}});
    return Status::Ok();
  }

  // Opens a freshly written block and puts it in place of `replaced` (compaction), keeping time order.
  Status AddBlock(const std::string& id, const std::vector<std::shared_ptr<Block>>& replaced) {
    Result<std::shared_ptr<Block>> b = Block::Open(BlocksDir() + "/" + id);
    if (!b.ok()) return b.status();
    std::lock_guard lock(blocks_mu_);
    std::erase_if(blocks_,
                  [&](const auto& x) { return std::find(replaced.begin(), replaced.end(), x) != replaced.end(); });
    blocks_.push_back(*b);
    std::sort(blocks_.begin(), blocks_.end(),
              [](const auto& x, const auto& y) { return x->info().min_time < y->info().min_time; });
    ++generation_;
    return Status::Ok();
  }

  // Writes head samples in [start, end) as a block, then drops them from the head and the WAL.
  Status PersistHeadRange(TimestampMs start, TimestampMs end) {
    // From here on appenders reject samples older than `end`, so nothing is lost between read and truncate.
    if (min_valid_time_.load() < end) min_valid_time_ = end;
    std::vector<SeriesSamples> out;
    for (const auto& s : head_.Select({})) {
      ChunkSnapshot snap = head_.Snapshot(*s, start, end - 1);
      if (!snap.error.ok()) return snap.error;
      SeriesSamples ss;
      ss.labels = s->labels();
      for (const auto& c : snap.chunks) {
        chunkenc::DecimalDecoder d(*c);
        while (d.Next()) {
          if (d.t() < start || d.t() >= end) continue;
          ss.t.push_back(d.t());
          ss.v.push_back(d.v());
        }
      }
      if (!ss.t.empty()) out.push_back(std::move(ss));
    }
    if (!out.empty()) {
      Result<BlockInfo> info = WriteBlock(BlocksDir(), std::move(out), start, end - 1, 1);
      if (!info.ok()) {
        min_valid_time_ = start;  // nothing was persisted: keep accepting that range
        LogError("cannot write block; the data stays in the head and the WAL", {{"err", info.status().message()}});
        return info.status();
      }
      if (Status s = AddBlock(info->id, {}); !s.ok()) return s;
    }
    head_.Truncate(end);
    return CheckpointWal(end);
  }

  Status CheckpointWal(TimestampMs keep_from) {
    Result<int> closed = wal_->Cut();
    if (!closed.ok()) return closed.status();
    int last = *closed;
    const bool held = options_.wal_held_from && options_.wal_held_from() <= last;
    if (held) {
      last = options_.wal_held_from() - 1;
      if (last <= last_checkpoint_) return Status::Ok();  // nothing a reader has finished with yet
    }
    Status s = wal_->Checkpoint(last, [&](WalRecordType type, std::string_view payload, std::string* out) {
      if (type == WalRecordType::kSeries) {
        if (held) {
          // A held segment may hold samples of a series the head has let go.
          *out = std::string(payload);
          return true;
        }
        std::vector<std::shared_ptr<MemSeries>> live;
        DecodeWalSeries(payload, [&](SeriesRef ref, Labels) {
          if (auto s = head_.GetByRef(ref)) live.push_back(s);
        });
        if (live.empty()) return false;
        *out = EncodeSeriesRecord(live);
        return true;
      }
      std::vector<WalSample> samples, kept;
      DecodeWalSamples(payload, &samples);
      for (const WalSample& w : samples) {
        if (w.t >= keep_from && head_.GetByRef(w.ref)) kept.push_back(w);
      }
      if (kept.empty()) return false;
      EncodeWalSamples(kept, out);
      return true;
    });
    if (!s.ok()) {
      LogWarn("WAL checkpoint failed; old segments are kept", {{"err", s.message()}});
    } else {
      last_checkpoint_ = last;
    }
    return s;
  }

  // The windows Compact merges blocks into, narrowest first: 3, 12 and 36
  // block ranges, the wider ones only while they stay within a fifth of the
  // retention (so retention can still drop old data in small steps).
  std::vector<int64_t> CompactionWindows() const {
    int64_t range = options_.block_range.count();
    std::vector<int64_t> out;
    for (int64_t window : {range * 3, range * 12, range * 36}) {
      if (window > options_.retention.count() / 5 && window > range * 3) break;
      out.push_back(window);
    }
    return out;
  }

  // Merges level-N blocks that share an aligned window of 3x their range.
  Status Compact() {
    for (int64_t window : CompactionWindows()) {
      std::map<std::pair<int64_t, TimestampMs>, std::vector<std::shared_ptr<Block>>> groups;
      {
        std::lock_guard lock(blocks_mu_);
        for (const auto& b : blocks_) {
          TimestampMs w = AlignDown(b->info().min_time, window);
          if (b->info().max_time < w + window && b->info().max_time - b->info().min_time + 1 < window) {
            groups[{b->info().resolution.count(), w}].push_back(b);
          }
        }
      }
      for (auto& [key, group] : groups) {
        // Only complete windows the head has moved past, with something to merge.
        TimestampMs w = key.second;
        if (group.size() < 2 || w + window > min_valid_time_.load()) continue;
        if (Status s = Merge(group, w, w + window - 1); !s.ok()) return s;
      }
    }
    return Status::Ok();
  }

  Status Merge(const std::vector<std::shared_ptr<Block>>& group, TimestampMs mint, TimestampMs maxt) {
    std::map<Labels, SeriesSamples> merged;
    int level = 1;
    for (const auto& b : group) {
      level = std::max(level, b->info().level + 1);
      for (size_t i = 0; i < b->series().size(); ++i) {
        SeriesSamples& s = merged[b->series()[i].labels];
        s.labels = b->series()[i].labels;
        std::vector<TimestampMs> t;
        std::vector<double> v;
        if (Status st = b->Read(i, &t, &v); !st.ok()) return st;
        s.t.insert(s.t.end(), t.begin(), t.end());
        s.v.insert(s.v.end(), v.begin(), v.end());
      }
    }
    std::vector<SeriesSamples> series;
    for (auto& [l, s] : merged) {
      SortByTime(s.t, s.v);  // blocks of one window may overlap (imports)
      series.push_back(std::move(s));
    }
    Result<BlockInfo> info =
        WriteBlock(BlocksDir(), std::move(series), mint, maxt, level, group.front()->info().resolution);
    if (!info.ok()) return info.status();
    if (Status s = AddBlock(info->id, group); !s.ok()) return s;
    for (const auto& b : group) DeleteBlockDir(b->dir());
    return Status::Ok();
  }

  // Gives old raw blocks a 5 m copy and old 5 m blocks a 1 h copy, once each.
  Status DownsampleBlocks(TimestampMs now) {
    struct Step {
      Duration from, to, after;
    };
    const Step steps[] = {{Duration(0), Duration(300000), options_.downsample_5m_after},
                          {Duration(300000), Duration(3600000), options_.downsample_1h_after}};
    for (const Step& step : steps) {
      std::vector<std::shared_ptr<Block>> todo;
      {
        std::lock_guard lock(blocks_mu_);
        for (const auto& b : blocks_) {
          if (b->info().resolution != step.from || b->info().max_time >= now - step.after.count()) continue;
          bool covered = std::any_of(blocks_.begin(), blocks_.end(), [&](const auto& o) {
            return o->info().resolution == step.to && o->Overlaps(b->info().min_time, b->info().max_time);
          });
          if (!covered) todo.push_back(b);
        }
      }
      for (const auto& b : todo) {
        if (Status s = DownsampleBlock(*b, step.to); !s.ok()) return s;
      }
    }
    return Status::Ok();
  }

  Status DownsampleBlock(const Block& b, Duration to) {
    std::vector<SeriesSamples> out;
    auto emit = [&](const Labels& raw, const DownsampledSeries& d) {
      for (Aggregate a : kAllAggregates) {
        SeriesSamples s;
        s.labels = raw;
        s.labels.Set("__aggr__", AggregateName(a));
        s.t = d.t;
        s.v = d.Values(a);
        out.push_back(std::move(s));
      }
    };
    const auto& series = b.series();
    if (b.info().resolution.count() == 0) {
      std::shared_ptr<Block> previous = PreviousBlock(to, b.info().min_time);
      for (size_t i = 0; i < series.size(); ++i) {
        std::vector<TimestampMs> t;
        std::vector<double> v;
        if (Status s = b.Read(i, &t, &v); !s.ok()) return s;
        emit(series[i].labels, Downsample(t, v, to, previous ? CarryFrom(*previous, series[i].labels) : std::nullopt));
      }
    } else {
      // Series come sorted, so the six aggregates of one raw series are adjacent.
      std::map<Labels, DownsampledSeries> parts;
      for (size_t i = 0; i < series.size(); ++i) {
        Labels raw = series[i].labels;
        std::string aggr(raw.Get("__aggr__"));
        raw.Set("__aggr__", "");
        std::vector<TimestampMs> t;
        std::vector<double> v;
        if (Status s = b.Read(i, &t, &v); !s.ok()) return s;
        DownsampledSeries& d = parts[raw];
        d.t = t;
        for (Aggregate a : kAllAggregates) {
          if (AggregateName(a) == aggr) d.Values(a) = v;
        }
      }
      for (const auto& [raw, d] : parts) {
        bool complete = true;
        for (Aggregate a : kAllAggregates) complete &= d.Values(a).size() == d.t.size();
        if (complete) emit(raw, Downsample(d, to));
      }
    }
    Result<BlockInfo> info =
        WriteBlock(BlocksDir(), std::move(out), b.info().min_time, b.info().max_time, b.info().level, to);
    if (!info.ok()) return info.status();
    LogInfo("downsampled block", {{"from", b.info().id}, {"to", info->id}, {"resolution", FormatDuration(to)}});
    return AddBlock(info->id, {});
  }

  // The latest block of `resolution` ending before `t`, if any.
  std::shared_ptr<Block> PreviousBlock(Duration resolution, TimestampMs t) {
    std::lock_guard lock(blocks_mu_);
    std::shared_ptr<Block> best;
    for (const auto& b : blocks_) {
      if (b->info().resolution == resolution && b->info().max_time < t &&
          (!best || b->info().max_time > best->info().max_time)) {
        best = b;
      }
    }
    return best;
  }

  // Where `raw`'s counter aggregate ended in a downsampled block.
  static std::optional<CounterCarry> CarryFrom(const Block& b, const Labels& raw) {
    auto last_of = [&](std::string_view aggr) -> std::optional<double> {
      Labels l = raw;
      l.Set("__aggr__", aggr);
      auto it = std::lower_bound(b.series().begin(), b.series().end(), l,
                                 [](const BlockSeries& x, const Labels& y) { return x.labels < y; });
      if (it == b.series().end() || it->labels != l) return std::nullopt;
      std::vector<TimestampMs> t;
      std::vector<double> v;
      if (!b.Read(static_cast<size_t>(it - b.series().begin()), &t, &v).ok() || v.empty()) return std::nullopt;
      return v.back();
    };
    auto last = last_of("last");
    auto total = last_of("counter");
    if (!last || !total) return std::nullopt;
    return CounterCarry{*last, *total};
  }

  static void DeleteBlockDir(const std::string& dir) {
    // Rename first so a crash mid-delete leaves something recognisable to finish.
    std::error_code ec;
    std::string doomed = dir + ".deleting";
    std::filesystem::rename(dir, doomed, ec);
    std::filesystem::remove_all(ec ? dir : doomed, ec);
  }

  void ApplyRetention(TimestampMs now) {
    std::vector<std::shared_ptr<Block>> doomed;
    {
      std::lock_guard lock(blocks_mu_);
      auto cutoff = [&](const Block& b) {
        int64_t keep = b.info().resolution.count() == 0        ? options_.retention.count()
                       : b.info().resolution.count() == 300000 ? options_.retention_5m.count()
                                                               : options_.retention_1h.count();
        return now - keep;
      };
      uint64_t total = DirBytes(WalDir());
      for (const auto& b : blocks_) total += b->info().size_bytes;
      // Age, per resolution: any block may go.
      for (auto it = blocks_.begin(); it != blocks_.end();) {
        if ((*it)->info().max_time >= cutoff(**it)) {
          ++it;
          continue;
        }
        total -= (*it)->info().size_bytes;
        LogInfo("deleting block by retention", {{"block", (*it)->info().id}, {"reason", "age"}});
        doomed.push_back(*it);
        it = blocks_.erase(it);
      }
      // Size: the oldest blocks go first (blocks are sorted by time).
      while (options_.max_bytes > 0 && total > options_.max_bytes && !blocks_.empty()) {
        total -= blocks_.front()->info().size_bytes;
        LogInfo("deleting block by retention", {{"block", blocks_.front()->info().id}, {"reason", "size"}});
        doomed.push_back(blocks_.front());
        blocks_.erase(blocks_.begin());
      }
    }
    if (!doomed.empty()) ++generation_;
    for (const auto& b : doomed) DeleteBlockDir(b->dir());
  }

  void BackgroundLoop() {
    auto fsync_every = options_.wal_fsync.count() > 0 ? options_.wal_fsync : Duration(1000);
    auto next_maintain = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::unique_lock lock(bg_mu_);
    while (!closed_) {
      bg_cv_.wait_for(lock, fsync_every);
      if (closed_) break;
      lock.unlock();
      if (Status s = wal_->Sync(); !s.ok()) LogWarn("WAL fsync failed", {{"err", s.message()}});
      if (std::chrono::steady_clock::now() >= next_maintain) {
        next_maintain = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        (void)Maintain(SystemClock().NowMs());
      }
      lock.lock();
    }
  }

  const Options options_;
  int lock_fd_ = -1;
  Head head_;
  std::unique_ptr<Wal> wal_;
  int last_checkpoint_ = -1;  // the newest checkpoint this process wrote
  std::atomic<TimestampMs> min_valid_time_{kMinTime};

  std::mutex blocks_mu_;
  std::vector<std::shared_ptr<Block>> blocks_;  // sorted by min time
  std::mutex maintain_mu_;

  std::mutex wal_state_mu_;
  std::vector<std::shared_ptr<MemSeries>> unlogged_series_;
  bool writes_failing_ = false;
  std::string last_write_error_;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool closed_ = false;
  std::thread background_;
};

class HeadAppender final : public Appender {
 public:
  explicit HeadAppender(DBImpl* db) : db_(db) {}
  ~HeadAppender() override { Rollback(); }

  Result<SeriesRef> Append(SeriesRef ref, const Labels& labels, TimestampMs t, double v) override {
    std::shared_ptr<MemSeries> s = ref != 0 ? db_->head().GetByRef(ref) : nullptr;
    if (!s || (ref != 0 && !labels.empty() && s->packed_labels != labels)) {
      if (Status st = ValidateLabels(labels); !st.ok()) return st;
      bool created = false;
      s = db_->head().GetOrCreate(labels, &created);
      if (created) new_series_.push_back(s);
    }
    if (t < db_->min_valid_time()) {
      ++db_->out_of_order_;
      return Status::Error("out of bounds: sample at " + std::to_string(t) + " is older than the head");
    }
    Head::AppendResult r = db_->head().Reserve(*s, t, id_);
    if (r == Head::AppendResult::kOutOfOrder) {
      ++db_->out_of_order_;
      return Status::Error("out of order sample");
    }
    if (r == Head::AppendResult::kDuplicate) {
      ++db_->duplicates_;
      return Status::Error("duplicate sample for timestamp");
    }
    samples_.push_back({s->ref, t, v});
    targets_.push_back(s);
    return s->ref;
  }

  Status Commit() override {
    Status s = db_->CommitSamples(new_series_, samples_, targets_);
    Clear();
    return s;
  }

  void Rollback() override { Clear(); }

 private:
  void Clear() {
    samples_.clear();
    targets_.clear();
    new_series_.clear();
  }
  DBImpl* db_;
  std::vector<WalSample> samples_;
  std::vector<std::shared_ptr<MemSeries>> targets_;
  std::vector<std::shared_ptr<MemSeries>> new_series_;
  // Identifies this appender's pending samples in each series (see MemSeries).
  const uint64_t id_ = next_id_.fetch_add(1) + 1;
  static inline std::atomic<uint64_t> next_id_{0};
};

std::unique_ptr<Appender> DBImpl::NewAppender() { return std::make_unique<HeadAppender>(this); }

}  // namespace

// Series numbers for the spill; the blocks are written by the DB.
class DBImport final : public Import {
 public:
  DBImport(DBImpl* db, std::string spill_dir, int64_t window) : db_(db), spill_(std::move(spill_dir), window) {}

  Result<uint32_t> AddSeries(const Labels& labels) override {
    auto [it, added] = numbers_.try_emplace(labels, static_cast<uint32_t>(labels_.size()));
    if (added) {
      if (Status st = ValidateLabels(labels); !st.ok()) {
        numbers_.erase(it);
        return st.WithContext("series " + labels.ToString());
      }
      labels_.push_back(labels);
    }
    return it->second;
  }

  Status Add(uint32_t series, TimestampMs t, double v) override {
    if (series >= labels_.size()) return Status::Error("import: unknown series number " + std::to_string(series));
    return spill_.Add(series, t, v);
  }

  Result<ImportSummary> Finish(const std::function<void(double)>& progress) override {
    return db_->FinishImport(spill_, labels_, progress);
  }

 private:
  DBImpl* const db_;
  ImportSpill spill_;
  std::map<Labels, uint32_t> numbers_;
  std::vector<Labels> labels_;  // by number
};

Result<std::unique_ptr<Import>> DBImpl::NewImport() {
  if (options_.read_only) return Status::Error("storage is open read-only");
  // Under blocks/ with the ".tmp" suffix: a crash leaves nothing the next Open keeps.
  static std::atomic<int> sequence{0};
  std::string dir = BlocksDir() + "/import-" + std::to_string(::getpid()) + "-" + std::to_string(sequence++) + ".tmp";
  return std::unique_ptr<Import>(std::make_unique<DBImport>(this, dir, ImportWindow().first));
}

Result<std::vector<BlockInfo>> DB::ImportSeries(std::vector<SeriesSamples> series,
                                                const std::function<void(double)>& progress) {
  Result<std::unique_ptr<Import>> import = NewImport();
  if (!import.ok()) return import.status();
  for (SeriesSamples& s : series) {
    if (s.t.empty()) continue;
    Result<uint32_t> number = (*import)->AddSeries(s.labels);
    if (!number.ok()) return number.status();
    for (size_t i = 0; i < s.t.size(); ++i) {
      if (Status st = (*import)->Add(*number, s.t[i], s.v[i]); !st.ok()) return st;
    }
    s = SeriesSamples{};  // what is spilled need not stay in memory twice
  }
  Result<ImportSummary> summary = (*import)->Finish(progress);
  if (!summary.ok()) return summary.status();
  return summary->blocks;
}

Result<std::unique_ptr<DB>> DB::Open(const Options& options) {
  auto db = std::make_unique<DBImpl>(options);
  if (Status s = db->Init(); !s.ok()) return s;
  return std::unique_ptr<DB>(std::move(db));
}

}  // namespace vigil::tsdb
