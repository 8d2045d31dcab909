// Write-ahead log: checksummed, length-framed records in numbered segment
// files, plus checkpoints that let old segments go. Format: docs/format/wal.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "tsdb/tsdb.h"

namespace vigil::tsdb {

enum class WalRecordType : uint8_t { kSeries = 1, kSamples = 2 };
// Record framing (docs/format/wal.md): u32 length, u32 crc, u8 type, payload.
inline constexpr size_t kWalRecordHeaderBytes = 9;
inline constexpr uint32_t kWalMaxRecordBytes = 256u << 20;

class Wal {
 public:
  // Opens `dir` for appending: writes go to a new segment after the last one,
  // so a torn tail left by a crash is never written after.
  static Result<std::unique_ptr<Wal>> Open(const std::string& dir, uint64_t segment_bytes);
  ~Wal();

  // Appends one record. On failure (disk full) nothing partial is left behind:
  // the segment is cut back to where it was, so later records stay readable.
  Status Log(WalRecordType type, std::string_view payload);
  // fdatasync of what was written since the last sync.
  Status Sync();
  // Starts a new segment; returns the number of the segment just closed.
  Result<int> Cut();
  int current_segment() const;

  // Rewrites segments <= `last_segment` into checkpoint.<last_segment>,
  // keeping only records `keep` accepts (it may rewrite the payload), then
  // deletes those segments and older checkpoints.
  using Filter = std::function<bool(WalRecordType type, std::string_view payload, std::string* rewritten)>;
  Status Checkpoint(int last_segment, const Filter& keep);

  const std::string& dir() const { return dir_; }

 private:
  Wal(std::string dir, uint64_t segment_bytes) : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}
  Status OpenSegment(int n);

  const std::string dir_;
  const uint64_t segment_bytes_;
  mutable std::mutex mu_;
  int fd_ = -1;
  int segment_ = 0;
  uint64_t offset_ = 0;
  bool dirty_ = false;
};

struct WalReplayStats {
  int segments = 0;
  int checkpoint = -1;  // segment number of the checkpoint read, -1 if none
  uint64_t records = 0;
  uint64_t corrupt_segments = 0;
};

// Reads the latest checkpoint, then every later segment, in order. A torn or
// corrupt record ends that segment's replay (logged, segment cut back to the
// last good record) and replay goes on with the next segment; never fails
// on bad data, only on I/O errors.
Status ReplayWal(const std::string& dir, const std::function<void(WalRecordType, std::string_view)>& fn,
                 WalReplayStats* stats, bool repair = true);

// Segment and checkpoint numbers present in `dir`, ascending, and their paths
// (for readers that follow the WAL from outside the store: remote write).
void ListWalFiles(const std::string& dir, std::vector<int>* segments, std::vector<int>* checkpoints);
std::string WalSegmentPath(const std::string& dir, int n);
std::string WalCheckpointPath(const std::string& dir, int n);

// Record payloads (docs/format/wal.md). Decoders return false on malformed
// input, having passed on what came before the fault.
struct WalSample {
  SeriesRef ref;
  TimestampMs t;
  double v;
};
void EncodeWalSamples(const std::vector<WalSample>& samples, std::string* out);
bool DecodeWalSamples(std::string_view payload, std::vector<WalSample>* out);
bool DecodeWalSeries(std::string_view payload, const std::function<void(SeriesRef, Labels)>& fn);

// Frames one record (exposed for tests and fuzzing of the reader).
std::string FrameWalRecord(WalRecordType type, std::string_view payload);
// Parses framed records from `data`; returns how many bytes were good and
// sets `*error` when it stopped early.
size_t ParseWalRecords(std::string_view data, const std::function<void(WalRecordType, std::string_view)>& fn,
                       std::string* error);

}  // namespace vigil::tsdb
