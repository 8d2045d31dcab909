// Labels: a label set sorted by name, the identity of a time series.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil {

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};

// A sorted label set. Construct through Labels::Of or Builder-style Set so the
// order invariant always holds.
class Labels {
 public:
  Labels() = default;
  Labels(std::initializer_list<Label> labels);
  static Labels FromUnsorted(std::vector<Label> labels);

  // Sets `name` to `value`, replacing an existing value; an empty value removes it.
  void Set(std::string_view name, std::string_view value);
  // Returns the value of `name`, or an empty view when absent.
  std::string_view Get(std::string_view name) const;

  // `{a="1", b="x\"y"}` with \\, \" and \n escaped, as promtool prints series.
  std::string ToString() const;

  const std::vector<Label>& list() const { return labels_; }
  bool empty() const { return labels_.empty(); }
  size_t size() const { return labels_.size(); }
  auto begin() const { return labels_.begin(); }
  auto end() const { return labels_.end(); }

  friend bool operator==(const Labels&, const Labels&) = default;
  friend auto operator<=>(const Labels& a, const Labels& b) { return a.labels_ <=> b.labels_; }

 private:
  std::vector<Label> labels_;
};

// True iff `name` is a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*).
bool IsValidLabelName(std::string_view name);
// True iff `name` is a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
bool IsValidMetricName(std::string_view name);

}  // namespace vigil
