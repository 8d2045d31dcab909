// The streaming half of backfill (DB::NewImport): samples arrive in any order
// and are spilled to one file per block window, so memory follows the number
// of series and one window's samples, never the length of the input.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "tsdb/tsdb.h"

namespace vigil::tsdb {

// Puts samples gathered from overlapping sources (or an import file) in time
// order; of equal timestamps the first gathered wins, as in promtool's
// backfill. Stable, so sources keep their priority. Returns how many it dropped.
size_t SortByTime(std::vector<TimestampMs>& t, std::vector<double>& v);

class ImportSpill {
 public:
  // Spill files go under `dir` (created; removed with the object). Samples
  // are grouped by windows of `window` ms aligned to multiples of it, and
  // buffered in memory up to `buffer_bytes` in all.
  ImportSpill(std::string dir, int64_t window, size_t buffer_bytes = 64 << 20);
  ~ImportSpill();
  ImportSpill(const ImportSpill&) = delete;
  ImportSpill& operator=(const ImportSpill&) = delete;

  // Buffers one sample of series number `series` (numbers are the caller's,
  // dense from 0); flushes buffers to their files past a fixed memory budget.
  Status Add(uint32_t series, TimestampMs t, double v);

  // The window starts that hold samples, in time order.
  std::vector<TimestampMs> Windows() const;
  // Every sample of the window starting at `start` as series named by
  // `labels` (indexed by series number), each sorted by time with repeats
  // dropped (counted in *repeats). Its file is removed.
  Result<std::vector<SeriesSamples>> TakeWindow(TimestampMs start, const std::vector<Labels>& labels,
                                                uint64_t* repeats);

  uint64_t samples() const { return samples_; }

 private:
  Status FlushAll();
  std::string PathOf(TimestampMs start) const;

  const std::string dir_;
  const int64_t window_;
  const size_t buffer_budget_;
  bool created_ = false;
  std::map<TimestampMs, std::string> buffers_;  // every window start -> its records not yet in its file
  std::string* last_buffer_ = nullptr;          // the buffer of the window last added to (map nodes stay put)
  TimestampMs last_start_ = 0;
  size_t buffered_bytes_ = 0;
  uint64_t samples_ = 0;
};

}  // namespace vigil::tsdb
