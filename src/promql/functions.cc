// Range-vector and element-wise functions, with Prometheus's numerics.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "promql/eval.h"

namespace vigil::promql::internal {

void Fail(std::string message, ErrorKind kind) { throw EvalError{kind, std::move(message)}; }

void Annotations::Warn(std::string s) {
  if (std::find(warnings.begin(), warnings.end(), s) == warnings.end()) warnings.push_back(std::move(s));
}
void Annotations::Info(std::string s) {
  if (std::find(infos.begin(), infos.end(), s) == infos.end()) infos.push_back(std::move(s));
}

void MeanAccumulator::Add(double f) {
  count_++;
  if (!incremental_) {
    double sum = sum_, c = c_;
    KahanAdd(f, sum, c);
    // The first value is always summed (even ±Inf) so the division below never sees count 0.
    if (count_ == 1 || !std::isinf(sum)) {
      sum_ = sum;
      c_ = c;
      return;
    }
    incremental_ = true;
    mean_ = sum_ / (count_ - 1);
    c_ /= count_ - 1;
  }
  if (std::isinf(mean_)) {
    if (std::isinf(f) && (mean_ > 0) == (f > 0)) return;
    if (!std::isinf(f) && !std::isnan(f)) return;
  }
  double corrected = mean_ + c_;
  KahanAdd(f / count_ - corrected / count_, mean_, c_);
}

double MeanAccumulator::Mean() const {
  if (incremental_) return mean_ + c_;
  return sum_ / count_ + c_ / count_;
}

double Quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return std::nan("");
  if (q < 0) return -INFINITY;
  if (q > 1) return INFINITY;
  // NaN sorts below everything, as Prometheus treats it as the smallest value.
  std::sort(values.begin(), values.end(), [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return !std::isnan(b) && a < b;
  });
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  size_t lower = static_cast<size_t>(std::max(0.0, std::floor(rank)));
  size_t upper = std::min(values.size() - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[lower] * (1 - weight) + values[upper] * weight;
}

std::string FormatPlainFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

uint64_t HashLabels(const Labels& labels) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  };
  for (const auto& l : labels) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

namespace {

using Params = std::span<const double>;
using Out = std::optional<double>;

// rate, increase and delta: the difference over the window, extrapolated
// towards the window's edges as Prometheus does.
Out ExtrapolatedRate(const Window& w, bool is_counter, bool is_rate) {
  const auto& p = w.points;
  if (p.size() < 2) return std::nullopt;
  double result = p.back().v - p.front().v;
  if (is_counter && w.may_have_drops) {
    for (size_t i = 1; i < p.size(); ++i) {
      if (p[i].v < p[i - 1].v) result += p[i - 1].v;
    }
  }
  double to_start = static_cast<double>(p.front().t - w.start) / 1000;
  double to_end = static_cast<double>(w.end - p.back().t) / 1000;
  double sampled = static_cast<double>(p.back().t - p.front().t) / 1000;
  double average = sampled / static_cast<double>(p.size() - 1);
  double threshold = average * 1.1;
  if (to_start >= threshold) to_start = average / 2;
  if (is_counter && result > 0 && p.front().v >= 0) {
    // A counter cannot go below zero: do not extrapolate past the point where it would.
    double to_zero = sampled * (p.front().v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = average / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate) factor /= static_cast<double>(w.range.count()) / 1000;
  return result * factor;
}

Out Rate(const Window& w, Params, Annotations&) { return ExtrapolatedRate(w, true, true); }
Out Increase(const Window& w, Params, Annotations&) { return ExtrapolatedRate(w, true, false); }
Out Delta(const Window& w, Params, Annotations&) { return ExtrapolatedRate(w, false, false); }

Out InstantDelta(const Window& w, bool is_rate) {
  const auto& p = w.points;
  if (p.size() < 2) return std::nullopt;
  const Point& last = p[p.size() - 1];
  const Point& prev = p[p.size() - 2];
  double result = is_rate && last.v < prev.v ? last.v : last.v - prev.v;
  if (!is_rate) return result;
  double interval = static_cast<double>(last.t - prev.t) / 1000;
  if (interval == 0) return std::nullopt;
  return result / interval;
}

Out Irate(const Window& w, Params, Annotations&) { return InstantDelta(w, true); }
Out Idelta(const Window& w, Params, Annotations&) { return InstantDelta(w, false); }

struct Regression {
  double slope, intercept;
};

// Least squares over (t - intercept_time in seconds, v), compensated sums.
Regression LinearRegression(std::span<const Point> p, TimestampMs intercept_time) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  bool const_y = true;
  double init_y = p[0].v;
  for (size_t i = 0; i < p.size(); ++i) {
    if (const_y && i > 0 && p[i].v != init_y) const_y = false;
    n += 1;
    double x = static_cast<double>(p[i].t - intercept_time) / 1e3;
    KahanAdd(x, sum_x, c_x);
    KahanAdd(p[i].v, sum_y, c_y);
    KahanAdd(x * p[i].v, sum_xy, c_xy);
    KahanAdd(x * x, sum_x2, c_x2);
  }
  if (const_y) {
    if (std::isinf(init_y)) return {std::nan(""), std::nan("")};
    return {0, init_y};
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  double cov_xy = sum_xy - sum_x * sum_y / n;
  double var_x = sum_x2 - sum_x * sum_x / n;
  double slope = cov_xy / var_x;
  return {slope, sum_y / n - slope * sum_x / n};
}

Out Deriv(const Window& w, Params, Annotations&) {
  if (w.points.size() < 2) return std::nullopt;
  return LinearRegression(w.points, w.points[0].t).slope;
}

Out PredictLinear(const Window& w, Params params, Annotations&) {
  if (w.points.size() < 2) return std::nullopt;
  auto r = LinearRegression(w.points, w.step_time);
  return r.slope * params[0] + r.intercept;
}

Out Changes(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  double changes = 0;
  for (size_t i = 1; i < w.points.size(); ++i) {
    double a = w.points[i - 1].v, b = w.points[i].v;
    if (a != b && !(std::isnan(a) && std::isnan(b))) changes++;
  }
  return changes;
}

Out Resets(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  double resets = 0;
  for (size_t i = 1; i < w.points.size(); ++i) {
    if (w.points[i].v < w.points[i - 1].v) resets++;
  }
  return resets;
}

Out AvgOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  MeanAccumulator mean;
  for (const auto& p : w.points) mean.Add(p.v);
  return mean.Mean();
}

Out SumOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  double sum = 0, c = 0;
  for (const auto& p : w.points) KahanAdd(p.v, sum, c);
  return std::isinf(sum) ? sum : sum + c;
}

Out CountOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  return static_cast<double>(w.points.size());
}

Out LastOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  return w.points.back().v;
}

Out FirstOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  return w.points.front().v;
}

Out MaxOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  double m = w.points[0].v;
  for (const auto& p : w.points) {
    if (p.v > m || std::isnan(m)) m = p.v;
  }
  return m;
}

Out MinOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  double m = w.points[0].v;
  for (const auto& p : w.points) {
    if (p.v < m || std::isnan(m)) m = p.v;
  }
  return m;
}

// Timestamp (seconds) of the sample a selection picks; ties keep the first.
template <bool kMax>
Out TimestampOfExtreme(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  double m = w.points[0].v;
  TimestampMs t = w.points[0].t;
  for (const auto& p : w.points) {
    bool better = kMax ? (p.v > m) : (p.v < m);
    if (better || (std::isnan(m) && !std::isnan(p.v))) {
      m = p.v;
      t = p.t;
    }
  }
  return static_cast<double>(t) / 1000;
}

Out TsOfLast(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  return static_cast<double>(w.points.back().t) / 1000;
}

Out TsOfFirst(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  return static_cast<double>(w.points.front().t) / 1000;
}

double Variance(std::span<const Point> points) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const auto& p : points) {
    count++;
    double delta = p.v - (mean + c_mean);
    KahanAdd(delta / count, mean, c_mean);
    KahanAdd(delta * (p.v - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

Out StdvarOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  return Variance(w.points);
}

Out StddevOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  return std::sqrt(Variance(w.points));
}

Out QuantileOverTime(const Window& w, Params params, Annotations& notes) {
  if (w.points.empty()) return std::nullopt;
  double q = params[0];
  if (std::isnan(q) || q < 0 || q > 1) {
    notes.Warn("PromQL warning: quantile value should be between 0 and 1, got " + FormatPlainFloat(q));
  }
  std::vector<double> values;
  values.reserve(w.points.size());
  for (const auto& p : w.points) values.push_back(p.v);
  return Quantile(q, values);
}

Out MadOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  std::vector<double> values;
  for (const auto& p : w.points) values.push_back(p.v);
  double median = Quantile(0.5, values);
  for (auto& v : values) v = std::fabs(v - median);
  return Quantile(0.5, values);
}

Out PresentOverTime(const Window& w, Params, Annotations&) {
  if (w.points.empty()) return std::nullopt;
  return 1.0;
}

// Holt's linear smoothing; sf and tf must lie in (0, 1).
Out DoubleExponentialSmoothing(const Window& w, Params params, Annotations&) {
  double sf = params[0], tf = params[1];
  if (sf <= 0 || sf >= 1) Fail("invalid smoothing factor. Expected: 0 < sf < 1, got: " + FormatPlainFloat(sf));
  if (tf <= 0 || tf >= 1) Fail("invalid trend factor. Expected: 0 < tf < 1, got: " + FormatPlainFloat(tf));
  const auto& p = w.points;
  if (p.size() < 2) return std::nullopt;
  double s0 = 0, s1 = p[0].v, b = p[1].v - p[0].v;
  for (size_t i = 1; i < p.size(); ++i) {
    double x = sf * p[i].v;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

}  // namespace

RangeFunction FindRangeFunction(std::string_view name) {
  static const std::unordered_map<std::string_view, RangeFunction> kFunctions = {
      {"rate", Rate},
      {"increase", Increase},
      {"delta", Delta},
      {"irate", Irate},
      {"idelta", Idelta},
      {"deriv", Deriv},
      {"predict_linear", PredictLinear},
      {"changes", Changes},
      {"resets", Resets},
      {"avg_over_time", AvgOverTime},
      {"sum_over_time", SumOverTime},
      {"count_over_time", CountOverTime},
      {"last_over_time", LastOverTime},
      {"first_over_time", FirstOverTime},
      {"max_over_time", MaxOverTime},
      {"min_over_time", MinOverTime},
      {"stddev_over_time", StddevOverTime},
      {"stdvar_over_time", StdvarOverTime},
      {"quantile_over_time", QuantileOverTime},
      {"mad_over_time", MadOverTime},
      {"present_over_time", PresentOverTime},
      {"ts_of_max_over_time", TimestampOfExtreme<true>},
      {"ts_of_min_over_time", TimestampOfExtreme<false>},
      {"ts_of_last_over_time", TsOfLast},
      {"ts_of_first_over_time", TsOfFirst},
      {"double_exponential_smoothing", DoubleExponentialSmoothing},
  };
  auto it = kFunctions.find(name);
  return it == kFunctions.end() ? nullptr : it->second;
}

bool KeepsMetricName(std::string_view name) {
  return name == "last_over_time" || name == "first_over_time" || name == "sort" || name == "sort_desc" ||
         name == "sort_by_label" || name == "sort_by_label_desc" || name == "label_replace" || name == "label_join";
}

bool MarksCounterResets(std::string_view name) { return name == "rate" || name == "increase"; }

namespace {
double Sgn(double v) { return v > 0 ? 1 : v < 0 ? -1 : v; }
double Deg(double v) { return v * 180 / M_PI; }
double Rad(double v) { return v * M_PI / 180; }
double Abs(double v) { return std::fabs(v); }
double Ceil(double v) { return std::ceil(v); }
double Floor(double v) { return std::floor(v); }
double Exp(double v) { return std::exp(v); }
double Ln(double v) { return std::log(v); }
double Log2(double v) { return std::log2(v); }
double Log10(double v) { return std::log10(v); }
double Sqrt(double v) { return std::sqrt(v); }
double Sin(double v) { return std::sin(v); }
double Cos(double v) { return std::cos(v); }
double Tan(double v) { return std::tan(v); }
double Asin(double v) { return std::asin(v); }
double Acos(double v) { return std::acos(v); }
double Atan(double v) { return std::atan(v); }
double Sinh(double v) { return std::sinh(v); }
double Cosh(double v) { return std::cosh(v); }
double Tanh(double v) { return std::tanh(v); }
double Asinh(double v) { return std::asinh(v); }
double Acosh(double v) { return std::acosh(v); }
double Atanh(double v) { return std::atanh(v); }
}  // namespace

ElementFunction FindElementFunction(std::string_view name) {
  static const std::unordered_map<std::string_view, ElementFunction> kFunctions = {
      {"abs", Abs},     {"ceil", Ceil}, {"floor", Floor}, {"exp", Exp},     {"ln", Ln},       {"log2", Log2},
      {"log10", Log10}, {"sqrt", Sqrt}, {"sgn", Sgn},     {"deg", Deg},     {"rad", Rad},     {"sin", Sin},
      {"cos", Cos},     {"tan", Tan},   {"asin", Asin},   {"acos", Acos},   {"atan", Atan},   {"sinh", Sinh},
      {"cosh", Cosh},   {"tanh", Tanh}, {"asinh", Asinh}, {"acosh", Acosh}, {"atanh", Atanh},
  };
  auto it = kFunctions.find(name);
  return it == kFunctions.end() ? nullptr : it->second;
}

}  // namespace vigil::promql::internal
