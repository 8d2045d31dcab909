#include "api/remote_read.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "remote/codec.h"
#include "remote/prompb/remote.pb.h"
#include "tsdb/chunkenc/prom_xor.h"
#include "tsdb/tsdb.h"

namespace vigil::api {
namespace {

constexpr std::string_view kSamplesContentType = "application/x-protobuf";
constexpr std::string_view kStreamedContentType =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

http::Response TextError(int status, std::string_view message) {
  http::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "remote read: " + std::string(message) + "\n";
  return r;
}

std::string_view MatcherOp(int type) {
  switch (type) {
    case prompb::LabelMatcher::EQ: return "=";
    case prompb::LabelMatcher::NEQ: return "!=";
    case prompb::LabelMatcher::RE: return "=~";
    case prompb::LabelMatcher::NRE: return "!~";
  }
  return "?";
}

Result<tsdb::Matcher> ToMatcher(const prompb::LabelMatcher& m, const Labels& external_labels) {
  if (!IsValidLabelName(m.name())) return Status::Error("invalid label name \"" + m.name() + "\"");
  tsdb::Matcher::Type type;
  switch (m.type()) {
    case prompb::LabelMatcher::EQ: type = tsdb::Matcher::Type::kEqual; break;
    case prompb::LabelMatcher::NEQ: type = tsdb::Matcher::Type::kNotEqual; break;
    case prompb::LabelMatcher::RE: type = tsdb::Matcher::Type::kRegexMatch; break;
    case prompb::LabelMatcher::NRE: type = tsdb::Matcher::Type::kRegexNoMatch; break;
    default:
      return Status::Error("unknown matcher type " + std::to_string(static_cast<int>(m.type())) + " on label \"" +
                           m.name() + "\"");
  }
  std::string value = m.value();
  std::string_view ext = external_labels.Get(m.name());
  if (type == tsdb::Matcher::Type::kEqual && !ext.empty() && ext == value) value.clear();
  Result<tsdb::Matcher> made = tsdb::Matcher::Make(type, m.name(), std::move(value));
  if (!made.ok()) {
    return Status::Error("matcher " + m.name() + std::string(MatcherOp(m.type())) + "\"" + m.value() +
                         "\": " + made.status().message());
  }
  return made;
}

// The series' labels plus every external label it lacks.
void AppendLabels(const Labels& series, const Labels& external_labels,
                  google::protobuf::RepeatedPtrField<prompb::Label>* out) {
  Labels merged = series;
  for (const Label& l : external_labels) {
    if (series.Get(l.name).empty()) merged.Set(l.name, l.value);
  }
  for (const Label& l : merged) {
    prompb::Label* pl = out->Add();
    pl->set_name(l.name);
    pl->set_value(l.value);
  }
}

// Reads every selected series of each query and hands it to `emit`; stops
// with the error response of the first failure.
template <typename Emit>
std::optional<http::Response> ForEachSeries(const ReadPlan& plan, const promql::QuerierFactory& storage,
                                            const RemoteReadLimits& limits, Emit emit) {
  uint64_t samples = 0;
  std::vector<TimestampMs> t;
  std::vector<double> v;
  for (size_t qi = 0; qi < plan.queries.size(); ++qi) {
    const ReadQuery& q = plan.queries[qi];
    std::unique_ptr<tsdb::Querier> querier = storage(q.start, q.end, tsdb::ReadHints{});
    if (!querier) return TextError(503, "storage is not available");
    auto selected = querier->Select(q.matchers);
    if (!selected.ok()) return TextError(422, "query " + std::to_string(qi) + ": " + selected.status().message());
    for (const auto& series : *selected) {
      t.clear();
      v.clear();
      if (Status s = series->AppendSamples(&t, &v); !s.ok()) {
        return TextError(
            500, "query " + std::to_string(qi) + ": reading " + series->labels().ToString() + ": " + s.message());
      }
      if (t.empty()) continue;
      samples += t.size();
      if (samples > limits.max_samples) {
        return TextError(400, "exceeded sample limit (" + std::to_string(limits.max_samples) +
                                  "): narrow the time range or the matchers");
      }
      emit(qi, series->labels(), t, v);
    }
  }
  return std::nullopt;
}

}  // namespace

Result<ReadPlan> ParseReadRequest(std::string_view body, const Labels& external_labels, size_t max_request_bytes) {
  Result<std::string> raw = remote::SnappyUncompress(body, max_request_bytes);
  if (!raw.ok()) return Status::Error("request body: " + raw.status().message());
  prompb::ReadRequest req;
  if (!req.ParseFromString(*raw)) return Status::Error("request body: not a valid ReadRequest protobuf message");
  ReadPlan plan;
  bool chosen = req.accepted_response_types_size() == 0;  // none listed: SAMPLES
  for (int i = 0; i < req.accepted_response_types_size() && !chosen; ++i) {
    switch (req.accepted_response_types(i)) {
      case prompb::ReadRequest::SAMPLES:
        plan.type = ReadResponseType::kSamples;
        chosen = true;
        break;
      case prompb::ReadRequest::STREAMED_XOR_CHUNKS:
        plan.type = ReadResponseType::kStreamedXorChunks;
        chosen = true;
        break;
      default: break;
    }
  }
  if (!chosen) {
    std::string listed;
    for (int i = 0; i < req.accepted_response_types_size(); ++i) {
      listed += (i ? "," : "") + std::to_string(req.accepted_response_types(i));
    }
    return Status::Error("none of the accepted response types [" + listed +
                         "] is served; supported: 0 (SAMPLES), 1 (STREAMED_XOR_CHUNKS)");
  }
  if (req.queries_size() == 0) return Status::Error("the request has no queries");
  for (int qi = 0; qi < req.queries_size(); ++qi) {
    const prompb::Query& pq = req.queries(qi);
    const std::string where = "query " + std::to_string(qi) + ": ";
    if (pq.matchers_size() == 0) return Status::Error(where + "no matchers");
    if (pq.end_timestamp_ms() < pq.start_timestamp_ms()) {
      return Status::Error(where + "end_timestamp_ms " + std::to_string(pq.end_timestamp_ms()) +
                           " is before start_timestamp_ms " + std::to_string(pq.start_timestamp_ms()));
    }
    ReadQuery q;
    q.start = pq.start_timestamp_ms();
    q.end = pq.end_timestamp_ms();
    bool selective = false;
    for (const prompb::LabelMatcher& pm : pq.matchers()) {
      Result<tsdb::Matcher> m = ToMatcher(pm, external_labels);
      if (!m.ok()) return Status::Error(where + m.status().message());
      selective |= !m->MatchesEmpty();
      q.matchers.push_back(std::move(*m));
    }
    if (!selective) return Status::Error(where + "every matcher matches the empty string; one must not");
    plan.queries.push_back(std::move(q));
  }
  return plan;
}

http::Response RemoteRead(const http::Request& request, const promql::QuerierFactory& storage,
                          const Labels& external_labels, const RemoteReadLimits& limits) {
  Result<ReadPlan> plan = ParseReadRequest(request.body, external_labels, limits.max_request_bytes);
  if (!plan.ok()) return TextError(400, plan.status().message());

  http::Response r;
  if (plan->type == ReadResponseType::kSamples) {
    prompb::ReadResponse resp;
    for (size_t i = 0; i < plan->queries.size(); ++i) resp.add_results();
    auto error = ForEachSeries(
        *plan, storage, limits,
        [&](size_t qi, const Labels& labels, const std::vector<TimestampMs>& t, const std::vector<double>& v) {
          prompb::TimeSeries* ts = resp.mutable_results(static_cast<int>(qi))->add_timeseries();
          AppendLabels(labels, external_labels, ts->mutable_labels());
          ts->mutable_samples()->Reserve(static_cast<int>(t.size()));
          for (size_t i = 0; i < t.size(); ++i) {
            prompb::Sample* s = ts->add_samples();
            s->set_timestamp(t[i]);
            s->set_value(v[i]);
          }
        });
    if (error) return *error;
    r.content_type = kSamplesContentType;
    r.headers.emplace_back("Content-Encoding", "snappy");
    r.body = remote::EncodeSnappyProto(resp);
    return r;
  }

  // As Prometheus streams: one series per frame, split into several frames
  // when its chunks pass max_frame_bytes.
  std::string body;
  auto error = ForEachSeries(
      *plan, storage, limits,
      [&](size_t qi, const Labels& labels, const std::vector<TimestampMs>& t, const std::vector<double>& v) {
        prompb::ChunkedReadResponse frame;
        frame.set_query_index(static_cast<int64_t>(qi));
        prompb::ChunkedSeries* cs = frame.add_chunked_series();
        AppendLabels(labels, external_labels, cs->mutable_labels());
        const size_t labels_bytes = cs->ByteSizeLong();
        size_t frame_bytes = labels_bytes;
        for (size_t i = 0; i < t.size();) {
          tsdb::chunkenc::PromXorEncoder enc;
          const size_t first = i;
          for (; i < t.size() && enc.num_samples() < tsdb::chunkenc::kPrometheusChunkSamples; ++i)
            enc.Append(t[i], v[i]);
          prompb::Chunk* c = cs->add_chunks();
          c->set_min_time_ms(t[first]);
          c->set_max_time_ms(t[i - 1]);
          c->set_type(prompb::Chunk::XOR);
          c->set_data(std::string(enc.bytes()));
          frame_bytes += c->ByteSizeLong();
          if (frame_bytes >= limits.max_frame_bytes && i < t.size()) {
            body += remote::FrameChunkedReadResponse(frame);
            cs->clear_chunks();
            frame_bytes = labels_bytes;
          }
        }
        body += remote::FrameChunkedReadResponse(frame);
      });
  if (error) return *error;
  r.content_type = kStreamedContentType;
  r.body = std::move(body);
  return r;
}

}  // namespace vigil::api
