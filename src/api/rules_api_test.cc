#include "api/rules_api.h"

#include <gtest/gtest.h>

#include "api/api.h"
#include "base/testing/temp_dir.h"
#include "tsdb/memory.h"

namespace vigil::api {
namespace {

class RulesApiTest : public ::testing::Test {
 protected:
  RulesApiTest() : clock_(1700000000000) {
    rules::ManagerOptions mo;
    mo.engine = &engine_;
    mo.querier = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
      return store_.NewQuerier(mint, maxt);
    };
    mo.appender = [this] { return store_.NewAppender(); };
    mo.clock = &clock_;
    manager_ = std::make_unique<rules::Manager>(mo);
    file_ = dir_.Write("r.yml", R"(groups:
- name: g
  interval: 30s
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: Down
    expr: up == 0
    for: 1m
    labels: {severity: P0}
    annotations: {summary: '{{ $labels.job }} <down>'}
)");
    EXPECT_TRUE(manager_->Load({file_}).ok());
    Options o;
    o.storage = mo.querier;
    o.clock = &clock_;
    o.rules = manager_.get();
    api_ = std::make_unique<Api>(std::move(o));
  }

  http::Response Get(const std::string& path, std::vector<std::pair<std::string, std::string>> params = {}) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    r.params = std::move(params);
    return api_->Handle(r);
  }

  testing::TempDir dir_;
  std::string file_;
  FakeClock clock_;
  promql::Engine engine_;
  tsdb::MemoryStorage store_;
  std::unique_ptr<rules::Manager> manager_;
  std::unique_ptr<Api> api_;
};

TEST(FormatGoTimeTest, LikeGo) {
  EXPECT_EQ(FormatGoTime(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatGoTime(1700000000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatGoTime(1700000000120), "2023-11-14T22:13:20.12Z");
}

TEST_F(RulesApiTest, AlertsAndRules) {
  EXPECT_EQ(Get("/api/v1/alerts").body, R"({"status":"success","data":{"alerts":[]}})");
  store_.Add(Labels{{"__name__", "up"}, {"job", "a"}}, 1700000000000, 0);
  ASSERT_TRUE(manager_->EvaluateNow(file_ + ";g", 1700000000000));
  http::Response r = Get("/api/v1/alerts");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"status":"success","data":{"alerts":[{"labels":{"alertname":"Down","job":"a","severity":"critical"},)"
            R"("annotations":{"summary":"a \u003cdown\u003e"},"state":"pending",)"
            R"("activeAt":"2023-11-14T22:13:20Z","value":"0e+00"}]}})");

  std::string rules = Get("/api/v1/rules").body;
  EXPECT_EQ(rules.rfind(R"({"status":"success","data":{"groups":[{"name":"g","file":)", 0), 0u) << rules;
  EXPECT_NE(rules.find(R"x({"name":"job:up:sum","query":"sum by (job) (up)","labels":{},"health":"ok",)x"),
            std::string::npos)
      << rules;
  EXPECT_NE(
      rules.find(R"({"state":"pending","name":"Down","query":"up == 0","duration":60,"keepFiringFor":0,)"
                 R"("labels":{"severity":"critical"},"annotations":{"summary":"{{ $labels.job }} \u003cdown\u003e"},)"
                 R"("alerts":[{"labels":{"alertname":"Down")"),
      std::string::npos)
      << rules;
  EXPECT_NE(rules.find(R"("type":"recording"})"), std::string::npos);
  EXPECT_NE(rules.find(R"("interval":30,"limit":0,"evaluationTime":)"), std::string::npos) << rules;
  EXPECT_NE(rules.find(R"("lastEvaluation":"2023-11-14T22:13:20Z")"), std::string::npos);

  std::string only_alerts = Get("/api/v1/rules", {{"type", "alert"}, {"exclude_alerts", "true"}}).body;
  EXPECT_EQ(only_alerts.find("job:up:sum"), std::string::npos);
  EXPECT_EQ(only_alerts.find(R"("alerts":[)"), std::string::npos);
  EXPECT_NE(only_alerts.find(R"("name":"Down")"), std::string::npos);
  EXPECT_EQ(Get("/api/v1/rules", {{"rule_group[]", "other"}}).body, R"({"status":"success","data":{"groups":[]}})");
  EXPECT_EQ(Get("/api/v1/rules", {{"type", "bad"}}).status, 400);
}

TEST(RulesApiNoManagerTest, EmptyLists) {
  Options o;
  tsdb::MemoryStorage store;
  o.storage = [&store](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
    return store.NewQuerier(mint, maxt);
  };
  Api api(std::move(o));
  http::Request r;
  r.method = "GET";
  r.path = "/api/v1/rules";
  EXPECT_EQ(api.Handle(r).body, R"({"status":"success","data":{"groups":[]}})");
  r.path = "/api/v1/alerts";
  EXPECT_EQ(api.Handle(r).body, R"({"status":"success","data":{"alerts":[]}})");
}

}  // namespace
}  // namespace vigil::api
