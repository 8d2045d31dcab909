#include "recovery/actions/cleanup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/testing/temp_dir.h"

namespace vigil::recovery {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMs kNow = 1'800'000'000'000;
constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;

// Writes `bytes` of data (not sparse, so it occupies blocks) with mtime kNow - age.
void MakeFile(const std::string& path, size_t bytes, int64_t age_ms) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
  TimestampMs t = kNow - age_ms;
  timespec times[2] = {{t / 1000, (t % 1000) * 1000000}, {t / 1000, (t % 1000) * 1000000}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

const CleanupEntry* FindEntry(const CleanupReport& report, const std::string& path) {
  for (const CleanupEntry& e : report.entries) {
    if (e.path == path) return &e;
  }
  return nullptr;
}

std::vector<std::string> PathsWith(const CleanupReport& report, CleanupAction action) {
  std::vector<std::string> out;
  for (const CleanupEntry& e : report.entries) {
    if (e.action == action) out.push_back(fs::path(e.path).filename());
  }
  return out;
}

// A filesystem of `size` bytes whose used space is what the files under `dir`
// hold, so deletions show up on the next read like on a real filesystem.
std::function<Result<FsUsage>(const std::string&)> UsageOfTree(const std::string& dir, uint64_t size) {
  return [dir, size](const std::string&) -> Result<FsUsage> {
    uint64_t used = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.is_regular_file() && !e.is_symlink()) used += e.file_size();
    }
    return FsUsage{size, size > used ? size - used : 0};
  };
}

class CleanupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() + "/logs";
    fs::create_directories(root_);
    policy_.filesystem = dir_.path();
    policy_.roots = {root_};
    policy_.match = {"*.log.*"};
    policy_.below_free_ratio = 0.15;
    policy_.until_free_ratio = 0.25;
    policy_.older_than = Duration(3 * kDay);
    options_.now = kNow;
  }
  std::string P(const std::string& rel) const { return root_ + "/" + rel; }

  testing::TempDir dir_;
  std::string root_;
  CleanupPolicy policy_;
  CleanupOptions options_;
};

TEST_F(CleanupTest, DeletesOnlyAllowlistedOldFilesOldestFirstUntilTheTarget) {
  constexpr size_t kFile = 100 * 1024;
  MakeFile(P("app.log.3"), kFile, 3 * kDay + kHour);
  MakeFile(P("app.log.1"), kFile, 5 * kDay);
  MakeFile(P("app.log.2"), kFile, 4 * kDay);
  MakeFile(P("app.log.4"), kFile, kHour);   // too new
  MakeFile(P("app.log"), kFile, 9 * kDay);  // the live log: does not match
  MakeFile(P("notes.txt"), kFile, 9 * kDay);
  MakeFile(dir_.path() + "/other.bin", 300 * 1024, 9 * kDay);  // outside the root
  options_.usage = UsageOfTree(dir_.path(), 1000 * 1024);      // 900 KiB used: 10% free

  ASSERT_TRUE(ValidateCleanupPolicy(policy_, "/var/lib/vigil").ok());
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(PathsWith(*report, CleanupAction::kDeleted), (std::vector<std::string>{"app.log.1", "app.log.2"}));
  EXPECT_FALSE(Exists(P("app.log.1")));
  EXPECT_FALSE(Exists(P("app.log.2")));
  EXPECT_TRUE(Exists(P("app.log.3"))) << "the target was reached before it";
  EXPECT_TRUE(Exists(P("app.log.4")));
  EXPECT_TRUE(Exists(P("app.log")));
  EXPECT_TRUE(Exists(P("notes.txt")));
  EXPECT_TRUE(Exists(dir_.path() + "/other.bin"));
  EXPECT_TRUE(report->target_reached);
  EXPECT_NEAR(report->free_ratio_before, 0.10, 0.001);
  EXPECT_NEAR(report->free_ratio_after, 0.30, 0.001);
  EXPECT_EQ(report->not_needed_files, 1u);
  EXPECT_EQ(report->acted_files, 2u);
  const CleanupEntry* first = &report->entries.front();
  EXPECT_EQ(first->path, P("app.log.1"));
  EXPECT_EQ(first->size_bytes, kFile);
  EXPECT_EQ(first->mtime, kNow - 5 * kDay);
  const CleanupEntry* too_new = FindEntry(*report, P("app.log.4"));
  // Too new but newer than the others, so considered after the target was reached.
  EXPECT_EQ(too_new, nullptr);

  std::string text = FormatCleanupReport(*report);
  EXPECT_NE(text.find("freed 200.0 KiB from 2 files, free 10.0% -> 30.0% (target 25.0%, reached)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("deleted " + P("app.log.1")), std::string::npos) << text;
}

TEST_F(CleanupTest, ReportsTooNewFilesWhenTheTargetIsOutOfReach) {
  MakeFile(P("a.log.1"), 1024, 5 * kDay);
  MakeFile(P("a.log.2"), 1024, kHour);
  policy_.until_free_ratio = 1.0;
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->target_reached);
  ASSERT_NE(FindEntry(*report, P("a.log.2")), nullptr);
  EXPECT_EQ(FindEntry(*report, P("a.log.2"))->reason, "too new");
  EXPECT_EQ(FindEntry(*report, P("a.log.1"))->action, CleanupAction::kDeleted);
}

TEST_F(CleanupTest, KeepsTheNewestPerDirectory) {
  for (int i = 1; i <= 5; ++i) MakeFile(P("app.log." + std::to_string(i)), 1024, (10 + i) * kDay);
  MakeFile(P("sub/x.log.1"), 1024, 20 * kDay);
  MakeFile(P("sub/x.log.2"), 1024, 21 * kDay);
  policy_.keep_newest = 2;
  policy_.until_free_ratio = 1.0;  // unreachable: everything eligible goes
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  // app.log.1 is the newest (11 days), app.log.5 the oldest.
  EXPECT_EQ(PathsWith(*report, CleanupAction::kDeleted),
            (std::vector<std::string>{"app.log.5", "app.log.4", "app.log.3"}));
  EXPECT_TRUE(Exists(P("app.log.1")));
  EXPECT_TRUE(Exists(P("app.log.2")));
  EXPECT_TRUE(Exists(P("sub/x.log.1")));
  EXPECT_TRUE(Exists(P("sub/x.log.2")));
  EXPECT_EQ(FindEntry(*report, P("sub/x.log.2"))->reason, "kept newest");
}

TEST_F(CleanupTest, LargestFirstAndNonRecursive) {
  MakeFile(P("a.log.1"), 1000, 10 * kDay);
  MakeFile(P("b.log.1"), 3000, 5 * kDay);
  MakeFile(P("c.log.1"), 2000, 7 * kDay);
  MakeFile(P("sub/d.log.1"), 9000, 30 * kDay);
  policy_.order = CleanupPolicy::Order::kLargestFirst;
  policy_.recursive = false;
  policy_.until_free_ratio = 1.0;
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(PathsWith(*report, CleanupAction::kDeleted), (std::vector<std::string>{"b.log.1", "c.log.1", "a.log.1"}));
  EXPECT_TRUE(Exists(P("sub/d.log.1")));
}

void ExpectSymlinksUntouched(CleanupTest* t, const std::string& base, const std::string& root, CleanupPolicy policy,
                             CleanupOptions options) {
  const std::string outside = base + "/outside";
  MakeFile(outside + "/secret.log.1", 4096, 30 * kDay);
  MakeFile(outside + "/nested/deep.log.1", 4096, 30 * kDay);
  MakeFile(root + "/real.log.1", 4096, 30 * kDay);
  ASSERT_EQ(::symlink((outside + "/secret.log.1").c_str(), (root + "/link.log.1").c_str()), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/linkdir").c_str()), 0);
  ASSERT_EQ(::symlink("../outside/nested", (root + "/rel.log.d").c_str()), 0);
  policy.until_free_ratio = 1.0;
  Result<CleanupReport> report = RunCleanup(policy, options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(PathsWith(*report, CleanupAction::kDeleted), (std::vector<std::string>{"real.log.1"}));
  EXPECT_TRUE(Exists(outside + "/secret.log.1"));
  EXPECT_TRUE(Exists(outside + "/nested/deep.log.1"));
  EXPECT_TRUE(Exists(root + "/link.log.1"));
  EXPECT_TRUE(Exists(root + "/linkdir"));
  EXPECT_TRUE(Exists(root + "/rel.log.d"));
  for (const char* name : {"/link.log.1", "/linkdir", "/rel.log.d"}) {
    const CleanupEntry* e = FindEntry(*report, root + name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->action, CleanupAction::kSkipped);
    EXPECT_EQ(e->reason, "symlink, not followed");
  }
  (void)t;
}

TEST_F(CleanupTest, NeverFollowsSymlinks) {
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  ExpectSymlinksUntouched(this, dir_.path(), root_, policy_, options_);
}

TEST_F(CleanupTest, NeverFollowsSymlinksWithoutOpenat2) {
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  options_.force_fallback_resolve = true;
  ExpectSymlinksUntouched(this, dir_.path(), root_, policy_, options_);
}

TEST_F(CleanupTest, ARootThatIsASymlinkIsRefused) {
  MakeFile(P("a.log.1"), 1024, 10 * kDay);
  std::string link = dir_.path() + "/logs-link";
  ASSERT_EQ(::symlink(root_.c_str(), link.c_str()), 0);
  policy_.roots = {link};
  policy_.until_free_ratio = 1.0;
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(Exists(P("a.log.1")));
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].find("symlink"), std::string::npos);
}

TEST_F(CleanupTest, SkipsFilesHeldOpenByAnotherProcess) {
  MakeFile(P("held.log.1"), 1024, 10 * kDay);
  MakeFile(P("free.log.1"), 1024, 9 * kDay);
  // A child holds the file open as its stdin.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, P("held.log.1").c_str(), O_RDONLY, 0);
  pid_t child = 0;
  char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("30"), nullptr};
  ASSERT_EQ(::posix_spawn(&child, "/bin/sleep", &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);

  policy_.until_free_ratio = 1.0;
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  policy_.delete_open_files = true;
  Result<CleanupReport> forced = RunCleanup(policy_, options_);  // while the file is still held
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(Exists(P("free.log.1")));
  const CleanupEntry* held = FindEntry(*report, P("held.log.1"));
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->action, CleanupAction::kSkipped);
  EXPECT_EQ(held->reason, "open by pid " + std::to_string(child));

  // With delete_open_files it goes.
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(PathsWith(*forced, CleanupAction::kDeleted), (std::vector<std::string>{"held.log.1"}));
  EXPECT_FALSE(Exists(P("held.log.1")));
}

TEST_F(CleanupTest, DryRunDeletesNothingAndListsWhatItWould) {
  for (int i = 1; i <= 4; ++i) MakeFile(P("app.log." + std::to_string(i)), 100 * 1024, (10 - i) * kDay);
  MakeFile(dir_.path() + "/other.bin", 500 * 1024, 9 * kDay);
  options_.usage = UsageOfTree(dir_.path(), 1000 * 1024);  // 900 KiB used: 10% free
  options_.dry_run = true;
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(Exists(P("app.log." + std::to_string(i))));
  EXPECT_EQ(PathsWith(*report, CleanupAction::kWouldDelete), (std::vector<std::string>{"app.log.1", "app.log.2"}));
  EXPECT_TRUE(report->target_reached);
  EXPECT_NEAR(report->free_ratio_after, 0.10 + 2 * 100.0 / 1000, 0.01);
  std::string text = FormatCleanupReport(*report);
  EXPECT_TRUE(text.starts_with("dry run: cleanup of")) << text;
  EXPECT_NE(text.find("would delete " + P("app.log.1")), std::string::npos) << text;
}

TEST_F(CleanupTest, CompressesInsteadOfDeleting) {
  MakeFile(P("app.log.1"), 64 * 1024, 10 * kDay);
  MakeFile(P("app.log.2.gz"), 1024, 10 * kDay);
  policy_.match = {"*.log.*"};
  policy_.compress = true;
  policy_.until_free_ratio = 1.0;
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(PathsWith(*report, CleanupAction::kCompressed), (std::vector<std::string>{"app.log.1"}));
  EXPECT_EQ(FindEntry(*report, P("app.log.2.gz"))->reason, "already compressed");
  EXPECT_FALSE(Exists(P("app.log.1")));
  ASSERT_TRUE(Exists(P("app.log.1.gz")));
  EXPECT_TRUE(Exists(P("app.log.2.gz")));
  gzFile gz = ::gzopen(P("app.log.1.gz").c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  std::string content(70 * 1024, '\0');
  int n = ::gzread(gz, content.data(), static_cast<unsigned>(content.size()));
  ::gzclose(gz);
  EXPECT_EQ(n, 64 * 1024);
  EXPECT_EQ(content.substr(0, static_cast<size_t>(n)), std::string(64 * 1024, 'x'));
  struct stat st;
  ASSERT_EQ(::stat(P("app.log.1.gz").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, (kNow - 10 * kDay) / 1000);
}

TEST_F(CleanupTest, NothingToDoAboveTheTarget) {
  MakeFile(P("a.log.1"), 1024, 10 * kDay);
  options_.usage = [](const std::string&) -> Result<FsUsage> { return FsUsage{1000, 500}; };
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->target_reached);
  EXPECT_TRUE(report->entries.empty());
  EXPECT_TRUE(Exists(P("a.log.1")));
  EXPECT_FALSE(CleanupDue(policy_, FsUsage{1000, 500}));
  EXPECT_TRUE(CleanupDue(policy_, FsUsage{1000, 100}));
}

TEST_F(CleanupTest, JournalVacuumIsSkippedCleanlyWithoutJournalctl) {
  MakeFile(P("a.log.1"), 1024, 10 * kDay);
  policy_.journal_vacuum = true;
  policy_.until_free_ratio = 1.0;
  options_.journalctl = dir_.path() + "/no-journalctl";
  options_.usage = UsageOfTree(dir_.path(), 1 << 20);
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->journal_vacuum, "skipped: " + options_.journalctl + " not found");
  EXPECT_FALSE(Exists(P("a.log.1")));

  // A stand-in journalctl records its arguments.
  std::string fake = dir_.path() + "/journalctl";
  std::ofstream(fake) << "#!/bin/sh\necho \"$@\" > " << dir_.path()
                      << "/journal-args\necho 'Vacuuming done, freed 0B'\n";
  ASSERT_EQ(::chmod(fake.c_str(), 0755), 0);
  options_.journalctl = fake;
  policy_.journal_max_bytes = 500 << 20;
  report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_NE(report->journal_vacuum.find("exit 0"), std::string::npos) << report->journal_vacuum;
  EXPECT_NE(report->journal_vacuum.find("freed 0B"), std::string::npos) << report->journal_vacuum;
  std::ifstream args(dir_.path() + "/journal-args");
  std::string line;
  std::getline(args, line);
  EXPECT_EQ(line, "--vacuum-size=524288000 --vacuum-time=259200s");
}

TEST_F(CleanupTest, FormatIsBounded) {
  for (int i = 0; i < 200; ++i) MakeFile(P("app.log." + std::to_string(i)), 10, 10 * kDay);
  policy_.until_free_ratio = 1.0;
  // A full 1 GiB filesystem: the dry-run projection never reaches the target.
  options_.usage = [](const std::string&) -> Result<FsUsage> { return FsUsage{1ull << 30, 0}; };
  options_.dry_run = true;
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->entries.size(), 200u);
  std::string text = FormatCleanupReport(*report, 1000);
  EXPECT_LE(text.size(), 1000u);
  EXPECT_NE(text.find(" more\n"), std::string::npos) << text;
}

TEST_F(CleanupTest, MaxFilesBoundsTheWalk) {
  for (int i = 0; i < 20; ++i) MakeFile(P("d" + std::to_string(i) + "/app.log.1"), 10, 10 * kDay);
  policy_.until_free_ratio = 1.0;
  // A full 1 GiB filesystem: the dry-run projection never reaches the target.
  options_.usage = [](const std::string&) -> Result<FsUsage> { return FsUsage{1ull << 30, 0}; };
  options_.max_files = 5;
  options_.dry_run = true;
  Result<CleanupReport> report = RunCleanup(policy_, options_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->walk_truncated);
  EXPECT_EQ(report->acted_files, 5u);
}

TEST(CleanupValidationTest, RejectsDangerousRoots) {
  CleanupPolicy p;
  p.filesystem = "/home";
  p.roots = {"/home/ops/logs"};
  EXPECT_TRUE(ValidateCleanupPolicy(p, "/var/lib/vigil").ok());

  auto error = [&](std::vector<std::string> roots, std::string data_dir = "/var/lib/vigil") {
    CleanupPolicy q = p;
    q.roots = std::move(roots);
    Status s = ValidateCleanupPolicy(q, data_dir);
    return s.ok() ? std::string("ok") : s.message();
  };
  EXPECT_NE(error({"/"}).find("\"/\" is not allowed"), std::string::npos);
  EXPECT_NE(error({"//"}).find("\"/\" is not allowed"), std::string::npos);
  EXPECT_NE(error({"logs"}).find("not an absolute path"), std::string::npos);
  EXPECT_NE(error({"/home/ops/../../etc"}).find("\"..\""), std::string::npos);
  EXPECT_NE(error({"/var/lib/vigil"}).find("inside vigil's data dir"), std::string::npos);
  EXPECT_NE(error({"/var/lib/vigil/tsdb/"}).find("inside vigil's data dir"), std::string::npos);
  EXPECT_NE(error({"/var/lib"}).find("contains vigil's data dir"), std::string::npos);
  EXPECT_EQ(error({"/var/lib/vigil-other"}), "ok");
  EXPECT_NE(error({}).find("at least one"), std::string::npos);
}

TEST(CleanupValidationTest, RejectsARootThatReachesTheDataDirThroughASymlink) {
  testing::TempDir dir;
  fs::create_directories(dir.path() + "/data");
  ASSERT_EQ(::symlink((dir.path() + "/data").c_str(), (dir.path() + "/alias").c_str()), 0);
  CleanupPolicy p;
  p.filesystem = dir.path();
  p.roots = {dir.path() + "/alias/tsdb"};
  EXPECT_FALSE(ValidateCleanupPolicy(p, dir.path() + "/data").ok());
}

TEST(CleanupValidationTest, RejectsBadRatiosAndGlobs) {
  CleanupPolicy p;
  p.filesystem = "/home";
  p.roots = {"/home/ops/logs"};
  auto error = [&](auto mutate) {
    CleanupPolicy q = p;
    mutate(q);
    Status s = ValidateCleanupPolicy(q, "");
    return s.ok() ? std::string("ok") : s.message();
  };
  EXPECT_NE(error([](CleanupPolicy& q) { q.below_free_ratio = 0.2, q.until_free_ratio = 0.2; }).find("greater than"),
            std::string::npos);
  EXPECT_NE(error([](CleanupPolicy& q) { q.below_free_ratio = 0; }), "ok");
  EXPECT_NE(error([](CleanupPolicy& q) { q.until_free_ratio = 1.5; }), "ok");
  EXPECT_NE(error([](CleanupPolicy& q) { q.match = {"*.log.[0-9"}; }).find("unterminated"), std::string::npos);
  EXPECT_NE(error([](CleanupPolicy& q) { q.match = {"logs/*.log"}; }).find("file names only"), std::string::npos);
  EXPECT_NE(error([](CleanupPolicy& q) { q.match = {""}; }), "ok");
  EXPECT_EQ(error([](CleanupPolicy& q) { q.match = {"*.log.[0-9]*", "[]x]"}; }), "ok");
  EXPECT_NE(error([](CleanupPolicy& q) { q.keep_newest = -1; }), "ok");
  EXPECT_NE(error([](CleanupPolicy& q) { q.filesystem = "home"; }), "ok");
  EXPECT_NE(error([](CleanupPolicy& q) { q.journal_vacuum = true; }).find("journal_vacuum"), std::string::npos);
}

// The real thing: a small tmpfs filled by the test, its free space read by
// statvfs. The scenario runs in a child process with its own mount namespace,
// so the mount is never visible to the host (tests that compare mount tables
// may run meanwhile) and disappears with the child whatever happens. The child
// reports what it saw as text; the parent compares it with what it expects.
std::string TmpfsScenario(const std::string& mount) {
  std::string out;
  auto note = [&](const std::string& line) { out += line + "\n"; };
  auto names = [](const CleanupReport& r, CleanupAction a) {
    std::string joined;
    for (const std::string& n : PathsWith(r, a)) joined += (joined.empty() ? "" : ",") + n;
    return joined;
  };
  constexpr size_t kFile = 512 * 1024;
  const std::string logs = mount + "/logs";
  for (int i = 1; i <= 5; ++i) MakeFile(logs + "/validator.log." + std::to_string(i), kFile, (10 - i) * kDay);
  MakeFile(logs + "/validator.log.6", kFile, kHour);          // too new
  MakeFile(logs + "/validator.log", kFile, 20 * kDay);        // live log, not matching
  MakeFile(mount + "/outside.log.1", 256 * 1024, 30 * kDay);  // outside the root
  if (::symlink((mount + "/outside.log.1").c_str(), (logs + "/link.log.1").c_str()) != 0 ||
      ::symlink(mount.c_str(), (logs + "/linkdir").c_str()) != 0) {
    return "symlink failed";
  }

  // A filesystem mounted under the root is not entered: deleting there frees nothing here.
  const std::string nested = logs + "/other-fs";
  fs::create_directories(nested);
  if (::mount("tmpfs", nested.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0) return "nested mount failed";
  MakeFile(nested + "/old.log.1", 1024, 30 * kDay);

  CleanupPolicy policy;
  policy.filesystem = mount;
  policy.roots = {logs};
  policy.match = {"*.log.*"};
  policy.below_free_ratio = 0.10;
  policy.until_free_ratio = 0.30;
  policy.older_than = Duration(3 * kDay);
  note("valid: " + (ValidateCleanupPolicy(policy, "/var/lib/vigil").ok() ? std::string("yes") : "no"));
  Result<FsUsage> before = StatFsUsage(mount);
  if (!before.ok()) return before.status().message();
  note("due: " + std::string(CleanupDue(policy, *before) ? "yes" : "no"));

  CleanupOptions options;
  options.now = kNow;
  options.dry_run = true;
  Result<CleanupReport> dry = RunCleanup(policy, options);
  if (!dry.ok()) return dry.status().message();
  note("dry run would delete: " + names(*dry, CleanupAction::kWouldDelete));
  note("after dry run: " + std::string(Exists(logs + "/validator.log.1") ? "all there" : "deleted!"));

  options.dry_run = false;
  Result<CleanupReport> report = RunCleanup(policy, options);
  if (!report.ok()) return report.status().message();
  note("deleted: " + names(*report, CleanupAction::kDeleted));
  note("skipped: " + names(*report, CleanupAction::kSkipped));
  note("target reached: " + std::string(report->target_reached ? "yes" : "no"));
  Result<FsUsage> after = StatFsUsage(mount);
  if (!after.ok()) return after.status().message();
  note("free >= 30%: " + std::string(after->FreeRatio() >= 0.30 ? "yes" : "no"));
  note("reported free matches statvfs: " +
       std::string(std::abs(report->free_ratio_after - after->FreeRatio()) < 0.001 ? "yes" : "no"));
  std::string present;
  for (const char* rel :
       {"logs/validator.log.1", "logs/validator.log.2", "logs/validator.log.3", "logs/validator.log.6",
        "logs/validator.log", "outside.log.1", "logs/link.log.1", "logs/linkdir", "logs/other-fs/old.log.1"}) {
    if (Exists(mount + "/" + rel)) present += (present.empty() ? "" : ",") + std::string(rel);
  }
  note("present: " + present);
  return out;
}

TEST(CleanupTmpfsTest, FreesSpaceOldestFirstUntilTheTarget) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root; the logic is covered by CleanupTest";
  testing::TempDir dir;
  const std::string mount = dir.path() + "/mnt";
  const std::string transcript = dir.path() + "/transcript";
  fs::create_directories(mount);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string text;
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      text = std::string("SKIP: no private mount namespace: ") + ::strerror(errno);
    } else if (::mount("tmpfs", mount.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755") != 0) {
      text = std::string("SKIP: cannot mount a tmpfs: ") + ::strerror(errno);
    } else {
      text = TmpfsScenario(mount);
    }
    std::ofstream(transcript) << text;
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  std::ifstream in(transcript);
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (got.starts_with("SKIP: ")) GTEST_SKIP() << got.substr(6) << "; the logic is covered by CleanupTest";
  // 4 MiB: 6 + 1 files of 512 KiB and 256 KiB outside the root leave 6.25% free;
  // deleting the two oldest gives 31.25%.
  EXPECT_EQ(got,
            "valid: yes\n"
            "due: yes\n"
            "dry run would delete: validator.log.1,validator.log.2\n"
            "after dry run: all there\n"
            "deleted: validator.log.1,validator.log.2\n"
            "skipped: link.log.1,linkdir,other-fs\n"
            "target reached: yes\n"
            "free >= 30%: yes\n"
            "reported free matches statvfs: yes\n"
            "present: logs/validator.log.3,logs/validator.log.6,logs/validator.log,outside.log.1,logs/link.log.1,"
            "logs/linkdir,logs/other-fs/old.log.1\n");
}

}  // namespace
}  // namespace vigil::recovery
