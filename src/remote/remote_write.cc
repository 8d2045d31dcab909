#include "remote/remote_write.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "http/outbound.h"
#include "relabel/relabel.h"
#include "remote/codec.h"
#include "remote/step_export.h"
#include "remote/wal_follower.h"

namespace vigil::remote {

namespace {

using Clock = std::chrono::steady_clock;

// How often the follower looks for new WAL records when it has caught up.
constexpr auto kPollInterval = std::chrono::milliseconds(100);
// The acknowledged position is saved at most this often while running (and
// on Stop): a crash sends at most this much again, never less.
constexpr auto kSaveInterval = std::chrono::seconds(1);
// With an export resolution, raw samples read from the WAL at a time.
constexpr size_t kExportReadSamples = 20000;
// The backlog is measured (directory listing, stats) at most this often.
constexpr auto kBacklogCheckInterval = std::chrono::seconds(5);

std::string PositionFileName(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out + ".position";
}

// With an export resolution, a sample's ref carries which aggregate of the
// series' step it is: ref * kAggregateSlots + index into kExported.
constexpr uint64_t kAggregateSlots = 8;
constexpr tsdb::Aggregate kExported[] = {tsdb::Aggregate::kLast, tsdb::Aggregate::kMin, tsdb::Aggregate::kMax,
                                         tsdb::Aggregate::kSum, tsdb::Aggregate::kCount};

// Retry-After as delta-seconds (what Prometheus-compatible receivers send);
// an HTTP date or garbage falls back to the backoff.
std::optional<Duration> ParseRetryAfter(const std::string& v) {
  auto s = ParseUint64(Trim(v));
  if (!s || *s > 3600) return std::nullopt;
  return Duration(static_cast<int64_t>(*s) * 1000);
}

struct Counters {
  std::atomic<uint64_t> samples_sent{0}, samples_failed{0}, samples_retried{0}, bytes_sent{0};
  std::atomic<uint64_t> dropped_unknown_series{0}, dropped_backlog{0}, dropped_relabel{0}, dropped_late{0};
  std::atomic<uint64_t> requests_failed{0};
  std::atomic<int64_t> highest_sent_ms{0}, highest_read_ms{0};
  std::atomic<uint64_t> pending{0}, backlog_bytes{0};
  std::atomic<int> shards{1};
};

class Writer final : public RemoteWriter {
 public:
  explicit Writer(WriterOptions o) : o_(std::move(o)), follower_(o_.wal_dir) {
    url_ = http::ParseUrl(o_.target.url);
    redacted_ = url_ ? url_->redacted : "?";
    position_path_ = o_.state_dir + "/" + PositionFileName(o_.target.name);
    Result<std::string> text = ReadFile(position_path_, 4096);
    if (text.ok()) {
      saved_ = ParseSavedPosition(*text);
      if (!saved_) {
        // Unreadable: start from the oldest WAL left; the receiver may see duplicates, never a gap.
        LogWarn("remote write: unreadable saved position; sending again from the oldest WAL segment",
                {{"remote_name", o_.target.name}, {"file", position_path_}});
        saved_ = SavedPosition{};
      }
      held_from_ = std::max(saved_->wal.segment, 0);
    }
    counters_.shards = o_.target.min_shards;
    if (o_.target.resolution.count() > 0) {
      export_.emplace(o_.target.resolution, std::min(o_.target.resolution_delay, o_.target.resolution),
                      saved_ ? saved_->closed_before : 0);
      for (size_t i = 0; i < std::size(kExported); ++i) {
        exported_[i] = std::find(o_.target.aggregates.begin(), o_.target.aggregates.end(),
                                 tsdb::AggregateName(kExported[i])) != o_.target.aggregates.end();
      }
    }
  }

  ~Writer() override { Stop(); }

  int HeldFrom() const override { return held_from_.load(); }

  void Start() override {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (!thread_.joinable()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::lock_guard lock(mu_);
    thread_ = std::thread();
  }

  void AppendMetrics(MetricBatch& out) const override {
    Labels l{{"remote_name", o_.target.name}, {"url", redacted_}};
    auto counter = [&](const char* name, const char* help, uint64_t v, Labels labels) {
      out.AddCounter(name, help, std::move(labels), static_cast<double>(v));
    };
    counter("vigil_remote_storage_samples_total", "Samples the receiver acknowledged.", counters_.samples_sent, l);
    counter("vigil_remote_storage_samples_failed_total",
            "Samples the receiver refused for good (a 4xx other than 429); not sent again.", counters_.samples_failed,
            l);
    counter("vigil_remote_storage_samples_retried_total", "Samples sent again after a 5xx, 429 or transport failure.",
            counters_.samples_retried, l);
    const char* dropped_help =
        "Samples not sent: dropped by write_relabel_configs, WAL records of an unknown series, WAL past the backlog "
        "budget, or (export resolution) written after their step was sent.";
    auto dropped = [&](const char* reason, uint64_t v) {
      Labels with_reason = l;
      with_reason.Set("reason", reason);
      counter("vigil_remote_storage_samples_dropped_total", dropped_help, v, std::move(with_reason));
    };
    dropped("relabel", counters_.dropped_relabel);
    dropped("unknown_series", counters_.dropped_unknown_series);
    dropped("backlog", counters_.dropped_backlog);
    if (export_) dropped("late", counters_.dropped_late);
    counter("vigil_remote_storage_sent_bytes_total", "Compressed request bytes the receiver acknowledged.",
            counters_.bytes_sent, l);
    counter("vigil_remote_storage_requests_failed_total", "Requests that failed (any reason, retried or not).",
            counters_.requests_failed, l);
    out.AddGauge("vigil_remote_storage_samples_pending", "Samples read from the WAL and not yet acknowledged.", l,
                 static_cast<double>(counters_.pending.load()));
    out.AddGauge("vigil_remote_storage_backlog_bytes", "WAL bytes written after the acknowledged position.", l,
                 static_cast<double>(counters_.backlog_bytes.load()));
    out.AddGauge("vigil_remote_storage_shards", "Requests in flight at once for this target.", l,
                 counters_.shards.load());
    out.AddGauge("vigil_remote_storage_highest_read_timestamp_seconds",
                 "Newest sample timestamp read from the WAL for this target.", l,
                 static_cast<double>(counters_.highest_read_ms.load()) / 1000.0);
    out.AddGauge("vigil_remote_storage_highest_sent_timestamp_seconds",
                 "Newest sample timestamp the receiver acknowledged.", l,
                 static_cast<double>(counters_.highest_sent_ms.load()) / 1000.0);
  }

 private:
  bool Stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  // Sleeps up to `d`; false when asked to stop.
  bool Sleep(Clock::duration d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return stopping_; });
  }

  void Run() {
    Status s = saved_ ? follower_.Seek(saved_->wal) : follower_.SeekToEnd();
    if (!s.ok()) LogError("remote write: cannot read the WAL", {{"remote_name", o_.target.name}, {"err", s.message()}});
    if (saved_ && saved_->wal.segment > 0 && follower_.position().segment > saved_->wal.segment) {
      LogWarn("remote write: WAL segments were released before they were sent",
              {{"remote_name", o_.target.name}, {"from_segment", std::to_string(saved_->wal.segment)}});
    }
    Acknowledge(/*force=*/true);
    LogInfo("remote write started", {{"remote_name", o_.target.name},
                                     {"url", redacted_},
                                     {"segment", std::to_string(follower_.position().segment)},
                                     {"offset", std::to_string(follower_.position().offset)}});
    std::vector<tsdb::WalSample> batch;
    Clock::time_point first_pending{};
    Clock::time_point last_backlog_check{};
    while (!Stopping()) {
      const size_t cap = static_cast<size_t>(o_.target.max_samples_per_send) * counters_.shards.load();
      bool at_end = false;
      size_t before = batch.size();
      if (batch.size() < cap) {
        if (Status rs = ReadInto(cap - batch.size(), &batch, &at_end); !rs.ok()) {
          LogError("remote write: cannot read the WAL", {{"remote_name", o_.target.name}, {"err", rs.message()}});
          if (!Sleep(std::chrono::seconds(1))) break;
          continue;
        }
      }
      if (batch.size() > before && before == 0) first_pending = Clock::now();
      counters_.pending = batch.size();
      if (Clock::now() - last_backlog_check > kBacklogCheckInterval) {
        last_backlog_check = Clock::now();
        if (EnforceBacklog(&batch)) continue;
      }
      if (batch.empty()) {
        Acknowledge(false);  // records without samples (series) still move the position
        if (at_end && !Sleep(kPollInterval)) break;
        continue;
      }
      const bool full = batch.size() >= static_cast<size_t>(o_.target.max_samples_per_send);
      const bool due = Clock::now() - first_pending >= o_.target.batch_send_deadline;
      if (!full && !due && at_end) {
        if (!Sleep(kPollInterval)) break;
        continue;
      }
      if (!SendRound(batch)) break;  // stopping: nothing acknowledged
      batch.clear();
      counters_.pending = 0;
      Acknowledge(false);
      AdaptShards(at_end);
    }
    Acknowledge(/*force=*/true);
  }

  // Raw: the WAL's samples as they are. With an export resolution: the WAL's
  // samples go into their steps, and the points of closed steps come out.
  Status ReadInto(size_t max_samples, std::vector<tsdb::WalSample>* batch, bool* at_end) {
    if (!export_) {
      const size_t before = batch->size();
      Status s = follower_.Read(max_samples, batch, at_end);
      NoteRead(batch->begin() + static_cast<std::ptrdiff_t>(before), batch->end());
      return s;
    }
    WalPosition read_from = follower_.position();
    raw_.clear();
    // Raw samples become far fewer points: read in larger bites than a request holds.
    if (Status s = follower_.Read(std::max<size_t>(max_samples, kExportReadSamples), &raw_, at_end); !s.ok()) {
      return s;
    }
    NoteRead(raw_.begin(), raw_.end());
    uint64_t late_before = export_->late_samples();
    export_->Add(raw_, read_from, SystemClock().NowMs());
    if (uint64_t late = export_->late_samples() - late_before; late > 0) {
      counters_.dropped_late += late;
      LogWarn("remote write: samples written after their step was sent are not exported",
              {{"remote_name", o_.target.name},
               {"samples", std::to_string(late)},
               {"resolution_delay", FormatDuration(o_.target.resolution_delay)}});
    }
    points_.clear();
    export_->TakeClosed(&points_);
    for (const StepPoint& p : points_) {
      for (size_t i = 0; i < std::size(kExported); ++i) {
        if (exported_[i]) batch->push_back({p.ref * kAggregateSlots + i, p.point.t, p.point.Value(kExported[i])});
      }
    }
    return Status::Ok();
  }

  // The newest timestamp read from the WAL, for the target's lag.
  void NoteRead(std::vector<tsdb::WalSample>::const_iterator begin, std::vector<tsdb::WalSample>::const_iterator end) {
    int64_t newest = counters_.highest_read_ms.load();
    for (auto it = begin; it != end; ++it) newest = std::max<int64_t>(newest, it->t);
    counters_.highest_read_ms = newest;
  }

  // Still behind the WAL after a round: twice the requests in flight (up to
  // max_shards); caught up: one fewer (down to min_shards).
  void AdaptShards(bool caught_up) {
    int shards = counters_.shards.load();
    if (!caught_up) {
      shards = std::min(o_.target.max_shards, shards * 2);
    } else if (shards > o_.target.min_shards) {
      --shards;
    }
    counters_.shards = shards;
  }

  // Past the backlog budget: the oldest unsent segments are let go (counted)
  // so the store can release them. True when it moved the position.
  bool EnforceBacklog(std::vector<tsdb::WalSample>* batch) {
    uint64_t behind = follower_.BytesBehind();
    counters_.backlog_bytes = behind;
    if (behind <= o_.target.max_backlog_bytes) return false;
    uint64_t dropped = batch->size();
    batch->clear();
    counters_.pending = 0;
    if (export_) dropped += export_->DropOpen();
    while (follower_.BytesBehind() > o_.target.max_backlog_bytes) {
      WalPosition at = follower_.position();
      dropped += follower_.SamplesLeftInSegment();
      if (!follower_.Seek({at.segment + 1, 0}).ok() || follower_.position().segment <= at.segment) break;
    }
    counters_.dropped_backlog += dropped;
    LogError("remote write: receiver too far behind; dropped the oldest unsent WAL to stay within max_backlog",
             {{"remote_name", o_.target.name},
              {"samples", std::to_string(dropped)},
              {"max_backlog_bytes", std::to_string(o_.target.max_backlog_bytes)}});
    Acknowledge(/*force=*/true);
    return true;
  }

  // Saves the follower's position (what every sample before it was
  // acknowledged up to) and lets the store release older segments.
  void Acknowledge(bool force) {
    SavedPosition p{follower_.position(), 0};
    if (export_) p = {export_->RestartFrom(p.wal), export_->closed_before()};
    if (saved_ && *saved_ == p) return;
    if (!force && Clock::now() - last_save_ < kSaveInterval) return;
    std::error_code ec;
    std::filesystem::create_directories(o_.state_dir, ec);
    std::string tmp = position_path_ + ".tmp";
    Status s = WriteFileSynced(tmp, FormatSavedPosition(p));
    if (s.ok() && std::rename(tmp.c_str(), position_path_.c_str()) != 0)
      s = Status::Error("rename " + tmp + ": " + std::strerror(errno));
    if (!s.ok()) {
      // The WAL stays held from the old position: nothing is lost, more may be sent twice.
      LogWarn("remote write: cannot save the acknowledged position",
              {{"remote_name", o_.target.name}, {"err", s.message()}});
      return;
    }
    saved_ = p;
    last_save_ = Clock::now();
    held_from_ = p.wal.segment;
    counters_.backlog_bytes = follower_.BytesBehind();
  }

  // Sends `batch` in up to `shards` parallel streams (a series always in the
  // same one, so its samples stay in order); false when stopping.
  bool SendRound(const std::vector<tsdb::WalSample>& batch) {
    const int shards = std::max(1, counters_.shards.load());
    std::vector<std::vector<prompb::WriteRequest>> requests(shards);
    // Per shard: series in first-seen order, samples in WAL order.
    std::vector<std::map<tsdb::SeriesRef, std::vector<const tsdb::WalSample*>>> by_series(shards);
    std::vector<std::vector<tsdb::SeriesRef>> order(shards);
    // The labels each series is sent with (external labels, then
    // write_relabel_configs), once per round; empty: relabeling dropped it.
    std::unordered_map<tsdb::SeriesRef, Labels> sent_labels;
    for (const tsdb::WalSample& s : batch) {
      const Labels* stored = follower_.LabelsOf(export_ ? s.ref / kAggregateSlots : s.ref);
      if (stored == nullptr) {
        ++counters_.dropped_unknown_series;
        continue;
      }
      auto [it, fresh] = sent_labels.try_emplace(s.ref);
      if (fresh) it->second = LabelsToSend(*stored, export_ ? s.ref % kAggregateSlots : 0);
      if (it->second.empty()) {
        ++counters_.dropped_relabel;
        continue;
      }
      int shard = static_cast<int>(s.ref % static_cast<uint64_t>(shards));
      auto& list = by_series[shard][s.ref];
      if (list.empty()) order[shard].push_back(s.ref);
      list.push_back(&s);
    }
    for (int i = 0; i < shards; ++i) {
      prompb::WriteRequest* req = nullptr;
      int in_request = 0;
      for (tsdb::SeriesRef ref : order[i]) {
        const auto& samples = by_series[i][ref];
        prompb::TimeSeries* ts = nullptr;
        for (const tsdb::WalSample* s : samples) {
          if (req == nullptr || in_request >= o_.target.max_samples_per_send) {
            req = &requests[i].emplace_back();
            in_request = 0;
            ts = nullptr;
          }
          if (ts == nullptr) {
            ts = req->add_timeseries();
            for (const Label& l : sent_labels[ref]) {
              auto* pl = ts->add_labels();
              pl->set_name(l.name);
              pl->set_value(l.value);
            }
          }
          auto* ps = ts->add_samples();
          ps->set_value(s->v);
          ps->set_timestamp(s->t);
          ++in_request;
        }
      }
    }
    std::atomic<bool> completed{true};
    auto send_shard = [&](int i) {
      for (const prompb::WriteRequest& r : requests[i]) {
        if (!SendWithRetries(r)) {
          completed = false;
          return;
        }
      }
    };
    if (shards == 1) {
      send_shard(0);
    } else {
      std::vector<std::thread> threads;
      for (int i = 0; i < shards; ++i) {
        if (!requests[i].empty()) threads.emplace_back(send_shard, i);
      }
      for (auto& t : threads) t.join();
    }
    return completed;
  }

  // External labels fill in what a series lacks, then write_relabel_configs
  // apply, as in Prometheus. Empty when relabeling drops the series.
  Labels LabelsToSend(const Labels& stored, size_t exported_aggregate) const {
    Labels out = stored;
    // The step's last value stands for the series itself; the others say which they are.
    if (exported_aggregate > 0) out.Set("aggregate", tsdb::AggregateName(kExported[exported_aggregate]));
    for (const Label& l : o_.external_labels) {
      if (stored.Get(l.name).empty()) out.Set(l.name, l.value);
    }
    if (!o_.target.write_relabel_configs.empty() && !relabel::Apply(o_.target.write_relabel_configs, &out)) {
      return Labels();
    }
    return out;
  }

  // One request until the receiver takes it, refuses it for good, or vigil stops.
  bool SendWithRetries(const prompb::WriteRequest& r) {
    int samples = 0;
    int64_t newest = 0;
    for (const auto& ts : r.timeseries()) {
      samples += ts.samples_size();
      for (const auto& s : ts.samples()) newest = std::max<int64_t>(newest, s.timestamp());
    }
    http::HttpRequest req;
    if (!url_) return true;  // the config check rejects such a URL; nothing to send to
    req.url = *url_;
    req.method = "POST";
    req.body = EncodeSnappyProto(r);
    req.content_type = "application/x-protobuf";
    req.headers = {
        {"Content-Encoding", "snappy"}, {"X-Prometheus-Remote-Write-Version", "0.1.0"}, {"User-Agent", o_.user_agent}};
    for (const auto& [k, v] : o_.target.headers) req.headers.emplace_back(k, v);
    if (!o_.target.bearer_token.empty()) req.headers.emplace_back("Authorization", "Bearer " + o_.target.bearer_token);
    req.user = o_.target.basic_auth.user.empty() ? url_->user : o_.target.basic_auth.user;
    req.password = o_.target.basic_auth.user.empty() ? url_->password : o_.target.basic_auth.password;
    req.tls_verify = !o_.target.tls_insecure_skip_verify;
    req.tls_ca_file = o_.target.tls_ca_file;
    req.tls_cert_file = o_.target.tls_cert_file;
    req.tls_key_file = o_.target.tls_key_file;
    req.keep_alive = true;
    req.max_body_bytes = 1 << 20;  // receivers answer with short messages
    Duration backoff = o_.target.min_backoff;
    for (int attempt = 0;; ++attempt) {
      if (Stopping()) return false;
      req.deadline = Clock::now() + std::chrono::milliseconds(o_.target.remote_timeout.count());
      http::HttpResponse resp;
      std::optional<http::Failure> f = http::HttpExchange(req, &resp);
      std::string problem;
      std::optional<Duration> wait;
      if (f) {
        problem = f->reason + ": " + f->detail;
      } else if (resp.status >= 200 && resp.status < 300) {
        counters_.samples_sent += samples;
        counters_.bytes_sent += req.body.size();
        counters_.highest_sent_ms = std::max<int64_t>(counters_.highest_sent_ms.load(), newest);
        if (failing_.exchange(false)) {
          LogInfo("remote write works again", {{"remote_name", o_.target.name}, {"url", redacted_}});
        }
        return true;
      } else if (resp.status >= 500 || (resp.status == 429 && o_.target.retry_on_http_429)) {
        problem = "HTTP " + std::to_string(resp.status) + ": " + Snippet(resp.body);
        wait = ParseRetryAfter(resp.retry_after);
      } else {
        // Out of order, duplicate with another value, too old: sending it again cannot help.
        ++counters_.requests_failed;
        counters_.samples_failed += samples;
        LogError("remote write: receiver refused samples; they are not sent again",
                 {{"remote_name", o_.target.name},
                  {"url", redacted_},
                  {"status", std::to_string(resp.status)},
                  {"samples", std::to_string(samples)},
                  {"response", Snippet(resp.body)}});
        return true;
      }
      ++counters_.requests_failed;
      counters_.samples_retried += samples;
      if (!failing_.exchange(true)) {
        LogWarn("remote write: cannot send; retrying with backoff (nothing is lost: the WAL holds the samples)",
                {{"remote_name", o_.target.name}, {"url", redacted_}, {"reason", problem}});
      }
      Duration pause = wait ? *wait : backoff;
      backoff = std::min(o_.target.max_backoff, Duration(backoff.count() * 2));
      auto until = Clock::now() + std::chrono::milliseconds(pause.count());
      while (Clock::now() < until) {
        if (!Sleep(std::min<Clock::duration>(until - Clock::now(), kBacklogCheckInterval))) return false;
        // An outage long enough to pass the backlog budget gives up this round too.
        counters_.backlog_bytes = follower_.BytesBehind();
        if (counters_.backlog_bytes.load() > o_.target.max_backlog_bytes) {
          counters_.dropped_backlog += samples;
          return true;
        }
      }
    }
  }

  static std::string Snippet(const std::string& body) {
    std::string s = body.substr(0, 200);
    for (char& c : s) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return s;
  }

  const WriterOptions o_;
  std::optional<http::ParsedUrl> url_;
  std::string redacted_;
  std::string position_path_;
  WalFollower follower_;
  std::optional<SavedPosition> saved_;
  // Set with an export resolution; which of kExported are sent.
  std::optional<StepExport> export_;
  bool exported_[std::size(kExported)] = {};
  std::vector<tsdb::WalSample> raw_;  // reused between reads
  std::vector<StepPoint> points_;
  Clock::time_point last_save_{};
  std::atomic<int> held_from_{INT_MAX};
  std::atomic<bool> failing_{false};
  Counters counters_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<RemoteWriter> RemoteWriter::Create(WriterOptions options) {
  return std::make_unique<Writer>(std::move(options));
}

}  // namespace vigil::remote
