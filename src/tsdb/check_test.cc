#include "tsdb/check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "tsdb/block.h"
#include "tsdb/tsdb.h"

namespace vigil::tsdb {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

constexpr TimestampMs kStart = 1'700'000'400'000;  // inside one 2 h block range

std::unique_ptr<DB> Open(const std::string& dir) {
  Options o;
  o.dir = dir;
  auto db = DB::Open(o);
  EXPECT_TRUE(db.ok()) << db.status().message();
  return db.ok() ? std::move(*db) : nullptr;
}

// Three series ("a", "b", "c") of `n` samples each, 1 s apart, from `from`.
void Ingest(DB& db, TimestampMs from, int n) {
  for (int i = 0; i < n; ++i) {
    auto app = db.NewAppender();
    for (const char* name : {"a", "b", "c"}) {
      ASSERT_TRUE(app->Append(0, Labels({{"__name__", name}, {"job", "t"}}), from + i * 1000, i * 1.5).ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
}

// Every sample of the store, by series name.
std::map<std::string, std::vector<std::pair<TimestampMs, double>>> Dump(const std::string& dir) {
  std::map<std::string, std::vector<std::pair<TimestampMs, double>>> out;
  auto db = Open(dir);
  if (!db) return out;
  auto q = db->NewQuerier(std::numeric_limits<TimestampMs>::min(), std::numeric_limits<TimestampMs>::max());
  auto series = q->Select({*Matcher::Make(Matcher::Type::kRegexMatch, "__name__", ".+")});
  EXPECT_TRUE(series.ok());
  for (const auto& s : *series) {
    auto it = s->Iterator();
    auto& v = out[std::string(s->labels().Get("__name__"))];
    while (it->Next()) v.emplace_back(it->t(), it->v());
    EXPECT_TRUE(it->err().ok()) << it->err().message();
  }
  EXPECT_TRUE(db->Close().ok());
  return out;
}

std::vector<std::string> Blocks(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir + "/blocks")) out.push_back(e.path().string());
  return out;
}

// A store with one block of three series and nothing in the head.
std::string StoreWithBlock(const TempDir& tmp) {
  std::string dir = tmp.path() + "/tsdb";
  auto db = Open(dir);
  Ingest(*db, kStart, 200);
  EXPECT_TRUE(db->FlushHead().ok());
  EXPECT_TRUE(db->Close().ok());
  return dir;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

Result<CheckReport> Check(const std::string& dir, bool repair) {
  CheckOptions o;
  o.dir = dir;
  o.repair = repair;
  return CheckStore(o);
}

TEST(TsdbCheck, CleanStoreHasNoDamage) {
  TempDir tmp;
  std::string dir = StoreWithBlock(tmp);
  auto r = Check(dir, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->blocks, 1u);
  EXPECT_EQ(r->series, 3u);
  EXPECT_EQ(r->samples, 600u);
  EXPECT_TRUE(r->damaged.empty());
}

TEST(TsdbCheck, FlippedByteInBlockDataIsFoundAndRepairKeepsTheOtherSeries) {
  TempDir tmp;
  std::string dir = StoreWithBlock(tmp);
  auto before = Dump(dir);
  ASSERT_EQ(before.size(), 3u);
  std::string block_dir = Blocks(dir).at(0);
  auto block = Block::Open(block_dir);
  ASSERT_TRUE(block.ok());
  // Series are in label order: index 1 is "b". Flip a byte inside its payload.
  const BlockSeries& b = (*block)->series()[1];
  ASSERT_EQ(b.labels.Get("__name__"), "b");
  uint64_t offset = b.offset + b.length - 2;
  block->reset();
  FlipByte(block_dir + "/block", offset);

  auto r = Check(dir, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->damaged.size(), 1u);
  EXPECT_EQ(r->damaged[0].path, block_dir + "/block");
  EXPECT_NE(r->damaged[0].reason.find("__name__=\"b\""), std::string::npos) << r->damaged[0].reason;
  EXPECT_FALSE(r->damaged[0].repaired);
  EXPECT_TRUE(fs::exists(block_dir)) << "a check without --repair changes nothing";

  r = Check(dir, true);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->damaged.size(), 1u);
  EXPECT_TRUE(r->damaged[0].repaired) << r->damaged[0].repair;
  EXPECT_FALSE(fs::exists(block_dir));
  EXPECT_TRUE(fs::exists(dir + "/quarantine/" + fs::path(block_dir).filename().string() + "/block"));

  auto after = Dump(dir);
  EXPECT_EQ(after.count("b"), 0u);
  EXPECT_EQ(after["a"], before["a"]);
  EXPECT_EQ(after["c"], before["c"]);
  r = Check(dir, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->damaged.empty());
}

TEST(TsdbCheck, TruncatedBlockFileIsQuarantinedWhole) {
  TempDir tmp;
  std::string dir = StoreWithBlock(tmp);
  std::string block_dir = Blocks(dir).at(0);
  std::string file = block_dir + "/block";
  ASSERT_EQ(::truncate(file.c_str(), static_cast<off_t>(fs::file_size(file) - 10)), 0);

  auto r = Check(dir, true);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->damaged.size(), 1u);
  EXPECT_EQ(r->damaged[0].path, file);
  EXPECT_NE(r->damaged[0].reason.find("bad magic"), std::string::npos) << r->damaged[0].reason;
  EXPECT_TRUE(r->damaged[0].repaired) << r->damaged[0].repair;
  EXPECT_NE(r->damaged[0].repair.find("no readable series"), std::string::npos) << r->damaged[0].repair;
  EXPECT_TRUE(Blocks(dir).empty());
  EXPECT_TRUE(fs::exists(dir + "/quarantine/" + fs::path(block_dir).filename().string() + "/block"));
  r = Check(dir, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->damaged.empty());
}

TEST(TsdbCheck, CorruptMetaIsFoundAndRepairKeepsEverySeries) {
  TempDir tmp;
  std::string dir = StoreWithBlock(tmp);
  auto before = Dump(dir);
  std::string block_dir = Blocks(dir).at(0);
  std::ofstream(block_dir + "/meta.json") << "{\"version\":2,\"id\":";

  auto r = Check(dir, false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->damaged.size(), 1u);
  EXPECT_EQ(r->damaged[0].path, block_dir + "/meta.json");
  EXPECT_EQ(Dump(dir).size(), 0u) << "vigil skips a block whose meta it cannot read";

  r = Check(dir, true);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->damaged.size(), 1u);
  EXPECT_TRUE(r->damaged[0].repaired) << r->damaged[0].repair;
  EXPECT_EQ(Dump(dir), before);
  r = Check(dir, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->damaged.empty());
}

TEST(TsdbCheck, TruncatedWalSegmentIsCutAtItsLastGoodRecord) {
  TempDir tmp;
  std::string dir = tmp.path() + "/tsdb";
  {
    auto db = Open(dir);
    Ingest(*db, kStart, 50);
    ASSERT_TRUE(db->Close().ok());
  }
  std::string segment = dir + "/wal/00000001";
  uint64_t size = fs::file_size(segment);
  ASSERT_EQ(::truncate(segment.c_str(), static_cast<off_t>(size - 7)), 0);

  auto r = Check(dir, false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->damaged.size(), 1u);
  EXPECT_EQ(r->damaged[0].kind, Damage::Kind::kWal);
  EXPECT_EQ(r->damaged[0].path, segment);
  EXPECT_NE(r->damaged[0].reason.find("torn record"), std::string::npos) << r->damaged[0].reason;
  EXPECT_EQ(fs::file_size(segment), size - 7) << "a check without --repair changes nothing";

  r = Check(dir, true);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->damaged.size(), 1u);
  EXPECT_TRUE(r->damaged[0].repaired) << r->damaged[0].repair;
  EXPECT_LT(fs::file_size(segment), size - 7);
  EXPECT_EQ(fs::file_size(dir + "/quarantine/wal/00000001"), size - 7);
  r = Check(dir, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->damaged.empty());
  auto after = Dump(dir);
  for (const char* name : {"a", "b", "c"}) EXPECT_EQ(after[name].size(), 49u) << name;  // the last commit is lost
}

TEST(TsdbCheck, RefusesAStoreARunningVigilHolds) {
  TempDir tmp;
  std::string dir = tmp.path() + "/tsdb";
  auto db = Open(dir);
  auto r = Check(dir, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("in use by a running vigil"), std::string::npos) << r.status().message();
  ASSERT_TRUE(db->Close().ok());
  EXPECT_TRUE(Check(dir, false).ok());
}

TEST(TsdbCheck, NotAStore) {
  TempDir tmp;
  auto r = Check(tmp.path() + "/nothing", false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no vigil storage here"), std::string::npos);
}

TEST(TsdbSnapshot, HoldsBlocksAndHeadAndOpensAsAStore) {
  TempDir tmp;
  std::string dir = tmp.path() + "/tsdb";
  auto db = Open(dir);
  Ingest(*db, kStart - 7'200'000, 100);  // the previous block range: into a block
  ASSERT_TRUE(db->FlushHead().ok());
  Ingest(*db, kStart, 100);  // in the head only
  auto snap = db->Snapshot(tmp.path() + "/snap", true);
  ASSERT_TRUE(snap.ok()) << snap.status().message();
  EXPECT_EQ(snap->blocks, 2u);
  EXPECT_EQ(snap->head_blocks, 1u);
  EXPECT_EQ(snap->head_samples, 300u);
  EXPECT_EQ(snap->max_time, kStart + 99'000);
  Ingest(*db, kStart + 100'000, 10);  // after the snapshot: not in it
  ASSERT_TRUE(db->Close().ok());

  auto copy = Dump(tmp.path() + "/snap");
  ASSERT_EQ(copy.size(), 3u);
  EXPECT_EQ(copy["a"].size(), 200u);
  EXPECT_EQ(copy["a"].back().first, kStart + 99'000);
  auto r = Check(tmp.path() + "/snap", false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->damaged.empty());
  // A vigil on the snapshot takes new samples right after its last one.
  auto restored = Open(tmp.path() + "/snap");
  auto app = restored->NewAppender();
  EXPECT_TRUE(app->Append(0, Labels({{"__name__", "a"}, {"job", "t"}}), kStart + 100'000, 1).ok());
  EXPECT_TRUE(app->Commit().ok());
  ASSERT_TRUE(restored->Close().ok());
}

TEST(TsdbSnapshot, UnwritableTargetIsAnErrorNamingIt) {
  TempDir tmp;
  auto db = Open(tmp.path() + "/tsdb");
  Ingest(*db, kStart, 10);
  std::ofstream(tmp.path() + "/file") << "x";
  auto snap = db->Snapshot(tmp.path() + "/file/snap", true);
  ASSERT_FALSE(snap.ok());
  EXPECT_NE(snap.status().message().find(tmp.path() + "/file/snap"), std::string::npos) << snap.status().message();
  // The store goes on.
  Ingest(*db, kStart + 10'000, 10);
  ASSERT_TRUE(db->Close().ok());
  EXPECT_EQ(Dump(tmp.path() + "/tsdb")["a"].size(), 20u);
}

}  // namespace
}  // namespace vigil::tsdb
