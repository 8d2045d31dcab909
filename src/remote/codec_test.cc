#include "remote/codec.h"

#include <gtest/gtest.h>

namespace vigil::remote {
namespace {

TEST(RemoteCodec, WriteRequestRoundTripsThroughSnappy) {
  prompb::WriteRequest w;
  auto* ts = w.add_timeseries();
  auto* l = ts->add_labels();
  l->set_name("__name__");
  l->set_value("up");
  auto* s = ts->add_samples();
  s->set_value(1.5);
  s->set_timestamp(1700000000123);
  std::string body = EncodeSnappyProto(w);
  prompb::WriteRequest back;
  ASSERT_TRUE(DecodeSnappyProto(body, &back, "write request").ok());
  ASSERT_EQ(back.timeseries_size(), 1);
  EXPECT_EQ(back.timeseries(0).labels(0).value(), "up");
  EXPECT_EQ(back.timeseries(0).samples(0).timestamp(), 1700000000123);
  EXPECT_EQ(back.timeseries(0).samples(0).value(), 1.5);
}

TEST(RemoteCodec, BadBodiesAreErrorsThatSayWhy) {
  prompb::WriteRequest w;
  Status st = DecodeSnappyProto("not snappy at all \xff\xff\xff\xff\xff", &w, "write request");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("write request: "), std::string::npos) << st.message();
  // A valid snappy stream around bytes that are not a WriteRequest.
  st = DecodeSnappyProto(SnappyCompress("\x0a\xff\xff\xff\xff\x0f"), &w, "write request");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a valid protobuf"), std::string::npos) << st.message();
  // A header announcing more than the limit is refused before allocating.
  Result<std::string> big = SnappyUncompress(SnappyCompress(std::string(4096, 'a')), 1024);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("over the limit"), std::string::npos);
}

TEST(RemoteCodec, ChunkedFramesCarryLengthAndCrc32c) {
  prompb::ChunkedReadResponse m;
  m.set_query_index(3);
  auto* cs = m.add_chunked_series();
  auto* c = cs->add_chunks();
  c->set_type(prompb::Chunk::XOR);
  c->set_data("abc");
  std::string frames = FrameChunkedReadResponse(m) + FrameChunkedReadResponse(m);
  std::string_view rest = frames;
  prompb::ChunkedReadResponse back;
  ASSERT_TRUE(ReadChunkedFrame(&rest, &back).ok());
  EXPECT_EQ(back.query_index(), 3);
  ASSERT_TRUE(ReadChunkedFrame(&rest, &back).ok());
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);  // the standard check value
  prompb::ChunkedReadResponse empty;
  std::string f = FrameChunkedReadResponse(empty);
  EXPECT_EQ(f.size(), 5u);  // length 0, then the CRC of nothing
  std::string corrupt = FrameChunkedReadResponse(m);
  corrupt.back() ^= 1;
  rest = corrupt;
  Status st = ReadChunkedFrame(&rest, &back);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("checksum"), std::string::npos);
}

}  // namespace
}  // namespace vigil::remote
