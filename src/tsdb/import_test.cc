#include "tsdb/import.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/testing/temp_dir.h"

namespace vigil::tsdb {
namespace {

using testing::TempDir;

Labels Named(const std::string& name) { return Labels::FromUnsorted({{"__name__", name}}); }

TEST(ImportSpill, WindowsComeBackSortedWithRepeatsDroppedAndFilesGone) {
  TempDir dir;
  const std::string spill_dir = dir.path() + "/spill.tmp";
  std::vector<Labels> labels = {Named("a"), Named("b")};
  {
    // A 100-byte budget: nearly every Add writes the buffers out, so each
    // window is read back from its file and its buffer together.
    ImportSpill spill(spill_dir, 1000, 100);
    ASSERT_TRUE(spill.Add(0, 2500, 25).ok());
    ASSERT_TRUE(spill.Add(1, 10, 1).ok());
    ASSERT_TRUE(spill.Add(0, 900, 9).ok());
    ASSERT_TRUE(spill.Add(0, 100, 1).ok());
    ASSERT_TRUE(spill.Add(0, 900, 99).ok());  // a repeat: the first value stays
    ASSERT_TRUE(spill.Add(0, 2000, 20).ok());
    ASSERT_TRUE(spill.Add(0, -500, -5).ok());  // before the epoch: its own window
    EXPECT_EQ(spill.samples(), 7u);
    EXPECT_EQ(spill.Windows(), (std::vector<TimestampMs>{-1000, 0, 2000}));
    EXPECT_TRUE(std::filesystem::exists(spill_dir));

    uint64_t repeats = 0;
    auto w0 = spill.TakeWindow(0, labels, &repeats);
    ASSERT_TRUE(w0.ok()) << w0.status().message();
    ASSERT_EQ(w0->size(), 2u);
    EXPECT_EQ((*w0)[0].labels, labels[0]);
    EXPECT_EQ((*w0)[0].t, (std::vector<TimestampMs>{100, 900}));
    EXPECT_EQ((*w0)[0].v, (std::vector<double>{1, 9}));
    EXPECT_EQ((*w0)[1].labels, labels[1]);
    EXPECT_EQ((*w0)[1].t, (std::vector<TimestampMs>{10}));
    EXPECT_EQ(repeats, 1u);
    EXPECT_FALSE(std::filesystem::exists(spill_dir + "/0.spill"));
    EXPECT_EQ(spill.Windows(), (std::vector<TimestampMs>{-1000, 2000}));

    auto w2 = spill.TakeWindow(2000, labels, &repeats);
    ASSERT_TRUE(w2.ok());
    ASSERT_EQ(w2->size(), 1u);
    EXPECT_EQ((*w2)[0].t, (std::vector<TimestampMs>{2000, 2500}));
    EXPECT_EQ((*w2)[0].v, (std::vector<double>{20, 25}));
    auto none = spill.TakeWindow(5000, labels, &repeats);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
  }
  EXPECT_FALSE(std::filesystem::exists(spill_dir));  // the last window was never taken
}

TEST(ImportSpill, AnUnknownSeriesNumberIsAnError) {
  TempDir dir;
  ImportSpill spill(dir.path() + "/spill.tmp", 1000);
  ASSERT_TRUE(spill.Add(3, 1, 1).ok());
  uint64_t repeats = 0;
  auto w = spill.TakeWindow(0, {Named("a")}, &repeats);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("unknown series number"), std::string::npos) << w.status().message();
}

TEST(SortByTime, StableAndKeepsTheFirstOfRepeats) {
  std::vector<TimestampMs> t = {5, 1, 5, 3, 1};
  std::vector<double> v = {50, 10, 51, 30, 11};
  EXPECT_EQ(SortByTime(t, v), 2u);
  EXPECT_EQ(t, (std::vector<TimestampMs>{1, 3, 5}));
  EXPECT_EQ(v, (std::vector<double>{10, 30, 50}));
  EXPECT_EQ(SortByTime(t, v), 0u);
}

}  // namespace
}  // namespace vigil::tsdb
