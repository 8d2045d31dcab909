#include "logs/log_collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/testing/temp_dir.h"
#include "logs/file_follower.h"
#include "logs/journal_follower.h"

namespace vigil::logs {
namespace {

void Append(const std::string& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary | std::ios::app);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
}

class LogsCollector : public ::testing::Test {
 protected:
  LogsCollector() : log_(dir_.path() + "/validator.log"), state_dir_(dir_.path() + "/data/logs") {}

  LogCollectorOptions Options() const {
    LogCollectorOptions o;
    o.service = "validator";
    o.path = log_;
    o.rules.counters = {{"errors", "ERROR"}, {"warnings", "WARN"}};
    o.rules.gauges = {{"slot", R"(Processing slot (\d+))"}};
    o.rules.states = {{"titan_connected", "Connected to server at titan", "Detected disconnection"}};
    o.state_dir = state_dir_;
    return o;
  }

  // A fresh collector on the same state directory: what a restart does.
  void Restart(LogCollectorOptions o) {
    collector_.reset();
    auto c = NewLogCollector(std::move(o));
    ASSERT_TRUE(c.ok()) << c.status().message();
    collector_ = std::move(*c);
  }
  void Restart() { Restart(Options()); }

  const MetricBatch& Collect() {
    now_ms_ += 1000;
    batch_ = MetricBatch();
    EXPECT_TRUE(collector_->Collect({now_ms_, {}}, batch_).ok());
    return batch_;
  }

  double Value(std::string_view name, std::string_view rule = {}, std::string_view kind = {}) const {
    const MetricFamily* f = batch_.Find(name);
    if (f == nullptr) return -1;
    Labels want{{"log", log_}, {"service", "validator"}};
    want.Set("rule", rule);
    want.Set("kind", kind);
    for (const auto& s : f->samples) {
      if (s.labels == want) return s.value;
    }
    return -1;
  }
  double Lines() const { return Value("vigil_log_lines_total"); }
  double Errors() const { return Value("vigil_log_matches_total", "errors"); }
  std::string ErrorReasons() const {
    std::string out;
    for (const auto& e : batch_.errors()) out += e.reason + "@" + e.target + ";";
    return out;
  }

  testing::TempDir dir_;
  std::string log_;
  std::string state_dir_;
  std::unique_ptr<collect::Collector> collector_;
  MetricBatch batch_;
  TimestampMs now_ms_ = 1700000000000;
};

TEST_F(LogsCollector, CountsLinesRulesAndStates) {
  Append(log_,
         "Connected to server at titan-public-tcp.example:3030\n"
         "Processing slot 100\n"
         "ERROR failed to fetch block\n"
         "WARN slow peer\n"
         "Processing slot 101\n");
  Restart();
  Collect();
  EXPECT_EQ(ErrorReasons(), "");
  EXPECT_EQ(collector_->name(), "logs/validator/" + log_);
  EXPECT_EQ(Value("vigil_log_up"), 1);
  EXPECT_EQ(Lines(), 5);
  EXPECT_EQ(Errors(), 1);
  EXPECT_EQ(Value("vigil_log_matches_total", "warnings"), 1);
  EXPECT_EQ(Value("vigil_log_value", "slot"), 101);
  EXPECT_EQ(Value("vigil_log_state", "titan_connected"), 1);
  EXPECT_EQ(Value("vigil_log_state_change_timestamp_seconds", "titan_connected"), (now_ms_) / 1000.0);
  TimestampMs connected_at = now_ms_;
  Append(log_, "Detected disconnection\nERROR again\n");
  Collect();
  EXPECT_EQ(Lines(), 7);
  EXPECT_EQ(Errors(), 2);
  EXPECT_EQ(Value("vigil_log_state", "titan_connected"), 0);
  EXPECT_GT(now_ms_, connected_at);
  EXPECT_EQ(Value("vigil_log_state_change_timestamp_seconds", "titan_connected"), now_ms_ / 1000.0);
  EXPECT_EQ(Value("vigil_log_bytes_total"), static_cast<double>(std::filesystem::file_size(log_)));
  EXPECT_EQ(Value("vigil_log_unread_bytes"), 0);
}

TEST_F(LogsCollector, GaugeAndStateAreAbsentUntilSeen) {
  Append(log_, "hello\n");
  Restart();
  Collect();
  EXPECT_EQ(batch_.Find("vigil_log_value"), nullptr);
  EXPECT_EQ(batch_.Find("vigil_log_state"), nullptr);
  EXPECT_EQ(Errors(), 0);
}

TEST_F(LogsCollector, PartialFinalLineIsCountedOnceWhenCompleted) {
  Append(log_, "ERROR one\nERROR tw");
  Restart();
  Collect();
  EXPECT_EQ(Lines(), 1);
  EXPECT_EQ(Errors(), 1);
  Append(log_, "o still going");
  Collect();
  EXPECT_EQ(Lines(), 1);
  // A restart while the line is incomplete re-reads it from its start.
  Restart();
  Collect();
  EXPECT_EQ(Lines(), 1);
  Append(log_, "\nProcessing slot 7\n");
  Collect();
  EXPECT_EQ(Lines(), 3);
  EXPECT_EQ(Errors(), 2);
  EXPECT_EQ(Value("vigil_log_value", "slot"), 7);
}

TEST_F(LogsCollector, RenameRotationReadsTheOldFileToItsEnd) {
  Append(log_, "ERROR a\nERROR b\n");
  Restart();
  Collect();
  EXPECT_EQ(Errors(), 2);
  // Written after the last poll, then logrotate renames: these lines must not be lost.
  Append(log_, "ERROR c\nERROR d");
  std::filesystem::rename(log_, log_ + ".1");
  Append(log_, "ERROR e\n");
  Collect();
  // The partial "ERROR d" may still be finished by a writer holding the old file.
  EXPECT_EQ(Errors(), 4);
  EXPECT_EQ(Value("vigil_log_rotations_total", "", "rename"), 1);
  Append(log_ + ".1", " finished late\n");
  Append(log_, "ERROR f\n");
  Collect();
  EXPECT_EQ(Errors(), 6);
  EXPECT_EQ(Lines(), 6);
  // The old file stayed quiet for a poll: let go, nothing counted twice.
  Collect();
  Collect();
  EXPECT_EQ(Errors(), 6);
  EXPECT_EQ(Lines(), 6);
  EXPECT_EQ(Value("vigil_log_rotations_total", "", "rename"), 1);
  EXPECT_EQ(Value("vigil_log_rotations_total", "", "truncate"), 0);
}

TEST_F(LogsCollector, CopyTruncateStartsAgainAtZero) {
  Append(log_, "ERROR 1\nERROR 2\nERROR 3\n");
  Restart();
  Collect();
  EXPECT_EQ(Errors(), 3);
  std::filesystem::copy_file(log_, log_ + ".1");
  std::filesystem::resize_file(log_, 0);
  Append(log_, "ERROR 4\n");
  Collect();
  EXPECT_EQ(Errors(), 4);
  EXPECT_EQ(Lines(), 4);
  EXPECT_EQ(Value("vigil_log_rotations_total", "", "truncate"), 1);
  // Truncated and written past the old offset before the next poll: the
  // first bytes differ, so it is still seen as a new file.
  std::filesystem::resize_file(log_, 0);
  Append(log_, "WARN this line is longer than the old content was\nERROR 5\n");
  Collect();
  EXPECT_EQ(Errors(), 5);
  EXPECT_EQ(Value("vigil_log_matches_total", "warnings"), 1);
  EXPECT_EQ(Lines(), 6);
  EXPECT_EQ(Value("vigil_log_rotations_total", "", "truncate"), 2);
  Collect();
  EXPECT_EQ(Lines(), 6);
}

TEST_F(LogsCollector, CopyTruncateUnderAWriterWithoutAppendMode) {
  Append(log_, "ERROR 1\nERROR 2\n");
  Restart();
  Collect();
  // The writer keeps its offset: after the truncation its next line lands
  // past a hole of NULs as long as the old content.
  uint64_t old_size = std::filesystem::file_size(log_);
  std::filesystem::resize_file(log_, 0);
  {
    std::fstream f(log_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(old_size + 100));
    f << "ERROR after the hole\n";
  }
  Collect();
  EXPECT_EQ(Errors(), 3);
  EXPECT_EQ(Lines(), 3);
  EXPECT_EQ(Value("vigil_log_rotations_total", "", "truncate"), 1);
}

TEST_F(LogsCollector, BinaryGarbageIsReadAsBytes) {
  std::string garbage;
  std::mt19937 rng(42);
  for (int i = 0; i < 200000; ++i) garbage += static_cast<char>(rng() & 0xff);
  garbage += "\nERROR after garbage\n";
  Append(log_, garbage);
  Restart();
  Collect();
  EXPECT_EQ(ErrorReasons(), "");
  EXPECT_EQ(Lines(), static_cast<double>(std::count(garbage.begin(), garbage.end(), '\n')));
  EXPECT_GE(Errors(), 1);
  double errors = Errors();
  Append(log_, std::string("\0\0\0\xff\xfe\r\n", 7));
  Append(log_, "ERROR x\r\n");
  Collect();
  EXPECT_EQ(Errors(), errors + 1);
}

TEST_F(LogsCollector, OneMegabyteLineIsCountedOnce) {
  std::string huge = "ERROR " + std::string(1 << 20, 'x') + " WARN at the end\n";
  LogCollectorOptions o = Options();
  o.max_bytes_per_run = 300 << 10;  // the line spans several runs
  Append(log_, huge);
  Append(log_, "ERROR short\n");
  Restart(o);
  Collect();
  EXPECT_EQ(Lines(), 0);
  Collect();
  // A restart halfway through the long line starts it over, not twice.
  Restart(o);
  for (int i = 0; i < 6; ++i) Collect();
  EXPECT_EQ(Lines(), 2);
  EXPECT_EQ(Errors(), 2);
  EXPECT_EQ(Value("vigil_log_long_lines_total"), 1);
  // Matched on its first 64 KiB only.
  EXPECT_EQ(Value("vigil_log_matches_total", "warnings"), 0);
  EXPECT_EQ(Value("vigil_log_unread_bytes"), 0);
}

TEST_F(LogsCollector, LongLineInOneRead) {
  Append(log_, "x" + std::string(kMaxLineBytes, 'y') + "\n" + std::string(kMaxLineBytes, 'z') + "\r\nERROR\n");
  Restart();
  Collect();
  EXPECT_EQ(Lines(), 3);
  EXPECT_EQ(Value("vigil_log_long_lines_total"), 1);  // exactly the limit plus "\r" is not long
  EXPECT_EQ(Errors(), 1);
}

TEST_F(LogsCollector, FileThatDisappearsAndComesBack) {
  Restart();
  Collect();
  EXPECT_EQ(Value("vigil_log_up"), 0);
  EXPECT_EQ(ErrorReasons(), "not_found@" + log_ + ";");
  Append(log_, "ERROR 1\n");
  Collect();
  EXPECT_EQ(Value("vigil_log_up"), 1);
  EXPECT_EQ(ErrorReasons(), "");
  EXPECT_EQ(Errors(), 1);
  std::filesystem::remove(log_);
  Collect();
  EXPECT_EQ(Value("vigil_log_up"), 0);
  EXPECT_EQ(ErrorReasons(), "not_found@" + log_ + ";");
  EXPECT_EQ(Errors(), 1);
  Collect();
  Append(log_, "ERROR 2\nERROR 3\n");
  Collect();
  EXPECT_EQ(Value("vigil_log_up"), 1);
  EXPECT_EQ(Errors(), 3);
  EXPECT_EQ(Lines(), 3);
}

TEST_F(LogsCollector, RestartContinuesWithoutCountingTwice) {
  Append(log_, "Connected to server at titan\nProcessing slot 5\nERROR 1\n");
  Restart();
  Collect();
  TimestampMs changed = now_ms_;
  EXPECT_EQ(Errors(), 1);
  Restart();
  Collect();
  EXPECT_EQ(Lines(), 3);
  EXPECT_EQ(Errors(), 1);
  EXPECT_EQ(Value("vigil_log_value", "slot"), 5);
  EXPECT_EQ(Value("vigil_log_state", "titan_connected"), 1);
  EXPECT_EQ(Value("vigil_log_state_change_timestamp_seconds", "titan_connected"), changed / 1000.0);
  Append(log_, "ERROR 2\n");
  Restart();
  Collect();
  EXPECT_EQ(Errors(), 2);
  EXPECT_EQ(Lines(), 4);
  // Rotated while vigil was down: the new file is read from its start.
  collector_.reset();
  std::filesystem::rename(log_, log_ + ".1");
  Append(log_, "ERROR 3\n");
  Restart();
  Collect();
  EXPECT_EQ(Errors(), 3);
  EXPECT_EQ(Lines(), 5);
  EXPECT_EQ(Value("vigil_log_rotations_total", "", "rename"), 1);
  // Truncated while down.
  collector_.reset();
  std::filesystem::resize_file(log_, 0);
  Append(log_, "ERROR 4\n");
  Restart();
  Collect();
  EXPECT_EQ(Errors(), 4);
  EXPECT_EQ(Value("vigil_log_rotations_total", "", "truncate"), 1);
}

TEST_F(LogsCollector, UnreadableStateStartsOverAndSays) {
  Append(log_, "ERROR 1\n");
  Restart();
  Collect();
  for (const auto& e : std::filesystem::directory_iterator(state_dir_)) {
    std::ofstream(e.path(), std::ios::trunc) << "vigil-log-state 1\nlines 5\n";  // cut short
  }
  Restart();
  Collect();
  EXPECT_EQ(ErrorReasons(), "state_unreadable@" + log_ + ";");
  EXPECT_EQ(Errors(), 1);
  Restart();
  Collect();
  EXPECT_EQ(ErrorReasons(), "");
  EXPECT_EQ(Errors(), 1);
}

TEST_F(LogsCollector, OneReaderPerLogAtATime) {
  Append(log_, "ERROR 1\n");
  Restart();
  Collect();
  // A reload builds a new collector while the old one may still be finishing.
  auto second = NewLogCollector(Options());
  ASSERT_TRUE(second.ok());
  Append(log_, "ERROR 2\n");
  MetricBatch b;
  ASSERT_TRUE((*second)->Collect({now_ms_, {}}, b).ok());
  ASSERT_EQ(b.errors().size(), 1u);
  EXPECT_EQ(b.errors()[0].reason, "state_locked");
  EXPECT_EQ(b.Find("vigil_log_lines_total"), nullptr);
  Collect();
  EXPECT_EQ(Errors(), 2);
  collector_ = std::move(*second);
  Collect();
  EXPECT_EQ(ErrorReasons(), "");
  EXPECT_EQ(Errors(), 2);
  EXPECT_EQ(Lines(), 2);
}

TEST_F(LogsCollector, StateDirectoryThatCannotBeWrittenIsReported) {
  Append(std::string(dir_.path()) + "/data", "a file where the directory should be");
  Append(log_, "ERROR 1\n");
  Restart();
  Collect();
  EXPECT_EQ(ErrorReasons(), "state_save_failed@" + log_ + ";");
  EXPECT_EQ(Errors(), 1);
}

TEST_F(LogsCollector, BacklogIsWorkedOffOverSeveralRuns) {
  std::string lines;
  for (int i = 0; i < 10000; ++i) lines += "ERROR line " + std::to_string(i) + "\n";
  Append(log_, lines);
  LogCollectorOptions o = Options();
  o.max_bytes_per_run = 64 << 10;
  Restart(o);
  Collect();
  EXPECT_GT(Value("vigil_log_unread_bytes"), 0);
  EXPECT_LT(Errors(), 10000);
  for (int i = 0; i < 10 && Value("vigil_log_unread_bytes") > 0; ++i) Collect();
  EXPECT_EQ(Errors(), 10000);
  EXPECT_EQ(Value("vigil_log_unread_bytes"), 0);
}

class RecordingSink final : public collect::EventSink, public collect::BatchSink {
 public:
  void Publish(const collect::Event& e) override { events.push_back(e); }
  void Consume(std::string_view collector, const MetricBatch& batch, TimestampMs) override {
    stored.emplace_back(collector);
    stored_before_event.push_back(events.size());
    (void)batch;
  }
  std::vector<collect::Event> events;
  std::vector<std::string> stored;
  std::vector<size_t> stored_before_event;
};

TEST_F(LogsCollector, StateChangesArePublishedAfterTheBatchIsStored) {
  RecordingSink sink;
  LogCollectorOptions o = Options();
  o.events = &sink;
  o.storage = &sink;
  Append(log_, "ERROR\n");
  Restart(o);
  Collect();
  EXPECT_TRUE(sink.events.empty());
  Append(log_, "Connected to server at titan\n");
  Collect();
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].source, "logs/validator/" + log_);
  EXPECT_EQ(sink.events[0].time_ms, now_ms_);
  ASSERT_EQ(sink.stored.size(), 2u);
  EXPECT_EQ(sink.stored_before_event[1], 0u);
  Append(log_, "Connected to server at titan\n");
  Collect();
  EXPECT_EQ(sink.events.size(), 1u);
}

TEST_F(LogsCollector, RejectsBadRulesAndSources) {
  LogCollectorOptions o = Options();
  o.rules.counters = {{"errors", "("}};
  auto c = NewLogCollector(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("counters[errors].match"), std::string::npos) << c.status().message();
  o = Options();
  o.journal_unit = "validator";
  EXPECT_FALSE(NewLogCollector(o).ok());
}

TEST(LogsFileFollower, LinesComeOutWhole) {
  testing::TempDir dir;
  std::string path = dir.path() + "/a.log";
  FileFollower f(path, 8);
  std::vector<std::pair<std::string, bool>> got;
  auto on_line = [&](std::string_view l, bool t) { got.emplace_back(std::string(l), t); };
  auto far = std::chrono::steady_clock::time_point::max();
  Append(path, "ab\r\n\ncdefghijklmn\nxy");
  PollOutcome p = f.Poll(1 << 20, far, on_line);
  EXPECT_TRUE(p.readable);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], std::make_pair(std::string("ab"), false));
  EXPECT_EQ(got[1], std::make_pair(std::string(""), false));
  EXPECT_EQ(got[2], std::make_pair(std::string("cdefghij"), true));
  EXPECT_EQ(f.position()->offset, 18u);
  // One byte per poll: nothing is lost or repeated at chunk edges.
  Append(path, "z\n12345678\n");
  for (int i = 0; i < 20; ++i) f.Poll(1, far, on_line);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[3].first, "xyz");
  EXPECT_EQ(got[4], std::make_pair(std::string("12345678"), false));
}

TEST(LogsFileFollower, ResumesWhenOnlyTheDeviceNumberChanged) {
  testing::TempDir dir;
  std::string path = dir.path() + "/a.log";
  auto far = std::chrono::steady_clock::time_point::max();
  int lines = 0;
  auto count = [&](std::string_view, bool) { ++lines; };
  Append(path, "one\ntwo\n");
  FileFollower first(path);
  first.Poll(1 << 20, far, count);
  ASSERT_EQ(lines, 2);
  FilePosition saved = *first.position();
  EXPECT_EQ(saved.fingerprint_len, 8u);
  // As after a reboot that numbered the volume anew.
  ++saved.dev;
  Append(path, "three\n");
  FileFollower again(path);
  again.Restore(saved);
  PollOutcome p = again.Poll(1 << 20, far, count);
  EXPECT_EQ(lines, 3);
  EXPECT_EQ(p.rotations, 0u);
  EXPECT_EQ(p.truncations, 0u);
  // Another inode is another file, whatever its first bytes.
  ++saved.ino;
  FileFollower other(path);
  other.Restore(saved);
  p = other.Poll(1 << 20, far, count);
  EXPECT_EQ(lines, 6);
  EXPECT_EQ(p.rotations, 1u);
}

TEST(LogsFileFollower, NotARegularFile) {
  testing::TempDir dir;
  FileFollower f(dir.path());
  PollOutcome p = f.Poll(1 << 20, std::chrono::steady_clock::time_point::max(), [](std::string_view, bool) {});
  EXPECT_FALSE(p.readable);
  EXPECT_EQ(p.error, "not_regular_file");
}

TEST(LogsFileFollower, PermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  testing::TempDir dir;
  std::string path = dir.path() + "/secret.log";
  Append(path, "x\n");
  std::filesystem::permissions(path, std::filesystem::perms::none);
  FileFollower f(path);
  PollOutcome p = f.Poll(1 << 20, std::chrono::steady_clock::time_point::max(), [](std::string_view, bool) {});
  EXPECT_EQ(p.error, "permission_denied");
}

}  // namespace
}  // namespace vigil::logs
