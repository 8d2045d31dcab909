// Prometheus's remote read endpoint, POST /api/v1/read: a snappy-compressed
// ReadRequest in, raw samples (SAMPLES) or Prometheus XOR chunks in
// checksummed frames (STREAMED_XOR_CHUNKS) out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "base/time.h"
#include "http/server.h"
#include "promql/engine.h"
#include "tsdb/matcher.h"

namespace vigil::api {

struct RemoteReadLimits {
  // Samples one request may return over all its queries (Prometheus's
  // remote_read_sample_limit).
  uint64_t max_samples = 50'000'000;
  // A streamed frame is closed once it holds this many bytes (Prometheus's
  // remote_read_max_bytes_in_frame); a frame may exceed it by one chunk.
  size_t max_frame_bytes = 1 << 20;
  // The request body after snappy decompression.
  size_t max_request_bytes = 32 << 20;
};

enum class ReadResponseType { kSamples, kStreamedXorChunks };

struct ReadQuery {
  TimestampMs start = 0, end = 0;
  std::vector<tsdb::Matcher> matchers;
};

struct ReadPlan {
  ReadResponseType type = ReadResponseType::kSamples;
  std::vector<ReadQuery> queries;
};

// Decodes and checks a remote read body: snappy, then protobuf, at least one
// query, each with matchers of which one does not match the empty string,
// valid label names and regexes (anchored, RE2), start <= end, and a response
// type vigil serves (the first one accepted; none listed means SAMPLES). An
// `=` matcher on an external label with that label's value is relaxed to
// `name=""`, as Prometheus does: stored series do not carry external labels.
// The error says which query and matcher is wrong, and why.
Result<ReadPlan> ParseReadRequest(std::string_view body, const Labels& external_labels,
                                  size_t max_request_bytes = RemoteReadLimits{}.max_request_bytes);

// Answers POST /api/v1/read from `storage` (raw data only). Bad requests get
// 400 with a text message; series get the external labels they lack.
http::Response RemoteRead(const http::Request& request, const promql::QuerierFactory& storage,
                          const Labels& external_labels, const RemoteReadLimits& limits);

}  // namespace vigil::api
