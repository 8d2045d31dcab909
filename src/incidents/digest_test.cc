#include "incidents/digest.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace vigil::incidents {
namespace {

// 2026-11-30T09:00:00Z, a Monday.
constexpr TimestampMs kMonday9 = 1'796'029'200'000;
constexpr int64_t kHourMs = 3600'000, kDayMs = 24 * kHourMs;

DigestInput Sample() {
  DigestInput in;
  in.range = {kMonday9 - 7 * kDayMs, kMonday9};
  in.host = "val-1";
  ServiceReport validator;
  validator.service = "validator";
  Availability a;
  a.from_ms = in.range.from_ms;
  a.to_ms = in.range.to_ms;
  a.up_ms = 7 * kDayMs - 3600'000 - 600'000;
  a.unplanned_ms = 600'000;  // 10 minutes
  a.planned_ms = 3600'000;   // an hour of maintenance
  validator.windows.push_back({"7d", Availability{}});
  validator.windows.push_back({"range", a});
  validator.slo = Slo{0.999, Duration(30 * kDayMs)};
  validator.budget = ErrorBudget{43200'000 * 0.999, 600'000, 0.75};
  ServiceReport bitcoind;
  bitcoind.service = "bitcoind";
  Availability b = a;
  b.up_ms = 7 * kDayMs;
  b.unplanned_ms = b.planned_ms = 0;
  bitcoind.windows.push_back({"range", b});
  in.uptime = {bitcoind, validator};

  in.incidents.push_back({"INC-3",
                          "bitcoind",
                          "ServiceDown",
                          "critical",
                          {"bitcoind", "titan", "validator"},
                          kMonday9 - 2 * kDayMs,
                          kMonday9 - 2 * kDayMs + 240'000,
                          45.5,
                          240.0});
  in.incidents.push_back({"INC-4",
                          "validator",
                          "ServiceDown",
                          "critical",
                          {"validator"},
                          kMonday9 - kDayMs,
                          0,
                          std::nullopt,
                          std::nullopt});

  ResourceForecast chain;
  chain.resource = "filesystem";
  chain.name = "/mnt/chain";
  chain.forecast = Forecast{};
  chain.forecast->seconds_to_full = 23 * 86400.0;
  chain.recommendation = "/mnt/chain fills in 23 days (14–35) at 4.1 GiB/day: grow it by 120 GiB";
  ResourceForecast memory;
  memory.resource = "memory";
  memory.name = "host";
  memory.forecast = Forecast{};
  memory.recommendation = "host memory: 5.8 GiB of 7.7 used, headroom 25%";
  in.capacity.resources = {memory, chain};

  in.certificates = {{"rpc.example.net:443 (validator)", kMonday9 / 1000.0 + 12 * 86400},
                     {"/etc/far.pem", kMonday9 / 1000.0 + 200 * 86400}};
  in.updates = {{"bitcoind", "26.0", "27.1"}};

  RuleQuality noisy;
  noisy.rule = "DiskLatencyHigh";
  noisy.severity = "warning";
  noisy.fired = 12;
  noisy.resolved = 12;
  noisy.flaps = 3;
  noisy.self_resolved = 9;
  noisy.mean_firing_seconds = 150;
  RuleQuality down;
  down.rule = "ServiceDown";
  down.severity = "critical";
  down.fired = 2;
  in.alert_quality.rules = {noisy, down};
  in.alert_quality.fired = 14;
  in.alert_quality.self_resolved = 9;
  return in;
}

TEST(DigestTest, MarkdownHasEverySection) {
  std::string md = DigestMarkdown(Sample());
  EXPECT_NE(md.find("*vigil digest for val-1, 2026-11-23 to 2026-11-30: lowest uptime validator 99.90%, 2 incidents, "
                    "/mnt/chain full in 23 days, 1 certificate expiring, 1 update available, 14 alerts fired*"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("From 2026-11-23 09:00 UTC to 2026-11-30 09:00 UTC."), std::string::npos) << md;
  // The uptime table: the range's window, not the rolling one; 10 minutes in 7 days.
  EXPECT_NE(md.find("SERVICE      UPTIME  UNPLANNED    PLANNED    UNKNOWN"), std::string::npos) << md;
  EXPECT_NE(md.find("validator   99.901%        10m         1h         0s"), std::string::npos) << md;
  EXPECT_NE(md.find("bitcoind   100.000%"), std::string::npos) << md;
  // Durations in whole seconds, two units at most.
  DigestInput odd = Sample();
  odd.uptime[1].windows[1].availability.unknown_ms = 7 * kDayMs - 3123;
  EXPECT_NE(DigestMarkdown(odd).find("        10m         1h      6d23h\n"), std::string::npos) << DigestMarkdown(odd);
  EXPECT_NE(md.find("- validator: SLO 99.90%, error budget 75% left"), std::string::npos) << md;
  EXPECT_NE(md.find("- INC-3 bitcoind (ServiceDown, critical) at 2026-11-28 09:00 UTC, lasted 4m; took down titan, "
                    "validator; MTTD 45.5s, MTTR 4m"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- INC-4 validator (ServiceDown, critical) at 2026-11-29 09:00 UTC, still open; MTTD -, MTTR -"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("Mean MTTD 45.5s (target < 2m), mean MTTR 4m (target < 5m)"), std::string::npos) << md;
  // vigil detects in milliseconds: under 10 s they are shown, not rounded to 0.0s.
  DigestInput fast = Sample();
  fast.incidents[0].mttd_seconds = 0.0123;
  fast.incidents[0].mttr_seconds = 2.0341;
  EXPECT_NE(DigestMarkdown(fast).find("MTTD 0.012s, MTTR 2.034s"), std::string::npos) << DigestMarkdown(fast);
  // The filesystem that fills first comes first.
  size_t chain = md.find("- /mnt/chain fills in 23 days"), memory = md.find("- host memory:");
  ASSERT_NE(chain, std::string::npos) << md;
  EXPECT_LT(chain, memory);
  EXPECT_NE(md.find("- certificate rpc.example.net:443 (validator) expires 2026-12-12 (in 12 days)"), std::string::npos)
      << md;
  EXPECT_EQ(md.find("/etc/far.pem"), std::string::npos) << "200 days out is no reminder yet";
  EXPECT_NE(md.find("- bitcoind: 27.1 is out (running 26.0)"), std::string::npos) << md;
  EXPECT_NE(md.find("- DiskLatencyHigh (warning): fired 12, flapped 3, resolved on its own 9 (75%), mean 2m30s"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- ServiceDown (critical): fired 2, flapped 0, resolved on its own 0 (0%)\n"), std::string::npos)
      << md;
  EXPECT_NE(md.find("False-positive proxy: 9 of 14 = 64.3% (target < 5%), ABOVE TARGET"), std::string::npos) << md;
  EXPECT_EQ(md.find("Nothing to report"), std::string::npos) << md;
  EXPECT_EQ(md.find("Could not be read"), std::string::npos) << md;
  // Short lines, for chat and mail; the headline (the subject and chat title) aside.
  size_t start = md.find('\n') + 1;
  while (start < md.size()) {
    size_t end = md.find('\n', start);
    EXPECT_LE(end - start, 130u) << md.substr(start, end - start);
    start = end + 1;
  }
}

TEST(DigestTest, EmptySectionsSayNothingToReport) {
  DigestInput in;
  in.range = {kMonday9 - 7 * kDayMs, kMonday9};
  in.errors.push_back("alert history: state.db is locked");
  std::string md = DigestMarkdown(in);
  EXPECT_NE(md.find("Nothing to report: no service is watched."), std::string::npos) << md;
  EXPECT_NE(md.find("Nothing to report: no incident in this range."), std::string::npos) << md;
  EXPECT_NE(md.find("Nothing to report: no resource has enough history"), std::string::npos) << md;
  EXPECT_NE(md.find("Nothing to report: no certificate expires within 30 days and no update is available."),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("Nothing to report: no alert fired in this range."), std::string::npos) << md;
  EXPECT_NE(md.find("*Could not be read*\n- alert history: state.db is locked"), std::string::npos) << md;
  EXPECT_EQ(DigestHeadline(in), "vigil digest, 2026-11-23 to 2026-11-30: 0 incidents, 0 alerts fired");
}

TEST(DigestTest, CapacityLinesAreBounded) {
  DigestInput in = Sample();
  in.capacity.resources.resize(12);
  DigestOptions o;
  o.max_capacity_lines = 3;
  std::string md = DigestMarkdown(in, o);
  EXPECT_NE(md.find("- … and 9 more (`vigil capacity`)"), std::string::npos) << md;
}

TEST(DigestTest, JsonCarriesTheSameFigures) {
  auto j = nlohmann::json::parse(DigestJson(Sample()));
  EXPECT_EQ(j["from"], "2026-11-23T09:00:00.000Z");
  EXPECT_EQ(j["uptime"].size(), 2u);
  EXPECT_EQ(j["uptime"][1]["service"], "validator");
  EXPECT_NEAR(j["uptime"][1]["ratio"].get<double>(), 1 - 600.0 / (7 * 86400 - 3600 * 0), 1e-9);
  EXPECT_EQ(j["uptime"][1]["unplanned_seconds"], 600);
  EXPECT_EQ(j["incidents"][0]["services"], nlohmann::json({"bitcoind", "titan", "validator"}));
  EXPECT_EQ(j["incidents"][0]["mttd_seconds"], 45.5);
  EXPECT_TRUE(j["incidents"][1]["end"].is_null());
  EXPECT_EQ(j["capacity"][0]["name"], "/mnt/chain");
  EXPECT_EQ(j["capacity"][0]["days_to_full"], 23);
  EXPECT_EQ(j["certificates"].size(), 1u);
  EXPECT_NEAR(j["certificates"][0]["days_left"].get<double>(), 12, 1e-9);
  EXPECT_EQ(j["updates"][0]["latest"], "27.1");
  EXPECT_EQ(j["noisiest_rules"][0]["rule"], "DiskLatencyHigh");
  EXPECT_EQ(j["alerts_fired"], 14);
}

TEST(DigestScheduleTest, ParsesWeekdayAndTime) {
  int wd = -1, minute = -1;
  ASSERT_TRUE(ParseWeekdayTime("Mon 09:00", &wd, &minute).ok());
  EXPECT_EQ(wd, 1);
  EXPECT_EQ(minute, 540);
  ASSERT_TRUE(ParseWeekdayTime("sunday 23:59", &wd, &minute).ok());
  EXPECT_EQ(wd, 0);
  EXPECT_EQ(minute, 23 * 60 + 59);
  for (const char* bad : {"", "Mon", "Mon 9:00", "Mon 24:00", "Mon 09:60", "Funday 09:00", "09:00 Mon", "Mo 09:00"}) {
    Status s = ParseWeekdayTime(bad, &wd, &minute);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("like \"Mon 09:00\""), std::string::npos) << s.message();
  }
}

DigestSchedule Monday9(const std::string& zone = "UTC") {
  DigestSchedule s;
  s.weekday = 1;
  s.minute_of_day = 540;
  auto tz = TimeZone::Load(zone);
  EXPECT_TRUE(tz.ok()) << tz.status().message();
  if (tz.ok()) s.zone = *tz;
  return s;
}

TEST(DigestScheduleTest, NextDueAfterTheLastSent) {
  DigestSchedule s = Monday9();
  // Never sent: not at once, at the next Monday 09:00.
  EXPECT_EQ(NextDigestDue(s, 0, kMonday9 - 1), kMonday9);
  EXPECT_EQ(NextDigestDue(s, 0, kMonday9), kMonday9 + 7 * kDayMs);
  EXPECT_EQ(NextDigestDue(s, 0, kMonday9 + 3 * kDayMs), kMonday9 + 7 * kDayMs);
  // Sent at 09:00:02: the next is a week on, however often it is asked (a restart repeats nothing).
  EXPECT_EQ(NextDigestDue(s, kMonday9 + 2000, kMonday9 + 5000), kMonday9 + 7 * kDayMs);
  EXPECT_EQ(NextDigestDue(s, kMonday9 + 2000, kMonday9 + 6 * kDayMs), kMonday9 + 7 * kDayMs);
  // Down over Monday 09:00: it is already due when vigil comes back (not skipped), and only once.
  TimestampMs back = kMonday9 + 7 * kDayMs + 5 * kHourMs;
  EXPECT_LE(NextDigestDue(s, kMonday9 + 2000, back), back);
  EXPECT_EQ(NextDigestDue(s, back, back), kMonday9 + 14 * kDayMs);
  // Weeks down: still one digest, not one per missed week.
  EXPECT_EQ(NextDigestDue(s, back + 30 * kDayMs, back + 30 * kDayMs) - (back + 30 * kDayMs) <= 7 * kDayMs, true);
}

TEST(DigestScheduleTest, FollowsTheZone) {
  // Monday 09:00 in Berlin is 08:00Z in winter (CET, +01:00).
  auto tz = TimeZone::Load("Europe/Berlin");
  if (!tz.ok()) GTEST_SKIP() << "no zoneinfo: " << tz.status().message();
  EXPECT_EQ(NextDigestDue(Monday9("Europe/Berlin"), 0, kMonday9 - 2 * kDayMs), kMonday9 - kHourMs);
  EXPECT_EQ(NextDigestDue(Monday9("+05:30"), 0, kMonday9 - 2 * kDayMs), kMonday9 - 5 * kHourMs - 30 * 60'000);
}

TEST(DigestLogTest, KeepsTheLastSentTimeAndRejectsABadRow) {
  std::string dir = std::filesystem::temp_directory_path() / ("digest_log_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = dir + "/state.db";
  {
    auto log = DigestLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status().message();
    auto last = (*log)->LastSent();
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(*last, 0);
    ASSERT_TRUE((*log)->SetLastSent(kMonday9).ok());
  }
  {
    auto log = DigestLog::Open(path);
    ASSERT_TRUE(log.ok());
    auto last = (*log)->LastSent();
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(*last, kMonday9);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE report_digest SET last_sent_ms = 'soon'", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto log = DigestLog::Open(path);
  ASSERT_TRUE(log.ok());
  auto last = (*log)->LastSent();
  ASSERT_FALSE(last.ok());
  EXPECT_NE(last.status().message().find("report_digest.last_sent_ms is not a time in milliseconds: \"soon\""),
            std::string::npos)
      << last.status().message();
  std::filesystem::remove_all(dir);
}

TEST(ReportRangeTest, DefaultsToTheLastWeekAndNamesTheParameter) {
  auto r = ParseReportRange("", "", kMonday9);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->from_ms, kMonday9 - 7 * kDayMs);
  EXPECT_EQ(r->to_ms, kMonday9);
  auto bad = ParseReportRange("yesterday", "", kMonday9);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().message().starts_with("from: ")) << bad.status().message();
  bad = ParseReportRange("", "nope", kMonday9);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().message().starts_with("to: ")) << bad.status().message();
  bad = ParseReportRange("2026-11-30T09:00:00Z", "2026-11-30T08:00:00Z", kMonday9);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "to: must be after from");
}

}  // namespace
}  // namespace vigil::incidents
