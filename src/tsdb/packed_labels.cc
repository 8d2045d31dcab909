#include "tsdb/packed_labels.h"

#include <cstring>

namespace vigil::tsdb {
namespace {

size_t UvarintLen(size_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* PutUvarint(char* p, size_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

}  // namespace

PackedLabels::PackedLabels(const Labels& labels) {
  size_t n = 0;
  for (const Label& l : labels)
    n += UvarintLen(l.name.size()) + l.name.size() + UvarintLen(l.value.size()) + l.value.size();
  data_ = std::make_unique_for_overwrite<char[]>(n);
  size_ = static_cast<uint32_t>(n);
  char* p = data_.get();
  for (const Label& l : labels) {
    p = PutUvarint(p, l.name.size());
    std::memcpy(p, l.name.data(), l.name.size());
    p += l.name.size();
    p = PutUvarint(p, l.value.size());
    std::memcpy(p, l.value.data(), l.value.size());
    p += l.value.size();
  }
}

// Only ever reads what the constructor wrote, so it needs no bounds checks.
std::string_view PackedLabels::Next(size_t* pos) const {
  size_t len = 0;
  for (int shift = 0;; shift += 7) {
    uint8_t b = static_cast<uint8_t>(data_[(*pos)++]);
    len |= static_cast<size_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  std::string_view s(data_.get() + *pos, len);
  *pos += len;
  return s;
}

Labels PackedLabels::ToLabels() const {
  std::vector<Label> out;
  out.reserve(size());
  ForEach([&](std::string_view name, std::string_view value) {
    out.push_back({std::string(name), std::string(value)});
  });
  return Labels::FromUnsorted(std::move(out));
}

std::string_view PackedLabels::Get(std::string_view name) const {
  size_t pos = 0;
  while (pos < size_) {
    std::string_view n = Next(&pos);
    std::string_view v = Next(&pos);
    if (n == name) return v;
  }
  return {};
}

size_t PackedLabels::size() const {
  size_t n = 0;
  ForEach([&](std::string_view, std::string_view) { ++n; });
  return n;
}

bool PackedLabels::operator==(const Labels& labels) const {
  size_t pos = 0;
  for (const Label& l : labels) {
    if (pos >= size_) return false;
    if (Next(&pos) != l.name) return false;
    if (Next(&pos) != l.value) return false;
  }
  return pos == size_;
}

bool operator<(const PackedLabels& a, const PackedLabels& b) {
  size_t pa = 0, pb = 0;
  while (pa < a.size_ && pb < b.size_) {
    std::string_view an = a.Next(&pa), bn = b.Next(&pb);
    if (an != bn) return an < bn;
    std::string_view av = a.Next(&pa), bv = b.Next(&pb);
    if (av != bv) return av < bv;
  }
  return pa >= a.size_ && pb < b.size_;
}

}  // namespace vigil::tsdb
