#include "promql/range_cache.h"

#include <algorithm>

namespace vigil::promql {
namespace {

bool WindowDependent(const DurationExprPtr& d) { return d != nullptr && d->DependsOnQuery(); }

bool Cacheable(const Expr* e) {
  if (e == nullptr) return true;
  switch (e->kind) {
    case Expr::Kind::kNumber:
    case Expr::Kind::kString: return true;
    case Expr::Kind::kVectorSelector: {
      const auto& v = static_cast<const VectorSelector&>(*e);
      return v.at == AtKind::kNone && v.offset.count() >= 0 && !WindowDependent(v.offset_expr) && !v.smoothed;
    }
    case Expr::Kind::kMatrixSelector: {
      const auto& m = static_cast<const MatrixSelector&>(*e);
      return !WindowDependent(m.range_expr) && Cacheable(m.selector.get());
    }
    case Expr::Kind::kSubquery: {
      const auto& s = static_cast<const SubqueryExpr&>(*e);
      return s.at == AtKind::kNone && s.offset.count() >= 0 && !WindowDependent(s.range_expr) &&
             !WindowDependent(s.step_expr) && !WindowDependent(s.offset_expr) && Cacheable(s.expr.get());
    }
    case Expr::Kind::kParen: return Cacheable(static_cast<const ParenExpr&>(*e).expr.get());
    case Expr::Kind::kUnary: return Cacheable(static_cast<const UnaryExpr&>(*e).expr.get());
    case Expr::Kind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(*e);
      return Cacheable(b.lhs.get()) && Cacheable(b.rhs.get());
    }
    case Expr::Kind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(*e);
      return Cacheable(a.expr.get()) && Cacheable(a.param.get());
    }
    case Expr::Kind::kCall: {
      const auto& c = static_cast<const Call&>(*e);
      return std::all_of(c.args.begin(), c.args.end(), [](const ExprPtr& a) { return Cacheable(a.get()); });
    }
  }
  return false;
}

size_t BytesOf(const std::vector<SeriesPoints>& series) {
  size_t n = 0;
  for (const auto& s : series) n += sizeof(SeriesPoints) + s.labels.ToString().size() + s.points.size() * sizeof(Point);
  return n;
}

// The points of `series` within [from, to]; series left without points are dropped.
std::vector<SeriesPoints> Slice(const std::vector<SeriesPoints>& series, TimestampMs from, TimestampMs to) {
  std::vector<SeriesPoints> out;
  for (const auto& s : series) {
    auto lo =
        std::lower_bound(s.points.begin(), s.points.end(), from, [](const Point& p, TimestampMs t) { return p.t < t; });
    auto hi =
        std::upper_bound(s.points.begin(), s.points.end(), to, [](TimestampMs t, const Point& p) { return t < p.t; });
    if (lo == hi) continue;
    out.push_back(SeriesPoints{s.labels, std::vector<Point>(lo, hi)});
  }
  return out;
}

// `older` followed by `newer` (disjoint in time, older first), by labels.
std::vector<SeriesPoints> Concat(std::vector<SeriesPoints> older, std::vector<SeriesPoints> newer) {
  std::vector<SeriesPoints> out;
  out.reserve(std::max(older.size(), newer.size()));
  auto a = older.begin(), b = newer.begin();
  while (a != older.end() || b != newer.end()) {
    if (b == newer.end() || (a != older.end() && a->labels < b->labels)) {
      out.push_back(std::move(*a++));
    } else if (a == older.end() || b->labels < a->labels) {
      out.push_back(std::move(*b++));
    } else {
      a->points.insert(a->points.end(), b->points.begin(), b->points.end());
      out.push_back(std::move(*a++));
      ++b;
    }
  }
  return out;
}

void AddUnique(std::vector<std::string>* to, const std::vector<std::string>& from) {
  for (const auto& s : from) {
    if (std::find(to->begin(), to->end(), s) == to->end()) to->push_back(s);
  }
}

}  // namespace

bool CacheableInRange(const Expr& expr) { return Cacheable(&expr); }

RangeCache::RangeCache(RangeCacheOptions options, StoreVersion store) : options_(options), store_(std::move(store)) {}

QueryResult RangeCache::Range(const Engine& engine, const QuerierFactory& storage, const Expr& expr, TimestampMs start,
                              TimestampMs end, Duration step, TimestampMs now) {
  const int64_t s = step.count();
  // The newest step of this query's grid old enough to cache.
  TimestampMs horizon = now - options_.min_age.count();
  horizon = horizon < start ? start - s : start + (horizon - start) / s * s;
  if (!CacheableInRange(expr) || horizon < start) return engine.Range(storage, expr, start, end, step);

  const EngineOptions& eo = engine.options();
  const std::string key = Format(expr) + '\x1f' + std::to_string(s) + '\x1f' + std::to_string(((start % s) + s) % s) +
                          '\x1f' + std::to_string(eo.lookback_delta.count()) + '\x1f' +
                          std::to_string(eo.default_subquery_step.count()) + '\x1f' +
                          std::to_string(eo.max_read_resolution.count());
  // Raised before the generation is read: a late sample committed from
  // here on changes the generation this entry is stored under.
  store_.watch_up_to(std::min(horizon, end));
  const uint64_t generation = store_.generation();

  std::vector<SeriesPoints> cached;
  std::vector<std::string> cached_warnings, cached_infos;
  TimestampMs compute_from = start;
  {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      Entry& e = *it->second;
      if (e.generation != generation) {
        bytes_ -= e.bytes;
        lru_.erase(it->second);
        by_key_.erase(it);
      } else if (e.first <= start && e.last >= start) {
        lru_.splice(lru_.begin(), lru_, it->second);
        cached = Slice(e.series, start, std::min(end, e.last));
        cached_warnings = e.warnings;
        cached_infos = e.infos;
        compute_from = e.last + s;
      }
    }
  }

  QueryResult result;
  if (compute_from > end) {
    result.value.type = ValueType::kMatrix;
    result.value.matrix = std::move(cached);
    result.warnings = std::move(cached_warnings);
    result.infos = std::move(cached_infos);
    std::lock_guard lock(mu_);
    ++stats_.hits;
    return result;
  }
  result = engine.Range(storage, expr, compute_from, end, step);
  if (!result.ok || result.value.type != ValueType::kMatrix) return result;
  const bool partial = compute_from > start;
  if (partial) {
    result.value.matrix = Concat(std::move(cached), std::move(result.value.matrix));
    AddUnique(&cached_warnings, result.warnings);
    AddUnique(&cached_infos, result.infos);
    result.warnings = std::move(cached_warnings);
    result.infos = std::move(cached_infos);
  }
  {
    std::lock_guard lock(mu_);
    ++(partial ? stats_.partial : stats_.misses);
  }
  const TimestampMs keep_to = std::min(horizon, end);
  Entry entry;
  entry.key = key;
  entry.generation = generation;
  entry.first = start;
  entry.last = start + (keep_to - start) / s * s;
  entry.series = Slice(result.value.matrix, entry.first, entry.last);
  entry.warnings = result.warnings;
  entry.infos = result.infos;
  entry.bytes = BytesOf(entry.series) + key.size();
  if (entry.bytes <= options_.max_bytes / 4) Store(std::move(entry));  // one query may not take the whole cache
  return result;
}

void RangeCache::Store(Entry entry) {
  std::lock_guard lock(mu_);
  if (auto it = by_key_.find(entry.key); it != by_key_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    by_key_.erase(it);
  }
  bytes_ += entry.bytes;
  lru_.push_front(std::move(entry));
  by_key_[lru_.front().key] = lru_.begin();
  while (bytes_ > options_.max_bytes && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    by_key_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

RangeCache::Stats RangeCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = lru_.size();
  s.bytes = bytes_;
  return s;
}

}  // namespace vigil::promql
