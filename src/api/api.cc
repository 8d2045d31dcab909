#include "api/api.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "api/federate.h"
#include "api/format.h"
#include "api/rules_api.h"
#include "base/strings.h"
#include "promql/ast.h"
#include "rules/manager.h"

namespace vigil::api {
namespace {

// Prometheus's defaults for series/labels without start or end.
constexpr TimestampMs kMinTime = std::numeric_limits<int64_t>::min() / 4;
constexpr TimestampMs kMaxTime = std::numeric_limits<int64_t>::max() / 4;
constexpr int64_t kMaxPointsPerSeries = 11000;

// Around each query: when the last query in flight ends and those since the
// last time decoded many samples (16 bytes each, freed by now), the freed
// memory goes back to the system half a second later, once the answers are
// written. glibc keeps it in its heap otherwise, and RSS would stay at the
// peak of the busiest burst. A few ms on a helper thread, only then.
class QueryMemory {
 public:
  QueryMemory() { Returner::Get().in_flight.fetch_add(1); }
  ~QueryMemory() { Returner::Get().Ended(); }
  QueryMemory(const QueryMemory&) = delete;
  QueryMemory& operator=(const QueryMemory&) = delete;
  static void Decoded(int64_t samples) { Returner::Get().decoded.fetch_add(samples); }

 private:
  class Returner {
   public:
    static Returner& Get() {
      static Returner r;
      return r;
    }
    ~Returner() {
      {
        std::lock_guard lock(mu_);
        stop_ = true;
      }
      cv_.notify_one();
      thread_.join();
    }
    void Ended() {
      if (in_flight.fetch_sub(1) != 1 || decoded.load() < kReturnAfterSamples) return;
      {
        std::lock_guard lock(mu_);
        due_ = true;
      }
      cv_.notify_one();
    }

    std::atomic<int> in_flight{0};
    std::atomic<int64_t> decoded{0};

   private:
    static constexpr int64_t kReturnAfterSamples = 2'000'000;
    Returner() : thread_([this] { Run(); }) {}
    void Run() {
      std::unique_lock lock(mu_);
      for (;;) {
        cv_.wait(lock, [&] { return stop_ || due_; });
        if (stop_) return;
        due_ = false;
        if (cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_; })) return;
        if (in_flight.load() != 0) continue;  // the query now running will ask again when it ends
        decoded.store(0);
        lock.unlock();
        malloc_trim(0);
        lock.lock();
      }
    }
    std::mutex mu_;
    std::condition_variable cv_;
    bool due_ = false, stop_ = false;
    std::thread thread_;
  };
};
constexpr std::string_view kPrefix = "/api/v1/";
constexpr std::string_view kFederatePath = "/federate";

http::Response BadData(std::string_view message) { return ErrorResponse(400, "bad_data", message); }

http::Response InvalidParam(std::string_view param, std::string_view message) {
  return BadData("invalid parameter \"" + std::string(param) + "\": " + std::string(message));
}

void AppendStringArray(std::string* out, const std::vector<std::string>& items) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonString(out, items[i]);
  }
  out->push_back(']');
}

// {"status":"success","data":DATA} plus warnings/infos when there are any.
constexpr std::string_view kSuccessPrefix = R"({"status":"success","data":)";

// Completes a body that starts with kSuccessPrefix and the data.
http::Response FinishSuccess(std::string b, const std::vector<std::string>& warnings = {},
                             const std::vector<std::string>& infos = {}) {
  if (!warnings.empty()) {
    b += R"(,"warnings":)";
    AppendStringArray(&b, warnings);
  }
  if (!infos.empty()) {
    b += R"(,"infos":)";
    AppendStringArray(&b, infos);
  }
  b += '}';
  return JsonResponse(200, std::move(b));
}

http::Response Success(std::string_view data, const std::vector<std::string>& warnings = {},
                       const std::vector<std::string>& infos = {}) {
  std::string b;
  b.reserve(kSuccessPrefix.size() + data.size() + 64);
  b += kSuccessPrefix;
  b += data;
  return FinishSuccess(std::move(b), warnings, infos);
}

void AppendLabels(std::string* out, const Labels& labels) {
  out->push_back('{');
  bool first = true;
  for (const Label& l : labels) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, l.name);
    out->push_back(':');
    AppendJsonString(out, l.value);
  }
  out->push_back('}');
}

void AppendPoint(std::string* out, TimestampMs t, double v) {
  out->push_back('[');
  AppendTimestamp(out, t);
  out->append(",\"");
  AppendSampleValue(out, v);
  out->append("\"]");
}

void AppendMatrix(std::string* out, const std::vector<promql::SeriesPoints>& matrix) {
  size_t points = 0;
  for (const auto& s : matrix) points += s.points.size();
  out->reserve(out->size() + points * 32 + matrix.size() * 128);  // about a point's size: no regrowth copies
  out->push_back('[');
  for (size_t i = 0; i < matrix.size(); ++i) {
    if (i) out->push_back(',');
    *out += R"({"metric":)";
    AppendLabels(out, matrix[i].labels);
    *out += R"(,"values":[)";
    const auto& points = matrix[i].points;
    for (size_t j = 0; j < points.size(); ++j) {
      if (j) out->push_back(',');
      AppendPoint(out, points[j].t, points[j].v);
    }
    *out += "]}";
  }
  out->push_back(']');
}

// Appends {"resultType":…,"result":…} for a query's value.
void AppendQueryData(std::string& out, const promql::Value& value) {
  switch (value.type) {
    case promql::ValueType::kScalar:
      out += R"({"resultType":"scalar","result":[)";
      out += FormatTimestampAsFloat(value.t);
      out += ",\"";
      out += FormatSampleValue(value.scalar);
      out += "\"]";
      break;
    case promql::ValueType::kString:
      out += R"({"resultType":"string","result":[)";
      out += FormatTimestampAsFloat(value.t);
      out += ',';
      AppendJsonString(&out, value.string);
      out += ']';
      break;
    case promql::ValueType::kMatrix:
      out += R"({"resultType":"matrix","result":)";
      AppendMatrix(&out, value.matrix);
      break;
    case promql::ValueType::kVector:
    case promql::ValueType::kNone:
      out += R"({"resultType":"vector","result":[)";
      for (size_t i = 0; i < value.vector.size(); ++i) {
        if (i) out.push_back(',');
        out += R"({"metric":)";
        AppendLabels(&out, value.vector[i].labels);
        out += R"(,"value":)";
        AppendPoint(&out, value.vector[i].t, value.vector[i].v);
        out.push_back('}');
      }
      out.push_back(']');
      break;
  }
  out.push_back('}');
}

// Go's strconv.Atoi error text, which Prometheus passes through.
Result<int64_t> ParseIntParam(const std::string& text) {
  std::optional<int64_t> n = ParseInt64(text);
  if (!n) return Status::Error("strconv.Atoi: parsing \"" + text + "\": invalid syntax");
  return *n;
}

// `limit` of series/labels/label values: absent = unlimited, else positive.
Result<size_t> PositiveLimit(const http::Request& r) {
  std::string text = r.Param("limit");
  if (text.empty()) return std::numeric_limits<size_t>::max();
  Result<int64_t> n = ParseIntParam(text);
  if (!n.ok()) return n.status();
  if (*n <= 0) return Status::Error("limit must be positive");
  return static_cast<size_t>(*n);
}

// Prometheus's parseTimeParam: absent or empty gives `def`.
Result<TimestampMs> OptionalTime(const http::Request& r, const std::string& name, TimestampMs def) {
  std::string text = r.Param(name);
  if (text.empty()) return def;
  Result<TimestampMs> t = ParseTimeParam(text);
  if (!t.ok()) return Status::Error("Invalid time value for '" + name + "': " + t.status().message());
  return *t;
}

constexpr std::string_view kTruncated = "results truncated due to limit";

}  // namespace

Api::Api(Options options) : options_(std::move(options)) {}

namespace {

class RequestHandler {
 public:
  RequestHandler(const Options& options, const Clock& clock) : o_(options), clock_(clock) {}

  http::Response Handle(const http::Request& r) {
    std::string_view path = r.path;
    const bool get_or_post = r.method == "GET" || r.method == "POST";
    if (path == kFederatePath) {
      if (!get_or_post) return MethodNotAllowed(r);
      return Federate(r, o_.storage, ExternalLabels(), clock_.NowMs(), o_.engine.lookback_delta);
    }
    if (!StartsWith(path, kPrefix)) return NotFound(r);
    std::string_view endpoint = path.substr(kPrefix.size());
    if (endpoint == "read") {
      if (r.method != "POST") return MethodNotAllowed(r);
      return RemoteRead(r, o_.storage, ExternalLabels(), o_.remote_read);
    }
    if (endpoint == "query") return get_or_post ? Query(r) : MethodNotAllowed(r);
    if (endpoint == "query_range") return get_or_post ? QueryRange(r) : MethodNotAllowed(r);
    if (endpoint == "series") return get_or_post ? Series(r) : MethodNotAllowed(r);
    if (endpoint == "labels") return get_or_post ? LabelNames(r) : MethodNotAllowed(r);
    if (endpoint == "format_query") return get_or_post ? FormatQuery(r) : MethodNotAllowed(r);
    if (endpoint == "query_exemplars") return get_or_post ? Success("[]") : MethodNotAllowed(r);
    if (endpoint == "metadata") return r.method == "GET" ? Metadata(r) : MethodNotAllowed(r);
    if (endpoint == "status/buildinfo") return r.method == "GET" ? BuildInfo() : MethodNotAllowed(r);
    if (endpoint == "rules") return r.method == "GET" ? Rules(r) : MethodNotAllowed(r);
    if (endpoint == "alerts") return r.method == "GET" ? Alerts() : MethodNotAllowed(r);
    if (StartsWith(endpoint, "label/") && EndsWith(endpoint, "/values") && endpoint.size() > 13) {
      if (r.method != "GET") return MethodNotAllowed(r);
      return LabelValues(r, std::string(endpoint.substr(6, endpoint.size() - 13)));
    }
    return NotFound(r);
  }

 private:
  static http::Response NotFound(const http::Request& r) {
    return ErrorResponse(404, "not_found", "unknown API endpoint " + r.path);
  }
  const Labels& ExternalLabels() const { return o_.external_labels; }

  // Prometheus's router answers a wrong method in plain text.
  static http::Response MethodNotAllowed(const http::Request&) {
    return http::Response{405, "text/plain; charset=utf-8", "Method Not Allowed\n", {}};
  }

  http::Response Rules(const http::Request& r) const {
    RulesFilter f;
    f.type = r.Param("type");
    if (!f.type.empty() && f.type != "alert" && f.type != "record") {
      return BadData("invalid parameter \"type\": unsupported rule type \"" + f.type + "\"");
    }
    f.rule_names = r.Params("rule_name[]");
    f.group_names = r.Params("rule_group[]");
    f.files = r.Params("file[]");
    f.exclude_alerts = r.Param("exclude_alerts") == "true";
    return Success(RulesData(o_.rules ? o_.rules->Groups() : std::vector<rules::GroupSnapshot>{}, f));
  }

  http::Response Alerts() const {
    return Success(AlertsData(o_.rules ? o_.rules->Alerts() : std::vector<rules::AlertSnapshot>{}));
  }

  // The engine for one request: the server's options, a shorter `timeout`
  // and a `lookback_delta` if the request asks for them.
  Result<promql::EngineOptions> EngineOptionsFor(const http::Request& r, std::string* bad_param) const {
    promql::EngineOptions eo = o_.engine;
    if (std::string text = r.Param("timeout"); !text.empty()) {
      Result<Duration> d = ParseDurationParam(text);
      if (!d.ok()) {
        *bad_param = "timeout";
        return d.status();
      }
      if (d->count() > 0 && *d < eo.timeout) eo.timeout = *d;
    }
    if (std::string text = r.Param("lookback_delta"); !text.empty()) {
      Result<Duration> d = ParseDurationParam(text);
      if (!d.ok()) {
        *bad_param = "lookback_delta";
        return d.status();
      }
      if (d->count() > 0) eo.lookback_delta = *d;
    }
    return eo;
  }

  // The query's `limit`: 0 or absent = no limit.
  static Result<size_t> QueryLimit(const http::Request& r) {
    std::string text = r.Param("limit");
    if (text.empty()) return size_t{0};
    Result<int64_t> n = ParseIntParam(text);
    if (!n.ok()) return n.status();
    if (*n < 0) return Status::Error("limit must be non-negative");
    return static_cast<size_t>(*n);
  }

  http::Response QueryAnswer(promql::QueryResult result, size_t limit) const {
    QueryMemory::Decoded(result.samples_decoded);
    if (!result.ok) {
      return ErrorResponse(HttpStatus(result.error.kind), ErrorTypeName(result.error.kind), result.error.message);
    }
    promql::Value& v = result.value;
    if (limit > 0) {
      bool truncated = false;
      if (v.type == promql::ValueType::kVector && v.vector.size() > limit) {
        v.vector.resize(limit);
        truncated = true;
      } else if (v.type == promql::ValueType::kMatrix && v.matrix.size() > limit) {
        v.matrix.resize(limit);
        truncated = true;
      }
      if (truncated) result.warnings.emplace_back(kTruncated);
    }
    std::string body(kSuccessPrefix);  // the data is written after it, not copied
    AppendQueryData(body, v);
    return FinishSuccess(std::move(body), result.warnings, result.infos);
  }

  http::Response Query(const http::Request& r) const {
    Result<size_t> limit = QueryLimit(r);
    if (!limit.ok()) return InvalidParam("limit", limit.status().message());
    Result<TimestampMs> t = OptionalTime(r, "time", clock_.NowMs());
    if (!t.ok()) return InvalidParam("time", t.status().message());
    std::string bad_param;
    Result<promql::EngineOptions> eo = EngineOptionsFor(r, &bad_param);
    if (!eo.ok()) return InvalidParam(bad_param, eo.status().message());
    Result<promql::ExprPtr> expr = promql::ParseExpr(r.Param("query"));
    if (!expr.ok()) return InvalidParam("query", expr.status().message());
    promql::Engine engine(*eo);
    QueryMemory memory;
    return QueryAnswer(engine.Instant(o_.storage, **expr, *t), *limit);
  }

  http::Response QueryRange(const http::Request& r) const {
    Result<size_t> limit = QueryLimit(r);
    if (!limit.ok()) return InvalidParam("limit", limit.status().message());
    Result<TimestampMs> start = ParseTimeParam(r.Param("start"));
    if (!start.ok()) return InvalidParam("start", start.status().message());
    Result<TimestampMs> end = ParseTimeParam(r.Param("end"));
    if (!end.ok()) return InvalidParam("end", end.status().message());
    if (*end < *start) return InvalidParam("end", "end timestamp must not be before start time");
    Result<Duration> step = ParseDurationParam(r.Param("step"));
    if (!step.ok()) return InvalidParam("step", step.status().message());
    if (step->count() <= 0) {
      return InvalidParam("step",
                          "zero or negative query resolution step widths are not accepted. Try a positive integer");
    }
    // Like Prometheus, bound the points per series a range query returns.
    if ((*end - *start) / step->count() > kMaxPointsPerSeries) {
      return BadData(
          "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution "
          "(?step=XX)");
    }
    std::string bad_param;
    Result<promql::EngineOptions> eo = EngineOptionsFor(r, &bad_param);
    if (!eo.ok()) return InvalidParam(bad_param, eo.status().message());
    // vigil's extension, opt-in: read the 5m/1h downsampled history where a
    // step that coarse allows it (a month's chart without a month of raw samples).
    if (std::string d = r.Param("downsampled"); d == "true") {
      eo->max_read_resolution = *step;
    } else if (!d.empty() && d != "false") {
      return InvalidParam("downsampled", "expected true or false, got \"" + d + "\"");
    }
    Result<promql::ExprPtr> expr = promql::ParseExpr(r.Param("query"));
    if (!expr.ok()) return InvalidParam("query", expr.status().message());
    promql::ValueType type = (*expr)->Type();
    if (type != promql::ValueType::kScalar && type != promql::ValueType::kVector) {
      return InvalidParam("query", "invalid expression type \"" + std::string(promql::ValueTypeName(type)) +
                                       "\" for range query, must be Scalar or instant Vector");
    }
    promql::Engine engine(*eo);
    // nocache=1 (VictoriaMetrics' parameter): compute every step.
    const std::string nocache = r.Param("nocache");
    if (!nocache.empty() && nocache != "0" && nocache != "1") {
      return InvalidParam("nocache", "expected 0 or 1, got \"" + nocache + "\"");
    }
    QueryMemory memory;
    promql::QueryResult result =
        o_.range_cache && nocache != "1"
            ? o_.range_cache->Range(engine, o_.storage, **expr, *start, *end, *step, clock_.NowMs())
            : engine.Range(o_.storage, **expr, *start, *end, *step);
    if (result.ok && result.value.type != promql::ValueType::kMatrix) {
      return ErrorResponse(500, "internal", "range query did not return a matrix");
    }
    return QueryAnswer(std::move(result), *limit);
  }

  // The match[] selectors, parsed; `required` makes none an error.
  Result<std::vector<std::vector<tsdb::Matcher>>> Matchers(const http::Request& r) const {
    std::vector<std::vector<tsdb::Matcher>> out;
    for (const std::string& text : r.Params("match[]")) {
      Result<std::vector<tsdb::Matcher>> m = promql::ParseMetricSelector(text);
      if (!m.ok()) return m.status();
      out.push_back(std::move(*m));
    }
    return out;
  }

  struct Range {
    TimestampMs start = kMinTime, end = kMaxTime;
  };
  // start/end of series and label requests; `*bad_param` names the bad one.
  static Result<Range> TimeRange(const http::Request& r, std::string* bad_param) {
    Range range;
    Result<TimestampMs> start = OptionalTime(r, "start", kMinTime);
    if (!start.ok()) {
      *bad_param = "start";
      return start.status();
    }
    Result<TimestampMs> end = OptionalTime(r, "end", kMaxTime);
    if (!end.ok()) {
      *bad_param = "end";
      return end.status();
    }
    range.start = *start;
    range.end = *end;
    return range;
  }

  std::unique_ptr<tsdb::Querier> Querier(const Range& range) const {
    return o_.storage(range.start, range.end, tsdb::ReadHints{});
  }

  // What /series, /labels and /label/<name>/values share: start/end,
  // limit, the match[] selectors and a querier over the range.
  struct Selection {
    size_t limit = 0;
    std::vector<std::vector<tsdb::Matcher>> sets;
    std::unique_ptr<tsdb::Querier> querier;
  };
  // Fills `out`, or returns the error response for the bad parameter.
  std::optional<http::Response> ParseSelection(const http::Request& r, Selection* out) const {
    std::string bad_param;
    Result<Range> range = TimeRange(r, &bad_param);
    if (!range.ok()) return InvalidParam(bad_param, range.status().message());
    Result<size_t> limit = PositiveLimit(r);
    if (!limit.ok()) return InvalidParam("limit", limit.status().message());
    Result<std::vector<std::vector<tsdb::Matcher>>> sets = Matchers(r);
    if (!sets.ok()) return InvalidParam("match[]", sets.status().message());
    out->querier = Querier(*range);
    if (!out->querier) return ErrorResponse(422, "execution", "storage is not available");
    out->limit = *limit;
    out->sets = std::move(*sets);
    return std::nullopt;
  }

  http::Response Series(const http::Request& r) const {
    if (!r.HasParam("match[]")) return BadData("no match[] parameter provided");
    Selection sel;
    if (auto error = ParseSelection(r, &sel)) return *error;
    std::set<Labels> series;
    for (const auto& matchers : sel.sets) {
      auto selected = sel.querier->Select(matchers);
      if (!selected.ok()) return ErrorResponse(422, "execution", selected.status().message());
      for (const auto& s : *selected) series.insert(s->labels());
    }
    std::vector<std::string> warnings;
    std::string data = "[";
    size_t n = 0;
    for (const Labels& l : series) {
      if (n == sel.limit) {
        warnings.emplace_back(kTruncated);
        break;
      }
      if (n++) data.push_back(',');
      AppendLabels(&data, l);
    }
    data.push_back(']');
    return Success(data, warnings);
  }

  // The sorted union of `names_of(matchers)` over every match[] (or none).
  template <typename Fn>
  http::Response SortedStrings(const http::Request& r, Fn names_of) const {
    Selection sel;
    if (auto error = ParseSelection(r, &sel)) return *error;
    std::set<std::string> names;
    if (sel.sets.empty()) sel.sets.emplace_back();
    for (const auto& matchers : sel.sets) {
      for (std::string& n : names_of(*sel.querier, matchers)) names.insert(std::move(n));
    }
    std::vector<std::string> list(names.begin(), names.end());
    std::vector<std::string> warnings;
    if (list.size() > sel.limit) {
      list.resize(sel.limit);
      warnings.emplace_back(kTruncated);
    }
    std::string data;
    AppendStringArray(&data, list);
    return Success(data, warnings);
  }

  http::Response LabelNames(const http::Request& r) const {
    return SortedStrings(
        r, [](tsdb::Querier& q, const std::vector<tsdb::Matcher>& matchers) { return q.LabelNames(matchers); });
  }

  http::Response LabelValues(const http::Request& r, const std::string& name) const {
    if (!IsValidLabelName(name)) return BadData("invalid label name: \"" + name + "\"");
    return SortedStrings(r, [&name](tsdb::Querier& q, const std::vector<tsdb::Matcher>& matchers) {
      return q.LabelValues(name, matchers);
    });
  }

  http::Response FormatQuery(const http::Request& r) const {
    Result<promql::ExprPtr> expr = promql::ParseExpr(r.Param("query"));
    if (!expr.ok()) return InvalidParam("query", expr.status().message());
    std::string data;
    AppendJsonString(&data, promql::Format(**expr));
    return Success(data);
  }

  http::Response Metadata(const http::Request& r) const {
    int64_t limit = -1, limit_per_metric = -1;
    if (std::string text = r.Param("limit"); !text.empty()) {
      Result<int64_t> n = ParseIntParam(text);
      if (!n.ok()) return InvalidParam("limit", n.status().message());
      limit = *n;
    }
    if (std::string text = r.Param("limit_per_metric"); !text.empty()) {
      Result<int64_t> n = ParseIntParam(text);
      if (!n.ok()) return InvalidParam("limit_per_metric", n.status().message());
      limit_per_metric = *n;
    }
    const std::string metric = r.Param("metric");
    using Meta = std::pair<std::string, std::string>;  // type, help
    std::map<std::string, std::set<Meta>> families;
    if (o_.metric_families) {
      for (const auto& batch : o_.metric_families()) {
        if (!batch) continue;
        for (const MetricFamily& f : batch->families()) {
          if (!metric.empty() && f.name != metric) continue;
          std::string type = f.type == MetricType::kCounter ? "counter"
                             : f.type == MetricType::kGauge ? "gauge"
                                                            : "unknown";
          families[f.name].insert(Meta(std::move(type), f.help));
        }
      }
    }
    std::string data = "{";
    int64_t n = 0;
    for (const auto& [name, metas] : families) {
      if (limit >= 0 && n == limit) break;
      if (n++) data.push_back(',');
      AppendJsonString(&data, name);
      data += ":[";
      int64_t k = 0;
      for (const Meta& m : metas) {
        if (limit_per_metric > 0 && k == limit_per_metric) break;
        if (k++) data.push_back(',');
        data += R"({"type":)";
        AppendJsonString(&data, m.first);
        data += R"(,"help":)";
        AppendJsonString(&data, m.second);
        data += R"(,"unit":""})";
      }
      data += ']';
    }
    data.push_back('}');
    return Success(data);
  }

  http::Response BuildInfo() const {
    const api::BuildInfo& b = o_.build;
    std::string data;
    auto field = [&data](std::string_view key, const std::string& value) {
      data += data.empty() ? "{" : ",";
      AppendJsonString(&data, key);
      data.push_back(':');
      AppendJsonString(&data, value);
    };
    field("version", b.version);
    field("revision", b.revision);
    field("branch", b.branch);
    field("buildUser", b.build_user);
    field("buildDate", b.build_date);
    field("goVersion", b.go_version);
    data.push_back('}');
    return Success(data);
  }

  const Options& o_;
  const Clock& clock_;
};

}  // namespace

http::Response Api::Handle(const http::Request& request) const {
  // No exception leaves the API: a failure inside is a JSON 500.
  try {
    const Clock& clock = options_.clock ? *options_.clock : static_cast<const Clock&>(system_clock_);
    return RequestHandler(options_, clock).Handle(request);
  } catch (const std::exception& e) {
    return ErrorResponse(500, "internal", e.what());
  } catch (...) {
    return ErrorResponse(500, "internal", "unknown error");
  }
}

http::Route NewRoute(Options options) {
  auto api = std::make_shared<Api>(std::move(options));
  return http::Route{
      std::string(kPrefix), [api](const http::Request& r) { return api->Handle(r); }, {std::string(kFederatePath)}};
}

}  // namespace vigil::api
