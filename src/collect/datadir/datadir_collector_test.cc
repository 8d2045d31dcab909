// The data directory collector on real files in a temporary directory: du's
// counting (allocated blocks, hard links once, symlinks not followed), the
// filesystem's room, and every way a walk can fail.
#include "collect/datadir/datadir_collector.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/testing/temp_dir.h"

namespace vigil::collect {
namespace {

using ::testing::HasSubstr;
constexpr double kMiB = 1 << 20;

struct Outcome {
  MetricBatch batch;
  Status status;
};

Outcome Collect(DataDirCollectorOptions o, CollectContext ctx = {}) {
  Outcome r;
  r.status = NewDataDirCollector(std::move(o))->Collect(ctx, r.batch);
  return r;
}

const Sample* Only(const MetricBatch& b, const std::string& name) {
  const MetricFamily* f = b.Find(name);
  return f && f->samples.size() == 1 ? &f->samples[0] : nullptr;
}

// Writes `bytes` of non-zero data, so every block is allocated.
void WriteFull(const std::string& path, size_t bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path;
  std::string chunk(64 << 10, 'x');
  for (size_t done = 0; done < bytes; done += chunk.size()) {
    ASSERT_EQ(::write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
  }
  ASSERT_EQ(::fsync(fd), 0);
  ::close(fd);
}

TEST(DataDirCollector, CountsAllocatedBlocksLikeDu) {
  testing::TempDir dir;
  const std::string data = dir.path() + "/bitcoin";
  WriteFull(data + "/blocks/blk00000.dat", 2 << 20);
  WriteFull(data + "/chainstate/000001.ldb", 1 << 20);
  // A hard link is the same data: counted once.
  ASSERT_EQ(::link((data + "/blocks/blk00000.dat").c_str(), (data + "/blocks/again.dat").c_str()), 0);
  // A sparse file of 1 GiB occupies almost nothing; du says so too.
  ASSERT_EQ(::truncate(dir.Write("bitcoin/sparse.img", "").c_str(), 1LL << 30), 0);
  // A symlink to data elsewhere is not followed.
  WriteFull(dir.path() + "/elsewhere/big", 4 << 20);
  ASSERT_EQ(::symlink((dir.path() + "/elsewhere").c_str(), (data + "/link").c_str()), 0);

  Outcome r = Collect({"bitcoind", data});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const Sample* bytes = Only(r.batch, "vigil_service_data_dir_bytes");
  ASSERT_NE(bytes, nullptr);
  // 3 MiB of data plus directory and metadata blocks; not 5, 7 or 1027 MiB.
  EXPECT_GE(bytes->value, 3 * kMiB);
  EXPECT_LT(bytes->value, 3.5 * kMiB);
  EXPECT_EQ(bytes->labels.Get("service"), "bitcoind");
  EXPECT_EQ(bytes->labels.Get("path"), data);
  const Sample* files = Only(r.batch, "vigil_service_data_dir_files");
  ASSERT_NE(files, nullptr);
  EXPECT_EQ(files->value, 3);  // blk00000.dat (also again.dat: one inode), 000001.ldb, sparse.img

  // The mountpoint holds the directory and is the top of its device.
  std::string mount(bytes->labels.Get("mountpoint"));
  EXPECT_EQ(data.rfind(mount == "/" ? "/" : mount + "/", 0), 0u) << mount;
  struct stat m {
  }, d{};
  ASSERT_EQ(::stat(mount.c_str(), &m), 0);
  ASSERT_EQ(::stat(data.c_str(), &d), 0);
  EXPECT_EQ(m.st_dev, d.st_dev);

  struct statvfs vfs {};
  ASSERT_EQ(::statvfs(data.c_str(), &vfs), 0);
  const Sample* avail = Only(r.batch, "vigil_service_data_dir_filesystem_avail_bytes");
  ASSERT_NE(avail, nullptr);
  const double expected = static_cast<double>(vfs.f_bavail) * vfs.f_frsize;
  EXPECT_NEAR(avail->value, expected, 64 * kMiB);  // other writers on the machine move it a little
  const Sample* unreadable = Only(r.batch, "vigil_service_data_dir_unreadable_entries");
  ASSERT_NE(unreadable, nullptr);
  EXPECT_EQ(unreadable->value, 0);
  EXPECT_TRUE(r.batch.errors().empty());
}

TEST(DataDirCollector, GrowsAndShrinksWithTheData) {
  testing::TempDir dir;
  WriteFull(dir.path() + "/a", 1 << 20);
  double before = Only(Collect({"titan", dir.path()}).batch, "vigil_service_data_dir_bytes")->value;
  WriteFull(dir.path() + "/b", 2 << 20);
  double grown = Only(Collect({"titan", dir.path()}).batch, "vigil_service_data_dir_bytes")->value;
  EXPECT_GE(grown - before, 2 * kMiB);
  std::filesystem::remove(dir.path() + "/a");
  double pruned = Only(Collect({"titan", dir.path()}).batch, "vigil_service_data_dir_bytes")->value;
  EXPECT_LE(grown - pruned, 1.1 * kMiB);
  EXPECT_GE(grown - pruned, 1 * kMiB);
}

TEST(DataDirCollector, AMissingDirectoryIsAnErrorNamingIt) {
  Outcome r = Collect({"validator", "/nonexistent/vigil-ledger"});
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(r.status.message(), HasSubstr("data_dir /nonexistent/vigil-ledger: No such file or directory"));
  EXPECT_EQ(r.batch.Find("vigil_service_data_dir_bytes"), nullptr);
}

TEST(DataDirCollector, AFileIsNotADirectory) {
  testing::TempDir dir;
  Outcome r = Collect({"validator", dir.Write("ledger", "x")});
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(r.status.message(), HasSubstr("Not a directory"));
}

TEST(DataDirCollector, TooManyEntriesStopsTheWalkWithoutAPartialSize) {
  testing::TempDir dir;
  for (int i = 0; i < 20; ++i) dir.Write("f" + std::to_string(i), "x");
  DataDirCollectorOptions o{"bitcoind", dir.path()};
  o.max_entries = 10;
  Outcome r = Collect(o);
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(r.status.message(), HasSubstr("walk stopped: more than 10 entries"));
  EXPECT_EQ(r.batch.Find("vigil_service_data_dir_bytes"), nullptr);
}

TEST(DataDirCollector, APassedDeadlineStopsTheWalk) {
  testing::TempDir dir;
  for (int i = 0; i < 2000; ++i) dir.Write("f" + std::to_string(i), "x");
  CollectContext ctx;
  ctx.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  Outcome r = Collect({"bitcoind", dir.path()}, ctx);
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(r.status.message(), HasSubstr("walk stopped: timed out after"));
}

TEST(DataDirCollector, ATreeTooDeepIsCountedAsUnreadableBelowTheLimit) {
  testing::TempDir dir;
  std::string deep = dir.path();
  for (int i = 0; i < 130; ++i) deep += "/d";
  std::filesystem::create_directories(deep);
  WriteFull(deep + "/below-the-limit", 1 << 20);
  Outcome r = Collect({"bitcoind", dir.path()});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(Only(r.batch, "vigil_service_data_dir_unreadable_entries")->value, 1);
  EXPECT_LT(Only(r.batch, "vigil_service_data_dir_bytes")->value, 1 * kMiB);
  ASSERT_EQ(r.batch.errors().size(), 1u);
  EXPECT_EQ(r.batch.errors()[0].reason, "unreadable");
  EXPECT_THAT(r.batch.errors()[0].detail, HasSubstr("1 entries not counted, first "));
  EXPECT_THAT(r.batch.errors()[0].detail, HasSubstr("/d/d: deeper than 128 levels"));
}

TEST(DataDirCollector, UnreadableEntriesAreCountedAndNamed) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every directory";
  testing::TempDir dir;
  WriteFull(dir.path() + "/locked/secret", 1 << 20);
  ::chmod((dir.path() + "/locked").c_str(), 0);
  Outcome r = Collect({"bitcoind", dir.path()});
  ::chmod((dir.path() + "/locked").c_str(), 0755);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(Only(r.batch, "vigil_service_data_dir_unreadable_entries")->value, 1);
  ASSERT_EQ(r.batch.errors().size(), 1u);
  EXPECT_THAT(r.batch.errors()[0].detail, HasSubstr("/locked: Permission denied"));
}

}  // namespace
}  // namespace vigil::collect
