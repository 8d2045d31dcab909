// The head's full chunks on disk: the per-series record chain in head_chunks/,
// reads across chunk cuts, truncation, and WAL replay.
#include "tsdb/head.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>

#include "base/testing/temp_dir.h"
#include "tsdb/chunkenc/decimal_chunk.h"
#include "tsdb/tsdb.h"

namespace vigil::tsdb {
namespace {

using testing::TempDir;
using Sample = std::pair<TimestampMs, uint64_t>;  // value bits: NaN and stale markers compare exactly

Sample S(TimestampMs t, double v) { return {t, std::bit_cast<uint64_t>(v)}; }

// Every sample of the snapshot within [mint, maxt], in order.
std::vector<Sample> Read(const Head& h, const MemSeries& s, TimestampMs mint, TimestampMs maxt) {
  ChunkSnapshot snap = h.Snapshot(s, mint, maxt);
  EXPECT_TRUE(snap.error.ok()) << snap.error.message();
  std::vector<Sample> out;
  for (const auto& c : snap.chunks) {
    chunkenc::DecimalDecoder d(*c);
    while (d.Next()) {
      if (d.t() >= mint && d.t() <= maxt) out.push_back(S(d.t(), d.v()));
    }
  }
  return out;
}

std::vector<Sample> Slice(const std::vector<Sample>& all, TimestampMs mint, TimestampMs maxt) {
  std::vector<Sample> out;
  for (const Sample& s : all) {
    if (s.first >= mint && s.first <= maxt) out.push_back(s);
  }
  return out;
}

// A value per scrape: decimals, integers, a stale marker every 97th scrape,
// and a NaN every 89th, so chunks hold exceptions too.
double Value(int series, int i) {
  if (i % 97 == 50) return StaleNaN();
  if (i % 89 == 7) return std::nan("");
  return series % 2 ? i * 0.25 + series : std::floor(i / 3.0) * 100 + series;
}

struct Fixture {
  explicit Fixture(const std::string& dir, bool files = true) {
    o.dir = dir;
    o.block_range = Duration(3600 * 1000);
    head = std::make_unique<Head>(o);
    if (files) head->EnableChunkFiles();
  }
  // `n` series, `samples` scrapes each at 1 s, interleaved so that the series'
  // records alternate in the files.
  std::vector<std::vector<Sample>> Fill(int n, int samples, TimestampMs start = 0) {
    std::vector<std::vector<Sample>> want(n);
    for (int k = 0; k < n; ++k) {
      bool created = false;
      series.push_back(head->GetOrCreate(Labels{{"__name__", "m"}, {"k", std::to_string(k)}}, &created));
    }
    for (int i = 0; i < samples; ++i) {
      for (int k = 0; k < n; ++k) {
        TimestampMs t = start + i * 1000LL + k;
        EXPECT_EQ(head->Append(*series[k], t, Value(k, i)), Head::AppendResult::kOk);
        want[k].push_back(S(t, Value(k, i)));
      }
    }
    return want;
  }
  Options o;
  std::unique_ptr<Head> head;
  std::vector<std::shared_ptr<MemSeries>> series;
};

TEST(HeadChunks, ReadsAcrossCutsFromTheRecordChain) {
  TempDir dir;
  Fixture f(dir.path());
  // 2 h 10 min at 1 s: 60+ full chunks per series, two block ranges (1 h each).
  auto want = f.Fill(3, 7800);
  for (int k = 0; k < 3; ++k) {
    const MemSeries& s = *f.series[k];
    EXPECT_EQ(s.full.num_ranges(), 3u);  // ranges [0,1h), [1h,2h), [2h,3h)
    EXPECT_EQ(s.full.in_memory(), nullptr);
    EXPECT_EQ(s.full.disk_chunks(), 64u);  // 30 + 30 + 4, and a full one still open
    EXPECT_EQ(Read(*f.head, s, 0, 1LL << 50), want[k]);
    // Around cut boundaries (120 samples, block ranges) and inside one chunk.
    for (TimestampMs mint : {0LL, 118'000LL, 119'000LL, 120'000LL, 121'000LL, 3'599'000LL, 3'600'000LL, 7'000'000LL}) {
      for (TimestampMs len : {0LL, 999LL, 1'000LL, 60'000LL, 240'000LL, 4'000'000LL}) {
        TimestampMs lo = mint + k, hi = mint + len + k;
        EXPECT_EQ(Read(*f.head, s, lo, hi), Slice(want[k], lo, hi)) << "series " << k << " [" << lo << "," << hi << "]";
      }
    }
  }
  EXPECT_EQ(f.head->num_samples(), 3u * 7800);
  EXPECT_EQ(f.head->num_chunks(), 3u * 65);
}

TEST(HeadChunks, TruncateAtABlockBoundaryAndInsideARange) {
  TempDir dir;
  Fixture f(dir.path());
  auto want = f.Fill(2, 7800);
  // At the block boundary, as the store does: the first range goes without a read.
  f.head->Truncate(3'600'000);
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(f.series[k]->full.num_ranges(), 2u);
    EXPECT_EQ(Read(*f.head, *f.series[k], 0, 1LL << 50), Slice(want[k], 3'600'000, 1LL << 50));
  }
  EXPECT_EQ(f.head->num_samples(), 2u * (7800 - 3600));
  EXPECT_EQ(f.head->min_time(), 3'600'000);
  // Inside a range: only whole chunks ending before it go (chunks start every
  // 120 s from 3600 s, so 3600+120*5 = 4200 s is the 6th chunk's start).
  f.head->Truncate(4'200'500);
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(Read(*f.head, *f.series[k], 0, 1LL << 50), Slice(want[k], 4'200'000, 1LL << 50));
  }
  EXPECT_EQ(f.head->num_samples(), 2u * (7800 - 4200));
  EXPECT_EQ(f.head->min_time(), 4'200'000);
  f.head->Truncate(8'000'000);  // everything: the series go
  EXPECT_EQ(f.head->num_series(), 0u);
  EXPECT_EQ(f.head->num_samples(), 0u);
}

TEST(HeadChunks, WithoutFilesFullChunksStayInMemory) {
  TempDir dir;
  Fixture f(dir.path(), /*files=*/false);
  auto want = f.Fill(2, 1000);
  EXPECT_TRUE(f.series[0]->full.no_ranges());
  ASSERT_NE(f.series[0]->full.in_memory(), nullptr);
  EXPECT_EQ(f.series[0]->full.in_memory()->size(), 8u);
  EXPECT_EQ(Read(*f.head, *f.series[1], 0, 1LL << 50), want[1]);
  EXPECT_EQ(Read(*f.head, *f.series[1], 200'000, 500'000), Slice(want[1], 200'000, 500'000));
  f.head->Truncate(360'000);
  EXPECT_EQ(Read(*f.head, *f.series[0], 0, 1LL << 50), Slice(want[0], 360'000, 1LL << 50));
  EXPECT_EQ(f.head->num_samples(), 2u * (1000 - 360));
}

TEST(HeadChunks, ChunksTheDiskRefusesStayInMemoryBesideThoseOnDisk) {
  TempDir dir;
  Fixture f(dir.path(), /*files=*/false);
  f.head->EnableChunkFiles(1000);  // about 3 records per file
  // File 2 refuses every write (ENOSPC), as a full disk does.
  std::filesystem::create_symlink("/dev/full", dir.path() + "/head_chunks/2");
  auto want = f.Fill(1, 1000);
  const MemSeries& s = *f.series[0];
  ASSERT_NE(s.full.in_memory(), nullptr);
  const uint64_t on_disk = s.full.disk_chunks();
  EXPECT_GE(on_disk, 2u);
  EXPECT_EQ(on_disk + s.full.in_memory()->size(), 8u);
  EXPECT_EQ(Read(*f.head, s, 0, 1LL << 50), want[0]);
  for (TimestampMs lo : {0LL, 100'000LL, 239'000LL, 240'000LL, 500'000LL}) {
    EXPECT_EQ(Read(*f.head, s, lo, lo + 150'000), Slice(want[0], lo, lo + 150'000)) << lo;
  }
  f.head->Truncate(200'000);  // inside a range, on disk: the first chunk goes
  EXPECT_EQ(s.full.disk_chunks(), on_disk - 1);
  EXPECT_EQ(Read(*f.head, s, 0, 1LL << 50), Slice(want[0], 120'000, 1LL << 50));
  f.head->Truncate(on_disk * 120'000 + 130'000);  // every chunk on disk and the first in memory
  EXPECT_EQ(s.full.disk_chunks(), 0u);
  EXPECT_EQ(Read(*f.head, s, 0, 1LL << 50), Slice(want[0], (on_disk + 1) * 120'000, 1LL << 50));
  EXPECT_EQ(f.head->num_samples(), 1000u - (on_disk + 1) * 120);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/head_chunks/1"));  // its chunks all ended before
}

std::unique_ptr<DB> Open(const std::string& dir) {
  Options o;
  o.dir = dir;
  auto db = DB::Open(o);
  EXPECT_TRUE(db.ok()) << db.status().message();
  return std::move(*db);
}

std::vector<std::vector<Sample>> All(DB& db) {
  auto q = db.NewQuerier(0, 1LL << 50);
  auto r = q->Select({*Matcher::Make(Matcher::Type::kEqual, "__name__", "m")});
  EXPECT_TRUE(r.ok());
  std::vector<std::vector<Sample>> out;
  for (const auto& s : *r) {
    out.emplace_back();
    auto it = s->Iterator();
    while (it->Next()) out.back().push_back(S(it->t(), it->v()));
  }
  return out;
}

TEST(HeadChunks, WalReplayRebuildsTheSameData) {
  TempDir dir;
  std::vector<std::vector<Sample>> want(4);
  std::vector<std::vector<Sample>> before;
  {
    auto db = Open(dir.path());
    auto app = db->NewAppender();
    for (int i = 0; i < 1500; ++i) {
      for (int k = 0; k < 4; ++k) {
        TimestampMs t = i * 1000LL + k;
        ASSERT_TRUE(app->Append(0, Labels{{"__name__", "m"}, {"k", std::to_string(k)}}, t, Value(k, i)).ok());
        want[k].push_back(S(t, Value(k, i)));
      }
      if (i % 100 == 99) {
        ASSERT_TRUE(app->Commit().ok());
      }
    }
    ASSERT_TRUE(app->Commit().ok());
    before = All(*db);
    EXPECT_EQ(db->GetStats().head_chunks, 4u * (1500 / 120 + 1));
    ASSERT_TRUE(db->Close().ok());
  }
  EXPECT_EQ(before, want);
  // The chunk files are wiped and rebuilt from the WAL.
  auto db = Open(dir.path());
  EXPECT_EQ(All(*db), want);
  EXPECT_EQ(db->GetStats().head_samples, 4u * 1500);
  EXPECT_EQ(db->GetStats().head_chunks, 4u * (1500 / 120 + 1));
  EXPECT_GT(std::filesystem::file_size(dir.path() + "/head_chunks/1"), 0u);
}

TEST(HeadChunks, ARecordOfAnotherSeriesIsAnError) {
  TempDir dir;
  Fixture f(dir.path());
  f.Fill(2, 300);
  std::swap(f.series[0]->newest_on_disk, f.series[1]->newest_on_disk);
  ChunkSnapshot snap = f.head->Snapshot(*f.series[0], 0, 1LL << 50);
  EXPECT_FALSE(snap.error.ok());
}

}  // namespace
}  // namespace vigil::tsdb
