#include "cli/backup.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/testing/temp_dir.h"

namespace vigil::cli {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

int64_t QueryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

// Every transaction of the writer inserts 10 rows: a consistent copy holds a multiple of 10.
TEST(BackupSqlite, ConsistentWhileAnotherConnectionWrites) {
  TempDir tmp;
  std::string src = tmp.path() + "/state.db", dst = tmp.path() + "/copy.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(src.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::atomic<bool> stop{false};
  std::atomic<int> batches{0};
  std::thread writer([&] {
    while (!stop) {
      sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      for (int i = 0; i < 10; ++i) sqlite3_exec(db, "INSERT INTO t VALUES (1)", nullptr, nullptr, nullptr);
      if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) ++batches;
    }
  });
  while (batches < 50) std::this_thread::yield();
  Status s = BackupSqlite(src, dst);
  stop = true;
  writer.join();
  sqlite3_close(db);
  ASSERT_TRUE(s.ok()) << s.message();

  sqlite3* copy = nullptr;
  ASSERT_EQ(sqlite3_open_v2(dst.c_str(), &copy, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  int64_t rows = QueryInt(copy, "SELECT count(*) FROM t");
  sqlite3_close(copy);
  EXPECT_GE(rows, 500);
  EXPECT_EQ(rows % 10, 0) << "a transaction was copied in part";
}

TEST(BackupSqlite, UnwritableTargetNamesIt) {
  TempDir tmp;
  std::string src = tmp.path() + "/state.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(src.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE t (x INTEGER)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  Status s = BackupSqlite(src, tmp.path() + "/missing/copy.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(tmp.path() + "/missing/copy.db"), std::string::npos) << s.message();
}

class BackupDataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tsdb::Options o;
    o.dir = data_ + "/tsdb";
    auto db = tsdb::DB::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    auto app = db_->NewAppender();
    ASSERT_TRUE(app->Append(0, Labels({{"__name__", "m"}}), 1'700'000'000'000, 1).ok());
    ASSERT_TRUE(app->Commit().ok());
    sqlite3* s = nullptr;
    ASSERT_EQ(sqlite3_open((data_ + "/state.db").c_str(), &s), SQLITE_OK);
    sqlite3_exec(s, "CREATE TABLE silences (id TEXT)", nullptr, nullptr, nullptr);
    sqlite3_close(s);
  }
  void TearDown() override { (void)db_->Close(); }

  TempDir tmp_;
  std::string data_ = tmp_.path() + "/data";
  std::unique_ptr<tsdb::DB> db_;
};

TEST_F(BackupDataDirTest, WritesADataDir) {
  std::string target = tmp_.path() + "/backups/one";
  auto r = BackupDataDir(*db_, data_, target);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->state_db);
  EXPECT_EQ(r->tsdb.head_samples, 1u);
  EXPECT_TRUE(fs::exists(target + "/state.db"));
  EXPECT_TRUE(fs::exists(target + "/backup.json"));
  EXPECT_TRUE(fs::is_directory(target + "/tsdb/wal"));
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST_F(BackupDataDirTest, RefusesBadTargetsAndLeavesNothing) {
  fs::create_directories(tmp_.path() + "/full");
  std::ofstream(tmp_.path() + "/full/x") << "x";
  auto r = BackupDataDir(*db_, data_, tmp_.path() + "/full");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not empty"), std::string::npos) << r.status().message();

  r = BackupDataDir(*db_, data_, data_ + "/tsdb/blocks/b");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("inside the store"), std::string::npos) << r.status().message();
  EXPECT_FALSE(fs::exists(data_ + "/tsdb/blocks/b"));

  r = BackupDataDir(*db_, data_, "relative/dir");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("absolute"), std::string::npos) << r.status().message();

  std::ofstream(tmp_.path() + "/file") << "x";
  r = BackupDataDir(*db_, data_, tmp_.path() + "/file/b");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a directory"), std::string::npos) << r.status().message();

  // The store is unharmed.
  auto app = db_->NewAppender();
  EXPECT_TRUE(app->Append(0, Labels({{"__name__", "m"}}), 1'700'000'001'000, 2).ok());
  EXPECT_TRUE(app->Commit().ok());
}

}  // namespace
}  // namespace vigil::cli
