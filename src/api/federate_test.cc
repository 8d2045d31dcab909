#include "api/federate.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "api/api.h"
#include "tsdb/memory.h"
#include "tsdb/tsdb.h"

namespace vigil::api {
namespace {

constexpr TimestampMs kNow = 1'700'000'000'000;
constexpr Duration kLookback{5 * 60 * 1000};

class FederateTest : public ::testing::Test {
 protected:
  FederateTest() {
    storage_ = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
      return store_.NewQuerier(mint, maxt);
    };
  }

  http::Response Call(std::vector<std::string> selectors, const Labels& external = {}) {
    http::Request r;
    r.method = "GET";
    r.path = "/federate";
    for (auto& s : selectors) r.params.emplace_back("match[]", std::move(s));
    return Federate(r, storage_, external, kNow, kLookback);
  }

  tsdb::MemoryStorage store_;
  promql::QuerierFactory storage_;
};

TEST_F(FederateTest, LatestSampleOfEachSeriesGroupedByName) {
  store_.Add({{"__name__", "up"}, {"job", "b"}}, kNow - 20000, 0);
  store_.Add({{"__name__", "up"}, {"job", "b"}}, kNow - 5000, 1);
  store_.Add({{"__name__", "up"}, {"job", "a"}}, kNow - 1000, 1);
  store_.Add({{"__name__", "disk_bytes"}, {"dev", "sda"}}, kNow - 3000, 1.5e12);
  store_.Add({{"__name__", "load"}}, kNow - 2000, 0.25);
  http::Response r = Call({"up", "{__name__=~\"disk_bytes|load\"}"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body,
            "# TYPE disk_bytes untyped\n"
            "disk_bytes{dev=\"sda\"} 1500000000000 1699999997000\n"  // as vigil's /metrics writes values
            "# TYPE load untyped\n"
            "load 0.25 1699999998000\n"
            "# TYPE up untyped\n"
            "up{job=\"a\"} 1 1699999999000\n"
            "up{job=\"b\"} 1 1699999995000\n");
}

TEST_F(FederateTest, StaleOldAndFutureSamplesAreLeftOut) {
  store_.Add({{"__name__", "m"}, {"s", "stale"}}, kNow - 9000, 1);
  store_.Add({{"__name__", "m"}, {"s", "stale"}}, kNow - 4000, tsdb::StaleNaN());
  store_.Add({{"__name__", "m"}, {"s", "old"}}, kNow - kLookback.count() - 1, 1);
  store_.Add({{"__name__", "m"}, {"s", "edge"}}, kNow - kLookback.count(), 2);
  store_.Add({{"__name__", "m"}, {"s", "future"}}, kNow - 1000, 3);
  store_.Add({{"__name__", "m"}, {"s", "future"}}, kNow + 1000, 4);
  http::Response r = Call({"m"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "# TYPE m untyped\n"
            "m{s=\"edge\"} 2 1699999700000\n"
            "m{s=\"future\"} 3 1699999999000\n");
}

TEST_F(FederateTest, ExternalLabelsAddedWhereMissing) {
  store_.Add({{"__name__", "up"}, {"job", "a"}}, kNow - 1000, 1);
  store_.Add({{"__name__", "up"}, {"job", "b"}, {"site", "own"}}, kNow - 1000, 1);
  http::Response r = Call({"up"}, Labels{{"site", "fra"}, {"zone", "z1"}});
  EXPECT_EQ(r.body,
            "# TYPE up untyped\n"
            "up{job=\"a\",site=\"fra\",zone=\"z1\"} 1 1699999999000\n"
            "up{job=\"b\",site=\"own\",zone=\"z1\"} 1 1699999999000\n");
}

TEST_F(FederateTest, OverlappingSelectorsWriteASeriesOnce) {
  store_.Add({{"__name__", "up"}, {"job", "a"}}, kNow - 1000, 1);
  http::Response r = Call({"up", "{job=\"a\"}", "up{job=~\"a|b\"}"});
  EXPECT_EQ(r.body, "# TYPE up untyped\nup{job=\"a\"} 1 1699999999000\n");
}

TEST_F(FederateTest, EscapesLabelValuesAndWritesSpecialFloats) {
  store_.Add({{"__name__", "m"}, {"path", "C:\\x \"q\"\nz"}}, kNow - 1000, -std::numeric_limits<double>::infinity());
  store_.Add({{"__name__", "n"}}, kNow - 1000, std::numeric_limits<double>::quiet_NaN());
  http::Response r = Call({"{__name__=~\"m|n\"}"});
  EXPECT_EQ(r.body,
            "# TYPE m untyped\n"
            "m{path=\"C:\\\\x \\\"q\\\"\\nz\"} -Inf 1699999999000\n"
            "# TYPE n untyped\n"
            "n NaN 1699999999000\n");
}

TEST_F(FederateTest, NoMatchIsEmpty) {
  http::Response r = Call({"nothing_here"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(FederateTest, BadInputIs400NamingMatch) {
  http::Response none = Call({});
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.body, "invalid parameter \"match[]\": at least one match[] is required\n");
  for (const char* bad : {"up{", "up{job=~\"(\"}", "{job=~\".*\"}", "sum(up)", ""}) {
    http::Response r = Call({"up", bad});
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.body.rfind("invalid parameter \"match[]\": ", 0), 0u) << bad << ": " << r.body;
  }
}

TEST_F(FederateTest, ServedByTheApiRouteWithItsLabelsAndClock) {
  store_.Add({{"__name__", "up"}, {"job", "a"}}, kNow - 1000, 1);
  FakeClock clock(kNow);
  Options o;
  o.storage = storage_;
  o.clock = &clock;
  o.external_labels = Labels{{"site", "fra"}};
  http::Route route = NewRoute(std::move(o));
  EXPECT_EQ(route.path_prefix, "/api/v1/");
  ASSERT_EQ(route.exact_paths, std::vector<std::string>{"/federate"});
  http::Request r;
  r.method = "POST";
  r.path = "/federate";
  r.params = {{"match[]", "up"}};
  http::Response resp = route.handler(r);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "# TYPE up untyped\nup{job=\"a\",site=\"fra\"} 1 1699999999000\n");
  r.method = "DELETE";
  EXPECT_EQ(route.handler(r).status, 405);
  r.method = "GET";
  r.params.clear();
  EXPECT_EQ(route.handler(r).status, 400);
}

}  // namespace
}  // namespace vigil::api
