#include "process/process.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/testing/temp_dir.h"

namespace vigil::process {
namespace {

constexpr const char* kStat =
    "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 12345 10000000 300 "
    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(Process, ParseStatHandlesParenthesesInComm) {
  auto s = ParseStat(kStat);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->comm, "my (odd) proc");
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->utime_ticks, 250u);
  EXPECT_EQ(s->stime_ticks, 50u);
  EXPECT_EQ(s->threads, 7);
  EXPECT_EQ(s->start_ticks, 12345u);
  EXPECT_EQ(s->rss_pages, 300u);
  EXPECT_FALSE(ParseStat("4242 (x) S 1 2").has_value());
  EXPECT_FALSE(ParseStat("garbage").has_value());
}

TEST(Process, LimitsAndCmdline) {
  EXPECT_EQ(ParseMaxOpenFiles("Limit                     Soft Limit           Hard Limit           Units\n"
                              "Max open files            1024                 524288               files\n"),
            1024u);
  EXPECT_FALSE(ParseMaxOpenFiles("Max open files            unlimited            unlimited            files\n"));
  EXPECT_EQ(CmdlineToString(std::string("validator\0--rpc\0:9002\0", 23)), "validator --rpc :9002");
  EXPECT_EQ(CmdlineToString(""), "");
}

void Write(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << content;
}

void FakeProcess(const std::string& root, int pid, const std::string& comm, const std::string& cmdline) {
  std::string dir = root + "/" + std::to_string(pid);
  Write(dir + "/comm", comm + "\n");
  Write(dir + "/cmdline", cmdline);
  Write(dir + "/stat", std::to_string(pid) + " (" + comm +
                           ") S 1 1 1 0 -1 0 0 0 0 0 100 100 0 0 20 0 3 0 500 0 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
  Write(dir + "/limits", "Max open files            4096                 4096                 files\n");
  std::filesystem::create_directories(dir + "/fd");
  for (int fd = 0; fd < 3; ++fd) Write(dir + "/fd/" + std::to_string(fd), "");
}

double Value(const MetricBatch& b, std::string_view name, const Labels& labels) {
  const MetricFamily* f = b.Find(name);
  if (f == nullptr) return -1;
  for (const auto& s : f->samples) {
    if (s.labels == labels) return s.value;
  }
  return -1;
}

TEST(Process, CollectorCountsMatchesAndReadsMainPids) {
  testing::TempDir dir;
  std::string root = dir.path();
  Write(root + "/stat", "cpu  1 2 3\nbtime 1700000000\n");
  FakeProcess(root, 100, "validator", std::string("/usr/bin/validator\0--x\0", 23));
  FakeProcess(root, 300, "validator", std::string("validator\0", 10));
  FakeProcess(root, 200, "sleep",
              std::string("/bin/sleep\0"
                          "1000\0",
                          16));
  FakeProcess(root, 400, "bash", std::string("bash\0-c\0run-validator-check\0", 29));

  ProcessCollectorOptions o;
  o.proc_root = root;
  o.clock_ticks_per_second = 100;
  o.page_size = 4096;
  o.services = {{"validator", "^(/usr/bin/)?validator( |$)", 1}, {"demo", "", std::nullopt}};
  o.main_processes = [] { return std::vector<UnitProcess>{{"demo.service", "demo", 200}}; };
  auto c = NewProcessCollector(o);
  MetricBatch b;
  ASSERT_TRUE(c->Collect({}, b).ok());
  EXPECT_EQ(Value(b, "vigil_service_processes", Labels{{"service", "validator"}}), 2);
  EXPECT_EQ(Value(b, "vigil_service_processes_expected", Labels{{"service", "validator"}}), 1);
  // Without match: processes named like the unit's main process.
  EXPECT_EQ(Value(b, "vigil_service_processes", Labels{{"service", "demo"}}), 1);
  EXPECT_EQ(Value(b, "vigil_service_processes_expected", Labels{{"service", "demo"}}), -1);

  Labels main{{"pid", "200"}, {"service", "demo"}, {"unit", "demo.service"}};
  EXPECT_DOUBLE_EQ(Value(b, "vigil_process_cpu_seconds_total", main), 2.0);
  EXPECT_EQ(Value(b, "vigil_process_resident_memory_bytes", main), 10 * 4096);
  EXPECT_EQ(Value(b, "vigil_process_threads", main), 3);
  EXPECT_DOUBLE_EQ(Value(b, "vigil_process_start_time_seconds", main), 1700000005);
  EXPECT_EQ(Value(b, "vigil_process_open_fds", main), 3);
  EXPECT_EQ(Value(b, "vigil_process_max_fds", main), 4096);
  EXPECT_EQ(Value(b, "vigil_process_threads", Labels{{"pid", "100"}, {"service", "validator"}}), 3);
  EXPECT_EQ(Value(b, "vigil_process_threads", Labels{{"pid", "400"}, {"service", "validator"}}), -1);
}

TEST(Process, VanishedMainPidIsSkipped) {
  testing::TempDir dir;
  Write(dir.path() + "/stat", "btime 1\n");
  ProcessCollectorOptions o;
  o.proc_root = dir.path();
  o.main_processes = [] { return std::vector<UnitProcess>{{"gone.service", "gone", 999}}; };
  auto c = NewProcessCollector(o);
  MetricBatch b;
  ASSERT_TRUE(c->Collect({}, b).ok());
  EXPECT_EQ(b.Find("vigil_process_threads"), nullptr);
  EXPECT_TRUE(b.errors().empty());
}

}  // namespace
}  // namespace vigil::process
