#include "base/labels.h"

#include <algorithm>

namespace vigil {

Labels::Labels(std::initializer_list<Label> labels) : labels_(labels) { std::sort(labels_.begin(), labels_.end()); }

Labels Labels::FromUnsorted(std::vector<Label> labels) {
  Labels out;
  out.labels_ = std::move(labels);
  std::sort(out.labels_.begin(), out.labels_.end());
  return out;
}

void Labels::Set(std::string_view name, std::string_view value) {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  bool found = it != labels_.end() && it->name == name;
  if (value.empty()) {
    if (found) labels_.erase(it);
    return;
  }
  if (found) {
    it->value = std::string(value);
  } else {
    labels_.insert(it, Label{std::string(name), std::string(value)});
  }
}

std::string_view Labels::Get(std::string_view name) const {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels_.end() && it->name == name) return it->value;
  return {};
}

std::string Labels::ToString() const {
  std::string out = "{";
  for (const Label& l : labels_) {
    if (out.size() > 1) out += ", ";
    out += l.name;
    out += "=\"";
    for (char c : l.value) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

namespace {
bool IsNameChar(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon_ok && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}
bool IsValidName(std::string_view name, bool colon_ok) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, colon_ok)) return false;
  }
  return true;
}
}  // namespace

bool IsValidLabelName(std::string_view name) { return IsValidName(name, false); }
bool IsValidMetricName(std::string_view name) { return IsValidName(name, true); }

}  // namespace vigil
