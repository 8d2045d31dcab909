#include "collect/storage_sink.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/testing/temp_dir.h"

namespace vigil::collect {
namespace {

using testing::TempDir;

struct Stored {
  Labels labels;
  std::vector<double> values;
};

std::vector<Stored> Select(tsdb::DB& db, const char* name) {
  auto q = db.NewQuerier(0, 1LL << 50);
  auto r = q->Select({*tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, "__name__", name)});
  EXPECT_TRUE(r.ok());
  std::vector<Stored> out;
  for (const auto& s : *r) {
    Stored st{s->labels(), {}};
    auto it = s->Iterator();
    while (it->Next()) st.values.push_back(it->v());
    out.push_back(std::move(st));
  }
  return out;
}

class StorageSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tsdb::Options o;
    o.dir = dir_.path();
    auto db = tsdb::DB::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
  }
  TargetLabels Targets() {
    TargetLabels t;
    t.instance = "node1";
    t.default_job = "vigil";
    t.collectors["host"] = {"node", true};
    t.collectors["textfile"] = {"node", false};
    t.collectors["scrape/app"] = {"", false};
    return t;
  }
  TempDir dir_;
  std::unique_ptr<tsdb::DB> db_;
};

// Stored series carry job and instance as a Prometheus scrape would add them.
TEST_F(StorageSinkTest, AddsTargetLabelsAndUp) {
  StorageSink sink(db_.get(), Targets());
  MetricBatch host;
  host.AddGauge("node_load1", "", {}, 0.5);
  sink.Consume("host", host, 1000);
  MetricBatch probe;
  probe.AddGauge("vigil_probe_success", "", {{"service", "btc"}}, 1);
  sink.Consume("probe/btc/rpc", probe, 1000);
  sink.Failed("host", 2000);

  auto load = Select(*db_, "node_load1");
  ASSERT_EQ(load.size(), 1u);
  EXPECT_EQ(load[0].labels, (Labels{{"__name__", "node_load1"}, {"instance", "node1"}, {"job", "node"}}));
  auto probe_series = Select(*db_, "vigil_probe_success");
  ASSERT_EQ(probe_series.size(), 1u);
  EXPECT_EQ(probe_series[0].labels.Get("job"), "vigil");
  auto up = Select(*db_, "up");
  ASSERT_EQ(up.size(), 1u);  // only the job's up-reporting collector writes it
  EXPECT_EQ(up[0].labels, (Labels{{"__name__", "up"}, {"instance", "node1"}, {"job", "node"}}));
  EXPECT_EQ(up[0].values, (std::vector<double>{1, 0}));
}

// A scrape labels its own series; a textfile's own job/instance are kept as exported_*.
TEST_F(StorageSinkTest, KeepsScrapedLabelsAndExportsConflicts) {
  StorageSink sink(db_.get(), Targets());
  MetricBatch scraped;
  scraped.AddGauge("app_requests", "", {{"instance", "127.0.0.1:8080"}, {"job", "app"}}, 3);
  sink.Consume("scrape/app", scraped, 1000);
  MetricBatch textfile;
  textfile.AddGauge("backup_ok", "", {{"job", "backup"}}, 1);
  sink.Consume("textfile", textfile, 1000);

  auto app = Select(*db_, "app_requests");
  ASSERT_EQ(app.size(), 1u);
  EXPECT_EQ(app[0].labels, (Labels{{"__name__", "app_requests"}, {"instance", "127.0.0.1:8080"}, {"job", "app"}}));
  auto backup = Select(*db_, "backup_ok");
  ASSERT_EQ(backup.size(), 1u);
  EXPECT_EQ(backup[0].labels,
            (Labels{{"__name__", "backup_ok"}, {"exported_job", "backup"}, {"instance", "node1"}, {"job", "node"}}));
}

// vigil is the process exporting the host metrics: its process_* also sit under the host job.
TEST_F(StorageSinkTest, ProcessMetricsAlsoUnderTheHostJob) {
  TargetLabels t = Targets();
  t.collectors["self"] = {"vigil", true, "node"};
  StorageSink sink(db_.get(), t);
  MetricBatch self;
  self.AddGauge("process_open_fds", "", {}, 12);
  self.AddGauge("vigil_tsdb_head_series", "", {}, 100);
  sink.Consume("self", self, 1000);
  auto fds = Select(*db_, "process_open_fds");
  ASSERT_EQ(fds.size(), 2u);
  EXPECT_EQ(fds[0].labels.Get("job"), "node");
  EXPECT_EQ(fds[1].labels.Get("job"), "vigil");
  EXPECT_EQ(Select(*db_, "vigil_tsdb_head_series").size(), 1u);
  EXPECT_EQ(Select(*db_, "up").size(), 1u);

  // One job for both (global.job = host.job): stored once, nothing rejected as a duplicate.
  t.collectors["self"] = {"node", true, "node"};
  sink.SetTargets(t);
  sink.Consume("self", self, 2000);
  auto node_fds = Select(*db_, "process_open_fds");
  ASSERT_EQ(node_fds.size(), 2u);
  EXPECT_EQ(node_fds[0].values, (std::vector<double>{12, 12}));
}

// A reload that renames the job marks the old series stale at the next collection.
TEST_F(StorageSinkTest, NewTargetsMarkOldSeriesStale) {
  StorageSink sink(db_.get(), Targets());
  MetricBatch host;
  host.AddGauge("node_load1", "", {}, 0.5);
  sink.Consume("host", host, 1000);
  TargetLabels renamed = Targets();
  renamed.collectors["host"] = {"node-exporter", true};
  sink.SetTargets(renamed);
  sink.Consume("host", host, 2000);
  auto load = Select(*db_, "node_load1");
  ASSERT_EQ(load.size(), 2u);
  for (const auto& s : load) {
    if (s.labels.Get("job") == "node") {
      ASSERT_EQ(s.values.size(), 2u);
      EXPECT_TRUE(std::isnan(s.values[1]));
    } else {
      EXPECT_EQ(s.labels.Get("job"), "node-exporter");
    }
  }
}

}  // namespace
}  // namespace vigil::collect
