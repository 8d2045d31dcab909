#include "remote/remote_write.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "base/testing/temp_dir.h"
#include "http/server.h"
#include "remote/codec.h"
#include "remote/wal_follower.h"
#include "tsdb/tsdb.h"

namespace vigil::remote {
namespace {

using testing::TempDir;

Labels Series(int i) { return Labels{{"__name__", "m"}, {"s", std::to_string(i)}}; }

// Appends one sample to each of `n` series at `t` (value t + series), one commit.
void AppendRound(tsdb::DB& db, int n, TimestampMs t) {
  auto app = db.NewAppender();
  for (int i = 0; i < n; ++i) ASSERT_TRUE(app->Append(0, Series(i), t, static_cast<double>(t + i)).ok());
  ASSERT_TRUE(app->Commit().ok());
}

std::unique_ptr<tsdb::DB> OpenDB(const std::string& dir, std::function<int()> held = nullptr) {
  tsdb::Options o;
  o.dir = dir;
  o.block_range = Duration(10000);
  o.wal_held_from = std::move(held);
  auto db = tsdb::DB::Open(o);
  EXPECT_TRUE(db.ok()) << db.status().message();
  return std::move(*db);
}

TEST(WalFollower, ReadsSamplesWithTheirLabelsAndResumesFromAPosition) {
  TempDir dir;
  auto db = OpenDB(dir.path());
  AppendRound(*db, 3, 1000);
  AppendRound(*db, 3, 2000);
  WalFollower f(dir.path() + "/wal");
  ASSERT_TRUE(f.Seek({0, 0}).ok());
  std::vector<tsdb::WalSample> got;
  bool at_end = false;
  ASSERT_TRUE(f.Read(1000, &got, &at_end).ok());
  EXPECT_TRUE(at_end);
  ASSERT_EQ(got.size(), 6u);
  ASSERT_NE(f.LabelsOf(got[4].ref), nullptr);
  EXPECT_EQ(*f.LabelsOf(got[4].ref), Series(1));
  EXPECT_EQ(got[4].t, 2000);
  EXPECT_EQ(got[4].v, 2001);
  WalPosition after = f.position();

  // Nothing new: nothing read. Then one more round, and a restart of the
  // store (a new segment); a second follower from the saved position reads
  // only what came after it, still knowing every series.
  got.clear();
  ASSERT_TRUE(f.Read(1000, &got, &at_end).ok());
  EXPECT_TRUE(got.empty());
  AppendRound(*db, 3, 3000);
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  db = OpenDB(dir.path());
  AppendRound(*db, 4, 4000);  // series 3 is new
  WalFollower g(dir.path() + "/wal");
  ASSERT_TRUE(g.Seek(after).ok());
  ASSERT_TRUE(g.Read(1000, &got, &at_end).ok());
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0].t, 3000);
  EXPECT_EQ(got[6].t, 4000);
  EXPECT_EQ(*g.LabelsOf(got[6].ref), Series(3));
  EXPECT_EQ(*g.LabelsOf(got[0].ref), Series(0));
  EXPECT_GT(g.position().segment, after.segment);
}

TEST(WalFollower, ReadStopsAtWholeRecordsPastTheLimit) {
  TempDir dir;
  auto db = OpenDB(dir.path());
  for (int r = 0; r < 5; ++r) AppendRound(*db, 4, 1000 * (r + 1));
  WalFollower f(dir.path() + "/wal");
  ASSERT_TRUE(f.Seek({0, 0}).ok());
  std::vector<tsdb::WalSample> got;
  bool at_end = true;
  ASSERT_TRUE(f.Read(6, &got, &at_end).ok());
  EXPECT_FALSE(at_end);
  EXPECT_EQ(got.size(), 8u);  // two records of four
  ASSERT_TRUE(f.Read(100, &got, &at_end).ok());
  EXPECT_EQ(got.size(), 20u);
  EXPECT_EQ(f.BytesBehind(), 0u);  // at the end: nothing behind
}

TEST(WalFollower, SegmentsAReaderHoldsSurviveTheCheckpoint) {
  TempDir dir;
  std::atomic<int> held{1};
  auto db = OpenDB(dir.path(), [&] { return held.load(); });
  for (int i = 0; i < 60; ++i) AppendRound(*db, 2, i * 1000);
  ASSERT_TRUE(db->Maintain(60000).ok());
  ASSERT_GE(db->GetStats().blocks.size(), 1u);  // the head was cut: without the hold, segment 1 would be gone
  WalFollower f(dir.path() + "/wal");
  int lost = -1;
  ASSERT_TRUE(f.Seek({1, 0}, &lost).ok());
  EXPECT_EQ(lost, 0);
  std::vector<tsdb::WalSample> got;
  bool at_end = false;
  ASSERT_TRUE(f.Read(100000, &got, &at_end).ok());
  ASSERT_EQ(got.size(), 120u);
  EXPECT_EQ(got.front().t, 0);
  EXPECT_EQ(*f.LabelsOf(got.front().ref), Series(0));

  // Released: the next checkpoint folds the segments away, and a follower
  // still at segment 1 learns it lost them.
  held = INT_MAX;
  for (int i = 60; i < 120; ++i) AppendRound(*db, 2, i * 1000);
  ASSERT_TRUE(db->Maintain(120000).ok());
  WalFollower g(dir.path() + "/wal");
  ASSERT_TRUE(g.Seek({1, 0}, &lost).ok());
  EXPECT_GT(lost, 0);
  EXPECT_GT(g.position().segment, 1);
}

// A remote-write receiver: decodes every request; answers from a script of
// statuses, then 204.
class Receiver {
 public:
  explicit Receiver(std::vector<int> script = {}) : script_(std::move(script)) {
    http::Endpoints e;
    e.routes.push_back({"/api/v1/write", [this](const http::Request& r) { return Handle(r); }});
    auto s = http::StartServer("127.0.0.1:0", std::move(e));
    EXPECT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
  }
  ~Receiver() { server_->Stop(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->bound().port) + "/api/v1/write"; }
  size_t samples() {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [k, v] : got_) n += v.size();
    return n;
  }
  std::map<std::string, std::vector<std::pair<int64_t, double>>> got() {
    std::lock_guard lock(mu_);
    return got_;
  }
  int requests() const { return requests_; }
  bool WaitFor(size_t n) {
    for (int i = 0; i < 500 && samples() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return samples() >= n;
  }

 private:
  http::Response Handle(const http::Request& r) {
    std::lock_guard lock(mu_);
    ++requests_;
    http::Response resp;
    if (r.Header("content-encoding") != "snappy" || r.Header("x-prometheus-remote-write-version") != "0.1.0" ||
        r.content_type != "application/x-protobuf") {
      resp.status = 415;
      return resp;
    }
    if (!script_.empty()) {
      resp.status = script_.front();
      script_.erase(script_.begin());
      if (resp.status == 429) resp.headers.emplace_back("Retry-After", "0");
      return resp;
    }
    prompb::WriteRequest w;
    if (!DecodeSnappyProto(r.body, &w, "write request").ok()) {
      resp.status = 400;
      return resp;
    }
    for (const auto& ts : w.timeseries()) {
      std::string key;
      for (const auto& l : ts.labels()) key += l.name() + "=" + l.value() + ",";
      for (const auto& s : ts.samples()) got_[key].push_back({s.timestamp(), s.value()});
    }
    resp.status = 204;
    return resp;
  }

  std::mutex mu_;
  std::vector<int> script_;
  std::map<std::string, std::vector<std::pair<int64_t, double>>> got_;
  std::atomic<int> requests_{0};
  std::unique_ptr<http::Server> server_;
};

WriterOptions Options(const std::string& data, const std::string& url) {
  WriterOptions o;
  o.target.name = "test";
  o.target.url = url;
  o.target.batch_send_deadline = Duration(20);
  o.target.min_backoff = Duration(5);
  o.target.max_backoff = Duration(20);
  o.target.max_samples_per_send = 7;  // several requests per round
  o.wal_dir = data + "/wal";
  o.state_dir = data + "/remote_write";
  o.external_labels = Labels{{"host", "h1"}, {"s", "not-this"}};
  return o;
}

double MetricValue(const RemoteWriter& w, const std::string& name, const std::string& reason = "") {
  MetricBatch b;
  w.AppendMetrics(b);
  const MetricFamily* f = b.Find(name);
  if (f == nullptr) return -1;
  for (const auto& s : f->samples) {
    if (reason.empty() || s.labels.Get("reason") == reason) return s.value;
  }
  return -1;
}

void WaitForPositionFile(const std::string& data) {
  for (int i = 0; i < 500 && !std::filesystem::exists(data + "/remote_write/test.position"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TEST(RemoteWriter, DeliversEverySampleThroughFailuresAndRestartsInOrder) {
  TempDir dir;
  Receiver rx({503, 500, 429});
  std::unique_ptr<RemoteWriter> w;
  auto db = OpenDB(dir.path(), [&] { return w ? w->HeldFrom() : INT_MAX; });
  w = RemoteWriter::Create(Options(dir.path(), rx.url()));
  EXPECT_EQ(w->HeldFrom(), INT_MAX);  // nothing saved yet
  w->Start();
  WaitForPositionFile(dir.path());  // a first start follows from the end
  for (int r = 1; r <= 5; ++r) AppendRound(*db, 4, r * 1000);
  ASSERT_TRUE(rx.WaitFor(20)) << rx.samples();
  EXPECT_GE(MetricValue(*w, "vigil_remote_storage_samples_retried_total"), 7);
  w->Stop();
  EXPECT_LT(w->HeldFrom(), INT_MAX);

  // Written while vigil's writer was away (a restart): sent after, nothing twice.
  for (int r = 6; r <= 8; ++r) AppendRound(*db, 5, r * 1000);
  w = RemoteWriter::Create(Options(dir.path(), rx.url()));
  w->Start();
  ASSERT_TRUE(rx.WaitFor(20 + 15)) << rx.samples();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto got = rx.got();
  ASSERT_EQ(rx.samples(), 35u);
  // External labels fill in what a series lacks, never replace; labels stay sorted.
  auto& s1 = got["__name__=m,host=h1,s=1,"];
  ASSERT_EQ(s1.size(), 8u);
  for (int r = 1; r <= 8; ++r) EXPECT_EQ(s1[r - 1], (std::pair<int64_t, double>{r * 1000, r * 1000 + 1}));
  EXPECT_EQ(got["__name__=m,host=h1,s=4,"].size(), 3u);
  EXPECT_EQ(MetricValue(*w, "vigil_remote_storage_samples_total"), 15);
  w->Stop();
}

TEST(RemoteWriter, WriteRelabelConfigsApplyAfterExternalLabels) {
  TempDir dir;
  Receiver rx;
  std::unique_ptr<RemoteWriter> w;
  auto db = OpenDB(dir.path(), [&] { return w ? w->HeldFrom() : INT_MAX; });
  auto o = Options(dir.path(), rx.url());
  relabel::Rule drop;  // series s="2" stays home
  drop.source_labels = {"s"};
  drop.regex = "2";
  drop.action = relabel::Action::kDrop;
  relabel::Rule copy;  // the external host label, copied into "origin"
  copy.source_labels = {"host"};
  copy.target_label = "origin";
  for (relabel::Rule* r : {&drop, &copy}) ASSERT_TRUE(r->Compile().ok());
  o.target.write_relabel_configs = {drop, copy};
  w = RemoteWriter::Create(o);
  w->Start();
  WaitForPositionFile(dir.path());
  AppendRound(*db, 3, 1000);
  AppendRound(*db, 3, 2000);
  ASSERT_TRUE(rx.WaitFor(4));
  for (int i = 0; i < 500 && MetricValue(*w, "vigil_remote_storage_samples_dropped_total", "relabel") < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  w->Stop();
  auto got = rx.got();
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got["__name__=m,host=h1,origin=h1,s=0,"].size(), 2u);
  EXPECT_EQ(got["__name__=m,host=h1,origin=h1,s=1,"].size(), 2u);
  EXPECT_EQ(MetricValue(*w, "vigil_remote_storage_samples_dropped_total", "relabel"), 2);
}

TEST(RemoteWriter, ARefusedBatchIsCountedAndNotSentAgain) {
  TempDir dir;
  Receiver rx({400});
  std::unique_ptr<RemoteWriter> w;
  auto db = OpenDB(dir.path(), [&] { return w ? w->HeldFrom() : INT_MAX; });
  auto o = Options(dir.path(), rx.url());
  o.target.max_samples_per_send = 100;
  w = RemoteWriter::Create(o);
  w->Start();
  WaitForPositionFile(dir.path());
  AppendRound(*db, 3, 1000);
  for (int i = 0; i < 500 && MetricValue(*w, "vigil_remote_storage_samples_failed_total") < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(MetricValue(*w, "vigil_remote_storage_samples_failed_total"), 3);
  AppendRound(*db, 3, 2000);
  ASSERT_TRUE(rx.WaitFor(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(rx.samples(), 3u);  // only the second round
  EXPECT_EQ(rx.requests(), 2);
  w->Stop();
}

TEST(RemoteWriter, AnUnreadableSavedPositionSendsTheWholeWalAgain) {
  TempDir dir;
  Receiver rx;
  auto db = OpenDB(dir.path());
  for (int r = 1; r <= 3; ++r) AppendRound(*db, 2, r * 1000);
  std::filesystem::create_directories(dir.path() + "/remote_write");
  std::ofstream(dir.path() + "/remote_write/test.position") << "garbage";
  auto w = RemoteWriter::Create(Options(dir.path(), rx.url()));
  EXPECT_EQ(w->HeldFrom(), 0);  // holds everything until it has sent it
  w->Start();
  ASSERT_TRUE(rx.WaitFor(6));
  w->Stop();
  EXPECT_EQ(rx.samples(), 6u);
}

// Export resolution: one point per series per 5 m step (the last value, and
// the max under aggregate="max"), equal to the store's own 5 m series, each
// step sent once across a restart.
TEST(RemoteWriter, ExportResolutionSendsTheStoresOwnFiveMinutePointsOnceEach) {
  constexpr int64_t kMinute = 60000;
  const TimestampMs start = AlignDown(SystemClock().NowMs(), 2 * 3600000) - 4 * 3600000;
  TempDir dir;
  Receiver rx;
  std::unique_ptr<RemoteWriter> w;
  tsdb::Options so;
  so.dir = dir.path();
  so.downsample_5m_after = Duration(0);
  so.wal_held_from = [&] { return w ? w->HeldFrom() : INT_MAX; };
  auto opened = tsdb::DB::Open(so);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<tsdb::DB> db = std::move(*opened);
  // A counter that resets at 7 m, a gauge, and a series written every 30 s.
  auto append_minutes = [&](int from, int to) {
    for (TimestampMs t = start + from * kMinute; t < start + to * kMinute; t += 1000) {
      auto app = db->NewAppender();
      int64_t s = (t - start) / 1000;
      ASSERT_TRUE(app->Append(0, Labels{{"__name__", "c_total"}}, t, static_cast<double>(s % 420)).ok());
      ASSERT_TRUE(app->Append(0, Labels{{"__name__", "g"}}, t, static_cast<double>((s * 37) % 101)).ok());
      if (s % 30 == 0) {
        ASSERT_TRUE(app->Append(0, Labels{{"__name__", "slow"}}, t, static_cast<double>(s)).ok());
      }
      ASSERT_TRUE(app->Commit().ok());
    }
  };
  auto o = Options(dir.path(), rx.url());
  o.external_labels = Labels();
  o.target.resolution = Duration(5 * kMinute);
  o.target.resolution_delay = Duration(kMinute);
  o.target.aggregates = {"last", "max"};
  w = RemoteWriter::Create(o);
  w->Start();
  WaitForPositionFile(dir.path());
  append_minutes(0, 17);  // read through 16:59: steps 0–15 m closed
  ASSERT_TRUE(rx.WaitFor(3 * 3 * 2)) << rx.samples();
  w->Stop();
  append_minutes(17, 31);  // written while the writer is away; through 30:59: steps to 25 m closed
  w = RemoteWriter::Create(o);
  w->Start();
  ASSERT_TRUE(rx.WaitFor(3 * 5 * 2)) << rx.samples();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(rx.samples(), 3u * 5 * 2);  // each step once, though the first run had read into step 3
  EXPECT_EQ(MetricValue(*w, "vigil_remote_storage_samples_dropped_total", "late"), 0);
  w->Stop();
  w.reset();

  // The store's own 5 m series over the same raw samples.
  ASSERT_TRUE(db->FlushHead().ok());
  ASSERT_TRUE(db->Maintain(start + 6 * 3600000LL).ok());
  auto got = rx.got();
  for (const char* name : {"c_total", "g", "slow"}) {
    for (auto [use, label] : {std::pair{tsdb::ReadHints::Use::kLast, ""}, {tsdb::ReadHints::Use::kMax, "max"}}) {
      tsdb::ReadHints hints;
      hints.max_resolution = Duration(5 * kMinute);
      hints.use = use;
      auto q = db->NewQuerier(start, start + 25 * kMinute - 1, hints);
      auto series = q->Select({*tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "__name__", name)});
      ASSERT_TRUE(series.ok());
      ASSERT_EQ(series->size(), 1u);
      std::vector<TimestampMs> t;
      std::vector<double> v;
      ASSERT_TRUE((*series)[0]->AppendSamples(&t, &v).ok());
      ASSERT_EQ(t.size(), 5u) << name;  // one point per step: read from the 5 m block
      std::string key = std::string("__name__=") + name + "," + (*label ? std::string("aggregate=") + label + "," : "");
      ASSERT_EQ(got[key].size(), 5u) << key;
      for (size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(got[key][i].first, t[i]) << key << " step " << i;
        EXPECT_EQ(got[key][i].second, v[i]) << key << " step " << i;
      }
    }
  }
}

}  // namespace
}  // namespace vigil::remote
