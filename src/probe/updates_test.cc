// The binary-update checker against fake binaries and an in-process releases server.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "base/testing/temp_dir.h"
#include "probe/probe.h"
#include "probe/probe_test_util.h"

namespace vigil::probe {
namespace {

using testing::CollectOnce;
using testing::Has;
using testing::Reasons;
using testing::Value;

TEST(VersionTest, ExtractAndCompare) {
  EXPECT_EQ(ExtractVersion("validator 1.2.3 (rev abc, built 2024)"), "1.2.3");
  EXPECT_EQ(ExtractVersion("Bitcoin Core version v27.0.0\nCopyright"), "27.0.0");
  EXPECT_EQ(ExtractVersion("v0.9.0-rc.1"), "0.9.0-rc.1");
  EXPECT_EQ(ExtractVersion("build 42 only"), "");
  EXPECT_GT(CompareVersions("v1.10.0", "1.9.2"), 0);
  EXPECT_EQ(CompareVersions("v1.2", "1.2.0"), 0);
  EXPECT_LT(CompareVersions("1.2.0-rc1", "1.2.0"), 0);
  EXPECT_GT(CompareVersions("1.2.0", "1.2.0-rc1"), 0);
  EXPECT_EQ(CompareVersions("1.2.0+build5", "1.2.0"), 0);
}

class UpdatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/latest", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      user_agent_ = req.get_header_value("User-Agent");
      res.status = status_;
      res.set_content(body_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    bin_ = Script("validator", "#!/bin/sh\necho \"validator 1.2.3 (rev abc)\"\n");
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  std::string Script(const std::string& name, const std::string& text) {
    std::string p = dir_.Write(name, text);
    ::chmod(p.c_str(), 0755);
    return p;
  }
  UpdateCheckOptions Options() {
    UpdateCheckOptions o;
    o.service = "validator";
    o.binary = bin_;
    o.releases_url = "http://127.0.0.1:" + std::to_string(port_) + "/latest";
    o.timeout = Duration(2000);
    return o;
  }
  std::unique_ptr<collect::Collector> New(UpdateCheckOptions o) {
    auto c = NewUpdateChecker(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(*c);
  }

  vigil::testing::TempDir dir_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::string bin_;
  std::atomic<int> requests_{0};
  std::string user_agent_;
  int status_ = 200;
  std::string body_ = R"({"tag_name":"v1.3.0","name":"1.3.0","draft":false,"prerelease":false})";
};

TEST_F(UpdatesTest, NewerReleaseIsAvailable) {
  auto c = New(Options());
  EXPECT_EQ(c->name(), "updates/validator");
  auto r = CollectOnce(*c);
  ASSERT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(Value(r.batch, "vigil_update_available",
                  Labels{{"installed", "1.2.3"}, {"latest", "1.3.0"}, {"service", "validator"}}),
            1);
  EXPECT_EQ(Value(r.batch, "vigil_update_check_success", Labels{{"service", "validator"}}), 1);
  EXPECT_EQ(user_agent_, "vigil");
}

TEST_F(UpdatesTest, SameVersionFromAFileAndAReleasesList) {
  body_ = R"([{"tag_name":"v2.0.0-rc1","prerelease":true},{"tag_name":"v1.2.3","draft":false}])";
  UpdateCheckOptions o = Options();
  o.binary.clear();
  o.version_file = dir_.Write("VERSION", "1.2.3\n");
  auto r = CollectOnce(*New(o));
  ASSERT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(Value(r.batch, "vigil_update_available",
                  Labels{{"installed", "1.2.3"}, {"latest", "1.2.3"}, {"service", "validator"}}),
            0);
}

TEST_F(UpdatesTest, HangingBinaryIsKilledAtTheTimeout) {
  UpdateCheckOptions o = Options();
  o.binary = Script("hangs", "#!/bin/sh\nsleep 10\necho 1.0.0\n");  // the sleep child holds the pipe too
  o.timeout = Duration(300);
  auto r = CollectOnce(*New(o));
  EXPECT_LT(r.seconds, 1.0);
  ASSERT_FALSE(r.batch.errors().empty());
  EXPECT_EQ(r.batch.errors()[0].reason, "timeout");
  EXPECT_EQ(r.batch.errors()[0].target, o.binary);
  EXPECT_FALSE(Has(r.batch, "vigil_update_available"));
  EXPECT_EQ(Value(r.batch, "vigil_update_check_success", Labels{{"service", "validator"}}), 0);
}

TEST_F(UpdatesTest, BinaryProblems) {
  UpdateCheckOptions o = Options();
  o.binary = dir_.path() + "/absent";
  EXPECT_EQ(Reasons(CollectOnce(*New(o)).batch), "exec_failed");
  o.binary = Script("fails", "#!/bin/sh\nexit 3\n");
  EXPECT_EQ(Reasons(CollectOnce(*New(o)).batch), "exec_failed");
  o.binary = Script("noversion", "#!/bin/sh\necho hello\n");
  EXPECT_EQ(Reasons(CollectOnce(*New(o)).batch), "bad_version");
}

TEST_F(UpdatesTest, ReleaseServerProblems) {
  status_ = 500;
  EXPECT_EQ(Reasons(CollectOnce(*New(Options())).batch), "http_500");
  status_ = 200;
  body_ = "{\"tag_name\": \"v1.";
  EXPECT_EQ(Reasons(CollectOnce(*New(Options())).batch), "bad_json");
  body_ = R"({"message":"Not Found"})";
  EXPECT_EQ(Reasons(CollectOnce(*New(Options())).batch), "bad_response");
}

TEST(UpdatesOptionsTest, Validation) {
  UpdateCheckOptions o;
  o.service = "v";
  o.releases_url = "http://127.0.0.1:1/";
  EXPECT_FALSE(NewUpdateChecker(o).ok());  // neither binary nor version file
  o.binary = "validator";                  // not absolute: no PATH lookup, no shell
  EXPECT_FALSE(NewUpdateChecker(o).ok());
  o.binary = "/usr/local/bin/validator";
  EXPECT_TRUE(NewUpdateChecker(o).ok());
  EXPECT_EQ(kDefaultUpdateCheckInterval, Duration(6 * 3600 * 1000));
}

}  // namespace
}  // namespace vigil::probe
