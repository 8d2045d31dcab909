// The textfile collector on real files in a temporary directory: what
// node_exporter exposes, and every kind of bad file skipped with its reason.
#include "collect/textfile/textfile_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "base/testing/temp_dir.h"

namespace vigil::collect {
namespace {

using ::testing::HasSubstr;

struct Outcome {
  MetricBatch batch;
  Status status;
};

Outcome Collect(const std::string& dir) {
  Outcome r;
  r.status = NewTextfileCollector({dir})->Collect(CollectContext{}, r.batch);
  return r;
}

const Sample* Find(const MetricBatch& b, const std::string& name, const Labels& labels = {}) {
  const MetricFamily* f = b.Find(name);
  if (!f) return nullptr;
  for (const auto& s : f->samples) {
    if (s.labels == labels) return &s;
  }
  return nullptr;
}

std::string Errors(const MetricBatch& b) {
  std::string out;
  for (const auto& e : b.errors()) out += e.reason + " " + e.target + ": " + e.detail + "\n";
  return out;
}

TEST(TextfileCollector, ExposesFilesWithTypesAndMtime) {
  testing::TempDir dir;
  std::string path = dir.Write("backup.prom",
                               "# HELP backup_last_success_timestamp_seconds When the backup last succeeded.\n"
                               "# TYPE backup_last_success_timestamp_seconds gauge\n"
                               "backup_last_success_timestamp_seconds{target=\"chain\"} 1.7e9\n"
                               "# TYPE backup_runs_total counter\n"
                               "backup_runs_total 42\n"
                               "# TYPE backup_seconds histogram\n"
                               "backup_seconds_bucket{le=\"+Inf\"} 3\n"
                               "backup_seconds_count 3\n");
  dir.Write("notes.txt", "not a metric file\n");
  Outcome r = Collect(dir.path());
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Errors(r.batch), "");
  const Sample* s = Find(r.batch, "backup_last_success_timestamp_seconds", Labels{{"target", "chain"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 1.7e9);
  EXPECT_EQ(r.batch.Find("backup_last_success_timestamp_seconds")->type, MetricType::kGauge);
  EXPECT_EQ(r.batch.Find("backup_last_success_timestamp_seconds")->help, "When the backup last succeeded.");
  EXPECT_EQ(r.batch.Find("backup_runs_total")->type, MetricType::kCounter);
  EXPECT_EQ(r.batch.Find("backup_seconds_bucket")->type, MetricType::kUntyped);
  ASSERT_NE(Find(r.batch, "node_textfile_mtime_seconds", Labels{{"file", path}}), nullptr);
  EXPECT_GT(Find(r.batch, "node_textfile_mtime_seconds", Labels{{"file", path}})->value, 1.6e9);
  EXPECT_EQ(Find(r.batch, "node_textfile_scrape_error")->value, 0);
  EXPECT_EQ(r.batch.Find("not"), nullptr);
}

TEST(TextfileCollector, BadFilesAreSkippedWithTheirReason) {
  testing::TempDir dir;
  dir.Write("a_good.prom", "good 1\n");
  std::string broken = dir.Write("b_broken.prom", "fine 1\nbroken{ 2\n");
  std::string stamped = dir.Write("c_stamped.prom", "stamped 1 1700000000000\n");
  std::string dup = dir.Write("d_dup.prom", "good 2\nother 3\n");
  std::string garbage = dir.Write("e_garbage.prom", std::string("\x00\xff\xfe binary", 10));
  Outcome r = Collect(dir.path());
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Find(r.batch, "good")->value, 1);
  // A file with an error contributes nothing, not even its good lines.
  EXPECT_EQ(r.batch.Find("fine"), nullptr);
  EXPECT_EQ(r.batch.Find("stamped"), nullptr);
  EXPECT_EQ(r.batch.Find("other"), nullptr);
  std::string errors = Errors(r.batch);
  EXPECT_THAT(errors, HasSubstr("parse_error " + broken + ": line 2:"));
  EXPECT_THAT(errors, HasSubstr("parse_error " + stamped + ": line 1: metric stamped has a client-side timestamp"));
  EXPECT_THAT(errors, HasSubstr("duplicate_series " + dup + ": good{} is defined twice"));
  EXPECT_THAT(errors, HasSubstr("parse_error " + garbage));
  EXPECT_EQ(Find(r.batch, "node_textfile_scrape_error")->value, 1);
  EXPECT_EQ(Find(r.batch, "node_textfile_mtime_seconds", Labels{{"file", broken}}), nullptr);
}

TEST(TextfileCollector, MissingDirectoryIsAnErrorNotACrash) {
  Outcome r = Collect("/nonexistent/vigil-textfile");
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(Errors(r.batch), HasSubstr("read_failed /nonexistent/vigil-textfile: cannot list the directory"));
  EXPECT_EQ(Find(r.batch, "node_textfile_scrape_error")->value, 1);
}

}  // namespace
}  // namespace vigil::collect
