#include "incidents/capacity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tsdb/memory.h"

namespace vigil::incidents {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kDay = 86400;
constexpr TimestampMs kNowMs = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

std::vector<UsagePoint> Daily(double days, double start_gib, double gib_per_day) {
  std::vector<UsagePoint> p;
  for (double h = 0; h <= days * 24; ++h) {
    p.push_back({kNowMs / 1000.0 - days * kDay + h * 3600, (start_gib + gib_per_day * h / 24) * kGiB});
  }
  return p;
}

TEST(CapacityTest, RecommendationsInWords) {
  std::vector<ResourceHistory> h = {
      {"filesystem", "/mnt/chain", Daily(30, 800, 4), 1000 * kGiB, "filesystem size"},
      {"filesystem", "/", Daily(30, 50, 0), 100 * kGiB, "filesystem size"},
      {"service_memory", "bitcoind", Daily(30, 5.8, 0), 7.7 * kGiB, "host memory; no MemoryMax"},
      {"service_memory", "leaky", Daily(30, 1, 0.1), 7.7 * kGiB, "host memory; no MemoryMax"},
      {"memory", "host", Daily(30, 4, 0), 8 * kGiB, "MemTotal"},
      {"filesystem", "/new", Daily(0.05, 1, 1), 10 * kGiB, "filesystem size"},
      {"data_dir", "/mnt/chain/bitcoin", Daily(30, 500, 4), 700 * kGiB, "data and free space of its filesystem",
       "bitcoind", "/mnt/chain"},
      {"data_dir", "/home/ops/titan", Daily(30, 40, 0), 140 * kGiB, "data and free space of its filesystem", "titan",
       "/home"},
      {"service_memory", "titan", Daily(30, 1, 0.05), 4 * kGiB, "MemoryMax"},
  };
  CapacityReport r = BuildReport(h, kNowMs / 1000.0);
  ASSERT_EQ(r.resources.size(), 9u);
  // 920 GiB used, 80 GiB left at 4 GiB/day: 20 days; 90 days at 4 GiB/day need 360, 280 more.
  EXPECT_EQ(r.resources[0].recommendation,
            "`/mnt/chain` fills in 20 days (20–20) at 4.0 GiB/day: grow it by 280.0 GiB or free space (enable "
            "pruning) before 2027-02-04");
  EXPECT_EQ(r.resources[1].recommendation, "`/` is not filling (0 MiB/day over 7d): 50.0 GiB of 100.0 GiB free");
  EXPECT_EQ(r.resources[2].recommendation,
            "bitcoind uses 5.8 GiB of 7.7 (host memory; no MemoryMax): headroom 25%");
  EXPECT_EQ(r.resources[3].recommendation,
            "leaky uses 4.0 GiB of 7.7 (host memory; no MemoryMax): headroom 48%; climbing 102 MiB/day "
            "(suspected leak), reaches it in 37 days (37–37)");
  EXPECT_EQ(r.resources[4].recommendation, "host memory is 4.0 GiB used of 8.0: headroom 50%");
  EXPECT_EQ(r.resources[5].recommendation,
            "`/new`: no forecast (capacity forecast: 2 points of history, at least 3 are needed)");
  // 620 GiB of data in 700 of room: 80 GiB left at 4 GiB/day is 20 days.
  EXPECT_EQ(r.resources[6].recommendation,
            "bitcoind's data `/mnt/chain/bitcoin` (620.0 GiB) grows 4.0 GiB/day and fills the 80.0 GiB left on "
            "`/mnt/chain` in 20 days (20–20): grow `/mnt/chain` by 280.0 GiB or enable pruning before 2027-02-04");
  EXPECT_EQ(r.resources[7].recommendation,
            "titan's data `/home/ops/titan` is 40.0 GiB, not growing (0 MiB/day over 7d): 100.0 GiB left on `/home`");
  // A unit's MemoryMax is the ceiling of a leak: (4 - 2.5) GiB at 51 MiB/day.
  EXPECT_EQ(r.resources[8].recommendation,
            "titan uses 2.5 GiB of 4.0 (MemoryMax): headroom 38%; climbing 51 MiB/day (suspected leak), reaches it in "
            "30 days (30–30)");
}

TEST(CapacityTest, JsonAndMetrics) {
  CapacityReport r = BuildReport({{"filesystem", "/mnt/chain", Daily(30, 800, 4), 1000 * kGiB, "filesystem size"},
                                  {"filesystem", "/", Daily(30, 60, -1), 100 * kGiB, "filesystem size"}},
                                 kNowMs / 1000.0);
  auto j = nlohmann::json::parse(ToResponseJson(r));
  EXPECT_EQ(j["status"], "success");
  const auto& chain = j["data"]["resources"][0];
  EXPECT_EQ(chain["name"], "/mnt/chain");
  EXPECT_NEAR(chain["daysToFull"]["estimate"].get<double>(), 20, 1e-6);
  EXPECT_NEAR(chain["bytesPerSecond"]["estimate"].get<double>() * kDay / kGiB, 4, 1e-9);
  EXPECT_EQ(chain["growth"].size(), 3u);
  EXPECT_EQ(chain["growth"][0]["horizon"], "7d");
  // Shrinking: never full, said as null.
  EXPECT_TRUE(j["data"]["resources"][1]["daysToFull"]["estimate"].is_null());

  MetricBatch m;
  AppendMetrics(r, m);
  std::map<std::string, double> days;
  for (const auto& fam : m.families()) {
    if (fam.name != "vigil_capacity_days_to_full") continue;
    for (const auto& s : fam.samples) {
      days[std::string(s.labels.Get("name")) + " " + std::string(s.labels.Get("bound"))] = s.value;
    }
  }
  EXPECT_NEAR(days["/mnt/chain estimate"], 20, 1e-6);
  EXPECT_TRUE(std::isinf(days["/ estimate"]) && days["/ estimate"] > 0) << "a shrinking disk never fills";
  EXPECT_TRUE(std::isinf(days["/ low"]));
}

// Through the store and PromQL, as the agent reads it: node_exporter's names.
TEST(CapacityTest, ReporterReadsTheStore) {
  tsdb::MemoryStorage store;
  for (int h = 0; h <= 30 * 24; ++h) {
    TimestampMs t = kNowMs - 30 * 86'400'000LL + h * 3'600'000LL;
    double used = (600 + 5.0 * h / 24) * kGiB;
    Labels fs{{"__name__", "node_filesystem_size_bytes"}, {"mountpoint", "/mnt/chain"}, {"fstype", "ext4"}};
    store.Add(fs, t, 1000 * kGiB);
    fs.Set("__name__", "node_filesystem_avail_bytes");
    store.Add(fs, t, 1000 * kGiB - used);
    Labels tmp{{"__name__", "node_filesystem_size_bytes"}, {"mountpoint", "/run"}, {"fstype", "tmpfs"}};
    store.Add(tmp, t, 1 * kGiB);
    store.Add(Labels{{"__name__", "node_memory_MemTotal_bytes"}}, t, 8 * kGiB);
    store.Add(Labels{{"__name__", "node_memory_MemAvailable_bytes"}}, t, 6 * kGiB);
    store.Add(
        Labels{{"__name__", "vigil_systemd_unit_memory_bytes"}, {"name", "bitcoind.service"}, {"service", "bitcoind"}},
        t, 2 * kGiB);
    // titan has a MemoryMax of 4 GiB and climbs 0.05 GiB a day from 1 GiB.
    Labels titan{{"__name__", "vigil_systemd_unit_memory_bytes"}, {"name", "titan.service"}, {"service", "titan"}};
    store.Add(titan, t, (1 + 0.05 * h / 24) * kGiB);
    titan.Set("__name__", "vigil_systemd_unit_memory_max_bytes");
    store.Add(titan, t, 4 * kGiB);
    // bitcoind's data on /mnt/chain: 300 GiB growing 2 GiB a day, the rest of the disk's growth is other files.
    Labels dir{{"__name__", "vigil_service_data_dir_bytes"},
               {"service", "bitcoind"},
               {"path", "/mnt/chain/bitcoin"},
               {"mountpoint", "/mnt/chain"}};
    store.Add(dir, t, (300 + 2.0 * h / 24) * kGiB);
    dir.Set("__name__", "vigil_service_data_dir_filesystem_avail_bytes");
    store.Add(dir, t, 1000 * kGiB - used);
  }
  FakeClock clock(kNowMs);
  CapacityOptions o;
  o.storage = [&store](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
    return store.NewQuerier(mint, maxt);
  };
  o.clock = &clock;
  auto reporter = std::make_shared<CapacityReporter>(o);
  CapacityReport r = reporter->Build();
  ASSERT_EQ(r.resources.size(), 5u);  // tmpfs left out
  EXPECT_EQ(r.resources[0].name, "/mnt/chain");
  ASSERT_TRUE(r.resources[0].forecast.has_value()) << r.resources[0].error;
  EXPECT_NEAR(r.resources[0].forecast->rate * kDay / kGiB, 5, 1e-6);
  EXPECT_NEAR(*r.resources[0].forecast->seconds_to_full / kDay, 250.0 / 5, 1e-3);
  EXPECT_EQ(r.resources[1].resource, "memory");
  EXPECT_NEAR(r.resources[1].used_bytes, 2 * kGiB, 1);
  EXPECT_EQ(r.resources[2].name, "bitcoind");
  EXPECT_EQ(r.resources[2].recommendation,
            "bitcoind uses 2.0 GiB of 8.0 (host memory; no MemoryMax): headroom 75%");
  EXPECT_EQ(r.resources[3].name, "titan");
  EXPECT_EQ(r.resources[3].capacity_source, "MemoryMax");
  EXPECT_NEAR(r.resources[3].capacity_bytes, 4 * kGiB, 1);
  ASSERT_TRUE(r.resources[3].forecast.has_value()) << r.resources[3].error;
  EXPECT_NEAR(*r.resources[3].forecast->seconds_to_full / kDay, 30, 1e-3);  // 1.5 GiB left at 0.05 a day
  // The data directory fills what its filesystem has left at its own rate:
  // 250 GiB free at 2 GiB/day (the disk as a whole fills at 5).
  EXPECT_EQ(r.resources[4].resource, "data_dir");
  EXPECT_EQ(r.resources[4].name, "/mnt/chain/bitcoin");
  EXPECT_EQ(r.resources[4].service, "bitcoind");
  EXPECT_EQ(r.resources[4].mountpoint, "/mnt/chain");
  ASSERT_TRUE(r.resources[4].forecast.has_value()) << r.resources[4].error;
  EXPECT_NEAR(*r.resources[4].forecast->seconds_to_full / kDay, 250.0 / 2, 1e-3);
  // The time the forecast took is measured and exported.
  EXPECT_GT(r.compute_seconds, 0);
  MetricBatch m;
  AppendMetrics(r, m);
  bool has_compute_seconds = false;
  for (const auto& fam : m.families()) has_compute_seconds |= fam.name == "vigil_capacity_compute_seconds";
  EXPECT_TRUE(has_compute_seconds);

  http::Route route = NewCapacityRoute(reporter);
  http::Request req;
  req.method = "GET";
  req.path = "/api/v1/capacity";
  http::Response resp = route.handler(req);
  EXPECT_EQ(resp.status, 200);
  auto body = nlohmann::json::parse(resp.body);
  EXPECT_EQ(body["data"]["resources"].size(), 5u);
  EXPECT_EQ(body["data"]["resources"][4]["service"], "bitcoind");
  EXPECT_EQ(body["data"]["resources"][4]["mountpoint"], "/mnt/chain");
  req.method = "POST";
  EXPECT_EQ(route.handler(req).status, 405);
  req.method = "GET";
  req.path = "/api/v1/capacityx";
  EXPECT_EQ(route.handler(req).status, 404);
}

}  // namespace
}  // namespace vigil::incidents
