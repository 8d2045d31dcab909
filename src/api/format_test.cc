#include "api/format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace vigil::api {
namespace {

TEST(FormatSampleValue, LikeGoFormatFloat) {
  EXPECT_EQ(FormatSampleValue(1.5), "1.5");
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(-0.0), "-0");
  EXPECT_EQ(FormatSampleValue(100), "100");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatSampleValue(123456789012345680.0), "123456789012345680");
  EXPECT_EQ(FormatSampleValue(0.000001), "0.000001");
  EXPECT_EQ(FormatSampleValue(1e-7), "1e-07");
  EXPECT_EQ(FormatSampleValue(-2.5e-9), "-2.5e-09");
  EXPECT_EQ(FormatSampleValue(1e21), "1e+21");
  EXPECT_EQ(FormatSampleValue(1e20), "100000000000000000000");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(FormatTimestamp, SecondsWithMilliseconds) {
  EXPECT_EQ(FormatTimestamp(1700000000000), "1700000000");
  EXPECT_EQ(FormatTimestamp(1700000000123), "1700000000.123");
  EXPECT_EQ(FormatTimestamp(1700000000500), "1700000000.500");
  EXPECT_EQ(FormatTimestamp(1700000000007), "1700000000.007");
  EXPECT_EQ(FormatTimestamp(1700000000050), "1700000000.050");
  EXPECT_EQ(FormatTimestamp(0), "0");
  EXPECT_EQ(FormatTimestamp(-1500), "-1.500");
}

TEST(FormatTimestampAsFloat, GoFloat) {
  EXPECT_EQ(FormatTimestampAsFloat(1700000000500), "1700000000.5");
  EXPECT_EQ(FormatTimestampAsFloat(1700000000000), "1700000000");
  EXPECT_EQ(FormatTimestampAsFloat(1700000000001), "1700000000.001");
}

TEST(AppendJsonString, EscapesLikeGo) {
  std::string out;
  AppendJsonString(&out, "a\"b\\c\nd\te<f>&\x01");
  EXPECT_EQ(out, R"("a\"b\\c\nd\te\u003cf\u003e\u0026\u0001")");
  out.clear();
  AppendJsonString(&out, "caf\xc3\xa9 \xff x");
  EXPECT_EQ(out, "\"caf\xc3\xa9 \\ufffd x\"");
}

TEST(ParseTimeParam, UnixSecondsAndRfc3339) {
  EXPECT_EQ(*ParseTimeParam("1700000000"), 1700000000000);
  EXPECT_EQ(*ParseTimeParam("1700000000.123"), 1700000000123);
  EXPECT_EQ(*ParseTimeParam("1700000000.1234"), 1700000000123);
  EXPECT_EQ(*ParseTimeParam("1.7e9"), 1700000000000);
  EXPECT_EQ(*ParseTimeParam("2023-11-14T22:13:20Z"), 1700000000000);
  EXPECT_EQ(*ParseTimeParam("2023-11-14T22:13:20.123Z"), 1700000000123);
  EXPECT_EQ(*ParseTimeParam("2023-11-14T22:13:20.123456789Z"), 1700000000123);
  EXPECT_EQ(*ParseTimeParam("2023-11-14T23:13:20+01:00"), 1700000000000);
  Result<TimestampMs> bad = ParseTimeParam("yesterday");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "cannot parse \"yesterday\" to a valid timestamp");
  EXPECT_FALSE(ParseTimeParam("").ok());
  EXPECT_FALSE(ParseTimeParam("NaN").ok());
}

TEST(ParseDurationParam, SecondsOrDuration) {
  EXPECT_EQ(ParseDurationParam("15")->count(), 15000);
  EXPECT_EQ(ParseDurationParam("0.5")->count(), 500);
  EXPECT_EQ(ParseDurationParam("15s")->count(), 15000);
  EXPECT_EQ(ParseDurationParam("1m30s")->count(), 90000);
  Result<Duration> bad = ParseDurationParam("fast");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "cannot parse \"fast\" to a valid duration");
  EXPECT_FALSE(ParseDurationParam("1e300").ok());
}

TEST(ErrorMapping, StatusCodesAndTypes) {
  using promql::ErrorKind;
  EXPECT_EQ(HttpStatus(ErrorKind::kBadData), 400);
  EXPECT_EQ(ErrorTypeName(ErrorKind::kBadData), "bad_data");
  EXPECT_EQ(HttpStatus(ErrorKind::kExecution), 422);
  EXPECT_EQ(ErrorTypeName(ErrorKind::kExecution), "execution");
  EXPECT_EQ(HttpStatus(ErrorKind::kTooManySamples), 422);
  EXPECT_EQ(ErrorTypeName(ErrorKind::kTooManySamples), "execution");
  EXPECT_EQ(HttpStatus(ErrorKind::kTimeout), 503);
  EXPECT_EQ(ErrorTypeName(ErrorKind::kTimeout), "timeout");
}

}  // namespace
}  // namespace vigil::api
