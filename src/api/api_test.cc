#include "api/api.h"

#include <gtest/gtest.h>

#include "tsdb/memory.h"

namespace vigil::api {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : clock_(1700000000000) {
    for (int i = 0; i <= 10; ++i) {
      TimestampMs t = 1700000000000 - 600000 + i * 60000;
      store_.Add(Labels{{"__name__", "up"}, {"job", "a"}}, t, 1);
      store_.Add(Labels{{"__name__", "up"}, {"job", "b"}}, t, 0);
      store_.Add(Labels{{"__name__", "reqs_total"}, {"job", "a"}, {"code", "200"}}, t, i * 1.5);
    }
    Options o;
    o.storage = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
      return store_.NewQuerier(mint, maxt);
    };
    o.engine.max_samples = 1000;
    o.clock = &clock_;
    o.build = BuildInfo{"0.1.0", "abc", "main", "", "", "g++ 12"};
    o.metric_families = [] {
      auto b = std::make_shared<MetricBatch>();
      b->AddCounter("vigil_things_total", "Things \"done\".", {}, 1);
      return std::vector<std::shared_ptr<const MetricBatch>>{b};
    };
    api_ = std::make_unique<Api>(std::move(o));
  }

  http::Response Get(const std::string& path, std::vector<std::pair<std::string, std::string>> params = {}) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    r.params = std::move(params);
    return api_->Handle(r);
  }

  FakeClock clock_;
  tsdb::MemoryStorage store_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, InstantVector) {
  http::Response r = Get("/api/v1/query", {{"query", "up"}, {"time", "1700000000.5"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"vector","result":[)"
                    R"({"metric":{"__name__":"up","job":"a"},"value":[1700000000.500,"1"]},)"
                    R"({"metric":{"__name__":"up","job":"b"},"value":[1700000000.500,"0"]}]}})");
}

TEST_F(ApiTest, ScalarUsesTheClockWithoutTime) {
  http::Response r = Get("/api/v1/query", {{"query", "1/0"}});
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}})");
}

TEST_F(ApiTest, StringResult) {
  http::Response r = Get("/api/v1/query", {{"query", "\"a<b\""}, {"time", "1700000000"}});
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"string","result":[1700000000,"a\u003cb"]}})");
}

TEST_F(ApiTest, RangeQuery) {
  http::Response r =
      Get("/api/v1/query_range",
          {{"query", "up{job=\"a\"}"}, {"start", "2023-11-14T22:12:20Z"}, {"end", "1700000000"}, {"step", "30s"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a"},)"
            R"("values":[[1699999940,"1"],[1699999970,"1"],[1700000000,"1"]]}]}})");
}

TEST_F(ApiTest, QueryLimitTruncatesWithWarning) {
  http::Response r = Get("/api/v1/query", {{"query", "up"}, {"time", "1700000000"}, {"limit", "1"}});
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"vector","result":[)"
                    R"({"metric":{"__name__":"up","job":"a"},"value":[1700000000,"1"]}]},)"
                    R"("warnings":["results truncated due to limit"]})");
}

TEST_F(ApiTest, ParseErrorIsBadData) {
  http::Response r = Get("/api/v1/query", {{"query", "sum(up"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.rfind(R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:)", 0), 0u)
      << r.body;
}

TEST_F(ApiTest, BadParameters) {
  http::Response r = Get("/api/v1/query", {{"query", "up"}, {"time", "noon"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": )"
                    R"(Invalid time value for 'time': cannot parse \"noon\" to a valid timestamp"})");
  r = Get("/api/v1/query_range", {{"query", "up"}, {"start", "10"}, {"end", "5"}, {"step", "1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("end timestamp must not be before start time"), std::string::npos);
  r = Get("/api/v1/query_range", {{"query", "up"}, {"start", "0"}, {"end", "100000"}, {"step", "1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
                        "resolution (?step=XX)"),
            std::string::npos);
  r = Get("/api/v1/query_range", {{"query", "up"}, {"start", "0"}, {"end", "10"}, {"step", "0"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"(invalid parameter \"step\": zero or negative)"), std::string::npos);
  r = Get("/api/v1/query_range", {{"query", "up[5m]"}, {"start", "0"}, {"end", "10"}, {"step", "1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"(invalid expression type \"range vector\" for range query)"), std::string::npos);
  r = Get("/api/v1/query", {{"query", "up"}, {"timeout", "soon"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"(invalid parameter \"timeout\")"), std::string::npos);
}

TEST_F(ApiTest, TooManySamplesIs422) {
  http::Response r =
      Get("/api/v1/query_range", {{"query", "up"}, {"start", "1699999400"}, {"end", "1700000000"}, {"step", "1"}});
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find(R"("errorType":"execution")"), std::string::npos);
  EXPECT_NE(r.body.find("too many samples"), std::string::npos) << r.body;
}

TEST_F(ApiTest, Series) {
  http::Response r = Get("/api/v1/series", {{"match[]", "up"}, {"match[]", "reqs_total"}});
  EXPECT_EQ(r.body, R"({"status":"success","data":[{"__name__":"reqs_total","code":"200","job":"a"},)"
                    R"({"__name__":"up","job":"a"},{"__name__":"up","job":"b"}]})");
  r = Get("/api/v1/series");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"status":"error","errorType":"bad_data","error":"no match[] parameter provided"})");
  r = Get("/api/v1/series", {{"match[]", "up{"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"(invalid parameter \"match[]\")"), std::string::npos);
  // Outside the data's time range there is nothing.
  r = Get("/api/v1/series", {{"match[]", "up"}, {"start", "1"}, {"end", "2"}});
  EXPECT_EQ(r.body, R"({"status":"success","data":[]})");
}

TEST_F(ApiTest, LabelsAndValues) {
  EXPECT_EQ(Get("/api/v1/labels").body, R"({"status":"success","data":["__name__","code","job"]})");
  EXPECT_EQ(Get("/api/v1/labels", {{"match[]", "up"}}).body, R"({"status":"success","data":["__name__","job"]})");
  EXPECT_EQ(Get("/api/v1/label/job/values").body, R"({"status":"success","data":["a","b"]})");
  EXPECT_EQ(Get("/api/v1/label/__name__/values").body, R"({"status":"success","data":["reqs_total","up"]})");
  EXPECT_EQ(Get("/api/v1/label/job/values", {{"match[]", "reqs_total"}}).body, R"({"status":"success","data":["a"]})");
  EXPECT_EQ(Get("/api/v1/label/job/values", {{"limit", "1"}}).body,
            R"({"status":"success","data":["a"],"warnings":["results truncated due to limit"]})");
  EXPECT_EQ(Get("/api/v1/label/a-b/values").status, 400);
}

TEST_F(ApiTest, MetadataBuildinfoFormat) {
  EXPECT_EQ(
      Get("/api/v1/metadata").body,
      R"({"status":"success","data":{"vigil_things_total":[{"type":"counter","help":"Things \"done\".","unit":""}]}})");
  EXPECT_EQ(Get("/api/v1/metadata", {{"metric", "nope"}}).body, R"({"status":"success","data":{}})");
  EXPECT_EQ(Get("/api/v1/status/buildinfo").body,
            R"({"status":"success","data":{"version":"0.1.0","revision":"abc","branch":"main","buildUser":"",)"
            R"("buildDate":"","goVersion":"g++ 12"}})");
  EXPECT_EQ(Get("/api/v1/format_query", {{"query", "sum by(job)(rate(x[5m]))"}}).body,
            R"js({"status":"success","data":"sum by (job) (rate(x[5m]))"})js");
}

TEST_F(ApiTest, UnknownEndpointAndMethod) {
  http::Response r = Get("/api/v1/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"status":"error","errorType":"not_found","error":"unknown API endpoint /api/v1/nope"})");
  http::Request put;
  put.method = "PUT";
  put.path = "/api/v1/query";
  EXPECT_EQ(api_->Handle(put).status, 405);
}

}  // namespace
}  // namespace vigil::api
