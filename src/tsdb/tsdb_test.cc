#include "tsdb/tsdb.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "base/testing/temp_dir.h"
#include "tsdb/block.h"
#include "tsdb/encoding.h"
#include "tsdb/wal.h"

namespace vigil::tsdb {
namespace {

using testing::TempDir;

Labels L(std::initializer_list<Label> l) { return Labels(l); }

Matcher M(Matcher::Type t, const char* n, const char* v) { return *Matcher::Make(t, n, v); }

std::unique_ptr<DB> OpenDB(const std::string& dir, Options o = {}) {
  o.dir = dir;
  auto db = DB::Open(o);
  EXPECT_TRUE(db.ok()) << db.status().message();
  return std::move(*db);
}

std::vector<std::pair<TimestampMs, double>> Samples(Querier& q, const std::vector<Matcher>& m) {
  auto r = q.Select(m);
  EXPECT_TRUE(r.ok());
  std::vector<std::pair<TimestampMs, double>> out;
  for (const auto& s : *r) {
    auto it = s->Iterator();
    while (it->Next()) out.emplace_back(it->t(), it->v());
  }
  return out;
}

TEST(Matcher, PrometheusSemantics) {
  auto re = M(Matcher::Type::kRegexMatch, "job", "node|vigil");
  EXPECT_TRUE(re.Matches("node"));
  EXPECT_FALSE(re.Matches("xnode"));  // fully anchored
  EXPECT_FALSE(re.MatchesEmpty());
  EXPECT_TRUE(M(Matcher::Type::kRegexMatch, "x", ".*").MatchesEmpty());
  EXPECT_TRUE(M(Matcher::Type::kNotEqual, "x", "a").MatchesEmpty());
  EXPECT_TRUE(M(Matcher::Type::kRegexMatch, "x", "a.b").Matches("a\nb"));  // (?s) like Prometheus
  EXPECT_FALSE(Matcher::Make(Matcher::Type::kRegexMatch, "x", "(").ok());
  EXPECT_EQ(M(Matcher::Type::kRegexNoMatch, "a", "x\"y").ToString(), "a!~\"x\\\"y\"");
}

TEST(Tsdb, AppendSelectAndReopen) {
  TempDir dir;
  {
    auto db = OpenDB(dir.path());
    auto app = db->NewAppender();
    SeriesRef ref = *app->Append(0, L({{"__name__", "up"}, {"job", "a"}}), 1000, 1);
    ASSERT_TRUE(app->Append(ref, {}, 2000, 0).ok());
    ASSERT_TRUE(app->Append(0, L({{"__name__", "up"}, {"job", "b"}}), 1000, 5).ok());
    ASSERT_TRUE(app->Append(0, L({{"__name__", "other"}}), 1000, 7).ok());
    ASSERT_TRUE(app->Commit().ok());
    auto q = db->NewQuerier(0, 10000);
    auto got = Samples(*q, {M(Matcher::Type::kEqual, "__name__", "up"), M(Matcher::Type::kEqual, "job", "a")});
    EXPECT_EQ(got, (std::vector<std::pair<TimestampMs, double>>{{1000, 1}, {2000, 0}}));
    auto sel = q->Select({M(Matcher::Type::kRegexMatch, "__name__", "up|other")});
    ASSERT_EQ(sel->size(), 3u);
    EXPECT_EQ((*sel)[0]->labels().Get("__name__"), "other");  // sorted by labels
    EXPECT_EQ(q->LabelValues("job"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(q->LabelNames(), (std::vector<std::string>{"__name__", "job"}));
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenDB(dir.path());  // WAL replay
  auto q = db->NewQuerier(0, 10000);
  EXPECT_EQ(Samples(*q, {M(Matcher::Type::kEqual, "job", "a")}).size(), 2u);
  EXPECT_EQ(db->GetStats().head_series, 3u);
  // Refs are never reused after a restart.
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, L({{"__name__", "new"}}), 1000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(Samples(*db->NewQuerier(0, 5000),
                    {M(Matcher::Type::kEqual, "__name__", "up"), M(Matcher::Type::kEqual, "job", "a")})
                .size(),
            2u);
}

TEST(Tsdb, OutOfOrderAndDuplicatesAreRejectedAndCounted) {
  TempDir dir;
  auto db = OpenDB(dir.path());
  auto app = db->NewAppender();
  Labels l = L({{"__name__", "x"}});
  ASSERT_TRUE(app->Append(0, l, 2000, 1).ok());
  EXPECT_FALSE(app->Append(0, l, 1000, 1).ok());
  EXPECT_FALSE(app->Append(0, l, 2000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_FALSE(app->Append(0, l, 1500, 1).ok());
  EXPECT_FALSE(app->Append(0, l, 2000, 2).ok());
  EXPECT_EQ(db->GetStats().out_of_order_total, 2u);
  EXPECT_EQ(db->GetStats().duplicate_total, 2u);
  EXPECT_FALSE(app->Append(0, L({{"job", "no-name"}}), 1, 1).ok());
  EXPECT_FALSE(app->Append(0, L({{"__name__", "x"}, {"1bad", "v"}}), 1, 1).ok());
}

TEST(Tsdb, StaleMarkersRoundTrip) {
  TempDir dir;
  auto db = OpenDB(dir.path());
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, L({{"__name__", "x"}}), 1000, 1).ok());
  ASSERT_TRUE(app->Append(0, L({{"__name__", "x"}}), 2000, StaleNaN()).ok());
  ASSERT_TRUE(app->Commit().ok());
  auto got = Samples(*db->NewQuerier(0, 5000), {M(Matcher::Type::kEqual, "__name__", "x")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(IsStaleNaN(got[1].second));
}

TEST(Tsdb, HeadIsCutIntoBlocksAndWalIsCheckpointed) {
  TempDir dir;
  Options o;
  o.block_range = Duration(10000);
  {
    auto db = OpenDB(dir.path(), o);
    auto app = db->NewAppender();
    for (int i = 0; i < 60; ++i) {
      for (int s = 0; s < 3; ++s) {
        ASSERT_TRUE(app->Append(0, L({{"__name__", "m"}, {"s", std::to_string(s)}}), i * 1000, i * 10 + s).ok());
      }
      ASSERT_TRUE(app->Commit().ok());
    }
    ASSERT_TRUE(db->Maintain(60000).ok());
    Stats st = db->GetStats();
    EXPECT_GE(st.blocks.size(), 1u);
    EXPECT_GE(st.head_min_time, 30000);
    auto got = Samples(*db->NewQuerier(0, 100000), {M(Matcher::Type::kEqual, "s", "1")});
    ASSERT_EQ(got.size(), 60u);
    for (int i = 0; i < 60; ++i) EXPECT_EQ(got[i], (std::pair<TimestampMs, double>{i * 1000, i * 10 + 1}));
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenDB(dir.path(), o);  // blocks + checkpoint + segments
  auto got = Samples(*db->NewQuerier(0, 100000), {M(Matcher::Type::kEqual, "s", "2")});
  ASSERT_EQ(got.size(), 60u);
  EXPECT_EQ(got.back(), (std::pair<TimestampMs, double>{59000, 592}));
  // Samples older than what is in blocks are rejected.
  auto app = db->NewAppender();
  EXPECT_FALSE(app->Append(0, L({{"__name__", "m"}, {"s", "9"}}), 1000, 1).ok());
}

TEST(Tsdb, CompactionMergesBlocksAndRetentionDeletesOldOnes) {
  TempDir dir;
  Options o;
  o.block_range = Duration(10000);
  o.retention = Duration(1000000);
  auto db = OpenDB(dir.path(), o);
  auto app = db->NewAppender();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(app->Append(0, L({{"__name__", "m"}}), i * 1000, i).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE(db->FlushHead().ok());
  Stats st = db->GetStats();
  // 10 blocks of 10 s: windows of 30 s merge (the last, incomplete window may not).
  EXPECT_LT(st.blocks.size(), 10u);
  bool merged = false;
  for (const auto& b : st.blocks) merged |= b.level > 1;
  EXPECT_TRUE(merged);
  EXPECT_EQ(Samples(*db->NewQuerier(0, 1000000), {M(Matcher::Type::kEqual, "__name__", "m")}).size(), 100u);
  // Age: everything ends before now - retention.
  ASSERT_TRUE(db->Maintain(100000 + 1000000 + 1).ok());
  EXPECT_EQ(db->GetStats().blocks.size(), 0u);
}

TEST(Tsdb, RetentionBySize) {
  TempDir dir;
  Options o;
  o.block_range = Duration(10000);
  o.retention = Duration(1LL << 40);
  auto db = OpenDB(dir.path(), o);
  auto app = db->NewAppender();
  for (int i = 0; i < 300; ++i) {
    for (int s = 0; s < 20; ++s) {
      ASSERT_TRUE(app->Append(0, L({{"__name__", "m"}, {"s", std::to_string(s)}}), i * 1000, i * s * 1.37).ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE(db->FlushHead().ok());
  Stats before = db->GetStats();
  ASSERT_GE(before.blocks.size(), 2u);
  uint64_t newest = before.blocks.back().size_bytes;
  db.reset();
  o.max_bytes = newest + 1024;  // room for the newest block and the (empty) WAL
  db = OpenDB(dir.path(), o);
  ASSERT_TRUE(db->Maintain(300000).ok());
  Stats after = db->GetStats();
  EXPECT_LT(after.blocks.size(), before.blocks.size());
  EXPECT_EQ(after.blocks.back().id, before.blocks.back().id);  // the oldest go first
}

// Importing recent history must not make the head refuse what is collected
// next: the imported block ends at its last sample, not at its range's end.
TEST(Tsdb, LiveDataAfterAnImportOfRecentHistoryIsKept) {
  TempDir dir;
  Options o;
  o.block_range = Duration(2 * 3600000);
  const TimestampMs range_start = 1700000000000LL / 7200000 * 7200000;
  const TimestampMs last_imported = range_start + 3600000;  // halfway through a block range
  Labels l = L({{"__name__", "m"}});
  {
    auto db = OpenDB(dir.path(), o);
    SeriesSamples s;
    s.labels = l;
    for (TimestampMs t = range_start; t <= last_imported; t += 15000) {
      s.t.push_back(t);
      s.v.push_back(1);
    }
    ASSERT_TRUE(db->ImportSeries({s}, nullptr).ok());
    auto app = db->NewAppender();
    ASSERT_TRUE(app->Append(0, l, last_imported + 15000, 2).ok());
    ASSERT_TRUE(app->Commit().ok());
    EXPECT_EQ(db->GetStats().out_of_order_total, 0u);
  }
  // Again after a restart, and once the head's block of that range exists.
  auto db = OpenDB(dir.path(), o);
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, l, last_imported + 30000, 3).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(db->GetStats().out_of_order_total, 0u);
  ASSERT_TRUE(db->FlushHead().ok());
  auto got = Samples(*db->NewQuerier(range_start, range_start + 7200000), {M(Matcher::Type::kEqual, "__name__", "m")});
  ASSERT_EQ(got.size(), 241u + 2);
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].first, got[i].first) << i;
  EXPECT_EQ(got.back(), (std::pair<TimestampMs, double>{last_imported + 30000, 3}));
  // Compaction merges the overlapping blocks in time order too.
  ASSERT_TRUE(db->Maintain(range_start + 10 * 7200000LL).ok());
  auto merged =
      Samples(*db->NewQuerier(range_start, range_start + 7200000), {M(Matcher::Type::kEqual, "__name__", "m")});
  EXPECT_EQ(merged, got);
}

// The import spills per window and writes each window once, as one block of
// the widest compaction window, so compaction has nothing left to rewrite.
TEST(Tsdb, ImportWritesEachWindowOnceInTheWidestCompactionRange) {
  TempDir dir;
  Options o;  // 2 h ranges, 30 d retention: windows of 6 h, 24 h and 72 h
  auto db = OpenDB(dir.path(), o);
  const int64_t window = 72 * 3600000LL;
  const TimestampMs start = 1700000000000LL / window * window + 60 * 3600000LL;  // 12 h before a window ends
  auto import = db->NewImport();
  ASSERT_TRUE(import.ok()) << import.status().message();
  auto a = (*import)->AddSeries(L({{"__name__", "a"}}));
  auto b = (*import)->AddSeries(L({{"__name__", "b"}, {"x", "1"}}));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*(*import)->AddSeries(L({{"__name__", "a"}})), *a);
  EXPECT_FALSE((*import)->AddSeries(L({{"__name__", "c"}, {"bad-name", "1"}})).ok());
  const int n = 20 * 60;  // 20 h at 1 m, newest first
  for (int i = n - 1; i >= 0; --i) {
    ASSERT_TRUE((*import)->Add(*a, start + i * 60000LL, i).ok());
    ASSERT_TRUE((*import)->Add(*b, start + i * 60000LL, -i).ok());
  }
  ASSERT_TRUE((*import)->Add(*a, start, 999).ok());  // a repeat: the first value stays
  std::vector<double> fractions;
  auto summary = (*import)->Finish([&](double f) { fractions.push_back(f); });
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->samples, 2u * n);
  EXPECT_EQ(summary->repeats, 1u);
  ASSERT_EQ(summary->blocks.size(), 2u);
  EXPECT_EQ(summary->blocks[0].min_time, start - 60 * 3600000LL);  // the window's start
  EXPECT_EQ(summary->blocks[0].level, 4);
  EXPECT_EQ(summary->blocks[1].min_time, start + 12 * 3600000LL);
  EXPECT_EQ(summary->blocks[1].max_time, start + (n - 1) * 60000LL);  // its last sample
  ASSERT_FALSE(fractions.empty());
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
  import->reset();
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/blocks")) {
    EXPECT_EQ(e.path().filename().string().find("import-"), std::string::npos) << e.path();
  }

  auto got = Samples(*db->NewQuerier(start, start + n * 60000LL), {M(Matcher::Type::kEqual, "__name__", "a")});
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], (std::pair<TimestampMs, double>{start + i * 60000LL, i})) << i;
  // A short window of the imported series reads only the parts it overlaps, and exactly its samples.
  got = Samples(*db->NewQuerier(start + 5 * 3600000LL, start + 6 * 3600000LL),
                {M(Matcher::Type::kEqual, "__name__", "a")});
  ASSERT_EQ(got.size(), 61u);
  EXPECT_EQ(got.front(), (std::pair<TimestampMs, double>{start + 5 * 3600000LL, 300}));
  ASSERT_TRUE(db->Maintain(start + n * 60000LL + 3600000).ok());
  std::vector<std::string> ids;
  for (const auto& blk : db->GetStats().blocks) ids.push_back(blk.id);
  std::sort(ids.begin(), ids.end());  // ids begin with the min time
  EXPECT_EQ(ids, (std::vector<std::string>{summary->blocks[0].id, summary->blocks[1].id}));
}

TEST(Tsdb, DownsamplingWritesCoarseBlocksThatLongReadsUse) {
  TempDir dir;
  Options o;
  o.block_range = Duration(3600000);
  o.downsample_5m_after = Duration(3600000);
  o.downsample_1h_after = Duration(2 * 3600000);
  o.retention = Duration(100LL * 86400000);
  auto db = OpenDB(dir.path(), o);
  auto app = db->NewAppender();
  // 6 h of a counter at 10 s with a reset every 1000 samples, and a gauge.
  double counter = 0;
  const TimestampMs start = 1700000000000LL / 3600000 * 3600000;
  for (int i = 0; i < 6 * 360; ++i) {
    TimestampMs t = start + i * 10000LL;
    counter = (i % 1000 == 999) ? 0 : counter + 3;
    ASSERT_TRUE(app->Append(0, L({{"__name__", "c_total"}}), t, counter).ok());
    ASSERT_TRUE(app->Append(0, L({{"__name__", "g"}}), t, i % 50).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE(db->FlushHead().ok());
  ASSERT_TRUE(db->Maintain(start + 6 * 3600000LL + 3 * 3600000LL).ok());
  Stats st = db->GetStats();
  std::set<int64_t> resolutions;
  for (const auto& b : st.blocks) resolutions.insert(b.resolution.count());
  EXPECT_TRUE(resolutions.count(300000));
  EXPECT_TRUE(resolutions.count(3600000));

  TimestampMs end = start + 6 * 3600000LL;
  auto raw = Samples(*db->NewQuerier(start, end), {M(Matcher::Type::kEqual, "__name__", "g")});
  EXPECT_EQ(raw.size(), 6u * 360);
  ReadHints hourly;
  hourly.max_resolution = Duration(3600000);
  hourly.use = ReadHints::Use::kMax;
  auto coarse = Samples(*db->NewQuerier(start, end, hourly), {M(Matcher::Type::kEqual, "__name__", "g")});
  ASSERT_EQ(coarse.size(), 6u);  // one point per hour
  for (const auto& p : coarse) EXPECT_EQ(p.second, 49);
  // The counter aggregate keeps increase() right across resets.
  hourly.use = ReadHints::Use::kCounter;
  auto c = Samples(*db->NewQuerier(start, end, hourly), {M(Matcher::Type::kEqual, "__name__", "c_total")});
  ASSERT_EQ(c.size(), 6u);
  double raw_increase = 0, prev = 0;
  auto rc = Samples(*db->NewQuerier(start, end), {M(Matcher::Type::kEqual, "__name__", "c_total")});
  for (size_t i = 0; i < rc.size(); ++i) {
    if (i > 0) raw_increase += rc[i].second >= prev ? rc[i].second - prev : rc[i].second;
    prev = rc[i].second;
  }
  EXPECT_DOUBLE_EQ(c.back().second - rc.front().second, raw_increase);
  ReadHints avg;
  avg.max_resolution = Duration(300000);
  avg.use = ReadHints::Use::kAverage;
  auto a = Samples(*db->NewQuerier(start, end, avg), {M(Matcher::Type::kEqual, "__name__", "g")});
  EXPECT_EQ(a.size(), 6u * 12);
  // Downsampled series never show their __aggr__ label.
  EXPECT_EQ(db->NewQuerier(start, end, hourly)->LabelNames(), (std::vector<std::string>{"__name__"}));
}

TEST(Tsdb, FullHeadChunksLiveOnDiskAndReadBack) {
  TempDir dir;
  auto db = OpenDB(dir.path());
  auto app = db->NewAppender();
  for (int i = 0; i < 1000; ++i) {  // 8 full chunks of 120 and an open one
    ASSERT_TRUE(app->Append(0, L({{"__name__", "m"}}), i * 1000, i * 0.5).ok());
  }
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_TRUE(std::filesystem::file_size(dir.path() + "/head_chunks/1") > 0);
  auto got = Samples(*db->NewQuerier(0, 1000000), {M(Matcher::Type::kEqual, "__name__", "m")});
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(got[i], (std::pair<TimestampMs, double>{i * 1000, i * 0.5}));
}

TEST(Tsdb, OneWriterPerDirectory) {
  TempDir dir;
  auto db = OpenDB(dir.path());
  Options o;
  o.dir = dir.path();
  auto second = DB::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use by another vigil process"), std::string::npos);
  o.read_only = true;
  EXPECT_TRUE(DB::Open(o).ok());  // readers are welcome
}

TEST(Wal, TornLastRecordAndChecksumMismatchStopReplayNeverCrash) {
  TempDir dir;
  std::string seg = dir.path() + "/00000001";
  std::string good = FrameWalRecord(WalRecordType::kSamples, "aaaa") + FrameWalRecord(WalRecordType::kSamples, "bbbb");
  std::string bad = FrameWalRecord(WalRecordType::kSamples, "cccc");
  bad[bad.size() - 1] ^= 1;  // checksum mismatch
  { std::ofstream(seg, std::ios::binary) << good << bad << FrameWalRecord(WalRecordType::kSamples, "dddd"); }
  {
    std::ofstream(dir.path() + "/00000002", std::ios::binary)
        << FrameWalRecord(WalRecordType::kSamples, "eeee")
        << FrameWalRecord(WalRecordType::kSamples, "ffff").substr(0, 7);
  }
  std::vector<std::string> seen;
  WalReplayStats stats;
  ASSERT_TRUE(ReplayWal(
                  dir.path(), [&](WalRecordType, std::string_view p) { seen.emplace_back(p); }, &stats)
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"aaaa", "bbbb", "eeee"}));
  EXPECT_EQ(stats.corrupt_segments, 2u);
  // The bad tails were cut: a second replay is clean.
  WalReplayStats again;
  seen.clear();
  ASSERT_TRUE(ReplayWal(
                  dir.path(), [&](WalRecordType, std::string_view p) { seen.emplace_back(p); }, &again)
                  .ok());
  EXPECT_EQ(again.corrupt_segments, 0u);
  EXPECT_EQ(seen.size(), 3u);
}

TEST(Wal, GarbageFilesNeverCrash) {
  std::string junk = "\xff\xff\xff\x7f garbage";
  std::string err;
  EXPECT_EQ(ParseWalRecords(
                junk, [](WalRecordType, std::string_view) {}, &err),
            0u);
  EXPECT_FALSE(err.empty());
}

TEST(Block, SeriesDataRoundTripAndCorruption) {
  std::vector<TimestampMs> t;
  std::vector<double> v;
  for (int i = 0; i < 1000; ++i) {
    t.push_back(1000LL * i);
    v.push_back(i % 7 == 0 ? StaleNaN() : i * 0.5);
  }
  std::string data = EncodeSeriesData(t, v);
  std::vector<TimestampMs> t2;
  std::vector<double> v2;
  ASSERT_TRUE(DecodeSeriesData(data, &t2, &v2).ok());
  ASSERT_EQ(t2, t);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(std::bit_cast<uint64_t>(v2[i]), std::bit_cast<uint64_t>(v[i]));
  data[data.size() / 2] ^= 0x40;
  t2.clear();
  v2.clear();
  EXPECT_FALSE(DecodeSeriesData(data, &t2, &v2).ok());
}

// Series scraped together (same jittery timestamps), one scraped apart, one
// with a sample missing, and values of every kind: a version 2 block stores
// the shared timestamps once and reads back bit for bit; a version 1 block
// (every series with its own timestamps, what older vigil wrote) still reads.
std::vector<SeriesSamples> SharedTimestampSeries() {
  std::vector<SeriesSamples> out;
  std::vector<TimestampMs> scrape, other;
  std::mt19937 rng(5);
  for (int i = 0; i < 3600; ++i) {
    scrape.push_back(1'000'000 + 1000LL * i + static_cast<int64_t>(rng() % 21) - 10);
    other.push_back(1'000'300 + 1000LL * i + static_cast<int64_t>(rng() % 21) - 10);
  }
  for (int s = 0; s < 12; ++s) {
    SeriesSamples x;
    x.labels = L({{"__name__", "m"}, {"i", std::to_string(s)}, {"job", s < 10 ? "node" : "other"}});
    x.t = s < 10 ? scrape : other;
    if (s == 9) x.t.erase(x.t.begin() + 100);
    for (size_t k = 0; k < x.t.size(); ++k) {
      double v = s % 3 == 0   ? static_cast<double>(k * 4096)
                 : s % 3 == 1 ? 0.25 * static_cast<double>(rng() % 1000)
                              : std::sin(k);
      if (k % 500 == 7) v = StaleNaN();
      x.v.push_back(v);
    }
    out.push_back(std::move(x));
  }
  return out;
}

void ExpectBlockHolds(const std::string& dir, const std::vector<SeriesSamples>& want) {
  auto b = Block::Open(dir);
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ((*b)->series().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const SeriesSamples* w = nullptr;
    for (const auto& s : want) {
      if (s.labels == (*b)->series()[i].labels) w = &s;
    }
    ASSERT_NE(w, nullptr);
    std::vector<TimestampMs> t;
    std::vector<double> v;
    ASSERT_TRUE((*b)->Read(i, &t, &v).ok());
    ASSERT_EQ(t, w->t);
    ASSERT_EQ(v.size(), w->v.size());
    for (size_t k = 0; k < v.size(); ++k) ASSERT_EQ(std::bit_cast<uint64_t>(v[k]), std::bit_cast<uint64_t>(w->v[k]));
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(Block, SharedTimestampsRoundTripAndOldBlocksStillRead) {
  TempDir dir;
  const auto series = SharedTimestampSeries();
  auto v3 = WriteBlock(dir.path(), series, 0, 10'000'000, 1);
  auto v1 = WriteBlock(dir.path(), series, 0, 10'000'000, 1, Duration(0), /*share_timestamps=*/false);
  ASSERT_TRUE(v3.ok() && v1.ok());
  ExpectBlockHolds(dir.path() + "/" + v3->id, series);
  ExpectBlockHolds(dir.path() + "/" + v1->id, series);
  EXPECT_NE(ReadAll(dir.path() + "/" + v3->id + "/meta.json").find("\"version\": 3"), std::string::npos);
  EXPECT_NE(ReadAll(dir.path() + "/" + v1->id + "/meta.json").find("\"version\": 1"), std::string::npos);
  // The old layout has only encoding 3 entries; the new one references shared timestamps.
  std::vector<BlockSeries> old_index, new_index;
  std::string old_file = ReadAll(dir.path() + "/" + v1->id + "/block");
  std::string new_file = ReadAll(dir.path() + "/" + v3->id + "/block");
  ASSERT_TRUE(ParseBlockFile(old_file, &old_index).ok());
  ASSERT_TRUE(ParseBlockFile(new_file, &new_index).ok());
  size_t shared = 0;
  for (const auto& s : old_index) EXPECT_EQ(old_file[s.offset], 3);
  for (const auto& s : new_index) shared += new_file[s.offset] == 4;
  EXPECT_EQ(shared, 9u + 2u);  // 9 with the node scrape's timestamps, the 2 "other" ones
  // Nine copies and two copies of ~1.7 bits/sample saved.
  EXPECT_LT(new_file.size() + 9 * 3600 * 3 / 16, old_file.size());
}

TEST(Block, CorruptSharedTimestampsAreAnErrorForTheirUsers) {
  TempDir dir;
  const auto series = SharedTimestampSeries();
  auto info = WriteBlock(dir.path(), series, 0, 10'000'000, 1);
  ASSERT_TRUE(info.ok());
  const std::string path = dir.path() + "/" + info->id + "/block";
  std::string file = ReadAll(path);
  std::vector<BlockSeries> index;
  ASSERT_TRUE(ParseBlockFile(file, &index).ok());
  // The first timestamps entry is the first entry after the magic.
  ASSERT_EQ(file[4], 5);
  file[4 + 5 + 3] ^= 0x10;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << file;
  auto b = Block::Open(dir.path() + "/" + info->id);
  ASSERT_TRUE(b.ok());
  size_t failed = 0;
  for (size_t i = 0; i < (*b)->series().size(); ++i) {
    std::vector<TimestampMs> t;
    std::vector<double> v;
    Status s = (*b)->Read(i, &t, &v);
    if (!s.ok()) {
      ++failed;
      EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.message();
      EXPECT_TRUE(t.empty() && v.empty());
    }
  }
  EXPECT_GE(failed, 2u);
  // Outside a block a shared-timestamps entry cannot be read.
  std::vector<TimestampMs> t;
  std::vector<double> v;
  EXPECT_FALSE(DecodeSeriesData(std::string_view(file).substr(index[0].offset, index[0].length), &t, &v).ok());
}

// One query's reads share the decoded timestamps: the same samples as reading
// each series alone, one cached sequence per timestamps entry, and a damaged
// values entry is still refused when its timestamps come from the cache.
TEST(Block, ReadsSharingTimestampsGiveTheSameSamplesAndStillCheckEachEntry) {
  TempDir dir;
  const auto series = SharedTimestampSeries();
  auto info = WriteBlock(dir.path(), series, 0, 10'000'000, 1);
  ASSERT_TRUE(info.ok());
  const std::string block_dir = dir.path() + "/" + info->id;
  {
    auto b = Block::Open(block_dir);
    ASSERT_TRUE(b.ok());
    SharedTimestamps shared;
    std::set<uint64_t> entries;
    const std::string file = ReadAll(block_dir + "/block");
    for (size_t i = 0; i < (*b)->series().size(); ++i) {
      std::vector<TimestampMs> t_alone, t_shared;
      std::vector<double> v_alone, v_shared;
      ASSERT_TRUE((*b)->Read(i, &t_alone, &v_alone).ok());
      ASSERT_TRUE((*b)->Read(i, &t_shared, &v_shared, &shared).ok());
      ASSERT_EQ(t_shared, t_alone) << i;
      ASSERT_EQ(v_shared.size(), v_alone.size());
      for (size_t k = 0; k < v_alone.size(); ++k) {
        ASSERT_EQ(std::bit_cast<uint64_t>(v_shared[k]), std::bit_cast<uint64_t>(v_alone[k]));
      }
      const BlockSeries& s = (*b)->series()[i];
      if (file[s.offset] == 4) {
        Decoder d(std::string_view(file).substr(s.offset + 5));
        const uint64_t offset = d.Uvarint();
        entries.insert(offset);
        auto cached = shared.Find(b->get(), offset);
        ASSERT_NE(cached, nullptr);
        EXPECT_EQ(*cached, t_alone);
      }
    }
    EXPECT_EQ(entries.size(), 2u);  // the node scrape's and the "other" timestamps
  }
  // Damage the second user of the first timestamps entry: its values fail
  // their checksum though its timestamps are already cached.
  std::string file = ReadAll(block_dir + "/block");
  std::vector<BlockSeries> index;
  ASSERT_TRUE(ParseBlockFile(file, &index).ok());
  // Users of the first entry read (so the victim's timestamps are a cache hit).
  std::vector<size_t> users;
  uint64_t first_offset = 0;
  for (size_t i = 0; i < index.size(); ++i) {
    if (file[index[i].offset] != 4) continue;
    Decoder d(std::string_view(file).substr(index[i].offset + 5));
    const uint64_t offset = d.Uvarint();
    if (users.empty()) first_offset = offset;
    if (offset == first_offset) users.push_back(i);
  }
  ASSERT_GE(users.size(), 2u);
  const BlockSeries& victim = index[users[1]];
  file[victim.offset + victim.length - 1] ^= 0x01;
  std::ofstream(block_dir + "/block", std::ios::binary | std::ios::trunc) << file;
  auto b = Block::Open(block_dir);
  ASSERT_TRUE(b.ok());
  SharedTimestamps shared;
  std::vector<TimestampMs> t;
  std::vector<double> v;
  size_t failed = 0;
  for (size_t i : users) {
    t.clear();
    v.clear();
    Status st = (*b)->Read(i, &t, &v, &shared);
    if (!st.ok()) {
      ++failed;
      EXPECT_NE(st.message().find("checksum"), std::string::npos) << st.message();
      EXPECT_NE(st.message().find(block_dir), std::string::npos) << st.message();
      EXPECT_TRUE(t.empty() && v.empty());
    }
  }
  EXPECT_EQ(failed, 1u);
}

// A day of two series scraped together at 15 s and one at 60 s with gaps,
// starting off any part boundary.
std::vector<SeriesSamples> DaySeries(TimestampMs start) {
  std::vector<SeriesSamples> out;
  for (int s = 0; s < 3; ++s) {
    SeriesSamples x;
    x.labels = L({{"__name__", "m"}, {"i", std::to_string(s)}});
    const TimestampMs step = s < 2 ? 15'000 : 60'000;
    for (TimestampMs at = start; at < start + 24 * 3'600'000; at += step) {
      if (s == 2 && (at / step) % 7 == 0) continue;
      x.t.push_back(at);
      x.v.push_back(s == 0 ? static_cast<double>(at / 1000 % 977) : std::sin(static_cast<double>(at)));
    }
    out.push_back(std::move(x));
  }
  return out;
}

// The part table of a series: the offsets and lengths of its parts' entries.
std::vector<std::pair<uint64_t, uint64_t>> PartEntries(std::string_view file, const BlockSeries& s) {
  EXPECT_EQ(file[s.offset], 6);
  Decoder d(file.substr(s.offset + 5, s.length - 5));
  (void)d.Varint();
  std::vector<std::pair<uint64_t, uint64_t>> out(d.Uvarint());
  for (auto& [offset, length] : out) {
    (void)d.Uvarint();
    (void)d.Uvarint();
    offset = d.Uvarint();
    length = d.Uvarint();
  }
  EXPECT_TRUE(d.ok() && d.remaining() == 0);
  return out;
}

// Version 3: a long series is written as time-bounded parts, and a read of a
// window gives exactly the window's samples (that it decodes only the parts
// it overlaps, the damaged-parts test below shows).
TEST(Block, LongSeriesAreReadPartByPart) {
  TempDir dir;
  const TimestampMs start = 1'700'000'012'345;
  const auto series = DaySeries(start);
  auto info = WriteBlock(dir.path(), series, start, start + 24 * 3'600'000 - 1, 3);
  ASSERT_TRUE(info.ok()) << info.status().message();
  const std::string block_dir = dir.path() + "/" + info->id;
  ExpectBlockHolds(block_dir, series);
  const std::string file = ReadAll(block_dir + "/block");
  std::vector<BlockSeries> index;
  ASSERT_TRUE(ParseBlockFile(file, &index).ok());
  // 512 samples a part at least: 4 h parts at 15 s, 16 h at 60 s; the first and last are partial.
  EXPECT_EQ(PartEntries(file, index[0]).size(), 7u);
  EXPECT_EQ(PartEntries(file, index[2]).size(), 3u);
  auto b = Block::Open(block_dir);
  ASSERT_TRUE(b.ok());
  const TimestampMs hour = 3'600'000;
  const TimestampMs boundary = (start / (2 * hour) + 3) * 2 * hour;
  const std::vector<std::pair<TimestampMs, TimestampMs>> windows = {{start + 10 * hour, start + 11 * hour},
                                                                    {start, start},
                                                                    {start - hour, start + 1},
                                                                    {start + 23 * hour, start + 25 * hour},
                                                                    {boundary - 1, boundary},
                                                                    {boundary, boundary + 14'999},
                                                                    {start - 2 * hour, start - hour},
                                                                    {start + 25 * hour, start + 26 * hour}};
  // A version 1 block holds each series as one entry, read whole and then cut to the window.
  TempDir v1_dir;
  auto v1_info = WriteBlock(v1_dir.path(), series, start, start + 24 * 3'600'000 - 1, 3, Duration(0), false);
  ASSERT_TRUE(v1_info.ok()) << v1_info.status().message();
  auto whole = Block::Open(v1_dir.path() + "/" + v1_info->id);
  ASSERT_TRUE(whole.ok());
  for (const std::shared_ptr<Block>& block : {*b, *whole}) {
    SharedTimestamps shared;
    for (size_t i = 0; i < series.size(); ++i) {
      std::vector<TimestampMs> all_t;
      std::vector<double> all_v;
      ASSERT_TRUE(block->Read(i, &all_t, &all_v).ok());
      for (const auto& [from, to] : windows) {
        for (SharedTimestamps* with : {static_cast<SharedTimestamps*>(nullptr), &shared}) {
          // Appended after what the vectors hold, which stays as it was.
          std::vector<TimestampMs> t = {-2, -1};
          std::vector<double> v = {-2, -1};
          ASSERT_TRUE(block->Read(i, &t, &v, with, from, to).ok());
          ASSERT_EQ(t.size(), v.size());
          ASSERT_GE(t.size(), 2u);
          EXPECT_EQ(t[0], -2);
          EXPECT_EQ(t[1], -1);
          EXPECT_EQ(v[1], -1);
          t.erase(t.begin(), t.begin() + 2);
          v.erase(v.begin(), v.begin() + 2);
          // Exactly the window's samples, bit for bit.
          auto first = std::lower_bound(all_t.begin(), all_t.end(), from);
          auto last = std::upper_bound(all_t.begin(), all_t.end(), to);
          ASSERT_EQ(t.size(), static_cast<size_t>(last - first)) << i << " " << from - start;
          // What a read reserves for: the overlapping parts, at most two for
          // windows up to 2 h (1 920 samples of the day's 5 760), or the whole series.
          const size_t bound = block->SamplesToRead(i, from, to);
          EXPECT_GE(bound, t.size());
          if (block == *b) {
            EXPECT_LE(bound, 1920u) << i << " " << from - start;
          } else {
            EXPECT_EQ(bound, all_t.size());
          }
          ASSERT_TRUE(std::equal(t.begin(), t.end(), first));
          for (size_t k = 0; k < v.size(); ++k) {
            ASSERT_EQ(std::bit_cast<uint64_t>(v[k]), std::bit_cast<uint64_t>(all_v[(first - all_t.begin()) + k]));
          }
        }
      }
    }
  }
}

// A damaged part fails only the reads that need it; a damaged or lying part
// table fails every read of its series. Nothing is appended on an error.
TEST(Block, DamagedPartsAreAnErrorOnlyForReadsThatNeedThem) {
  TempDir dir;
  const TimestampMs start = 1'700'000'012'345;
  auto series = DaySeries(start);
  series.resize(1);
  auto info = WriteBlock(dir.path(), series, start, start + 24 * 3'600'000 - 1, 3);
  ASSERT_TRUE(info.ok());
  const std::string block_dir = dir.path() + "/" + info->id;
  const std::string good = ReadAll(block_dir + "/block");
  std::vector<BlockSeries> index;
  ASSERT_TRUE(ParseBlockFile(good, &index).ok());
  const auto parts = PartEntries(good, index[0]);
  const TimestampMs hour = 3'600'000;
  auto read = [&](const std::string& file, TimestampMs from, TimestampMs to) {
    std::ofstream(block_dir + "/block", std::ios::binary | std::ios::trunc) << file;
    auto b = Block::Open(block_dir);
    EXPECT_TRUE(b.ok());
    std::vector<TimestampMs> t = {1};
    std::vector<double> v = {1};
    Status s = (*b)->Read(0, &t, &v, nullptr, from, to);
    if (!s.ok()) {
      EXPECT_EQ(t.size(), 1u);
    }
    EXPECT_EQ(v.size(), t.size());
    return s;
  };
  std::string damaged = good;
  // Part 0 is 1 h 46.5 min long (the start is 2 h 13.5 min into a 4 h span): part 3 is hours 9.8-13.8.
  damaged[parts[3].first + parts[3].second - 1] ^= 0x01;
  EXPECT_TRUE(read(damaged, start, start + hour).ok());
  EXPECT_TRUE(read(damaged, start + 9 * hour, start + 9 * hour + 60'000).ok());
  Status s = read(damaged, start + 12 * hour, start + 12 * hour + 60'000);
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(block_dir + "/block"), std::string::npos) << s.message();
  EXPECT_FALSE(read(damaged, std::numeric_limits<TimestampMs>::min(), std::numeric_limits<TimestampMs>::max()).ok());
  std::vector<TimestampMs> t;
  std::vector<double> v;
  EXPECT_FALSE(DecodeSeriesData(std::string_view(damaged).substr(index[0].offset, index[0].length), &t, &v,
                                std::string_view(damaged).substr(0, index[0].offset))
                   .ok());
  EXPECT_TRUE(t.empty());
  // The table's own checksum.
  damaged = good;
  damaged[index[0].offset + index[0].length - 1] ^= 0x01;
  s = read(damaged, start, start + hour);
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.message();
  // A table whose first part claims one sample more, with a valid checksum.
  Decoder d(std::string_view(good).substr(index[0].offset + 5, index[0].length - 5));
  std::string table;
  PutVarint(&table, d.Varint());
  const uint64_t n = d.Uvarint();
  PutUvarint(&table, n);
  for (uint64_t k = 0; k < n; ++k) {
    PutUvarint(&table, d.Uvarint());
    PutUvarint(&table, d.Uvarint() + (k == 0 ? 1 : 0));
    PutUvarint(&table, d.Uvarint());
    PutUvarint(&table, d.Uvarint());
  }
  std::string lying = good.substr(0, index[0].offset) + static_cast<char>(6);
  PutFixed32(&lying, Crc32({table}));
  lying += table;
  ASSERT_EQ(lying.size(), index[0].offset + index[0].length);  // same varint widths
  lying += good.substr(lying.size());
  s = read(lying, start, start + hour);
  EXPECT_NE(s.message().find("a part holds 426 samples, its table 427"), std::string::npos) << s.message();
}

TEST(Block, UnreadableBlockIsSkippedNotFatal) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/blocks/b-broken");
  std::ofstream(dir.path() + "/blocks/b-broken/meta.json") << "{not json";
  auto db = OpenDB(dir.path());
  EXPECT_EQ(db->GetStats().blocks.size(), 0u);
}

}  // namespace
}  // namespace vigil::tsdb
