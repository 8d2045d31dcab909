#include "web/web.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <mutex>
#include <string>

namespace vigil::web {
namespace {

http::Request Get(std::string path, std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::Request r;
  r.method = "GET";
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

std::string Header(const http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(in.size() * 20 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

TEST(WebUi, ServesThePageWithFingerprintedAssets) {
  http::Route ui = NewUiRoute();
  http::Response page = ui.handler(Get("/"));
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page.body.find("{{"), std::string::npos) << "a placeholder was left in the page";
  size_t at = page.body.find("/assets/app.js?v=");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(Header(page, "Cache-Control"), "no-cache");
  EXPECT_NE(Header(page, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);

  // The fingerprinted script is cached for good; the same script without it is revalidated.
  std::string version = page.body.substr(at + 17, 16);
  http::Request versioned = Get("/assets/app.js");
  versioned.params = {{"v", version}};
  http::Response js = ui.handler(versioned);
  ASSERT_EQ(js.status, 200);
  EXPECT_NE(Header(js, "Cache-Control").find("immutable"), std::string::npos);
  EXPECT_EQ(Header(js, "ETag"), "\"" + version + "\"");
  EXPECT_EQ(Header(ui.handler(Get("/assets/app.js")), "Cache-Control"), "no-cache");
}

TEST(WebUi, GzipOnlyForClientsThatAcceptItAndNotModifiedByETag) {
  http::Route ui = NewUiRoute();
  http::Response plain = ui.handler(Get("/assets/app.js"));
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(Header(plain, "Content-Encoding"), "");
  http::Response gz = ui.handler(Get("/assets/app.js", {{"accept-encoding", "gzip, br"}}));
  ASSERT_EQ(Header(gz, "Content-Encoding"), "gzip");
  EXPECT_LT(gz.body.size(), plain.body.size() / 2);
  EXPECT_EQ(Gunzip(gz.body), plain.body);
  EXPECT_EQ(Header(ui.handler(Get("/assets/app.js", {{"accept-encoding", "gzip;q=0"}})), "Content-Encoding"), "");

  http::Response again = ui.handler(Get("/assets/app.js", {{"if-none-match", Header(plain, "ETag")}}));
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
}

TEST(WebUi, UnknownPathsAndMethodsAreClearErrors) {
  http::Route ui = NewUiRoute();
  http::Response missing = ui.handler(Get("/nope"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/nope"), std::string::npos);
  http::Request post = Get("/");
  post.method = "POST";
  http::Response wrong = ui.handler(post);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(Header(wrong, "Allow"), "GET, HEAD");
}

// A stand-in for the server's end of one event stream.
class FakeWriter : public http::StreamWriter {
 public:
  bool Write(std::string_view data) override {
    std::lock_guard lock(mu);
    if (!open_) return false;
    sent += data;
    return true;
  }
  void Close() override {
    std::lock_guard lock(mu);
    open_ = false;
  }
  bool open() const override {
    std::lock_guard lock(mu);
    return open_;
  }
  std::string Sent() {
    std::lock_guard lock(mu);
    return sent;
  }

 private:
  mutable std::mutex mu;
  bool open_ = true;
  std::string sent;
};

TEST(LiveEvents, EveryOpenStreamGetsEachEventAndGoneOnesAreForgotten) {
  LiveEvents live(2);
  http::Route route = live.NewRoute();
  http::Response r = route.handler(Get("/api/v1/events"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  ASSERT_TRUE(r.stream);
  auto a = std::make_shared<FakeWriter>();
  auto b = std::make_shared<FakeWriter>();
  r.stream(a);
  route.handler(Get("/api/v1/events")).stream(b);
  EXPECT_EQ(a->Sent(), "retry: 1000\nevent: hello\ndata: {}\n\n");

  // A third page is refused while two are open.
  http::Response third = route.handler(Get("/api/v1/events"));
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(Header(third, "Retry-After"), "5");

  live.Publish("change", R"({"source":"systemd"})");
  EXPECT_NE(a->Sent().find("event: change\ndata: {\"source\":\"systemd\"}\n\n"), std::string::npos);
  EXPECT_NE(b->Sent().find("event: change"), std::string::npos);

  // A page that went away frees its place at the next event.
  b->Close();
  live.Publish("alerts", "{}");
  EXPECT_EQ(route.handler(Get("/api/v1/events")).status, 200);
  MetricBatch m;
  live.AppendMetrics(m);
  EXPECT_EQ(m.sample_count(), 2u);  // open streams, events sent
}

TEST(LiveEvents, WrongPathsAndMethods) {
  LiveEvents live;
  http::Route route = live.NewRoute();
  EXPECT_EQ(route.handler(Get("/api/v1/events/x")).status, 404);
  http::Request post = Get("/api/v1/events");
  post.method = "POST";
  EXPECT_EQ(route.handler(post).status, 405);
}

}  // namespace
}  // namespace vigil::web
