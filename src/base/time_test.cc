#include "base/time.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(ParseDuration, AcceptsPrometheusUnits) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("15s")->count(), 15000);
  EXPECT_EQ(ParseDuration("5m")->count(), 300000);
  EXPECT_EQ(ParseDuration("1h")->count(), 3600000);
  EXPECT_EQ(ParseDuration("7d")->count(), 7LL * 86400000);
  EXPECT_EQ(ParseDuration("2w")->count(), 14LL * 86400000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5400000);
  EXPECT_EQ(ParseDuration("0")->count(), 0);
}

TEST(ParseDuration, RejectsWithReason) {
  for (const char* bad : {"", "15", "15x", "s", "1m1h", "1s1s", "-5s", "1.5s", "99999999999999999999y"}) {
    Result<Duration> d = ParseDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
    EXPECT_FALSE(d.status().message().empty()) << bad;
  }
  EXPECT_NE(ParseDuration("15x").status().message().find("unknown unit \"x\""), std::string::npos);
}

TEST(FormatDuration, RoundTrips) {
  for (const char* text : {"500ms", "15s", "1m30s", "1d2h", "1w", "0s"}) {
    EXPECT_EQ(FormatDuration(*ParseDuration(text)), text);
  }
}

TEST(ParseByteSize, Units) {
  EXPECT_EQ(*ParseByteSize("1024"), 1024u);
  EXPECT_EQ(*ParseByteSize("512MiB"), 512ULL << 20);
  EXPECT_EQ(*ParseByteSize("20GiB"), 20ULL << 30);
  EXPECT_EQ(*ParseByteSize("1GB"), 1ULL << 30);
  EXPECT_FALSE(ParseByteSize("12XB").ok());
  EXPECT_FALSE(ParseByteSize("GiB").ok());
  EXPECT_FALSE(ParseByteSize("99999999999PiB").ok());
}

TEST(ParseTime, UnixSecondsAndRfc3339) {
  EXPECT_EQ(*ParseTime("1700000000"), 1700000000000);
  EXPECT_EQ(*ParseTime("1700000000.25"), 1700000000250);
  EXPECT_EQ(*ParseTime("2023-11-14T22:13:20Z"), 1700000000000);
  EXPECT_EQ(*ParseTime("2023-11-14T23:13:20.5+01:00"), 1700000000500);
  EXPECT_EQ(FormatTime(1700000000500), "2023-11-14T22:13:20.500Z");
  for (const char* bad : {"", "abc", "2023-11-14", "2023-13-14T00:00:00Z", "2023-11-14T00:00:00", "1e400"}) {
    EXPECT_FALSE(ParseTime(bad).ok()) << bad;
  }
}

TEST(AlignDown, FloorsNegativeTimesToo) {
  EXPECT_EQ(AlignDown(7199999, 3600000), 3600000);
  EXPECT_EQ(AlignDown(3600000, 3600000), 3600000);
  EXPECT_EQ(AlignDown(-1, 3600000), -3600000);
  EXPECT_EQ(StepIndex(-3600000, 3600000), -1);
  EXPECT_EQ(StepIndex(-3600001, 3600000), -2);
}

TEST(FakeClock, AdvancesOnlyWhenTold) {
  FakeClock c(1000);
  EXPECT_EQ(c.NowMs(), 1000);
  c.Advance(Duration(250));
  EXPECT_EQ(c.NowMs(), 1250);
}

}  // namespace
}  // namespace vigil
