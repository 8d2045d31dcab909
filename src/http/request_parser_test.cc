#include "http/request_parser.h"

#include <gtest/gtest.h>

namespace vigil::http {
namespace {

TEST(ParseRequestHeadTest, ParsesARequest) {
  std::string in = "\r\nGET /api/v1/query%20x?query=up&time=1 HTTP/1.1\r\nHost: h\r\nX-A:  b c \r\n\r\nrest";
  HeadParse p = ParseRequestHead(in);
  ASSERT_FALSE(p.error) << p.error->reason;
  EXPECT_EQ(p.consumed, in.size() - 4);
  EXPECT_EQ(p.head.method, "GET");
  EXPECT_EQ(p.head.path, "/api/v1/query x");
  EXPECT_EQ(p.head.query, "query=up&time=1");
  EXPECT_EQ(p.head.Header("x-a"), "b c");
  EXPECT_TRUE(p.head.keep_alive);
}

TEST(ParseRequestHeadTest, WaitsForTheBlankLine) {
  std::string full = "GET / HTTP/1.1\nHost: h\n\n";
  for (size_t n = 0; n < full.size(); ++n) {
    HeadParse p = ParseRequestHead(full.substr(0, n));
    EXPECT_EQ(p.consumed, 0u) << n;
    EXPECT_FALSE(p.error) << n;
  }
  EXPECT_EQ(ParseRequestHead(full).consumed, full.size());
}

TEST(ParseRequestHeadTest, ConnectionAndVersion) {
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  EXPECT_TRUE(ParseRequestHead("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").head.keep_alive);
  EXPECT_EQ(ParseRequestHead("GET http://h:1/p?q HTTP/1.1\r\n\r\n").head.path, "/p");
}

TEST(ParseRequestHeadTest, RejectsSmugglingShapes) {
  EXPECT_EQ(ParseRequestHead("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").error->status, 400);
  EXPECT_EQ(
      ParseRequestHead("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n").error->status,
      400);
  EXPECT_EQ(ParseRequestHead("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").error->status, 501);
  EXPECT_EQ(ParseRequestHead("GET / HTTP/1.1\r\n folded\r\n\r\n").error->status, 400);
  EXPECT_EQ(ParseRequestHead("GET / HTTP/1.1\r\nA : b\r\n\r\n").error->status, 400);
}

TEST(ParseRequestHeadTest, Limits) {
  std::string many = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i <= kMaxRequestHeaderFields; ++i) many += "A: b\r\n";
  EXPECT_EQ(ParseRequestHead(many + "\r\n").error->status, 431);
  EXPECT_EQ(ParseRequestHead(std::string(100, 'G'), 64).error->reason, "request line too long (limit 64 bytes)");
}

TEST(ChunkedDecoderTest, DecodesByteByByte) {
  std::string in = "5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\nNEXT";
  ChunkedDecoder d(100);
  std::string body;
  size_t used = 0;
  for (size_t i = 0; i < in.size() && !d.done(); ++i) used += d.Feed(in.substr(i, 1), &body);
  ASSERT_TRUE(d.done());
  EXPECT_EQ(body, "hello world");
  EXPECT_EQ(in.substr(used), "NEXT");
}

TEST(ChunkedDecoderTest, Errors) {
  std::string body;
  ChunkedDecoder big(10);
  big.Feed("b\r\n", &body);
  EXPECT_EQ(big.error()->status, 413);
  ChunkedDecoder bad(10);
  bad.Feed("zz\r\n", &body);
  EXPECT_EQ(bad.error()->status, 400);
  ChunkedDecoder no_crlf(10);
  no_crlf.Feed("1\r\naXY\r\n", &body);
  EXPECT_EQ(no_crlf.error()->status, 400);
}

}  // namespace
}  // namespace vigil::http
