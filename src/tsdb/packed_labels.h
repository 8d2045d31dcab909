// A head series' label set in one allocation: (name length, name, value
// length, value) per label, lengths as uvarints. A Labels costs a vector of
// 64-byte Label objects plus a heap string for every name or value longer than
// 15 bytes; at 100k series that was ~300 bytes each (docs/performance.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/labels.h"

namespace vigil::tsdb {

class PackedLabels {
 public:
  explicit PackedLabels(const Labels& labels);

  Labels ToLabels() const;
  // The value of `name`, or an empty view when absent (as Labels::Get).
  std::string_view Get(std::string_view name) const;
  // Calls fn(name, value) for each label in order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    size_t pos = 0;
    while (pos < size_) {
      std::string_view name = Next(&pos);
      std::string_view value = Next(&pos);
      fn(name, value);
    }
  }
  size_t size() const;

  bool operator==(const Labels& labels) const;
  // The order of Labels: label by label, by name then value.
  friend bool operator<(const PackedLabels& a, const PackedLabels& b);

 private:
  std::string_view Next(size_t* pos) const;

  std::unique_ptr<char[]> data_;
  uint32_t size_ = 0;
};

}  // namespace vigil::tsdb
