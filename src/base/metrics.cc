#include "base/metrics.h"

namespace vigil {

void MetricBatch::Add(std::string_view name, std::string_view help, MetricType type, Labels labels, double value) {
  auto it = index_.find(name);
  size_t idx;
  if (it == index_.end()) {
    idx = families_.size();
    families_.push_back(MetricFamily{std::string(name), std::string(help), type, {}});
    index_.emplace(std::string(name), idx);
  } else {
    idx = it->second;
  }
  families_[idx].samples.push_back(Sample{std::move(labels), value});
}

size_t MetricBatch::sample_count() const {
  size_t n = 0;
  for (const auto& f : families_) n += f.samples.size();
  return n;
}

const MetricFamily* MetricBatch::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &families_[it->second];
}

}  // namespace vigil
