#include "tsdb/block.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <unordered_map>

#include "base/file.h"
#include "tsdb/chunkenc/sealed.h"
#include "tsdb/chunkenc/xor.h"
#include "tsdb/encoding.h"

namespace vigil::tsdb {
namespace {

constexpr char kMagic[4] = {'V', 'G', 'B', '1'};
constexpr size_t kFooterBytes = 8 + 8 + 4 + 4;
constexpr uint8_t kEncXorChunks = 1;
constexpr uint8_t kEncXorChunksZstd = 2;
constexpr uint8_t kEncSealed = 3;
// Version 2: a sealed values part whose timestamps are a kEncTimestamps entry
// elsewhere in the series data, shared with other series.
constexpr uint8_t kEncSealedSharedTs = 4;
constexpr uint8_t kEncTimestamps = 5;
// Version 3: a series spanning several part spans is one data entry per part
// (encodings 1-4) and an encoding 6 entry listing them, so that a query of a
// short window decodes only the parts it overlaps.
constexpr uint8_t kEncParts = 6;
constexpr TimestampMs kMinPartSpanMs = 2 * 3600 * 1000;
// A part costs ~50 bytes of headers: at 15 s, 256-sample (2 h) parts made the
// query benchmark's store 12 % larger, 512-sample (4 h) ones 7 %, and the 2 h
// queries about as fast.
constexpr double kMinPartSamples = 512;
constexpr size_t kMaxDecodedBytes = 1ULL << 30;

Status DecodeXorChunks(std::string_view payload, std::vector<TimestampMs>* t, std::vector<double>* v) {
  Decoder d(payload);
  uint64_t n = d.Uvarint();
  if (!d.ok() || n > payload.size()) return Status::Error("series data: bad chunk count");
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view chunk = d.String();
    if (!d.ok()) return Status::Error("series data: truncated chunk");
    chunkenc::XorDecoder dec(chunk);
    while (dec.Next()) {
      if (!t->empty() && dec.t() <= t->back()) return Status::Error("series data: timestamps not increasing");
      t->push_back(dec.t());
      v->push_back(dec.v());
    }
    if (dec.corrupt()) return Status::Error("series data: corrupt chunk");
  }
  return Status::Ok();
}

int UvarintLen(uint64_t v) { return v < 0x80 ? 1 : 1 + UvarintLen(v >> 7); }

std::string Entry(uint8_t enc, std::string_view payload) {
  std::string out;
  out.reserve(5 + payload.size());
  out.push_back(static_cast<char>(enc));
  PutFixed32(&out, Crc32({payload}));
  out += payload;
  return out;
}

Status CheckIncreasing(const std::vector<TimestampMs>& t, size_t from) {
  for (size_t i = std::max<size_t>(from, 1); i < t.size(); ++i) {
    if (t[i] <= t[i - 1]) return Status::Error("series data: timestamps not increasing");
  }
  return Status::Ok();
}

// One part of a series as its table lists it: `count` samples in [lower, max_time].
struct PartRef {
  TimestampMs lower = 0, max_time = 0;
  uint64_t count = 0;
  std::string_view entry;  // its data entry
};

// Calls `visit` for each part listed by an encoding 6 payload that may hold
// samples in [mint, maxt], in time order, and stops at the first error.
template <typename Visit>
Status ForEachPart(std::string_view payload, std::string_view region, TimestampMs mint, TimestampMs maxt, Visit visit) {
  Decoder d(payload);
  TimestampMs lower = d.Varint();
  const uint64_t n = d.Uvarint();
  if (!d.ok() || n < 2 || n > payload.size()) return Status::Error("series data: bad part table");
  for (uint64_t k = 0; k < n; ++k) {
    PartRef p;
    p.lower = lower;
    const uint64_t span = d.Uvarint();
    p.count = d.Uvarint();
    const uint64_t offset = d.Uvarint(), length = d.Uvarint();
    if (!d.ok()) return Status::Error("series data: truncated part table");
    if (span > static_cast<uint64_t>(std::numeric_limits<TimestampMs>::max()) ||
        __builtin_add_overflow(lower, static_cast<TimestampMs>(span), &p.max_time) ||
        (k + 1 < n && p.max_time == std::numeric_limits<TimestampMs>::max())) {
      return Status::Error("series data: part time range overflows");
    }
    if (offset > region.size() || length > region.size() - offset || length < 5) {
      return Status::Error("series data: part out of bounds");
    }
    p.entry = region.substr(offset, length);
    if (const auto enc = static_cast<uint8_t>(p.entry[0]); enc == kEncParts || enc == kEncTimestamps) {
      return Status::Error("series data: a part is not series data");
    }
    if (p.max_time >= mint && p.lower <= maxt) {
      if (Status s = visit(p); !s.ok()) return s;
    }
    if (p.max_time >= maxt) return Status::Ok();  // the rest lies after the window
    lower = p.max_time + 1;
  }
  if (d.remaining() != 0) return Status::Error("series data: bytes after the part table");
  return Status::Ok();
}

// Checks a decoded part (appended to `t` from `before`) against its table entry.
Status CheckPart(const std::vector<TimestampMs>& t, size_t before, const PartRef& p) {
  if (p.count == 0 || t.size() - before != p.count) {
    return Status::Error("series data: a part holds " + std::to_string(t.size() - before) + " samples, its table " +
                         std::to_string(p.count));
  }
  if (t[before] < p.lower || t.back() != p.max_time) {
    return Status::Error("series data: a part's samples lie outside its time range");
  }
  return Status::Ok();
}

// Leaves out of what was appended from `from` on the samples before mint and
// after maxt (the samples are in time order).
void KeepWindow(std::vector<TimestampMs>* t, std::vector<double>* v, size_t from, TimestampMs mint, TimestampMs maxt) {
  const auto first = t->begin() + static_cast<std::ptrdiff_t>(from);
  const auto lo = std::lower_bound(first, t->end(), mint);
  const size_t end = static_cast<size_t>(std::upper_bound(lo, t->end(), maxt) - t->begin());
  t->resize(end);
  v->resize(end);
  const auto cut = lo - first;
  t->erase(first, first + cut);
  v->erase(v->begin() + static_cast<std::ptrdiff_t>(from), v->begin() + static_cast<std::ptrdiff_t>(from) + cut);
}

// Appends the samples in [mint, maxt] of the parts listed by an encoding 6
// payload, each part decoded by `decode_entry(entry)` and checked against its
// table row; nothing on error.
template <typename DecodeEntry>
Status ReadParts(std::string_view payload, std::string_view region, TimestampMs mint, TimestampMs maxt,
                 std::vector<TimestampMs>* t, std::vector<double>* v, DecodeEntry decode_entry) {
  const size_t before = t->size();
  Status s = ForEachPart(payload, region, mint, maxt, [&](const PartRef& p) {
    const size_t at = t->size();
    Status decoded = decode_entry(p.entry);
    if (decoded.ok()) decoded = CheckPart(*t, at, p);
    // The first part's samples before the window are cut before later parts
    // are appended, so that only they move.
    if (decoded.ok() && at == before) KeepWindow(t, v, at, mint, std::numeric_limits<TimestampMs>::max());
    return decoded;
  });
  if (!s.ok()) {
    t->resize(before);
    v->resize(before);
    return s;
  }
  KeepWindow(t, v, before, mint, maxt);
  return s;
}

// The parts of a series in a version 3 block, as [begin, end) index ranges:
// runs of samples within one aligned span, the smallest power-of-two multiple
// of 2 h that holds kMinPartSamples at the series' mean rate.
std::vector<std::pair<size_t, size_t>> SplitIntoParts(const std::vector<TimestampMs>& t) {
  if (std::adjacent_find(t.begin(), t.end(), std::greater_equal<>()) != t.end()) return {{0, t.size()}};
  const double duration = static_cast<double>(t.back()) - static_cast<double>(t.front()) + 1;
  TimestampMs span = kMinPartSpanMs;
  while (static_cast<double>(span) < duration && span <= std::numeric_limits<TimestampMs>::max() / 2 &&
         static_cast<double>(t.size()) * static_cast<double>(span) / duration < kMinPartSamples) {
    span *= 2;
  }
  auto bucket = [span](TimestampMs x) { return x / span - (x % span < 0 ? 1 : 0); };  // floor division
  std::vector<std::pair<size_t, size_t>> parts;
  size_t begin = 0;
  for (size_t i = 1; i <= t.size(); ++i) {
    if (i == t.size() || bucket(t[i]) != bucket(t[begin])) {
      parts.emplace_back(begin, i);
      begin = i;
    }
  }
  return parts;
}

}  // namespace

std::string EncodeSeriesData(std::span<const TimestampMs> t, std::span<const double> v) {
  if (t.size() <= chunkenc::kMaxSealedSamples) {
    // The compact encoding: decimal-scaled integers, entropy coding, zstd where it pays.
    std::string payload = chunkenc::EncodeSealed(t, v);
    std::string out;
    out.push_back(static_cast<char>(kEncSealed));
    PutFixed32(&out, Crc32({payload}));
    out += payload;
    return out;
  }
  std::string raw;
  PutUvarint(&raw, (t.size() + 119) / 120);
  for (size_t i = 0; i < t.size(); i += 120) {
    chunkenc::XorEncoder enc;
    for (size_t j = i; j < std::min(t.size(), i + 120); ++j) enc.Append(t[j], v[j]);
    PutString(&raw, enc.bytes());
  }
  std::string packed(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), 3);
  std::string payload;
  uint8_t enc = kEncXorChunks;
  if (!ZSTD_isError(n) && n + 10 < raw.size()) {
    enc = kEncXorChunksZstd;
    PutUvarint(&payload, raw.size());
    payload.append(packed.data(), n);
  } else {
    payload = std::move(raw);
  }
  std::string out;
  out.push_back(static_cast<char>(enc));
  PutFixed32(&out, Crc32({payload}));
  out += payload;
  return out;
}

Status DecodeSeriesData(std::string_view data, std::vector<TimestampMs>* t, std::vector<double>* v,
                        std::string_view series_region) {
  if (data.size() < 5) return Status::Error("series data: too short");
  uint8_t enc = static_cast<uint8_t>(data[0]);
  std::string_view payload = data.substr(5);
  if (Crc32({payload}) != GetFixed32(data.data() + 1)) return Status::Error("series data: checksum mismatch");
  switch (enc) {
    case kEncXorChunks: return DecodeXorChunks(payload, t, v);
    case kEncXorChunksZstd: {
      Decoder d(payload);
      uint64_t raw_len = d.Uvarint();
      if (!d.ok() || raw_len > kMaxDecodedBytes) return Status::Error("series data: bad length");
      std::string_view frame = payload.substr(payload.size() - d.remaining());
      std::string raw(raw_len, '\0');
      size_t n = ZSTD_decompress(raw.data(), raw.size(), frame.data(), frame.size());
      if (ZSTD_isError(n) || n != raw_len) return Status::Error("series data: zstd frame is corrupt");
      return DecodeXorChunks(raw, t, v);
    }
    case kEncSealed: {
      size_t before = t->size();
      Status s = chunkenc::DecodeSealed(payload, t, v);
      if (!s.ok()) return s;
      return CheckIncreasing(*t, before);
    }
    case kEncSealedSharedTs: {
      Decoder d(payload);
      uint64_t ts_offset = d.Uvarint();
      uint64_t ts_length = d.Uvarint();
      if (!d.ok()) return Status::Error("series data: truncated timestamps reference");
      if (ts_offset > series_region.size() || ts_length > series_region.size() - ts_offset || ts_length < 5) {
        return Status::Error("series data: timestamps reference out of bounds");
      }
      std::string_view ts_entry = series_region.substr(ts_offset, ts_length);
      std::string_view ts_part = ts_entry.substr(5);
      if (static_cast<uint8_t>(ts_entry[0]) != kEncTimestamps) {
        return Status::Error("series data: timestamps reference to a non-timestamps entry");
      }
      if (Crc32({ts_part}) != GetFixed32(ts_entry.data() + 1)) {
        return Status::Error("series data: shared timestamps checksum mismatch");
      }
      size_t before = t->size();
      Status s = chunkenc::DecodeSealedSplit(ts_part, payload.substr(payload.size() - d.remaining()), t, v);
      if (!s.ok()) return s;
      return CheckIncreasing(*t, before);
    }
    case kEncTimestamps: return Status::Error("series data: a timestamps entry is not a series");
    case kEncParts:
      return ReadParts(payload, series_region, std::numeric_limits<TimestampMs>::min(),
                       std::numeric_limits<TimestampMs>::max(), t, v,
                       [&](std::string_view entry) { return DecodeSeriesData(entry, t, v, series_region); });
    default: return Status::Error("series data: unknown encoding " + std::to_string(enc));
  }
}

Result<BlockInfo> WriteBlock(const std::string& parent, std::vector<SeriesSamples> series, TimestampMs min_time,
                             TimestampMs max_time, int level, Duration resolution, bool share_timestamps) {
  series.erase(std::remove_if(series.begin(), series.end(), [](const SeriesSamples& s) { return s.t.empty(); }),
               series.end());
  std::sort(series.begin(), series.end(), [](const auto& a, const auto& b) { return a.labels < b.labels; });
  static std::mt19937 rng{std::random_device{}()};
  char id[64];
  std::snprintf(id, sizeof id, "b-%013lld-%013lld-%08x", static_cast<long long>(min_time),
                static_cast<long long>(max_time), static_cast<unsigned>(rng()));
  std::string final_dir = parent + "/" + id;
  std::string tmp_dir = final_dir + ".tmp";
  std::error_code ec;
  std::filesystem::create_directories(tmp_dir, ec);
  if (ec) return Status::Error("create " + tmp_dir + ": " + ec.message());

  BlockInfo info;
  info.id = id;
  info.min_time = min_time;
  info.max_time = max_time;
  info.level = level;
  info.resolution = resolution;
  // Version 3 splits long series into time-bounded parts (one for version 1).
  std::vector<std::vector<std::pair<size_t, size_t>>> parts;
  parts.reserve(series.size());
  for (const SeriesSamples& s : series) {
    parts.push_back(share_timestamps ? SplitIntoParts(s.t) : std::vector<std::pair<size_t, size_t>>{{0, s.t.size()}});
  }
  // Series scraped together have identical timestamps: each distinct sequence
  // (of a part) used by several series is encoded once, as a timestamps entry
  // written just before its first user, when that is smaller than repeating it.
  struct TsGroup {
    size_t users = 0;
    std::string part;     // the encoded timestamps part, once known to pay
    uint64_t offset = 0;  // of the timestamps entry, once written
    bool written = false;
  };
  std::unordered_map<std::string_view, TsGroup> groups;
  auto ts_key = [](const SeriesSamples& s, std::pair<size_t, size_t> part) {
    return std::string_view(reinterpret_cast<const char*>(s.t.data() + part.first),
                            (part.second - part.first) * sizeof(TimestampMs));
  };
  if (share_timestamps) {
    for (size_t i = 0; i < series.size(); ++i) {
      for (const auto& part : parts[i]) {
        if (part.second - part.first <= chunkenc::kMaxSealedSamples) ++groups[ts_key(series[i], part)].users;
      }
    }
    for (auto it = groups.begin(); it != groups.end();) {
      TsGroup& g = it->second;
      if (g.users >= 2) {
        std::span<const TimestampMs> ts(reinterpret_cast<const TimestampMs*>(it->first.data()),
                                        it->first.size() / sizeof(TimestampMs));
        g.part = chunkenc::EncodeSealedTimestamps(ts);
        // Unshared, each user carries uvarint ts_len + the section; shared,
        // one entry (5 + part) and per user a reference (offset, length).
        size_t section = g.part.size() - 1 - static_cast<size_t>(UvarintLen(ts.size()));
        size_t unshared = g.users * (static_cast<size_t>(UvarintLen(section)) + section);
        size_t shared = 5 + g.part.size() + g.users * (5 + static_cast<size_t>(UvarintLen(g.part.size() + 5)));
        if (shared < unshared) {
          ++it;
          continue;
        }
      }
      it = groups.erase(it);
    }
  }
  std::string file(kMagic, 4);
  // Appends the data entry of one part of `s` (after its timestamps entry, for
  // their first user) and returns its offset and length.
  auto write_entry = [&](const SeriesSamples& s, std::pair<size_t, size_t> part) {
    const std::span<const TimestampMs> t(s.t.data() + part.first, part.second - part.first);
    const std::span<const double> v(s.v.data() + part.first, part.second - part.first);
    std::string data;
    auto shared = groups.empty() ? groups.end() : groups.find(ts_key(s, part));
    if (shared != groups.end()) {
      TsGroup& g = shared->second;
      if (!g.written) {
        g.offset = file.size();
        file += Entry(kEncTimestamps, g.part);
        g.written = true;
      }
      std::string payload;
      PutUvarint(&payload, g.offset);
      PutUvarint(&payload, g.part.size() + 5);
      payload += chunkenc::EncodeSealedValues(v);
      data = Entry(kEncSealedSharedTs, payload);
    } else {
      data = EncodeSeriesData(t, v);
    }
    const uint64_t offset = file.size();
    file += data;
    return std::make_pair(offset, static_cast<uint64_t>(data.size()));
  };
  std::string index;
  PutUvarint(&index, series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    const SeriesSamples& s = series[i];
    std::pair<uint64_t, uint64_t> at;  // the offset and length of what the index points to
    if (parts[i].size() == 1) {
      at = write_entry(s, parts[i][0]);
    } else {
      std::string table;
      PutVarint(&table, s.t.front());
      PutUvarint(&table, parts[i].size());
      TimestampMs lower = s.t.front();
      for (const auto& part : parts[i]) {
        const auto [offset, length] = write_entry(s, part);
        const TimestampMs max_time = s.t[part.second - 1];
        PutUvarint(&table, static_cast<uint64_t>(max_time - lower));
        PutUvarint(&table, part.second - part.first);
        PutUvarint(&table, offset);
        PutUvarint(&table, length);
        lower = max_time + 1;
      }
      at = {file.size(), 5 + table.size()};
      file += Entry(kEncParts, table);
    }
    PutUvarint(&index, s.labels.size());
    for (const Label& l : s.labels) {
      PutString(&index, l.name);
      PutString(&index, l.value);
    }
    PutVarint(&index, s.t.front());
    PutVarint(&index, s.t.back());
    PutUvarint(&index, s.t.size());
    PutUvarint(&index, at.first);
    PutUvarint(&index, at.second);
    ++info.num_series;
    info.num_samples += s.t.size();
  }
  uint64_t index_offset = file.size();
  file += index;
  PutFixed64(&file, index_offset);
  PutFixed64(&file, index.size());
  PutFixed32(&file, Crc32({index}));
  file.append(kMagic, 4);
  info.size_bytes = file.size();

  nlohmann::json meta = {{"version", share_timestamps ? 3 : 1},
                         {"id", info.id},
                         {"minTime", min_time},
                         {"maxTime", max_time},
                         {"level", level},
                         {"numSeries", info.num_series},
                         {"numSamples", info.num_samples},
                         {"resolution", resolution.count()}};
  Status s = WriteFileSynced(tmp_dir + "/block", file);
  if (s.ok()) s = WriteFileSynced(tmp_dir + "/meta.json", meta.dump(2) + "\n");
  if (s.ok() && ::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    s = Status::Error("rename " + tmp_dir + ": " + std::strerror(errno));
  }
  if (!s.ok()) {
    std::filesystem::remove_all(tmp_dir, ec);
    return s;
  }
  if (Status synced = SyncDir(parent); !synced.ok()) return synced;
  return info;
}

Status ParseBlockFile(std::string_view file, std::vector<BlockSeries>* out) {
  size_t size = file.size();
  if (size < 4 + kFooterBytes) return Status::Error("too short to be a block");
  const char* data = file.data();
  const char* footer = data + size - kFooterBytes;
  if (std::memcmp(data, kMagic, 4) != 0 || std::memcmp(footer + 20, kMagic, 4) != 0) {
    return Status::Error("bad magic (not a vigil block or truncated)");
  }
  uint64_t index_offset = GetFixed64(footer), index_len = GetFixed64(footer + 8);
  if (index_offset > size - kFooterBytes || index_len > size - kFooterBytes - index_offset) {
    return Status::Error("index out of bounds");
  }
  std::string_view index(data + index_offset, index_len);
  if (Crc32({index}) != GetFixed32(footer + 16)) return Status::Error("index checksum mismatch");
  Decoder d(index);
  uint64_t n = d.Uvarint();
  if (n > index_len) return Status::Error("bad series count");
  out->reserve(n);
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    BlockSeries s;
    uint64_t nl = d.Uvarint();
    if (nl > d.remaining()) return Status::Error("bad label count");
    std::vector<Label> labels;
    for (uint64_t j = 0; j < nl; ++j) {
      std::string name(d.String());
      std::string value(d.String());
      labels.push_back({std::move(name), std::move(value)});
    }
    s.labels = Labels::FromUnsorted(std::move(labels));
    s.min_time = d.Varint();
    s.max_time = d.Varint();
    s.num_samples = d.Uvarint();
    s.offset = d.Uvarint();
    s.length = d.Uvarint();
    if (s.offset > index_offset || s.length > index_offset - s.offset)
      return Status::Error("series data out of bounds");
    // Readers binary-search the series table, so it must stay sorted.
    if (!out->empty() && !(out->back().labels < s.labels)) return Status::Error("series not in label order");
    out->push_back(std::move(s));
  }
  if (!d.ok()) return Status::Error("truncated index");
  return Status::Ok();
}

Block::~Block() = default;

Result<std::shared_ptr<Block>> Block::Open(const std::string& dir) {
  std::shared_ptr<Block> b(new Block());
  b->dir_ = dir;
  std::string path = dir + "/block";
  Result<std::string> meta_text = ReadFile(dir + "/meta.json", 1 << 20);
  if (!meta_text.ok()) return meta_text.status();
  try {
    nlohmann::json meta = nlohmann::json::parse(*meta_text);
    b->info_.id = meta.at("id").get<std::string>();
    b->info_.min_time = meta.at("minTime").get<int64_t>();
    b->info_.max_time = meta.at("maxTime").get<int64_t>();
    b->info_.level = meta.at("level").get<int>();
    b->info_.resolution = Duration(meta.value("resolution", int64_t{0}));
  } catch (const std::exception& e) {
    return Status::Error(dir + "/meta.json: " + e.what());
  }
  Result<MappedFile> file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  b->file_ = std::move(*file);
  const char* data = b->file_.view().data();
  size_t size = b->file_.view().size();
  if (size < 4 + kFooterBytes) return Status::Error(path + ": too short to be a block");
  Status parsed = ParseBlockFile(std::string_view(data, size), &b->series_);
  if (!parsed.ok()) return parsed.WithContext(path);
  b->series_region_size_ = GetFixed64(data + size - kFooterBytes);  // the index offset, checked by the parse
  for (size_t i = 0; i < b->series_.size(); ++i) {
    b->info_.num_samples += b->series_[i].num_samples;
    b->postings_.Add(b->series_[i].labels, i);
  }
  b->info_.num_series = b->series_.size();
  b->info_.size_bytes = size;
  return b;
}

std::vector<size_t> Block::Select(const std::vector<Matcher>& matchers) const {
  std::vector<size_t> out;
  auto consider = [&](size_t i) {
    for (const Matcher& m : matchers) {
      if (!m.Matches(series_[i].labels)) return;
    }
    out.push_back(i);
  };
  if (auto candidates = postings_.Candidates(matchers)) {
    for (uint64_t i : *candidates) consider(static_cast<size_t>(i));
  } else {
    for (size_t i = 0; i < series_.size(); ++i) consider(i);
  }
  return out;
}

std::vector<std::string> Block::LabelNames() const { return postings_.Names(); }
std::vector<std::string> Block::LabelValues(const std::string& name) const { return postings_.Values(name); }

std::shared_ptr<const std::vector<TimestampMs>> SharedTimestamps::Find(const Block* block, uint64_t offset) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find({block, offset});
  return it == entries_.end() ? nullptr : it->second;
}

void SharedTimestamps::Put(const Block* block, uint64_t offset,
                           std::shared_ptr<const std::vector<TimestampMs>> timestamps) {
  std::lock_guard lock(mu_);
  entries_.emplace(std::make_pair(block, offset), std::move(timestamps));
}

Status Block::Read(size_t i, std::vector<TimestampMs>* t, std::vector<double>* v, SharedTimestamps* shared,
                   TimestampMs mint, TimestampMs maxt) const {
  if (i >= series_.size()) return Status::Error("series index out of range");
  const BlockSeries& s = series_[i];
  const std::string_view data = file_.view().substr(s.offset, s.length);
  if (data.size() < 5 || static_cast<uint8_t>(data[0]) != kEncParts) {
    const size_t before = t->size();
    Status read = ReadEntry(data, t, v, shared);
    if (!read.ok()) return read.WithContext(dir_ + "/block");
    KeepWindow(t, v, before, mint, maxt);
    return read;
  }
  const std::string_view table = data.substr(5);
  if (Crc32({table}) != GetFixed32(data.data() + 1)) {
    return Status::Error(dir_ + "/block: series data: checksum mismatch");
  }
  return ReadParts(table, file_.view().substr(0, series_region_size_), mint, maxt, t, v,
                   [&](std::string_view entry) { return ReadEntry(entry, t, v, shared); })
      .WithContext(dir_ + "/block");
}

size_t Block::SamplesToRead(size_t i, TimestampMs mint, TimestampMs maxt) const {
  if (i >= series_.size()) return 0;
  const BlockSeries& s = series_[i];
  const std::string_view data = file_.view().substr(s.offset, s.length);
  if (data.size() < 5 || static_cast<uint8_t>(data[0]) != kEncParts) return s.num_samples;
  // The table's checksum is left to Read: a bound needs only its counts, and
  // a read whose parts disagree with them fails.
  uint64_t n = 0;
  Status st =
      ForEachPart(data.substr(5), file_.view().substr(0, series_region_size_), mint, maxt, [&](const PartRef& p) {
        n = std::min(n + std::min(p.count, s.num_samples), s.num_samples);
        return Status::Ok();
      });
  return st.ok() ? n : s.num_samples;
}

Status Block::ReadEntry(std::string_view data, std::vector<TimestampMs>* t, std::vector<double>* v,
                        SharedTimestamps* shared) const {
  const std::string_view region = file_.view().substr(0, series_region_size_);
  if (shared == nullptr || data.size() < 5 || static_cast<uint8_t>(data[0]) != kEncSealedSharedTs) {
    return DecodeSeriesData(data, t, v, region);
  }
  Decoder d(data.substr(5));
  const uint64_t ts_offset = d.Uvarint();
  (void)d.Uvarint();                                         // the entry's length: checked when it is decoded
  if (!d.ok()) return DecodeSeriesData(data, t, v, region);  // names the error
  if (auto cached = shared->Find(this, ts_offset)) {
    if (Crc32({data.substr(5)}) != GetFixed32(data.data() + 1)) {
      return Status::Error("series data: checksum mismatch");
    }
    Status st = chunkenc::DecodeSealedValues(data.substr(data.size() - d.remaining()), cached->size(), v);
    if (!st.ok()) return st;
    t->insert(t->end(), cached->begin(), cached->end());
    return Status::Ok();
  }
  const size_t before = t->size();
  Status st = DecodeSeriesData(data, t, v, region);
  if (!st.ok()) return st;
  shared->Put(
      this, ts_offset,
      std::make_shared<const std::vector<TimestampMs>>(t->begin() + static_cast<std::ptrdiff_t>(before), t->end()));
  return Status::Ok();
}

}  // namespace vigil::tsdb
