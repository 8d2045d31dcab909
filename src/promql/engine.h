// The PromQL evaluator: instant and range queries over a tsdb::Querier, with
// Prometheus 3's semantics (lookback delta, left-open windows, staleness,
// extrapolated rate/increase/delta, delayed __name__ removal).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "base/time.h"
#include "promql/ast.h"
#include "tsdb/tsdb.h"

namespace vigil::promql {

struct EngineOptions {
  Duration lookback_delta{5 * 60 * 1000};
  Duration default_subquery_step{60 * 1000};
  // Samples held in memory at once by one query; over it the query fails
  // with ErrorKind::kTooManySamples instead of exhausting memory.
  int64_t max_samples = 50'000'000;
  Duration timeout{2 * 60 * 1000};
  // Threads that decode the series of one large selection (1: no helpers).
  int max_decode_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Opt-in: selectors may read downsampled data (5m, 1h) no coarser than this
  // where it exists, each range function the aggregate that stands for its
  // samples (rate: the reset-proof counter, max_over_time: the max, …) and
  // plain selectors the last value, looking back at least one resolution.
  // Approximate where a function needs every sample; 0: raw data only.
  Duration max_read_resolution{0};
};

struct Point {
  TimestampMs t = 0;
  double v = 0;
};

// One element of an instant vector.
struct Sample {
  Labels labels;
  TimestampMs t = 0;
  double v = 0;
};

// One series of a range vector or a range query's result.
struct SeriesPoints {
  Labels labels;
  std::vector<Point> points;
};

struct Value {
  ValueType type = ValueType::kNone;
  double scalar = 0;                 // kScalar
  TimestampMs t = 0;                 // kScalar / kString: the evaluation time
  std::string string;                // kString
  std::vector<Sample> vector;        // kVector
  std::vector<SeriesPoints> matrix;  // kMatrix (range queries and range-vector results)
};

// Why a query failed, for HTTP status codes and Prometheus's errorType.
enum class ErrorKind { kBadData, kExecution, kTooManySamples, kTimeout, kCanceled };

struct QueryError {
  ErrorKind kind = ErrorKind::kExecution;
  std::string message;
};

struct QueryResult {
  bool ok = true;
  QueryError error;  // when !ok
  Value value;
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
  int64_t samples_loaded = 0;
  int64_t samples_decoded = 0;  // read from storage, including those outside the query's windows
};

// Opens a querier for the time range a query needs; the engine passes the
// hints (step) so long ranges can read downsampled data.
using QuerierFactory =
    std::function<std::unique_ptr<tsdb::Querier>(TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints& hints)>;

class Engine {
 public:
  explicit Engine(EngineOptions options = {}) : options_(options) {}

  // Evaluates `expr` at time `t`.
  QueryResult Instant(const QuerierFactory& storage, const Expr& expr, TimestampMs t) const;
  // Evaluates `expr` at start, start+step, …, end; the result is a matrix
  // (a scalar expression gives one series with no labels).
  QueryResult Range(const QuerierFactory& storage, const Expr& expr, TimestampMs start, TimestampMs end,
                    Duration step) const;

  const EngineOptions& options() const { return options_; }

 private:
  EngineOptions options_;
};

}  // namespace vigil::promql
