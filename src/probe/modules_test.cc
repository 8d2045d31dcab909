// The titan and validator modules against tests/emulators/{titan,validator}.py.
#include <gtest/gtest.h>

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

class TitanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { emu_ = new Emulator("titan.py"); }
  static void TearDownTestSuite() { delete emu_; }
  void SetUp() override {
    ASSERT_NE(emu_->port(), 0) << "the titan emulator did not start";
    emu_->Scenario(R"({"mode":"ok"})");
  }
  static std::unique_ptr<collect::Collector> New(TitanOptions o = {}) {
    o.service = "titan";
    if (o.url == TitanOptions{}.url) o.url = emu_->url("");
    auto c = NewTitanCollector(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(*c);
  }
  static Emulator* emu_;
};
Emulator* TitanTest::emu_ = nullptr;

const Labels kTitan{{"service", "titan"}};

TEST_F(TitanTest, StatusFieldsAsGauges) {
  emu_->Scenario(R"({"mode":"ok","height":849990,"is_at_tip":false})");
  auto r = CollectOnce(*New());
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(Value(r.batch, "vigil_titan_up", kTitan), 1);
  EXPECT_EQ(Value(r.batch, "vigil_titan_block_height", kTitan), 849990);
  EXPECT_EQ(Value(r.batch, "vigil_titan_is_at_tip", kTitan), 0);
  EXPECT_EQ(Value(r.batch, "vigil_titan_mempool_tx_count", kTitan), 2400);
  EXPECT_EQ(Value(r.batch, "vigil_titan_runes_count", kTitan), 123456);
  EXPECT_FALSE(Has(r.batch, "vigil_titan_height_lag_blocks"));  // no bitcoind configured
  EXPECT_NE(emu_->Requests().find("/status"), std::string::npos);
}

TEST_F(TitanTest, LagAgainstTheSharedBitcoindHeight) {
  emu_->Scenario(R"({"mode":"ok","height":849990})");
  auto heights = std::make_shared<ChainHeights>();
  TitanOptions o;
  o.heights = heights;
  o.bitcoind_service = "bitcoind";
  auto c = New(o);
  auto r0 = CollectOnce(*c);
  EXPECT_FALSE(Has(r0.batch, "vigil_titan_height_lag_blocks"));  // bitcoind not read yet

  TimestampMs now = 1'800'000'000'000;
  heights->Set(BitcoindHeightSource("bitcoind"), 850000, now - 10'000);
  auto r = CollectOnce(*c, 10000, now);
  EXPECT_EQ(Value(r.batch, "vigil_titan_height_lag_blocks", Labels{{"bitcoind", "bitcoind"}, {"service", "titan"}}),
            10);

  // A bitcoind height older than max_height_age is not compared.
  auto stale = CollectOnce(*c, 10000, now + 600'000);
  EXPECT_FALSE(Has(stale.batch, "vigil_titan_height_lag_blocks"));
}

TEST_F(TitanTest, FailureModes) {
  struct Case {
    const char* scenario;
    const char* reason;
  } cases[] = {
      {R"({"mode":"http_500"})", "http_500"},
      {R"({"mode":"garbage"})", "bad_json"},
      {R"({"mode":"truncated"})", "bad_json"},
  };
  for (const auto& c : cases) {
    emu_->Scenario(c.scenario);
    auto r = CollectOnce(*New());
    ASSERT_TRUE(r.status.ok()) << c.scenario;
    EXPECT_EQ(Reasons(r.batch), c.reason) << c.scenario;
    EXPECT_EQ(Value(r.batch, "vigil_titan_up", kTitan), 0) << c.scenario;
    ASSERT_FALSE(r.batch.errors().empty());
    EXPECT_EQ(r.batch.errors()[0].target, emu_->url("/status"));
  }
}

TEST_F(TitanTest, TimeoutAndRefused) {
  emu_->Scenario(R"({"mode":"slow","delay":3})");
  TitanOptions o;
  o.timeout = Duration(300);
  auto r = CollectOnce(*New(o));
  EXPECT_EQ(Reasons(r.batch), "timeout");
  EXPECT_LT(r.seconds, 1.0);

  TitanOptions refused;
  refused.url = "http://127.0.0.1:" + std::to_string(ClosedPort());
  auto r2 = CollectOnce(*New(refused));
  EXPECT_EQ(Reasons(r2.batch), "connection_refused");
}

class ValidatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emu_ = new Emulator("validator.py");
    ref_ = new Emulator("validator.py");
  }
  static void TearDownTestSuite() {
    delete emu_;
    delete ref_;
  }
  void SetUp() override {
    ASSERT_NE(emu_->port(), 0);
    ASSERT_NE(ref_->port(), 0);
    emu_->Scenario(R"({"mode":"ok"})");
    ref_->Scenario(R"({"mode":"ok","height":1010})");
  }
  static std::unique_ptr<collect::Collector> New(ValidatorOptions o = {}) {
    o.service = "validator";
    if (o.url == ValidatorOptions{}.url) o.url = emu_->url();
    auto c = NewValidatorCollector(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(*c);
  }
  static Emulator* emu_;
  static Emulator* ref_;
};
Emulator* ValidatorTest::emu_ = nullptr;
Emulator* ValidatorTest::ref_ = nullptr;

const Labels kVal{{"service", "validator"}};

TEST_F(ValidatorTest, ReadyHeightPeersAndLagVersusReference) {
  ValidatorOptions o;
  o.references = {ref_->url(), ""};  // an unset ${VAR:-} reference is skipped
  auto r = CollectOnce(*New(o));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(Value(r.batch, "vigil_validator_up", kVal), 1);
  EXPECT_EQ(Value(r.batch, "vigil_validator_ready", kVal), 1);
  EXPECT_EQ(Value(r.batch, "vigil_validator_block_height", kVal), 1000);
  EXPECT_EQ(Value(r.batch, "vigil_validator_peers", kVal), 3);
  EXPECT_EQ(Value(r.batch, "vigil_validator_reference_block_height",
                  Labels{{"reference", ref_->url()}, {"service", "validator"}}),
            1010);
  EXPECT_EQ(Value(r.batch, "vigil_validator_height_lag_blocks", kVal), 10);
}

TEST_F(ValidatorTest, OnlyReadOnlyMethodsAreCalled) {
  auto r = CollectOnce(*New());
  std::string calls = emu_->Requests();
  EXPECT_NE(calls.find("is_node_ready"), std::string::npos);
  EXPECT_NE(calls.find("get_block_count"), std::string::npos);
  EXPECT_NE(calls.find("get_peers"), std::string::npos);
  EXPECT_EQ(calls.find("start_dkg"), std::string::npos);
  EXPECT_EQ(calls.find("reset_network"), std::string::npos);
}

TEST_F(ValidatorTest, NotReadyAndNoPeers) {
  emu_->Scenario(R"({"mode":"ok","ready":false,"peers":0})");
  auto r = CollectOnce(*New());
  EXPECT_EQ(Value(r.batch, "vigil_validator_ready", kVal), 0);
  EXPECT_EQ(Value(r.batch, "vigil_validator_peers", kVal), 0);
  EXPECT_EQ(Value(r.batch, "vigil_validator_up", kVal), 1);
}

TEST_F(ValidatorTest, RpcErrorObjectAndFailureModes) {
  struct Case {
    const char* scenario;
    const char* reasons;
  } cases[] = {
      {R"({"mode":"rpc_error","code":-32000,"message":"node not synced","http_status":200})",
       "rpc_error,rpc_error,rpc_error"},
      {R"({"mode":"http_500"})", "http_500"},
      {R"({"mode":"garbage"})", "bad_json"},
      {R"({"mode":"truncated"})", "bad_json"},
  };
  for (const auto& c : cases) {
    emu_->Scenario(c.scenario);
    auto r = CollectOnce(*New());
    ASSERT_TRUE(r.status.ok());
    EXPECT_EQ(Reasons(r.batch), c.reasons) << c.scenario;
    EXPECT_EQ(Value(r.batch, "vigil_validator_up", kVal), 0) << c.scenario;
  }
}

TEST_F(ValidatorTest, UnreachableReferenceIsReportedWithItsTarget) {
  ValidatorOptions o;
  std::string dead = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  o.references = {dead};
  auto r = CollectOnce(*New(o));
  ASSERT_EQ(Reasons(r.batch), "connection_refused");
  EXPECT_EQ(r.batch.errors()[0].target, dead);
  EXPECT_EQ(Value(r.batch, "vigil_validator_up", kVal), 1);  // the validator itself is fine
  EXPECT_FALSE(Has(r.batch, "vigil_validator_height_lag_blocks"));
}

TEST_F(ValidatorTest, TimeoutIsBounded) {
  emu_->Scenario(R"({"mode":"slow","delay":3})");
  ValidatorOptions o;
  o.timeout = Duration(300);
  auto r = CollectOnce(*New(o));
  EXPECT_EQ(Reasons(r.batch), "timeout");
  EXPECT_LT(r.seconds, 1.0);
}

}  // namespace
}  // namespace vigil::probe
