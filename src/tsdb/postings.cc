#include "tsdb/postings.h"

#include <algorithm>
#include <iterator>

namespace vigil::tsdb {

void PostingsIndex::Add(const Labels& labels, uint64_t id) {
  for (const Label& l : labels) {
    auto& ids = index_[l.name][l.value];
    if (ids.empty() || ids.back() < id) {
      ids.push_back(id);
    } else {
      auto it = std::lower_bound(ids.begin(), ids.end(), id);
      if (it == ids.end() || *it != id) ids.insert(it, id);
    }
  }
}

void PostingsIndex::Remove(const Labels& labels, uint64_t id) {
  for (const Label& l : labels) {
    auto name_it = index_.find(l.name);
    if (name_it == index_.end()) continue;
    auto value_it = name_it->second.find(l.value);
    if (value_it == name_it->second.end()) continue;
    auto& ids = value_it->second;
    auto it = std::lower_bound(ids.begin(), ids.end(), id);
    if (it != ids.end() && *it == id) ids.erase(it);
    if (ids.empty()) name_it->second.erase(value_it);
    if (name_it->second.empty()) index_.erase(name_it);
  }
}

std::optional<std::vector<uint64_t>> PostingsIndex::Candidates(const std::vector<Matcher>& matchers) const {
  std::optional<std::vector<uint64_t>> out;
  for (const Matcher& m : matchers) {
    if (m.MatchesEmpty()) continue;
    std::vector<uint64_t> ids;
    if (auto name_it = index_.find(m.name()); name_it != index_.end()) {
      if (m.type() == Matcher::Type::kEqual) {
        if (auto v = name_it->second.find(m.value()); v != name_it->second.end()) ids = v->second;
      } else {
        for (const auto& [value, list] : name_it->second) {
          if (!m.Matches(value)) continue;
          std::vector<uint64_t> merged;
          merged.reserve(ids.size() + list.size());
          std::set_union(ids.begin(), ids.end(), list.begin(), list.end(), std::back_inserter(merged));
          ids.swap(merged);
        }
      }
    }
    if (out) {
      std::vector<uint64_t> both;
      std::set_intersection(out->begin(), out->end(), ids.begin(), ids.end(), std::back_inserter(both));
      out = std::move(both);
    } else {
      out = std::move(ids);
    }
    if (out->empty()) break;
  }
  return out;
}

std::vector<std::string> PostingsIndex::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, values] : index_) out.push_back(name);
  return out;
}

std::vector<std::string> PostingsIndex::Values(const std::string& name) const {
  std::vector<std::string> out;
  if (auto it = index_.find(name); it != index_.end()) {
    for (const auto& [value, ids] : it->second) out.push_back(value);
  }
  return out;
}

}  // namespace vigil::tsdb
