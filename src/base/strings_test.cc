#include "base/strings.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/labels.h"
#include "base/log.h"

namespace vigil {
namespace {

TEST(Strings, SplitFieldsDropsRuns) {
  auto f = SplitFields("  a \t b   c ");
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[2], "c");
  EXPECT_TRUE(SplitFields("   ").empty());
}

TEST(Strings, SplitKeepsEmpty) {
  auto f = Split("a,,b", ',');
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[1], "");
}

TEST(Strings, ParseNumbersStrictly) {
  EXPECT_EQ(*ParseDouble("1.5"), 1.5);
  EXPECT_EQ(*ParseDouble("+2"), 2);
  EXPECT_TRUE(std::isinf(*ParseDouble("+Inf")));
  EXPECT_TRUE(std::isinf(*ParseDouble("-Inf")) && *ParseDouble("-Inf") < 0);
  EXPECT_TRUE(std::isnan(*ParseDouble("NaN")));
  EXPECT_FALSE(ParseDouble("1.5x"));
  EXPECT_FALSE(ParseDouble(""));
  EXPECT_FALSE(ParseDouble("++1"));
  EXPECT_EQ(*ParseUint64("18446744073709551615"), 18446744073709551615ULL);
  EXPECT_FALSE(ParseUint64("18446744073709551616"));
  EXPECT_FALSE(ParseUint64("-1"));
  EXPECT_EQ(*ParseInt64("-1"), -1);
}

TEST(Strings, ForEachLineHandlesMissingFinalNewline) {
  std::vector<std::string> lines;
  ForEachLine("a\nb\n\nc", [&](std::string_view l) { lines.emplace_back(l); });
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b", "", "c"}));
}

TEST(Labels, SortedAndSettable) {
  Labels l{{"b", "2"}, {"a", "1"}};
  EXPECT_EQ(l.list()[0].name, "a");
  l.Set("c", "3");
  l.Set("a", "");
  EXPECT_EQ(l.size(), 2u);
  EXPECT_EQ(l.Get("c"), "3");
  EXPECT_EQ(l.Get("a"), "");
  EXPECT_TRUE(IsValidLabelName("_x1"));
  EXPECT_FALSE(IsValidLabelName("1x"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_TRUE(IsValidMetricName("a:b_total"));
  EXPECT_EQ((Labels{{"b", "x\"y\\z\nw"}, {"a", "1"}}).ToString(), "{a=\"1\", b=\"x\\\"y\\\\z\\nw\"}");
  EXPECT_EQ(Labels().ToString(), "{}");
}

TEST(Log, LogfmtQuotesAndEscapes) {
  std::string line = FormatLogLine("T", LogLevel::kWarn, "config reload failed", {{"err", "a \"b\"\nc"}, {"n", "1"}});
  EXPECT_EQ(line, "ts=T level=warn msg=\"config reload failed\" err=\"a \\\"b\\\"\\nc\" n=1");
}

}  // namespace
}  // namespace vigil
