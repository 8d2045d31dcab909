#include "tsdb/memory.h"

#include <algorithm>
#include <set>

namespace vigil::tsdb {

namespace {

struct Samples {
  std::vector<TimestampMs> t;
  std::vector<double> v;
};

class VectorIterator final : public SampleIterator {
 public:
  explicit VectorIterator(std::shared_ptr<const Samples> s) : s_(std::move(s)) {}
  bool Next() override { return ++i_ < s_->t.size(); }
  TimestampMs t() const override { return s_->t[i_]; }
  double v() const override { return s_->v[i_]; }

 private:
  std::shared_ptr<const Samples> s_;
  size_t i_ = static_cast<size_t>(-1);
};

class MemorySeries final : public Series {
 public:
  MemorySeries(Labels labels, std::shared_ptr<const Samples> s) : labels_(std::move(labels)), s_(std::move(s)) {}
  const Labels& labels() const override { return labels_; }
  std::unique_ptr<SampleIterator> Iterator() const override { return std::make_unique<VectorIterator>(s_); }

 private:
  Labels labels_;
  std::shared_ptr<const Samples> s_;
};

class MemoryQuerier final : public Querier {
 public:
  explicit MemoryQuerier(std::vector<std::shared_ptr<Series>> series) : series_(std::move(series)) {}

  Result<std::vector<std::shared_ptr<Series>>> Select(const std::vector<Matcher>& matchers) override {
    std::vector<std::shared_ptr<Series>> out;
    for (const auto& s : series_) {
      if (std::all_of(matchers.begin(), matchers.end(), [&](const Matcher& m) { return m.Matches(s->labels()); })) {
        out.push_back(s);
      }
    }
    return out;
  }

  std::vector<std::string> LabelNames(const std::vector<Matcher>& matchers) override {
    std::set<std::string> names;
    auto selected = Select(matchers);
    for (const auto& s : *selected) {
      for (const auto& l : s->labels()) names.insert(l.name);
    }
    return {names.begin(), names.end()};
  }

  std::vector<std::string> LabelValues(const std::string& name, const std::vector<Matcher>& matchers) override {
    std::set<std::string> values;
    auto selected = Select(matchers);
    for (const auto& s : *selected) {
      auto v = s->labels().Get(name);
      if (!v.empty()) values.emplace(v);
    }
    return {values.begin(), values.end()};
  }

 private:
  std::vector<std::shared_ptr<Series>> series_;
};

class MemoryAppender final : public Appender {
 public:
  explicit MemoryAppender(MemoryStorage* storage) : storage_(storage) {}
  Result<SeriesRef> Append(SeriesRef, const Labels& labels, TimestampMs t, double v) override {
    pending_.push_back({labels, t, v});
    return SeriesRef{0};
  }
  Status Commit() override {
    for (const auto& p : pending_) storage_->Add(p.labels, p.t, p.v);
    pending_.clear();
    return Status::Ok();
  }
  void Rollback() override { pending_.clear(); }

 private:
  struct Pending {
    Labels labels;
    TimestampMs t;
    double v;
  };
  MemoryStorage* storage_;
  std::vector<Pending> pending_;
};

}  // namespace

std::unique_ptr<Appender> MemoryStorage::NewAppender() { return std::make_unique<MemoryAppender>(this); }

void MemoryStorage::Add(const Labels& labels, TimestampMs t, double v) { series_[labels][t] = v; }

std::unique_ptr<Querier> MemoryStorage::NewQuerier(TimestampMs mint, TimestampMs maxt) const {
  std::vector<std::shared_ptr<Series>> selected;
  for (const auto& [labels, samples] : series_) {
    auto s = std::make_shared<Samples>();
    for (auto it = samples.lower_bound(mint); it != samples.end() && it->first <= maxt; ++it) {
      s->t.push_back(it->first);
      s->v.push_back(it->second);
    }
    if (!s->t.empty()) selected.push_back(std::make_shared<MemorySeries>(labels, std::move(s)));
  }
  return std::make_unique<MemoryQuerier>(std::move(selected));
}

}  // namespace vigil::tsdb
