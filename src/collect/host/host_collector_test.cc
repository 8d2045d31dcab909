// The host collector on recorded /proc and /sys trees (tests/testdata) with an
// injected statfs: names, types, labels and values as node_exporter exposes them.
#include "collect/host/host_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace vigil::collect {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

const std::string kTestdata = VIGIL_TESTDATA_DIR;
constexpr TimestampMs kNowMs = 1700000000123;

// Recorded statfs answers by mount point; anything else fails like a stale mount.
struct FakeStatFs {
  std::map<std::string, FsUsage> usage;
  std::set<std::string> failing;
  std::vector<std::string> calls;

  Result<FsUsage> operator()(const std::string& mountpoint) {
    calls.push_back(mountpoint);
    if (failing.count(mountpoint)) return Status::Error("statvfs " + mountpoint + ": Stale file handle");
    if (auto it = usage.find(mountpoint); it != usage.end()) return it->second;
    return FsUsage{1000, 500, 400, 100, 50, false};
  }
};

// adjtimex(2) as recorded on the test machine (no NTP: TIME_ERROR, STA_UNSYNC),
// with a PLL offset and frequency so the unit conversions show.
Timex RecordedTimex() {
  Timex t;
  t.state = 5;
  t.offset = 1500;   // µs (STA_NANO clear)
  t.freq = 3276800;  // 50 ppm with a 16-bit fraction
  t.maxerror = 16000000;
  t.esterror = 16000000;
  t.status = 64;  // STA_UNSYNC
  t.constant = 2;
  t.tick = 10000;
  t.calcnt = 3;
  return t;
}

HostCollectorOptions DefaultOptions(const std::string& proc_root, FakeStatFs* fs) {
  HostCollectorOptions o;
  o.proc_root = proc_root;
  o.sys_root = kTestdata + "/sys";
  o.exclude_mountpoints = std::string(config::kDefaultExcludeMountpoints);
  o.exclude_fstypes = std::string(config::kDefaultExcludeFsTypes);
  o.exclude_disks = std::string(config::kDefaultExcludeDisks);
  o.statfs = [fs](const std::string& mountpoint) { return (*fs)(mountpoint); };
  o.adjtimex = [] { return RecordedTimex(); };
  o.clock_ticks_per_second = 100;
  o.page_size = 4096;
  return o;
}

MetricBatch Collect(HostCollectorOptions o, Status* status = nullptr) {
  auto c = NewHostCollector(std::move(o));
  EXPECT_EQ(c->name(), "host");
  MetricBatch batch;
  CollectContext ctx;
  ctx.now_ms = kNowMs;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Status s = c->Collect(ctx, batch);
  EXPECT_TRUE(s.ok()) << s.message();
  if (status) *status = s;
  return batch;
}

// The value of the one sample of `name` with exactly `labels`; fails the test when absent.
double Value(const MetricBatch& b, const std::string& name, const Labels& labels = {}) {
  const MetricFamily* f = b.Find(name);
  if (f == nullptr) {
    ADD_FAILURE() << "no family " << name;
    return -12345;
  }
  const Sample* found = nullptr;
  for (const auto& s : f->samples) {
    if (s.labels != labels) continue;
    EXPECT_EQ(found, nullptr) << "duplicate series in " << name;
    found = &s;
  }
  if (found == nullptr) {
    ADD_FAILURE() << "no sample of " << name << " with the given labels";
    return -12345;
  }
  return found->value;
}

bool HasSeries(const MetricBatch& b, const std::string& name, const Labels& labels) {
  const MetricFamily* f = b.Find(name);
  if (f == nullptr) return false;
  for (const auto& s : f->samples) {
    if (s.labels == labels) return true;
  }
  return false;
}

MetricType TypeOf(const MetricBatch& b, const std::string& name) {
  const MetricFamily* f = b.Find(name);
  if (f == nullptr) {
    ADD_FAILURE() << "no family " << name;
    return MetricType::kUntyped;
  }
  return f->type;
}

// Values of label `label` over the samples of `name`, in order.
std::vector<std::string> LabelValues(const MetricBatch& b, const std::string& name, const std::string& label) {
  std::vector<std::string> out;
  if (const MetricFamily* f = b.Find(name)) {
    for (const auto& s : f->samples) out.emplace_back(s.labels.Get(label));
  }
  return out;
}

std::vector<std::string> FamiliesWithPrefix(const MetricBatch& b, std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto& f : b.families()) {
    if (f.name.starts_with(prefix)) out.push_back(f.name);
  }
  return out;
}

// Families not read from the proc root (adjtimex, /sys/class/net) or added
// by the collectors of issue 19 and the per-part self-report; the tests of
// the foundation's files leave them out.
bool FromNewerCollectors(std::string_view name) {
  static const std::set<std::string, std::less<>> kNetClass = {"node_network_up",
                                                               "node_network_info",
                                                               "node_network_address_assign_type",
                                                               "node_network_carrier",
                                                               "node_network_carrier_changes_total",
                                                               "node_network_carrier_up_changes_total",
                                                               "node_network_carrier_down_changes_total",
                                                               "node_network_device_id",
                                                               "node_network_dormant",
                                                               "node_network_flags",
                                                               "node_network_iface_id",
                                                               "node_network_iface_link",
                                                               "node_network_iface_link_mode",
                                                               "node_network_mtu_bytes",
                                                               "node_network_name_assign_type",
                                                               "node_network_net_dev_group",
                                                               "node_network_transmit_queue_length",
                                                               "node_network_protocol_type",
                                                               "node_network_speed_bytes",
                                                               "node_network_receive_nohandler_total"};
  for (std::string_view prefix : {"node_timex_", "node_scrape_collector_", "node_vmstat_", "node_softnet_", "node_arp_",
                                  "node_udp_", "node_entropy_", "node_nf_conntrack_"}) {
    if (name.starts_with(prefix)) return true;
  }
  return kNetClass.count(name) > 0;
}

std::vector<std::string> FoundationNames(const MetricBatch& b) {
  std::vector<std::string> names;
  for (const auto& f : b.families()) {
    if (!FromNewerCollectors(f.name)) names.push_back(f.name);
  }
  return names;
}

std::vector<std::string> ErrorReasons(const MetricBatch& b) {
  std::vector<std::string> out;
  for (const auto& e : b.errors()) out.push_back(e.reason);
  return out;
}

Labels Dev(const std::string& device) { return Labels{{"device", device}}; }
Labels Cpu(const std::string& cpu, const std::string& mode) { return Labels{{"cpu", cpu}, {"mode", mode}}; }
Labels Fs(const std::string& device, const std::string& fstype, const std::string& mountpoint) {
  return Labels{{"device", device}, {"fstype", fstype}, {"mountpoint", mountpoint}};
}

class HostCollectorRecorded : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.usage["/"] = FsUsage{10737418240, 5368709120, 4294967296, 655360, 600000, false};
    fs_.usage["/run"] = FsUsage{5055303680, 5054255104, 5054255104, 1234069, 1233000, true};
    batch_ = Collect(DefaultOptions(kTestdata + "/proc", &fs_));
  }
  FakeStatFs fs_;
  MetricBatch batch_;
};

TEST_F(HostCollectorRecorded, NoErrors) { EXPECT_THAT(batch_.errors(), IsEmpty()); }

TEST_F(HostCollectorRecorded, EveryNameAndLabelIsValid) {
  for (const auto& f : batch_.families()) {
    EXPECT_TRUE(IsValidMetricName(f.name)) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_FALSE(f.samples.empty()) << f.name;
    std::set<Labels> series;
    for (const auto& s : f.samples) {
      for (const auto& l : s.labels) EXPECT_TRUE(IsValidLabelName(l.name)) << f.name << " " << l.name;
      EXPECT_TRUE(series.insert(s.labels).second) << "duplicate series in " << f.name;
    }
  }
}

TEST_F(HostCollectorRecorded, Cpu) {
  const MetricFamily* f = batch_.Find("node_cpu_seconds_total");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, MetricType::kCounter);
  ASSERT_EQ(f->samples.size(), 16u);  // 2 CPUs x 8 modes; the aggregate line is not exported
  std::vector<std::string> modes;
  for (const auto& s : f->samples) {
    ASSERT_EQ(s.labels.size(), 2u);
    if (s.labels.Get("cpu") == "0") modes.emplace_back(s.labels.Get("mode"));
  }
  EXPECT_THAT(modes, ElementsAre("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"));
  // cpu0 4430 0 1209 53280 46 0 5 10 0 0, cpu1 5330 0 1655 51069 905 0 25 14 0 0; USER_HZ = 100.
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("0", "idle")), 532.80);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("0", "user")), 44.30);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("0", "system")), 12.09);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("0", "steal")), 0.10);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("1", "idle")), 510.69);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("1", "iowait")), 9.05);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("1", "softirq")), 0.25);
  EXPECT_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("1", "nice")), 0);

  const MetricFamily* guest = batch_.Find("node_cpu_guest_seconds_total");
  ASSERT_NE(guest, nullptr);
  EXPECT_EQ(guest->type, MetricType::kCounter);
  ASSERT_EQ(guest->samples.size(), 4u);
  EXPECT_EQ(Value(batch_, "node_cpu_guest_seconds_total", Cpu("1", "user")), 0);
  EXPECT_EQ(Value(batch_, "node_cpu_guest_seconds_total", Cpu("1", "nice")), 0);
}

TEST_F(HostCollectorRecorded, CpuHonoursClockTicks) {
  FakeStatFs fs;
  HostCollectorOptions o = DefaultOptions(kTestdata + "/proc", &fs);
  o.clock_ticks_per_second = 1000;
  MetricBatch b = Collect(o);
  EXPECT_DOUBLE_EQ(Value(b, "node_cpu_seconds_total", Cpu("0", "idle")), 53.28);
}

TEST_F(HostCollectorRecorded, StatScalars) {
  EXPECT_EQ(Value(batch_, "node_boot_time_seconds"), 1795624151);
  EXPECT_EQ(TypeOf(batch_, "node_boot_time_seconds"), MetricType::kGauge);
  EXPECT_EQ(Value(batch_, "node_context_switches_total"), 293950);
  EXPECT_EQ(TypeOf(batch_, "node_context_switches_total"), MetricType::kCounter);
  EXPECT_EQ(Value(batch_, "node_forks_total"), 5448);
  EXPECT_EQ(TypeOf(batch_, "node_forks_total"), MetricType::kCounter);
  EXPECT_EQ(Value(batch_, "node_intr_total"), 158768);
  EXPECT_EQ(TypeOf(batch_, "node_intr_total"), MetricType::kCounter);
  EXPECT_EQ(Value(batch_, "node_procs_running"), 4);
  EXPECT_EQ(TypeOf(batch_, "node_procs_running"), MetricType::kGauge);
  EXPECT_EQ(Value(batch_, "node_procs_blocked"), 0);
  EXPECT_EQ(TypeOf(batch_, "node_procs_blocked"), MetricType::kGauge);
}

TEST_F(HostCollectorRecorded, Load) {
  EXPECT_DOUBLE_EQ(Value(batch_, "node_load1"), 0.96);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_load5"), 0.34);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_load15"), 0.12);
  for (const char* n : {"node_load1", "node_load5", "node_load15"}) EXPECT_EQ(TypeOf(batch_, n), MetricType::kGauge);
}

TEST_F(HostCollectorRecorded, Memory) {
  auto names = FamiliesWithPrefix(batch_, "node_memory_");
  EXPECT_EQ(names.size(), 54u);  // one per meminfo line
  for (const auto& n : names) {
    const MetricFamily* f = batch_.Find(n);
    EXPECT_EQ(f->type, MetricType::kGauge) << n;
    ASSERT_EQ(f->samples.size(), 1u) << n;
    EXPECT_TRUE(f->samples[0].labels.empty()) << n;
  }
  EXPECT_EQ(Value(batch_, "node_memory_MemTotal_bytes"), 25276502016.0);  // 24684084 kB
  EXPECT_EQ(Value(batch_, "node_memory_MemFree_bytes"), 23496852.0 * 1024);
  EXPECT_EQ(Value(batch_, "node_memory_MemAvailable_bytes"), 23720960.0 * 1024);
  EXPECT_EQ(Value(batch_, "node_memory_Active_anon_bytes"), 1612.0 * 1024);
  EXPECT_EQ(Value(batch_, "node_memory_Inactive_anon_bytes"), 627440.0 * 1024);
  EXPECT_EQ(Value(batch_, "node_memory_HugePages_Total"), 0);
  EXPECT_EQ(Value(batch_, "node_memory_Hugepagesize_bytes"), 2097152);
}

TEST_F(HostCollectorRecorded, FilesystemsWithNodeExporterDefaultExcludes) {
  // /proc, /sys/*, /dev/*, and the proc/sysfs/devtmpfs/devpts/cgroup types are excluded;
  // the duplicate /dev/pts and /dev/shm lines never reach statfs.
  EXPECT_THAT(fs_.calls, ElementsAre("/", "/run"));
  const char* kGauges[] = {"node_filesystem_device_error", "node_filesystem_size_bytes", "node_filesystem_free_bytes",
                           "node_filesystem_avail_bytes",  "node_filesystem_files",      "node_filesystem_files_free",
                           "node_filesystem_readonly"};
  Labels root = Fs("/dev/vda", "ext4", "/");
  Labels run = Fs("tmpfs", "tmpfs", "/run");
  for (const char* n : kGauges) {
    const MetricFamily* f = batch_.Find(n);
    ASSERT_NE(f, nullptr) << n;
    EXPECT_EQ(f->type, MetricType::kGauge) << n;
    ASSERT_EQ(f->samples.size(), 2u) << n;
    EXPECT_EQ(f->samples[0].labels, root) << n;
    EXPECT_EQ(f->samples[1].labels, run) << n;
  }
  EXPECT_EQ(Value(batch_, "node_filesystem_device_error", root), 0);
  EXPECT_EQ(Value(batch_, "node_filesystem_size_bytes", root), 10737418240.0);
  EXPECT_EQ(Value(batch_, "node_filesystem_free_bytes", root), 5368709120.0);
  EXPECT_EQ(Value(batch_, "node_filesystem_avail_bytes", root), 4294967296.0);
  EXPECT_EQ(Value(batch_, "node_filesystem_files", root), 655360);
  EXPECT_EQ(Value(batch_, "node_filesystem_files_free", root), 600000);
  EXPECT_EQ(Value(batch_, "node_filesystem_readonly", root), 0);
  EXPECT_EQ(Value(batch_, "node_filesystem_size_bytes", run), 5055303680.0);
  EXPECT_EQ(Value(batch_, "node_filesystem_readonly", run), 1);
}

TEST(HostCollector, FilesystemsWithoutExcludesAreDeduplicated) {
  FakeStatFs fs;
  HostCollectorOptions o = DefaultOptions(kTestdata + "/proc", &fs);
  o.exclude_mountpoints.clear();
  o.exclude_fstypes.clear();
  MetricBatch b = Collect(o);
  EXPECT_EQ(fs.calls.size(), 18u);  // 20 lines, two exact repeats
  ASSERT_NE(b.Find("node_filesystem_size_bytes"), nullptr);
  EXPECT_EQ(b.Find("node_filesystem_size_bytes")->samples.size(), 18u);
  EXPECT_TRUE(HasSeries(b, "node_filesystem_size_bytes", Fs("cgroup2", "cgroup2", "/sys/fs/cgroup/unified")));
  EXPECT_TRUE(HasSeries(b, "node_filesystem_size_bytes", Fs("proc", "proc", "/proc")));
}

TEST(HostCollector, StatfsFailureIsADeviceErrorAndABatchError) {
  FakeStatFs fs;
  fs.failing.insert("/run");
  Status status;
  MetricBatch b = Collect(DefaultOptions(kTestdata + "/proc", &fs), &status);
  EXPECT_TRUE(status.ok());
  Labels run = Fs("tmpfs", "tmpfs", "/run");
  Labels root = Fs("/dev/vda", "ext4", "/");
  EXPECT_EQ(Value(b, "node_filesystem_device_error", run), 1);
  EXPECT_EQ(Value(b, "node_filesystem_device_error", root), 0);
  for (const char* n : {"node_filesystem_size_bytes", "node_filesystem_avail_bytes", "node_filesystem_readonly"}) {
    EXPECT_FALSE(HasSeries(b, n, run)) << n;
    EXPECT_TRUE(HasSeries(b, n, root)) << n;
  }
  ASSERT_EQ(b.errors().size(), 1u);
  EXPECT_EQ(b.errors()[0].reason, "statfs_failed");
  EXPECT_THAT(b.errors()[0].detail, HasSubstr("/run"));
  // Everything else is still collected.
  EXPECT_NE(b.Find("node_cpu_seconds_total"), nullptr);
  EXPECT_NE(b.Find("node_memory_MemTotal_bytes"), nullptr);
  EXPECT_NE(b.Find("node_disk_reads_completed_total"), nullptr);
}

TEST_F(HostCollectorRecorded, DiskStats) {
  // loop0..7 are excluded by default; vda and zram0 are not.
  EXPECT_THAT(LabelValues(batch_, "node_disk_reads_completed_total", "device"), ElementsAre("vda", "zram0"));
  // vda: 31839 7275 2652994 19635 8270 6738 1875280 3863 0 11376 23906 5168 53 622184 366 1009 40
  Labels vda = Dev("vda");
  EXPECT_EQ(Value(batch_, "node_disk_reads_completed_total", vda), 31839);
  EXPECT_EQ(Value(batch_, "node_disk_reads_merged_total", vda), 7275);
  EXPECT_EQ(Value(batch_, "node_disk_read_bytes_total", vda), 2652994.0 * 512);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_disk_read_time_seconds_total", vda), 19.635);
  EXPECT_EQ(Value(batch_, "node_disk_writes_completed_total", vda), 8270);
  EXPECT_EQ(Value(batch_, "node_disk_writes_merged_total", vda), 6738);
  EXPECT_EQ(Value(batch_, "node_disk_written_bytes_total", vda), 1875280.0 * 512);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_disk_write_time_seconds_total", vda), 3.863);
  EXPECT_EQ(Value(batch_, "node_disk_io_now", vda), 0);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_disk_io_time_seconds_total", vda), 11.376);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_disk_io_time_weighted_seconds_total", vda), 23.906);
  EXPECT_EQ(Value(batch_, "node_disk_discards_completed_total", vda), 5168);
  EXPECT_EQ(Value(batch_, "node_disk_discards_merged_total", vda), 53);
  EXPECT_EQ(Value(batch_, "node_disk_discarded_sectors_total", vda), 622184);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_disk_discard_time_seconds_total", vda), 0.366);
  EXPECT_EQ(Value(batch_, "node_disk_flush_requests_total", vda), 1009);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_disk_flush_requests_time_seconds_total", vda), 0.040);
  auto names = FamiliesWithPrefix(batch_, "node_disk_");
  EXPECT_EQ(names.size(), 17u);
  for (const auto& n : names) {
    EXPECT_EQ(TypeOf(batch_, n), n == "node_disk_io_now" ? MetricType::kGauge : MetricType::kCounter) << n;
  }
}

TEST_F(HostCollectorRecorded, Network) {
  EXPECT_THAT(LabelValues(batch_, "node_network_receive_bytes_total", "device"),
              ElementsAre("lo", "ifb0", "ifb1", "eth0"));
  EXPECT_EQ(Value(batch_, "node_network_receive_bytes_total", Dev("eth0")), 45843210);
  EXPECT_EQ(Value(batch_, "node_network_receive_packets_total", Dev("eth0")), 1087);
  EXPECT_EQ(Value(batch_, "node_network_transmit_bytes_total", Dev("eth0")), 44820);
  EXPECT_EQ(Value(batch_, "node_network_transmit_packets_total", Dev("eth0")), 557);
  EXPECT_EQ(Value(batch_, "node_network_receive_bytes_total", Dev("lo")), 100599);
  EXPECT_EQ(Value(batch_, "node_network_transmit_colls_total", Dev("lo")), 0);
  EXPECT_EQ(Value(batch_, "node_network_receive_multicast_total", Dev("ifb1")), 0);
  auto counters = FamiliesWithPrefix(batch_, "node_network_receive_");
  auto transmit = FamiliesWithPrefix(batch_, "node_network_transmit_");
  counters.insert(counters.end(), transmit.begin(), transmit.end());
  std::erase(counters, "node_network_transmit_queue_length");  // netclass's, a gauge
  EXPECT_EQ(counters.size(), 17u);                             // /proc/net/dev's 16 and sysfs's rx_nohandler
  for (const auto& n : counters) {
    EXPECT_EQ(TypeOf(batch_, n), MetricType::kCounter) << n;
    EXPECT_TRUE(n.ends_with("_total")) << n;
  }
  // /sys/class/net/<dev>/operstate: eth0 up, ifb* down, lo unknown.
  EXPECT_EQ(Value(batch_, "node_network_up", Dev("eth0")), 1);
  EXPECT_EQ(Value(batch_, "node_network_up", Dev("ifb0")), 0);
  EXPECT_EQ(Value(batch_, "node_network_up", Dev("lo")), 0);
  EXPECT_EQ(TypeOf(batch_, "node_network_up"), MetricType::kGauge);
  EXPECT_EQ(Value(batch_, "node_network_mtu_bytes", Dev("eth0")), 1400);
  EXPECT_EQ(Value(batch_, "node_network_mtu_bytes", Dev("ifb1")), 1500);
  EXPECT_EQ(Value(batch_, "node_network_mtu_bytes", Dev("lo")), 65536);
  EXPECT_EQ(TypeOf(batch_, "node_network_mtu_bytes"), MetricType::kGauge);
}

TEST(HostCollector, NetworkDeviceExclude) {
  FakeStatFs fs;
  HostCollectorOptions o = DefaultOptions(kTestdata + "/proc", &fs);
  o.exclude_network_devices = "^ifb";
  MetricBatch b = Collect(o);
  EXPECT_THAT(LabelValues(b, "node_network_receive_bytes_total", "device"), ElementsAre("lo", "eth0"));
  EXPECT_THAT(LabelValues(b, "node_network_receive_nohandler_total", "device"), ElementsAre("lo", "eth0"));
  // netclass has its own device filter in node_exporter (none by default): every device.
  EXPECT_THAT(LabelValues(b, "node_network_up", "device"), ElementsAre("eth0", "ifb0", "ifb1", "lo"));
}

TEST_F(HostCollectorRecorded, FileFd) {
  EXPECT_EQ(Value(batch_, "node_filefd_allocated"), 797);
  EXPECT_EQ(Value(batch_, "node_filefd_maximum"), 2466170);
  EXPECT_EQ(TypeOf(batch_, "node_filefd_allocated"), MetricType::kGauge);
  EXPECT_EQ(TypeOf(batch_, "node_filefd_maximum"), MetricType::kGauge);
}

TEST_F(HostCollectorRecorded, Pressure) {
  EXPECT_DOUBLE_EQ(Value(batch_, "node_pressure_cpu_waiting_seconds_total"), 5.522073);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_pressure_io_waiting_seconds_total"), 8.417285);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_pressure_io_stalled_seconds_total"), 8.184544);
  EXPECT_EQ(Value(batch_, "node_pressure_memory_waiting_seconds_total"), 0);
  EXPECT_EQ(Value(batch_, "node_pressure_memory_stalled_seconds_total"), 0);
  EXPECT_THAT(
      FamiliesWithPrefix(batch_, "node_pressure_"),
      UnorderedElementsAre("node_pressure_cpu_waiting_seconds_total", "node_pressure_io_waiting_seconds_total",
                           "node_pressure_io_stalled_seconds_total", "node_pressure_memory_waiting_seconds_total",
                           "node_pressure_memory_stalled_seconds_total"));
  for (const auto& n : FamiliesWithPrefix(batch_, "node_pressure_")) {
    EXPECT_EQ(TypeOf(batch_, n), MetricType::kCounter) << n;
  }
}

TEST_F(HostCollectorRecorded, SockStat) {
  EXPECT_THAT(
      FamiliesWithPrefix(batch_, "node_sockstat_"),
      UnorderedElementsAre("node_sockstat_sockets_used", "node_sockstat_TCP_inuse", "node_sockstat_TCP_orphan",
                           "node_sockstat_TCP_tw", "node_sockstat_TCP_alloc", "node_sockstat_TCP_mem",
                           "node_sockstat_TCP_mem_bytes", "node_sockstat_UDP_inuse", "node_sockstat_UDP_mem",
                           "node_sockstat_UDP_mem_bytes", "node_sockstat_UDPLITE_inuse", "node_sockstat_RAW_inuse",
                           "node_sockstat_FRAG_inuse", "node_sockstat_FRAG_memory", "node_sockstat_TCP6_inuse",
                           "node_sockstat_UDP6_inuse", "node_sockstat_UDPLITE6_inuse", "node_sockstat_RAW6_inuse",
                           "node_sockstat_FRAG6_inuse", "node_sockstat_FRAG6_memory"));
  for (const auto& n : FamiliesWithPrefix(batch_, "node_sockstat_")) {
    EXPECT_EQ(TypeOf(batch_, n), MetricType::kGauge) << n;
  }
  EXPECT_EQ(Value(batch_, "node_sockstat_sockets_used"), 12);
  EXPECT_EQ(Value(batch_, "node_sockstat_TCP_inuse"), 2);
  EXPECT_EQ(Value(batch_, "node_sockstat_TCP_alloc"), 2);
  EXPECT_EQ(Value(batch_, "node_sockstat_TCP_mem"), 242);  // pages
  EXPECT_EQ(Value(batch_, "node_sockstat_TCP_mem_bytes"), 242.0 * 4096);
  EXPECT_EQ(Value(batch_, "node_sockstat_UDP_mem_bytes"), 0);
}

TEST_F(HostCollectorRecorded, NetStatKeepsNodeExporterDefaultFields) {
  std::vector<std::string> expected = {"TcpExt_SyncookiesSent",
                                       "TcpExt_SyncookiesRecv",
                                       "TcpExt_SyncookiesFailed",
                                       "TcpExt_ListenOverflows",
                                       "TcpExt_ListenDrops",
                                       "TcpExt_TCPTimeouts",
                                       "TcpExt_TCPSynRetrans",
                                       "IpExt_InOctets",
                                       "IpExt_OutOctets",
                                       "Ip_Forwarding",
                                       "Icmp_InMsgs",
                                       "Icmp_InErrors",
                                       "Icmp_OutMsgs",
                                       "Tcp_ActiveOpens",
                                       "Tcp_PassiveOpens",
                                       "Tcp_CurrEstab",
                                       "Tcp_InSegs",
                                       "Tcp_OutSegs",
                                       "Tcp_RetransSegs",
                                       "Tcp_InErrs",
                                       "Tcp_OutRsts",
                                       "Udp_InDatagrams",
                                       "Udp_NoPorts",
                                       "Udp_InErrors",
                                       "Udp_OutDatagrams",
                                       "Udp_RcvbufErrors",
                                       "Udp_SndbufErrors",
                                       "UdpLite_InErrors",
                                       "Ip6_InOctets",
                                       "Ip6_OutOctets",
                                       "Icmp6_InMsgs",
                                       "Icmp6_InErrors",
                                       "Icmp6_OutMsgs",
                                       "Udp6_InDatagrams",
                                       "Udp6_NoPorts",
                                       "Udp6_InErrors",
                                       "Udp6_OutDatagrams",
                                       "Udp6_RcvbufErrors",
                                       "Udp6_SndbufErrors",
                                       "UdpLite6_InErrors"};
  for (auto& e : expected) e = "node_netstat_" + e;
  EXPECT_THAT(FamiliesWithPrefix(batch_, "node_netstat_"), UnorderedElementsAreArray(expected));
  for (const auto& n : expected) EXPECT_EQ(TypeOf(batch_, n), MetricType::kUntyped) << n;
  EXPECT_EQ(Value(batch_, "node_netstat_TcpExt_TCPTimeouts"), 2);
  EXPECT_EQ(Value(batch_, "node_netstat_IpExt_InOctets"), 45928435);
  EXPECT_EQ(Value(batch_, "node_netstat_IpExt_OutOctets"), 136793);
  EXPECT_EQ(Value(batch_, "node_netstat_Ip_Forwarding"), 2);
  EXPECT_EQ(Value(batch_, "node_netstat_Tcp_ActiveOpens"), 16);
  EXPECT_EQ(Value(batch_, "node_netstat_Tcp_InSegs"), 1150);
  EXPECT_EQ(Value(batch_, "node_netstat_Tcp_OutRsts"), 2);
  EXPECT_EQ(Value(batch_, "node_netstat_Udp_OutDatagrams"), 27);
  EXPECT_EQ(Value(batch_, "node_netstat_Ip6_OutOctets"), 880);
  EXPECT_EQ(Value(batch_, "node_netstat_Icmp6_OutMsgs"), 9);
  EXPECT_EQ(Value(batch_, "node_netstat_Icmp6_InErrors"), 1);
}

TEST_F(HostCollectorRecorded, UnameAndTime) {
  const MetricFamily* f = batch_.Find("node_uname_info");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, MetricType::kGauge);
  ASSERT_EQ(f->samples.size(), 1u);
  EXPECT_EQ(f->samples[0].value, 1);
  std::vector<std::string> names;
  for (const auto& l : f->samples[0].labels) names.push_back(l.name);
  EXPECT_THAT(names, ElementsAre("domainname", "machine", "nodename", "release", "sysname", "version"));
  EXPECT_EQ(f->samples[0].labels.Get("sysname"), "Linux");
  EXPECT_DOUBLE_EQ(Value(batch_, "node_time_seconds"), 1700000000.123);
  EXPECT_EQ(TypeOf(batch_, "node_time_seconds"), MetricType::kGauge);
}

// --- an odd kernel: no PSI, no /proc/1/mounts, escapes, 14/18/20-field diskstats ---

class HostCollectorOdd : public ::testing::Test {
 protected:
  void SetUp() override { batch_ = Collect(DefaultOptions(kTestdata + "/proc-odd", &fs_)); }
  FakeStatFs fs_;
  MetricBatch batch_;
};

TEST_F(HostCollectorOdd, MissingOptionalFilesAreNotErrors) {
  // No pressure/ (kernel without PSI) and no 1/mounts: nothing to report.
  EXPECT_THAT(batch_.errors(), IsEmpty());
  EXPECT_THAT(FamiliesWithPrefix(batch_, "node_pressure_"), IsEmpty());
}

TEST_F(HostCollectorOdd, Stat) {
  EXPECT_THAT(LabelValues(batch_, "node_cpu_guest_seconds_total", "cpu"), ElementsAre("0", "0", "1", "1", "2", "2"));
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("0", "idle")), 0.04);
  EXPECT_EQ(Value(batch_, "node_cpu_seconds_total", Cpu("0", "steal")), 0);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_cpu_guest_seconds_total", Cpu("1", "nice")), 1.0);
  EXPECT_EQ(Value(batch_, "node_intr_total"), 12345);
  EXPECT_EQ(batch_.Find("node_context_switches_total"), nullptr);  // "ctxt notanumber"
  EXPECT_EQ(batch_.Find("node_forks_total"), nullptr);
  EXPECT_EQ(Value(batch_, "node_procs_blocked"), 2);
}

TEST_F(HostCollectorOdd, FilesystemLabelsAreUnescaped) {
  std::vector<std::string> expected = {"/",
                                       "/mnt/my disk",
                                       "/mnt/tab\tsep",
                                       "/mnt/back\\slash",
                                       "/mnt/new\nline",
                                       "/mnt/nfs share",
                                       "/mnt/bad\\08escape",
                                       "/mnt/trailing\\04",
                                       "/mnt/nofreq",
                                       "/run",
                                       "/srv/data",
                                       "/media/usb"};
  EXPECT_EQ(fs_.calls, expected);  // /proc, /sys, /run/credentials/… and docker's overlay are excluded
  EXPECT_EQ(LabelValues(batch_, "node_filesystem_size_bytes", "mountpoint"), expected);
  EXPECT_EQ(Value(batch_, "node_filesystem_size_bytes", Fs("server:/export dir", "nfs4", "/mnt/nfs share")), 1000);
}

TEST_F(HostCollectorOdd, DiskStatsOfEveryFieldCount) {
  // sda1 and nvme0n1p1 are partitions, loop0 a loop device: excluded by default.
  EXPECT_THAT(LabelValues(batch_, "node_disk_reads_completed_total", "device"),
              ElementsAre("sda", "nvme0n1", "dm-0", "sdc", "mmcblk0"));
  // sda has the 11 pre-4.18 fields, mmcblk0 12, nvme0n1 all 17, sdc 2000 of which 17 are known.
  EXPECT_DOUBLE_EQ(Value(batch_, "node_disk_io_time_weighted_seconds_total", Dev("sda")), 0.011);
  EXPECT_FALSE(HasSeries(batch_, "node_disk_discards_completed_total", Dev("sda")));
  EXPECT_EQ(Value(batch_, "node_disk_discards_completed_total", Dev("mmcblk0")), 12);
  EXPECT_FALSE(HasSeries(batch_, "node_disk_discards_merged_total", Dev("mmcblk0")));
  EXPECT_THAT(LabelValues(batch_, "node_disk_flush_requests_total", "device"), ElementsAre("nvme0n1", "sdc"));
  EXPECT_EQ(Value(batch_, "node_disk_flush_requests_total", Dev("nvme0n1")), 116);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_disk_flush_requests_time_seconds_total", Dev("nvme0n1")), 0.117);
  EXPECT_EQ(Value(batch_, "node_disk_reads_completed_total", Dev("dm-0")), 18446744073709551615.0);
  EXPECT_EQ(FamiliesWithPrefix(batch_, "node_disk_").size(), 17u);
}

TEST_F(HostCollectorOdd, NetworkDevicesWithoutSysEntries) {
  EXPECT_THAT(LabelValues(batch_, "node_network_receive_bytes_total", "device"),
              ElementsAre("lo", "eth0", "wlan0", "br-1a2b", "docker0"));
  EXPECT_EQ(Value(batch_, "node_network_receive_bytes_total", Dev("eth0")), 123456789012.0);
  // netclass lists what /sys/class/net has (tests/testdata/sys), not /proc/net/dev's devices.
  EXPECT_THAT(LabelValues(batch_, "node_network_up", "device"), ElementsAre("eth0", "ifb0", "ifb1", "lo"));
  EXPECT_THAT(LabelValues(batch_, "node_network_mtu_bytes", "device"), ElementsAre("eth0", "ifb0", "ifb1", "lo"));
  EXPECT_THAT(LabelValues(batch_, "node_network_receive_nohandler_total", "device"), ElementsAre("lo", "eth0"));
}

TEST_F(HostCollectorOdd, MemSockAndNetStat) {
  EXPECT_EQ(Value(batch_, "node_memory_MemTotal_bytes"), 2097152);
  EXPECT_EQ(Value(batch_, "node_memory_HugePages_Total"), 4);
  EXPECT_EQ(batch_.Find("node_memory_Weird_bytes"), nullptr);
  EXPECT_EQ(Value(batch_, "node_filefd_maximum"), 9223372036854775807.0);
  EXPECT_EQ(Value(batch_, "node_sockstat_NEWPROTO_inuse"), 4);
  EXPECT_EQ(Value(batch_, "node_sockstat_TCP_mem_bytes"), 12.0 * 4096);
  EXPECT_EQ(batch_.Find("node_sockstat_RAW_inuse"), nullptr);
  EXPECT_THAT(FamiliesWithPrefix(batch_, "node_netstat_"),
              UnorderedElementsAre("node_netstat_TcpExt_SyncookiesSent", "node_netstat_TcpExt_ListenOverflows",
                                   "node_netstat_TcpExt_ListenDrops", "node_netstat_TcpExt_TCPTimeouts",
                                   "node_netstat_TcpExt_TCPSynRetrans", "node_netstat_Ip_Forwarding",
                                   "node_netstat_Tcp_ActiveOpens", "node_netstat_Tcp_PassiveOpens",
                                   "node_netstat_Tcp_CurrEstab", "node_netstat_Tcp_InErrs", "node_netstat_Ip6_InOctets",
                                   "node_netstat_Icmp6_InMsgs", "node_netstat_Udp6_InDatagrams",
                                   "node_netstat_Udp6_RcvbufErrors"));
  EXPECT_EQ(Value(batch_, "node_netstat_Tcp_CurrEstab"), 3);
}

// --- broken trees, built in a temporary copy of the recorded one ---

class HostCollectorBroken : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::temp_directory_path() / ("vigil_host_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(root_);
    std::filesystem::copy(kTestdata + "/proc", root_, std::filesystem::copy_options::recursive);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Replace(const std::string& relative, const std::string& content) {
    std::ofstream(root_ / relative, std::ios::binary | std::ios::trunc) << content;
  }
  MetricBatch CollectHere() { return Collect(DefaultOptions(root_.string(), &fs_)); }

  std::filesystem::path root_;
  FakeStatFs fs_;
};

TEST_F(HostCollectorBroken, UnreadableFileIsReadFailedAndTheRestIsKept) {
  // A directory where meminfo should be: open() works, read() fails with EISDIR.
  std::filesystem::remove(root_ / "meminfo");
  std::filesystem::create_directory(root_ / "meminfo");
  Status status;
  MetricBatch b = Collect(DefaultOptions(root_.string(), &fs_), &status);
  EXPECT_TRUE(status.ok());
  ASSERT_EQ(b.errors().size(), 1u);
  EXPECT_EQ(b.errors()[0].reason, "read_failed");
  EXPECT_THAT(b.errors()[0].detail, HasSubstr("meminfo"));
  EXPECT_THAT(FamiliesWithPrefix(b, "node_memory_"), IsEmpty());
  for (const char* n :
       {"node_cpu_seconds_total", "node_load1", "node_filesystem_size_bytes", "node_disk_reads_completed_total",
        "node_network_receive_bytes_total", "node_filefd_allocated", "node_pressure_cpu_waiting_seconds_total",
        "node_sockstat_TCP_inuse", "node_netstat_Tcp_InSegs", "node_uname_info", "node_time_seconds"}) {
    EXPECT_NE(b.Find(n), nullptr) << n;
  }
}

TEST_F(HostCollectorBroken, MissingRequiredFilesAreReadFailed) {
  for (const char* f :
       {"stat", "loadavg", "diskstats", "net/dev", "sys/fs/file-nr", "net/sockstat", "net/netstat", "net/snmp"}) {
    std::filesystem::remove(root_ / f);
  }
  MetricBatch b = CollectHere();
  EXPECT_EQ(ErrorReasons(b), std::vector<std::string>(8, "read_failed"));
  EXPECT_NE(b.Find("node_memory_MemTotal_bytes"), nullptr);
  EXPECT_NE(b.Find("node_filesystem_size_bytes"), nullptr);
  EXPECT_NE(b.Find("node_pressure_io_stalled_seconds_total"), nullptr);
  EXPECT_NE(b.Find("node_sockstat_TCP6_inuse"), nullptr);   // sockstat6 still read
  EXPECT_NE(b.Find("node_netstat_Ip6_InOctets"), nullptr);  // snmp6 still read
  EXPECT_EQ(b.Find("node_cpu_seconds_total"), nullptr);
  EXPECT_EQ(b.Find("node_netstat_Tcp_InSegs"), nullptr);
}

TEST_F(HostCollectorBroken, MissingOptionalFilesAreSilent) {
  // A kernel without PSI, without IPv6, and a PID 1 whose mounts we may not read.
  std::filesystem::remove_all(root_ / "pressure");
  std::filesystem::remove(root_ / "net/sockstat6");
  std::filesystem::remove(root_ / "net/snmp6");
  std::filesystem::remove_all(root_ / "1");
  MetricBatch b = CollectHere();
  EXPECT_THAT(b.errors(), IsEmpty());
  EXPECT_THAT(FamiliesWithPrefix(b, "node_pressure_"), IsEmpty());
  EXPECT_EQ(b.Find("node_sockstat_TCP6_inuse"), nullptr);
  EXPECT_EQ(b.Find("node_netstat_Ip6_InOctets"), nullptr);
  EXPECT_THAT(fs_.calls, ElementsAre("/", "/run"));  // from /proc/mounts instead
}

TEST_F(HostCollectorBroken, PidOneMountsArePreferred) {
  Replace("1/mounts", "/dev/vdb /host ext4 rw 0 0\n");
  MetricBatch b = CollectHere();
  EXPECT_THAT(fs_.calls, ElementsAre("/host"));
  EXPECT_TRUE(HasSeries(b, "node_filesystem_size_bytes", Fs("/dev/vdb", "ext4", "/host")));
}

TEST_F(HostCollectorBroken, NoMountsAtAllIsOneReadFailed) {
  std::filesystem::remove_all(root_ / "1");
  std::filesystem::remove(root_ / "mounts");
  MetricBatch b = CollectHere();
  ASSERT_EQ(ErrorReasons(b), std::vector<std::string>{"read_failed"});
  EXPECT_THAT(b.errors()[0].detail, HasSubstr("mounts"));
  EXPECT_THAT(FamiliesWithPrefix(b, "node_filesystem_"), IsEmpty());
}

TEST_F(HostCollectorBroken, MalformedLoadavgAndFileNrAreParseFailed) {
  Replace("loadavg", "garbage\n");
  Replace("sys/fs/file-nr", "1 2\n");
  MetricBatch b = CollectHere();
  EXPECT_THAT(ErrorReasons(b), ElementsAre("parse_failed", "parse_failed"));
  EXPECT_THAT(b.errors()[0].detail, HasSubstr("loadavg"));
  EXPECT_THAT(b.errors()[1].detail, HasSubstr("file-nr"));
  EXPECT_EQ(b.Find("node_load1"), nullptr);
  EXPECT_EQ(b.Find("node_filefd_allocated"), nullptr);
}

TEST_F(HostCollectorBroken, EmptyFilesGiveNoSamplesAndNoErrors) {
  for (const char* f :
       {"stat", "meminfo", "mounts", "1/mounts", "diskstats", "net/dev", "net/sockstat", "net/sockstat6", "net/netstat",
        "net/snmp", "net/snmp6", "pressure/cpu", "pressure/io", "pressure/memory"}) {
    Replace(f, "");
  }
  MetricBatch b = CollectHere();
  EXPECT_THAT(b.errors(), IsEmpty());
  EXPECT_THAT(fs_.calls, IsEmpty());
  EXPECT_THAT(FoundationNames(b),
              UnorderedElementsAre("node_load1", "node_load5", "node_load15", "node_filefd_allocated",
                                   "node_filefd_maximum", "node_uname_info", "node_time_seconds"));
}

TEST(HostCollector, NonexistentProcRootStillCollects) {
  FakeStatFs fs;
  Status status;
  MetricBatch b = Collect(DefaultOptions(kTestdata + "/no-such-proc", &fs), &status);
  EXPECT_TRUE(status.ok());
  // stat loadavg meminfo mounts diskstats net/dev file-nr sockstat netstat snmp
  EXPECT_EQ(ErrorReasons(b), std::vector<std::string>(10, "read_failed"));
  EXPECT_THAT(FoundationNames(b), UnorderedElementsAre("node_uname_info", "node_time_seconds"));
}

}  // namespace
}  // namespace vigil::collect

namespace vigil::collect {
namespace {

// The node_exporter default collectors of issue 19, on the recorded tree.
TEST_F(HostCollectorRecorded, NodeExporterDefaultCollectors) {
  // timex: adjtimex's microseconds and ppm·2^16 in node_exporter's units.
  EXPECT_EQ(Value(batch_, "node_timex_sync_status"), 0);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_timex_offset_seconds"), 0.0015);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_timex_frequency_adjustment_ratio"), 1.00005);
  EXPECT_EQ(Value(batch_, "node_timex_maxerror_seconds"), 16);
  EXPECT_EQ(Value(batch_, "node_timex_status"), 64);
  EXPECT_DOUBLE_EQ(Value(batch_, "node_timex_tick_seconds"), 0.01);
  EXPECT_EQ(Value(batch_, "node_timex_pps_calibration_total"), 3);
  EXPECT_EQ(TypeOf(batch_, "node_timex_pps_calibration_total"), MetricType::kCounter);
  EXPECT_EQ(FamiliesWithPrefix(batch_, "node_timex_").size(), 17u);
  // vmstat: node_exporter's default field set, untyped.
  EXPECT_THAT(
      FamiliesWithPrefix(batch_, "node_vmstat_"),
      UnorderedElementsAre("node_vmstat_oom_kill", "node_vmstat_pgfault", "node_vmstat_pgmajfault",
                           "node_vmstat_pgpgin", "node_vmstat_pgpgout", "node_vmstat_pswpin", "node_vmstat_pswpout"));
  EXPECT_EQ(TypeOf(batch_, "node_vmstat_pgfault"), MetricType::kUntyped);
  EXPECT_EQ(Value(batch_, "node_vmstat_pgmajfault"), 908);
  // netclass from /sys/class/net: what each device supports.
  EXPECT_EQ(Value(batch_, "node_network_speed_bytes", Dev("eth0")), -125000);  // speed -1: unknown
  EXPECT_EQ(LabelValues(batch_, "node_network_speed_bytes", "device"), std::vector<std::string>{"eth0"});
  EXPECT_THAT(LabelValues(batch_, "node_network_carrier", "device"), ElementsAre("eth0", "lo"));
  EXPECT_EQ(Value(batch_, "node_network_flags", Dev("eth0")), 4099);  // 0x1003
  EXPECT_EQ(Value(batch_, "node_network_protocol_type", Dev("lo")), 772);
  EXPECT_EQ(TypeOf(batch_, "node_network_carrier_changes_total"), MetricType::kCounter);
  EXPECT_EQ(Value(batch_, "node_network_info",
                  Labels{{"address", "02:fc:00:00:00:01"},
                         {"broadcast", "ff:ff:ff:ff:ff:ff"},
                         {"device", "eth0"},
                         {"duplex", "unknown"},
                         {"ifalias", ""},
                         {"operstate", "up"}}),
            1);
  EXPECT_EQ(Value(batch_, "node_network_receive_nohandler_total", Dev("eth0")), 0);
  // softnet per CPU, entropy, conntrack, arp, udp queues.
  EXPECT_THAT(LabelValues(batch_, "node_softnet_processed_total", "cpu"), ElementsAre("0", "1"));
  EXPECT_EQ(TypeOf(batch_, "node_softnet_dropped_total"), MetricType::kCounter);
  EXPECT_EQ(Value(batch_, "node_entropy_available_bits"), 256);
  EXPECT_EQ(Value(batch_, "node_entropy_pool_size_bits"), 256);
  EXPECT_EQ(Value(batch_, "node_nf_conntrack_entries_limit"), 262144);
  EXPECT_EQ(FamiliesWithPrefix(batch_, "node_nf_conntrack_stat_").size(), 8u);
  EXPECT_EQ(Value(batch_, "node_arp_entries", Dev("eth0")), 1);
  EXPECT_EQ(Value(batch_, "node_udp_queues", Labels{{"ip", "v6"}, {"queue", "rx"}}), 0);
  // Each part reports itself under node_exporter's collector name.
  for (const char* part : {"cpu",      "stat",   "loadavg",  "meminfo",  "filesystem", "diskstats", "netdev",
                           "netclass", "filefd", "pressure", "sockstat", "netstat",    "uname",     "time",
                           "timex",    "vmstat", "softnet",  "entropy",  "conntrack",  "arp",       "udp_queues"}) {
    EXPECT_EQ(Value(batch_, "node_scrape_collector_success", Labels{{"collector", part}}), 1) << part;
    EXPECT_GE(Value(batch_, "node_scrape_collector_duration_seconds", Labels{{"collector", part}}), 0) << part;
  }
}

TEST(HostCollector, PartsWithoutDataReportFailure) {
  FakeStatFs fs;
  HostCollectorOptions o = DefaultOptions(kTestdata + "/proc-odd", &fs);
  o.sys_root = kTestdata + "/no-such-sys";
  o.adjtimex = [] { return Result<Timex>(Status::Error("adjtimex: Operation not permitted")); };
  MetricBatch b = Collect(o);
  EXPECT_EQ(ErrorReasons(b), std::vector<std::string>{"adjtimex_failed"});
  for (const char* part : {"timex", "vmstat", "softnet", "conntrack", "arp", "netclass"}) {
    EXPECT_EQ(Value(b, "node_scrape_collector_success", Labels{{"collector", part}}), 0) << part;
  }
  EXPECT_EQ(Value(b, "node_scrape_collector_success", Labels{{"collector", "meminfo"}}), 1);
  EXPECT_THAT(FamiliesWithPrefix(b, "node_timex_"), IsEmpty());
}

}  // namespace
}  // namespace vigil::collect
