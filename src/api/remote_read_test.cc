#include "api/remote_read.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <tuple>

#include "api/api.h"
#include "remote/codec.h"
#include "remote/prompb/remote.pb.h"
#include "tsdb/chunkenc/prom_xor.h"
#include "tsdb/memory.h"
#include "tsdb/tsdb.h"

namespace vigil::api {
namespace {

using prompb::LabelMatcher;
using prompb::ReadRequest;

constexpr TimestampMs kT0 = 1'700'000'000'000;

struct Decoded {
  Labels labels;
  std::vector<TimestampMs> t;
  std::vector<double> v;
};

Labels FromProto(const google::protobuf::RepeatedPtrField<prompb::Label>& pl) {
  std::vector<Label> l;
  for (const auto& x : pl) l.push_back({x.name(), x.value()});
  return Labels::FromUnsorted(std::move(l));
}

class RemoteReadTest : public ::testing::Test {
 protected:
  RemoteReadTest() {
    // 300 samples 1 s apart: three chunks of 120, 120 and 60 when streamed.
    for (int i = 0; i < 300; ++i) {
      store_.Add({{"__name__", "up"}, {"job", "node"}}, kT0 + i * 1000, i % 7 == 0 ? 0 : 1);
      store_.Add({{"__name__", "cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}}, kT0 + i * 1000, i * 0.97);
    }
    store_.Add({{"__name__", "up"}, {"job", "nodex"}}, kT0, 1);
    store_.Add({{"__name__", "up"}, {"job", "gone"}}, kT0 + 10000, 1);
    store_.Add({{"__name__", "up"}, {"job", "gone"}}, kT0 + 20000, tsdb::StaleNaN());
    storage_ = [this](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
      return store_.NewQuerier(mint, maxt);
    };
  }

  static prompb::Query* AddQuery(ReadRequest* req, TimestampMs start, TimestampMs end,
                                 std::vector<std::tuple<LabelMatcher::Type, std::string, std::string>> matchers) {
    prompb::Query* q = req->add_queries();
    q->set_start_timestamp_ms(start);
    q->set_end_timestamp_ms(end);
    for (auto& [type, name, value] : matchers) {
      LabelMatcher* m = q->add_matchers();
      m->set_type(type);
      m->set_name(name);
      m->set_value(value);
    }
    return q;
  }

  http::Response Post(const std::string& body) {
    http::Request r;
    r.method = "POST";
    r.path = "/api/v1/read";
    r.content_type = "application/x-protobuf";
    r.body = body;
    return RemoteRead(r, storage_, external_, limits_);
  }
  http::Response Post(const ReadRequest& req) { return Post(remote::EncodeSnappyProto(req)); }

  // The SAMPLES answer, per query.
  static std::vector<std::vector<Decoded>> DecodeSamples(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/x-protobuf");
    EXPECT_EQ(r.headers, (std::vector<std::pair<std::string, std::string>>{{"Content-Encoding", "snappy"}}));
    prompb::ReadResponse resp;
    Status s = remote::DecodeSnappyProto(r.body, &resp, "read response");
    EXPECT_TRUE(s.ok()) << s.message();
    std::vector<std::vector<Decoded>> out;
    for (const auto& qr : resp.results()) {
      out.emplace_back();
      for (const auto& ts : qr.timeseries()) {
        Decoded d{FromProto(ts.labels()), {}, {}};
        for (const auto& smp : ts.samples()) {
          d.t.push_back(smp.timestamp());
          d.v.push_back(smp.value());
        }
        out.back().push_back(std::move(d));
      }
    }
    return out;
  }

  struct Streamed {
    std::vector<std::vector<Decoded>> per_query;
    std::vector<size_t> frame_bytes;
    size_t max_chunk_samples = 0;
  };
  // The STREAMED_XOR_CHUNKS answer; a series split over frames is joined.
  static Streamed DecodeStreamed(const http::Response& r, size_t queries) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse");
    EXPECT_TRUE(r.headers.empty());
    Streamed out;
    out.per_query.resize(queries);
    std::string_view data = r.body;
    while (!data.empty()) {
      const size_t before = data.size();
      prompb::ChunkedReadResponse frame;
      Status s = remote::ReadChunkedFrame(&data, &frame);
      if (!s.ok()) {
        ADD_FAILURE() << s.message();
        break;
      }
      out.frame_bytes.push_back(before - data.size());
      EXPECT_EQ(frame.chunked_series_size(), 1);
      EXPECT_LT(frame.query_index(), static_cast<int64_t>(queries));
      auto& series = out.per_query.at(frame.query_index());
      for (const auto& cs : frame.chunked_series()) {
        Labels labels = FromProto(cs.labels());
        if (series.empty() || series.back().labels != labels) series.push_back({labels, {}, {}});
        for (const auto& c : cs.chunks()) {
          EXPECT_EQ(c.type(), prompb::Chunk::XOR);
          tsdb::chunkenc::PromXorDecoder d(c.data());
          out.max_chunk_samples = std::max(out.max_chunk_samples, static_cast<size_t>(d.num_samples()));
          bool first = true;
          while (d.Next()) {
            if (first) {
              EXPECT_EQ(d.t(), c.min_time_ms());
            }
            first = false;
            series.back().t.push_back(d.t());
            series.back().v.push_back(d.v());
          }
          EXPECT_FALSE(d.corrupt());
          EXPECT_EQ(series.back().t.back(), c.max_time_ms());
        }
      }
    }
    return out;
  }

  tsdb::MemoryStorage store_;
  promql::QuerierFactory storage_;
  Labels external_;
  RemoteReadLimits limits_;
};

TEST_F(RemoteReadTest, SamplesForEachQueryInOrder) {
  ReadRequest req;
  AddQuery(&req, kT0 + 10000, kT0 + 12000, {{LabelMatcher::EQ, "__name__", "cpu_seconds_total"}});
  AddQuery(&req, kT0, kT0 + 20000, {{LabelMatcher::EQ, "__name__", "up"}, {LabelMatcher::RE, "job", "node|gone"}});
  auto got = DecodeSamples(Post(req));
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].size(), 1u);
  EXPECT_EQ(got[0][0].labels, (Labels{{"__name__", "cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}}));
  EXPECT_EQ(got[0][0].t, (std::vector<TimestampMs>{kT0 + 10000, kT0 + 11000, kT0 + 12000}));  // both ends inclusive
  EXPECT_EQ(got[0][0].v, (std::vector<double>{10 * 0.97, 11 * 0.97, 12 * 0.97}));
  ASSERT_EQ(got[1].size(), 2u);  // "nodex" is not matched: the regex is anchored
  EXPECT_EQ(got[1][0].labels, (Labels{{"__name__", "up"}, {"job", "gone"}}));
  ASSERT_EQ(got[1][0].v.size(), 2u);
  EXPECT_TRUE(tsdb::IsStaleNaN(got[1][0].v[1])) << "staleness markers go out as they are";
  EXPECT_EQ(got[1][1].labels, (Labels{{"__name__", "up"}, {"job", "node"}}));
  EXPECT_EQ(got[1][1].t.size(), 21u);
}

TEST_F(RemoteReadTest, NegativeMatchersAndNoData) {
  ReadRequest req;
  AddQuery(
      &req, kT0, kT0 + 600000,
      {{LabelMatcher::EQ, "__name__", "up"}, {LabelMatcher::NEQ, "job", "node"}, {LabelMatcher::NRE, "job", "g.*"}});
  AddQuery(&req, kT0 - 100000, kT0 - 1, {{LabelMatcher::EQ, "__name__", "up"}});
  auto got = DecodeSamples(Post(req));
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].size(), 1u);
  EXPECT_EQ(got[0][0].labels.Get("job"), "nodex");
  EXPECT_TRUE(got[1].empty());
}

TEST_F(RemoteReadTest, StreamedXorChunksCarryTheSameSamples) {
  ReadRequest req;
  req.add_accepted_response_types(ReadRequest::STREAMED_XOR_CHUNKS);
  req.add_accepted_response_types(ReadRequest::SAMPLES);
  AddQuery(&req, kT0, kT0 + 600000, {{LabelMatcher::RE, "__name__", "up|cpu_seconds_total"}});
  AddQuery(&req, kT0 + 5000, kT0 + 5000, {{LabelMatcher::EQ, "job", "node"}});
  Streamed got = DecodeStreamed(Post(req), 2);
  EXPECT_EQ(got.max_chunk_samples, 120u);
  ReadRequest as_samples = req;
  as_samples.clear_accepted_response_types();
  auto want = DecodeSamples(Post(as_samples));
  ASSERT_EQ(got.per_query.size(), want.size());
  for (size_t q = 0; q < want.size(); ++q) {
    ASSERT_EQ(got.per_query[q].size(), want[q].size()) << q;
    for (size_t s = 0; s < want[q].size(); ++s) {
      EXPECT_EQ(got.per_query[q][s].labels, want[q][s].labels);
      EXPECT_EQ(got.per_query[q][s].t, want[q][s].t);
      ASSERT_EQ(got.per_query[q][s].v.size(), want[q][s].v.size());
      for (size_t i = 0; i < want[q][s].v.size(); ++i) {
        EXPECT_EQ(std::bit_cast<uint64_t>(got.per_query[q][s].v[i]), std::bit_cast<uint64_t>(want[q][s].v[i]));
      }
    }
  }
  EXPECT_EQ(got.per_query[0].size(), 4u);
  EXPECT_EQ(got.per_query[0][0].t.size(), 300u);
  EXPECT_EQ(got.per_query[1].size(), 1u);
  EXPECT_EQ(got.per_query[1][0].t, std::vector<TimestampMs>{kT0 + 5000});
}

TEST_F(RemoteReadTest, LongSeriesAreSplitOverFramesOfBoundedSize) {
  limits_.max_frame_bytes = 200;  // each 120-sample chunk of this counter is larger
  ReadRequest req;
  req.add_accepted_response_types(ReadRequest::STREAMED_XOR_CHUNKS);
  AddQuery(&req, kT0, kT0 + 600000, {{LabelMatcher::EQ, "__name__", "cpu_seconds_total"}});
  Streamed got = DecodeStreamed(Post(req), 1);
  EXPECT_EQ(got.frame_bytes.size(), 3u) << "one chunk per frame";
  ASSERT_EQ(got.per_query[0].size(), 1u);
  EXPECT_EQ(got.per_query[0][0].t.size(), 300u);
  limits_.max_frame_bytes = 1 << 20;
  EXPECT_EQ(DecodeStreamed(Post(req), 1).frame_bytes.size(), 1u);
}

TEST_F(RemoteReadTest, ResponseTypeNegotiation) {
  auto type_of = [&](std::vector<int> accepted) {
    ReadRequest req;
    for (int a : accepted) req.add_accepted_response_types(static_cast<ReadRequest::ResponseType>(a));
    AddQuery(&req, kT0, kT0, {{LabelMatcher::EQ, "job", "node"}});
    return Post(req);
  };
  EXPECT_EQ(type_of({}).content_type, "application/x-protobuf");
  EXPECT_EQ(type_of({0, 1}).content_type, "application/x-protobuf");
  EXPECT_EQ(type_of({1, 0}).content_type.rfind("application/x-streamed-protobuf", 0), 0u);
  EXPECT_EQ(type_of({7, 1}).content_type.rfind("application/x-streamed-protobuf", 0), 0u);
  http::Response none = type_of({7, 9});
  EXPECT_EQ(none.status, 400);
  EXPECT_NE(none.body.find("none of the accepted response types [7,9]"), std::string::npos) << none.body;
}

TEST_F(RemoteReadTest, ExternalLabelsAddedAndMatchedAsProm) {
  external_ = Labels{{"site", "fra"}};
  store_.Add({{"__name__", "up"}, {"job", "own"}, {"site", "ber"}}, kT0, 1);
  ReadRequest req;
  // site="fra" is the external label: stored series lack it, and still match.
  AddQuery(&req, kT0, kT0, {{LabelMatcher::EQ, "__name__", "up"}, {LabelMatcher::EQ, "site", "fra"}});
  AddQuery(&req, kT0, kT0, {{LabelMatcher::EQ, "__name__", "up"}, {LabelMatcher::EQ, "site", "ber"}});
  auto got = DecodeSamples(Post(req));
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].size(), 2u);
  EXPECT_EQ(got[0][0].labels, (Labels{{"__name__", "up"}, {"job", "node"}, {"site", "fra"}}));
  EXPECT_EQ(got[0][1].labels, (Labels{{"__name__", "up"}, {"job", "nodex"}, {"site", "fra"}}));
  ASSERT_EQ(got[1].size(), 1u);
  EXPECT_EQ(got[1][0].labels, (Labels{{"__name__", "up"}, {"job", "own"}, {"site", "ber"}}));
}

TEST_F(RemoteReadTest, SampleLimitIs400) {
  limits_.max_samples = 299;
  ReadRequest req;
  AddQuery(&req, kT0, kT0 + 600000, {{LabelMatcher::EQ, "__name__", "cpu_seconds_total"}});
  http::Response r = Post(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "remote read: exceeded sample limit (299): narrow the time range or the matchers\n");
  req.add_accepted_response_types(ReadRequest::STREAMED_XOR_CHUNKS);
  EXPECT_EQ(Post(req).status, 400);
  limits_.max_samples = 300;
  EXPECT_EQ(Post(req).status, 200);
}

// Every kind of bad request: 400 and a message naming the problem.
TEST_F(RemoteReadTest, BadRequestsAre400WithTheReason) {
  auto expect_400 = [&](const std::string& body, const std::string& want) {
    http::Response r = Post(body);
    EXPECT_EQ(r.status, 400) << want;
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
    EXPECT_NE(r.body.find(want), std::string::npos) << "want \"" << want << "\" in: " << r.body;
  };
  expect_400("", "not snappy");
  expect_400("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "not snappy");
  expect_400(remote::SnappyCompress("\x0a\x05"
                                    "ab"),
             "not a valid ReadRequest protobuf");
  limits_.max_request_bytes = 64;
  expect_400(remote::SnappyCompress(std::string(65, '\0')), "over the limit of 64");
  limits_.max_request_bytes = RemoteReadLimits{}.max_request_bytes;

  auto with = [](auto fill) {
    ReadRequest req;
    fill(req);
    return remote::EncodeSnappyProto(req);
  };
  expect_400(with([](ReadRequest&) {}), "the request has no queries");
  expect_400(with([](ReadRequest& r) { AddQuery(&r, kT0, kT0, {}); }), "query 0: no matchers");
  expect_400(with([](ReadRequest& r) {
               AddQuery(&r, kT0, kT0, {{LabelMatcher::EQ, "job", "node"}});
               AddQuery(&r, kT0, kT0, {{LabelMatcher::RE, "job", "(unclosed"}});
             }),
             "query 1: matcher job=~\"(unclosed\"");
  expect_400(with([](ReadRequest& r) {
               AddQuery(&r, kT0, kT0, {{LabelMatcher::RE, "job", ".*"}});
             }),
             "query 0: every matcher matches the empty string");
  expect_400(with([](ReadRequest& r) {
               AddQuery(&r, kT0, kT0, {{LabelMatcher::NEQ, "job", "x"}});
             }),
             "every matcher matches the empty string");
  expect_400(with([](ReadRequest& r) {
               AddQuery(&r, kT0, kT0, {{LabelMatcher::EQ, "0bad-name", "x"}});
             }),
             "query 0: invalid label name \"0bad-name\"");
  expect_400(with([](ReadRequest& r) {
               AddQuery(&r, kT0, kT0, {{static_cast<LabelMatcher::Type>(9), "job", "x"}});
             }),
             "query 0: unknown matcher type 9 on label \"job\"");
  expect_400(with([](ReadRequest& r) {
               AddQuery(&r, kT0 + 1, kT0, {{LabelMatcher::EQ, "job", "x"}});
             }),
             "query 0: end_timestamp_ms 1700000000000 is before start_timestamp_ms 1700000000001");
}

TEST_F(RemoteReadTest, ParseReadRequestIsThePureHalf) {
  ReadRequest req;
  req.add_accepted_response_types(ReadRequest::STREAMED_XOR_CHUNKS);
  AddQuery(&req, 1, 2, {{LabelMatcher::RE, "__name__", "up|down"}, {LabelMatcher::NRE, "job", ""}});
  Result<ReadPlan> plan = ParseReadRequest(remote::EncodeSnappyProto(req), {});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->type, ReadResponseType::kStreamedXorChunks);
  ASSERT_EQ(plan->queries.size(), 1u);
  EXPECT_EQ(plan->queries[0].start, 1);
  EXPECT_EQ(plan->queries[0].end, 2);
  ASSERT_EQ(plan->queries[0].matchers.size(), 2u);
  EXPECT_TRUE(plan->queries[0].matchers[0].Matches("up"));
  EXPECT_FALSE(plan->queries[0].matchers[0].Matches("upx"));
  EXPECT_FALSE(plan->queries[0].matchers[1].Matches(""));
}

TEST_F(RemoteReadTest, BytesThatAreNotUtf8AreAcceptedAsPrometheusDoes) {
  ReadRequest req;
  AddQuery(&req, 1, 2, {{LabelMatcher::EQ, "__name__", "up"}, {LabelMatcher::EQ, "job", "\xff\xfe"}});
  Result<ReadPlan> plan = ParseReadRequest(remote::EncodeSnappyProto(req), {});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(plan->queries[0].matchers[1].Matches("\xff\xfe"));
}

TEST_F(RemoteReadTest, ServedByTheApiOnPostOnly) {
  Options o;
  o.storage = storage_;
  o.external_labels = Labels{{"site", "fra"}};
  Api api(std::move(o));
  ReadRequest req;
  AddQuery(&req, kT0, kT0, {{LabelMatcher::EQ, "job", "node"}});
  http::Request r;
  r.method = "POST";
  r.path = "/api/v1/read";
  r.body = remote::EncodeSnappyProto(req);
  auto got = DecodeSamples(api.Handle(r));
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].size(), 1u);
  EXPECT_EQ(got[0][0].labels.Get("site"), "fra");
  r.method = "GET";
  EXPECT_EQ(api.Handle(r).status, 405);
}

}  // namespace
}  // namespace vigil::api
