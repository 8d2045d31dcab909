// Internals shared by the evaluator and the function implementations.
#pragma once

#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "promql/engine.h"

namespace vigil::promql::internal {

// Evaluation errors unwind to Engine::Instant/Range, which turn them into a
// QueryResult; no exception leaves the engine.
struct EvalError {
  ErrorKind kind = ErrorKind::kExecution;
  std::string message;
};
[[noreturn]] void Fail(std::string message, ErrorKind kind = ErrorKind::kExecution);

// A series of an evaluated expression: an instant vector over all steps has
// a point at each step where the series exists.
struct Series {
  Labels labels;
  std::vector<Point> points;
  // Delayed __name__ removal: the name goes at the end of evaluation.
  bool drop_name = false;
};
using Matrix = std::vector<Series>;

// One element of an instant vector at the current step.
struct Elem {
  const Labels* labels;
  double v;
  bool drop_name;
};
using Vector = std::vector<Elem>;

struct Annotations {
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
  void Warn(std::string s);
  void Info(std::string s);
};

// Neumaier-compensated summation, as Prometheus's kahanSumInc.
inline void KahanAdd(double inc, double& sum, double& c) {
  double t = sum + inc;
  if (std::isinf(t)) {
    c = 0;
  } else if (std::fabs(sum) >= std::fabs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

// Running mean that sums with compensation and falls back to an incremental
// mean on overflow (avg and avg_over_time).
class MeanAccumulator {
 public:
  void Add(double f);
  double Mean() const;
  double count() const { return count_; }

 private:
  double sum_ = 0, c_ = 0, mean_ = 0, count_ = 0;
  bool incremental_ = false;
};

// φ-quantile of values (sorted in place), Prometheus's interpolation.
double Quantile(double q, std::vector<double>& values);

// The window a range function sees at one step.
struct Window {
  std::span<const Point> points;  // (start, end], stale markers removed
  TimestampMs start = 0;          // exclusive
  TimestampMs end = 0;            // inclusive
  TimestampMs step_time = 0;      // the evaluation time of this step
  Duration range{0};
  // False when no value in `points` is below the one before it (so a counter
  // function need not look for resets); true when unknown.
  bool may_have_drops = true;
};

// A function over a range vector (rate, *_over_time, …). `params` are the
// scalar arguments at this step, in argument order. nullopt: no output.
using RangeFunction = std::optional<double> (*)(const Window& w, std::span<const double> params, Annotations& notes);
// nullptr when `name` is not a range function.
RangeFunction FindRangeFunction(std::string_view name);
// True when the function keeps the metric name of its input.
bool KeepsMetricName(std::string_view function_name);
// True when the function reads Window::may_have_drops (rate, increase).
bool MarksCounterResets(std::string_view function_name);

// A float → float function applied to each element (abs, ln, sin, …).
using ElementFunction = double (*)(double);
ElementFunction FindElementFunction(std::string_view name);

// Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip decimal.
std::string FormatPlainFloat(double v);

uint64_t HashLabels(const Labels& labels);

}  // namespace vigil::promql::internal
