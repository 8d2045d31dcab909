// The bitcoind module against tests/emulators/bitcoind.py: each scenario gives
// the expected gauges or a clear error, within the timeout, never a crash.
#include <gtest/gtest.h>

#include <fstream>

#include "base/testing/temp_dir.h"
#include "probe/probe.h"
#include "probe/probe_test_util.h"

namespace vigil::probe {
namespace {

using testing::ClosedPort;
using testing::CollectOnce;
using testing::Emulator;
using testing::Reasons;
using testing::Value;

const Labels kSvc{{"service", "btc"}};

class BitcoindTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vigil::testing::TempDir();
    cookie_ = dir_->path() + "/.cookie";
    emu_ = new Emulator("bitcoind.py", {"--cookie-file", cookie_});
  }
  static void TearDownTestSuite() {
    delete emu_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(emu_->port(), 0) << "the bitcoind emulator did not start";
    emu_->Scenario(R"({"mode":"ok"})");
  }

  static std::unique_ptr<collect::Collector> New(BitcoindOptions o = {}) {
    o.service = "btc";
    if (o.url == BitcoindOptions{}.url) o.url = emu_->url();
    if (o.auth.empty()) o.auth.cookie_file = cookie_;
    auto c = NewBitcoindCollector(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(*c);
  }

  static vigil::testing::TempDir* dir_;
  static std::string cookie_;
  static Emulator* emu_;
};
vigil::testing::TempDir* BitcoindTest::dir_ = nullptr;
std::string BitcoindTest::cookie_;
Emulator* BitcoindTest::emu_ = nullptr;

TEST_F(BitcoindTest, HealthyNodeGivesEveryGauge) {
  auto heights = std::make_shared<ChainHeights>();
  BitcoindOptions o;
  o.heights = heights;
  auto c = New(o);
  auto r = CollectOnce(*c);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(c->name(), "bitcoind/btc");
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_up", kSvc), 1);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_blocks", kSvc), 850000);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_headers", kSvc), 850000);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_sync_lag_blocks", kSvc), 0);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_initial_block_download", kSvc), 0);
  EXPECT_NEAR(Value(r.batch, "vigil_bitcoind_verification_progress", kSvc), 1, 1e-3);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_size_on_disk_bytes", kSvc), 650e9);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_pruned", kSvc), 0);
  EXPECT_NEAR(Value(r.batch, "vigil_bitcoind_best_block_age_seconds", kSvc), 300, 30);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_warnings", kSvc), 0);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_chain_info", Labels{{"chain", "main"}, {"service", "btc"}}), 1);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_connections", kSvc), 10);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_connections_in", kSvc), 2);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_connections_out", kSvc), 8);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_network_active", kSvc), 1);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_mempool_transactions", kSvc), 2500);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_mempool_bytes", kSvc), 1.2e6);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_mempool_usage_bytes", kSvc), 5e6);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_mempool_max_bytes", kSvc), 300e6);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_peers", kSvc), 10);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_warming_up", kSvc), 0);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_rpc_error_code", Labels{{"method", "getpeerinfo"}, {"service", "btc"}}), 0);
  ASSERT_TRUE(heights->Get(BitcoindHeightSource("btc")).has_value());
  EXPECT_EQ(heights->Get(BitcoindHeightSource("btc"))->height, 850000);
}

TEST_F(BitcoindTest, InitialBlockDownload) {
  emu_->Scenario(R"({"mode":"ibd"})");
  auto r = CollectOnce(*New());
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_initial_block_download", kSvc), 1);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_sync_lag_blocks", kSvc), 450000);
  EXPECT_NEAR(Value(r.batch, "vigil_bitcoind_verification_progress", kSvc), 0.31, 1e-9);
  EXPECT_GT(Value(r.batch, "vigil_bitcoind_best_block_age_seconds", kSvc), 365 * 86400);
}

TEST_F(BitcoindTest, StalledTipShowsInTheBlockAge) {
  emu_->Scenario(R"({"mode":"stalled_tip"})");
  auto r = CollectOnce(*New());
  EXPECT_NEAR(Value(r.batch, "vigil_bitcoind_best_block_age_seconds", kSvc), 4 * 3600, 60);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_up", kSvc), 1);
}

TEST_F(BitcoindTest, HeadersAheadOfBlocks) {
  emu_->Scenario(R"({"mode":"headers_ahead"})");
  auto r = CollectOnce(*New());
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_sync_lag_blocks", kSvc), 12);
}

TEST_F(BitcoindTest, ZeroPeers) {
  emu_->Scenario(R"({"mode":"zero_peers"})");
  auto r = CollectOnce(*New());
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_peers", kSvc), 0);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_connections", kSvc), 0);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_up", kSvc), 1);
}

TEST_F(BitcoindTest, WarningsAsAGauge) {
  emu_->Scenario(R"({"mode":"ok","warnings":"This is a pre-release test build"})");
  auto r = CollectOnce(*New());
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_warnings", kSvc), 1);
}

TEST_F(BitcoindTest, WarmingUpIsReportedDistinctly) {
  emu_->Scenario(R"({"mode":"warming_up"})");
  auto r = CollectOnce(*New());
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Reasons(r.batch), "rpc_warming_up");  // once, not once per method
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_warming_up", kSvc), 1);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_up", kSvc), 0);
  EXPECT_EQ(
      Value(r.batch, "vigil_bitcoind_rpc_error_code", Labels{{"method", "getblockchaininfo"}, {"service", "btc"}}),
      -28);
  EXPECT_NE(r.batch.errors()[0].detail.find("Loading block index"), std::string::npos);
}

TEST_F(BitcoindTest, RpcErrorObject) {
  emu_->Scenario(R"({"mode":"rpc_error","code":-32603,"message":"Internal error"})");
  auto r = CollectOnce(*New());
  ASSERT_FALSE(r.batch.errors().empty());
  EXPECT_EQ(r.batch.errors()[0].reason, "rpc_error");
  EXPECT_EQ(r.batch.errors()[0].target, emu_->url("/").replace(0, 0, ""));
  EXPECT_EQ(
      Value(r.batch, "vigil_bitcoind_rpc_error_code", Labels{{"method", "getblockchaininfo"}, {"service", "btc"}}),
      -32603);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_up", kSvc), 0);
}

TEST_F(BitcoindTest, WrongPasswordIsAuthFailedWithoutTheSecret) {
  BitcoindOptions o;
  o.auth.user = "alice";
  o.auth.password = "s3cret-pw";
  auto r = CollectOnce(*New(o));
  ASSERT_EQ(Reasons(r.batch), "auth_failed");
  EXPECT_EQ(r.batch.errors()[0].detail.find("s3cret"), std::string::npos);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_up", kSvc), 0);
}

TEST_F(BitcoindTest, ServerSideAuthRejection) {
  emu_->Scenario(R"({"mode":"wrong_auth"})");
  auto r = CollectOnce(*New());
  EXPECT_EQ(Reasons(r.batch), "auth_failed");
}

TEST_F(BitcoindTest, RotatedCookieIsReadAgain) {
  auto c = New();
  auto r1 = CollectOnce(*c);
  ASSERT_EQ(Reasons(r1.batch), "");
  emu_->Control("/_rotate_cookie");  // what a bitcoind restart does
  auto r2 = CollectOnce(*c);
  EXPECT_EQ(Reasons(r2.batch), "");
  EXPECT_EQ(Value(r2.batch, "vigil_bitcoind_up", kSvc), 1);
}

TEST_F(BitcoindTest, MissingCookieFile) {
  BitcoindOptions o;
  o.auth.cookie_file = dir_->path() + "/absent/.cookie";
  auto r = CollectOnce(*New(o));
  ASSERT_EQ(Reasons(r.batch), "cookie_unreadable");
  EXPECT_NE(r.batch.errors()[0].detail.find("absent/.cookie"), std::string::npos);
}

TEST_F(BitcoindTest, CookieContentNeverAppearsInErrors) {
  std::ifstream in(cookie_);
  std::string cookie;
  std::getline(in, cookie);
  std::string secret = cookie.substr(cookie.find(':') + 1);
  for (const char* mode : {R"({"mode":"wrong_auth"})", R"({"mode":"http_500"})", R"({"mode":"garbage"})"}) {
    emu_->Scenario(mode);
    auto r = CollectOnce(*New());
    for (const auto& e : r.batch.errors()) {
      EXPECT_EQ(e.detail.find(secret), std::string::npos) << mode;
      EXPECT_EQ(e.target.find(secret), std::string::npos) << mode;
    }
  }
}

TEST_F(BitcoindTest, TimeoutIsBounded) {
  emu_->Scenario(R"({"mode":"slow","delay":3})");
  BitcoindOptions o;
  o.timeout = Duration(300);
  auto r = CollectOnce(*New(o));
  EXPECT_EQ(Reasons(r.batch), "timeout");
  EXPECT_LT(r.seconds, 1.0);
  EXPECT_EQ(Value(r.batch, "vigil_bitcoind_up", kSvc), 0);
}

TEST_F(BitcoindTest, SchedulerDeadlineBoundsTheCollection) {
  emu_->Scenario(R"({"mode":"slow","delay":3})");
  auto r = CollectOnce(*New(), /*deadline_ms=*/300);  // own timeout 5 s
  EXPECT_EQ(Reasons(r.batch), "timeout");
  EXPECT_LT(r.seconds, 1.0);
}

TEST_F(BitcoindTest, ConnectionRefused) {
  BitcoindOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  auto r = CollectOnce(*New(o));
  EXPECT_EQ(Reasons(r.batch), "connection_refused");
  EXPECT_EQ(r.batch.errors()[0].target, o.url.substr(0, o.url.size()));
}

TEST_F(BitcoindTest, Http500) {
  emu_->Scenario(R"({"mode":"http_500"})");
  auto r = CollectOnce(*New());
  EXPECT_EQ(Reasons(r.batch), "http_500");
}

TEST_F(BitcoindTest, GarbageAndTruncatedJson) {
  for (const char* mode : {R"({"mode":"garbage"})", R"({"mode":"truncated"})"}) {
    emu_->Scenario(mode);
    auto r = CollectOnce(*New());
    EXPECT_EQ(Reasons(r.batch), "bad_json") << mode;
    EXPECT_EQ(Value(r.batch, "vigil_bitcoind_up", kSvc), 0);
  }
}

TEST(BitcoindOptionsTest, BadUrlIsAConfigError) {
  BitcoindOptions o;
  o.url = "ftp://x";
  EXPECT_FALSE(NewBitcoindCollector(o).ok());
}

}  // namespace
}  // namespace vigil::probe
