// Inverted index from label pairs to sorted ids, shared by the head (ids are
// series refs) and blocks (ids are positions in the block's series table).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/labels.h"
#include "tsdb/matcher.h"

namespace vigil::tsdb {

class PostingsIndex {
 public:
  // Adds `id` under every label of `labels`; ids are best added in increasing order.
  void Add(const Labels& labels, uint64_t id);
  void Remove(const Labels& labels, uint64_t id);
  // Ids that can pass the matchers which do not match the empty string, or
  // nullopt when every matcher matches the empty string (no narrowing
  // possible; the caller scans everything). Callers still check all matchers.
  std::optional<std::vector<uint64_t>> Candidates(const std::vector<Matcher>& matchers) const;
  std::vector<std::string> Names() const;
  std::vector<std::string> Values(const std::string& name) const;

 private:
  std::map<std::string, std::map<std::string, std::vector<uint64_t>>, std::less<>> index_;
};

}  // namespace vigil::tsdb
