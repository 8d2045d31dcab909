// A remote-write target's export resolution: downsampled steps are sent
// instead of raw samples ("local short-term, central long-term"). Pure logic,
// fed what the WAL follower reads: a step is closed once the newest
// timestamp read is a grace period past its end, and a restart reads the WAL
// again from where the steps still open began, so each is rebuilt whole.
// The points are tsdb::StepDownsampler's, the same as the store's own
// downsampled series.
#pragma once

#include <map>
#include <unordered_map>
#include <vector>

#include "base/time.h"
#include "remote/wal_follower.h"
#include "tsdb/downsample.h"
#include "tsdb/wal.h"

namespace vigil::remote {

struct StepPoint {
  tsdb::SeriesRef ref = 0;
  tsdb::DownsampledPoint point;
};

class StepExport {
 public:
  // `closed_before`: steps before it were sent by an earlier run (from the
  // saved position); their samples are skipped when read again.
  StepExport(Duration resolution, Duration grace, TimestampMs closed_before);

  // `read_from`: the follower's position before the read that returned
  // `samples`. `now` (wall clock) bounds how far a timestamp from the future
  // can move the close forward.
  void Add(const std::vector<tsdb::WalSample>& samples, WalPosition read_from, TimestampMs now);
  // Appends the points of every step closed since the last call, in step order.
  void TakeClosed(std::vector<StepPoint>* out);
  // Where a restart must read the WAL from: the first read holding a sample
  // of a step still open; `current` when no step is open.
  WalPosition RestartFrom(WalPosition current) const;
  TimestampMs closed_before() const { return closed_before_; }
  // Forgets every open step (their WAL was let go past the backlog budget);
  // returns how many raw samples they held.
  uint64_t DropOpen();
  // Samples read for a step already closed (written later than the grace).
  uint64_t late_samples() const { return late_; }

 private:
  const int64_t resolution_ms_;
  const int64_t grace_ms_;
  TimestampMs closed_before_;
  const TimestampMs sent_before_start_;  // closed_before_ as this run began
  TimestampMs taken_before_;             // what TakeClosed has emitted up to
  std::unordered_map<tsdb::SeriesRef, tsdb::StepDownsampler> open_;
  // Steps a series finished (its next sample began a later step) that are
  // not yet closed for every series, by step.
  std::map<int64_t, std::vector<StepPoint>> finished_;
  // Per step still open: the read its first sample came from.
  std::map<int64_t, WalPosition> first_read_;
  uint64_t late_ = 0;
};

// Saved beside the acknowledged WAL position: "segment offset [closed_before_ms]".
struct SavedPosition {
  WalPosition wal;
  TimestampMs closed_before = 0;
  friend bool operator==(const SavedPosition&, const SavedPosition&) = default;
};
std::optional<SavedPosition> ParseSavedPosition(std::string_view text);
std::string FormatSavedPosition(const SavedPosition& p);

}  // namespace vigil::remote
