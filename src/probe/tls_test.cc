// TLS certificate expiry: certificates made at test time with the openssl CLI
// (1 and 60 days), served by an in-process httplib SSLServer on 127.0.0.1,
// and read from PEM files.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <thread>

#include "base/testing/temp_dir.h"
#include "probe/probe.h"
#include "probe/probe_test_util.h"

namespace vigil::probe {
namespace {

using testing::ClosedPort;
using testing::CollectOnce;
using testing::Has;
using testing::Reasons;
using testing::Value;

const Labels kProbe{{"probe", "cert"}, {"service", "svc"}};

double Now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

ProbeCommon Common(int timeout_ms = 2000) {
  ProbeCommon c;
  c.service = "svc";
  c.name = "cert";
  c.timeout = Duration(timeout_ms);
  return c;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vigil::testing::TempDir();
    for (int days : {1, 60}) {
      std::string base = dir_->path() + "/d" + std::to_string(days);
      std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + base +
                        ".key -out " + base + ".crt -days " + std::to_string(days) +
                        " -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null";
      ok_ = std::system(cmd.c_str()) == 0 && ok_;
    }
    server_ = new httplib::SSLServer((dir_->path() + "/d1.crt").c_str(), (dir_->path() + "/d1.key").c_str());
    server_->Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = new std::thread([] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  static void TearDownTestSuite() {
    server_->stop();
    thread_->join();
    delete thread_;
    delete server_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(ok_) << "openssl could not make the test certificates";
    ASSERT_GT(port_, 0);
  }

  static std::string Path(const std::string& name) { return dir_->path() + "/" + name; }
  static std::string Target() { return "127.0.0.1:" + std::to_string(port_); }

  static vigil::testing::TempDir* dir_;
  static bool ok_;
  static httplib::SSLServer* server_;
  static std::thread* thread_;
  static int port_;
};
vigil::testing::TempDir* TlsTest::dir_ = nullptr;
bool TlsTest::ok_ = true;
httplib::SSLServer* TlsTest::server_ = nullptr;
std::thread* TlsTest::thread_ = nullptr;
int TlsTest::port_ = 0;

TEST_F(TlsTest, EndpointExpiry) {
  TlsProbeOptions o;
  o.common = Common();
  o.target = Target();
  auto r = CollectOnce(*NewTlsProbe(o).value());
  ASSERT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(Value(r.batch, "vigil_probe_success", kProbe), 1);
  EXPECT_NEAR(Value(r.batch, "vigil_probe_tls_cert_expiry_seconds", kProbe), Now() + 86400, 300);
  EXPECT_EQ(Value(r.batch, "vigil_probe_tls_verified", kProbe), 0);  // self-signed
}

TEST_F(TlsTest, FileExpiryAndEarliestOfABundle) {
  TlsProbeOptions o;
  o.common = Common();
  o.file = Path("d60.crt");
  auto r = CollectOnce(*NewTlsProbe(o).value());
  ASSERT_EQ(Reasons(r.batch), "");
  EXPECT_NEAR(Value(r.batch, "vigil_probe_tls_cert_expiry_seconds", kProbe), Now() + 60 * 86400, 300);

  std::string bundle = dir_->Write("bundle.pem", "");
  ASSERT_EQ(std::system(("cat " + Path("d60.crt") + " " + Path("d1.crt") + " > " + bundle).c_str()), 0);
  o.file = bundle;
  auto b = CollectOnce(*NewTlsProbe(o).value());
  EXPECT_NEAR(Value(b.batch, "vigil_probe_tls_cert_expiry_seconds", kProbe), Now() + 86400, 300);
}

TEST_F(TlsTest, FileProblems) {
  TlsProbeOptions o;
  o.common = Common();
  o.file = dir_->Write("not.pem", "hello\n");
  auto bad = CollectOnce(*NewTlsProbe(o).value());
  EXPECT_EQ(Reasons(bad.batch), "bad_cert");
  EXPECT_EQ(bad.batch.errors()[0].target, o.file);
  o.file = Path("absent.pem");
  auto missing = CollectOnce(*NewTlsProbe(o).value());
  EXPECT_EQ(Reasons(missing.batch), "read_failed");
  EXPECT_FALSE(Has(missing.batch, "vigil_probe_tls_cert_expiry_seconds"));
  // A key file holds no certificate, and its content must not leak into the error.
  o.file = Path("d1.key");
  auto key = CollectOnce(*NewTlsProbe(o).value());
  EXPECT_EQ(Reasons(key.batch), "bad_cert");
  EXPECT_EQ(key.batch.errors()[0].detail.find("PRIVATE"), std::string::npos);
}

TEST_F(TlsTest, EndpointFailures) {
  TlsProbeOptions o;
  o.common = Common(300);
  o.target = "127.0.0.1:" + std::to_string(ClosedPort());
  EXPECT_EQ(Reasons(CollectOnce(*NewTlsProbe(o).value()).batch), "connection_refused");

  // Plain HTTP is not TLS.
  httplib::Server plain;
  plain.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("x", "text/plain"); });
  int plain_port = plain.bind_to_any_port("127.0.0.1");
  std::thread t([&] { plain.listen_after_bind(); });
  while (!plain.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  o.target = "127.0.0.1:" + std::to_string(plain_port);
  auto r = CollectOnce(*NewTlsProbe(o).value());
  plain.stop();
  t.join();
  EXPECT_EQ(Reasons(r.batch), "tls_handshake_failed");

  // A listener that never answers the ClientHello: bounded by the timeout.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(s, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  o.target = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto silent = CollectOnce(*NewTlsProbe(o).value());
  ::close(s);
  EXPECT_EQ(Reasons(silent.batch), "timeout");
  EXPECT_LT(silent.seconds, 1.0);
}

TEST_F(TlsTest, HttpsProbeVerifyOnAndOff) {
  HttpProbeOptions o;
  o.common = Common();
  o.url = "https://" + Target() + "/";
  o.tls_verify = false;
  auto r = CollectOnce(*NewHttpProbe(o).value());
  EXPECT_EQ(Reasons(r.batch), "");
  EXPECT_EQ(Value(r.batch, "vigil_probe_http_status_code", kProbe), 200);

  o.tls_verify = true;
  auto v = CollectOnce(*NewHttpProbe(o).value());
  EXPECT_EQ(Reasons(v.batch), "tls_verify_failed");
  EXPECT_EQ(Value(v.batch, "vigil_probe_success", kProbe), 0);
}

}  // namespace
}  // namespace vigil::probe
