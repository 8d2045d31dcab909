// The generic probes (HTTP, TCP, JSON-RPC), URL handling, and the path of a
// probe failure through the scheduler into vigil_collector_errors_total and the log.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "base/testing/temp_dir.h"
#include "collect/scheduler.h"
#include "http/outbound.h"
#include "probe/jsonrpc.h"
#include "probe/probe.h"
#include "probe/probe_test_util.h"

namespace vigil::probe {
namespace {

using testing::ClosedPort;
using testing::CollectOnce;
using testing::Emulator;
using testing::Has;
using testing::Reasons;
using testing::Value;

const Labels kProbe{{"probe", "p"}, {"service", "svc"}};

ProbeCommon Common(int timeout_ms = 2000) {
  ProbeCommon c;
  c.service = "svc";
  c.name = "p";
  c.timeout = Duration(timeout_ms);
  return c;
}

TEST(ParseUrlTest, RedactsCredentialsAndQuery) {
  auto u = ParseUrl("https://user:pa%40ss@Example.net:8443/rpc/v1?token=abc#frag");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "Example.net");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path_and_query, "/rpc/v1?token=abc");
  EXPECT_EQ(u->user, "user");
  EXPECT_EQ(u->password, "pa%40ss");
  EXPECT_EQ(u->redacted, "https://Example.net:8443/rpc/v1");

  auto v6 = ParseUrl("http://[::1]:9002");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->redacted, "http://[::1]:9002/");
  EXPECT_EQ(ParseUrl("http://h")->port, 80);
  EXPECT_FALSE(ParseUrl("ftp://h/").has_value());
  EXPECT_FALSE(ParseUrl("http://:80/").has_value());
  EXPECT_FALSE(ParseUrl("http://h:99999/").has_value());
  EXPECT_FALSE(ParseUrl("no-scheme").has_value());
}

TEST(JsonRpcParseTest, ResultsErrorsAndGarbage) {
  RpcReply r;
  EXPECT_FALSE(ParseRpcResponse(R"({"result":{"blocks":5},"error":null,"id":"vigil"})", &r));
  EXPECT_FALSE(r.has_error);
  EXPECT_EQ(r.result["blocks"], 5);
  EXPECT_FALSE(ParseRpcResponse(R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"nope"},"id":1})", &r));
  EXPECT_TRUE(r.has_error);
  EXPECT_EQ(r.error_code, -32601);
  EXPECT_EQ(r.error_message, "nope");
  EXPECT_EQ(ParseRpcResponse(R"({"result":)", &r)->reason, "bad_json");
  EXPECT_EQ(ParseRpcResponse("<html>", &r)->reason, "bad_json");
  EXPECT_EQ(ParseRpcResponse("[1,2]", &r)->reason, "bad_response");
  EXPECT_EQ(ParseRpcResponse(R"({"id":1})", &r)->reason, "bad_response");
  EXPECT_FALSE(ParseRpcResponse(R"({"result":null,"error":"plain string"})", &r));
  EXPECT_TRUE(r.has_error);
}

TEST(JsonPointerTest, NeverThrows) {
  auto doc = nlohmann::json::parse(R"({"a":[1,{"b":true}],"s":"12.5"})");
  EXPECT_EQ(*JsonToGauge(*FindPointer(doc, "/a/1/b")), 1);
  EXPECT_EQ(*JsonToGauge(*FindPointer(doc, "/s")), 12.5);
  EXPECT_EQ(*JsonToGauge(*FindPointer(doc, "/a")), 2);
  EXPECT_EQ(FindPointer(doc, "/a/x"), nullptr);
  EXPECT_EQ(FindPointer(doc, "/a/9"), nullptr);
  EXPECT_EQ(FindPointer(doc, "/missing"), nullptr);
  EXPECT_EQ(FindPointer(doc, "no-slash"), nullptr);
  EXPECT_FALSE(ValidPointer("no-slash"));
  EXPECT_TRUE(ValidPointer(""));
}

class ProbeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    titan_ = new Emulator("titan.py");
    validator_ = new Emulator("validator.py");
  }
  static void TearDownTestSuite() {
    delete titan_;
    delete validator_;
  }
  void SetUp() override {
    ASSERT_NE(titan_->port(), 0);
    ASSERT_NE(validator_->port(), 0);
    titan_->Scenario(R"({"mode":"ok"})");
    validator_->Scenario(R"({"mode":"ok"})");
  }
  static Emulator* titan_;
  static Emulator* validator_;
};
Emulator* ProbeTest::titan_ = nullptr;
Emulator* ProbeTest::validator_ = nullptr;

std::unique_ptr<collect::Collector> Http(HttpProbeOptions o) {
  auto c = NewHttpProbe(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().message();
  return std::move(*c);
}

TEST_F(ProbeTest, HttpStatusRegexAndJsonMatch) {
  HttpProbeOptions o;
  o.common = Common();
  o.url = titan_->url("/status");
  o.body_regex = R"("runes_count": \d+)";
  o.json_pointer = "/block_tip/is_at_tip";
  o.json_equals = "true";
  o.headers = {{"X-Probe", "vigil"}};
  auto c = Http(o);
  EXPECT_EQ(c->name(), "probe/svc/p");
  auto r = CollectOnce(*c);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(Value(r.batch, "vigil_probe_success", kProbe), 1);
  EXPECT_EQ(Value(r.batch, "vigil_probe_http_status_code", kProbe), 200);
  EXPECT_EQ(Value(r.batch, "vigil_probe_http_content_match", kProbe), 1);
  EXPECT_GT(Value(r.batch, "vigil_probe_duration_seconds", kProbe), 0);

  titan_->Scenario(R"({"mode":"ok","is_at_tip":false})");
  auto r2 = CollectOnce(*c);
  EXPECT_EQ(Reasons(r2.batch), "body_mismatch");
  EXPECT_EQ(Value(r2.batch, "vigil_probe_success", kProbe), 0);
  EXPECT_EQ(Value(r2.batch, "vigil_probe_http_content_match", kProbe), 0);
}

TEST_F(ProbeTest, HttpExpectedStatusAndFailures) {
  HttpProbeOptions o;
  o.common = Common();
  o.url = titan_->url("/nope");
  o.expected_status = {404};
  EXPECT_EQ(Reasons(CollectOnce(*Http(o)).batch), "");

  o.url = titan_->url("/status");
  o.expected_status = {};
  titan_->Scenario(R"({"mode":"http_500"})");
  auto r = CollectOnce(*Http(o));
  EXPECT_EQ(Reasons(r.batch), "http_500");
  EXPECT_EQ(Value(r.batch, "vigil_probe_http_status_code", kProbe), 500);

  o.json_pointer = "/block_tip/height";
  titan_->Scenario(R"({"mode":"garbage"})");
  EXPECT_EQ(Reasons(CollectOnce(*Http(o)).batch), "bad_json");
  titan_->Scenario(R"({"mode":"truncated"})");
  EXPECT_EQ(Reasons(CollectOnce(*Http(o)).batch), "bad_json");

  titan_->Scenario(R"({"mode":"slow","delay":3})");
  o.common = Common(300);
  auto slow = CollectOnce(*Http(o));
  EXPECT_EQ(Reasons(slow.batch), "timeout");
  EXPECT_LT(slow.seconds, 1.0);

  o.url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  EXPECT_EQ(Reasons(CollectOnce(*Http(o)).batch), "connection_refused");
}

TEST_F(ProbeTest, HttpCredentialsNeverReachTargetOrErrors) {
  HttpProbeOptions o;
  o.common = Common();
  o.url = "http://admin:hunter2@127.0.0.1:" + std::to_string(ClosedPort()) + "/x?key=topsecret";
  auto r = CollectOnce(*Http(o));
  ASSERT_EQ(r.batch.errors().size(), 1u);
  const auto& e = r.batch.errors()[0];
  for (const std::string& s : {e.target, e.detail}) {
    EXPECT_EQ(s.find("hunter2"), std::string::npos) << s;
    EXPECT_EQ(s.find("topsecret"), std::string::npos) << s;
  }
  EXPECT_EQ(e.target.find("http://127.0.0.1:"), 0u);
}

TEST_F(ProbeTest, BadOptionsAreConfigErrors) {
  HttpProbeOptions h;
  h.common = Common();
  h.url = titan_->url("/");
  h.body_regex = "(";
  EXPECT_FALSE(NewHttpProbe(h).ok());
  h.body_regex.clear();
  h.json_pointer = "x";
  EXPECT_FALSE(NewHttpProbe(h).ok());
  TcpProbeOptions t;
  t.common = Common();
  t.target = "no-port";
  EXPECT_FALSE(NewTcpProbe(t).ok());
  JsonRpcProbeOptions j;
  j.common = Common();
  j.url = validator_->url();
  j.method = "get_block_count";
  j.params_json = "{bad";
  EXPECT_FALSE(NewJsonRpcProbe(j).ok());
  TlsProbeOptions tls;
  tls.common = Common();
  EXPECT_FALSE(NewTlsProbe(tls).ok());  // neither target nor file
}

TEST_F(ProbeTest, TcpConnect) {
  TcpProbeOptions o;
  o.common = Common();
  o.target = "127.0.0.1:" + std::to_string(titan_->port());
  auto r = CollectOnce(*NewTcpProbe(o).value());
  EXPECT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(Value(r.batch, "vigil_probe_success", kProbe), 1);

  o.target = "127.0.0.1:" + std::to_string(ClosedPort());
  auto refused = CollectOnce(*NewTcpProbe(o).value());
  EXPECT_EQ(Reasons(refused.batch), "connection_refused");
  EXPECT_EQ(refused.batch.errors()[0].target, o.target);
  EXPECT_EQ(Value(refused.batch, "vigil_probe_success", kProbe), 0);
}

TEST_F(ProbeTest, JsonRpcExtractsNamedValues) {
  validator_->Scenario(R"({"mode":"ok","peers":4})");
  JsonRpcProbeOptions o;
  o.common = Common();
  o.url = validator_->url();
  o.method = "get_peers";
  o.extract = {{"peers", ""}, {"first", "/0/peer_id"}};
  auto r = CollectOnce(*NewJsonRpcProbe(o).value());
  // "peer0" is not a number: reported, while the other value is kept.
  EXPECT_EQ(Reasons(r.batch), "missing_value");
  EXPECT_EQ(Value(r.batch, "vigil_probe_value", Labels{{"name", "peers"}, {"probe", "p"}, {"service", "svc"}}), 4);
  EXPECT_EQ(Value(r.batch, "vigil_probe_jsonrpc_error_code", kProbe), 0);

  o.method = "is_node_ready";
  o.extract = {{"ready", ""}};
  auto ready = CollectOnce(*NewJsonRpcProbe(o).value());
  EXPECT_EQ(Reasons(ready.batch), "");
  EXPECT_EQ(Value(ready.batch, "vigil_probe_value", Labels{{"name", "ready"}, {"probe", "p"}, {"service", "svc"}}), 1);
  EXPECT_EQ(Value(ready.batch, "vigil_probe_success", kProbe), 1);
}

TEST_F(ProbeTest, JsonRpcErrorObjectAndFailures) {
  JsonRpcProbeOptions o;
  o.common = Common();
  o.url = validator_->url();
  o.method = "start_dkg_is_not_here";
  auto r = CollectOnce(*NewJsonRpcProbe(o).value());
  EXPECT_EQ(Reasons(r.batch), "rpc_error");
  EXPECT_EQ(Value(r.batch, "vigil_probe_jsonrpc_error_code", kProbe), -32601);
  EXPECT_NE(r.batch.errors()[0].detail.find("Method not found"), std::string::npos);

  o.method = "get_block_count";
  for (auto [scenario, reason] :
       {std::pair{R"({"mode":"garbage"})", "bad_json"}, std::pair{R"({"mode":"truncated"})", "bad_json"},
        std::pair{R"({"mode":"http_500"})", "http_500"}, std::pair{R"({"mode":"wrong_auth"})", "auth_failed"}}) {
    validator_->Scenario(scenario);
    auto f = CollectOnce(*NewJsonRpcProbe(o).value());
    EXPECT_EQ(Reasons(f.batch), reason) << scenario;
    EXPECT_EQ(Value(f.batch, "vigil_probe_success", kProbe), 0);
  }
}

// A failing probe under the real scheduler: vigil_collector_errors_total gets
// collector, target and reason, and one log line names target and reason.
TEST(ProbeSchedulerTest, FailureReachesErrorsTotalAndTheLog) {
  vigil::testing::TempDir dir;
  std::string log_path = dir.path() + "/log";
  int fd = ::open(log_path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  SetLogFd(fd);

  HttpProbeOptions o;
  o.common = Common(500);
  o.url = "http://admin:hunter2@127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  o.headers = {{"Authorization", "Bearer tok-secret"}};
  std::string target = "http://127.0.0.1:" + o.url.substr(o.url.rfind(':') + 1);
  SystemClock clock;
  collect::Scheduler s(
      clock, {{std::shared_ptr<collect::Collector>(NewHttpProbe(o).value()), Duration(60000), Duration(2000)}},
      nullptr);
  s.Start();
  ASSERT_TRUE(s.WaitForFirstRound(Duration(5000)));
  s.Stop(Duration(1000));
  SetLogFd(2);
  ::close(fd);

  MetricBatch self;
  s.AppendSelfMetrics(self);
  EXPECT_EQ(Value(self, "vigil_collector_errors_total",
                  Labels{{"collector", "probe/svc/p"}, {"reason", "connection_refused"}, {"target", target}}),
            1);
  auto latest = s.Latest();
  ASSERT_EQ(latest.size(), 1u);  // a failed probe is still a result
  EXPECT_EQ(Value(*latest[0], "vigil_probe_success", kProbe), 0);

  std::ifstream in(log_path);
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_NE(log.str().find("target=" + target + " reason=connection_refused"), std::string::npos) << log.str();
  EXPECT_EQ(log.str().find("hunter2"), std::string::npos);
  EXPECT_EQ(log.str().find("tok-secret"), std::string::npos);
}

// A probe stuck on a slow peer never delays another probe's schedule.
TEST_F(ProbeTest, SlowProbeDoesNotStallOthers) {
  titan_->Scenario(R"({"mode":"slow","delay":3})");
  HttpProbeOptions slow;
  slow.common = Common(400);
  slow.common.name = "slow";
  slow.url = titan_->url("/status");
  TcpProbeOptions fast;
  fast.common = Common();
  fast.common.name = "fast";
  fast.target = "127.0.0.1:" + std::to_string(validator_->port());
  SystemClock clock;
  collect::Scheduler s(clock,
                       {{std::shared_ptr<collect::Collector>(NewHttpProbe(slow).value()), Duration(50), Duration(2000)},
                        {std::shared_ptr<collect::Collector>(NewTcpProbe(fast).value()), Duration(50), Duration(2000)}},
                       nullptr);
  auto start = std::chrono::steady_clock::now();
  s.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  s.Stop(Duration(1000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  MetricBatch self;
  s.AppendSelfMetrics(self);
  EXPECT_GE(Value(self, "vigil_collector_runs_total", Labels{{"collector", "probe/svc/fast"}}), 5);
  EXPECT_GE(Value(self, "vigil_collector_errors_total",
                  Labels{{"collector", "probe/svc/slow"}, {"reason", "timeout"}, {"target", titan_->url("/status")}}),
            1);
}

}  // namespace
}  // namespace vigil::probe
