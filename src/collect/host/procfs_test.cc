// The /proc parsers on a tree recorded from a real 6.18 kernel (tests/testdata/proc)
// and on hand-made odd variants (tests/testdata/proc-odd, see its README.md).
// Every expected value was read off the fixture text.
#include "collect/host/procfs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "base/file.h"

namespace vigil::collect::procfs {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

std::string Fixture(const std::string& relative) {
  Result<std::string> r = ReadFile(std::string(VIGIL_TESTDATA_DIR) + "/" + relative);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : std::string();
}

std::string Recorded(const std::string& file) { return Fixture("proc/" + file); }
std::string Odd(const std::string& file) { return Fixture("proc-odd/" + file); }

// Looks `key` up in a parser's key/value list; the test fails if it is absent.
double Value(const std::vector<std::pair<std::string, double>>& kv, const std::string& key) {
  for (const auto& [k, v] : kv) {
    if (k == key) return v;
  }
  ADD_FAILURE() << "no key " << key;
  return -12345;
}

bool Has(const std::vector<std::pair<std::string, double>>& kv, const std::string& key) {
  for (const auto& [k, v] : kv) {
    if (k == key) return true;
  }
  return false;
}

std::vector<uint64_t> Ticks(const CpuTimes& c) { return std::vector<uint64_t>(std::begin(c.ticks), std::end(c.ticks)); }
std::vector<uint64_t> Vec(const uint64_t (&a)[8]) { return std::vector<uint64_t>(std::begin(a), std::end(a)); }

// --- /proc/stat ---

TEST(HostProcfsStat, Recorded) {
  Stat s = ParseStat(Recorded("stat"));
  ASSERT_EQ(s.cpus.size(), 2u);  // the aggregate "cpu" line is not a CPU
  EXPECT_EQ(s.cpus[0].cpu, "0");
  EXPECT_THAT(Ticks(s.cpus[0]), ElementsAre(4430, 0, 1209, 53280, 46, 0, 5, 10, 0, 0));
  EXPECT_EQ(s.cpus[1].cpu, "1");
  EXPECT_THAT(Ticks(s.cpus[1]), ElementsAre(5330, 0, 1655, 51069, 905, 0, 25, 14, 0, 0));
  EXPECT_EQ(s.interrupts, 158768u);
  EXPECT_EQ(s.context_switches, 293950u);
  EXPECT_EQ(s.boot_time, 1795624151u);
  EXPECT_EQ(s.forks, 5448u);
  EXPECT_EQ(s.procs_running, 4u);
  EXPECT_EQ(s.procs_blocked, 0u);
}

TEST(HostProcfsStat, OddKernel) {
  Stat s = ParseStat(Odd("stat"));
  ASSERT_EQ(s.cpus.size(), 3u);
  // A 2.6-era line with four fields leaves the rest zero.
  EXPECT_EQ(s.cpus[0].cpu, "0");
  EXPECT_THAT(Ticks(s.cpus[0]), ElementsAre(1, 2, 3, 4, 0, 0, 0, 0, 0, 0));
  // Fields beyond guest_nice (a future kernel) are ignored.
  EXPECT_EQ(s.cpus[1].cpu, "1");
  EXPECT_THAT(Ticks(s.cpus[1]), ElementsAre(10, 20, 30, 40, 50, 60, 70, 80, 90, 100));
  // "cpux" is skipped; an unparsable tick counts as zero, the line is kept.
  EXPECT_EQ(s.cpus[2].cpu, "2");
  EXPECT_THAT(Ticks(s.cpus[2]), ElementsAre(7, 0, 9, 11, 13, 15, 17, 19, 21, 23));
  EXPECT_EQ(s.interrupts, 12345u);              // from a 60 KB line
  EXPECT_EQ(s.context_switches, std::nullopt);  // "ctxt notanumber"
  EXPECT_EQ(s.boot_time, 1700000000u);          // trailing extra field ignored
  EXPECT_EQ(s.forks, std::nullopt);             // "processes" without a value
  EXPECT_EQ(s.procs_running, 3u);
  EXPECT_EQ(s.procs_blocked, 2u);  // last line without a newline
}

TEST(HostProcfsStat, EmptyAndEdgeLines) {
  Stat s = ParseStat("");
  EXPECT_TRUE(s.cpus.empty());
  EXPECT_FALSE(s.boot_time || s.context_switches || s.forks || s.interrupts || s.procs_running || s.procs_blocked);

  s = ParseStat("cpu0\ncpu 1 2 3\ncpu-1 1 2\ncpu18446744073709551616 1\n\n\n");
  EXPECT_TRUE(s.cpus.empty());

  s = ParseStat("cpu63 1\r\nbtime 5\r\n");  // CRLF: the '\r' makes the last number unparsable
  ASSERT_EQ(s.cpus.size(), 1u);
  EXPECT_EQ(s.cpus[0].cpu, "63");
  EXPECT_EQ(s.cpus[0].ticks[0], 0u);
  EXPECT_EQ(s.boot_time, std::nullopt);
}

// --- /proc/loadavg ---

TEST(HostProcfsLoadAvg, Recorded) {
  auto l = ParseLoadAvg(Recorded("loadavg"));  // "0.96 0.34 0.12 4/118 5448"
  ASSERT_TRUE(l.has_value());
  EXPECT_DOUBLE_EQ(l->load1, 0.96);
  EXPECT_DOUBLE_EQ(l->load5, 0.34);
  EXPECT_DOUBLE_EQ(l->load15, 0.12);
}

TEST(HostProcfsLoadAvg, ExtraFieldsNoNewline) {
  auto l = ParseLoadAvg(Odd("loadavg"));  // "1.50 0.75 0.25 2/345 6789 extra"
  ASSERT_TRUE(l.has_value());
  EXPECT_DOUBLE_EQ(l->load1, 1.5);
  EXPECT_DOUBLE_EQ(l->load5, 0.75);
  EXPECT_DOUBLE_EQ(l->load15, 0.25);
}

TEST(HostProcfsLoadAvg, Malformed) {
  EXPECT_FALSE(ParseLoadAvg(""));
  EXPECT_FALSE(ParseLoadAvg("\n"));
  EXPECT_FALSE(ParseLoadAvg("0.29 0.17"));  // missing field
  EXPECT_FALSE(ParseLoadAvg("0.29 x 0.06 1/88 4893"));
  EXPECT_FALSE(ParseLoadAvg("0,29 0,17 0,06"));  // locale-style decimals are not the kernel's
  auto l = ParseLoadAvg("  \t0 0 0  \n");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->load1, 0);
}

// --- /proc/meminfo ---

TEST(HostProcfsMemInfo, Recorded) {
  auto m = ParseMemInfo(Recorded("meminfo"));
  ASSERT_EQ(m.size(), 54u);  // every line of the file
  EXPECT_EQ(m.front().first, "MemTotal_bytes");
  EXPECT_EQ(m.front().second, 24684084.0 * 1024);
  EXPECT_EQ(m.back().first, "DirectMap1G_bytes");
  EXPECT_EQ(m.back().second, 25165824.0 * 1024);
  EXPECT_EQ(Value(m, "MemTotal_bytes"), 25276502016.0);
  EXPECT_EQ(Value(m, "MemAvailable_bytes"), 23720960.0 * 1024);
  EXPECT_EQ(Value(m, "Active_anon_bytes"), 1612.0 * 1024);
  EXPECT_EQ(Value(m, "Inactive_file_bytes"), 238036.0 * 1024);
  EXPECT_EQ(Value(m, "VmallocTotal_bytes"), 35184372087808.0);  // 34359738367 kB
  EXPECT_EQ(Value(m, "HugePages_Total"), 0);                    // a count: no unit, no suffix
  EXPECT_EQ(Value(m, "Hugepagesize_bytes"), 2048.0 * 1024);
  EXPECT_FALSE(Has(m, "Active(anon)_bytes"));
  EXPECT_FALSE(Has(m, "HugePages_Total_bytes"));
}

TEST(HostProcfsMemInfo, OddLines) {
  auto m = ParseMemInfo(Odd("meminfo"));
  EXPECT_THAT(m, ElementsAre(Pair("MemTotal_bytes", 2048.0 * 1024), Pair("MemFree_bytes", 1024.0 * 1024),
                             Pair("Active_anon_bytes", 512.0 * 1024), Pair("Inactive_file_bytes", 256.0 * 1024),
                             Pair("HugePages_Total", 4.0),
                             Pair("NewCounter2031_bytes", 128.0 * 1024),  // unknown fields pass through
                             // Weird (MB), NoValue, Missing (no colon), TooMany: skipped
                             Pair("Negative_bytes", -5.0 * 1024),
                             Pair("VeryLong_bytes", 1024.0),  // 5000 spaces before the value
                             // garbage bytes and an empty key: skipped
                             Pair("Hugetlb_bytes", 8192.0 * 1024)));  // last line without a newline
}

TEST(HostProcfsMemInfo, Malformed) {
  EXPECT_THAT(ParseMemInfo(""), IsEmpty());
  EXPECT_THAT(ParseMemInfo("MemTotal: 1 kb\nMemFree 1 kB\nX: y kB\n(): 3\n"), ElementsAre(Pair("_", 3.0)));
}

// Found by fuzz/procfs_fuzz (corpus/procfs_fuzz/crash-meminfo-empty-key): a
// name of only ')' became the empty key, exported as "node_memory_".
TEST(HostProcfsMemInfo, RegressionKeyOfOnlyParenthesesIsSkipped) {
  EXPECT_THAT(ParseMemInfo("): 2\n)): 3 kB\nMemFree: 1 kB\n"), ElementsAre(Pair("MemFree_bytes", 1024.0)));
}

// --- /proc/mounts ---

TEST(HostProcfsMounts, Recorded) {
  auto m = ParseMounts(Recorded("mounts"));
  ASSERT_EQ(m.size(), 20u);
  EXPECT_EQ(m[0].device, "proc");
  EXPECT_EQ(m[0].mountpoint, "/proc");
  EXPECT_EQ(m[0].fstype, "proc");
  EXPECT_EQ(m[0].options, "rw,relatime");
  EXPECT_EQ(m[5].device, "/dev/vda");
  EXPECT_EQ(m[5].mountpoint, "/");
  EXPECT_EQ(m[5].fstype, "ext4");
  EXPECT_EQ(m[5].options, "rw,relatime,discard,resv_strict,resuid=65534,resgid=65534");
  EXPECT_EQ(m[19].device, "cgroup2");
  EXPECT_EQ(m[19].mountpoint, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m[19].fstype, "cgroup2");
  EXPECT_EQ(ParseMounts(Recorded("1/mounts")).size(), 20u);
}

TEST(HostProcfsMounts, EscapesAndOddLines) {
  auto m = ParseMounts(Odd("mounts"));
  std::vector<std::string> points;
  for (const auto& x : m) points.push_back(x.mountpoint);
  EXPECT_THAT(points, ElementsAre("/", "/mnt/my disk", "/mnt/tab\tsep", "/mnt/back\\slash", "/mnt/new\nline",
                                  "/mnt/nfs share", "/mnt/bad\\08escape", "/mnt/trailing\\04",
                                  // "/dev/sdc4 /mnt/short" has two fields: skipped
                                  "/mnt/nofreq", "/var/lib/docker/overlay2/0123abcd/merged",
                                  "/run/credentials/systemd-journald.service", "/run", "/proc", "/sys", "/srv/data",
                                  // the garbage line has two fields: skipped
                                  "/media/usb"));
  ASSERT_EQ(m.size(), 16u);
  EXPECT_EQ(m[5].device, "server:/export dir");  // devices are unescaped too
  EXPECT_EQ(m[5].fstype, "nfs4");
  EXPECT_EQ(m[8].device, "/dev/sdc5");  // four fields (no freq/passno) are enough
  EXPECT_EQ(m[8].options, "rw");
  EXPECT_EQ(m[9].fstype, "overlay");
  EXPECT_GT(m[9].options.size(), 6000u);  // a very long option string survives whole
  EXPECT_TRUE(m[9].options.starts_with("rw,relatime,lowerdir=/var/lib/docker/overlay2/l/LAYER0000"));
  EXPECT_TRUE(m[9].options.ends_with(",workdir=/var/lib/docker/overlay2/0123abcd/work"));
  EXPECT_EQ(m[14].device, "/dev/sdd1");  // extra unknown fields after passno are ignored
  EXPECT_EQ(m[14].options, "rw,relatime");
  EXPECT_EQ(m[15].device, "/dev/sde1");  // truncated last line without a newline
  EXPECT_EQ(m[15].fstype, "vfat");
  EXPECT_EQ(m[15].options, "rw");
}

TEST(HostProcfsMounts, UnescapeMountField) {
  EXPECT_EQ(UnescapeMountField(""), "");
  EXPECT_EQ(UnescapeMountField("/plain"), "/plain");
  EXPECT_EQ(UnescapeMountField("\\040"), " ");  // an escape that is the whole field
  EXPECT_EQ(UnescapeMountField("a\\040b\\011c\\012d\\134e"), "a b\tc\nd\\e");
  EXPECT_EQ(UnescapeMountField("\\134040"), "\\040");  // decoded once, not twice
  EXPECT_EQ(UnescapeMountField("\\377"), "\xff");
  EXPECT_EQ(UnescapeMountField("\\400"), "\\400");  // above \377: left as is
  EXPECT_EQ(UnescapeMountField("\\08x"), "\\08x");
  EXPECT_EQ(UnescapeMountField("end\\04"), "end\\04");  // too short at the end
  EXPECT_EQ(UnescapeMountField("end\\"), "end\\");
  EXPECT_EQ(UnescapeMountField("\\\\040"), "\\ ");
}

// --- /proc/diskstats ---

TEST(HostProcfsDiskStats, Recorded) {
  auto d = ParseDiskStats(Recorded("diskstats"));
  ASSERT_EQ(d.size(), 10u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(d[i].device, "loop" + std::to_string(i));
    EXPECT_EQ(d[i].major, 7u);
    EXPECT_EQ(d[i].minor, static_cast<uint32_t>(i));
    EXPECT_EQ(d[i].fields, std::vector<uint64_t>(17, 0));
  }
  EXPECT_EQ(d[8].device, "vda");
  EXPECT_EQ(d[8].major, 254u);
  EXPECT_EQ(d[8].minor, 0u);
  EXPECT_THAT(d[8].fields, ElementsAre(31839, 7275, 2652994, 19635, 8270, 6738, 1875280, 3863, 0, 11376, 23906, 5168,
                                       53, 622184, 366, 1009, 40));
  EXPECT_EQ(d[9].device, "zram0");
  EXPECT_EQ(d[9].major, 253u);
}

TEST(HostProcfsDiskStats, FieldCountsAndOddLines) {
  auto d = ParseDiskStats(Odd("diskstats"));
  std::vector<std::string> names;
  for (const auto& x : d) names.push_back(x.device);
  // sdb (13 fields), sdb1 (bad number), "bad" (bad major), dm-1 (overflow), garbage: skipped.
  EXPECT_THAT(names, ElementsAre("sda", "sda1", "nvme0n1", "nvme0n1p1", "dm-0", "loop0", "sdc", "mmcblk0"));
  ASSERT_EQ(d.size(), 8u);
  // 14 fields: kernels before 4.18.
  EXPECT_EQ(d[0].major, 8u);
  EXPECT_EQ(d[0].minor, 0u);
  EXPECT_THAT(d[0].fields, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
  // 18 fields: 4.18+ adds discards.
  EXPECT_EQ(d[1].minor, 1u);
  EXPECT_THAT(d[1].fields, ElementsAre(11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25));
  // 20 fields: 5.5+ adds flushes.
  EXPECT_EQ(d[2].major, 259u);
  EXPECT_THAT(d[2].fields,
              ElementsAre(101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117));
  // 22 fields: whatever a future kernel adds is kept.
  EXPECT_EQ(d[3].fields.size(), 19u);
  EXPECT_EQ(d[3].fields.back(), 19u);
  EXPECT_EQ(d[4].fields[0], 18446744073709551615u);
  EXPECT_EQ(d[6].fields, std::vector<uint64_t>(2000, 1));  // a very long line
  EXPECT_EQ(d[7].major, 179u);                             // truncated last line, no newline
  EXPECT_THAT(d[7].fields, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
}

// --- /proc/net/dev ---

TEST(HostProcfsNetDev, Recorded) {
  auto d = ParseNetDev(Recorded("net/dev"));
  ASSERT_EQ(d.size(), 4u);  // the two header lines are not devices
  EXPECT_EQ(d[0].device, "lo");
  EXPECT_THAT(Vec(d[0].receive), ElementsAre(100599, 92, 0, 0, 0, 0, 0, 0));
  EXPECT_THAT(Vec(d[0].transmit), ElementsAre(100599, 92, 0, 0, 0, 0, 0, 0));
  EXPECT_EQ(d[1].device, "ifb0");
  EXPECT_EQ(d[2].device, "ifb1");
  EXPECT_THAT(Vec(d[2].receive), ElementsAre(0, 0, 0, 0, 0, 0, 0, 0));
  EXPECT_EQ(d[3].device, "eth0");
  EXPECT_THAT(Vec(d[3].receive), ElementsAre(45843210, 1087, 0, 0, 0, 0, 0, 0));
  EXPECT_THAT(Vec(d[3].transmit), ElementsAre(44820, 557, 0, 0, 0, 0, 0, 0));
}

TEST(HostProcfsNetDev, OddLines) {
  auto d = ParseNetDev(Odd("net/dev"));
  std::vector<std::string> names;
  for (const auto& x : d) names.push_back(x.device);
  // short0 (5 fields), bad0 (bad number), an empty name and garbage bytes: skipped.
  EXPECT_THAT(names, ElementsAre("lo", "eth0", "wlan0", "br-1a2b", "docker0"));
  ASSERT_EQ(d.size(), 5u);
  EXPECT_THAT(Vec(d[0].receive), ElementsAre(100, 1, 0, 0, 0, 0, 0, 0));
  // No space after the colon, as old kernels print large counters.
  EXPECT_THAT(Vec(d[1].receive), ElementsAre(123456789012, 2, 3, 4, 5, 6, 7, 8));
  EXPECT_THAT(Vec(d[1].transmit), ElementsAre(9, 10, 11, 12, 13, 14, 15, 16));
  // Extra fields are ignored.
  EXPECT_THAT(Vec(d[2].transmit), ElementsAre(9, 10, 11, 12, 13, 14, 15, 16));
  EXPECT_THAT(Vec(d[3].receive), ElementsAre(10, 20, 30, 40, 50, 60, 70, 80));
  EXPECT_THAT(Vec(d[3].transmit), ElementsAre(90, 100, 110, 120, 130, 140, 150, 160));
  // Truncated last line without a newline.
  EXPECT_THAT(Vec(d[4].transmit), ElementsAre(9, 10, 11, 12, 13, 14, 15, 16));
}

// --- /proc/sys/fs/file-nr ---

TEST(HostProcfsFileNr, Recorded) {
  auto f = ParseFileNr(Recorded("sys/fs/file-nr"));  // "797\t0\t2466170\n"
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->allocated, 797u);
  EXPECT_EQ(f->maximum, 2466170u);
}

TEST(HostProcfsFileNr, OddAndMalformed) {
  auto f = ParseFileNr(Odd("sys/fs/file-nr"));  // no newline, maximum = LONG_MAX
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->allocated, 1024u);
  EXPECT_EQ(f->maximum, 9223372036854775807u);
  EXPECT_FALSE(ParseFileNr(""));
  EXPECT_FALSE(ParseFileNr("1 2"));
  EXPECT_FALSE(ParseFileNr("1 2 3 4"));
  EXPECT_FALSE(ParseFileNr("a 0 3"));
  EXPECT_FALSE(ParseFileNr("1 0 -3"));
  EXPECT_TRUE(ParseFileNr("1 garbage-is-ignored 3"));  // the unused count is not read
}

// --- /proc/pressure/* ---

TEST(HostProcfsPressure, Recorded) {
  Pressure cpu = ParsePressure(Recorded("pressure/cpu"));
  EXPECT_EQ(cpu.some_total_us, 5522073u);
  EXPECT_EQ(cpu.full_total_us, 0u);
  Pressure io = ParsePressure(Recorded("pressure/io"));
  EXPECT_EQ(io.some_total_us, 8417285u);
  EXPECT_EQ(io.full_total_us, 8184544u);
  Pressure mem = ParsePressure(Recorded("pressure/memory"));
  EXPECT_EQ(mem.some_total_us, 0u);
  EXPECT_EQ(mem.full_total_us, 0u);
}

TEST(HostProcfsPressure, OlderKernelAndOddLines) {
  Pressure cpu = ParsePressure(Odd("pressure-cpu-some-only"));  // cpu had no "full" line before 5.13
  EXPECT_EQ(cpu.some_total_us, 12345u);
  EXPECT_EQ(cpu.full_total_us, std::nullopt);
  Pressure p = ParsePressure(Odd("pressure-odd"));
  EXPECT_EQ(p.some_total_us, 100u);          // the last "some" line wins
  EXPECT_EQ(p.full_total_us, std::nullopt);  // "total=abc"
  Pressure empty = ParsePressure("");
  EXPECT_FALSE(empty.some_total_us || empty.full_total_us);
}

// --- /proc/net/sockstat{,6} ---

TEST(HostProcfsSockStat, Recorded) {
  auto s = ParseSockStat(Recorded("net/sockstat"));
  EXPECT_THAT(s, UnorderedElementsAre(
                     Pair("sockets", ElementsAre(Pair("used", 12))),
                     Pair("TCP", UnorderedElementsAre(Pair("inuse", 2), Pair("orphan", 0), Pair("tw", 0),
                                                      Pair("alloc", 2), Pair("mem", 242))),
                     Pair("UDP", UnorderedElementsAre(Pair("inuse", 0), Pair("mem", 0))),
                     Pair("UDPLITE", ElementsAre(Pair("inuse", 0))), Pair("RAW", ElementsAre(Pair("inuse", 0))),
                     Pair("FRAG", UnorderedElementsAre(Pair("inuse", 0), Pair("memory", 0)))));
  auto s6 = ParseSockStat(Recorded("net/sockstat6"));
  EXPECT_THAT(s6, UnorderedElementsAre(
                      Pair("TCP6", ElementsAre(Pair("inuse", 0))), Pair("UDP6", ElementsAre(Pair("inuse", 0))),
                      Pair("UDPLITE6", ElementsAre(Pair("inuse", 0))), Pair("RAW6", ElementsAre(Pair("inuse", 0))),
                      Pair("FRAG6", UnorderedElementsAre(Pair("inuse", 0), Pair("memory", 0)))));
}

TEST(HostProcfsSockStat, OddLines) {
  auto s = ParseSockStat(Odd("net/sockstat"));
  EXPECT_THAT(s,
              UnorderedElementsAre(Pair("sockets", ElementsAre(Pair("used", 99))),
                                   Pair("TCP", UnorderedElementsAre(Pair("inuse", 5), Pair("orphan", 1), Pair("tw", 7),
                                                                    Pair("alloc", 9), Pair("mem", 12))),
                                   Pair("UDP", ElementsAre(Pair("inuse", 3))),  // "mem" without a value
                                   Pair("NEWPROTO", UnorderedElementsAre(Pair("inuse", 4), Pair("pressure", 1))),
                                   Pair("FRAG", UnorderedElementsAre(Pair("inuse", 0), Pair("memory", 0))),
                                   // "bogus line", "RAW: inuse x" and garbage bytes give nothing
                                   Pair("UDPLITE", ElementsAre(Pair("inuse", 1)))));  // no final newline
  auto s6 = ParseSockStat(Odd("net/sockstat6"));
  EXPECT_THAT(s6, UnorderedElementsAre(Pair("TCP6", ElementsAre(Pair("inuse", 2))),
                                       Pair("UDP6", ElementsAre(Pair("inuse", 1))),  // odd trailing key ignored
                                       Pair("FRAG6", UnorderedElementsAre(Pair("inuse", 0), Pair("memory", 0)))));
}

// --- /proc/net/netstat, /proc/net/snmp ---

TEST(HostProcfsNetStat, RecordedNetstat) {
  auto s = ParseNetStat(Recorded("net/netstat"));
  // TcpExt has 135 names, IpExt 18, MPTcpExt 76.
  EXPECT_EQ(s.size(), 135u + 18u + 76u);
  EXPECT_EQ(s.front().first, "TcpExt_SyncookiesSent");
  EXPECT_EQ(s.back().first, "MPTcpExt_WinProbe");
  EXPECT_EQ(Value(s, "TcpExt_TW"), 14);
  EXPECT_EQ(Value(s, "TcpExt_TCPHPHits"), 24);
  EXPECT_EQ(Value(s, "TcpExt_TCPTimeouts"), 2);
  EXPECT_EQ(Value(s, "TcpExt_TCPRcvCoalesce"), 825);
  EXPECT_EQ(Value(s, "TcpExt_TcpTimeoutRehash"), 2);
  EXPECT_EQ(Value(s, "TcpExt_ListenOverflows"), 0);
  EXPECT_EQ(Value(s, "TcpExt_TCPAODroppedIcmps"), 0);
  EXPECT_EQ(Value(s, "IpExt_InOctets"), 45928435);
  EXPECT_EQ(Value(s, "IpExt_OutOctets"), 136793);
  EXPECT_EQ(Value(s, "IpExt_InNoECTPkts"), 1177);
}

TEST(HostProcfsNetStat, RecordedSnmp) {
  auto s = ParseNetStat(Recorded("net/snmp"));
  EXPECT_EQ(s.size(), 20u + 29u + 1u + 15u + 9u + 9u);  // Ip Icmp IcmpMsg Tcp Udp UdpLite
  EXPECT_EQ(Value(s, "Ip_Forwarding"), 2);
  EXPECT_EQ(Value(s, "Ip_InReceives"), 1177);
  EXPECT_EQ(Value(s, "Ip_OutTransmits"), 639);
  EXPECT_EQ(Value(s, "Icmp_InMsgs"), 1);
  EXPECT_EQ(Value(s, "Icmp_InDestUnreachs"), 1);
  EXPECT_EQ(Value(s, "IcmpMsg_InType3"), 1);
  EXPECT_EQ(Value(s, "Tcp_MaxConn"), -1);
  EXPECT_EQ(Value(s, "Tcp_ActiveOpens"), 16);
  EXPECT_EQ(Value(s, "Tcp_PassiveOpens"), 5);
  EXPECT_EQ(Value(s, "Tcp_CurrEstab"), 0);
  EXPECT_EQ(Value(s, "Tcp_InSegs"), 1150);
  EXPECT_EQ(Value(s, "Tcp_OutSegs"), 614);
  EXPECT_EQ(Value(s, "Tcp_OutRsts"), 2);
  EXPECT_EQ(Value(s, "Udp_InDatagrams"), 26);
  EXPECT_EQ(Value(s, "Udp_OutDatagrams"), 27);
  EXPECT_EQ(Value(s, "UdpLite_MemErrors"), 0);
}

TEST(HostProcfsNetStat, OddPairs) {
  auto s = ParseNetStat(Odd("net/netstat"));
  EXPECT_THAT(
      s, ElementsAre(Pair("TcpExt_SyncookiesSent", 1), Pair("TcpExt_ListenOverflows", 2), Pair("TcpExt_ListenDrops", 3),
                     Pair("TcpExt_TCPTimeouts", 4), Pair("TcpExt_TCPSynRetrans", 5), Pair("TcpExt_NewField2031", 6),
                     // IpExt: 3 names, 2 values: dropped. "Orphan:" became a header.
                     // MPTcpExt: "x" is skipped, the truncated last line still counts.
                     Pair("MPTcpExt_MPCapableSYNRX", 0)));
  auto snmp = ParseNetStat(Odd("net/snmp"));
  EXPECT_THAT(snmp, ElementsAre(Pair("Ip_Forwarding", 1), Pair("Ip_DefaultTTL", 64), Pair("Ip_InReceives", 1000),
                                Pair("Tcp_RtoAlgorithm", 1), Pair("Tcp_MaxConn", -1), Pair("Tcp_ActiveOpens", 10),
                                Pair("Tcp_PassiveOpens", 20), Pair("Tcp_CurrEstab", 3), Pair("Tcp_InErrs", 0)));
  // Udp: 4 names, 3 values on a truncated last line: dropped.
}

TEST(HostProcfsNetStat, HeaderOnlyAndRepeatedHeaders) {
  EXPECT_THAT(ParseNetStat(""), IsEmpty());
  EXPECT_THAT(ParseNetStat("Tcp: A B\n"), IsEmpty());
  EXPECT_THAT(ParseNetStat("Tcp: A B\nUdp: C\nUdp: 1\nTcp: 2 3\n"), ElementsAre(Pair("Udp_C", 1)));
  EXPECT_THAT(ParseNetStat("Tcp: A\nTcp: 1\nTcp: 2\nTcp: 3\n"), ElementsAre(Pair("Tcp_A", 1), Pair("Tcp_2", 3)));
}

// --- /proc/net/snmp6 ---

TEST(HostProcfsSnmp6, Recorded) {
  auto s = ParseSnmp6(Recorded("net/snmp6"));
  ASSERT_EQ(s.size(), 90u);  // every line
  EXPECT_EQ(s.front(), std::make_pair(std::string("Ip6_InReceives"), 1.0));
  EXPECT_EQ(Value(s, "Ip6_InOctets"), 128);
  EXPECT_EQ(Value(s, "Ip6_OutOctets"), 880);
  EXPECT_EQ(Value(s, "Ip6_OutRequests"), 10);
  EXPECT_EQ(Value(s, "Icmp6_InMsgs"), 1);
  EXPECT_EQ(Value(s, "Icmp6_OutMsgs"), 9);
  EXPECT_EQ(Value(s, "Icmp6_OutMLDv2Reports"), 4);
  EXPECT_EQ(Value(s, "Icmp6_OutType135"), 4);
  EXPECT_EQ(Value(s, "Udp6_InDatagrams"), 0);
  EXPECT_EQ(Value(s, "UdpLite6_InDatagrams"), 0);
}

TEST(HostProcfsSnmp6, OddLines) {
  auto s = ParseSnmp6(Odd("net/snmp6"));
  EXPECT_THAT(s,
              ElementsAre(Pair("Ip6_InReceives", 12), Pair("Ip6_InOctets", 3456), Pair("Icmp6_InMsgs", 7),
                          Pair("Icmp6_OutType134", 2), Pair("Udp6_InDatagrams", 100), Pair("UdpLite6_InDatagrams", 0),
                          // no value, no '6', two values, a non-number, garbage: skipped
                          Pair("Udp6_RcvbufErrors", 4)));
}

// --- every parser on bytes that are not /proc text at all ---

TEST(HostProcfsGarbage, EveryParserYieldsNothing) {
  std::string g = Odd("garbage.bin");  // bytes 0..255, four times
  ASSERT_EQ(g.size(), 1024u);
  Stat s = ParseStat(g);
  EXPECT_TRUE(s.cpus.empty());
  EXPECT_FALSE(s.boot_time || s.context_switches || s.forks || s.interrupts || s.procs_running || s.procs_blocked);
  EXPECT_FALSE(ParseLoadAvg(g));
  EXPECT_THAT(ParseMemInfo(g), IsEmpty());
  EXPECT_THAT(ParseMounts(g), IsEmpty());
  EXPECT_THAT(ParseDiskStats(g), IsEmpty());
  EXPECT_THAT(ParseNetDev(g), IsEmpty());
  EXPECT_FALSE(ParseFileNr(g));
  Pressure p = ParsePressure(g);
  EXPECT_FALSE(p.some_total_us || p.full_total_us);
  EXPECT_THAT(ParseSockStat(g), IsEmpty());
  EXPECT_THAT(ParseNetStat(g), IsEmpty());
  EXPECT_THAT(ParseSnmp6(g), IsEmpty());
  EXPECT_EQ(UnescapeMountField(g), g);  // no backslash is followed by three octal digits
}

TEST(HostProcfsGarbage, EmbeddedNulsAndHugeNumbers) {
  using namespace std::string_literals;
  EXPECT_THAT(ParseMemInfo("MemTotal:\0 1 kB\n"s), IsEmpty());
  EXPECT_THAT(ParseMemInfo("Big: 1e400 kB\n"), IsEmpty());         // out of range for a double
  EXPECT_THAT(ParseSnmp6("Ip6InReceives 18446744073709551616\n"),  // 2^64: too big for a uint64, fine for a double
              ElementsAre(Pair("Ip6_InReceives", 18446744073709551616.0)));
  EXPECT_THAT(ParseSockStat("TCP: inuse 18446744073709551616\n"), IsEmpty());
  EXPECT_THAT(ParseDiskStats("8 0 sda\0 1 2 3 4 5 6 7 8 9 10 11\n"s),
              ElementsAre(::testing::Field(&DiskStats::device, "sda\0"s)));
}

// node_exporter's default collectors beyond the foundation's (issue 19):
// recorded files from this kernel, then hand-made ones with non-zero values.
TEST(HostProcfsRecorded, VmStatSoftnetArpUdpConntrack) {
  auto vm = ParseVmStat(Recorded("vmstat"));
  EXPECT_GT(vm.size(), 100u);
  EXPECT_TRUE(Has(vm, "pgfault") && Has(vm, "pgmajfault") && Has(vm, "pswpin") && Has(vm, "oom_kill"));
  EXPECT_EQ(ParseSoftnetStat(Recorded("net/softnet_stat")).size(), 2u);
  EXPECT_THAT(ParseArpEntries(Recorded("net/arp")), ElementsAre(Pair("eth0", 1u)));
  auto udp = ParseUdpQueues(Recorded("net/udp"));
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->rx + udp->tx, 0u);
  auto ct = ParseConntrackStat(Recorded("net/stat/nf_conntrack"));
  EXPECT_EQ(ct.size(), 17u);
  EXPECT_EQ(ct.at("search_restart"), 0u);
}

TEST(HostProcfsOdd, SoftnetIsHexPerCpuWithExtraColumns) {
  // Older kernels have 11 columns, newer 13+; only the first three are named here.
  auto s = ParseSoftnetStat(
      "0000a1b2 00000003 0000000f 00000000 00000000\n"
      "000000ff 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
      "00000000 00000001\n"
      "zz 1\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].processed, 0xa1b2u);
  EXPECT_EQ(s[0].dropped, 3u);
  EXPECT_EQ(s[0].time_squeezed, 15u);
  EXPECT_EQ(s[1].processed, 255u);
}

TEST(HostProcfsOdd, UdpQueuesSumEverySocket) {
  auto q = ParseUdpQueues(
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer "
      "drops\n"
      "  1: 0100007F:0035 00000000:0000 07 00000010:00000200 00:00000000 00000000     0        0 1 2 0 0\n"
      "  2: 00000000:0044 00000000:0000 07 00000001:00000E00 00:00000000 00000000     0        0 3 2 0 0\n"
      "  3: garbage\n");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->tx, 0x11u);
  EXPECT_EQ(q->rx, 0x1000u);
  EXPECT_FALSE(ParseUdpQueues(""));  // no header: not a udp table
}

TEST(HostProcfsOdd, ArpCountsPerDevice) {
  EXPECT_THAT(ParseArpEntries("IP address       HW type     Flags       HW address            Mask     Device\n"
                              "10.0.0.1         0x1         0x2         aa:bb:cc:dd:ee:01     *        eth0\n"
                              "10.0.0.2         0x1         0x2         aa:bb:cc:dd:ee:02     *        eth0\n"
                              "10.1.0.1         0x1         0x0         00:00:00:00:00:00     *        br-1\n"
                              "short line\n"),
              ElementsAre(Pair("br-1", 1u), Pair("eth0", 2u)));
}

TEST(HostProcfsOdd, ConntrackStatSumsCpus) {
  auto ct = ParseConntrackStat(
      "entries  found invalid insert drop early_drop search_restart\n"
      "00000010  00000001 00000002 0000000a 00000000 00000001 00000003\n"
      "00000010  00000002 00000000 00000005 00000001 00000000 0000000g\n");
  EXPECT_EQ(ct.at("found"), 3u);
  EXPECT_EQ(ct.at("invalid"), 2u);
  EXPECT_EQ(ct.at("insert"), 15u);
  EXPECT_EQ(ct.at("drop"), 1u);
  EXPECT_EQ(ct.at("search_restart"), 3u);  // the bad hex digit is skipped
}

TEST(HostProcfsOdd, SysfsIntegersDecimalAndHex) {
  EXPECT_EQ(ParseSysfsInt("0x1003\n"), 4099);
  EXPECT_EQ(ParseSysfsInt("-1\n"), -1);
  EXPECT_EQ(ParseSysfsInt("1500"), 1500);
  EXPECT_EQ(ParseSysfsInt("0x"), std::nullopt);
  EXPECT_EQ(ParseSysfsInt("up"), std::nullopt);
  EXPECT_EQ(ParseSysfsInt("0xffffffffffffffff"), std::nullopt);  // beyond int64
}

TEST(HostProcfsOdd, VmStatSkipsMalformedLines) {
  EXPECT_THAT(ParseVmStat("pgfault 12\nnr_free_pages\npswpin x\noom_kill 1 2\npgmajfault 3\n"),
              ElementsAre(Pair("pgfault", 12), Pair("pgmajfault", 3)));
}

}  // namespace
}  // namespace vigil::collect::procfs
