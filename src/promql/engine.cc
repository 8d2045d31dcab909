// The evaluator. Like Prometheus's, it evaluates every node over all steps of
// the query at once: an instant vector is a set of series with a point at each
// step where the series exists, so a range query costs one pass per node.
#include "promql/engine.h"

#include <re2/re2.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <ctime>
#include <functional>
#include <latch>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "promql/eval.h"

namespace vigil::promql {

using namespace internal;  // NOLINT: this file is the engine's internals

namespace {

struct Val {
  ValueType type = ValueType::kNone;
  // Scalar: one series without labels and a point at every step. Vector:
  // points at the steps where a series exists. Matrix: raw points.
  Matrix m;
  std::string str;
};

// State shared by a query and its subqueries.
struct QueryState {
  const EngineOptions& options;
  const QuerierFactory& storage;
  TimestampMs query_start, query_end;
  std::chrono::steady_clock::time_point deadline;
  bool range_query = false;
  int64_t samples = 0;
  int64_t samples_decoded = 0;
  uint32_t ticks = 0;
  Annotations notes;

  void Account(int64_t n) {
    samples += n;
    if (samples > options.max_samples) {
      Fail("query processing would load too many samples into memory in query execution", ErrorKind::kTooManySamples);
    }
  }
  // Counts one produced point and checks the limits.
  void Tick() {
    if (++samples > options.max_samples) Account(0);
    CheckDeadline();
  }
  void CheckDeadline() {
    if ((++ticks & 1023) == 0) CheckDeadlineNow();
  }
  // Reads the clock every time: after a batch of work done elsewhere.
  void CheckDeadlineNow() {
    if (PastDeadline()) Fail("query timed out in query execution", ErrorKind::kTimeout);
  }
  // Only reads the clock: helper threads may call it.
  bool PastDeadline() const { return std::chrono::steady_clock::now() > deadline; }
};

// Gives each distinct label set a dense id, in order of first appearance.
class LabelSetIndex {
 public:
  size_t Id(const Labels& labels) {
    auto& bucket = index_[HashLabels(labels)];
    for (size_t i : bucket) {
      if (sets_[i] == labels) return i;
    }
    bucket.push_back(sets_.size());
    sets_.push_back(labels);
    return sets_.size() - 1;
  }
  const Labels& labels(size_t id) const { return sets_[id]; }
  size_t size() const { return sets_.size(); }

 private:
  std::unordered_map<uint64_t, std::vector<size_t>> index_;
  std::vector<Labels> sets_;
};

// Collects output series by label set, one point per step at most.
class SeriesBuilder {
 public:
  // Adds a point; two points of one label set at one time are an error.
  void Add(const Labels& labels, bool drop_name, Point p) {
    size_t id = ids_.Id(labels);
    if (id == out_.size()) out_.push_back(Series{labels, {}, drop_name});
    Series& s = out_[id];
    if (!s.points.empty() && s.points.back().t == p.t) Fail("vector cannot contain metrics with the same labelset");
    s.points.push_back(p);
  }
  Matrix Take() { return std::move(out_); }

 private:
  LabelSetIndex ids_;
  Matrix out_;
};

// Walks a vector's series step by step.
class StepCursor {
 public:
  explicit StepCursor(const Matrix& m) : m_(m), pos_(m.size(), 0) {}
  // The elements present at time t; call with increasing t.
  const Vector& At(TimestampMs t) {
    vec_.clear();
    for (size_t i = 0; i < m_.size(); ++i) {
      const auto& pts = m_[i].points;
      size_t& p = pos_[i];
      while (p < pts.size() && pts[p].t < t) ++p;
      if (p < pts.size() && pts[p].t == t) vec_.push_back(Elem{&m_[i].labels, pts[p].v, m_[i].drop_name});
    }
    return vec_;
  }

 private:
  const Matrix& m_;
  std::vector<size_t> pos_;
  Vector vec_;
};

Labels WithoutName(const Labels& l) {
  Labels out = l;
  out.Set("__name__", "");
  return out;
}

std::pair<double, bool> ElemBinop(BinaryOp op, double l, double r) {
  switch (op) {
    case BinaryOp::kAdd: return {l + r, true};
    case BinaryOp::kSub: return {l - r, true};
    case BinaryOp::kMul: return {l * r, true};
    case BinaryOp::kDiv: return {l / r, true};
    case BinaryOp::kMod: return {std::fmod(l, r), true};
    case BinaryOp::kPow: return {std::pow(l, r), true};
    case BinaryOp::kAtan2: return {std::atan2(l, r), true};
    case BinaryOp::kEql: return {l, l == r};
    case BinaryOp::kNeq: return {l, l != r};
    case BinaryOp::kGtr: return {l, l > r};
    case BinaryOp::kLss: return {l, l < r};
    case BinaryOp::kGte: return {l, l >= r};
    case BinaryOp::kLte: return {l, l <= r};
    default: Fail("invalid binary operator for numbers");
  }
}

bool IsArithmetic(BinaryOp op) { return op <= BinaryOp::kAtan2; }

// The labels two vector elements are matched on.
std::string Signature(const Labels& l, const VectorMatching& m) {
  std::string sig;
  if (m.on) {
    for (const auto& name : m.labels) {
      sig += l.Get(name);
      sig += '\xff';
    }
  } else {
    for (const auto& label : l) {
      if (label.name == "__name__" || std::find(m.labels.begin(), m.labels.end(), label.name) != m.labels.end()) {
        continue;
      }
      sig += label.name;
      sig += '\xfe';
      sig += label.value;
      sig += '\xff';
    }
  }
  return sig;
}

Labels MatchLabels(const Labels& l, const VectorMatching& m) {
  Labels out;
  for (const auto& label : l) {
    bool listed = std::find(m.labels.begin(), m.labels.end(), label.name) != m.labels.end();
    if (m.on ? listed : (!listed && label.name != "__name__")) out.Set(label.name, label.value);
  }
  return out;
}

Labels ResultMetric(const Labels& lhs, const Labels& rhs, const VectorMatching& m) {
  Labels out;
  if (m.card == VectorMatching::Cardinality::kOneToOne) {
    for (const auto& label : lhs) {
      bool listed = std::find(m.labels.begin(), m.labels.end(), label.name) != m.labels.end();
      if (m.on == listed) out.Set(label.name, label.value);
    }
  } else {
    out = lhs;
  }
  for (const auto& name : m.include) out.Set(name, rhs.Get(name));
  return out;
}

// Labels `absent()` gives its output: the selector's equality matchers.
Labels AbsentLabels(const Expr* arg) {
  Labels out;
  arg = Unparen(arg);
  const VectorSelector* vs = nullptr;
  if (arg->kind == Expr::Kind::kVectorSelector) {
    vs = static_cast<const VectorSelector*>(arg);
  } else if (arg->kind == Expr::Kind::kMatrixSelector) {
    vs = static_cast<const VectorSelector*>(static_cast<const MatrixSelector*>(arg)->selector.get());
  }
  if (vs == nullptr) return out;
  std::unordered_set<std::string> seen, repeated;
  for (const auto& m : vs->matchers) {
    if (m.name() == "__name__") continue;
    if (!seen.insert(m.name()).second) repeated.insert(m.name());
    if (m.type() == tsdb::Matcher::Type::kEqual) out.Set(m.name(), m.value());
  }
  for (const auto& name : repeated) out.Set(name, "");
  return out;
}

// Go's regexp Expand for label_replace's replacement: $1, ${1}, $name, $$.
std::string ExpandTemplate(const re2::RE2& re, std::string_view tmpl, const std::vector<re2::StringPiece>& groups) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$' || i + 1 >= tmpl.size()) {
      out += tmpl[i];
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    if (tmpl[j] == '{') {
      size_t close = tmpl.find('}', j);
      if (close == std::string_view::npos) {
        out += tmpl[i];
        continue;
      }
      name = std::string(tmpl.substr(j + 1, close - j - 1));
      j = close + 1;
    } else {
      while (j < tmpl.size() && (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_')) {
        name += tmpl[j++];
      }
    }
    if (name.empty()) {
      out += tmpl[i];
      continue;
    }
    i = j - 1;
    int index = -1;
    if (std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      index = name.size() < 9 ? std::stoi(name) : INT_MAX;
    } else {
      auto it = re.NamedCapturingGroups().find(name);
      if (it != re.NamedCapturingGroups().end()) index = it->second;
    }
    if (index >= 0 && static_cast<size_t>(index) < groups.size() && groups[index].data() != nullptr) {
      out.append(groups[index].data(), groups[index].size());
    }
  }
  return out;
}

class Evaluator {
 public:
  Evaluator(QueryState& q, TimestampMs start, TimestampMs end, int64_t step)
      : q_(q), start_(start), end_(end), step_(step) {}

  size_t Steps() const { return static_cast<size_t>((end_ - start_) / step_) + 1; }
  TimestampMs T(size_t i) const { return start_ + static_cast<TimestampMs>(i) * step_; }
  size_t StepOf(TimestampMs t) const { return static_cast<size_t>((t - start_) / step_); }

  Val Eval(const Expr& e) {
    q_.CheckDeadline();
    switch (e.kind) {
      case Expr::Kind::kNumber: return ScalarVal(static_cast<const NumberLiteral&>(e).value);
      case Expr::Kind::kString: {
        Val v;
        v.type = ValueType::kString;
        v.str = static_cast<const StringLiteral&>(e).value;
        return v;
      }
      case Expr::Kind::kParen: return Eval(*static_cast<const ParenExpr&>(e).expr);
      case Expr::Kind::kUnary: return EvalUnary(static_cast<const UnaryExpr&>(e));
      case Expr::Kind::kVectorSelector: return EvalVectorSelector(static_cast<const VectorSelector&>(e), false);
      case Expr::Kind::kMatrixSelector:
      case Expr::Kind::kSubquery: return RangeResult(e);
      case Expr::Kind::kBinary: return EvalBinary(static_cast<const BinaryExpr&>(e));
      case Expr::Kind::kAggregate: return EvalAggregate(static_cast<const AggregateExpr&>(e));
      case Expr::Kind::kCall: return EvalCall(static_cast<const Call&>(e));
    }
    Fail("unknown expression");
  }

 private:
  Val ScalarVal(double v) {
    Val out;
    out.type = ValueType::kScalar;
    out.m.resize(1);
    out.m[0].points.reserve(Steps());
    for (size_t i = 0; i < Steps(); ++i) out.m[0].points.push_back({T(i), v});
    return out;
  }

  // The scalar argument's value at each step.
  std::vector<double> ScalarSteps(const Expr& e) {
    Val v = Eval(e);
    std::vector<double> out(Steps(), std::nan(""));
    for (const auto& p : v.m[0].points) out[StepOf(p.t)] = p.v;
    return out;
  }

  TimestampMs RefTime(AtKind at, TimestampMs at_ms, Duration offset, TimestampMs t) const {
    TimestampMs base = t;
    if (at == AtKind::kTimestamp) base = at_ms;
    if (at == AtKind::kStart) base = q_.query_start;
    if (at == AtKind::kEnd) base = q_.query_end;
    return base - offset.count();
  }

  struct Loaded {
    Labels labels;
    std::vector<Point> points;
  };

  // Range function windows a thread must have to pay for starting it.
  static constexpr size_t kMinWindowsPerThread = 16384;

  // Work done on each loaded series' points by the threads that decoded them,
  // so that a range function's windows are evaluated where the series was
  // decoded, with no hand-over in between.
  struct SeriesStage {
    // Points reserved for each series' output (on the calling thread), and
    // how many windows a series costs when choosing the number of threads.
    size_t output_points = 0;
    // On thread `worker` (0: the caller): writes the stage's output for `in`
    // to *out, within its reserved capacity.
    std::function<void(size_t worker, const std::vector<Point>& in, std::vector<Point>* out)> run;
    // On the caller after each batch, before its series are passed on.
    std::function<void()> after_batch;
  };

  // Calls `fn(Loaded&&)` for each selected series with its samples in
  // [mint, maxt] (or, with `stage`, what the stage made of them), a batch of
  // series in memory at a time. For a `range` selector the raw samples are
  // charged to the query's limit (it keeps them all) and stale markers are
  // left out (range functions never see them).
  template <typename Fn>
  void Load(const VectorSelector& vs, TimestampMs mint, TimestampMs maxt, bool range, const tsdb::ReadHints& hints,
            Fn&& fn, const SeriesStage* stage = nullptr) {
    auto querier = q_.storage(mint, maxt, hints);
    if (!querier) Fail("storage unavailable");
    auto selected = querier->Select(vs.matchers);
    if (!selected.ok()) Fail(selected.status().message());
    const auto& series = *selected;
    // Decoding is most of a large selection's cost and needs no shared state,
    // so a batch is decoded on several threads; the rest stays in order on
    // this one. The batch bounds what is held before the sample limit is
    // checked. Helpers only fill buffers reserved here: what they allocated
    // would stay in their malloc arenas after the query (hundreds of MB).
    constexpr size_t kBatch = 64;
    // A thread must have enough to decode to pay for starting it and for
    // waiting on it: on a busy machine, helpers made a 20-series query slower.
    constexpr size_t kMinSeriesPerThread = 8;
    constexpr size_t kMinSamplesPerThread = 32768;
    const size_t max_threads = static_cast<size_t>(std::max(1, q_.options.max_decode_threads));
    const size_t slots = std::min(kBatch, series.size());
    std::vector<std::vector<TimestampMs>> ts(slots);
    std::vector<std::vector<double>> values(slots);
    std::vector<Status> errors(slots);
    std::vector<std::pair<size_t, size_t>> window(slots);  // [first, end) of ts[k] in [mint, maxt]
    auto decode = [&](size_t begin, size_t from, size_t to) {
      for (size_t k = from; k < to; ++k) {
        errors[k] = series[begin + k]->AppendSamples(&ts[k], &values[k]);
        // The samples come in time order: the window is found by binary search.
        const auto& t = ts[k];
        const auto lo = std::lower_bound(t.begin(), t.end(), mint);
        const auto hi = std::upper_bound(lo, t.end(), maxt);
        window[k] = {static_cast<size_t>(lo - t.begin()), static_cast<size_t>(hi - t.begin())};
      }
    };
    std::vector<std::vector<Point>> points(slots);
    std::vector<std::vector<Point>> outputs(stage != nullptr ? slots : 0);
    auto build = [&](size_t worker, size_t from, size_t to) {
      for (size_t k = from; k < to; ++k) {
        if (!errors[k].ok()) continue;
        for (size_t i = window[k].first; i < window[k].second; ++i) {
          if (range && tsdb::IsStaleNaN(values[k][i])) continue;
          points[k].push_back({ts[k][i], values[k][i]});
        }
        if (stage != nullptr) stage->run(worker, points[k], &outputs[k]);
      }
    };
    for (size_t begin = 0; begin < series.size(); begin += kBatch) {
      const size_t n = std::min(kBatch, series.size() - begin);
      size_t samples = 0;
      for (size_t k = 0; k < n; ++k) {
        ts[k].clear();
        values[k].clear();
        const size_t bound = series[begin + k]->SampleCountBound();
        ts[k].reserve(bound);
        values[k].reserve(bound);
        samples += bound;
      }
      q_.samples_decoded += static_cast<int64_t>(samples);
      const size_t windows = stage != nullptr ? n * stage->output_points : 0;
      const size_t threads =
          std::min({max_threads, std::max<size_t>(1, n / kMinSeriesPerThread),
                    std::max<size_t>({1, samples / kMinSamplesPerThread, windows / kMinWindowsPerThread})});
      // Each thread decodes its share, waits while this one sizes every
      // series' points, then builds its share's points (building them all
      // here was an eighth of a long range query's CPU, with helpers idle).
      std::latch decoded(static_cast<std::ptrdiff_t>(threads));
      std::latch sized(1);
      {
        std::vector<std::jthread> helpers;
        for (size_t w = 1; w < threads; ++w) {
          const size_t from = n * w / threads, to = n * (w + 1) / threads;
          helpers.emplace_back([&, w, from, to] {
            decode(begin, from, to);
            decoded.count_down();
            sized.wait();
            build(w, from, to);
          });
        }
        // The helpers are let go even if this thread throws, then joined on the way out.
        struct Release {
          std::latch& latch;
          bool done = false;
          void operator()() {
            if (!std::exchange(done, true)) latch.count_down();
          }
          ~Release() { (*this)(); }
        } release{sized};
        decode(begin, 0, n / threads);
        decoded.arrive_and_wait();
        for (size_t k = 0; k < n; ++k) {
          points[k] = {};
          points[k].reserve(window[k].second - window[k].first);
          if (stage != nullptr) {
            outputs[k] = {};
            outputs[k].reserve(stage->output_points);
          }
        }
        release();
        build(0, 0, n / threads);
      }
      if (stage != nullptr) stage->after_batch();
      for (size_t k = 0; k < n; ++k) {
        if (!errors[k].ok()) Fail(errors[k].message());
        if (range) q_.Account(static_cast<int64_t>(window[k].second - window[k].first));
        q_.CheckDeadline();
        std::vector<Point>& result = stage != nullptr ? outputs[k] : points[k];
        if (!result.empty()) fn(Loaded{series[begin + k]->labels(), std::move(result)});
      }
    }
  }

  // An instant vector selector; with `timestamps` the values are the
  // samples' timestamps in seconds (timestamp() on a selector).
  Val EvalVectorSelector(const VectorSelector& vs, bool timestamps) {
    // Downsampled points are a resolution apart: look back that far to find one.
    const int64_t lookback = std::max(q_.options.lookback_delta, q_.options.max_read_resolution).count();
    TimestampMs first = RefTime(vs.at, vs.at_ms, vs.offset, T(0));
    TimestampMs last = RefTime(vs.at, vs.at_ms, vs.offset, T(Steps() - 1));
    Val out;
    out.type = ValueType::kVector;
    tsdb::ReadHints hints;
    hints.max_resolution = q_.options.max_read_resolution;
    Load(vs, first - lookback + 1, last, false, hints, [&](Loaded&& l) {
      Series s{std::move(l.labels), {}, false};
      size_t j = 0;
      for (size_t i = 0; i < Steps(); ++i) {
        TimestampMs ref = RefTime(vs.at, vs.at_ms, vs.offset, T(i));
        while (j < l.points.size() && l.points[j].t <= ref) ++j;
        if (j == 0) continue;
        const Point& p = l.points[j - 1];
        if (p.t <= ref - lookback || tsdb::IsStaleNaN(p.v)) continue;
        s.points.push_back({T(i), timestamps ? static_cast<double>(p.t) / 1000 : p.v});
        q_.Tick();
      }
      if (!s.points.empty()) out.m.push_back(std::move(s));
    });
    return out;
  }

  // Where range functions read their windows from: a matrix selector's raw
  // samples or a subquery's points.
  struct RangeSource {
    Matrix series;  // points in time order, no stale markers
    Duration range{0};
    AtKind at = AtKind::kNone;
    TimestampMs at_ms = 0;
    Duration offset{0};
  };

  // The downsampled aggregate that stands for the raw samples of a window
  // read by `function`; nullopt: it needs the raw samples themselves.
  static std::optional<tsdb::ReadHints::Use> DownsampledUse(std::string_view function) {
    using Use = tsdb::ReadHints::Use;
    if (function == "rate" || function == "increase" || function == "irate") return Use::kCounter;
    if (function == "avg_over_time") return Use::kAverage;
    if (function == "min_over_time") return Use::kMin;
    if (function == "max_over_time") return Use::kMax;
    if (function == "sum_over_time") return Use::kSum;
    if (function == "count_over_time") return Use::kCount;
    // changes() and resets() count what aggregates hide; a range vector result shows raw samples.
    if (function.empty() || function == "changes" || function == "resets") return std::nullopt;
    return Use::kLast;
  }

  RangeSource LoadRange(const Expr& arg, std::string_view function = {}) {
    RangeSource src;
    LoadRangeInto(arg, function, &src);
    return src;
  }

  // With `each`, a matrix selector's series go to it one at a time as they
  // are loaded instead of into src->series, so only a batch of raw samples
  // is held at once; a subquery's series are still kept in src->series.
  void LoadRangeInto(const Expr& arg, std::string_view function, RangeSource* out,
                     const std::function<void(Series&&)>& each = {}, const SeriesStage* stage = nullptr) {
    const Expr* e = Unparen(&arg);
    RangeSource& src = *out;
    if (e->kind == Expr::Kind::kMatrixSelector) {
      const auto& ms = static_cast<const MatrixSelector&>(*e);
      const auto& vs = static_cast<const VectorSelector&>(*ms.selector);
      src.range = ms.range;
      src.at = vs.at;
      src.at_ms = vs.at_ms;
      src.offset = vs.offset;
      TimestampMs first = RefTime(vs.at, vs.at_ms, vs.offset, T(0));
      TimestampMs last = RefTime(vs.at, vs.at_ms, vs.offset, T(Steps() - 1));
      tsdb::ReadHints hints;
      if (std::optional<tsdb::ReadHints::Use> use = DownsampledUse(function)) {
        hints.max_resolution = q_.options.max_read_resolution;
        hints.use = *use;
      }
      Load(
          vs, first - ms.range.count() + 1, last, true, hints,
          [&](Loaded&& l) {
            Series series{std::move(l.labels), std::move(l.points), false};
            if (each) {
              each(std::move(series));
            } else {
              src.series.push_back(std::move(series));
            }
          },
          stage);
    } else if (e->kind == Expr::Kind::kSubquery) {
      const auto& sq = static_cast<const SubqueryExpr&>(*e);
      src.range = sq.range;
      src.at = sq.at;
      src.at_ms = sq.at_ms;
      src.offset = sq.offset;
      src.series = EvalSubquery(sq);
    } else {
      Fail("expected a range vector");
    }
  }

  Matrix EvalSubquery(const SubqueryExpr& sq) {
    int64_t step = sq.step.count() > 0 ? sq.step.count() : q_.options.default_subquery_step.count();
    TimestampMs first = RefTime(sq.at, sq.at_ms, sq.offset, T(0)) - sq.range.count();
    TimestampMs last = RefTime(sq.at, sq.at_ms, sq.offset, T(Steps() - 1));
    // The first step-aligned time in the window, as Prometheus aligns subqueries.
    TimestampMs start = step * (first / step);
    if (start < first) start += step;
    if (start > last) return {};
    Evaluator inner(q_, start, last, step);
    Val v = inner.Eval(*sq.expr);
    return std::move(v.m);
  }

  // Calls `fn` for each series and step with the window (ref - range, ref].
  // With `mark_drops`, each window says whether a value in it is lower than
  // the one before (a counter reset), counted once per series.
  template <typename Fn>
  void ForEachWindow(const RangeSource& src, Fn&& fn, bool mark_drops = false) {
    for (size_t si = 0; si < src.series.size(); ++si) ForEachWindowOf(src, si, src.series[si].points, fn, mark_drops);
  }

  // The same for one series' points (`si` is passed on to `fn`).
  template <typename Fn>
  void ForEachWindowOf(const RangeSource& src, size_t si, const std::vector<Point>& pts, Fn&& fn, bool mark_drops) {
    WindowsOf(src, pts, mark_drops, drops_scratch_, [&](size_t i, const Window& w) {
      fn(si, i, w);
      q_.CheckDeadline();
    });
  }

  // Calls fn(step, window) for each step over `pts`; touches no query
  // state, so helper threads may call it (each with its own `drops_before`).
  template <typename Fn>
  void WindowsOf(const RangeSource& src, const std::vector<Point>& pts, bool mark_drops,
                 std::vector<uint32_t>& drops_before,  // drops_before[i]: drops among points [0, i]
                 Fn&& fn) const {
    if (mark_drops) {
      drops_before.resize(pts.size());
      uint32_t drops = 0;
      for (size_t k = 0; k < pts.size(); ++k) {
        if (k > 0 && pts[k].v < pts[k - 1].v) ++drops;
        drops_before[k] = drops;
      }
    }
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i < Steps(); ++i) {
      TimestampMs ref = RefTime(src.at, src.at_ms, src.offset, T(i));
      TimestampMs from = ref - src.range.count();
      while (hi < pts.size() && pts[hi].t <= ref) ++hi;
      while (lo < hi && pts[lo].t <= from) ++lo;
      Window w{std::span<const Point>(pts.data() + lo, hi - lo), from, ref, T(i), src.range};
      if (mark_drops && hi > lo) w.may_have_drops = drops_before[hi - 1] != drops_before[lo];
      fn(i, w);
    }
  }

  // A range vector as the result of an instant query.
  Val RangeResult(const Expr& e) {
    if (Steps() != 1) Fail("range vectors can only be the result of an instant query", ErrorKind::kBadData);
    RangeSource src = LoadRange(e);
    Val out;
    out.type = ValueType::kMatrix;
    ForEachWindow(src, [&](size_t si, size_t, const Window& w) {
      if (w.points.empty()) return;
      out.m.push_back(Series{src.series[si].labels, {w.points.begin(), w.points.end()}, src.series[si].drop_name});
    });
    return out;
  }

  Val EvalUnary(const UnaryExpr& u) {
    Val v = Eval(*u.expr);
    if (!u.negate) return v;
    for (auto& s : v.m) {
      for (auto& p : s.points) p.v = -p.v;
      if (v.type == ValueType::kVector) s.drop_name = true;
    }
    return v;
  }

  Val EvalBinary(const BinaryExpr& b) {
    Val lhs = Eval(*b.lhs);
    Val rhs = Eval(*b.rhs);
    const bool comparison = IsComparison(b.op);
    if (lhs.type == ValueType::kScalar && rhs.type == ValueType::kScalar) {
      for (auto& p : lhs.m[0].points) {
        double r = rhs.m[0].points[StepOf(p.t)].v;
        auto [v, keep] = ElemBinop(b.op, p.v, r);
        p.v = comparison ? (keep ? 1 : 0) : v;
      }
      return lhs;
    }
    if (lhs.type == ValueType::kScalar || rhs.type == ValueType::kScalar) {
      const bool scalar_left = lhs.type == ValueType::kScalar;
      Val& vec = scalar_left ? rhs : lhs;
      const auto& scalar = scalar_left ? lhs.m[0].points : rhs.m[0].points;
      for (auto& s : vec.m) {
        std::vector<Point> kept;
        for (const auto& p : s.points) {
          double sv = scalar[StepOf(p.t)].v;
          auto [v, keep] = scalar_left ? ElemBinop(b.op, sv, p.v) : ElemBinop(b.op, p.v, sv);
          if (comparison) v = p.v;
          if (b.return_bool) {
            v = keep ? 1 : 0;
            keep = true;
          }
          if (keep) kept.push_back({p.t, v});
        }
        s.points = std::move(kept);
        if (!comparison || b.return_bool) s.drop_name = true;
      }
      std::erase_if(vec.m, [](const Series& s) { return s.points.empty(); });
      return std::move(vec);
    }
    return VectorBinary(b, lhs, rhs);
  }

  Val VectorBinary(const BinaryExpr& b, const Val& lhs, const Val& rhs) {
    const VectorMatching matching = b.matching.value_or(VectorMatching{});
    SeriesBuilder out;
    StepCursor lc(lhs.m), rc(rhs.m);
    for (size_t i = 0; i < Steps(); ++i) {
      const TimestampMs t = T(i);
      const Vector& l = lc.At(t);
      const Vector& r = rc.At(t);
      if (IsSetOperator(b.op)) {
        SetOperation(b.op, matching, l, r, t, out);
      } else if (!l.empty() && !r.empty()) {
        ArithmeticOrComparison(b, matching, l, r, t, out);
      }
      q_.CheckDeadline();
    }
    Val v;
    v.type = ValueType::kVector;
    v.m = out.Take();
    return v;
  }

  void SetOperation(BinaryOp op, const VectorMatching& m, const Vector& l, const Vector& r, TimestampMs t,
                    SeriesBuilder& out) {
    std::unordered_set<std::string> rsigs;
    if (op != BinaryOp::kOr) {
      for (const auto& e : r) rsigs.insert(Signature(*e.labels, m));
    }
    switch (op) {
      case BinaryOp::kAnd:
        for (const auto& e : l) {
          if (rsigs.count(Signature(*e.labels, m))) out.Add(*e.labels, e.drop_name, {t, e.v});
        }
        break;
      case BinaryOp::kUnless:
        for (const auto& e : l) {
          if (!rsigs.count(Signature(*e.labels, m))) out.Add(*e.labels, e.drop_name, {t, e.v});
        }
        break;
      default: {
        std::unordered_set<std::string> lsigs;
        for (const auto& e : l) {
          lsigs.insert(Signature(*e.labels, m));
          out.Add(*e.labels, e.drop_name, {t, e.v});
        }
        for (const auto& e : r) {
          if (!lsigs.count(Signature(*e.labels, m))) out.Add(*e.labels, e.drop_name, {t, e.v});
        }
      }
    }
  }

  void ArithmeticOrComparison(const BinaryExpr& b, const VectorMatching& m, const Vector& lhs_in, const Vector& rhs_in,
                              TimestampMs t, SeriesBuilder& out) {
    const bool swapped = m.card == VectorMatching::Cardinality::kOneToMany;
    const Vector& many = swapped ? rhs_in : lhs_in;
    const Vector& one = swapped ? lhs_in : rhs_in;
    std::unordered_map<std::string, const Elem*> one_sigs;
    for (const auto& e : one) {
      auto [it, inserted] = one_sigs.emplace(Signature(*e.labels, m), &e);
      if (!inserted) {
        Fail("found duplicate series for the match group " + MatchLabels(*e.labels, m).ToString() + " on the " +
             (swapped ? "left" : "right") + " hand-side of the operation: [" + it->second->labels->ToString() + ", " +
             e.labels->ToString() + "];many-to-many matching not allowed: matching labels must be unique on one side");
      }
    }
    std::unordered_map<std::string, std::unordered_set<uint64_t>> matched;
    for (const auto& e : many) {
      std::string sig = Signature(*e.labels, m);
      auto it = one_sigs.find(sig);
      if (it == one_sigs.end()) continue;
      const Elem& o = *it->second;
      auto [mit, inserted] = matched.try_emplace(sig);
      if (m.card == VectorMatching::Cardinality::kOneToOne && !inserted) {
        // Checked before filtering, so the error does not depend on the values.
        Fail("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
      }
      double vl = e.v, vr = o.v;
      if (swapped) std::swap(vl, vr);
      auto [v, keep] = ElemBinop(b.op, vl, vr);
      if (b.return_bool) {
        v = keep ? 1 : 0;
      } else if (!keep) {
        continue;
      }
      Labels metric = ResultMetric(*e.labels, *o.labels, m);
      if (m.card != VectorMatching::Cardinality::kOneToOne && !mit->second.insert(HashLabels(metric)).second) {
        Fail("multiple matches for labels: grouping labels must ensure unique matches");
      }
      bool drop = e.drop_name || b.return_bool || IsArithmetic(b.op);
      out.Add(metric, drop, {t, v});
    }
  }

  Val EvalAggregate(const AggregateExpr& a);
  bool AggregateSeriesBySeries(const AggregateExpr& a, const Val& in, const std::vector<size_t>& group_of,
                               LabelSetIndex& groups_index, const std::vector<bool>& group_drops_name, Val* out);
  Val EvalTime();
  Val EvalCall(const Call& c);
  Val EvalRangeCall(const Call& c, size_t matrix_arg);
  Val EvalClassicHistogram(const Call& c);
  Val EvalLabelReplace(const Call& c);
  Val EvalLabelJoin(const Call& c);
  Val EvalDateFunction(const Call& c);

  QueryState& q_;
  const TimestampMs start_, end_;
  const int64_t step_;
  std::vector<uint32_t> drops_scratch_;  // ForEachWindowOf's, kept between series
};

// ---- aggregation ----

// A value after the first into a sum (compensated, as Prometheus), a
// maximum or a minimum (NaN is replaced by any value); other ops: nothing.
void AddToSumMinMax(AggregateOp op, double f, double& value, double& c) {
  switch (op) {
    case AggregateOp::kSum: KahanAdd(f, value, c); break;
    case AggregateOp::kMax:
      if (value < f || std::isnan(value)) value = f;
      break;
    case AggregateOp::kMin:
      if (value > f || std::isnan(value)) value = f;
      break;
    default: break;
  }
}

// sum, min, max, count and group of a range query, series by series: each
// input series' points are read in order (one step at a time across every
// series touches a cache line per series and step), into a cell per group and
// step. Each cell sees the same values in the same order (input series
// ascending) as the step-by-step loop, so the results are bit for bit the same,
// and so is the order of the output. False when it does not apply.
bool Evaluator::AggregateSeriesBySeries(const AggregateExpr& a, const Val& in, const std::vector<size_t>& group_of,
                                        LabelSetIndex& groups_index, const std::vector<bool>& group_drops_name,
                                        Val* result) {
  const AggregateOp op = a.op;
  if (op != AggregateOp::kSum && op != AggregateOp::kMin && op != AggregateOp::kMax && op != AggregateOp::kCount &&
      op != AggregateOp::kGroup) {
    return false;
  }
  // Bounded: a cell per group and step (32 bytes each).
  constexpr size_t kMaxCells = size_t{1} << 18;
  const size_t steps = Steps(), groups = groups_index.size();
  if (steps < 2 || groups == 0 || groups > kMaxCells / steps) return false;
  struct Cell {
    double value = 0, c = 0, count = 0;
    size_t first = SIZE_MAX;  // the first input series with a point here
  };
  std::vector<Cell> cells(groups * steps);
  for (size_t si = 0; si < in.m.size(); ++si) {
    Cell* row = &cells[group_of[si] * steps];
    size_t last = SIZE_MAX;
    for (const Point& pt : in.m[si].points) {
      if (pt.t < start_ || pt.t > end_) continue;
      // Points mostly sit at consecutive steps: the division only when not.
      size_t step = last + 1;
      if (step >= steps || T(step) != pt.t) {
        step = StepOf(pt.t);
        if (T(step) != pt.t || step == last) continue;  // as the step loop: the first point at a step time
      }
      last = step;
      Cell& cell = row[step];
      const double f = pt.v;
      if (cell.first == SIZE_MAX) {
        cell.first = si;
        cell.value = f;
        cell.count = 1;
        continue;
      }
      cell.count++;
      AddToSumMinMax(op, f, cell.value, cell.c);
    }
    q_.CheckDeadline();
  }
  SeriesBuilder out;
  std::vector<size_t> present;
  for (size_t step = 0; step < steps; ++step) {
    present.clear();
    for (size_t g = 0; g < groups; ++g) {
      if (cells[g * steps + step].first != SIZE_MAX) present.push_back(g);
    }
    // Groups in order of their first input series at this step, as the step loop adds them.
    std::sort(present.begin(), present.end(),
              [&](size_t x, size_t y) { return cells[x * steps + step].first < cells[y * steps + step].first; });
    for (size_t g : present) {
      const Cell& cell = cells[g * steps + step];
      double v = cell.value;
      if (op == AggregateOp::kSum) v = std::isinf(cell.value) ? cell.value : cell.value + cell.c;
      if (op == AggregateOp::kCount) v = cell.count;
      if (op == AggregateOp::kGroup) v = 1;
      out.Add(groups_index.labels(g), group_drops_name[g], {T(step), v});
    }
    q_.CheckDeadline();
  }
  result->type = ValueType::kVector;
  result->m = out.Take();
  return true;
}

Val Evaluator::EvalAggregate(const AggregateExpr& a) {
  std::vector<double> param;
  std::string label_param;
  if (a.op == AggregateOp::kCountValues) {
    Val p = Eval(*a.param);
    label_param = p.str;
    if (!IsValidLabelName(label_param)) Fail("invalid label name \"" + label_param + "\"");
  } else if (a.param) {
    param = ScalarSteps(*a.param);
  }
  if (a.op == AggregateOp::kLimitk || a.op == AggregateOp::kLimitRatio) {
    Fail(std::string(AggregateOpName(a.op)) + " is not supported");
  }
  Val in = Eval(*a.expr);

  // Group of each input series, computed once. A group keeping __name__
  // drops it at the end if any of its inputs would have.
  std::vector<size_t> group_of(in.m.size());
  LabelSetIndex groups_index;
  std::vector<bool> group_drops_name;
  for (size_t i = 0; i < in.m.size(); ++i) {
    Labels g;
    for (const auto& l : in.m[i].labels) {
      bool listed = std::find(a.grouping.begin(), a.grouping.end(), l.name) != a.grouping.end();
      if (a.without ? (!listed && l.name != "__name__") : listed) g.Set(l.name, l.value);
    }
    group_of[i] = groups_index.Id(g);
    group_drops_name.resize(groups_index.size(), false);
    if (in.m[i].drop_name && !g.Get("__name__").empty()) group_drops_name[group_of[i]] = true;
  }

  if (Val fast; AggregateSeriesBySeries(a, in, group_of, groups_index, group_drops_name, &fast)) return fast;

  struct Group {
    bool seen = false;
    double value = 0, c = 0, mean = 0, count = 0;
    MeanAccumulator avg;
    std::vector<double> values;
    std::vector<std::pair<double, size_t>> heap;  // (value, input series)
  };
  const bool top = a.op == AggregateOp::kTopk, bottom = a.op == AggregateOp::kBottomk;
  SeriesBuilder out;
  std::vector<Group> groups(groups_index.size());
  std::vector<size_t> order;
  std::vector<size_t> pos(in.m.size(), 0);
  for (size_t step = 0; step < Steps(); ++step) {
    const TimestampMs t = T(step);
    for (auto& g : groups) g = Group{};
    order.clear();
    int64_t k = 0;
    if (top || bottom) {
      double kp = param[step];
      if (std::isnan(kp)) Fail("Parameter value is NaN");
      if (kp >= 9.2e18) Fail("Scalar value " + FormatPlainFloat(kp) + " overflows int64");
      k = static_cast<int64_t>(kp);
      if (k < 1) continue;
    }
    if (a.op == AggregateOp::kQuantile) {
      double qv = param[step];
      if (std::isnan(qv) || qv < 0 || qv > 1) {
        q_.notes.Warn("PromQL warning: quantile value should be between 0 and 1, got " + FormatPlainFloat(qv));
      }
    }
    std::unordered_map<std::string, std::pair<size_t, double>> value_counts;  // count_values
    std::vector<std::pair<Labels, double>> count_values_out;
    for (size_t si = 0; si < in.m.size(); ++si) {
      const auto& pts = in.m[si].points;
      size_t& p = pos[si];
      while (p < pts.size() && pts[p].t < t) ++p;
      if (p >= pts.size() || pts[p].t != t) continue;
      const double f = pts[p].v;
      Group& g = groups[group_of[si]];
      if (!g.seen) {
        g.seen = true;
        order.push_back(group_of[si]);
        g.value = f;
        g.mean = f;
        g.count = 1;
        if ((a.op == AggregateOp::kStddev || a.op == AggregateOp::kStdvar)) {
          g.value = std::isnan(f) || std::isinf(f) ? std::nan("") : 0;
        }
        if (a.op == AggregateOp::kSum) g.c = 0;
        if (a.op == AggregateOp::kAvg) g.avg.Add(f);
        if (a.op == AggregateOp::kQuantile) g.values.push_back(f);
        if (top || bottom) g.heap.push_back({f, si});
        if (a.op == AggregateOp::kCountValues) {
          Labels l = groups_index.labels(group_of[si]);
          l.Set(label_param, FormatPlainFloat(f));
          count_values_out.push_back({std::move(l), 1});
          g.values.clear();
        }
        continue;
      }
      g.count++;
      switch (a.op) {
        case AggregateOp::kSum:
        case AggregateOp::kMax:
        case AggregateOp::kMin: AddToSumMinMax(a.op, f, g.value, g.c); break;
        case AggregateOp::kAvg: g.avg.Add(f); break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar: {
          double delta = f - g.mean;
          g.mean += delta / g.count;
          g.value += delta * (f - g.mean);
          break;
        }
        case AggregateOp::kQuantile: g.values.push_back(f); break;
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk: {
          // Keep the k best; NaN always ranks last.
          auto worse = [top](double x, double y) {  // x ranks below y
            if (std::isnan(x)) return !std::isnan(y);
            if (std::isnan(y)) return false;
            return top ? x < y : x > y;
          };
          if (static_cast<int64_t>(g.heap.size()) < k) {
            g.heap.push_back({f, si});
          } else {
            auto w = std::min_element(g.heap.begin(), g.heap.end(),
                                      [&](const auto& x, const auto& y) { return worse(x.first, y.first); });
            if (worse(w->first, f)) *w = {f, si};
          }
          break;
        }
        case AggregateOp::kCountValues: {
          Labels l = groups_index.labels(group_of[si]);
          l.Set(label_param, FormatPlainFloat(f));
          auto found = std::find_if(count_values_out.begin(), count_values_out.end(),
                                    [&](const auto& e) { return e.first == l; });
          if (found == count_values_out.end()) {
            count_values_out.push_back({std::move(l), 1});
          } else {
            found->second++;
          }
          break;
        }
        default: break;
      }
    }
    if (a.op == AggregateOp::kCountValues) {
      for (auto& [l, n] : count_values_out) out.Add(l, false, {t, n});
      continue;
    }
    for (size_t gi : order) {
      Group& g = groups[gi];
      double v = g.value;
      switch (a.op) {
        case AggregateOp::kSum: v = std::isinf(g.value) ? g.value : g.value + g.c; break;
        case AggregateOp::kAvg: v = g.avg.Mean(); break;
        case AggregateOp::kCount: v = g.count; break;
        case AggregateOp::kGroup: v = 1; break;
        case AggregateOp::kStdvar: v = g.value / g.count; break;
        case AggregateOp::kStddev: v = std::sqrt(g.value / g.count); break;
        case AggregateOp::kQuantile: v = Quantile(param[step], g.values); break;
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk: {
          std::stable_sort(g.heap.begin(), g.heap.end(), [top](const auto& x, const auto& y) {
            if (std::isnan(x.first)) return false;
            if (std::isnan(y.first)) return true;
            return top ? x.first > y.first : x.first < y.first;
          });
          for (const auto& [hv, si] : g.heap) out.Add(in.m[si].labels, in.m[si].drop_name, {t, hv});
          continue;
        }
        default: break;
      }
      out.Add(groups_index.labels(gi), group_drops_name[gi], {t, v});
    }
    q_.CheckDeadline();
  }
  Val v;
  v.type = ValueType::kVector;
  v.m = out.Take();
  return v;
}

// ---- functions ----

Val Evaluator::EvalCall(const Call& c) {
  const std::string_view name = c.func->name;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (c.args[i]->Type() == ValueType::kMatrix) {
      if (name == "absent_over_time") break;
      return EvalRangeCall(c, i);
    }
  }
  Val out;
  out.type = ValueType::kVector;
  if (name == "absent_over_time") {
    RangeSource src = LoadRange(*c.args[0], name);
    std::vector<bool> present(Steps(), false);
    ForEachWindow(src, [&](size_t, size_t i, const Window& w) {
      if (!w.points.empty()) present[i] = true;
    });
    Series s{AbsentLabels(c.args[0].get()), {}, false};
    for (size_t i = 0; i < Steps(); ++i) {
      if (!present[i]) s.points.push_back({T(i), 1});
    }
    if (!s.points.empty()) out.m.push_back(std::move(s));
    return out;
  }
  if (name == "time") return EvalTime();
  if (name == "pi") return ScalarVal(M_PI);
  if (auto fn = FindElementFunction(name)) {
    Val v = Eval(*c.args[0]);
    for (auto& s : v.m) {
      for (auto& p : s.points) p.v = fn(p.v);
      s.drop_name = true;
    }
    return v;
  }
  if (name == "timestamp") {
    const Expr* arg = Unparen(c.args[0].get());
    Val v = arg->kind == Expr::Kind::kVectorSelector
                ? EvalVectorSelector(static_cast<const VectorSelector&>(*arg), true)
                : Eval(*c.args[0]);
    for (auto& s : v.m) {
      if (arg->kind != Expr::Kind::kVectorSelector) {
        for (auto& p : s.points) p.v = static_cast<double>(p.t) / 1000;
      }
      s.drop_name = true;
    }
    return v;
  }
  if (name == "clamp" || name == "clamp_min" || name == "clamp_max" || name == "round") {
    Val v = Eval(*c.args[0]);
    std::vector<double> a1 = c.args.size() > 1 ? ScalarSteps(*c.args[1]) : std::vector<double>(Steps(), 1.0);
    std::vector<double> a2 = c.args.size() > 2 ? ScalarSteps(*c.args[2]) : std::vector<double>();
    for (auto& s : v.m) {
      std::vector<Point> kept;
      for (const auto& p : s.points) {
        size_t i = StepOf(p.t);
        double r;
        if (name == "clamp") {
          if (a2[i] < a1[i]) continue;
          r = std::max(a1[i], std::min(a2[i], p.v));
        } else if (name == "clamp_min") {
          r = std::max(a1[i], p.v);
        } else if (name == "clamp_max") {
          r = std::min(a1[i], p.v);
        } else {
          double inverse = 1 / a1[i];
          r = std::floor(p.v * inverse + 0.5) / inverse;
        }
        kept.push_back({p.t, r});
      }
      s.points = std::move(kept);
      s.drop_name = true;
    }
    std::erase_if(v.m, [](const Series& s) { return s.points.empty(); });
    return v;
  }
  if (name == "vector") {
    Val v = Eval(*c.args[0]);
    v.type = ValueType::kVector;
    return v;
  }
  if (name == "scalar") {
    Val v = Eval(*c.args[0]);
    StepCursor cur(v.m);
    Val s = ScalarVal(0);
    for (size_t i = 0; i < Steps(); ++i) {
      const Vector& e = cur.At(T(i));
      s.m[0].points[i].v = e.size() == 1 ? e[0].v : std::nan("");
    }
    return s;
  }
  if (name == "absent") {
    Val v = Eval(*c.args[0]);
    std::vector<bool> present(Steps(), false);
    for (const auto& s : v.m) {
      for (const auto& p : s.points) present[StepOf(p.t)] = true;
    }
    Series s{AbsentLabels(c.args[0].get()), {}, false};
    for (size_t i = 0; i < Steps(); ++i) {
      if (!present[i]) s.points.push_back({T(i), 1});
    }
    if (!s.points.empty()) out.m.push_back(std::move(s));
    return out;
  }
  if (name.starts_with("sort") && q_.range_query) {
    q_.notes.Warn("PromQL warning: sort is ineffective for range queries since results are always ordered by labels");
  }
  if (name == "sort" || name == "sort_desc") {
    Val v = Eval(*c.args[0]);
    if (Steps() == 1) {
      const bool desc = name == "sort_desc";
      std::stable_sort(v.m.begin(), v.m.end(), [desc](const Series& x, const Series& y) {
        double a = x.points[0].v, b = y.points[0].v;
        if (std::isnan(a)) return false;
        if (std::isnan(b)) return true;
        return desc ? a > b : a < b;
      });
    }
    return v;
  }
  if (name == "sort_by_label" || name == "sort_by_label_desc") {
    Val v = Eval(*c.args[0]);
    std::vector<std::string> labels;
    for (size_t i = 1; i < c.args.size(); ++i) labels.push_back(Eval(*c.args[i]).str);
    const bool desc = name == "sort_by_label_desc";
    std::stable_sort(v.m.begin(), v.m.end(), [&](const Series& x, const Series& y) {
      for (const auto& l : labels) {
        int r = x.labels.Get(l).compare(y.labels.Get(l));
        if (r != 0) return desc ? r > 0 : r < 0;
      }
      return desc ? y.labels < x.labels : x.labels < y.labels;
    });
    return v;
  }
  if (name == "label_replace") return EvalLabelReplace(c);
  if (name == "label_join") return EvalLabelJoin(c);
  if (name == "histogram_quantile" || name == "histogram_fraction") return EvalClassicHistogram(c);
  if (name.starts_with("histogram_")) {
    Eval(*c.args.back());  // float series have no native histograms: nothing to report
    return out;
  }
  if (name == "day_of_month" || name == "day_of_week" || name == "day_of_year" || name == "days_in_month" ||
      name == "hour" || name == "minute" || name == "month" || name == "year") {
    return EvalDateFunction(c);
  }
  Fail("function \"" + std::string(name) + "\" is not supported");
}

Val Evaluator::EvalTime() {
  Val v = ScalarVal(0);
  for (auto& p : v.m[0].points) p.v = static_cast<double>(p.t) / 1000;
  return v;
}

Val Evaluator::EvalRangeCall(const Call& c, size_t matrix_arg) {
  const std::string_view name = c.func->name;
  RangeFunction fn = FindRangeFunction(name);
  if (fn == nullptr) Fail("function \"" + std::string(name) + "\" is not supported");
  std::vector<std::vector<double>> params;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (i != matrix_arg) params.push_back(ScalarSteps(*c.args[i]));
  }
  const bool keep_name = KeepsMetricName(name);
  const bool mark_drops = MarksCounterResets(name);
  Val out;
  out.type = ValueType::kVector;
  RangeSource src;
  // Each series' windows are evaluated on the thread that decoded it (see
  // Load), a batch at a time (only a batch of raw samples is held): a range
  // function reads only its window and the step's parameters. Results keep
  // the series order. Each thread has its own scratch and annotations.
  const size_t max_threads = static_cast<size_t>(std::max(1, q_.options.max_decode_threads));
  std::vector<Annotations> notes(max_threads);
  std::vector<std::vector<uint32_t>> drops(max_threads);
  std::vector<std::vector<double>> step_params(max_threads, std::vector<double>(params.size()));
  // Each thread reads the clock before each series: a batch can hold seconds
  // of work (a quantile over long windows at a 1 s step). Past the deadline
  // the rest is skipped and the check after the batch fails the query. Not
  // per window: a counter and a flag read in the window loop made the 24 h
  // rate query 25 % slower.
  std::atomic<bool> expired{false};
  SeriesStage stage;
  stage.output_points = Steps();
  stage.run = [&](size_t w, const std::vector<Point>& points, std::vector<Point>* result) {
    if (expired.load(std::memory_order_relaxed) || q_.PastDeadline()) {
      expired.store(true, std::memory_order_relaxed);
      return;
    }
    WindowsOf(src, points, mark_drops, drops[w], [&](size_t i, const Window& win) {
      if (win.points.empty()) return;
      for (size_t p = 0; p < params.size(); ++p) step_params[w][p] = params[p][i];
      if (auto v = fn(win, step_params[w], notes[w])) result->push_back({T(i), *v});
    });
  };
  stage.after_batch = [&] {
    if (expired) q_.CheckDeadlineNow();
    for (Annotations& a : notes) {  // in series order: each thread had a contiguous share
      for (auto& w : a.warnings) q_.notes.Warn(std::move(w));
      for (auto& i : a.infos) q_.notes.Info(std::move(i));
      a = Annotations{};
    }
    q_.CheckDeadlineNow();  // the windows were counted by no tick
  };
  auto emit = [&](Labels labels, bool drop_name, std::vector<Point> points) {
    if (points.empty()) return;
    q_.Account(static_cast<int64_t>(points.size()));
    out.m.push_back(Series{std::move(labels), std::move(points), !keep_name || drop_name});
  };
  LoadRangeInto(
      *c.args[matrix_arg], name, &src, [&](Series&& s) { emit(std::move(s.labels), s.drop_name, std::move(s.points)); },
      &stage);
  // A subquery's series are already in memory: evaluated in one batch, on
  // several threads when there are enough windows.
  const size_t n = src.series.size();
  std::vector<std::vector<Point>> results(n);
  for (auto& r : results) r.reserve(Steps());
  const size_t threads =
      std::min({max_threads, std::max<size_t>(1, n), std::max<size_t>(1, n * Steps() / kMinWindowsPerThread)});
  {
    auto share = [&](size_t w) {
      for (size_t k = n * w / threads; k < n * (w + 1) / threads; ++k) stage.run(w, src.series[k].points, &results[k]);
    };
    std::vector<std::jthread> helpers;
    for (size_t w = 1; w < threads; ++w) helpers.emplace_back(share, w);
    share(0);
  }
  stage.after_batch();
  for (size_t k = 0; k < n; ++k) emit(std::move(src.series[k].labels), src.series[k].drop_name, std::move(results[k]));
  return out;
}

// Rewrites labels of each series; series that end up equal are merged (an
// error if they meet at one step).
template <typename Relabel>
Matrix RelabelSeries(Matrix in, Relabel&& relabel) {
  SeriesBuilder out;
  for (auto& s : in) {
    Labels l = relabel(s.labels);
    for (const auto& p : s.points) out.Add(l, s.drop_name, p);
  }
  Matrix m = out.Take();
  for (auto& s : m) std::sort(s.points.begin(), s.points.end(), [](auto& a, auto& b) { return a.t < b.t; });
  return m;
}

Val Evaluator::EvalLabelReplace(const Call& c) {
  Val v = Eval(*c.args[0]);
  std::string dst = Eval(*c.args[1]).str, repl = Eval(*c.args[2]).str, src = Eval(*c.args[3]).str,
              regex = Eval(*c.args[4]).str;
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_dot_nl(true);
  re2::RE2 re("^(?:" + regex + ")$", opts);
  if (!re.ok()) Fail("invalid regular expression in label_replace(): " + regex);
  if (!IsValidLabelName(dst)) Fail("invalid destination label name in label_replace(): " + dst);
  std::vector<re2::StringPiece> groups(re.NumberOfCapturingGroups() + 1);
  if (dst == "__name__") {
    for (auto& s : v.m) s.drop_name = false;  // an explicitly set name stays
  }
  v.m = RelabelSeries(std::move(v.m), [&](const Labels& l) {
    std::string value(l.Get(src));
    if (!re.Match(value, 0, value.size(), re2::RE2::UNANCHORED, groups.data(), static_cast<int>(groups.size()))) {
      return l;
    }
    Labels out = l;
    out.Set(dst, ExpandTemplate(re, repl, groups));
    return out;
  });
  return v;
}

Val Evaluator::EvalLabelJoin(const Call& c) {
  Val v = Eval(*c.args[0]);
  std::string dst = Eval(*c.args[1]).str, sep = Eval(*c.args[2]).str;
  std::vector<std::string> srcs;
  for (size_t i = 3; i < c.args.size(); ++i) {
    srcs.push_back(Eval(*c.args[i]).str);
    if (!IsValidLabelName(srcs.back())) Fail("invalid source label name in label_join(): " + srcs.back());
  }
  if (!IsValidLabelName(dst)) Fail("invalid destination label name in label_join(): " + dst);
  if (dst == "__name__") {
    for (auto& s : v.m) s.drop_name = false;
  }
  v.m = RelabelSeries(std::move(v.m), [&](const Labels& l) {
    std::string joined;
    for (size_t i = 0; i < srcs.size(); ++i) {
      if (i > 0) joined += sep;
      joined += l.Get(srcs[i]);
    }
    Labels out = l;
    out.Set(dst, joined);
    return out;
  });
  return v;
}

Val Evaluator::EvalDateFunction(const Call& c) {
  Val v;
  if (c.args.empty()) {
    v = EvalTime();
    v.type = ValueType::kVector;
  } else {
    v = Eval(*c.args[0]);
  }
  const std::string_view name = c.func->name;
  for (auto& s : v.m) {
    for (auto& p : s.points) {
      if (std::isnan(p.v) || std::isinf(p.v)) continue;
      time_t secs = static_cast<time_t>(std::floor(p.v));
      struct tm tm;
      gmtime_r(&secs, &tm);
      if (name == "day_of_month") p.v = tm.tm_mday;
      if (name == "day_of_week") p.v = tm.tm_wday;
      if (name == "day_of_year") p.v = tm.tm_yday + 1;
      if (name == "hour") p.v = tm.tm_hour;
      if (name == "minute") p.v = tm.tm_min;
      if (name == "month") p.v = tm.tm_mon + 1;
      if (name == "year") p.v = tm.tm_year + 1900;
      if (name == "days_in_month") {
        static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int year = tm.tm_year + 1900;
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        p.v = kDays[tm.tm_mon] + (tm.tm_mon == 1 && leap ? 1 : 0);
      }
    }
    s.drop_name = true;
  }
  return v;
}

struct Bucket {
  double upper;
  double count;
};

// Sorts, merges equal bounds and makes counts monotonic (what Prometheus does
// to classic buckets before reading them). False when unusable (no +Inf).
bool PrepareBuckets(std::vector<Bucket>& b, bool* forced_monotonic) {
  std::sort(b.begin(), b.end(), [](const Bucket& x, const Bucket& y) { return x.upper < y.upper; });
  std::vector<Bucket> merged;
  for (const auto& x : b) {
    if (!merged.empty() && merged.back().upper == x.upper) {
      merged.back().count += x.count;
    } else {
      merged.push_back(x);
    }
  }
  b = std::move(merged);
  if (!(std::isinf(b.back().upper) && b.back().upper > 0)) return false;
  double prev = b[0].count;
  for (size_t i = 1; i < b.size(); ++i) {
    double cur = b[i].count;
    if (cur == prev) continue;
    if (std::fabs(cur - prev) <= 1e-12 * std::max(std::fabs(cur), std::fabs(prev))) {
      b[i].count = prev;
      continue;
    }
    if (cur < prev) {
      b[i].count = prev;
      *forced_monotonic = true;
      continue;
    }
    prev = cur;
  }
  return true;
}

double BucketQuantile(double q, std::vector<Bucket>& b, bool* forced) {
  if (std::isnan(q)) return std::nan("");
  if (q < 0) return -INFINITY;
  if (q > 1) return INFINITY;
  if (!PrepareBuckets(b, forced)) return std::nan("");
  const double observations = b.back().count;
  if (b.size() < 2 || observations == 0) return std::nan("");
  double rank = q * observations;
  size_t i = 0;
  while (i < b.size() - 1 && b[i].count < rank) ++i;
  if (i == b.size() - 1) return b[b.size() - 2].upper;
  if (i == 0 && b[0].upper <= 0) return b[0].upper;
  double start = 0, end = b[i].upper, count = b[i].count;
  if (i > 0) {
    start = b[i - 1].upper;
    count -= b[i - 1].count;
    rank -= b[i - 1].count;
  }
  return start + (end - start) * (rank / count);
}

// The share of observations in [lower, upper], interpolating linearly inside
// finite buckets; a bound inside an infinitely wide bucket takes none of it.
double BucketFraction(double lower, double upper, std::vector<Bucket>& b, bool* forced) {
  if (!PrepareBuckets(b, forced)) return std::nan("");
  const double count = b.back().count;
  if (count == 0 || std::isnan(lower) || std::isnan(upper)) return std::nan("");
  if (lower >= upper) return 0;
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (size_t i = 0; i < b.size(); ++i) {
    const double lb = i > 0 ? b[i - 1].upper : (b[0].upper > 0 ? 0 : -INFINITY);
    const double ub = b[i].upper;
    const double in_bucket = b[i].count - rank;
    auto interpolate = [&](double v) {
      return std::isinf(lb) ? rank + in_bucket : rank + in_bucket * (v - lb) / (ub - lb);
    };
    if (!lower_set && lb >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && lb >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && lb < lower && ub > lower) {
      lower_rank = interpolate(lower);
      lower_set = true;
    }
    if (!upper_set && lb < upper && ub > upper) {
      upper_rank = interpolate(upper);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank = b[i].count;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / count;
}

// histogram_quantile and histogram_fraction over classic buckets: series
// grouped by their labels without `le` (and the name).
Val Evaluator::EvalClassicHistogram(const Call& c) {
  const bool fraction = c.func->name == "histogram_fraction";
  std::vector<double> a0 = ScalarSteps(*c.args[0]);
  std::vector<double> a1 = fraction ? ScalarSteps(*c.args[1]) : std::vector<double>();
  Val in = Eval(*c.args.back());
  LabelSetIndex groups;
  std::vector<size_t> group_of(in.m.size(), SIZE_MAX);
  std::vector<double> upper(in.m.size());
  for (size_t i = 0; i < in.m.size(); ++i) {
    std::string le(in.m[i].labels.Get("le"));
    char* end = nullptr;
    double ub = std::strtod(le.c_str(), &end);
    if (le.empty() || end == nullptr || *end != '\0') {
      q_.notes.Warn("PromQL warning: bucket label \"le\" is missing or has a malformed value of \"" + le +
                    "\" for metric name \"" + std::string(in.m[i].labels.Get("__name__")) + "\"");
      continue;
    }
    upper[i] = ub;
    Labels g = in.m[i].labels;
    g.Set("le", "");
    g.Set("__name__", "");
    group_of[i] = groups.Id(g);
  }
  SeriesBuilder out;
  std::vector<std::vector<Bucket>> buckets(groups.size());
  std::vector<size_t> pos(in.m.size(), 0);
  for (size_t step = 0; step < Steps(); ++step) {
    const TimestampMs t = T(step);
    for (auto& b : buckets) b.clear();
    for (size_t si = 0; si < in.m.size(); ++si) {
      if (group_of[si] == SIZE_MAX) continue;
      const auto& pts = in.m[si].points;
      size_t& p = pos[si];
      while (p < pts.size() && pts[p].t < t) ++p;
      if (p < pts.size() && pts[p].t == t) buckets[group_of[si]].push_back({upper[si], pts[p].v});
    }
    if (!fraction && (std::isnan(a0[step]) || a0[step] < 0 || a0[step] > 1)) {
      q_.notes.Warn("PromQL warning: quantile value should be between 0 and 1, got " + FormatPlainFloat(a0[step]));
    }
    for (size_t gi = 0; gi < buckets.size(); ++gi) {
      if (buckets[gi].empty()) continue;
      bool forced = false;
      double v = fraction ? BucketFraction(a0[step], a1[step], buckets[gi], &forced)
                          : BucketQuantile(a0[step], buckets[gi], &forced);
      if (forced) {
        q_.notes.Info("PromQL info: input to " + std::string(c.func->name) +
                      " needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/"
                      "querying/functions/#histogram_quantile) for metric name \"" +
                      std::string(in.m[0].labels.Get("__name__")) + "\"");
      }
      out.Add(groups.labels(gi), false, {t, v});
    }
    q_.CheckDeadline();
  }
  Val v;
  v.type = ValueType::kVector;
  v.m = out.Take();
  return v;
}

// Removes names marked for removal. Series that then share a label set are
// merged when their points do not meet (range queries) and rejected otherwise.
void DropNames(Matrix& m) {
  std::unordered_map<uint64_t, std::vector<size_t>> seen;
  Matrix out;
  for (auto& s : m) {
    if (s.drop_name) s.labels = WithoutName(s.labels);
    auto& bucket = seen[HashLabels(s.labels)];
    Series* same = nullptr;
    for (size_t j : bucket) {
      if (out[j].labels == s.labels) same = &out[j];
    }
    if (same == nullptr) {
      bucket.push_back(out.size());
      out.push_back(std::move(s));
      continue;
    }
    std::vector<Point> merged;
    merged.reserve(same->points.size() + s.points.size());
    std::merge(same->points.begin(), same->points.end(), s.points.begin(), s.points.end(), std::back_inserter(merged),
               [](const Point& a, const Point& b) { return a.t < b.t; });
    for (size_t k = 1; k < merged.size(); ++k) {
      if (merged[k].t == merged[k - 1].t) Fail("vector cannot contain metrics with the same labelset");
    }
    same->points = std::move(merged);
  }
  m = std::move(out);
}

QueryResult Run(const EngineOptions& options, const QuerierFactory& storage, const Expr& expr, TimestampMs start,
                TimestampMs end, int64_t step, bool instant) {
  QueryResult result;
  QueryState q{options, storage, start, end, std::chrono::steady_clock::now() + options.timeout, !instant};
  try {
    Evaluator ev(q, start, end, step);
    Val v = ev.Eval(expr);
    result.value.type = v.type;
    if (v.type == ValueType::kString) {
      result.value.string = v.str;
      result.value.t = start;
      if (!instant)
        Fail("invalid expression type \"string\" for range query, must be Scalar or instant Vector",
             ErrorKind::kBadData);
    } else if (v.type == ValueType::kScalar && instant) {
      result.value.scalar = v.m[0].points[0].v;
      result.value.t = start;
    } else if (v.type == ValueType::kMatrix) {
      DropNames(v.m);
      for (auto& s : v.m) result.value.matrix.push_back(SeriesPoints{std::move(s.labels), std::move(s.points)});
    } else if (instant) {
      DropNames(v.m);
      result.value.type = ValueType::kVector;
      for (auto& s : v.m) result.value.vector.push_back(Sample{std::move(s.labels), start, s.points[0].v});
    } else {
      if (v.type == ValueType::kScalar) v.m[0].labels = Labels{};
      DropNames(v.m);
      result.value.type = ValueType::kMatrix;
      std::sort(v.m.begin(), v.m.end(), [](const Series& a, const Series& b) { return a.labels < b.labels; });
      for (auto& s : v.m) result.value.matrix.push_back(SeriesPoints{std::move(s.labels), std::move(s.points)});
    }
  } catch (const EvalError& e) {
    result.ok = false;
    result.error = QueryError{e.kind, e.message};
    result.value = Value{};
  }
  result.warnings = std::move(q.notes.warnings);
  result.infos = std::move(q.notes.infos);
  result.samples_loaded = q.samples;
  result.samples_decoded = q.samples_decoded;
  return result;
}

}  // namespace

QueryResult Engine::Instant(const QuerierFactory& storage, const Expr& expr, TimestampMs t) const {
  return Run(options_, storage, expr, t, t, 1, true);
}

QueryResult Engine::Range(const QuerierFactory& storage, const Expr& expr, TimestampMs start, TimestampMs end,
                          Duration step) const {
  if (step.count() <= 0 || end < start) {
    QueryResult r;
    r.ok = false;
    r.error = {ErrorKind::kBadData, step.count() <= 0 ? "zero or negative query resolution step widths are not "
                                                        "accepted. Try a positive integer"
                                                      : "end timestamp must not be before start time"};
    return r;
  }
  if (expr.Type() == ValueType::kMatrix || expr.Type() == ValueType::kString) {
    QueryResult r;
    r.ok = false;
    r.error = {ErrorKind::kBadData, "invalid expression type \"" + std::string(ValueTypeName(expr.Type())) +
                                        "\" for range query, must be Scalar or instant Vector"};
    return r;
  }
  return Run(options_, storage, expr, start, end, step.count(), false);
}

}  // namespace vigil::promql
