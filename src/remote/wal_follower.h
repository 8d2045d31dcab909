// Follows vigil's WAL from outside the store, read-only, as Prometheus's
// remote-write watcher does: the labels of every series ref, and the samples
// after a position that survives restarts.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "tsdb/wal.h"

namespace vigil::remote {

struct WalPosition {
  int segment = 0;
  uint64_t offset = 0;  // bytes into the segment: the start of the next record to read
  // WAL order: by segment, then offset.
  friend auto operator<=>(const WalPosition&, const WalPosition&) = default;
};

class WalFollower {
 public:
  explicit WalFollower(std::string dir) : dir_(std::move(dir)) {}

  // Positions the follower at `from`, having read the labels of every series
  // defined before it (the checkpoint, then earlier segments and records). A
  // position the WAL no longer holds moves to the oldest segment it does;
  // `*segments_lost` (may be null) gets the number of segments skipped so.
  Status Seek(WalPosition from, int* segments_lost = nullptr);
  // Positions at the current end of the WAL (a target with nothing saved).
  Status SeekToEnd();

  // Reads whole records after the position until at least `max_samples`
  // samples were appended to `out` or nothing more is written; series records
  // on the way update the labels. `*at_end` says whether it stopped at the end.
  Status Read(size_t max_samples, std::vector<tsdb::WalSample>* out, bool* at_end);

  // nullptr for a ref no series record defined.
  const Labels* LabelsOf(tsdb::SeriesRef ref) const;
  WalPosition position() const { return pos_; }
  // WAL bytes written after the position (what a receiver outage holds back).
  uint64_t BytesBehind() const;
  // Samples in the records from the position to the end of its segment
  // (counted before a segment is skipped to stay within a backlog budget).
  uint64_t SamplesLeftInSegment() const;
  // Segments that vanished before they were read (released by the store).
  int segments_skipped() const { return segments_skipped_; }

 private:
  // Reads the records of segment `n` from `offset`, stopping at `stop`
  // (bytes into the file; UINT64_MAX: the end), series records only.
  void ReadSeriesFrom(const std::string& path, uint64_t stop);
  // The next segment after `n`, or -1.
  int NextSegment(int n) const;

  const std::string dir_;
  WalPosition pos_;
  std::unordered_map<tsdb::SeriesRef, Labels> labels_;
  int segments_skipped_ = 0;
};

}  // namespace vigil::remote
