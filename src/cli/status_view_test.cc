#include "cli/status_view.h"

#include <gtest/gtest.h>

namespace vigil::cli {
namespace {

using status::ServiceState;

// Display columns: bytes that start a UTF-8 character, outside ANSI sequences.
int Columns(const std::string& line) {
  int cols = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b') {  // ESC [ params final
      i += 2;
      while (i < line.size() && !(line[i] >= '@' && line[i] <= '~')) ++i;
      continue;
    }
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) ++cols;
  }
  return cols;
}

status::Snapshot Sample() {
  status::Snapshot s;
  s.time = 1'700'000'000;
  s.overall = status::Overall::kCritical;
  s.host.name = "validator-host-with-a-rather-long-name-01.example.org";
  s.host.cpu_busy_ratio = 0.123;
  s.host.load1 = 0.52;
  s.host.cpus = 8;
  s.host.memory_total_bytes = 16.0 * (1ULL << 30);
  s.host.memory_available_bytes = 4.0 * (1ULL << 30);
  s.host.filesystems.push_back(
      {"/var/lib/bitcoind-with-a-long-mountpoint", "/dev/nvme0n1p3", "ext4", 2e12, 2e11, 0.9, 5e5, 4e5});
  status::Service b;
  b.name = "bitcoind";
  b.units = {"bitcoind.service"};
  b.state = ServiceState::kUp;
  b.since = s.time - 3 * 86400 - 4 * 3600;
  b.uptime_24h = 1;
  b.uptime_30d = 0.9996;
  b.health = {{"ibd", 0, "no"},     {"blocks", 812345, "812345"}, {"headers", 812345, "812345"},
              {"sync_lag", 0, "0"}, {"peers", 10, "10"},          {"last_slot", 1, "123456789012"}};
  s.services.push_back(b);
  status::Service v;
  v.name = "validator";
  v.state = ServiceState::kDown;
  v.since = s.time - 125;
  v.alerts = {1, 0, 0, 0};
  s.services.push_back(v);
  status::Service t;
  t.name = "titan";
  t.state = ServiceState::kRecovering;
  s.services.push_back(t);
  s.alerts.counts = {1, 0, 2, 1};
  s.alerts.pending = 1;
  s.alerts.firing.push_back({"ValidatorDown",
                             "P0",
                             "critical",
                             "validator",
                             s.time - 120,
                             "The validator unit is not active and a very long summary follows here, on and on",
                             {}});
  s.alerts.firing.push_back(
      {"DiskFillingUp", "P2", "warning", std::nullopt, s.time - 7200, "ünïcödé summary", {}, /*silenced=*/true});
  return s;
}

TEST(StatusView, FitsEightyColumnsWithAndWithoutColour) {
  for (bool color : {false, true}) {
    ViewOptions o;
    o.width = 80;
    o.color = color;
    auto s = Sample();
    std::vector<std::vector<std::string>> views{RenderStatus(s, o),
                                                RenderServicesPane(s, o),
                                                RenderAlertsPane(s, o, 1),
                                                RenderHostPane(s, o),
                                                {RenderHeadline(s, o)}};
    for (const auto& view : views) {
      for (const auto& line : view) EXPECT_LE(Columns(line), 80) << (color ? "colour: " : "plain: ") << line;
    }
  }
}

TEST(StatusView, NoEscapeBytesWithoutColour) {
  ViewOptions o;
  o.color = false;
  auto s = Sample();
  for (const auto& view : {RenderStatus(s, o), RenderAlertsPane(s, o, 0), RenderHostPane(s, o)}) {
    for (const auto& line : view) EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  }
}

TEST(StatusView, ColourNeverCarriesMeaningAlone) {
  ViewOptions plain, colored;
  colored.color = true;
  auto s = Sample();
  auto text = [](const std::vector<std::string>& lines) {
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    return all;
  };
  std::string p = text(RenderStatus(s, plain)), c = text(RenderStatus(s, colored));
  EXPECT_NE(c.find('\x1b'), std::string::npos);
  for (const char* word : {"CRITICAL", "x DOWN", "+ up", "> RECOVERING", "[P0]", "[P2]"}) {
    EXPECT_NE(p.find(word), std::string::npos) << word << " in\n" << p;
  }
  // The colourless text is the coloured one without its escape sequences.
  std::string stripped;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i] == '\x1b') {
      while (c[i] != 'm') ++i;
      continue;
    }
    stripped += c[i];
  }
  EXPECT_EQ(stripped, p);
}

TEST(StatusView, ShowsServicesHealthUptimeAndHost) {
  ViewOptions o;
  o.width = 200;
  o.now = 1'700'000'000;
  std::string all;
  for (const auto& l : RenderStatus(Sample(), o)) all += l + "\n";
  EXPECT_NE(all.find("bitcoind"), std::string::npos);
  EXPECT_NE(all.find("3d4h"), std::string::npos);  // up since
  EXPECT_NE(all.find("2m"), std::string::npos);    // down since
  EXPECT_NE(all.find("100%"), std::string::npos);
  EXPECT_NE(all.find("99.9%"), std::string::npos);  // 99.96% is not 100%
  EXPECT_NE(all.find("blocks 812345"), std::string::npos);
  EXPECT_NE(all.find("ibd no"), std::string::npos);
  EXPECT_NE(all.find("last_slot 123456789012"), std::string::npos);
  EXPECT_NE(all.find("12.3% busy"), std::string::npos);
  EXPECT_NE(all.find("8 cpus"), std::string::npos);
  EXPECT_NE(all.find("75% used"), std::string::npos);
  EXPECT_NE(all.find("+1.7 GiB/h"), std::string::npos);  // 5e5 B/s
  EXPECT_NE(all.find("full in 4d15h"), std::string::npos);
  EXPECT_NE(all.find("P0 1  P1 0  P2 2  P3 1  pending 1"), std::string::npos);
  EXPECT_NE(all.find("(silenced) ünïcödé summary"), std::string::npos);
  EXPECT_EQ(all.find("(silenced) The validator"), std::string::npos);
}

TEST(StatusView, ControlCharactersFromDataNeverReachTheTerminal) {
  auto s = Sample();
  s.host.name = "evil\x1b]0;title\x07";
  s.services[0].name = "svc\x1b[2J";
  s.services[0].health.push_back({"x\x1b[31m", 1,
                                  "\xc2\x9b"
                                  "31m"});  // C1 CSI as UTF-8
  s.alerts.firing[0].summary = "line1\nline2\x1b[H";
  s.alerts.firing[0].name =
      "A\x1b"
      "B";
  ViewOptions o;
  o.width = 300;
  for (const auto& view : {RenderStatus(s, o), RenderServicesPane(s, o), RenderAlertsPane(s, o, 0)}) {
    for (const auto& line : view) {
      EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
      EXPECT_EQ(line.find('\n'), std::string::npos) << line;
      EXPECT_EQ(line.find("\xc2\x9b"), std::string::npos) << line;
    }
  }
  std::string all;
  for (const auto& l : RenderStatus(s, o)) all += l + "\n";
  EXPECT_NE(all.find("line1?line2?[H"), std::string::npos) << all;
}

TEST(StatusView, OverviewPaneHasServicesTopAlertsAndHost) {
  ViewOptions o;
  std::string all;
  for (const auto& l : RenderServicesPane(Sample(), o)) all += l + "\n";
  EXPECT_NE(all.find("x DOWN"), std::string::npos) << all;
  EXPECT_NE(all.find("[P0] ValidatorDown"), std::string::npos) << all;
  EXPECT_NE(all.find("memory"), std::string::npos) << all;
}

TEST(StatusView, TimeToFullIsWholeAtEightyColumns) {
  ViewOptions o;  // 80 columns
  auto s = Sample();
  s.host.filesystems[0].full_in_seconds = 999 * 86400 + 23 * 3600;
  s.host.filesystems[0].fill_bytes_per_second = 1023.0 * (1 << 20) / 3600;
  std::string all;
  for (const auto& l : RenderHostPane(s, o)) all += l + "\n";
  EXPECT_NE(all.find("+1023 MiB/h full in 999d23h\n"), std::string::npos) << all;
}

TEST(StatusView, AlertsPaneMarksTheSelection) {
  ViewOptions o;
  auto lines = RenderAlertsPane(Sample(), o, 1);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2].rfind("  [P0] ValidatorDown", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("> [P2] DiskFillingUp", 0), 0u) << lines[3];
}

TEST(StatusView, FitWidthCountsColumnsNotBytes) {
  EXPECT_EQ(FitWidth("abcdef", 3), "abc");
  EXPECT_EQ(FitWidth("\x1b[31mabcdef\x1b[0m", 3), "\x1b[31mabc\x1b[0m");
  EXPECT_EQ(FitWidth("ü12", 2), "ü1");
  EXPECT_EQ(FitWidth("short", 80), "short");
}

TEST(StatusView, Formats) {
  EXPECT_EQ(FormatAge(42), "42s");
  EXPECT_EQ(FormatAge(125), "2m");
  EXPECT_EQ(FormatAge(3 * 3600 + 12 * 60), "3h12m");
  EXPECT_EQ(FormatAge(2 * 86400 + 4 * 3600), "2d4h");
  EXPECT_EQ(FormatAge(-1), "-");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(100.0 * (1 << 30)), "100 GiB");
  EXPECT_EQ(FormatRatio(std::nullopt), "-");
  EXPECT_EQ(FormatRatio(0.5), "50%");
  EXPECT_EQ(FormatRatio(0.12345), "12.3%");
  EXPECT_EQ(ExitCodeFor(status::Overall::kHealthy), 0);
  EXPECT_EQ(ExitCodeFor(status::Overall::kWarning), 1);
  EXPECT_EQ(ExitCodeFor(status::Overall::kCritical), 2);
}

}  // namespace
}  // namespace vigil::cli
