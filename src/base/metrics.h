// The in-memory shape of one collection: metric families with their samples.
// Collectors fill a MetricBatch; the exposition renderer and the storage
// appender read it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/labels.h"

namespace vigil {

enum class MetricType { kCounter, kGauge, kUntyped };

struct Sample {
  Labels labels;  // without __name__
  double value = 0;
};

struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kUntyped;
  std::vector<Sample> samples;
};

// A problem a collector met while collecting; `reason` is a short, bounded
// label value (e.g. "read_failed", "timeout"), `detail` the human message and
// `target` (optional) what was being read: a URL without credentials, a path.
struct CollectionError {
  std::string reason;
  std::string detail;
  std::string target;  // what failed (a unit, an endpoint); "" for the collector as a whole
};

class MetricBatch {
 public:
  // Adds one sample; the family is created on first use with `help` and `type`.
  void Add(std::string_view name, std::string_view help, MetricType type, Labels labels, double value);
  void AddGauge(std::string_view name, std::string_view help, Labels labels, double value) {
    Add(name, help, MetricType::kGauge, std::move(labels), value);
  }
  void AddCounter(std::string_view name, std::string_view help, Labels labels, double value) {
    Add(name, help, MetricType::kCounter, std::move(labels), value);
  }
  // Records a partial failure: the batch keeps what was collected.
  void ReportError(std::string reason, std::string detail, std::string target = {}) {
    errors_.push_back({std::move(reason), std::move(detail), std::move(target)});
  }

  const std::vector<MetricFamily>& families() const { return families_; }
  const std::vector<CollectionError>& errors() const { return errors_; }
  size_t sample_count() const;
  // Looks a family up by name; nullptr when absent.
  const MetricFamily* Find(std::string_view name) const;

 private:
  std::vector<MetricFamily> families_;
  // Transparent hashing lets Add() look names up without building a string.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> index_;
  std::vector<CollectionError> errors_;
};

}  // namespace vigil
