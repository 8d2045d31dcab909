#include "logs/journal_follower.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/testing/temp_dir.h"
#include "logs/log_collector.h"

namespace vigil::logs {
namespace {

constexpr const char* kJournalRemote = "/lib/systemd/systemd-journal-remote";

struct Entry {
  std::string unit;
  std::string message;
  TimestampMs time_ms;
};

// Appends entries to DIR/remote.journal through systemd-journal-remote, which
// reads the journal export format.
void WriteJournal(const std::string& dir, const std::vector<Entry>& entries) {
  static uint64_t monotonic = 1000;
  std::string cmd = std::string(kJournalRemote) + " -o " + dir + "/remote.journal - 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "w");
  ASSERT_NE(p, nullptr);
  for (const auto& e : entries) {
    std::string text = "__REALTIME_TIMESTAMP=" + std::to_string(e.time_ms * 1000) +
                       "\n__MONOTONIC_TIMESTAMP=" + std::to_string(monotonic++) +
                       "\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_SYSTEMD_UNIT=" + e.unit + "\n";
    // Binary-safe field: name, newline, little-endian 64-bit size, data, newline.
    uint64_t n = e.message.size();
    text += "MESSAGE\n";
    for (int i = 0; i < 8; ++i) text += static_cast<char>((n >> (8 * i)) & 0xff);
    text += e.message + "\n\n";
    ASSERT_EQ(fwrite(text.data(), 1, text.size(), p), text.size());
  }
  ASSERT_EQ(::pclose(p), 0);
}

class LogsJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kJournalRemote)) {
      const char* require = std::getenv("VIGIL_REQUIRE_PEERS");
      if (require != nullptr && std::string(require) == "1") {
        FAIL() << kJournalRemote << " is missing and VIGIL_REQUIRE_PEERS=1";
      }
      GTEST_SKIP() << kJournalRemote << " is missing (scripts/setup.sh installs systemd-journal-remote)";
    }
  }
  std::vector<std::string> Poll(JournalFollower& j, size_t max_bytes = 1 << 20) {
    std::vector<std::string> lines;
    PollOutcome p = j.Poll(max_bytes, std::chrono::steady_clock::time_point::max(), now_ms_,
                           [&](std::string_view l, bool) { lines.emplace_back(l); });
    EXPECT_TRUE(p.readable) << p.error << ": " << p.detail;
    return lines;
  }
  testing::TempDir dir_;
  TimestampMs now_ms_ = 1700000000000;
};

TEST_F(LogsJournal, FollowsOneUnitAndResumesFromTheCursor) {
  WriteJournal(dir_.path(), {{"validator.service", "too old", now_ms_ - 48 * 3600 * 1000},
                             {"validator.service", "ERROR one", now_ms_ - 1000},
                             {"other.service", "ERROR not ours", now_ms_ - 900},
                             {"validator.service", std::string("bin\0ary\xff\n", 9), now_ms_ - 800}});
  JournalFollower j("validator", dir_.path());
  EXPECT_EQ(Poll(j), (std::vector<std::string>{"ERROR one", std::string("bin\0ary\xff", 8)}));
  EXPECT_FALSE(j.cursor().empty());
  EXPECT_TRUE(Poll(j).empty());

  WriteJournal(dir_.path(), {{"validator.service", "ERROR two", now_ms_}});
  EXPECT_EQ(Poll(j), std::vector<std::string>{"ERROR two"});

  // A restart from the saved cursor reads only what came after it.
  WriteJournal(dir_.path(), {{"validator.service", "ERROR three", now_ms_ + 1}});
  JournalFollower again("validator.service", dir_.path());
  again.Restore(j.cursor());
  EXPECT_EQ(Poll(again), std::vector<std::string>{"ERROR three"});
  EXPECT_TRUE(Poll(again).empty());
}

TEST_F(LogsJournal, CollectorCountsExactlyAcrossRestarts) {
  LogCollectorOptions o;
  o.service = "validator";
  o.journal_unit = "validator";
  o.journal_directory = dir_.path();
  o.state_dir = dir_.path() + "/state";
  o.rules.counters = {{"errors", "ERROR"}};
  o.rules.states = {{"titan_connected", "Connected to server at titan", "Detected disconnection"}};
  WriteJournal(dir_.path(), {{"validator.service", "Connected to server at titan-public-tcp", now_ms_ - 10},
                             {"validator.service", "ERROR a", now_ms_ - 5}});
  auto value = [](const MetricBatch& b, std::string_view name, std::string_view rule) {
    const MetricFamily* f = b.Find(name);
    if (f == nullptr) return -1.0;
    Labels want{{"log", "journal:validator.service"}, {"service", "validator"}};
    want.Set("rule", rule);
    for (const auto& s : f->samples) {
      if (s.labels == want) return s.value;
    }
    return -1.0;
  };
  {
    auto c = NewLogCollector(o);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ((*c)->name(), "logs/validator/journal:validator.service");
    MetricBatch b;
    ASSERT_TRUE((*c)->Collect({now_ms_, {}}, b).ok());
    EXPECT_TRUE(b.errors().empty());
    EXPECT_EQ(value(b, "vigil_log_up", ""), 1);
    EXPECT_EQ(value(b, "vigil_log_lines_total", ""), 2);
    EXPECT_EQ(value(b, "vigil_log_matches_total", "errors"), 1);
    EXPECT_EQ(value(b, "vigil_log_state", "titan_connected"), 1);
  }
  WriteJournal(dir_.path(), {{"validator.service", "ERROR b", now_ms_ + 5},
                             {"validator.service", "Detected disconnection", now_ms_ + 6}});
  auto c = NewLogCollector(o);
  ASSERT_TRUE(c.ok());
  MetricBatch b;
  ASSERT_TRUE((*c)->Collect({now_ms_ + 1000, {}}, b).ok());
  EXPECT_EQ(value(b, "vigil_log_lines_total", ""), 4);
  EXPECT_EQ(value(b, "vigil_log_matches_total", "errors"), 2);
  EXPECT_EQ(value(b, "vigil_log_state", "titan_connected"), 0);
}

TEST(LogsJournalDirectory, EmptyReadsNothing) {
  testing::TempDir dir;
  JournalFollower j("validator", dir.path());
  EXPECT_EQ(j.unit(), "validator.service");
  int lines = 0;
  PollOutcome p = j.Poll(1 << 20, std::chrono::steady_clock::time_point::max(), 1700000000000,
                         [&](std::string_view, bool) { ++lines; });
  EXPECT_TRUE(p.readable) << p.detail;
  EXPECT_EQ(lines, 0);
  EXPECT_EQ(j.cursor(), "");
}

}  // namespace
}  // namespace vigil::logs
